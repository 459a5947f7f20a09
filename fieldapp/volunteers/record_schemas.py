"""Service records, corrections, real names and certificates (the OpenAPI contract)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate

from fieldapp.moments import Moment


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


def _held_already(value: date) -> None:
    # Training received, by the NGO's calendar: a day still to come is a slip of the year.
    if value > datetime.now(ZoneInfo("Asia/Shanghai")).date():
        raise ValidationError("is in the future: record training once it is received")


def _whole_hundredths(value: float) -> None:
    # Stored to two decimals: a value that would round to nothing is no training.
    if round(value, 2) <= 0:
        raise ValidationError("must be at least 0.01")


class RecordArgsSchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "csv: UTF-8 with a BOM (Excel reads "
                                     "the Chinese)"})


class RecordEvaluationSchema(Schema):
    decision = fields.String()
    rating = fields.Integer()
    reason = fields.String(allow_none=True)
    evaluated_at = Moment()


class RecordEntrySchema(Schema):
    claim_id = fields.UUID()
    task_id = fields.UUID()
    task_title = fields.String()
    site_id = fields.UUID(allow_none=True)
    site_name = fields.String(allow_none=True)
    first_check_in = Moment(allow_none=True)
    last_check_out = Moment(allow_none=True)
    on_site_s = fields.Integer(metadata={"description": "check-in to check-out only"})
    on_site_hours = fields.Float()
    reports = fields.Integer(metadata={"description": "reports sent for the task"})
    organisation = fields.String()
    evaluation = fields.Nested(RecordEvaluationSchema, allow_none=True)


class RecordCorrectionSchema(Schema):
    id = fields.UUID()
    claim_id = fields.UUID()
    message = fields.String()
    requested_at = Moment()
    status = fields.String(metadata={"description": "pending, accepted or rejected"})
    note = fields.String(allow_none=True)
    resolver_id = fields.UUID(allow_none=True)
    resolved_at = Moment(allow_none=True)


class RecordVolunteerSchema(Schema):
    user_id = fields.UUID()
    pseudonym = fields.String()


class ServicePeriodSchema(Schema):
    start = Moment(allow_none=True)
    end = Moment(allow_none=True)


class TrainingInSchema(Schema):
    title = fields.String(required=True, validate=[validate.Length(min=1, max=300),
                                                   _not_blank])
    held_on = fields.Date(required=True, validate=_held_already)
    hours = fields.Float(required=True, allow_nan=False,
                         validate=[validate.Range(min=0, max=9999, min_inclusive=False),
                                   _whole_hundredths])
    organiser = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=300))


class TrainingSchema(Schema):
    id = fields.UUID()
    title = fields.String()
    held_on = fields.Date()
    hours = fields.Float()
    organiser = fields.String(allow_none=True)
    recorded_by = fields.UUID()
    recorded_at = Moment()


class ServiceRecordSchema(Schema):
    volunteer = fields.Nested(RecordVolunteerSchema)
    organisation = fields.String()
    period = fields.Nested(ServicePeriodSchema)
    total_on_site_s = fields.Integer()
    total_hours = fields.Float()
    entries = fields.List(fields.Nested(RecordEntrySchema), metadata={
        "description": "accepted claims only: the service that counts"})
    corrections = fields.List(fields.Nested(RecordCorrectionSchema))
    trainings = fields.List(fields.Nested(TrainingSchema), metadata={
        "description": "training received, apart from service hours"})


class CorrectionInSchema(Schema):
    claim_id = fields.UUID(required=True)
    message = fields.String(required=True, validate=[validate.Length(min=1, max=5000),
                                                     _not_blank],
                            metadata={"description": "what is wrong"})


class ResolutionInSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("accepted", "rejected")))
    note = fields.String(required=True, validate=[validate.Length(min=1, max=5000),
                                                  _not_blank])


class IdentityInSchema(Schema):
    real_name = fields.String(required=True, validate=[validate.Length(min=1, max=100),
                                                       _not_blank])
    document_type = fields.String(load_default=None, allow_none=True,
                                  validate=validate.Length(min=1, max=32),
                                  metadata={"description": "e.g. 居民身份证"})
    document_number = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Length(min=1, max=64))


class IdentitySchema(Schema):
    user_id = fields.UUID()
    real_name = fields.String()
    document_type = fields.String(allow_none=True)
    document_number = fields.String(allow_none=True)
    updated_at = Moment()


class CertificateEntrySchema(Schema):
    """A certificate as the register keeps it (admins, and the volunteer it was issued to)."""

    number = fields.String()
    user_id = fields.UUID()
    fields_ = fields.Dict(data_key="fields", attribute="fields", metadata={
        "description": "every field the certificate states, as issued (the real name "
                       "among them, where one was recorded)"})
    fields_sha256 = fields.String(metadata={"description": "SHA-256 of the fields as "
                                            "canonical JSON, as the file's signature line "
                                            "states it"})
    pdf_sha256 = fields.String(metadata={"description": "SHA-256 of the signed PDF issued"})
    key_fingerprint = fields.String()
    issued_at = Moment()
    issued_by = fields.UUID()


class CertificateFileSchema(Schema):
    file = Upload(required=True, metadata={"description": "the certificate PDF, as received"})


def _maybe(field, description: str):
    """A field that may be null, with its description."""
    return field(allow_none=True, metadata={"description": description})


STATED = "as the file's signature line states it"


class CertificateCheckSchema(Schema):
    """The verdict on a file: nothing that the file does not state itself, only yes or no."""

    valid = fields.Boolean(metadata={"description": "signed by this server's key, in the "
                                     "register, with the registered fields, and the very file "
                                     "issued"})
    problems = fields.List(fields.String(), metadata={
        "description": "what is wrong, as `fieldapp certificate verify` prints it after "
                       "PROBLEM:"})
    summary = _maybe(fields.String, "when valid, what `fieldapp certificate verify` prints "
                     "after OK:")
    number = _maybe(fields.String, STATED)
    fields_sha256 = _maybe(fields.String, STATED)
    key_fingerprint = _maybe(fields.String, "of the key the file's signature line names")
    signature_valid = fields.Boolean(metadata={
        "description": "the file is, byte for byte, what this server's key signed"})
    registered = _maybe(fields.Boolean, "the number is in the register of certificates "
                        "issued; null when the signature is not valid (the register is then "
                        "not consulted)")
    fields_match = _maybe(fields.Boolean, "the fields digest is the one registered under "
                          "the number")
    file_matches = _maybe(fields.Boolean, "the file's SHA-256 is the one registered under "
                          "the number")
    issued_on = _maybe(fields.String, "the date of issue (Asia/Shanghai) as registered, when "
                       "valid: the date the certificate states")
