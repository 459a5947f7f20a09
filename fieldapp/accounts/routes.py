from flask import request
from flask.views import MethodView

from fieldapp.accounts import service
from fieldapp.accounts.auth import bearer_token, current_auth, current_user, require
from fieldapp.accounts.models import STAFF_ROLES
from fieldapp.accounts.schemas import (
    LoginSchema,
    MeSchema,
    PasswordChangeSchema,
    ReadTokenSchema,
    TokenSchema,
    UserCreateSchema,
    UserPatchSchema,
    UserQuerySchema,
    UserSchema,
)
from fieldapp.arguments import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in, tokens")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users",
                      description="Account admin (admins only)")


def _actor() -> str:
    return str(current_user().id)


@blp.route("/token")
class Tokens(MethodView):
    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(429, description="Too many failed sign-ins; wait Retry-After seconds")
    def post(self, credentials):
        """Exchange email and password for a new bearer token (expires after
        FIELDAPP_TOKEN_TTL_S)."""
        return service.login(credentials["email"], credentials["password"],
                             request.remote_addr)

    @require()
    @blp.response(204)
    def delete(self):
        """Revoke the bearer token used for this request."""
        service.revoke_token(bearer_token())


@blp.route("/read-token")
class ReadTokens(MethodView):
    @require(*STAFF_ROLES)
    @blp.arguments(ReadTokenSchema)
    @blp.response(201, TokenSchema)
    def post(self, data):
        """A short-lived read-only token, e.g. for a wall display's map link."""
        return service.issue_read_token(current_auth(), data["ttl_s"])


@blp.route("/password")
class Password(MethodView):
    @require()
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def post(self, data):
        """Change one's own password; every other token of the account is revoked."""
        service.change_password(current_auth(), data["current_password"],
                                data["new_password"], request.remote_addr)


@blp.route("/me")
class Me(MethodView):
    @require()
    @blp.response(200, MeSchema)
    def get(self):
        """Who this token belongs to, and what the token may do until when."""
        auth, user = current_auth(), current_user()
        return {"id": user.id, "email": user.email, "role": user.role,
                "pseudonym": user.pseudonym, "display_name": user.display_name,
                "token_scope": auth.scope, "token_expires_at": auth.expires_at}


@users_blp.route("")
class Users(MethodView):
    @require("admin")
    @users_blp.arguments(UserQuerySchema, location="query")
    @users_blp.response(200, UserSchema(many=True))
    def get(self, args):
        """Every account, oldest first."""
        return service.list_users(args.get("role"))

    @require("admin")
    @users_blp.arguments(UserCreateSchema)
    @users_blp.response(201, UserSchema)
    def post(self, data):
        """Create an account (volunteers get a generated public pseudonym)."""
        return service.create_user(data["email"], data["password"], data["role"],
                                   data["display_name"], actor=_actor())


@users_blp.route("/<uuid:user_id>")
class OneUser(MethodView):
    @require("admin")
    @users_blp.response(200, UserSchema)
    def get(self, user_id):
        """One account."""
        return service.get_user(user_id)

    @require("admin")
    @users_blp.arguments(UserPatchSchema)
    @users_blp.response(200, UserSchema)
    def patch(self, changes, user_id):
        """Change role, display name or disabled; disabling revokes every token at once."""
        return service.update_user(user_id, changes, actor=_actor())
