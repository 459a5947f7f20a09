from flask.views import MethodView

from fieldapp.accounts import service
from fieldapp.accounts.auth import bearer_token, current_user, require
from fieldapp.accounts.schemas import LoginSchema, MeSchema, TokenSchema
from fieldapp.arguments import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in, tokens")


@blp.route("/token")
class Tokens(MethodView):
    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    def post(self, credentials):
        """Exchange email and password for a new bearer token."""
        return {"token": service.login(credentials["email"], credentials["password"])}

    @require()
    @blp.response(204)
    def delete(self):
        """Revoke the bearer token used for this request."""
        service.revoke_token(bearer_token())


@blp.route("/me")
class Me(MethodView):
    @require()
    @blp.response(200, MeSchema)
    def get(self):
        """Who this token belongs to."""
        return current_user()
