"""tus 1.0 at /api/v1/uploads: thin views over uploads.service.

tus speaks in headers and raw bodies, not JSON: the views read the headers they need, hand
the body's stream to the service, and answer with empty bodies and the protocol's headers.
Errors still leave in the API's one JSON shape, with Tus-Resumable like every answer here.
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from fieldapp.accounts.auth import current_user, current_user_id, require
from fieldapp.arguments import Blueprint
from fieldapp.errors import BadRequest
from fieldapp.uploads import protocol, service

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads",
                description="Resumable photo uploads (tus 1.0: core, creation, "
                            "creation-with-upload, checksum, expiration, termination)")


@blp.before_request
def _speaks_tus():
    # OPTIONS is how a client learns the version; every other request must name it.
    if request.method != "OPTIONS":
        service.check_version(request.headers.get("Tus-Resumable"))


@blp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = protocol.VERSION
    if response.status_code == 460:
        response.status = "460 Checksum Mismatch"
    return response


def _empty(status: int, headers: dict[str, str]) -> Response:
    return Response(status=status, headers=headers)


def _chunk() -> service.ChunkRequest:
    return service.ChunkRequest(
        content_type=request.headers.get("Content-Type"),
        offset_header=request.headers.get("Upload-Offset"),
        checksum_header=request.headers.get("Upload-Checksum"),
        content_length=request.content_length, stream=request.stream)


@blp.route("")
class Uploads(MethodView):
    @require()
    @blp.response(204, description="Tus-Version, Tus-Extension, Tus-Max-Size and "
                  "Tus-Checksum-Algorithm.")
    def options(self):
        """What this tus server offers."""
        return _empty(204, service.capabilities())

    @require()
    @blp.response(201, description="Location of the new upload; Upload-Offset and "
                  "Upload-Expires.")
    def post(self):
        """Create an upload (Upload-Length, Upload-Metadata), optionally with its first bytes
        (Content-Type: application/offset+octet-stream)."""
        with_data = request.headers.get("Content-Type", "").split(";")[0].strip().lower() \
            == protocol.CHUNK_MEDIA_TYPE
        upload, headers = service.create(
            current_user(), request.headers.get("Upload-Length"),
            request.headers.get("Upload-Defer-Length"), request.headers.get("Upload-Metadata"),
            _chunk() if with_data else None)
        return _empty(201, {**headers, "Location": f"{request.base_url}/{upload.id}"})


@blp.route("/<uuid:upload_id>")
class UploadById(MethodView):
    @require()
    @blp.response(204, description="Tus-Version, Tus-Extension, Tus-Max-Size and "
                  "Tus-Checksum-Algorithm.")
    def options(self, upload_id):
        """What this tus server offers."""
        return _empty(204, service.capabilities())

    @require()
    @blp.response(200, description="Upload-Offset, Upload-Length, Upload-Metadata, "
                  "Upload-Expires; Cache-Control: no-store.")
    def head(self, upload_id):
        """Where the upload stands: the offset to resume from."""
        return _empty(200, service.status(current_user(), upload_id))

    # A photo is many chunks: each needs only who sends it, not the account's row.
    @require(account=False)
    @blp.response(204, description="The new Upload-Offset, and Upload-Expires.")
    def patch(self, upload_id):
        """Append bytes at Upload-Offset (Content-Type: application/offset+octet-stream,
        optionally Upload-Checksum: sha256|sha1 <base64>)."""
        return _empty(204, service.append(current_user_id(), upload_id, _chunk()))

    @require()
    @blp.response(204)
    def delete(self, upload_id):
        """Terminate an upload no report has used: its bytes are removed."""
        service.terminate(current_user(), upload_id)
        return _empty(204, {})

    @blp.response(204, description="As PATCH or DELETE.")
    def post(self, upload_id):
        """PATCH or DELETE for clients that cannot send them: X-HTTP-Method-Override."""
        override = request.headers.get("X-HTTP-Method-Override", "").strip().upper()
        if override == "PATCH":
            return self.patch(upload_id)
        if override == "DELETE":
            return self.delete(upload_id)
        message = "POST to an upload needs X-HTTP-Method-Override: PATCH or DELETE"
        raise BadRequest(message, errors={"X-HTTP-Method-Override": [message]})
