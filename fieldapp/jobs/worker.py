"""Running the job worker: `fieldapp jobs work` (until SIGTERM), or once until the queue is
empty (tests, and anyone who wants to drain the queue by hand).

procrastinate's worker is asyncio on psycopg 3; the tasks are plain functions that it runs
on threads, each inside the Flask app's context (so they use the app's SQLAlchemy session
and settings exactly as a request does) and `concurrency` of them at a time, so a freeze of
several minutes does not hold up the next anchor.
"""
from __future__ import annotations

import asyncio
import logging

import procrastinate
from flask import Flask
from procrastinate.jobs import Status

from fieldapp.extensions import db
from fieldapp.jobs import tasks
from fieldapp.jobs.queue import queue

log = logging.getLogger(__name__)

# Jobs whose worker died (no heartbeat for this long) are picked up again at start.
STALLED_AFTER_S = 60.0


def in_app_context(call_next, context, worker):
    """procrastinate task middleware: the task body runs inside the Flask app's context,
    whose teardown returns the session's connection to the pool."""
    with context.additional_context["flask_app"].app_context():
        return call_next()


def run(flask_app: Flask, *, forever: bool = True, concurrency: int | None = None) -> None:
    """Run jobs: forever (until SIGTERM or SIGINT), or until none is due (forever=False)."""
    with flask_app.app_context():
        conninfo = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
    concurrency = concurrency or flask_app.config.get("FIELDAPP_JOB_CONCURRENCY", 2)
    connector = procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1,
                                               max_size=concurrency + 2)
    with queue.replace_connector(connector):
        asyncio.run(_work(flask_app, forever, concurrency))


async def _work(flask_app: Flask, forever: bool, concurrency: int) -> None:
    async with queue.open_async():
        await _pick_up_stalled()
        if forever:
            with flask_app.app_context():
                seeded = tasks.seed_schedules()
            log.info("scheduled: %s", ", ".join(seeded) or "nothing new")
        await queue.run_worker_async(
            wait=forever, concurrency=concurrency, install_signal_handlers=forever,
            listen_notify=forever, delete_jobs="never", update_heartbeat_interval=10,
            stalled_worker_timeout=STALLED_AFTER_S, task_middleware=[in_app_context],
            additional_context={"flask_app": flask_app})


async def _pick_up_stalled() -> None:
    """Jobs left 'doing' by a worker that died: freezes are run again (they are idempotent
    and a case's next freeze waits for them); an interval run is closed as failed, since
    the seed that follows starts its chain again."""
    manager = queue.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_S):
        if job.task_name == tasks.FREEZE:
            log.warning("freeze job %s was left unfinished; running it again", job.id)
            await manager.retry_job(job)
        else:
            await manager.finish_job(job, status=Status.FAILED,
                                     delete_job=False)
