"""Access log schemas: the admin's query and the rows it answers."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldapp.geo.geojson import page_schema
from fieldapp.moments import Moment


class AccessLogArgsSchema(Schema):
    user_id = fields.UUID(metadata={"description": "only this user's reads"})
    since = Moment(metadata={"description": "minutes from this time on"})
    until = Moment(metadata={"description": "minutes up to this time"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @validates_schema
    def ordered(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("must not be after 'until'", "since")


class AccessUserSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    role = fields.String(metadata={"description": "the role when the reads were made"})


class AccessLogEntrySchema(Schema):
    id = fields.Integer()
    user = fields.Nested(AccessUserSchema)
    endpoint = fields.String(metadata={"description": "method and route, e.g. GET /api/v1/reports"})
    filters = fields.Dict(metadata={
        "description": "the query and path arguments, less paging, tile place and bbox"})
    minute = fields.DateTime(format="iso", metadata={"description": "the UTC minute counted"})
    first_at = fields.DateTime(format="iso")
    last_at = fields.DateTime(format="iso")
    requests = fields.Integer()
    rows = fields.Integer(allow_none=True, metadata={
        "description": "records answered in all (null for vector tiles)"})
    bbox = fields.List(fields.Float(), allow_none=True, metadata={
        "description": "west, south, east, north covered by the minute's reads"})


AccessLogPageSchema = page_schema(AccessLogEntrySchema, "AccessLogPage")
