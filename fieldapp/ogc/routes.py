"""OGC API – Features Part 1 (Core, GeoJSON) under /ogc, for GIS clients (QGIS, GDAL).

Staff only: every request carries the bearer token (GDAL: GDAL_HTTP_HEADERS).
"""
from flask import jsonify, request, url_for
from flask.views import MethodView
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser

from fieldapp.access.audit import bulk_read
from fieldapp.accounts.auth import require
from fieldapp.arguments import Blueprint
from fieldapp.errors import BadRequest
from fieldapp.ogc import service
from fieldapp.ogc.schemas import (
    CollectionSchema,
    CollectionsSchema,
    ConformanceSchema,
    ItemArgsSchema,
    ItemsArgsSchema,
    LandingPageSchema,
    MetadataArgsSchema,
)

STAFF = ("coordinator", "lawyer", "admin")


class OgcArgumentsParser(FlaskParser):
    """The standard wants 400 for a bad or unknown query parameter, not webargs' 422."""

    DEFAULT_VALIDATION_STATUS = 400

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages.get("query", error.messages)
        raise BadRequest(f"invalid query parameter: {', '.join(sorted(messages))}",
                         errors=messages)


class OgcBlueprint(Blueprint):
    ARGUMENTS_PARSER = OgcArgumentsParser()


blp = OgcBlueprint("ogc", __name__, url_prefix="/ogc",
                   description="OGC API – Features: sites, reports and hotspots for GIS")


def _base() -> str:
    return url_for("ogc.Landing", _external=True)


def _query_as_sent() -> dict:
    return request.args.to_dict(flat=False)


def _geojson_type(args: dict) -> str:
    return service.JSON if args.get("f") == "json" else service.GEOJSON


def _respond(document: dict, media_type: str):
    response = jsonify(document)
    response.mimetype = media_type
    return response


@blp.route("")
class Landing(MethodView):
    @require(*STAFF)
    @blp.arguments(MetadataArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, LandingPageSchema)
    def get(self, args):
        """Landing page: links to the API definition, conformance and collections."""
        return service.landing_page(_base(), url_for("api-docs.openapi_json", _external=True))


@blp.route("/conformance")
class Conformance(MethodView):
    @require(*STAFF)
    @blp.arguments(MetadataArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ConformanceSchema)
    def get(self, args):
        """The conformance classes implemented: core, geojson, oas30."""
        return service.conformance()


@blp.route("/collections")
class Collections(MethodView):
    @require(*STAFF)
    @blp.arguments(MetadataArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, CollectionsSchema)
    def get(self, args):
        """The feature collections (sites, reports, hotspots) with their extents."""
        return service.collections_document(_base())


@blp.route("/collections/<string:collection_id>")
class Collection(MethodView):
    @require(*STAFF)
    @blp.arguments(MetadataArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, CollectionSchema)
    def get(self, args, collection_id):
        """One collection's description, extent and links."""
        return service.collection_document(_base(), collection_id)


@blp.route("/collections/<string:collection_id>/schema")
class FeatureSchema(MethodView):
    @require(*STAFF)
    @blp.arguments(MetadataArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, content_type=service.JSON_SCHEMA,
                  description="JSON Schema of the collection's features (rel describedBy).")
    def get(self, args, collection_id):
        """The JSON Schema of one feature, so clients know each property's type."""
        return _respond(service.schema_document(_base(), collection_id), service.JSON_SCHEMA)


@blp.route("/collections/<string:collection_id>/items")
class Items(MethodView):
    @require(*STAFF)
    @blp.arguments(ItemsArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, content_type=service.GEOJSON,
                  description="A FeatureCollection page with numberMatched and next/prev links.")
    @bulk_read()
    def get(self, args, collection_id):
        """Features filtered by bbox and datetime, limit (1-1000) at offset."""
        query = service.Query(bbox=args.get("bbox"), interval=args.get("datetime"),
                              limit=args["limit"], offset=args["offset"])
        media_type = _geojson_type(args)
        return _respond(service.items_document(
            _base(), collection_id, query, request.base_url, _query_as_sent(), media_type),
            media_type)


@blp.route("/collections/<string:collection_id>/items/<string:fid>")
class Item(MethodView):
    @require(*STAFF)
    @blp.arguments(ItemArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, content_type=service.GEOJSON, description="One GeoJSON Feature.")
    def get(self, args, collection_id, fid):
        """One feature by its id."""
        media_type = _geojson_type(args)
        return _respond(service.item_document(
            _base(), collection_id, fid, request.base_url, _query_as_sent(), media_type),
            media_type)
