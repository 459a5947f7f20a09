from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldapp.reviews.models import DECISIONS


class ReviewInSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason = fields.String(load_default="", validate=validate.Length(max=5000))

    @validates_schema
    def rejection_needs_reason(self, data, **kwargs):
        if data.get("decision") == "rejected" and not data.get("reason", "").strip():
            raise ValidationError("a reason is required to reject a photo", "reason")


class ReviewSchema(Schema):
    id = fields.UUID()
    photo_id = fields.UUID()
    decision = fields.String()
    reason = fields.String()
    reviewer = fields.String(attribute="reviewer.pseudonym")
    reviewer_role = fields.String(attribute="reviewer.role")
    created_at = fields.DateTime(format="iso")
    custody_hash = fields.String()
