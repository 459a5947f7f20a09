"""Submitting and listing reports. A submission is one unit of work.

Flow: validate the photos already streamed to hashing spools (type by content, size, a
structurally whole file), read their EXIF, then in one transaction: settle idempotency on
the phone's client_id, look up exact duplicates, run the checks metadata can settle, link
the originals into the blob store, insert the report, its photos and their custody
events, commit, and wake the analysers, which decode the pixels (reports.analysis). Any
failure before the commit leaves no row; temp files die with the request, and a blob
linked before a failed commit is harmless (content-addressed, reused by the next
identical upload).
"""
from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, cast, func, or_, select, text
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from fieldapp.accounts.models import User
from fieldapp.custody import chain
from fieldapp.custody import service as custody
from fieldapp.errors import Conflict, NotFound, UnsupportedMediaType, field_error
from fieldapp.evidence import checks, exif, imaging, media, structure
from fieldapp.extensions import db
from fieldapp.geo.coordinates import to_wgs84
from fieldapp.geo.geometry import point_element
from fieldapp.hotspots import indexing
from fieldapp.reports import quota
from fieldapp.reports.models import VERDICTS, Photo, Report
from fieldapp.sites import linking
from fieldapp.storage import blobs
from fieldapp.tasks import service as tasks
from fieldapp.uploads import service as resumable

_WORST_FIRST = tuple(reversed(VERDICTS))
# PostgreSQL NOTIFY channel on which a submission's commit wakes the analysers.
ANALYSIS_CHANNEL = "photos_received"


@dataclass
class Inspected:
    """One uploaded photo, read and checked for type, before anything is stored."""

    spool: object
    filename: str | None
    media_type: str
    metadata: dict
    field: str = "photos"

    @property
    def sha256(self) -> str:
        return self.spool.sha256


def blob_store():
    return current_app.extensions["blob_store"]


def max_pixels() -> int:
    """The pixel budget: no image declaring more is decoded (FIELDAPP_MAX_PIXELS)."""
    return current_app.config["FIELDAPP_MAX_PIXELS"]


def thresholds() -> checks.Thresholds:
    return checks.Thresholds.from_mapping(current_app.config["FIELDAPP_CHECK_SETTINGS"])


def submit(user: User, claim: dict, uploads: list) -> tuple[Report, bool]:
    """Store a report; returns (report, created). created is False for an idempotent retry.

    `uploads` are the multipart photo parts. The finished resumable uploads the claim names
    (claim["uploads"]) follow them as photos, read through the very same checks; they are
    used up only if the report is stored."""
    staged = resumable.for_report(user, claim.get("uploads") or [], claim["client_id"])
    try:
        report, created = _submit(user, claim, uploads, staged)
    finally:
        staged.close()
    if created:
        resumable.release_used(staged)
    return report, created


def _submit(user: User, claim: dict, uploads: list, staged) -> tuple[Report, bool]:
    received_at = datetime.now(UTC)
    _refuse_future_observation(claim["observed_at"], received_at)
    inspected = [inspect_upload(i, upload)
                 for i, upload in enumerate(_checked_count(uploads, len(staged.hashes)))]
    inspected += [inspect_upload(i, part, field=part.field)
                  for i, part in enumerate(staged.parts)]
    fingerprint = report_fingerprint(
        claim, [p.sha256 for p in inspected[:len(uploads)]] + staged.hashes)
    try:
        existing = _by_client_id(claim["client_id"])
        if existing is not None:
            db.session.rollback()
            return _settle_retry(existing, fingerprint, user, inspected), False
        _refuse_repeats(inspected)
        resumable.lock_for_report(staged)
        quota.enforce_in_transaction(user, sum(item.spool.size for item in inspected))
        report = _create(user, claim, inspected, fingerprint, received_at)
        resumable.mark_used(staged, report.id)
        _commit_keeping_state()
    except IntegrityError:
        # A concurrent retry of the same client_id committed first (the unique key on
        # client_id settles the race): answer with the report it stored.
        db.session.rollback()
        existing = _by_client_id(claim["client_id"])
        if existing is None:
            raise
        return _settle_retry(existing, fingerprint, user, inspected), False
    except Exception:
        db.session.rollback()
        raise
    return report, True


def _commit_keeping_state() -> None:
    """Commit without expiring what the session holds: a new report's objects are exactly
    what was written, so the answer is made from them instead of reloading every row."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _refuse_future_observation(observed_at: datetime, received_at: datetime) -> None:
    """Nothing is observed after it is reported: beyond the clock skew the checks allow a
    camera (FIELDAPP_CHECK_FUTURE_SKEW_MINUTES), such a claim is refused."""
    skew = thresholds().future_skew_minutes
    if observed_at > received_at + timedelta(minutes=skew):
        raise field_error("report.observed_at",
                          f"is after the time the report was received ({received_at.isoformat()}"
                          f", {skew:g} minutes of clock skew allowed)")


def _refuse_repeats(inspected: list[Inspected]) -> None:
    """One file once per report: neither duplicate check looks inside the report, and a
    site's risk counts every verified photo, so a repeat would count the file again."""
    first: dict[str, str] = {}
    for item in inspected:
        if item.sha256 in first:
            raise field_error(item.field, f"the same file as {first[item.sha256]}; send each "
                              "photo once", sub_code="PHOTO_REPEATED")
        first[item.sha256] = item.field


def _checked_count(uploads: list, uploaded: int = 0) -> list:
    """The multipart photos, once the report's photos in all (with `uploaded` resumable
    uploads) are within 1 and FIELDAPP_MAX_PHOTOS."""
    limit = current_app.config["FIELDAPP_MAX_PHOTOS"]
    if not uploads and not uploaded:
        raise field_error("photos", "at least one photo is required")
    if len(uploads) + uploaded > limit:
        raise field_error("photos", f"at most {limit} photos per report")
    return uploads


def inspect_upload(index: int, upload, field: str | None = None) -> Inspected:
    """Type by content, non-empty, structurally whole; then EXIF."""
    field = field or f"photos[{index}]"
    spool = upload.stream
    if spool.size == 0:
        raise field_error(field, "the file is empty")
    media_type = media.sniff(spool.head)
    if media_type is None:
        raise field_error(field, "not a JPEG, HEIC/HEIF, PNG or TIFF image (judged by content)",
                          cls=UnsupportedMediaType, sub_code="PHOTO_TYPE")
    spool.flush()
    problem = structure.problem(spool.name, media_type)
    if problem is not None:
        raise field_error(field, f"the image is not whole: {problem}",
                          sub_code="PHOTO_UNDECODABLE")
    # Refused now, from its headers, rather than accepted and found undecodable later: a
    # photo no one can ever look at is no evidence, and the phone can still send a smaller one.
    problem = structure.pixel_problem(spool.name, media_type, max_pixels())
    if problem is not None:
        raise field_error(field, problem, sub_code="PHOTO_TOO_MANY_PIXELS")
    return Inspected(
        spool=spool, filename=_safe_filename(upload.filename), media_type=media_type,
        metadata=exif.read_metadata(spool.name), field=field,
    )


def _safe_filename(name: str | None) -> str | None:
    """The last path element of the phone's name for the file, without control or format
    characters (a NUL cannot be stored; escapes and bidi overrides would disguise it)."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    return base[:255] if base not in ("", ".", "..") else None


def report_fingerprint(claim: dict, photo_hashes: list[str]) -> str:
    body = {
        "category": claim["category"], "description": claim["description"],
        "observed_at": claim["observed_at"].isoformat(),
        "location": claim["location"],
        "site_id": str(claim["site_id"]) if claim.get("site_id") else None,
        "photos": photo_hashes,
    }
    if claim.get("task_id"):
        # Only when sent, so that reports without a task keep the fingerprints they had.
        body["task_id"] = str(claim["task_id"])
    return hashlib.sha256(chain.canonical_json(body)).hexdigest()


def _by_client_id(client_id: uuid.UUID) -> Report | None:
    return db.session.scalar(select(Report).where(Report.client_id == client_id))


def _settle_retry(existing: Report, fingerprint: str, user: User, inspected) -> Report:
    if existing.volunteer_id != user.id or existing.fingerprint != fingerprint:
        raise Conflict("client_id was already used for a different report",
                       errors={"client_id": ["already used for a different report"]},
                       sub_code="CLIENT_ID_REUSED")
    # A retry carries the very bytes already recorded (same hashes): if a stored original has
    # gone missing, the retry puts it back. Nothing else is written.
    for item in inspected:
        if not blob_store().exists(item.sha256):
            blob_store().commit_spool(item.spool)
    return existing


def _create(user, claim, inspected, fingerprint, received_at) -> Report:
    """Build the report and its photos in memory; they reach the database in one flush, with
    their custody events, once the chain's head is known (so receipts need no UPDATE)."""
    # Settled (and the claim locked) before any photo is stored: a report that cannot count
    # toward the task it names is refused whole.
    task_claim = (tasks.reporting_claim(user, claim["task_id"]) if claim.get("task_id")
                  else None)
    loc = claim["location"]
    lon, lat = to_wgs84(loc["lon"], loc["lat"], loc["crs"])
    report = Report(
        id=uuid.uuid4(), client_id=claim["client_id"], fingerprint=fingerprint,
        volunteer_id=user.id, category=claim["category"], description=claim["description"],
        observed_at=claim["observed_at"], received_at=received_at,
        claim_lon=loc["lon"], claim_lat=loc["lat"], claim_crs=loc["crs"],
        accuracy_m=loc.get("accuracy_m"), location=point_element(lon, lat),
        verdict="consistent", verified=False, photos=[],
    )
    report.site_id, report.site_link, report.site_distance_m = linking.site_for(
        claim.get("site_id"), lon, lat)
    claim_for_checks, limits = claim_of(report), thresholds()
    outcomes = []
    for position, item in enumerate(inspected):
        photo, outcome = _store_photo(report, position, item, claim_for_checks, limits)
        report.photos.append(photo)
        outcomes.append(outcome)
    report.verdict = worst_verdict(p.verdict for p in report.photos)
    # Until its pixels are analysed no photo counts as verified evidence, so a new report
    # is counted unverified and adds nothing to its site's risk yet (see reports.analysis).
    indexing.index_new_report(report, lon, lat)
    _record_receipt(report, outcomes, fingerprint, user)
    if task_claim is not None:
        tasks.count_report(task_claim, report.id, user, received_at)
    db.session.execute(text(f"NOTIFY {ANALYSIS_CHANNEL}"))
    _mark_loaded(report, user)
    return report


def _mark_loaded(report: Report, user) -> None:
    """Tell the ORM what a new report's relationships hold, so answering needs no query."""
    set_committed_value(report, "volunteer", user)
    for photo in report.photos:
        set_committed_value(photo, "reviews", [])


def _record_receipt(report: Report, outcomes: list[dict], fingerprint: str, user) -> None:
    """All of a submission's custody events, appended last: the chain's lock is then held
    only for the moments before the commit. Each photo's receipt is its "received" event.
    Each "received" event binds its row's digest (custody.binding), so that a row changed
    behind the app's back no longer matches the chain."""
    at = report.received_at
    entries = [custody.Entry("received", "report", report.id, user.id, {
        "client_id": str(report.client_id), "fingerprint": fingerprint,
        "photos": [p.sha256 for p in report.photos],
        "row_sha256": custody.row_sha256("report", report)}, at)]
    if report.site_id:
        entries.append(linking.link_entry(report, previous=None, actor_id=None))
    receipts = {}
    for photo, outcome in zip(report.photos, outcomes, strict=True):
        receipts[photo] = len(entries)
        # The receipt binds the checks as they stood on receipt; the analysis that
        # settles the pixel checks appends a "verified" event of its own.
        entries.append(custody.Entry("received", "photo", photo.id, user.id, {
            "sha256": photo.sha256, "size": photo.size, "media_type": photo.media_type,
            "report_id": str(report.id), "position": photo.position,
            "verdict": photo.verdict, "checks_sha256": checks_digest(outcome),
            "row_sha256": custody.row_sha256("photo", photo)}, at))
    events = custody.append_many(entries, flush=False)
    for photo, index in receipts.items():
        photo.receipt_hash = events[index].hash
    db.session.add(report)  # only now: no query before this may flush it without receipts
    db.session.flush()


def relink_site(report_id: uuid.UUID, site_id: uuid.UUID | None, user: User) -> Report:
    """A coordinator links, relinks or unlinks a report (see sites.linking)."""
    return linking.relink(get_report(report_id, user), site_id, user)


def _store_photo(report, position, item: Inspected, claim, limits) -> tuple[Photo, dict]:
    blob_store().commit_spool(item.spool)
    received_at = report.received_at
    found = checks.Found(
        duplicate_report_ids=tuple(reports_with_sha(item.sha256, report)),
        pixels_pending=True)
    outcome = checks.run_checks(item.metadata, claim, received_at, found, limits)
    photo = Photo(id=uuid.uuid4(), report_id=report.id, position=position, sha256=item.sha256,
                  media_type=item.media_type, size=item.spool.size, filename=item.filename,
                  received_at=received_at, checked_at=received_at, receipt_hash="",
                  verified=False, analysed_at=None)
    apply_outcome(photo, item.metadata, None, outcome)
    return photo, outcome


def found_with_pixels(sha256: str, pixels: imaging.PixelAnalysis, report: Report,
                      limits: checks.Thresholds) -> checks.Found:
    """What the database and the decoded image tell about a photo of report."""
    return checks.Found(
        duplicate_report_ids=tuple(reports_with_sha(sha256, report)),
        near_duplicates=tuple(_near_duplicates(
            pixels.phash, sha256, report.id, limits.near_duplicate_max_distance,
            pixels.turned_hashes)),
        thumbnail_distance=pixels.thumbnail_distance,
        # An image refused for its size was never decoded: it is not known to be undecodable.
        decodable=pixels.decodable or pixels.refused,
        pixels_problem=pixels.problem,
    )


def claim_of(report: Report) -> checks.Claim:
    return checks.Claim(lon=report.claim_lon, lat=report.claim_lat, crs=report.claim_crs,
                        accuracy_m=report.accuracy_m, observed_at=report.observed_at)


def apply_outcome(photo: Photo, metadata: dict, phash: str | None, outcome: dict) -> None:
    photo.exif = metadata
    photo.checks = outcome
    photo.verdict = outcome["verdict"]
    photo.capture_time = (datetime.fromisoformat(outcome["capture_time"])
                          if outcome.get("capture_time") else None)
    gps = metadata.get("gps")
    photo.exif_location = point_element(gps["lon"], gps["lat"]) if gps else None
    photo.phash = phash_to_int(phash) if phash else None


def checks_digest(outcome: dict) -> str:
    return hashlib.sha256(chain.canonical_json(outcome)).hexdigest()


def reports_with_sha(sha256: str, report: Report) -> list[str]:
    """The other reports that held this file before report did (received earlier, or at the
    same instant with a smaller id): whoever sent a photo first keeps it as theirs, and a
    copy sent later never turns the original into a duplicate (as a recheck once did)."""
    earlier = or_(Photo.received_at < report.received_at,
                  and_(Photo.received_at == report.received_at, Photo.report_id < report.id))
    rows = db.session.scalars(
        select(Photo.report_id).where(Photo.sha256 == sha256, Photo.report_id != report.id,
                                      earlier)
        .distinct()
    )
    return sorted(str(r) for r in rows)


def _near_duplicates(phash, sha256, exclude_report, max_distance,
                     turned=()) -> list[tuple[str, int]]:
    """Photos of other reports within max_distance of the photo as it stands or turned or
    mirrored (turned: the pHashes of those layouts), nearest first."""
    if phash is None:
        return []

    def distance_to(value):
        # XOR then count the differing bits: the Hamming distance between two 64-bit hashes.
        return func.bit_count(cast(Photo.phash.op("#")(phash_to_int(value)), BIT(64)))

    hashes = (phash, *turned)
    distance = (distance_to(phash) if len(hashes) == 1
                else func.least(*(distance_to(value) for value in hashes)))
    rows = db.session.execute(
        select(Photo.id, distance.label("d"))
        .where(Photo.phash.is_not(None), Photo.sha256 != sha256,
               Photo.report_id != exclude_report, distance <= max_distance)
        .order_by("d").limit(10)
    )
    return [(str(row.id), int(row.d)) for row in rows]


def phash_to_int(phash_hex: str) -> int:
    """A 64-bit hex hash as a signed bigint (PostgreSQL has no unsigned 64-bit type)."""
    value = int(phash_hex, 16)
    return value - (1 << 64) if value >= (1 << 63) else value


def worst_verdict(verdicts) -> str:
    found = set(verdicts)
    return next((v for v in _WORST_FIRST if v in found), "consistent")


def get_report(report_id: uuid.UUID, user: User) -> Report:
    report = db.session.get(Report, report_id)
    if report is None or not can_see(user, report):
        raise NotFound("no such report")
    return report


def can_see(user: User, report: Report) -> bool:
    return user.is_staff or report.volunteer_id == user.id


def list_reports(user: User, args: dict) -> tuple[list[Report], int]:
    """Reports visible to the user, filtered, newest observation first, one page."""
    stmt = select(Report)
    if not user.is_staff:
        stmt = stmt.where(Report.volunteer_id == user.id)
    if bbox := args.get("bbox"):
        stmt = stmt.where(func.ST_Intersects(Report.location, func.ST_MakeEnvelope(*bbox, 4326)))
    for name in ("category", "verdict", "site_id"):
        if args.get(name) is not None:
            stmt = stmt.where(getattr(Report, name) == args[name])
    if args.get("observed_from"):
        stmt = stmt.where(Report.observed_at >= args["observed_from"])
    if args.get("observed_to"):
        stmt = stmt.where(Report.observed_at <= args["observed_to"])
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    page, size = args["page"], args["page_size"]
    # A page is answered with every report's photos and their reviews: load them in three
    # queries for the page rather than a few per report.
    items = db.session.scalars(
        stmt.order_by(Report.observed_at.desc(), Report.id).offset((page - 1) * size).limit(size)
        .options(selectinload(Report.photos).selectinload(Photo.reviews),
                 selectinload(Report.volunteer))
    ).all()
    return list(items), total


class OriginalUnavailable(Exception):
    """Photos not rechecked because their stored original is missing or altered (the
    message names them; `fieldapp evidence recheck` prints it and exits 1)."""


def recheck_photos(report_id: uuid.UUID | None = None) -> tuple[int, int]:
    """Re-read EXIF from each original and re-run its checks; returns (changed, total).

    The stored checks are replaced, and the chain records old and new verdicts, so a
    verdict's history can always be told from the custody events. Only an original that
    still hashes to its SHA-256 is rechecked: checks of other bytes, or of no file ("cannot
    be decoded"), recorded under its hash would misstate the evidence. The others are
    left as they were and named at the end (OriginalUnavailable).
    """
    stmt = select(Photo).order_by(Photo.received_at, Photo.id)
    if report_id:
        stmt = stmt.where(Photo.report_id == report_id)
    changed = total = 0
    unavailable = []
    for photo in db.session.scalars(stmt).all():
        problem = _original_problem(photo.sha256)
        if problem is not None:
            unavailable.append(f"{photo.id} ({problem})")
            continue
        total += 1
        changed += _recheck_one(photo)
        db.session.commit()
    if unavailable:
        raise OriginalUnavailable(
            f"rechecked {total} photos ({changed} changed verdict); not rechecked, their "
            f"originals not as received: {'; '.join(unavailable)}")
    return changed, total


def _original_problem(sha256: str) -> str | None:
    path = blob_store().path_for(sha256)
    if not path.is_file():
        return "the original is missing"
    if blobs.sha256_of(path) != sha256:
        return "the original's bytes no longer have its SHA-256"
    return None


def _recheck_one(photo: Photo) -> bool:
    path = blob_store().path_for(photo.sha256)
    report = photo.report
    metadata = exif.read_metadata(path)
    pixels = imaging.analyse_pixels(path, max_pixels())
    limits = thresholds()
    found = found_with_pixels(photo.sha256, pixels, report, limits)
    outcome = checks.run_checks(metadata, claim_of(report), photo.received_at, found, limits)
    before = photo.verdict
    apply_outcome(photo, metadata, pixels.phash, outcome)
    photo.checked_at = photo.analysed_at = datetime.now(UTC)
    photo.analysis_error = pixels.problem
    report.verdict = worst_verdict(p.verdict for p in report.photos)
    indexing.refresh_verified(report)
    indexing.refresh_site_risk(report.site_id)
    custody.append("rechecked", "photo", photo.id,
                   details={"sha256": photo.sha256, "verdict_before": before,
                            "verdict": photo.verdict, "checks_sha256": checks_digest(outcome)})
    return before != photo.verdict
