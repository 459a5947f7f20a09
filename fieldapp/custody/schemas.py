from marshmallow import Schema, fields


class CustodyEventSchema(Schema):
    seq = fields.Integer()
    id = fields.UUID()
    occurred_at = fields.String(metadata={"description": "UTC, microseconds, as hashed"})
    actor_id = fields.UUID(allow_none=True)
    action = fields.String()
    subject_type = fields.String()
    subject_id = fields.UUID()
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()
