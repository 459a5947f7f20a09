"""Which capture of the public layer is shown: public_cells is copied once a UTC day, by the
first public request of the day, and a capture is shown only delay_days days after its day
(cells.shown_before), so that nobody polling the map learns when a volunteer was there.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from fieldapp.extensions import db
from fieldapp.hotspots import cells

_NEWEST = text("SELECT max(taken_at) FROM public_snapshots")
# One capture at a time: two workers answering the day's first requests must not both take one.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('fieldapp.public_snapshot', 0))")
# Only cells with enough people are kept: the rest could never be shown from this capture.
_CAPTURE = text("""
    WITH snapshot AS (INSERT INTO public_snapshots (taken_at) VALUES (:now) RETURNING id)
    INSERT INTO public_snapshot_cells (snapshot_id, res, cell, volunteers, reports)
    SELECT snapshot.id, p.res, p.cell, p.volunteers, p.reports
    FROM public_cells p, snapshot WHERE p.volunteers >= :min_volunteers
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
            db.session.execute(_CAPTURE, {
                "now": now, "min_volunteers": current_app.config["FIELDAPP_PUBLIC_MIN_COUNT"]})
            db.session.execute(_PRUNE, {"before": before})
        db.session.commit()
    return db.session.scalar(_SHOWN, {"before": before})
