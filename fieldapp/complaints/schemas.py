"""Complaint schemas: what a coordinator files and records, and what staff read."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldapp.complaints import rules
from fieldapp.geo.geojson import page_schema
from fieldapp.moments import Moment

TEXT = validate.Length(max=20000)
# A complaint cites the reports it rests on; a packet lists every photo of each.
MAX_CITED = 200


class ComplaintInSchema(Schema):
    site_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(rules.CHANNELS), metadata={
        "description": "12345, 12369, national_platform (全国生态环境信访投诉举报管理平台), "
                       "local_bureau, other"})
    number = fields.String(required=True, validate=validate.Length(min=1, max=120),
                           metadata={"description": "the complaint number the channel gave"})
    filed_at = Moment(required=True, metadata={
        "description": "when it was filed (not in the future); deadlines count from its day"})
    authority = fields.String(required=True, validate=validate.Length(min=1, max=300),
                              metadata={"description": "the authority it was filed with"})
    summary = fields.String(load_default=None, allow_none=True, validate=TEXT,
                            metadata={"description": "what the complaint says"})
    report_ids = fields.List(fields.UUID(), load_default=list,
                             validate=validate.Length(max=MAX_CITED),
                             metadata={"description": "the reports it cites, in order"})

    @validates_schema
    def strip(self, data, **kwargs):
        for name in ("number", "authority"):
            if name in data and not data[name].strip():
                raise ValidationError("must not be blank", name)


class UpdateInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(rules.UPDATE_KINDS), metadata={
        "description": "the new status (accepted, rejected, investigating, replied, closed), "
                       "or extended (the result deadline, with extension_days and reason), "
                       "supplemented (further evidence sent, with report_ids), or note"})
    occurred_at = Moment(required=True, metadata={
        "description": "when the authority did it (not before filing, not in the future)"})
    reply_text = fields.String(load_default=None, allow_none=True, validate=TEXT, metadata={
        "description": "the authority's reply as received (required for rejected, replied)"})
    outcome = fields.String(load_default=None, allow_none=True, validate=TEXT,
                            metadata={"description": "what the authority found or did"})
    penalty_number = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=120),
                                   metadata={"description": "a penalty decision's number"})
    extension_days = fields.Integer(load_default=None, allow_none=True,
                                    validate=validate.Range(min=1), metadata={
                                        "description": "days the result deadline moves "
                                                       "(extended only)"})
    reason = fields.String(load_default=None, allow_none=True, validate=TEXT, metadata={
        "description": "the stated reason (required for extended; the text of a note; what "
                       "was sent with further evidence)"})
    report_ids = fields.List(fields.UUID(), load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=MAX_CITED), metadata={
                                 "description": "supplemented only: the further reports sent "
                                                "to the authority, in order; none cited "
                                                "before by the complaint"})

    @validates_schema
    def required_by_kind(self, data, **kwargs):
        kind = data.get("kind")
        needed = {"extended": ("extension_days", "reason"), "note": ("reason",),
                  "supplemented": ("report_ids",),
                  "rejected": ("reply_text",), "replied": ("reply_text",)}.get(kind, ())
        for name in needed:
            value = data.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise ValidationError(f"required for an update of kind {kind}", name)
        if kind != "extended" and data.get("extension_days") is not None:
            raise ValidationError("only an update of kind extended moves the deadline",
                                  "extension_days")
        if kind != "supplemented" and data.get("report_ids") is not None:
            raise ValidationError("only an update of kind supplemented cites reports; the "
                                  "reports cited at filing stay as filed", "report_ids")


class StatusPatchSchema(UpdateInSchema):
    """PATCH moves the status: the same as an update whose kind is the new status."""

    kind = fields.String(required=True, data_key="status",
                         validate=validate.OneOf(rules.STATUSES[1:]),
                         metadata={"description": "the new status"})


class ComplaintListArgsSchema(Schema):
    site_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(rules.STATUSES))
    overdue = fields.Boolean(metadata={
        "description": "true: only complaints past a deadline with no answer; false: only the "
                       "others"})
    # Bounded so that the offset it makes always fits a bigint.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class UpdateSchema(Schema):
    id = fields.UUID()
    complaint_id = fields.UUID()
    kind = fields.String()
    occurred_at = fields.DateTime(format="iso")
    reply_text = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    penalty_number = fields.String(allow_none=True)
    extension_days = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    report_ids = fields.List(fields.UUID(), allow_none=True, metadata={
        "description": "supplemented: the further reports sent"})
    created_at = fields.DateTime(format="iso")
    custody_hash = fields.String(metadata={"description": "the custody event recording it"})


class DeadlineSchema(Schema):
    due_at = fields.DateTime(format="iso", metadata={
        "description": "when it lapses: the end of its last day, Beijing time"})
    last_day = fields.Date(metadata={"description": "the last day an answer is in time"})
    days = fields.Integer(metadata={"description": "calendar days after the day of filing"})
    met_at = fields.DateTime(format="iso", allow_none=True,
                             metadata={"description": "when the authority answered"})
    late = fields.Boolean(metadata={"description": "answered, but after it lapsed"})
    lapsed = fields.Boolean(metadata={"description": "passed with no answer"})


class ResultDeadlineSchema(DeadlineSchema):
    extension_days = fields.Integer()
    original_due_at = fields.DateTime(format="iso")


class DeadlinesSchema(Schema):
    acceptance = fields.Nested(DeadlineSchema)
    result = fields.Nested(ResultDeadlineSchema)


class ComplaintSchema(Schema):
    id = fields.UUID()
    site_id = fields.UUID()
    site_name = fields.String(attribute="site.name")
    channel = fields.String()
    number = fields.String()
    authority = fields.String()
    summary = fields.String(allow_none=True)
    filed_at = fields.DateTime(format="iso")
    report_ids = fields.List(fields.UUID(), metadata={
        "description": "the reports cited as filed (further ones: updates of kind "
                       "supplemented)"})
    status = fields.String()
    next_statuses = fields.List(fields.String(), metadata={
        "description": "what the status may become next (rules of the authorities' handling)"})
    status_at = fields.DateTime(format="iso")
    deadlines = fields.Nested(DeadlinesSchema)
    overdue = fields.Boolean(metadata={"description": "a deadline passed with no answer"})
    lapsed = fields.List(fields.String(), metadata={
        "description": "which: acceptance (still filed), result (not yet replied)"})
    updates = fields.List(fields.Nested(UpdateSchema))
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    custody_hash = fields.String()


ComplaintPageSchema = page_schema(ComplaintSchema, "ComplaintPage")
