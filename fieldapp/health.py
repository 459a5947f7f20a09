from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import text

from fieldapp import __version__
from fieldapp.arguments import Blueprint
from fieldapp.custody import service as custody
from fieldapp.extensions import db

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Liveness")


class AuditSchema(Schema):
    at = fields.DateTime(metadata={"description": "when the latest custody audit ran"})
    ok = fields.Boolean(metadata={"description": "whether it found nothing broken"})
    problems = fields.Integer(metadata={"description": "how many problems it found"})


class HealthSchema(Schema):
    status = fields.String()
    version = fields.String()
    database = fields.String()
    postgis = fields.String()
    audit = fields.Nested(AuditSchema, allow_none=True, metadata={
        "description": "the latest custody audit (`fieldapp custody verify` or the scheduled "
                       "one); null if none has run"})


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    def get(self):
        """Is the server up and its database reachable?"""
        postgis = db.session.scalar(text("SELECT postgis_lib_version()"))
        return {"status": "ok", "version": __version__, "database": "ok", "postgis": postgis,
                "audit": custody.last_audit()}
