"""The job queue: one procrastinate App, and deferring inside the caller's transaction.

A job is deferred with procrastinate's own SQL through the connection of the app's
SQLAlchemy session, so it commits (and its NOTIFY wakes a worker) together with the row it
concerns, or not at all: a freeze request never leaves a job without its freeze, nor a
freeze without its job. No second connection and no outbox table are needed.
"""
from __future__ import annotations

import procrastinate
from procrastinate import exceptions, sql
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from procrastinate.jobs import JobDeferrer
from procrastinate.manager import JobManager

from fieldapp.extensions import db

# The worker replaces this connector with an asyncio one (worker.py); the tasks are found
# by name in fieldapp.jobs.tasks.
queue = procrastinate.App(connector=SQLAlchemyPsycopg2Connector(),
                          import_paths=["fieldapp.jobs.tasks"])
# Deferring always goes through the session's connection, in the worker too (a job that
# queues its next run), whatever connector the App has there.
_through_session = JobManager(SQLAlchemyPsycopg2Connector())


def defer(task_name: str, *, schedule_in_s: float | None = None,
          queueing_lock: str | None = None, **task_kwargs) -> int | None:
    """Queue a job in the session's transaction (inserted, not committed); its id.

    Under a queueing lock (given here, or the task's own), a job already waiting under that
    lock is left as it is and None is returned; the caller's transaction stays usable (a
    savepoint takes the refusal).
    """
    options = {}
    if schedule_in_s is not None:
        options["schedule_in"] = {"seconds": schedule_in_s}
    if queueing_lock is not None:
        options["queueing_lock"] = queueing_lock
    job = queue.configure_task(task_name, allow_unknown=False, **options).job
    job = job.evolve(task_kwargs=task_kwargs)
    if job.queueing_lock is None:
        return _defer(job)
    try:
        with db.session.begin_nested():
            return _defer(job)
    except exceptions.AlreadyEnqueued:
        return None


def _defer(job) -> int:
    return JobDeferrer(_through_session, job, connection=db.session.connection()).defer()


def prune_succeeded(keep_days: int) -> int:
    """Delete, in the session's transaction, the jobs that succeeded more than keep_days
    ago, with their events (procrastinate's own query); how many."""
    result = db.session.connection().exec_driver_sql(
        sql.queries["delete_old_jobs"],
        {"nb_hours": keep_days * 24, "queue": None, "statuses": ["succeeded"]})
    return result.rowcount
