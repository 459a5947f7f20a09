from marshmallow import Schema, fields, validate

from fieldapp.accounts.models import ROLES
from fieldapp.accounts.service import PASSWORD_MAX, PASSWORD_MIN

# Sign-in accepts any password up to the cap (an old one may be shorter than today's
# minimum); a new password must also meet the minimum.
_any_password = validate.Length(max=PASSWORD_MAX)
_new_password = validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX)


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=_any_password)


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    scope = fields.String(required=True, metadata={
        "description": "full: whatever the role allows; read: GET only"})


class ReadTokenSchema(Schema):
    ttl_s = fields.Integer(load_default=None, metadata={
        "description": "lifetime in seconds (default FIELDAPP_READ_TOKEN_TTL_S, at most "
                       "FIELDAPP_TOKEN_TTL_S)"})


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=_any_password)
    new_password = fields.String(required=True, load_only=True, validate=_new_password)


class AccountSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    role = fields.String()
    pseudonym = fields.String()
    display_name = fields.String(allow_none=True)


class MeSchema(AccountSchema):
    token_scope = fields.String(metadata={"description": "the scope of this request's token"})
    token_expires_at = fields.DateTime()


class UserSchema(AccountSchema):
    created_at = fields.DateTime()
    disabled = fields.Boolean()
    disabled_at = fields.DateTime(allow_none=True)


class UserQuerySchema(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))


class UserCreateSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=_new_password)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    display_name = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(max=200))


class UserPatchSchema(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    display_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    disabled = fields.Boolean(metadata={
        "description": "true revokes every token of the account at once"})
