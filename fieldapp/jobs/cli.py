"""`fieldapp jobs ...`: run the background job worker, see what the queue holds."""
from __future__ import annotations

import logging
import os

import click
from flask import current_app
from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="Background jobs (procrastinate, in PostgreSQL).")


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then stop.")
@click.option("--concurrency", type=click.IntRange(1, 32), default=None,
              help="Jobs at once (default FIELDAPP_JOB_CONCURRENCY).")
def work(once, concurrency):
    """Run queued jobs (freezes, audits, anchors, sweeps) until SIGTERM or SIGINT."""
    from fieldapp.jobs import worker

    logging.basicConfig(level=logging.INFO, format="[jobs] %(levelname)s %(name)s %(message)s")
    niceness = current_app.config.get("FIELDAPP_JOB_NICE", 0)
    if niceness:
        # Background work yields the CPU to intake; its database transactions are short
        # (the custody chain's lock is held for milliseconds), so a lower priority delays
        # them a little but never stalls anyone behind them.
        os.nice(niceness)
    worker.run(current_app._get_current_object(), forever=not once, concurrency=concurrency)


@jobs_cli.command("list")
@click.option("--status", type=click.Choice(["todo", "doing", "succeeded", "failed",
                                             "cancelled", "aborted"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50)
def list_jobs(status, limit):
    """The newest jobs: id, task, status, attempts, when scheduled, arguments."""
    from sqlalchemy import text

    from fieldapp.extensions import db

    rows = db.session.execute(text(
        "SELECT id, task_name, status, attempts, scheduled_at, args FROM procrastinate_jobs "
        "WHERE CAST(:status AS text) IS NULL OR status::text = :status "
        "ORDER BY id DESC LIMIT :limit"), {"status": status, "limit": limit})
    for row in rows:
        when = row.scheduled_at.isoformat() if row.scheduled_at else "-"
        click.echo(f"{row.id}\t{row.task_name}\t{row.status}\t{row.attempts}\t{when}\t"
                   f"{row.args}")
