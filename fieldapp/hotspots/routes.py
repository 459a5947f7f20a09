from flask import Response, current_app, jsonify
from flask.views import MethodView
from marshmallow import RAISE

from fieldapp.access.audit import bulk_read
from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.hotspots import service
from fieldapp.hotspots.schemas import (
    CandidateArgsSchema,
    CandidateSchema,
    HexbinArgsSchema,
    PromotedSchema,
    PromoteSchema,
    PublicHexbinArgsSchema,
)

blp = Blueprint("hotspots", __name__, url_prefix="/api/v1",
                description="Where evidence piles up: hex bins, candidate sites, risk")
STAFF = ("coordinator", "lawyer", "admin")


def _geojson(collection: dict | str, public: bool = False):
    """A GeoJSON response from a dict, or from text PostgreSQL has already built."""
    if isinstance(collection, str):
        response = Response(collection, mimetype="application/geo+json")
    else:
        response = jsonify(collection)
        response.mimetype = "application/geo+json"
    response.cache_control.max_age = 300 if public else 0
    response.cache_control.public = public
    return response


@blp.route("/hotspots/hexbins")
class Hexbins(MethodView):
    @require(*STAFF)
    @blp.arguments(HexbinArgsSchema, location="query")
    @blp.response(200, content_type="application/geo+json",
                  description="FeatureCollection of H3 hexagons, each with its `count`.")
    @bulk_read(count_rows=False)
    def get(self, args):
        """Report counts per hexagon (resolution follows zoom), filtered by time and category."""
        return _geojson(service.hexbins(args))


@blp.route("/hotspots/candidates")
class Candidates(MethodView):
    @require(*STAFF)
    @blp.arguments(CandidateArgsSchema, location="query")
    @blp.response(200, CandidateSchema(many=True))
    @blp.alt_response(200, content_type="application/geo+json",
                      description="With format=geojson: hulls as a FeatureCollection.")
    @bulk_read()
    def get(self, args):
        """Clusters of reports linked to no site (ST_ClusterDBSCAN): unknown polluters."""
        found = service.candidates(args)
        if args["format"] == "geojson":
            return _geojson(candidate_features(found))
        return found


@blp.route("/hotspots/candidates/<string:candidate_id>/promote")
class Promote(MethodView):
    @require("coordinator", "admin")
    @blp.arguments(PromoteSchema)
    @blp.response(201, PromotedSchema)
    def post(self, body, candidate_id):
        """Make a candidate a site; its reports are linked to it (a custody event each)."""
        site, linked = service.promote(candidate_id, body, body["site"], current_user())
        return {"site": site, "linked_reports": linked}


@blp.route("/public/hexbins")
class PublicHexbins(MethodView):
    @blp.doc(security=[])
    # An unknown argument (a time window, a category) is refused rather than ignored, so
    # nobody believes the public layer was filtered when it was not.
    @blp.arguments(PublicHexbinArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, content_type="application/geo+json", description=(
        "Verified evidence only, in cells of at least ~1 km² where at least k distinct "
        "volunteers have some; `reports` is a band such as \"10-29\", never an exact count."))
    def get(self, args):
        """Public hex bins for the NGO's site: no token, no identity, no exact location."""
        k = current_app.config["FIELDAPP_PUBLIC_MIN_COUNT"]
        return _geojson(service.public_hexbins(args["bbox"], args["zoom"], k), public=True)


def candidate_features(found: list[dict]) -> dict:
    schema = CandidateSchema()
    features = []
    for candidate in found:
        properties = schema.dump(candidate)
        geometry = properties.pop("hull")
        features.append({"type": "Feature", "id": candidate["id"], "geometry": geometry,
                         "properties": properties})
    return {"type": "FeatureCollection", "features": features}
