"""Service records, their corrections, real names and certificates: the database side.

Each write is one transaction here. Real names live in their own table and are read only by
the functions below that serve the volunteer themself or an admin; every other listing goes
through the users table, which never holds them.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from fieldapp.accounts.models import User, utcnow
from fieldapp.dossiers import keys
from fieldapp.dossiers.catalog import FontMissing, load_fonts, resolve_font_path
from fieldapp.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, field_error
from fieldapp.extensions import db
from fieldapp.tasks.models import Claim, Task, TaskReport
from fieldapp.volunteers import certificates, records
from fieldapp.volunteers.models import (
    Certificate,
    Correction,
    Identity,
    Resolution,
    Training,
)

# Dates on a certificate are the NGO's calendar days.
CHINA = ZoneInfo("Asia/Shanghai")


def organisation() -> str:
    return current_app.config.get("FIELDAPP_ORG_NAME") or "fieldapp"


def user_or_404(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


def service_record(user: User) -> dict:
    """The volunteer's record: accepted claims with on-site time, evaluation, corrections."""
    claims = db.session.scalars(
        select(Claim).where(Claim.volunteer_id == user.id)
        .options(selectinload(Claim.task).selectinload(Task.site),
                 selectinload(Claim.visits), selectinload(Claim.evaluations)))
    counted = dict(db.session.execute(
        select(TaskReport.claim_id, func.count()).join(Claim, Claim.id == TaskReport.claim_id)
        .where(Claim.volunteer_id == user.id).group_by(TaskReport.claim_id)).all())
    plain = [_plain_claim(claim, counted.get(claim.id, 0)) for claim in claims]
    trainings = db.session.scalars(select(Training).where(Training.user_id == user.id)
                                   .order_by(Training.held_on, Training.recorded_at))
    return records.record({"user_id": user.id, "pseudonym": user.pseudonym}, plain,
                          [_plain_correction(c) for c in _corrections(user)], organisation(),
                          [_plain_training(t) for t in trainings])


def _plain_training(training: Training) -> dict:
    return {"id": training.id, "title": training.title, "held_on": training.held_on,
            "hours": float(training.hours), "organiser": training.organiser,
            "recorded_by": training.recorded_by, "recorded_at": training.recorded_at}


def record_training(user_id: uuid.UUID, data: dict, admin: User) -> dict:
    user_or_404(user_id)
    training = Training(user_id=user_id, recorded_by=admin.id,
                        **dict(data, hours=round(data["hours"], 2)))
    db.session.add(training)
    db.session.commit()
    return _plain_training(training)


def _plain_claim(claim: Claim, reports: int) -> dict:
    evaluation = claim.evaluation
    return {
        "claim_id": claim.id, "task_id": claim.task_id, "task_title": claim.task.title,
        "site_id": claim.task.site_id,
        "site_name": claim.task.site.name if claim.task.site else None,
        "status": claim.status, "reports": reports,
        "visits": [{"checked_in_at": v.checked_in_at, "checked_out_at": v.checked_out_at,
                    "on_site_s": v.on_site_s} for v in claim.visits],
        "evaluation": None if evaluation is None else {
            "decision": evaluation.decision, "rating": evaluation.rating,
            "reason": evaluation.reason, "evaluated_at": evaluation.created_at},
    }


def _corrections(user: User) -> list[Correction]:
    return list(db.session.scalars(
        select(Correction).where(Correction.user_id == user.id)
        .order_by(Correction.created_at, Correction.id)
        .options(selectinload(Correction.resolution))))


def _plain_correction(correction: Correction) -> dict:
    resolution = correction.resolution
    return {"id": correction.id, "claim_id": correction.claim_id,
            "message": correction.message, "requested_at": correction.created_at,
            "status": correction.status,
            "note": resolution.note if resolution else None,
            "resolver_id": resolution.resolver_id if resolution else None,
            "resolved_at": resolution.resolved_at if resolution else None}


def request_correction(user: User, data: dict) -> dict:
    claim = db.session.get(Claim, data["claim_id"])
    if claim is None or claim.volunteer_id != user.id:
        raise field_error("claim_id", "not one of your claims")
    correction = Correction(user_id=user.id, claim_id=claim.id, message=data["message"])
    db.session.add(correction)
    db.session.commit()
    return _plain_correction(correction)


def resolve_correction(correction_id: uuid.UUID, data: dict, resolver: User) -> dict:
    correction = db.session.get(Correction, correction_id)
    if correction is None:
        raise NotFound("no such correction")
    if correction.user_id == resolver.id:
        # As no one evaluates their own claim: a coordinator who also goes out on tasks
        # has their record's corrections decided by another.
        raise Forbidden("no one resolves a correction of their own record")
    if correction.resolution is not None:
        raise Conflict(f"this correction was already {correction.resolution.decision}")
    correction.resolution = Resolution(decision=data["decision"], note=data["note"],
                                       resolver_id=resolver.id)
    try:
        db.session.commit()
    except IntegrityError:
        # Another coordinator decided in the meantime: the resolution's key is the request.
        db.session.rollback()
        raise Conflict("this correction was resolved already") from None
    return _plain_correction(correction)


def identity(user: User) -> dict:
    found = db.session.get(Identity, user.id)
    if found is None:
        raise NotFound("no real name is recorded for this volunteer")
    return _plain_identity(found)


def set_identity(user_id: uuid.UUID, data: dict, admin: User) -> dict:
    user_or_404(user_id)
    values = {"real_name": data["real_name"], "document_type": data.get("document_type"),
              "document_number": data.get("document_number"), "updated_by": admin.id,
              "updated_at": utcnow()}
    # One statement, so two admins recording at once leave the later one, never a 500.
    db.session.execute(insert(Identity).values(user_id=user_id, **values)
                       .on_conflict_do_update(index_elements=["user_id"], set_=values))
    db.session.commit()
    return _plain_identity(db.session.get(Identity, user_id, populate_existing=True))


def _plain_identity(found: Identity) -> dict:
    return {"user_id": found.user_id, "real_name": found.real_name,
            "document_type": found.document_type, "document_number": found.document_number,
            "updated_at": found.updated_at}


# What the Measures ask a certificate to name that is the NGO's to say, by setting.
ISSUER_SETTINGS = {"organisation": "FIELDAPP_ORG_NAME",
                   "person_in_charge": "FIELDAPP_ORG_PERSON_IN_CHARGE",
                   "handler": "FIELDAPP_ORG_HANDLER", "contact": "FIELDAPP_ORG_CONTACT"}


def _issuer() -> dict:
    """The organisation, person in charge, handler and contact a certificate names; a
    certificate lacking one is not what the Measures ask for, so none is issued then."""
    config = current_app.config
    values = {field: (config.get(name) or "").strip() for field, name in ISSUER_SETTINGS.items()}
    missing = [ISSUER_SETTINGS[field] for field, value in values.items() if not value]
    if missing:
        current_app.logger.error("certificate not issued: set %s", ", ".join(missing))
        raise ServiceUnavailable("certificates cannot be made now: the organisation has not "
                                 f"configured {', '.join(missing)}")
    return values


def issue_certificate(user: User, issuer: User) -> bytes:
    """A signed certificate of the accepted service so far, recorded as issued."""
    built = service_record(user)
    if not built["entries"]:
        raise Conflict("no accepted service yet: a certificate states accepted service only")
    named = _issuer()
    config = current_app.config
    found = db.session.get(Identity, user.id)
    now = utcnow()
    fields = {
        "volunteer_name": found.real_name if found else user.pseudonym,
        "volunteer_number": str(user.id),
        "period_start": _day(built["period"]["start"]),
        "period_end": _day(built["period"]["end"]),
        "total_hours": built["total_hours"],
        "total_on_site_s": built["total_on_site_s"],
        "service_content": certificates.service_content(built["entries"]),
        **named,
        "issued_on": f"{now.astimezone(CHINA):%Y-%m-%d}",
    }
    again = _issued_today_as(user, fields)
    if again is not None:
        return again
    number = fields["number"] = _unused_number(now)
    key = keys.signing_key(config["FIELDAPP_DATA_DIR"])
    fingerprint = keys.fingerprint(key)
    try:
        font = load_fonts(resolve_font_path(config.get("FIELDAPP_CJK_FONT"))).text
    except FontMissing as exc:
        # The operator's to fix (the log says how); the client learns only that it failed.
        current_app.logger.error("certificate not issued: %s", exc)
        raise ServiceUnavailable("certificates cannot be made now: the Chinese font is "
                                 "missing on the server") from None
    digest = certificates.fields_digest(fields)
    pdf = certificates.sign(certificates.render(fields, font, fingerprint), number, digest, key)
    # Kept, so that asking again the same day gives this very file (see _issued_today_as).
    pdf_sha256 = current_app.extensions["blob_store"].put_bytes(pdf)
    db.session.add(Certificate(number=number, user_id=user.id, fields=fields,
                               fields_sha256=digest, pdf_sha256=pdf_sha256,
                               key_fingerprint=fingerprint, issued_at=now,
                               issued_by=issuer.id))
    db.session.commit()
    return pdf


def _issued_today_as(user: User, fields: dict) -> bytes | None:
    """The certificate already issued to the user today with these very fields (all but its
    number), as it was issued: asking again changes nothing, so it adds no line to the
    register, which a volunteer fetching over and over would otherwise fill."""
    latest = db.session.scalars(
        select(Certificate).where(Certificate.user_id == user.id)
        .order_by(Certificate.issued_at.desc()).limit(1)).first()
    if latest is None or {k: v for k, v in latest.fields.items() if k != "number"} != fields:
        return None
    store = current_app.extensions["blob_store"]
    if not store.exists(latest.pdf_sha256):
        return None  # issued before certificates were kept: a new one is issued
    with store.open_original(latest.pdf_sha256) as kept:
        return kept.read()


def _unused_number(now: datetime) -> str:
    """ZYFW-<day of issue>-<32 random bits>, drawn again while the register holds it: one
    volunteer fetching certificates over and over would otherwise meet a number already
    issued that day, and the register's key would refuse it."""
    while True:
        number = f"ZYFW-{now.astimezone(CHINA):%Y%m%d}-{secrets.token_hex(4).upper()}"
        if db.session.get(Certificate, number) is None:
            return number


def _day(moment: datetime | None) -> str | None:
    return f"{moment.astimezone(CHINA):%Y-%m-%d}" if moment else None


def certificate_entry(number: str, user: User) -> Certificate:
    """A certificate in the register, for an admin or the volunteer it was issued to.

    Its fields carry the real name where one is recorded, which only admins and the
    volunteer read: other staff are refused whatever the number, and a volunteer asking for
    another's number is told what an unknown number gets.
    """
    if user.is_staff and user.role != "admin":
        raise Forbidden("this needs the role admin: a certificate names the volunteer's real "
                        "name")
    entry = db.session.get(Certificate, number)
    if entry is None or (user.role != "admin" and entry.user_id != user.id):
        raise NotFound("no certificate with this number was issued")
    return entry


def check_certificate(data: bytes) -> dict:
    """A file against this server's key and, when that key signed it, the register."""
    key = keys.signing_key(current_app.config["FIELDAPP_DATA_DIR"]).public_key()
    verified = certificates.verify(data, key)
    registered = None
    if verified.ok:
        entry = db.session.get(Certificate, verified.number)
        if entry is not None:
            registered = certificates.Registered(entry.fields_sha256, entry.pdf_sha256,
                                                 entry.fields.get("issued_on"))
        db.session.rollback()
    return certificates.assess(verified, hashlib.sha256(data).hexdigest(), registered,
                               consulted=True)
