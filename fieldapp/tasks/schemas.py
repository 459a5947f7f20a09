"""Request and response schemas of the monitoring loop (also the OpenAPI contract)."""
from __future__ import annotations

import math
from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from fieldapp.geo.coordinates import CRS_CHOICES, to_wgs84
from fieldapp.geo.geojson import page_schema
from fieldapp.geo.geometry import GeometryProblem, lon_lat, site_geometry, to_geojson
from fieldapp.moments import Moment
from fieldapp.reports.models import CATEGORIES
from fieldapp.tasks import rules

TEXT = validate.Length(max=20000)
NEAR_HELP = "lon,lat of the point to search around, in crs"
# Far enough for a whole province; farther is not "near".
MAX_RADIUS_M = 500_000


class PlaceSchema(Schema):
    """A point as a phone sends it: its numbers in `crs`, converted to WGS-84 on load."""

    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS_CHOICES))

    @post_load
    def convert(self, data, **kwargs):
        data["wgs84"] = to_wgs84(data["lon"], data["lat"], data["crs"])
        return data


def _place_out(lon, lat, crs, element) -> dict | None:
    if element is None:
        return None
    wgs_lon, wgs_lat = lon_lat(element)
    return {"claim": {"lon": lon, "lat": lat, "crs": crs},
            "wgs84": {"lon": wgs_lon, "lat": wgs_lat}}


def _not_blank(data: dict, name: str) -> None:
    if name in data and data[name] is not None and not data[name].strip():
        raise ValidationError("must not be blank", name)


# Requests (点单)

class RequestInSchema(Schema):
    site_id = fields.UUID(load_default=None, allow_none=True)
    location = fields.Nested(PlaceSchema, load_default=None, allow_none=True, metadata={
        "description": "{lon, lat, crs}: crs wgs84 (default), gcj02 or bd09"})
    description = fields.String(required=True, validate=validate.Length(min=1, max=10000))
    urgency = fields.String(load_default="normal", validate=validate.OneOf(rules.URGENCIES))

    @validates_schema
    def site_or_place(self, data, **kwargs):
        _not_blank(data, "description")
        if data.get("site_id") is None and data.get("location") is None:
            raise ValidationError("a site_id or a location is required", "site_id")


class DeclineSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))

    @validates_schema
    def reason_not_blank(self, data, **kwargs):
        _not_blank(data, "reason")


class RatingInSchema(Schema):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    comment = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=5000))


class RequestSchema(Schema):
    id = fields.UUID()
    requester = fields.String(attribute="requester.pseudonym")
    site_id = fields.UUID(allow_none=True)
    location = fields.Function(lambda r: _place_out(r.claim_lon, r.claim_lat, r.claim_crs,
                                                    r.location),
                               metadata={"type": "object", "nullable": True})
    description = fields.String()
    urgency = fields.String()
    status = fields.String(metadata={"description": "pending, dispatched, declined, done"})
    status_at = fields.DateTime(format="iso")
    decline_reason = fields.String(allow_none=True)
    task_id = fields.Function(lambda r: str(r.task.id) if r.task else None,
                              metadata={"type": "string", "nullable": True})
    rating = fields.Integer(allow_none=True)
    rating_comment = fields.String(allow_none=True)
    rated_at = fields.DateTime(format="iso", allow_none=True)
    created_at = fields.DateTime(format="iso")


class RequestListArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(rules.REQUEST_STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


RequestPageSchema = page_schema(RequestSchema, "RequestPage")


# Tasks (派单)

class TaskInSchema(Schema):
    request_id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "the request this task answers (it becomes dispatched); its site or "
                       "place is the task's unless site_id or area is given"})
    site_id = fields.UUID(load_default=None, allow_none=True)
    area = fields.Dict(load_default=None, allow_none=True, metadata={
        "description": "a GeoJSON Polygon, in crs (instead of a site)"})
    crs = fields.String(load_default="wgs84", load_only=True,
                        validate=validate.OneOf(CRS_CHOICES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    instructions = fields.String(load_default="", validate=TEXT)
    starts_at = Moment(required=True)
    ends_at = Moment(required=True)
    slots = fields.Integer(load_default=1, strict=True, validate=validate.Range(1, 1000),
                           metadata={"description": "volunteers wanted"})
    categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)),
                             load_default=list, validate=validate.Length(max=len(CATEGORIES)),
                             metadata={"description": "what to capture"})
    photos_required = fields.Integer(load_default=1, strict=True,
                                     validate=validate.Range(0, 100))
    reach_m = fields.Integer(load_default=500, strict=True, validate=validate.Range(1, 50_000),
                             metadata={"description": "check-in is accepted this close to "
                                                      "the site or the area"})

    @validates_schema
    def check(self, data, **kwargs):
        _not_blank(data, "title")
        start, end = data.get("starts_at"), data.get("ends_at")
        if start and end and end <= start:
            raise ValidationError("must be after starts_at", "ends_at")
        if data.get("site_id") is not None and data.get("area") is not None:
            raise ValidationError("give a site_id or an area, not both", "area")

    @post_load
    def build_area(self, data, **kwargs):
        crs = data.pop("crs", "wgs84")
        if data.get("area") is not None:
            if data["area"].get("type") != "Polygon":
                raise ValidationError("must be a GeoJSON Polygon", "area")
            try:
                data["area"] = site_geometry(data["area"], crs)
            except GeometryProblem as exc:
                raise ValidationError(str(exc), "area") from None
        data["categories"] = sorted(set(data["categories"]), key=CATEGORIES.index)
        return data


class ReasonSchema(Schema):
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=5000))


class FeedbackSchema(Schema):
    decision = fields.String()
    reason = fields.String(allow_none=True)
    at = fields.DateTime(format="iso", attribute="created_at")


class TaskSchema(Schema):
    id = fields.UUID()
    title = fields.String()
    last_feedback = fields.Function(
        lambda task: FeedbackSchema().dump(task.last_feedback)
        if getattr(task, "last_feedback", None) else None,
        metadata={"type": "object", "nullable": True, "description":
                  "the latest evaluation of this task's work that gave a reason: read it "
                  "before going"})
    status = fields.String(metadata={"description": "open, completed, cancelled"})
    status_at = fields.DateTime(format="iso")
    request_id = fields.UUID(allow_none=True)
    site_id = fields.UUID(allow_none=True)
    site_name = fields.Function(lambda task: task.site.name if task.site else None,
                                metadata={"type": "string", "nullable": True})
    area = fields.Function(lambda task: to_geojson(task.geom),
                           metadata={"type": "object", "nullable": True, "description":
                                     "GeoJSON (WGS-84): the area, or the request's point"})
    instructions = fields.String()
    starts_at = fields.DateTime(format="iso")
    ends_at = fields.DateTime(format="iso")
    slots = fields.Integer()
    slots_taken = fields.Function(lambda task: getattr(task, "slots_taken", None),
                                  metadata={"type": "integer"})
    slots_left = fields.Function(
        lambda task: max(0, task.slots - task.slots_taken)
        if getattr(task, "slots_taken", None) is not None else None,
        metadata={"type": "integer"})
    categories = fields.List(fields.String())
    photos_required = fields.Integer()
    reach_m = fields.Integer()
    distance_m = fields.Function(lambda task: getattr(task, "distance_m", None), metadata={
        "type": "number", "nullable": True, "description": "with near: metres to the task"})
    created_at = fields.DateTime(format="iso")


def parse_near(raw: str) -> tuple[float, float]:
    try:
        lon, lat = (float(part) for part in raw.split(","))
    except ValueError:
        raise ValidationError(f"must be two numbers: {NEAR_HELP}", "near") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
            and -90 <= lat <= 90):
        raise ValidationError("outside the range of longitudes and latitudes", "near")
    return lon, lat


class TaskListArgsSchema(Schema):
    near = fields.String(metadata={"description": NEAR_HELP})
    radius_m = fields.Integer(load_default=10_000, validate=validate.Range(1, MAX_RADIUS_M))
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS_CHOICES))
    status = fields.String(validate=validate.OneOf(rules.TASK_STATUSES),
                           metadata={"description": "staff only; volunteers see open tasks "
                                          "(another status: 403)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @post_load
    def convert_near(self, data, **kwargs):
        if "near" in data:
            data["near"] = to_wgs84(*parse_near(data["near"]), data["crs"])
        return data


TaskPageSchema = page_schema(TaskSchema, "TaskPage")


# Claims (接单) and evaluations (评单)

class VisitSchema(Schema):
    checked_in_at = fields.DateTime(format="iso")
    checked_out_at = fields.DateTime(format="iso", allow_none=True)
    on_site_s = fields.Integer(allow_none=True)
    distance_m = fields.Float(metadata={"description": "metres from the task at check-in"})


class EvaluationSchema(Schema):
    decision = fields.String()
    reason = fields.String(allow_none=True)
    rating = fields.Integer()
    evaluator = fields.Method("get_evaluator")
    at = fields.DateTime(format="iso", attribute="created_at")

    def get_evaluator(self, evaluation):
        evaluator = getattr(evaluation, "evaluator", None)
        return evaluator.pseudonym if evaluator else None


def _now() -> datetime:
    return datetime.now(UTC)


class ClaimSchema(Schema):
    feedback = fields.Function(
        lambda claim: FeedbackSchema().dump(claim.evaluation) if claim.evaluation else None,
        metadata={"type": "object", "nullable": True,
                  "description": "the evaluation in force: decision and reason"})
    id = fields.UUID()
    task_id = fields.UUID()
    task_title = fields.String(attribute="task.title")
    volunteer = fields.String(attribute="volunteer.pseudonym")
    status = fields.Function(
        lambda claim: rules.claim_status(claim.status, claim.expires_at, _now()),
        metadata={"type": "string", "description": "active, checked_in, checked_out, "
                  "accepted, needs_more, expired, cancelled"})
    status_at = fields.DateTime(format="iso")
    claimed_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(format="iso", metadata={
        "description": "an active claim frees its slot at this time unless extended"})
    seconds_left = fields.Function(
        lambda claim: rules.seconds_left(
            rules.claim_status(claim.status, claim.expires_at, _now()), claim.expires_at,
            _now()),
        metadata={"type": "integer", "nullable": True})
    visits = fields.List(fields.Nested(VisitSchema))
    on_site_s = fields.Integer(metadata={"description": "on-site seconds, all visits"})
    report_ids = fields.Function(lambda claim: [str(link.report_id) for link in claim.reports],
                                 metadata={"type": "array", "items": {"type": "string"}})
    evaluations = fields.List(fields.Nested(EvaluationSchema))


class CheckInSchema(Schema):
    location = fields.Nested(PlaceSchema, required=True, metadata={
        "description": "where the volunteer is: {lon, lat, crs}"})


class CheckOutSchema(Schema):
    location = fields.Nested(PlaceSchema, load_default=None, allow_none=True, metadata={
        "description": "where the volunteer is: {lon, lat, crs}. Within the task's reach, "
        "the visit counts up to now; without it, or farther away, up to the last report "
        "sent during the visit (else the check-in)"})


class EvaluationInSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(rules.DECISIONS))
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=5000),
                           metadata={"description": "required for needs_more"})
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))

    @validates_schema
    def needs_more_needs_reason(self, data, **kwargs):
        problem = rules.evaluation_problem(data.get("decision", ""), data.get("reason"))
        if problem:
            raise ValidationError(problem, "reason")


class TaskEventSchema(Schema):
    subject_type = fields.String()
    subject_id = fields.UUID()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    actor = fields.Method("get_actor")
    at = fields.DateTime(format="iso")
    details = fields.Dict()

    def get_actor(self, event):
        actor = getattr(event, "actor", None)
        return actor.pseudonym if actor else None


# The volunteer's own side

class AreaInSchema(Schema):
    location = fields.Nested(PlaceSchema, required=True)
    radius_m = fields.Integer(required=True, strict=True, validate=validate.Range(1, 200_000))


class AreaSchema(Schema):
    location = fields.Function(lambda area: _place_out(area.claim_lon, area.claim_lat,
                                                       area.claim_crs, area.location),
                               metadata={"type": "object"})
    radius_m = fields.Integer()
    updated_at = fields.DateTime(format="iso")


class NotificationSchema(Schema):
    id = fields.UUID()
    kind = fields.String(metadata={"description": "task_nearby, request_dispatched, "
                                   "request_declined, request_done, claim_expiring, "
                                   "claim_expired, claim_cancelled, visit_closed (the task "
                                   "ended while you were checked in, or a coordinator "
                                   "closed the visit), claim_accepted, "
                                   "claim_needs_more (a request for more, with its reason); "
                                   "reviews of your photos: report_accepted, report_rejected, "
                                   "report_needs_more (with the reason)"})
    message = fields.String()
    task_id = fields.UUID(allow_none=True)
    claim_id = fields.UUID(allow_none=True)
    request_id = fields.UUID(allow_none=True)
    report_id = fields.UUID(allow_none=True)
    photo_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime(format="iso")
    read_at = fields.DateTime(format="iso", allow_none=True, metadata={
        "description": "when it was first marked read; null while unread"})


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class NotificationArgsSchema(PageArgsSchema):
    unread = fields.Boolean(load_default=False, metadata={
        "description": "true: only those not yet marked read"})


UNREAD_HELP = "your notifications not yet marked read, in all"


class NotificationPageSchema(page_schema(NotificationSchema, "NotificationPageBase")):
    unread = fields.Integer(metadata={"description": UNREAD_HELP})


# As many ids as a page of the list holds.
MAX_READ_IDS = 500


class NotificationsReadInSchema(Schema):
    """Exactly one of: the ids shown, everything up to the newest shown, or everything."""

    ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=MAX_READ_IDS),
                      metadata={"description": "these notifications of yours (ids that are "
                                "not yours are ignored, as unknown ones are)"})
    up_to = Moment(metadata={"description": "every notification of yours created at or "
                             "before this time: send the created_at of the newest one shown, "
                             "so that one arriving meanwhile stays unread"})
    # JSON true only: not "yes", not 1.
    all = fields.Boolean(truthy={True}, falsy={False},
                         validate=validate.Equal(True, error="must be true, or left out"),
                         metadata={"description": "true: every notification of yours, "
                                   "including any that arrived after your list was read"})

    @validates_schema
    def exactly_one(self, data, **kwargs):
        given = [name for name in ("ids", "up_to", "all") if name in data]
        if not given:
            message = "give one of ids, up_to or all"
            raise ValidationError({name: [message] for name in ("ids", "up_to", "all")})
        if len(given) > 1:
            raise ValidationError({name: [f"give only one of {', '.join(given)}"]
                                   for name in given[1:]})


class NotificationsReadSchema(Schema):
    marked = fields.Integer(metadata={"description": "notifications marked read by this "
                                      "request (those already read keep their first read_at)"})
    read_at = fields.DateTime(format="iso")
    unread = fields.Integer(metadata={"description": UNREAD_HELP})


ClaimPageSchema = page_schema(ClaimSchema, "ClaimPage")
