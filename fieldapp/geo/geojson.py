"""List endpoints that answer JSON pages or RFC 7946 FeatureCollections: their shared query
arguments (bbox, format, page, page_size), bbox parsing, and the FeatureCollection."""
from __future__ import annotations

import math

from flask import jsonify, request
from marshmallow import Schema, ValidationError, fields, post_load, validate

from fieldapp.geo.geometry import to_geojson

BBOX_HELP = "minlon,minlat,maxlon,maxlat (WGS-84)"


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        parts = tuple(float(p) for p in raw.split(","))
    except ValueError:
        raise ValidationError(f"must be four numbers: {BBOX_HELP}", "bbox") from None
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise ValidationError(f"must be four numbers: {BBOX_HELP}", "bbox")
    minlon, minlat, maxlon, maxlat = parts
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90):
        raise ValidationError("outside WGS-84 range or min > max", "bbox")
    if minlon > maxlon:
        raise ValidationError("minlon > maxlon (antimeridian boxes are not supported)", "bbox")
    return parts


class MapListArgsSchema(Schema):
    """Arguments every map-able list takes."""

    bbox = fields.String(metadata={"description": BBOX_HELP})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "geojson")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @post_load
    def parse_bbox(self, data, **kwargs):
        if "bbox" in data:
            data["bbox"] = parse_bbox(data["bbox"])
        return data


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The JSON page of a list: items, total, page, page_size."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema)), "total": fields.Integer(),
        "page": fields.Integer(), "page_size": fields.Integer(),
    }, name=name)


def wants_geojson(args: dict) -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "application/geo+json"])
    return args.get("format") == "geojson" or best == "application/geo+json"


def feature_collection(page: dict, schema, geometry_of):
    """A paginated list as a FeatureCollection; properties come from the JSON schema."""
    features = []
    for item in page["items"]:
        properties = schema.dump(item)
        properties.pop("geometry", None)
        features.append({"type": "Feature", "id": properties["id"],
                         "geometry": to_geojson(geometry_of(item)), "properties": properties})
    response = jsonify({
        "type": "FeatureCollection", "features": features,
        "numberMatched": page["total"], "numberReturned": len(features),
        "page": page["page"], "page_size": page["page_size"],
    })
    response.mimetype = "application/geo+json"
    return response
