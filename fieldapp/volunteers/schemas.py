"""What a volunteer's phone shows on its home screen (the OpenAPI contract)."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldapp.tasks.schemas import ClaimSchema, NotificationSchema


class OwnReviewSchema(Schema):
    decision = fields.String()
    reason = fields.String()
    created_at = fields.DateTime(format="iso")


class OwnPhotoSchema(Schema):
    id = fields.UUID()
    verdict = fields.String()
    analysis = fields.String()
    review = fields.Nested(OwnReviewSchema, allow_none=True, metadata={
        "description": "The decision in force on this photo, with its reason, or null."})


class OwnReportSchema(Schema):
    id = fields.UUID()
    category = fields.String()
    observed_at = fields.DateTime(format="iso")
    received_at = fields.DateTime(format="iso")
    site_id = fields.UUID(allow_none=True)
    verdict = fields.String()
    photos = fields.List(fields.Nested(OwnPhotoSchema))


class HoursSchema(Schema):
    on_site_s = fields.Integer(metadata={"description": "every closed visit, check-in to "
                                         "check-out (travel never counts)"})
    accepted_on_site_s = fields.Integer(metadata={"description": "visits of accepted claims: "
                                                  "the service that is recorded"})
    pending_on_site_s = fields.Integer(metadata={"description": "visits of claims not "
                                                 "(yet) accepted"})
    accepted_hours = fields.Float()


class VolunteerOverviewSchema(Schema):
    pseudonym = fields.String()
    reports = fields.List(fields.Nested(OwnReportSchema), metadata={
        "description": "your newest reports (all of them: GET /reports)"})
    claims = fields.List(fields.Nested(ClaimSchema), metadata={
        "description": "your newest claims with their tasks (all: /volunteers/me/claims)"})
    hours = fields.Nested(HoursSchema)
    notifications = fields.List(fields.Nested(NotificationSchema), metadata={
        "description": "your newest notifications, read or not (all, and marking them "
                       "read: /volunteers/me/notifications)"})
    unread = fields.Integer(metadata={"description": "your notifications not yet marked "
                                      "read, in all"})
