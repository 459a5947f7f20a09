"""Request and response schemas for reports and their photos (also the OpenAPI contract)."""
from __future__ import annotations

import json

from flask_smorest.fields import Upload
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from fieldapp.geo.coordinates import CRS_CHOICES
from fieldapp.geo.geojson import MapListArgsSchema, page_schema
from fieldapp.moments import Moment
from fieldapp.reports.models import CATEGORIES, VERDICTS


class ClaimLocationSchema(Schema):
    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS_CHOICES))
    accuracy_m = fields.Float(load_default=None, allow_none=True, allow_nan=False,
                              validate=validate.Range(min=0, max=100_000))


class ReportClaimSchema(Schema):
    client_id = fields.UUID(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    observed_at = Moment(required=True)
    location = fields.Nested(ClaimLocationSchema, required=True)
    site_id = fields.UUID(load_default=None, allow_none=True)
    uploads = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=1000),
                          metadata={"description": "ids of finished resumable uploads "
                                    "(/api/v1/uploads) of the sender's, each becoming a photo "
                                    "after the multipart photos, in this order; each is used "
                                    "once"})
    task_id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "the monitoring task this report is for: it counts toward the task "
                       "while the sender's claim on it is checked in or checked out"})


class JsonPart(fields.Field):
    """A multipart text part holding JSON, validated by a nested schema."""

    def __init__(self, schema: type[Schema], **kwargs):
        super().__init__(**kwargs)
        self.schema = schema

    def _deserialize(self, value, attr, data, **kwargs):
        if hasattr(value, "read"):  # sent as a file part (application/json)
            value = value.read(1024 * 1024)
        try:
            parsed = json.loads(value)
        except RecursionError:  # nesting deeper than the parser's stack: never a claim
            raise ValidationError("not valid JSON: nested too deeply") from None
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ValidationError("must be a JSON object")
        return self.schema().load(parsed)


class PhotoPart(Upload):
    """A multipart file part; a text part under the same name is refused, not read."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not hasattr(value, "stream"):
            raise ValidationError("must be a file part (with a filename), not a text field")
        return value


class ReportSubmissionSchema(Schema):
    """The multipart body of a submission: the claim as JSON text, and the photos."""

    @pre_load
    def one_report(self, data, **kwargs):
        # Of two claims in one body, webargs would take the first; a proxy or another reader
        # may take the last. An ambiguous claim is refused rather than one of them chosen.
        multidict = getattr(data, "data", None)
        if hasattr(multidict, "getlist") and len(multidict.getlist("report")) > 1:
            raise ValidationError("sent more than once; send one report part", "report")
        return data

    report = JsonPart(ReportClaimSchema, required=True, metadata={
        "type": "string", "contentMediaType": "application/json",
        "description": "The report claim as JSON text: see the ReportClaim schema."})
    photos = fields.List(PhotoPart(), load_default=list, metadata={
        "description": "1 to 20 photos: JPEG, HEIC/HEIF, PNG or TIFF (with the report's "
                       "uploads, 1 to 20 in all)."})


class ReportListArgsSchema(MapListArgsSchema):
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    verdict = fields.String(validate=validate.OneOf(VERDICTS))
    observed_from = Moment()
    observed_to = Moment()
    site_id = fields.UUID()

    @validates_schema
    def check_window(self, data, **kwargs):
        start, end = data.get("observed_from"), data.get("observed_to")
        if start and end and start > end:
            raise ValidationError("must not be after observed_to", "observed_from")


class CheckSchema(Schema):
    name = fields.String()
    result = fields.String(validate=validate.OneOf(("pass", "warn", "fail", "unknown")))
    detail = fields.String()


class GpsSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()
    alt = fields.Float(allow_none=True)
    timestamp = fields.String(allow_none=True)


class ExifSchema(Schema):
    reader = fields.String(allow_none=True)
    make = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    software = fields.String(allow_none=True)
    processing_software = fields.String(allow_none=True)
    creator_tool = fields.String(allow_none=True)
    history_software_agents = fields.List(fields.String(), metadata={
        "description": "each distinct stEvt:softwareAgent of the XMP history"})
    datetime_original = fields.String(allow_none=True)
    offset_time_original = fields.String(allow_none=True)
    datetime = fields.String(allow_none=True)
    gps = fields.Nested(GpsSchema, allow_none=True)
    gps_problems = fields.List(fields.String())
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    orientation = fields.Integer(allow_none=True)
    has_thumbnail = fields.Boolean()
    errors = fields.List(fields.String())


class ReceiptSchema(Schema):
    received_at = fields.DateTime(format="iso")
    custody_hash = fields.String()


class PhotoSchema(Schema):
    id = fields.UUID()
    report_id = fields.UUID()
    sha256 = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    exif = fields.Nested(ExifSchema)
    checks = fields.Method("get_checks", metadata={"type": "array"})
    verdict = fields.String()
    analysis = fields.String(validate=validate.OneOf(("pending", "done")), metadata={
        "description": "pending until the pixels are decoded and compared, moments after "
                       "receipt; until then near_duplicate and thumbnail_matches are unknown "
                       "and the verdict is provisional."})
    analysed_at = fields.DateTime(format="iso", allow_none=True)
    analysis_error = fields.String(allow_none=True, metadata={
        "description": "Why the pixels could not be analysed (over the pixel budget, or not "
                       "decodable), or null; the pixel checks then say unknown, and the "
                       "preview and thumbnail answer 422 PHOTO_NOT_RENDERABLE."})
    capture_time = fields.DateTime(format="iso", allow_none=True)
    receipt = fields.Method("get_receipt")
    review = fields.Method("get_review", metadata={
        "description": "The decision in force (latest review), or null."})
    links = fields.Method("get_links")

    def get_review(self, photo):
        from fieldapp.reviews.schemas import ReviewSchema

        return ReviewSchema().dump(photo.review) if photo.review else None

    def get_checks(self, photo):
        from fieldapp.access.audit import checks_as_seen

        # A volunteer is not told whose report holds the same or a similar photo.
        return checks_as_seen(photo.checks.get("checks", []))

    def get_receipt(self, photo):
        return ReceiptSchema().dump(
            {"received_at": photo.received_at, "custody_hash": photo.receipt_hash})

    def get_links(self, photo):
        base = f"/api/v1/photos/{photo.id}"
        return {"self": base, "original": f"{base}/original", "preview": f"{base}/preview",
                "thumbnail": f"{base}/thumbnail"}


class ClaimOutSchema(Schema):
    lon = fields.Float()
    lat = fields.Float()
    crs = fields.String()
    accuracy_m = fields.Float(allow_none=True)


class PointSchema(Schema):
    lon = fields.Float()
    lat = fields.Float()


class ReportLocationSchema(Schema):
    claim = fields.Nested(ClaimOutSchema)
    wgs84 = fields.Nested(PointSchema)


class ReportSchema(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    volunteer = fields.String(attribute="volunteer.pseudonym")
    category = fields.String()
    description = fields.String()
    observed_at = fields.DateTime(format="iso")
    received_at = fields.DateTime(format="iso")
    location = fields.Method("get_location", metadata={"type": "object"})
    site_id = fields.UUID(allow_none=True)
    site_link = fields.String(allow_none=True, metadata={
        "description": "claimed (sent by the phone), auto (nearest site), manual, or null"})
    site_distance_m = fields.Float(allow_none=True)
    verdict = fields.String()
    photos = fields.List(fields.Nested(PhotoSchema))

    def get_location(self, report):
        from fieldapp.geo.geometry import lon_lat

        lon, lat = lon_lat(report.location)
        return {
            "claim": {"lon": report.claim_lon, "lat": report.claim_lat, "crs": report.claim_crs,
                      "accuracy_m": report.accuracy_m},
            "wgs84": {"lon": lon, "lat": lat},
        }


ReportPageSchema = page_schema(ReportSchema, "ReportPage")


class SiteLinkSchema(Schema):
    site_id = fields.UUID(required=True, allow_none=True)
