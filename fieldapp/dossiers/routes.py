from flask import Response, current_app
from flask.views import MethodView

from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.dossiers import keys, service
from fieldapp.dossiers.schemas import DossierSchema, PublicKeySchema

blp = Blueprint("dossiers", __name__, url_prefix="/api/v1",
                description="Court-ready evidence dossiers and the key that signs them")
LAWYERS = ("lawyer", "admin")


@blp.route("/cases/<uuid:case_id>/dossiers")
class CaseDossiers(MethodView):
    @require(*LAWYERS)
    @blp.response(202, DossierSchema, description="The freeze is queued: the dossier in "
                  "status `freezing`; follow `links.self` until it is `frozen` or `failed`.")
    @blp.alt_response(409, description="A dossier of this case is being frozen already.")
    def post(self, case_id):
        """Freeze the case's evidence items into a numbered, signed, immutable dossier."""
        return service.request_freeze(case_id, current_user())

    @require(*LAWYERS)
    @blp.response(200, DossierSchema(many=True))
    def get(self, case_id):
        """The case's dossiers, by number (the one being frozen last)."""
        return service.list_dossiers(case_id)


@blp.route("/dossiers/<uuid:dossier_id>")
class DossierById(MethodView):
    @require(*LAWYERS)
    @blp.response(200, DossierSchema)
    def get(self, dossier_id):
        """One dossier's record; while it is frozen, its progress (or why it failed)."""
        return service.dossier_or_freeze(dossier_id)


@blp.route("/dossiers/<uuid:dossier_id>/manifest")
class DossierManifest(MethodView):
    @require(*LAWYERS)
    @blp.response(200, description="manifest.json exactly as signed")
    def get(self, dossier_id):
        """The signed manifest bytes."""
        dossier = service.get_dossier(dossier_id)
        return Response(dossier.manifest, mimetype="application/json")


@blp.route("/dossiers/<uuid:dossier_id>/download")
class DossierDownload(MethodView):
    @require(*LAWYERS)
    @blp.response(200, description="The dossier ZIP, streamed; the download is a custody event.")
    def get(self, dossier_id):
        """Download the dossier ZIP (originals, previews, manifest, signature, catalog)."""
        dossier, stream = service.open_download(dossier_id, current_user())
        response = Response(stream, mimetype="application/zip", direct_passthrough=True)
        response.headers["Content-Length"] = str(len(stream))
        response.headers["Content-Disposition"] = f'attachment; filename="{dossier.label}.zip"'
        response.headers["X-Manifest-SHA256"] = dossier.manifest_sha256
        return response


@blp.route("/keys")
class PublicKey(MethodView):
    @blp.doc(security=[])
    @blp.response(200, PublicKeySchema)
    def get(self):
        """The server's Ed25519 public key that signs dossier manifests."""
        key = keys.signing_key(current_app.config["FIELDAPP_DATA_DIR"])
        return {"algorithm": "Ed25519", "public_key_pem": keys.public_key_pem(key).decode(),
                "fingerprint": keys.fingerprint(key)}
