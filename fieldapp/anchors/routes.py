from flask import Response
from flask.views import MethodView

from fieldapp.accounts.auth import require
from fieldapp.anchors import service
from fieldapp.anchors.schemas import AnchorQuerySchema, AnchorSchema
from fieldapp.arguments import Blueprint

blp = Blueprint("anchors", __name__, url_prefix="/api/v1/custody",
                description="RFC 3161 time-stamps of the custody chain")
STAFF = ("coordinator", "lawyer", "admin")


@blp.route("/anchors")
class Anchors(MethodView):
    @require(*STAFF)
    @blp.arguments(AnchorQuerySchema, location="query")
    @blp.response(200, AnchorSchema(many=True))
    def get(self, query):
        """Anchors of the custody chain, newest first: event, hash, TSA and the TSA's time."""
        return service.list_anchors(query["limit"], query["offset"])


@blp.route("/anchors/<int:anchor_id>/token")
class AnchorToken(MethodView):
    @require(*STAFF)
    @blp.response(200, description="The DER TimeStampResp as the TSA sent it "
                                   "(check it with openssl ts -verify).")
    def get(self, anchor_id):
        """One anchor's token, byte for byte."""
        anchor = service.get_anchor(anchor_id)
        return Response(anchor.response, mimetype="application/timestamp-reply", headers={
            "Content-Disposition": f'attachment; filename="anchor-{anchor.seq}-{anchor.id}.tsr"'})
