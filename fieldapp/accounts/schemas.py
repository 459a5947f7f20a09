from marshmallow import Schema, fields


class LoginSchema(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class TokenSchema(Schema):
    token = fields.String(required=True)


class MeSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    role = fields.String()
    pseudonym = fields.String()
    display_name = fields.String(allow_none=True)
