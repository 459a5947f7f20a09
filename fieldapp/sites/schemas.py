"""Site schemas: GeoJSON geometry in (any of three crs), WGS-84 GeoJSON out."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from fieldapp.geo.coordinates import CRS_CHOICES
from fieldapp.geo.geojson import MapListArgsSchema, page_schema
from fieldapp.geo.geometry import GeometryProblem, site_geometry, to_geojson
from fieldapp.sites.models import SITE_STATUSES
from fieldapp.sites.uscc import uscc_problem


def _text(max_length: int, **kwargs):
    return fields.String(validate=validate.Length(max=max_length), allow_none=True, **kwargs)


class SiteFieldsSchema(Schema):
    """A site's descriptive fields (everything but its geometry)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    name_en = _text(300)
    operator = _text(300)
    uscc = _text(18)
    permit_number = _text(64)
    industry = _text(120)
    address = _text(2000)
    region = _text(120)
    status = fields.String(load_default="active", validate=validate.OneOf(SITE_STATUSES))

    @validates("uscc")
    def check_uscc(self, value, **kwargs):
        if value and (problem := uscc_problem(value)):
            raise ValidationError(f"not a valid unified social credit code: {problem}")


class SiteInSchema(SiteFieldsSchema):
    """Fields a coordinator sends; `geometry` is GeoJSON, in `crs` (default wgs84)."""

    geometry = fields.Dict(required=True)
    crs = fields.String(load_default="wgs84", load_only=True,
                        validate=validate.OneOf(CRS_CHOICES))

    @post_load
    def build_geometry(self, data, **kwargs):
        if "geometry" in data:
            try:
                data["geometry"] = site_geometry(data["geometry"], data.pop("crs", "wgs84"))
            except GeometryProblem as exc:
                raise ValidationError(str(exc), "geometry") from None
        else:
            data.pop("crs", None)
        return data


class SitePatchSchema(SiteInSchema):
    """The same fields, each optional: only what is sent changes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class SiteSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    operator = fields.String(allow_none=True)
    uscc = fields.String(allow_none=True)
    permit_number = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    status = fields.String()
    geometry = fields.Function(lambda site: to_geojson(site.geom), metadata={"type": "object"})
    risk = fields.Function(lambda site: getattr(site, "risk", None), metadata={
        "type": "object",
        "description": "for staff, in one site and with order=risk: score and its components"})
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")


class SiteListArgsSchema(MapListArgsSchema):
    status = fields.String(validate=validate.OneOf(SITE_STATUSES))
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "search in name, English name and operator"})
    order = fields.String(load_default="name", validate=validate.OneOf(("name", "risk")),
                          metadata={"description": "risk: highest risk first, with components"})


SitePageSchema = page_schema(SiteSchema, "SitePage")


class TimelineEventSchema(Schema):
    at = fields.DateTime(format="iso")
    kind = fields.String()
    subject_id = fields.UUID()
    summary = fields.String()
