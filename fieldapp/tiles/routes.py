import hashlib

from flask import Response, request
from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from fieldapp.access.audit import bulk_read
from fieldapp.accounts.auth import require
from fieldapp.arguments import Blueprint
from fieldapp.errors import NotFound
from fieldapp.moments import Moment
from fieldapp.reports.models import CATEGORIES
from fieldapp.tiles import service

blp = Blueprint("tiles", __name__, url_prefix="/tiles",
                description="Vector tiles (MVT) for maps: sites, reports, hexbins, public")
MVT = "application/vnd.mapbox-vector-tile"


class TileArgsSchema(Schema):
    from_ = Moment(data_key="from", attribute="from")
    to = Moment()
    category = fields.String(validate=validate.OneOf(CATEGORIES))

    @validates_schema
    def ordered(self, data, **kwargs):
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            raise ValidationError("must not be after 'to'", "from")


class PublicTileArgsSchema(Schema):
    """None: the public layer has no time window or category (see PublicHexbinArgsSchema)."""


def _respond(data: bytes, public: bool) -> Response:
    etag = hashlib.sha256(data).hexdigest()[:32]
    response = Response(data, mimetype=MVT)
    response.set_etag(etag)
    response.cache_control.max_age = 300 if public else 60
    response.cache_control.public = public
    response.cache_control.private = not public
    response.vary.add("Authorization")
    return response.make_conditional(request)


@blp.route("/public/<int:z>/<int:x>/<int:y>.mvt")
class PublicTile(MethodView):
    @blp.doc(security=[])
    # Refused rather than ignored, like the public hex bins': nobody believes a tile was
    # filtered by a window or category when it was not.
    @blp.arguments(PublicTileArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, content_type=MVT, description=(
        "Verified evidence in cells of at least ~1 km² where k distinct volunteers have "
        "some; `reports` is a band, `band` its number."))
    def get(self, args, z, x, y):
        """The public layer: no token, hexagons only, never a cell with fewer than k people."""
        return _respond(service.tile("public", z, x, y, {}), public=True)


@blp.route("/<string:layer>/<int:z>/<int:x>/<int:y>.mvt")
class Tile(MethodView):
    @require("coordinator", "lawyer", "admin")
    @blp.arguments(TileArgsSchema, location="query")
    @blp.response(200, content_type=MVT, description="One Mapbox Vector Tile (ETag, cache).")
    @bulk_read(count_rows=False)
    def get(self, args, layer, z, x, y):
        """A tile of `sites`, `reports` or `hexbins`, filtered by time window and category."""
        if layer not in service.LAYERS:
            raise NotFound(f"no layer {layer!r}; layers: sites, reports, hexbins, public")
        return _respond(service.tile(layer, z, x, y, args), public=False)
