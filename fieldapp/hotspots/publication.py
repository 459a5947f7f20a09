"""Which capture of the public layer is shown: public_cells is captured once a UTC day, by
the first public request of the day, and a capture is shown only delay_days days after its
day (cells.shown_before), so that nobody polling the map learns when a volunteer was there.
A capture holds the finest public cells with enough people and their H3 ancestors, made of
those cells alone (cells.public_family).
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from fieldapp.extensions import db
from fieldapp.hotspots import cells
from fieldapp.hotspots.indexing import add_missing_cells

_NEWEST = text("SELECT max(taken_at) FROM public_snapshots")
# One capture at a time: two workers answering the day's first requests must not both take one.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('fieldapp.public_snapshot', 0))")
# What a capture is made of: the finest public cells with enough people, nothing else.
_FINEST_SHOWN = text("""
    SELECT cell FROM public_cells WHERE res = :res AND volunteers >= :min_volunteers
""")
_NEW_SNAPSHOT = text("INSERT INTO public_snapshots (taken_at) VALUES (:now) RETURNING id")
# Each shown cell counts in itself and in its H3 ancestors: distinct volunteers and verified
# reports over the shown cells each one holds.
_CAPTURE = text("""
    INSERT INTO public_snapshot_cells (snapshot_id, res, cell, volunteers, reports)
    SELECT :snapshot, f.res, f.cell, count(DISTINCT v.volunteer_id), sum(v.reports)
    FROM unnest(CAST(:finest AS bigint[]), CAST(:res AS smallint[]), CAST(:cells AS bigint[]))
         AS f(finest, res, cell)
    JOIN cell_volunteers v ON v.res = :finest_res AND v.cell = f.finest AND v.reports > 0
    GROUP BY f.res, f.cell
""")
_SHOWN = text("""
    SELECT id FROM public_snapshots WHERE taken_at < :before ORDER BY taken_at DESC LIMIT 1
""")
# Captures older than the one shown will never be shown again (their cells go with them).
_PRUNE = text("""
    DELETE FROM public_snapshots WHERE taken_at < (
        SELECT max(taken_at) FROM public_snapshots WHERE taken_at < :before)
""")


def shown_snapshot(now: datetime | None = None) -> int | None:
    """The id of the capture the public layer shows now (None: none old enough yet), taking
    today's capture first if none has been taken (committed at once)."""
    now = now or datetime.now(UTC)
    before = cells.shown_before(now, current_app.config["FIELDAPP_PUBLIC_DELAY_DAYS"])
    if cells.capture_due(now, db.session.scalar(_NEWEST)):
        db.session.execute(_LOCK)
        if cells.capture_due(now, db.session.scalar(_NEWEST)):  # nobody took it meanwhile
            _capture(now, current_app.config["FIELDAPP_PUBLIC_MIN_COUNT"])
            db.session.execute(_PRUNE, {"before": before})
        db.session.commit()
    return db.session.scalar(_SHOWN, {"before": before})


def _capture(now: datetime, min_volunteers: int) -> None:
    finest = db.session.scalars(_FINEST_SHOWN, {
        "res": cells.PUBLIC_FINEST, "min_volunteers": min_volunteers}).all()
    family = [(cell, res, ancestor) for cell in finest
              for res, ancestor in cells.public_family(cell).items()]
    add_missing_cells((res, ancestor) for _, res, ancestor in family)
    snapshot = db.session.scalar(_NEW_SNAPSHOT, {"now": now})
    db.session.execute(_CAPTURE, {
        "snapshot": snapshot, "finest_res": cells.PUBLIC_FINEST,
        "finest": [f for f, _, _ in family], "res": [r for _, r, _ in family],
        "cells": [c for _, _, c in family]})
