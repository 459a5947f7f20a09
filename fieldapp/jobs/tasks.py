"""The background tasks. Each runs inside a Flask app context (worker.py) and is idempotent:
run twice, it does its work once (a frozen dossier is not frozen again, an anchored head is
not anchored again, an audit or a sweep may simply run again).

Interval tasks (the audit, anchors, the claims' expiry sweep) queue their own next run
under a queueing lock named after the task, so at most one run of each waits in the queue
however many workers start; a worker seeds each at start and a chain already waiting
refuses the seed. A failed run is recorded as a failed job and its next run comes sooner,
with backoff (schedule.py).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from flask import current_app

from fieldapp.extensions import db
from fieldapp.jobs.queue import defer, queue
from fieldapp.jobs.schedule import next_run_in

log = logging.getLogger(__name__)

FREEZE = "dossiers.freeze"
AUDIT = "custody.audit"
ANCHOR = "anchors.anchor_head"
SWEEP = "storage.sweep_spools"
CLAIMS = "tasks.sweep_claims"
UPLOADS = "uploads.sweep_expired"
SIGNINS = "accounts.prune_signin_failures"
PRUNE_JOBS = "jobs.prune_finished"


def _every_setting(name: str) -> Callable[[dict], float | None]:
    """The interval a setting holds (0 or unset: the task is not scheduled)."""
    return lambda config: config.get(name) or None


def _prune_interval(config) -> float | None:
    # Once a day, where finished jobs are to be forgotten at all.
    return 86400 if config.get("FIELDAPP_JOBS_KEEP_DAYS") else None


def _anchor_interval(config) -> float | None:
    # Anchors only where a time-stamping authority is configured.
    if not config.get("FIELDAPP_TSA_URLS"):
        return None
    return config.get("FIELDAPP_ANCHOR_INTERVAL_S") or None


# Interval task -> its interval in seconds from the app's config (None: not scheduled).
INTERVALS: dict[str, Callable[[dict], float | None]] = {
    AUDIT: _every_setting("FIELDAPP_AUDIT_INTERVAL_S"),
    ANCHOR: _anchor_interval,
    CLAIMS: _every_setting("FIELDAPP_CLAIM_SWEEP_INTERVAL_S"),
    UPLOADS: _every_setting("FIELDAPP_UPLOAD_SWEEP_INTERVAL_S"),
    # Failed sign-ins count only within the throttling window: pruned once a window.
    SIGNINS: _every_setting("FIELDAPP_SIGNIN_WINDOW_S"),
    PRUNE_JOBS: _prune_interval,
}


@queue.task(name=FREEZE)
def freeze_dossier(freeze_id: str) -> None:
    """Build, sign and record the dossier a lawyer asked for (dossiers.service.run_freeze)."""
    from fieldapp.dossiers import service

    service.run_freeze(uuid.UUID(freeze_id))


@queue.task(name=AUDIT, queueing_lock=AUDIT)
def audit(failures: int = 0) -> None:
    """Walk the custody chain and re-hash every original; the audit is a custody event."""
    from fieldapp.custody import service

    def work():
        problems = service.audit(current_app.extensions["blob_store"])
        for problem in problems:
            log.error("custody audit: %s", problem)

    _every(AUDIT, failures, work)


@queue.task(name=ANCHOR, queueing_lock=ANCHOR)
def anchor_head(failures: int = 0) -> None:
    """Have the custody chain's head time-stamped by every configured TSA."""
    from fieldapp.anchors import service

    _every(ANCHOR, failures, service.anchor_head)


@queue.task(name=SWEEP, queueing_lock=SWEEP)
def sweep_spools() -> None:
    """Remove upload spools left behind by a process that was killed mid-upload."""
    from fieldapp.storage import blobs

    removed = blobs.sweep_stale_spools(current_app.config["FIELDAPP_DATA_DIR"])
    log.info("swept %d stale upload spool(s)", len(removed))


@queue.task(name=CLAIMS, queueing_lock=CLAIMS)
def sweep_claims(failures: int = 0) -> None:
    """Mark monitoring claims past their expiry expired, and warn those about to expire."""
    from fieldapp.tasks import service

    def work():
        expired, warned = service.sweep_claims()
        if expired or warned:
            log.info("claims: %d expired, %d warned", expired, warned)

    _every(CLAIMS, failures, work)


@queue.task(name=UPLOADS, queueing_lock=UPLOADS)
def sweep_uploads(failures: int = 0) -> None:
    """Remove resumable uploads no report used before they expired, and their bytes."""
    from fieldapp.uploads import service

    def work():
        removed = service.sweep_expired()
        if removed:
            log.info("uploads: %d expired upload(s) removed", removed)

    _every(UPLOADS, failures, work)


@queue.task(name=SIGNINS, queueing_lock=SIGNINS)
def prune_signin_failures(failures: int = 0) -> None:
    """Forget failed sign-ins that have left the throttling window."""
    from fieldapp.accounts import service

    _every(SIGNINS, failures, service.prune_signin_failures)


@queue.task(name=PRUNE_JOBS, queueing_lock=PRUNE_JOBS)
def prune_finished_jobs(failures: int = 0) -> None:
    """Forget jobs that succeeded more than FIELDAPP_JOBS_KEEP_DAYS ago (interval tasks
    alone leave thousands a day); failed jobs stay until someone has looked at them."""
    from fieldapp.jobs import queue as jobs_queue

    def work():
        removed = jobs_queue.prune_succeeded(current_app.config["FIELDAPP_JOBS_KEEP_DAYS"])
        db.session.commit()
        log.info("jobs: %d finished job(s) older than %d days forgotten", removed,
                 current_app.config["FIELDAPP_JOBS_KEEP_DAYS"])

    _every(PRUNE_JOBS, failures, work)


def _every(name: str, failures: int, work: Callable[[], object]) -> None:
    """Run an interval task's work, then queue its next run (sooner after a failure)."""
    interval = INTERVALS[name](current_app.config)
    try:
        work()
    except Exception:
        db.session.rollback()
        if interval:
            _queue_next(name, next_run_in(interval, failures + 1), failures + 1)
        raise
    if interval:
        _queue_next(name, next_run_in(interval, 0), 0)


def _queue_next(name: str, delay_s: float, failures: int) -> None:
    defer(name, schedule_in_s=delay_s, queueing_lock=name, failures=failures)
    db.session.commit()


def seed_schedules() -> list[str]:
    """Queue a first run of each scheduled interval task that has none waiting; their names."""
    seeded = [name for name, interval in INTERVALS.items()
              if interval(current_app.config) and defer(name, queueing_lock=name) is not None]
    defer(SWEEP, queueing_lock=SWEEP)
    db.session.commit()
    return seeded
