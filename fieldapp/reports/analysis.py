"""Pixel analysis after receipt: decode, perceptual hash, thumbnail comparison, final checks.

A phone's answer carries the hash, the EXIF reading and every check that metadata can
settle. Decoding a 12-megapixel photo costs tens of milliseconds of CPU, so it is done
here instead, durably: a photo is stored with analysed_at NULL, and whoever analyses it
(a background analyser, `fieldapp evidence analyse`, or a dossier about to be frozen)
claims it with FOR UPDATE SKIP LOCKED, so no photo is analysed twice and none is lost if
a process dies half-way. The final checks replace the provisional ones and a "verified"
custody event records their digest.

A photo whose pixels cannot be read (over the pixel budget FIELDAPP_MAX_PIXELS, checked from
its headers before any decode, or undecodable) is analysed all the same: its pixel checks
are "unknown" with the reason, which is kept in analysis_error, so the queue moves on and
the photo is never decoded again and again. A decode that kills its process (a decoder
crash, the kernel's OOM killer) cannot report anything, so each decode is noted before it
starts, in its own committed transaction, and cleared when it ends: a photo whose decodes
never finished MAX_UNFINISHED_DECODES times is analysed without one more.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, text

from fieldapp.custody import service as custody
from fieldapp.evidence import checks, imaging
from fieldapp.extensions import db
from fieldapp.hotspots import indexing
from fieldapp.reports import service as reports
from fieldapp.reports.models import Photo, Report

CHANNEL = reports.ANALYSIS_CHANNEL
log = logging.getLogger(__name__)
MAX_UNFINISHED_DECODES = 2
# No foreign key: the row is written while the photo's row is locked FOR UPDATE by the
# analysing transaction, and a key check would wait for that transaction, which waits here.
_DECODE_STARTED = text("""
    INSERT INTO photo_decodes (photo_id, unfinished, started_at) VALUES (:photo_id, 1, now())
    ON CONFLICT (photo_id) DO UPDATE
        SET unfinished = photo_decodes.unfinished + 1, started_at = now()
    RETURNING unfinished
""")
_DECODE_ENDED = text("UPDATE photo_decodes SET unfinished = 0 WHERE photo_id = :photo_id")


class AnalysisFailed(Exception):
    """Analysing one photo raised; the photo stays waiting, its id is in photo_id."""

    def __init__(self, photo_id: uuid.UUID):
        super().__init__(f"analysing photo {photo_id} failed")
        self.photo_id = photo_id


def analyse_next(skip: frozenset = frozenset(),
                 read_pixels=imaging.analyse_pixels) -> uuid.UUID | None:
    """Claim the oldest unanalysed photo, analyse it and commit; its id, or None if none wait.

    Photos in skip are passed over (an analyser's memory of photos that failed, so one bad
    row cannot stall the queue behind it).
    """
    stmt = (select(Photo).where(Photo.analysed_at.is_(None))
            .order_by(Photo.received_at, Photo.id).limit(1)
            .with_for_update(skip_locked=True))
    if skip:
        stmt = stmt.where(Photo.id.not_in(skip))
    try:
        photo = db.session.scalar(stmt)
    except Exception:
        db.session.rollback()
        raise
    if photo is None:
        db.session.rollback()
        return None
    photo_id = photo.id
    try:
        analyse(photo, read_pixels)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        raise AnalysisFailed(photo_id) from exc
    return photo_id


def drain() -> int:
    """Analyse every photo waiting; returns how many were analysed.

    A photo whose analysis raises is logged and passed over (it stays waiting, for the
    next run), so one bad row never keeps the photos behind it from being analysed.
    """
    done, failed = 0, set()
    while True:
        try:
            analysed = analyse_next(frozenset(failed))
        except AnalysisFailed as exc:
            log.exception("photo %s left waiting: its analysis failed", exc.photo_id)
            failed.add(exc.photo_id)
            continue
        if analysed is None:
            return done
        done += 1


def settle(photo_ids) -> int:
    """Analyse, in the caller's transaction, those of these photos still waiting.

    Rows an analyser is working on are waited for; once it commits they no longer match.
    """
    pending = db.session.scalars(
        select(Photo).where(Photo.id.in_(list(photo_ids)), Photo.analysed_at.is_(None))
        .order_by(Photo.received_at, Photo.id).with_for_update()
    ).all()
    for photo in pending:
        analyse(photo)
    return len(pending)


def settle_in_child(photo_ids, timeout_s: float = 3600) -> int:
    """Analyse those of these photos still waiting in a child process, which commits.

    A web worker that decodes hundreds of images (freezing a dossier) keeps that memory
    for as long as it lives; the child gives it back when it exits. Returns how many were
    waiting; a failure is logged and left to the caller's own settle().
    """
    waiting = [str(photo_id) for photo_id in db.session.scalars(
        select(Photo.id).where(Photo.id.in_(list(photo_ids)), Photo.analysed_at.is_(None)))]
    if not waiting:
        return 0
    env = {**os.environ, "FIELDAPP_DATA_DIR": str(current_app.config["FIELDAPP_DATA_DIR"]),
           "DATABASE_URL": db.engine.url.render_as_string(hide_password=False)}
    result = subprocess.run(
        [sys.executable, "-m", "fieldapp.cli", "evidence", "analyse", "--photos-from-stdin"],
        input="\n".join(waiting), env=env, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        log.warning("analysis in a child process failed: %s", result.stderr.strip()[-500:])
    return len(waiting)


def analyse(photo: Photo, read_pixels=imaging.analyse_pixels) -> None:
    """Decode the original, run every check with the pixels known, record the outcome.

    read_pixels does the decoding; the analyser passes one that runs it at idle priority.
    """
    # One analysis at a time per report: each recomputes the report's verdict from all
    # of its photos, so it must see the others' committed results.
    report = db.session.scalar(select(Report).where(Report.id == photo.report_id)
                               .with_for_update().execution_options(populate_existing=True))
    path = reports.blob_store().path_for(photo.sha256)
    if not path.is_file():
        # Not "an image that cannot be decoded", a fail under its hash: the photo waits.
        raise FileNotFoundError(f"the original of photo {photo.id} is missing")
    pixels = _decode_unless_it_kept_failing(photo.id, path, read_pixels)
    limits = reports.thresholds()
    found = reports.found_with_pixels(photo.sha256, pixels, report, limits)
    outcome = checks.settle_pixel_checks(photo.checks, photo.exif, reports.claim_of(report),
                                         photo.received_at, found, limits)
    was_verified = photo.verified
    reports.apply_outcome(photo, photo.exif, pixels.phash, outcome)
    photo.checked_at = photo.analysed_at = datetime.now(UTC)
    photo.analysis_error = pixels.problem
    report.verdict = reports.worst_verdict(p.verdict for p in report.photos)
    indexing.refresh_verified(report)
    if photo.verified and not was_verified:
        indexing.add_verified_photo_to_site_risk(report, photo)
    elif was_verified and not photo.verified:
        indexing.refresh_site_risk(report.site_id)
    custody.append("verified", "photo", photo.id, details={
        "sha256": photo.sha256, "verdict": photo.verdict,
        "checks_sha256": reports.checks_digest(outcome), "phash": pixels.phash,
        "thumbnail_distance": pixels.thumbnail_distance, "decodable": pixels.decodable,
        "analysis_error": pixels.problem})


def _decode_unless_it_kept_failing(photo_id, path, read_pixels) -> imaging.PixelAnalysis:
    earlier = _note_decode(_DECODE_STARTED, photo_id) - 1
    if earlier >= MAX_UNFINISHED_DECODES:
        return imaging.PixelAnalysis(None, None, refused=True, problem=(
            f"decoding the image stopped its process {earlier} times; it is not decoded again"))
    pixels = read_pixels(path, reports.max_pixels())
    _note_decode(_DECODE_ENDED, photo_id)
    return pixels


def _note_decode(statement, photo_id) -> int | None:
    """Run statement committed at once, outside the analysis's transaction: it must
    survive the process dying before that transaction ends."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        result = connection.execute(statement, {"photo_id": photo_id})
        return result.scalar() if result.returns_rows else None


def pending_count() -> int:
    return db.session.scalar(text("SELECT count(*) FROM photos WHERE analysed_at IS NULL"))

