import base64

from flask import send_file
from flask.views import MethodView

from fieldapp.access.audit import bulk_read
from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.custody.schemas import CustodyEventSchema
from fieldapp.evidence import media
from fieldapp.photos import service
from fieldapp.photos.schemas import PhotoListArgsSchema, PhotoPageSchema
from fieldapp.reports.schemas import PhotoSchema

blp = Blueprint("photos", __name__, url_prefix="/api/v1/photos",
                description="Photos: metadata, originals, derivatives")


@blp.route("")
class Photos(MethodView):
    @require("coordinator", "lawyer", "admin")
    @blp.arguments(PhotoListArgsSchema, location="query")
    @blp.response(200, PhotoPageSchema)
    @bulk_read()
    def get(self, args):
        """Photos with their report's claim; review=pending is the coordinators' queue."""
        items, total = service.list_photos(args)
        return {"items": items, "total": total, "page": args["page"],
                "page_size": args["page_size"]}


@blp.route("/<uuid:photo_id>")
class PhotoById(MethodView):
    @require()
    @blp.response(200, PhotoSchema)
    def get(self, photo_id):
        """A photo's hash, EXIF reading, checks, verdict and receipt."""
        return service.get_photo(photo_id, current_user())


@blp.route("/<uuid:photo_id>/original")
class Original(MethodView):
    @require()
    @blp.response(200, description="The original bytes, exactly as received.")
    def get(self, photo_id):
        """Download the original; the read is a custody event."""
        photo, path = service.open_original(photo_id, current_user())
        response = send_file(path, mimetype=photo.media_type, as_attachment=True,
                             download_name=f"{photo.sha256}{media.suffix(photo.media_type)}",
                             conditional=False, etag=photo.sha256)
        response.headers["Digest"] = f"sha-256={_b64(photo.sha256)}"
        response.headers["X-Content-SHA256"] = photo.sha256
        return _private(response)


def _derivative_view(kind: str):
    class Derivative(MethodView):
        @require()
        @blp.response(200, description=f"JPEG {kind}, every metadata field stripped.")
        def get(self, photo_id):
            path = service.derivative(photo_id, current_user(), kind)
            return _private(send_file(path, mimetype="image/jpeg"))

    Derivative.get.__doc__ = f"The photo's {kind}: JPEG, orientation applied, no metadata."
    Derivative.__name__ = f"{kind.title()}View"
    return Derivative


blp.route("/<uuid:photo_id>/preview")(_derivative_view("preview"))
blp.route("/<uuid:photo_id>/thumbnail")(_derivative_view("thumbnail"))


def _private(response):
    """Never kept by a shared cache (a proxy, a CDN, a shared phone's browser cache): a
    photo may show a volunteer's face, home or street, and each read is authorised."""
    response.cache_control.no_store = True
    response.cache_control.private = True
    response.cache_control.public = False
    response.cache_control.max_age = None
    response.vary.add("Authorization")
    return response


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


@blp.route("/<uuid:photo_id>/custody")
class PhotoCustody(MethodView):
    @require("coordinator", "lawyer", "admin")
    @blp.response(200, CustodyEventSchema(many=True))
    def get(self, photo_id):
        """Every custody event of this photo, in chain order, with its link hashes."""
        return service.custody_events(photo_id, current_user())
