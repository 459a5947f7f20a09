from marshmallow import Schema, fields, validate


class AnchorQuerySchema(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class AnchorSchema(Schema):
    id = fields.Integer()
    seq = fields.Integer(metadata={"description": "the anchored custody event"})
    hash = fields.String(metadata={"description": "its hash: the token's message imprint"})
    tsa_url = fields.String()
    gen_time = fields.DateTime(format="iso", metadata={"description": "the TSA's time"})
    serial_number = fields.Function(lambda anchor: str(anchor.serial_number))
    created_at = fields.DateTime(format="iso")
    links = fields.Function(lambda anchor: {
        "token": f"/api/v1/custody/anchors/{anchor.id}/token"})
