"""The staff's list of photos: the review queue and what it can be filtered by."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldapp.geo.geojson import page_schema
from fieldapp.moments import Moment
from fieldapp.reports.models import CATEGORIES, VERDICTS
from fieldapp.reports.schemas import PhotoSchema, ReportSchema
from fieldapp.reviews.models import DECISIONS

REVIEW_STATES = ("pending", "any", *DECISIONS)


class PhotoListArgsSchema(Schema):
    review = fields.String(load_default="any", validate=validate.OneOf(REVIEW_STATES), metadata={
        "description": "pending: no decision yet (the review queue); accepted, rejected or "
                       "needs_more: the decision in force; any: every photo"})
    verdict = fields.List(fields.String(validate=validate.OneOf(VERDICTS)), metadata={
        "description": "one or more verdicts (repeat the parameter)"})
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    site_id = fields.UUID()
    verified = fields.Boolean(metadata={
        "description": "true: only photos that count as verified evidence (accepted in "
                       "review, or analysed, consistent and not rejected)"})
    volunteer = fields.String(validate=validate.Length(max=64),
                              metadata={"description": "the volunteer's pseudonym"})
    observed_from = Moment()
    observed_to = Moment()
    order = fields.String(load_default="newest", validate=validate.OneOf(("newest", "worst")),
                          metadata={"description": "newest received first, or worst verdict "
                                    "first (then newest)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))

    @validates_schema
    def check_window(self, data, **kwargs):
        start, end = data.get("observed_from"), data.get("observed_to")
        if start and end and start > end:
            raise ValidationError("must not be after observed_to", "observed_from")


class PhotoReportSchema(ReportSchema):
    """A report without its photos: the claim a photo was sent with."""

    class Meta:
        exclude = ("photos",)


class QueuedPhotoSchema(PhotoSchema):
    """A photo with the claim it was sent with, so that one answer shows both sides."""

    verified = fields.Boolean()
    report = fields.Nested(PhotoReportSchema)


PhotoPageSchema = page_schema(QueuedPhotoSchema, "PhotoPage")
