"""Filing complaints, recording what the authorities did, listing the overdue, and the
packet. Each filing and each update is one transaction that ends with its custody event."""
from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from fieldapp.accounts.models import User
from fieldapp.complaints import packet, rules
from fieldapp.complaints.models import Complaint, ComplaintUpdate
from fieldapp.custody import service as custody
from fieldapp.errors import Conflict, NotFound, field_error
from fieldapp.extensions import db
from fieldapp.geo.geometry import lon_lat, to_geojson
from fieldapp.reports.models import Report
from fieldapp.sites.service import get_site

# Phones' and servers' clocks differ a little; a time a few minutes ahead is not "future".
CLOCK_SKEW = timedelta(minutes=5)
DUPLICATE = "complaints_number_once"


def terms() -> rules.Terms:
    config = current_app.config
    return rules.Terms(config["FIELDAPP_COMPLAINT_ACCEPT_DAYS"],
                       config["FIELDAPP_COMPLAINT_RESULT_DAYS"],
                       config["FIELDAPP_COMPLAINT_MAX_EXTENSION_DAYS"])


def file_complaint(data: dict, user: User) -> Complaint:
    """Record a complaint as filed, with its deadlines; a `complaint_filed` event binds it."""
    try:
        get_site(data["site_id"])
    except NotFound:
        raise field_error("site_id", "no such site") from None
    now = datetime.now(UTC)
    if data["filed_at"] > now + CLOCK_SKEW:
        raise field_error("filed_at", "must not be in the future")
    report_ids = _cited_reports(data["report_ids"])
    number, authority = data["number"].strip(), data["authority"].strip()
    if db.session.scalar(select(Complaint.id).where(
            Complaint.channel == data["channel"], Complaint.authority == authority,
            Complaint.number == number)):
        raise _duplicate()
    accept_due, result_due = rules.initial_deadlines(data["filed_at"], terms())
    complaint = Complaint(
        id=uuid.uuid4(), site_id=data["site_id"], channel=data["channel"], number=number,
        authority=authority, summary=data.get("summary"), filed_at=data["filed_at"],
        report_ids=report_ids, filed_by=user.id, created_at=now, accept_due_at=accept_due,
        result_due_at=result_due, extension_days=0, status="filed",
        status_at=data["filed_at"], updated_at=now)
    # The chain's lock is taken last, just before the commit (custody.append_many).
    event = custody.append("complaint_filed", "complaint", complaint.id, actor_id=user.id,
                           occurred_at=now, details={
                               "site_id": str(complaint.site_id), "channel": complaint.channel,
                               "number": number, "report_ids": report_ids,
                               "row_sha256": custody.row_sha256("complaint", complaint)})
    complaint.custody_hash = event.hash
    db.session.add(complaint)
    _commit()
    return complaint


def _cited_reports(report_ids: list[uuid.UUID]) -> list[str]:
    if len(set(report_ids)) != len(report_ids):
        raise field_error("report_ids", "each report may be cited once")
    found = set(db.session.scalars(select(Report.id).where(Report.id.in_(report_ids))))
    missing = [str(report_id) for report_id in report_ids if report_id not in found]
    if missing:
        raise field_error("report_ids", f"no such report: {', '.join(missing)}")
    return [str(report_id) for report_id in report_ids]


def _further_reports(complaint: Complaint, report_ids: list[uuid.UUID]) -> list[str]:
    """Reports sent after the filing: each must exist and be new to the complaint."""
    further = _cited_reports(report_ids)
    cited = set(_cited_report_ids(complaint))
    again = [report_id for report_id in further if report_id in cited]
    if again:
        raise field_error("report_ids", f"already cited by this complaint: {', '.join(again)}")
    return further


def _cited_report_ids(complaint: Complaint) -> list[str]:
    """Every report the complaint cites: as filed, then each supplement's, in order."""
    return [*complaint.report_ids,
            *(report_id for update in complaint.updates for report_id in update.report_ids or ())]


def _duplicate() -> Conflict:
    return Conflict("a complaint with this number is already recorded for this channel and "
                    "authority", errors={"number": ["already recorded"]},
                    sub_code="COMPLAINT_DUPLICATE")


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if DUPLICATE in str(exc.orig):
            raise _duplicate() from None
        raise


def get_complaint(complaint_id: uuid.UUID) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("no such complaint")
    return complaint


def list_complaints(args: dict) -> tuple[list[Complaint], int]:
    """Newest filing first, by site, status, and whether a deadline lapsed unanswered."""
    stmt = select(Complaint)
    if args.get("site_id"):
        stmt = stmt.where(Complaint.site_id == args["site_id"])
    if args.get("status"):
        stmt = stmt.where(Complaint.status == args["status"])
    if args.get("overdue") is not None:
        stmt = stmt.where(_overdue(datetime.now(UTC)) if args["overdue"]
                          else ~_overdue(datetime.now(UTC)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    page, size = args["page"], args["page_size"]
    rows = db.session.scalars(stmt.options(selectinload(Complaint.updates),
                                           selectinload(Complaint.site))
                              .order_by(Complaint.filed_at.desc(), Complaint.id)
                              .offset((page - 1) * size).limit(size))
    return list(rows), total


def _overdue(now: datetime):
    """rules.lapsed as SQL: still waiting for an answer whose deadline has passed."""
    result_due = Complaint.result_due_at + func.make_interval(0, 0, 0,
                                                              Complaint.extension_days)
    return or_(and_(Complaint.status.in_(rules.AWAITING_DECISION),
                    Complaint.accept_due_at <= now),
               and_(Complaint.status.in_(rules.AWAITING_RESULT), result_due <= now))


def add_update(complaint_id: uuid.UUID, data: dict, user: User) -> ComplaintUpdate:
    """Record what the authority did; the status moves as rules.NEXT allows (409 if not)."""
    # One update of a complaint at a time, so two cannot both move it from the same status:
    # the row is locked and read afresh once the lock is held.
    complaint = db.session.scalar(select(Complaint).where(Complaint.id == complaint_id)
                                  .with_for_update()
                                  .execution_options(populate_existing=True))
    if complaint is None:
        raise NotFound("no such complaint")
    now = datetime.now(UTC)
    kind, occurred_at = data["kind"], data["occurred_at"]
    if occurred_at > now + CLOCK_SKEW:
        raise field_error("occurred_at", "must not be in the future")
    if occurred_at < complaint.filed_at:
        raise field_error("occurred_at", "must not be before the complaint was filed "
                          f"({complaint.filed_at.isoformat()})")
    try:
        new_status = rules.next_status(complaint.status, kind)
    except rules.TransitionRefused as refused:
        raise Conflict(str(refused), sub_code="COMPLAINT_TRANSITION") from None
    if kind == rules.EXTENDED:
        problem = rules.extension_problem(complaint.extension_days, data["extension_days"],
                                          terms())
        if problem:
            raise field_error("extension_days", problem)
        complaint.extension_days += data["extension_days"]
    further = _further_reports(complaint, data["report_ids"]) if kind == rules.SUPPLEMENTED \
        else None
    update = ComplaintUpdate(
        id=uuid.uuid4(), complaint_id=complaint.id, kind=kind, occurred_at=occurred_at,
        reply_text=_text(data.get("reply_text")), outcome=_text(data.get("outcome")),
        penalty_number=_text(data.get("penalty_number")),
        extension_days=data.get("extension_days"), reason=_text(data.get("reason")),
        report_ids=further, recorded_by=user.id, created_at=now)
    previous = complaint.status
    if new_status != previous:
        complaint.status, complaint.status_at = new_status, occurred_at
        if new_status in ("accepted", "rejected"):
            complaint.decided_at = occurred_at
        if new_status == "replied":
            complaint.replied_at = occurred_at
    complaint.updated_at = now
    db.session.flush()
    details = {"update_id": str(update.id), "kind": kind, "from": previous, "to": new_status,
               "row_sha256": custody.row_sha256("complaint_update", update)}
    if further:
        details["report_ids"] = further
    event = custody.append("complaint_updated", "complaint", complaint.id, actor_id=user.id,
                           occurred_at=now, details=details)
    update.custody_hash = event.hash
    db.session.add(update)
    db.session.commit()
    return update


def _text(value: str | None) -> str | None:
    """Text as kept: stripped, and None rather than blank."""
    if not isinstance(value, str):
        return value
    return value.strip() or None


def history(site_id: uuid.UUID) -> list[dict]:
    """A site's complaints and their updates as plain values, for a dossier's manifest."""
    complaints = db.session.scalars(
        select(Complaint).where(Complaint.site_id == site_id)
        .options(selectinload(Complaint.updates)).order_by(Complaint.filed_at, Complaint.id))
    return [_history_entry(complaint) for complaint in complaints]


def _history_entry(complaint: Complaint) -> dict:
    deadlines = complaint.deadlines
    return {
        "id": str(complaint.id), "channel": complaint.channel, "number": complaint.number,
        "authority": complaint.authority, "summary": complaint.summary,
        "filed_at": complaint.filed_at.isoformat(), "report_ids": complaint.report_ids,
        "status": complaint.status,
        "deadlines": {name: {"due_at": deadline["due_at"].isoformat(),
                             "last_day": deadline["last_day"].isoformat(),
                             "met_at": (deadline["met_at"].isoformat()
                                        if deadline["met_at"] else None),
                             "late": deadline["late"], "lapsed": deadline["lapsed"]}
                      for name, deadline in deadlines.items()},
        "extension_days": complaint.extension_days,
        "custody_hash": complaint.custody_hash,
        "updates": [{"kind": update.kind, "occurred_at": update.occurred_at.isoformat(),
                     "reply_text": update.reply_text, "outcome": update.outcome,
                     "penalty_number": update.penalty_number,
                     "extension_days": update.extension_days, "reason": update.reason,
                     "report_ids": update.report_ids,
                     "custody_hash": update.custody_hash} for update in complaint.updates],
    }


def export_packet(complaint_id: uuid.UUID, user: User) -> tuple[Complaint, bytes]:
    """The complaint's PDF letter; handing it out is an `exported` custody event.

    It cites the photos by hash, times and place, read from the database: no original is
    read, so the export is the only event.
    """
    complaint = get_complaint(complaint_id)
    now = datetime.now(UTC)
    values = _packet_values(complaint, now)
    letter = packet.render(values, current_app.config.get("FIELDAPP_CJK_FONT"))
    photos = [photo["sha256"] for photo in values["photos"]] + [
        photo["sha256"] for supplement in values["supplements"] for photo in supplement["photos"]]
    custody.append("exported", "complaint", complaint.id, actor_id=user.id, occurred_at=now,
                   details={"what": "complaint packet", "number": complaint.number,
                            "packet_sha256": hashlib.sha256(letter).hexdigest(),
                            "photos": photos})
    db.session.commit()
    return complaint, letter


def _reports(report_ids: list[str]) -> list[Report]:
    reports = {str(report.id): report for report in db.session.scalars(
        select(Report).where(Report.id.in_(report_ids)))}
    return [reports[report_id] for report_id in report_ids]


def _packet_values(complaint: Complaint, now: datetime) -> dict:
    site = complaint.site
    numbers = itertools.count(1)  # one numbering through the filing and its supplements
    return {
        "complaint": {"id": str(complaint.id), "channel": complaint.channel,
                      "number": complaint.number, "authority": complaint.authority,
                      "summary": complaint.summary,
                      "filed_at": complaint.filed_at.isoformat(), "status": complaint.status},
        "site": {"name": site.name, "operator": site.operator, "uscc": site.uscc,
                 "address": site.address, "region": site.region,
                 "geometry": to_geojson(site.geom)},
        "photos": _packet_photos(complaint.report_ids, numbers),
        "supplements": [{"occurred_at": update.occurred_at.isoformat(), "reason": update.reason,
                         "photos": _packet_photos(update.report_ids, numbers)}
                        for update in complaint.updates if update.report_ids],
        "generated_at": now.isoformat(),
    }


def _packet_photos(report_ids: list[str], numbers: Iterator[int]) -> list[dict]:
    photos = []
    for report in _reports(report_ids):
        lon, lat = lon_lat(report.location)
        for photo in sorted(report.photos, key=lambda photo: photo.position):
            gps = (photo.exif or {}).get("gps")
            photos.append({
                "number": next(numbers), "report_id": str(report.id),
                "photo_id": str(photo.id),
                "sha256": photo.sha256, "media_type": photo.media_type, "size": photo.size,
                "capture_time": (photo.checks or {}).get("capture_time"),
                "received_at": photo.received_at.isoformat(),
                "observed_at": report.observed_at.isoformat(),
                "category": report.category, "description": report.description,
                "verdict": photo.verdict,
                "place": {"exif": {"lon": gps["lon"], "lat": gps["lat"]} if gps else None,
                          "claim": {"lon": report.claim_lon, "lat": report.claim_lat,
                                    "crs": report.claim_crs, "wgs84": {"lon": lon, "lat": lat}}},
            })
    return photos
