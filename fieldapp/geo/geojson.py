"""RFC 7946 FeatureCollections for list endpoints (one place, shared by every list)."""
from __future__ import annotations

from flask import jsonify, request

from fieldapp.geo.geometry import to_geojson


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
