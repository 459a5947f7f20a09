"""Keeping the hotspot tables in step with reports, inside the caller's transaction.

Every report adds one to its cell's count at each resolution, for its UTC day, category
and verified flag; when a review or recheck changes the flag, the count moves. A verified
report also counts for its volunteer in the public layer's cells, so the number of distinct
volunteers per cell is kept as it changes rather than found by reading every report. Site
risk is recomputed for the sites a change touches.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, text

from fieldapp.cases.models import Case
from fieldapp.extensions import db
from fieldapp.geo.geometry import lon_lat
from fieldapp.hotspots import cells, scoring
from fieldapp.hotspots.models import SiteRisk
from fieldapp.reports.models import Photo, Report

_ADD_CELL = text("""
    INSERT INTO h3_cells (cell, res, center, boundary)
    VALUES (:cell, :res, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
            ST_GeomFromText(:ring, 4326))
    ON CONFLICT (cell) DO NOTHING
""")
# The report's cells at several resolutions, given as two parallel arrays.
_CELLS = """
    WITH cells AS (SELECT * FROM unnest(CAST(:res AS smallint[]), CAST(:cells AS bigint[]))
                                 AS c(res, cell))"""
# One statement per report for all resolutions: per-day rows, and all-time totals.
_ADD_ONE = text(_CELLS + """,
    daily AS (
        INSERT INTO hex_counts (res, cell, day, category, verified, reports)
        SELECT res, cell, :day, :category, :verified, 1 FROM cells
        ON CONFLICT (res, cell, day, category, verified)
        DO UPDATE SET reports = hex_counts.reports + 1
    )
    INSERT INTO hex_totals (res, cell, category, verified, reports)
    SELECT res, cell, :category, :verified, 1 FROM cells
    ON CONFLICT (res, cell, category, verified) DO UPDATE SET reports = hex_totals.reports + 1
""")
# Plain UPDATEs: PostgreSQL checks an INSERT's row (reports >= 0) before ON CONFLICT.
_REMOVE_ONE = text(_CELLS + """,
    daily AS (
        UPDATE hex_counts h SET reports = h.reports - 1 FROM cells
        WHERE h.res = cells.res AND h.cell = cells.cell AND h.day = :day
          AND h.category = :category AND h.verified = :verified
    )
    UPDATE hex_totals t SET reports = t.reports - 1 FROM cells
    WHERE t.res = cells.res AND t.cell = cells.cell AND t.category = :category
      AND t.verified = :verified
""")
# Distinct volunteers: a volunteer's first verified report in a cell adds one volunteer, the
# removal of their last takes one away. The row lock of the volunteer's own row orders
# concurrent changes, so the count stays exact.
_ADD_PUBLIC = text(_CELLS + """,
    mine AS (
        INSERT INTO cell_volunteers (res, cell, volunteer_id, reports)
        SELECT res, cell, :volunteer, 1 FROM cells
        ON CONFLICT (res, cell, volunteer_id)
        DO UPDATE SET reports = cell_volunteers.reports + 1
        RETURNING res, cell, reports
    )
    INSERT INTO public_cells (res, cell, volunteers, reports)
    SELECT res, cell, CAST(reports = 1 AS int), 1 FROM mine
    ON CONFLICT (res, cell) DO UPDATE
    SET volunteers = public_cells.volunteers + EXCLUDED.volunteers,
        reports = public_cells.reports + 1
""")
_REMOVE_PUBLIC = text(_CELLS + """,
    mine AS (
        UPDATE cell_volunteers v SET reports = v.reports - 1 FROM cells
        WHERE v.res = cells.res AND v.cell = cells.cell AND v.volunteer_id = :volunteer
        RETURNING v.res, v.cell, v.reports
    )
    UPDATE public_cells p
    SET volunteers = p.volunteers - CAST(mine.reports = 0 AS int), reports = p.reports - 1
    FROM mine WHERE p.res = mine.res AND p.cell = mine.cell
""")


def risk_params() -> scoring.RiskParams:
    return scoring.RiskParams.from_mapping(current_app.config["FIELDAPP_RISK_SETTINGS"])


def index_new_report(report: Report, lon: float, lat: float) -> None:
    """Give a new report (at WGS-84 lon, lat) its H3 cell and count it."""
    by_res = cells.cells_for(lon, lat)
    report.h3_cell = by_res[cells.FINEST]
    add_missing_cells(by_res.items())
    _lock_cells(by_res)
    _count(report, by_res, report.verified, +1)


# Each cell's transaction-scoped advisory lock, taken in ascending order of cell id before
# any of its count rows is touched. A statement locks the rows it changes in whatever order
# its plan reads them, and a review that flips a report from unverified to verified touches
# the rows of both states while one that flips another report back touches them the other
# way round: without a common order, two writers at one place deadlock. (H3 ids are above
# 2**59: they never meet the custody chain's or the audit's small keys.)
_LOCK_CELLS = text("""
    SELECT count(pg_advisory_xact_lock(cell))
    FROM (SELECT DISTINCT cell FROM unnest(CAST(:cells AS bigint[])) AS c(cell)
          ORDER BY cell) AS ordered
""")


def _lock_cells(by_res: dict[int, int]) -> None:
    db.session.execute(_LOCK_CELLS, {"cells": list(by_res.values())})


# How many cells an app remembers as stored before it starts remembering afresh.
_KNOWN_CELLS_MAX = 200_000


def _known_cells() -> set[int]:
    """Cells of this app's database whose shapes are known to be stored (committed: seen by
    a query). Shapes are never removed, so remembering them saves a lookup per report."""
    return current_app.extensions.setdefault("fieldapp.known_h3_cells", set())


def add_missing_cells(cells_by_res: Iterable[tuple[int, int]]) -> None:
    """Store the shapes of (res, cell) no report has fallen in before (most already are)."""
    remembered = _known_cells()
    wanted = {cell: res for res, cell in cells_by_res if cell not in remembered}
    if not wanted:
        return
    known = set(db.session.scalars(text("SELECT cell FROM h3_cells WHERE cell = ANY(:cells)"),
                                   {"cells": list(wanted)}))
    if len(remembered) + len(known) > _KNOWN_CELLS_MAX:
        remembered.clear()
    remembered.update(known)
    missing = [_cell_row(res, cell) for cell, res in wanted.items() if cell not in known]
    if missing:
        db.session.execute(_ADD_CELL, missing)


def _cell_row(res: int, cell: int) -> dict:
    (lon, lat), ring = cells.cell_shape(cell)
    wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
    return {"cell": cell, "res": res, "lon": lon, "lat": lat, "ring": wkt}


def _count(report: Report, by_res: dict[int, int], verified: bool, delta: int) -> None:
    db.session.execute(_ADD_ONE if delta > 0 else _REMOVE_ONE, {
        "res": list(by_res), "cells": list(by_res.values()),
        "day": report.observed_at.astimezone(UTC).date(), "category": report.category,
        "verified": verified})
    if verified:
        # The public layer is captured from its finest cells alone (coarser ones are made of
        # those: hotspots.publication), so only they are counted.
        db.session.execute(_ADD_PUBLIC if delta > 0 else _REMOVE_PUBLIC, {
            "res": [cells.PUBLIC_FINEST], "cells": [by_res[cells.PUBLIC_FINEST]],
            "volunteer": report.volunteer_id})


def refresh_verified(report: Report, pending_decisions: dict | None = None) -> None:
    """Recompute photo and report verified flags; move the report's counts if it changed.

    pending_decisions (photo id -> decision) stand for reviews not yet written: a review
    moves the counts before it takes the custody chain's lock, as a submission does.
    """
    pending_decisions = pending_decisions or {}
    for photo in report.photos:
        latest = pending_decisions.get(photo.id) or (
            photo.reviews[-1].decision if photo.reviews else None)
        photo.verified = scoring.photo_is_verified(photo.verdict, latest,
                                                   analysed=photo.analysed_at is not None)
    now_verified = any(photo.verified for photo in report.photos)
    if report.h3_cell is not None and now_verified != report.verified:
        by_res = cells.cells_for(*lon_lat(report.location))
        _lock_cells(by_res)
        _count(report, by_res, report.verified, -1)
        _count(report, by_res, now_verified, +1)
    report.verified = now_verified


def add_verified_photo_to_site_risk(report: Report, photo: Photo) -> None:
    """Count a photo that has just become verified in its site's risk, without re-reading
    the site's older evidence."""
    if report.site_id is None:
        return
    row = db.session.get(SiteRisk, report.site_id, with_for_update=True)
    if row is None:
        refresh_site_risk(report.site_id)
        return
    now = datetime.now(UTC)
    evidence = [scoring.Evidence(report.category, report.observed_at, str(report.volunteer_id))]
    row.components = scoring.with_more_evidence(
        row.components, row.computed_at, evidence, int(_first_at_site(report, photo)), now,
        risk_params())
    row.computed_at = now


def _first_at_site(report: Report, photo: Photo) -> bool:
    """Is this photo the volunteer's first verified evidence at the report's site?"""
    return not db.session.scalar(
        select(Photo.id).join(Report, Photo.report_id == Report.id)
        .where(Report.site_id == report.site_id, Report.volunteer_id == report.volunteer_id,
               Photo.id != photo.id, Photo.verified).limit(1))


def refresh_site_risk(site_id: uuid.UUID | None, now: datetime | None = None) -> None:
    """Store the risk components of one site as of now (nothing for None)."""
    if site_id is None:
        return
    now = now or datetime.now(UTC)
    evidence = [scoring.Evidence(category, observed_at, str(volunteer))
                for category, observed_at, volunteer in db.session.execute(
                    select(Report.category, Report.observed_at, Report.volunteer_id)
                    .join(Photo, Photo.report_id == Report.id)
                    .where(Report.site_id == site_id, Photo.verified))]
    components = scoring.evidence_components(evidence, now, risk_params())
    open_cases = db.session.scalar(
        select(db.func.count()).select_from(Case).where(
            Case.site_id == site_id, Case.legal_status.in_(scoring.OPEN_LEGAL_STATUSES)))
    row = db.session.get(SiteRisk, site_id) or SiteRisk(site_id=site_id)
    row.components, row.open_cases, row.computed_at = components, open_cases, now
    db.session.add(row)
