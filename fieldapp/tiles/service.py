"""Mapbox Vector Tiles built by PostGIS (ST_AsMVT), one query per tile and layer.

Layers: `sites` (with risk), `reports` (points from zoom 15, counts per hexagon below),
`hexbins` (hexagons with counts) and `public` (cells of ~1 km² or more where k distinct
volunteers have verified evidence, reports in bands, as captured a day before). Aggregates
read the counts kept at ingest, never every report.
"""
from __future__ import annotations

import json

from flask import current_app
from sqlalchemy import text

from fieldapp.errors import field_error
from fieldapp.extensions import db
from fieldapp.hotspots import cells
from fieldapp.hotspots.publication import shown_snapshot
from fieldapp.hotspots.risk import risk_of
from fieldapp.hotspots.service import check_window, count_source, public_bands

LAYERS = ("sites", "reports", "hexbins", "public")
POINT_ZOOM = 15
EXTENT, BUFFER = 4096, 64

_BOUNDS = """
    bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env,
                      ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326) AS env4326)
"""

_SITES = f"""
    WITH {_BOUNDS}, risk AS (
        SELECT * FROM json_to_recordset(CAST(:risk AS json)) AS r(id uuid, score float8)
    ), features AS (
        SELECT ST_AsMVTGeom(ST_Transform(s.geom, 3857), bounds.env, {EXTENT}, {BUFFER}, true)
                   AS geom,
               s.id::text AS id, s.name, s.status, coalesce(risk.score, 0) AS risk
        FROM sites s CROSS JOIN bounds LEFT JOIN risk ON risk.id = s.id
        WHERE s.geom && bounds.env4326
    )
    SELECT ST_AsMVT(features.*, 'sites', {EXTENT}, 'geom') FROM features
"""

_SITES_IN_TILE = f"""
    WITH {_BOUNDS} SELECT s.id FROM sites s, bounds WHERE s.geom && bounds.env4326
"""

# Points within one screen pixel of each other (16 of the tile's 4096 units on a 256 px tile) are
# drawn as one: the newest report stands for them, with `count`. Dense clusters of thousands
# of reports then stay small tiles, and nothing visible is lost.
SNAP = 16
_REPORT_POINTS = f"""
    WITH {_BOUNDS}, points AS (
        SELECT ST_SnapToGrid(ST_AsMVTGeom(ST_Transform(r.location, 3857), bounds.env,
                                          {EXTENT}, {BUFFER}, true), {SNAP}) AS geom,
               r.id, r.category, r.verdict, r.verified, r.observed_at
        FROM reports r, bounds
        WHERE r.location && bounds.env4326 {{filters}}
    ), features AS (
        SELECT DISTINCT ON (geom) geom, id::text AS id, category, verdict, verified,
               to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS observed_on,
               count(*) OVER (PARTITION BY geom) AS count
        FROM points WHERE geom IS NOT NULL
        ORDER BY geom, observed_at DESC
    )
    SELECT ST_AsMVT(features.*, 'reports', {EXTENT}, 'geom') FROM features
"""

_HEX = f"""
    WITH {_BOUNDS}, counted AS (
        SELECT h.cell, sum(h.reports)::int AS count
        FROM {{source}} h JOIN h3_cells c ON c.cell = h.cell, bounds
        WHERE h.res = :res AND c.res = :res AND h.reports > 0
          AND c.boundary && bounds.env4326 {{filters}}
        GROUP BY h.cell
    ), features AS (
        SELECT ST_AsMVTGeom(ST_Transform(c.{{shape}}, 3857), bounds.env, {EXTENT}, {BUFFER},
                            true) AS geom,
               to_hex(counted.cell) AS cell, counted.count
        FROM counted JOIN h3_cells c ON c.cell = counted.cell, bounds
    )
    SELECT ST_AsMVT(features.*, :layer, {EXTENT}, 'geom') FROM features
"""

_PUBLIC = f"""
    WITH {_BOUNDS}, shown AS (
        SELECT p.cell, width_bucket(p.reports, CAST(:edges AS int[])) AS band
        FROM public_snapshot_cells p JOIN h3_cells c ON c.cell = p.cell, bounds
        WHERE p.snapshot_id = :snapshot AND p.res = :res AND c.res = :res
          AND p.volunteers >= :min_volunteers
          AND c.boundary && bounds.env4326
    ), features AS (
        SELECT ST_AsMVTGeom(ST_Transform(c.boundary, 3857), bounds.env, {EXTENT}, {BUFFER},
                            true) AS geom,
               to_hex(shown.cell) AS cell, shown.band,
               (CAST(:labels AS text[]))[shown.band] AS reports
        FROM shown JOIN h3_cells c ON c.cell = shown.cell, bounds
    )
    SELECT ST_AsMVT(features.*, 'public', {EXTENT}, 'geom') FROM features
"""


def tile(layer: str, z: int, x: int, y: int, args: dict) -> bytes:
    """The tile's bytes (empty bytes when nothing is in it)."""
    _check_tile(z, x, y, cells.PUBLIC_MAX_ZOOM if layer == "public" else 22)
    xyz = {"z": z, "x": x, "y": y}
    if layer == "sites":
        return _sites(xyz)
    if layer == "public":
        k = current_app.config["FIELDAPP_PUBLIC_MIN_COUNT"]
        return _scalar(_PUBLIC, {**xyz, **public_bands(k), "min_volunteers": k,
                                 "res": cells.public_resolution_for_zoom(z),
                                 "snapshot": shown_snapshot()})
    check_window(args)
    if layer == "reports" and z >= POINT_ZOOM:
        filters, params = _report_filters(args)
        return _scalar(_REPORT_POINTS.format(filters=filters), {**xyz, **params})
    shape = "center" if layer == "reports" else "boundary"
    return _hex(layer, shape, xyz, args)


def _check_tile(z: int, x: int, y: int, max_zoom: int) -> None:
    if not 0 <= z <= max_zoom:
        raise field_error("z", f"zoom must be 0 to {max_zoom}")
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < 2 ** z:
            raise field_error(name, f"must be 0 to {2 ** z - 1} at zoom {z}")


def _sites(xyz: dict) -> bytes:
    ids = db.session.scalars(text(_SITES_IN_TILE), xyz).all()
    risk = [{"id": str(site_id), "score": r["score"]} for site_id, r in risk_of(ids).items()]
    return _scalar(_SITES, {**xyz, "risk": json.dumps(risk)})


def _hex(layer, shape, xyz, args) -> bytes:
    source, filters, params = count_source(args, verified_only=False)
    sql = _HEX.format(source=source, filters=filters, shape=shape)
    return _scalar(sql, {**xyz, **params, "layer": layer,
                         "res": cells.resolution_for_zoom(xyz["z"])})


def _report_filters(args: dict) -> tuple[str, dict]:
    clauses, params = [], {}
    for name, clause in (("from", "r.observed_at >= :start"), ("to", "r.observed_at <= :end"),
                         ("category", "r.category = :category")):
        if args.get(name):
            clauses.append(clause)
            params[{"from": "start", "to": "end"}.get(name, name)] = args[name]
    return "".join(f" AND {c}" for c in clauses), params


def _scalar(sql: str, params: dict) -> bytes:
    data = db.session.execute(text(sql), params).scalar()
    return bytes(data) if data else b""
