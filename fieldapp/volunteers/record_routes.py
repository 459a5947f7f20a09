"""Service records (JSON or CSV), corrections and their resolution, real names, the signed
service certificate, and the register of certificates issued, over HTTP."""
from __future__ import annotations

from functools import wraps

from flask import Response, request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from fieldapp.access.audit import lookup_read
from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.errors import PayloadTooLarge, field_error
from fieldapp.volunteers import certificates, records, records_service
from fieldapp.volunteers.record_schemas import (
    CertificateCheckSchema,
    CertificateEntrySchema,
    CertificateFileSchema,
    CorrectionInSchema,
    IdentityInSchema,
    IdentitySchema,
    RecordArgsSchema,
    RecordCorrectionSchema,
    ResolutionInSchema,
    ServiceRecordSchema,
    TrainingInSchema,
    TrainingSchema,
)

blp = Blueprint("service_records", __name__, url_prefix="/api/v1/volunteers",
                description="Service records, real names and certificates (民政部令第67号)")
corrections_blp = Blueprint("service_record_corrections", __name__,
                            url_prefix="/api/v1/service-record-corrections",
                            description="Resolving volunteers' corrections of their records")
certificates_blp = Blueprint("certificates", __name__, url_prefix="/api/v1/certificates",
                             description="The register of certificates issued: looked up by "
                             "number, and any certificate file checked against it")
# A certificate is one page of about 35 KB; a body much larger is not one.
MAX_CERTIFICATE_BYTES = 1024 * 1024


def _record_response(user, args):
    built = records_service.service_record(user)
    if args["format"] == "csv":
        response = Response(records.to_csv(built), mimetype="text/csv",
                            content_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="service-record-{user.id.hex[:8]}.csv"')
        return response
    return built


@blp.route("/me/service-record")
class MyRecord(MethodView):
    @require(full=True)
    @blp.arguments(RecordArgsSchema, location="query")
    @blp.response(200, ServiceRecordSchema,
                  description="JSON, or CSV (UTF-8 with BOM) with ?format=csv")
    def get(self, args):
        """Your service record: accepted claims, on-site time, evaluations, corrections."""
        return _record_response(current_user(), args)


@blp.route("/<uuid:user_id>/service-record")
class AnyRecord(MethodView):
    @require("admin", full=True)
    @blp.arguments(RecordArgsSchema, location="query")
    @blp.response(200, ServiceRecordSchema)
    def get(self, args, user_id):
        """Any volunteer's service record (admins)."""
        return _record_response(records_service.user_or_404(user_id), args)


@blp.route("/me/service-record/corrections")
class MyCorrections(MethodView):
    @require()
    @blp.arguments(CorrectionInSchema)
    @blp.response(201, RecordCorrectionSchema)
    def post(self, data):
        """Say what is wrong with a line of your record; a coordinator resolves it."""
        return records_service.request_correction(current_user(), data)


@corrections_blp.route("/<uuid:correction_id>/resolution")
class CorrectionResolution(MethodView):
    @require("coordinator", "admin")
    @corrections_blp.arguments(ResolutionInSchema)
    @corrections_blp.response(201, RecordCorrectionSchema)
    @corrections_blp.alt_response(409, description="The correction was resolved already.")
    def post(self, data, correction_id):
        """Accept or reject a correction, with a note; recorded with who and when."""
        return records_service.resolve_correction(correction_id, data, current_user())


@blp.route("/me/identity")
class MyIdentity(MethodView):
    @require(full=True)
    @blp.response(200, IdentitySchema)
    def get(self):
        """Your real name and identity document as the NGO recorded them."""
        return records_service.identity(current_user())


@blp.route("/<uuid:user_id>/identity")
class AnyIdentity(MethodView):
    @require("admin")
    @blp.arguments(IdentityInSchema)
    @blp.response(200, IdentitySchema)
    def put(self, data, user_id):
        """Record a volunteer's real name and identity document (admins)."""
        return records_service.set_identity(user_id, data, current_user())

    @require("admin", full=True)
    @blp.response(200, IdentitySchema)
    def get(self, user_id):
        """A volunteer's real name and identity document (admins)."""
        return records_service.identity(records_service.user_or_404(user_id))


@blp.route("/<uuid:user_id>/trainings")
class Trainings(MethodView):
    @require("admin")
    @blp.arguments(TrainingInSchema)
    @blp.response(201, TrainingSchema)
    def post(self, data, user_id):
        """Record training a volunteer received (admins); it shows in their record."""
        return records_service.record_training(user_id, data, current_user())


@blp.route("/me/certificate")
class MyCertificate(MethodView):
    @require(full=True)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf",
                  description="志愿服务证明: a Chinese PDF signed with the server's Ed25519 "
                  "key; `fieldapp certificate verify FILE.pdf` checks it.")
    @blp.alt_response(409, description="No accepted service yet.")
    def get(self):
        """Your service certificate of accepted service so far; every one issued is recorded."""
        user = current_user()
        pdf = records_service.issue_certificate(user, user)
        response = Response(pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="certificate-{user.id.hex[:8]}.pdf"')
        return response


@certificates_blp.route("/<number>")
class CertificateByNumber(MethodView):
    @require(full=True)
    @certificates_blp.response(200, CertificateEntrySchema)
    @certificates_blp.alt_response(403, description="Coordinators and lawyers: a certificate "
                                   "names the volunteer's real name, which only admins read.")
    @certificates_blp.alt_response(404, description="No such certificate (for a volunteer: "
                                   "none of theirs).")
    @lookup_read
    def get(self, number):
        """A certificate in the register, as issued: for admins (the lookup is in the access
        log), and for the volunteer it was issued to."""
        number = number.strip().upper()
        if not certificates.NUMBER.fullmatch(number):
            raise field_error("number", "not a certificate number (ZYFW-YYYYMMDD-XXXXXXXX)")
        return records_service.certificate_entry(number, current_user())


def _small_body(view):
    """Refuse a body larger than a certificate could be, naming the `file` field, before it
    is read (or as soon as a body without a length passes the limit)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        message = f"larger than {MAX_CERTIFICATE_BYTES} bytes: not a certificate"
        request.max_content_length = MAX_CERTIFICATE_BYTES
        if (request.content_length or 0) > MAX_CERTIFICATE_BYTES:
            raise field_error("file", message, cls=PayloadTooLarge)
        try:
            return view(*args, **kwargs)
        except (RequestEntityTooLarge, PayloadTooLarge):
            raise field_error("file", message, cls=PayloadTooLarge) from None

    return wrapper


@certificates_blp.route("/verify")
class CertificateVerify(MethodView):
    @certificates_blp.doc(security=[])
    @_small_body
    @certificates_blp.arguments(CertificateFileSchema, location="files")
    @certificates_blp.response(200, CertificateCheckSchema)
    def post(self, files):
        """Check a certificate file (multipart, part `file`), for anyone holding one: is it
        byte for byte what this server signed, is its number in the register, are its
        fields and file the ones registered, and on what date was it issued. The answer
        holds nothing the file does not state; `fieldapp certificate verify` prints the
        same verdict."""
        data = files["file"].read()
        if not data:
            raise field_error("file", "the file is empty")
        return records_service.check_certificate(data)
