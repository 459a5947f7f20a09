from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from fieldapp.geo.geojson import BBOX_HELP, parse_bbox
from fieldapp.hotspots.cells import PUBLIC_MAX_ZOOM
from fieldapp.moments import Moment
from fieldapp.reports.models import CATEGORIES
from fieldapp.sites.schemas import SiteFieldsSchema, SiteSchema

CHINA_BBOX = "73.4,18.1,135.1,53.6"


class _Window(Schema):
    # "from" is a Python keyword: the attribute keeps the query parameter's name via data_key.
    from_ = Moment(data_key="from", attribute="from")
    to = Moment()

    @validates_schema
    def ordered(self, data, **kwargs):
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            raise ValidationError("must not be after 'to'", "from")


class HexbinArgsSchema(_Window):
    bbox = fields.String(load_default=CHINA_BBOX,
                         metadata={"description": "minlon,minlat,maxlon,maxlat (WGS-84)"})
    zoom = fields.Integer(required=True, validate=validate.Range(min=0, max=22))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    verified = fields.Boolean(load_default=False, metadata={
        "description": "count only reports with verified evidence"})

    @post_load
    def parse(self, data, **kwargs):
        data["bbox"] = parse_bbox(data["bbox"])
        return data


class PublicHexbinArgsSchema(Schema):
    # No time window, on purpose: comparing two windows would show what one volunteer added.
    bbox = fields.String(load_default=CHINA_BBOX, metadata={"description": BBOX_HELP})
    zoom = fields.Integer(required=True, validate=validate.Range(min=0, max=PUBLIC_MAX_ZOOM))

    @post_load
    def parse(self, data, **kwargs):
        data["bbox"] = parse_bbox(data["bbox"])
        return data


class CandidateArgsSchema(_Window):
    distance_m = fields.Float(load_default=250, validate=validate.Range(min=10, max=20_000),
                              metadata={"description": "DBSCAN neighbour distance, metres"})
    min_size = fields.Integer(load_default=3, validate=validate.Range(min=2, max=10_000))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "geojson")))


class CandidateSchema(Schema):
    id = fields.String()
    report_count = fields.Integer()
    report_ids = fields.List(fields.UUID())
    centroid = fields.Dict()
    extent = fields.Dict()
    hull = fields.Dict()
    first_observed = fields.DateTime(format="iso")
    last_observed = fields.DateTime(format="iso")
    categories = fields.List(fields.String())


class PromoteSchema(_Window):
    distance_m = fields.Float(load_default=250, validate=validate.Range(min=10, max=20_000))
    min_size = fields.Integer(load_default=3, validate=validate.Range(min=2, max=10_000))
    site = fields.Nested(SiteFieldsSchema, required=True)


class PromotedSchema(Schema):
    site = fields.Nested(SiteSchema)
    linked_reports = fields.Integer()
