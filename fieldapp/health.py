from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import text

from fieldapp import __version__
from fieldapp.arguments import Blueprint
from fieldapp.extensions import db

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Liveness")


class HealthSchema(Schema):
    status = fields.String()
    version = fields.String()
    database = fields.String()
    postgis = fields.String()


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    def get(self):
        """Is the server up and its database reachable?"""
        postgis = db.session.scalar(text("SELECT postgis_lib_version()"))
        return {"status": "ok", "version": __version__, "database": "ok", "postgis": postgis}
