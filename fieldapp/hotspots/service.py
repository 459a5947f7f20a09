"""Hotspot queries: hex-bin counts, and clusters of reports at no known site that a
coordinator may promote to a site. Site risk is read in hotspots.risk."""
from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from fieldapp.errors import Conflict, field_error
from fieldapp.extensions import db
from fieldapp.hotspots import cells
from fieldapp.hotspots.indexing import refresh_site_risk
from fieldapp.hotspots.publication import shown_snapshot
from fieldapp.sites.linking import link_reports_to_site
from fieldapp.sites.models import Site
from fieldapp.sites.service import create_site_in_session

# --- hex bins ------------------------------------------------------------------------------

# The FeatureCollection is assembled by PostgreSQL: for thousands of hexagons that is several
# times faster than building and serialising Python dicts. 6 decimals ≈ 0.1 m.
_HEXBINS = """
    WITH counted AS (
        SELECT h.cell, sum(h.reports)::int AS n
        FROM {source} h JOIN h3_cells c ON c.cell = h.cell
        WHERE h.res = :res AND h.reports > 0 AND c.res = :res
          AND c.boundary && ST_MakeEnvelope(:minlon, :minlat, :maxlon, :maxlat, 4326)
          {filters}
        GROUP BY h.cell
    )
    SELECT json_build_object(
        'type', 'FeatureCollection', 'resolution', :res,
        'features', coalesce(json_agg(json_build_object(
            'type', 'Feature', 'id', counted.cell::text,
            'geometry', ST_AsGeoJSON(c.boundary, 6)::json,
            'properties', json_build_object('cell', to_hex(counted.cell), 'resolution', :res,
                                            'count', counted.n))
        ORDER BY counted.cell), '[]'::json))::text
    FROM counted JOIN h3_cells c ON c.cell = counted.cell
"""


def hexbins(args: dict) -> str:
    """Report counts per H3 cell (resolution from zoom): a GeoJSON FeatureCollection, as text."""
    res = cells.resolution_for_zoom(args["zoom"])
    check_area(args["bbox"], res)
    check_window(args)
    source, filters, params = count_source(args, verified_only=False)
    return db.session.scalar(text(_HEXBINS.format(source=source, filters=filters)), {
        **params, **_box(args["bbox"]), "res": res})


# The public layer reads one row per cell, from the capture of public_cells (kept at ingest
# and review) it shows today (hotspots.publication): a cell shows only when enough distinct
# volunteers have verified evidence in it, and its reports only as the band they fall in.
_PUBLIC_HEXBINS = """
    WITH shown AS (
        SELECT p.cell, width_bucket(p.reports, CAST(:edges AS int[])) AS band
        FROM public_snapshot_cells p JOIN h3_cells c ON c.cell = p.cell
        WHERE p.snapshot_id = :snapshot AND p.res = :res AND c.res = :res
          AND p.volunteers >= :min_volunteers
          AND c.boundary && ST_MakeEnvelope(:minlon, :minlat, :maxlon, :maxlat, 4326)
    )
    SELECT json_build_object(
        'type', 'FeatureCollection', 'resolution', :res, 'min_volunteers', :min_volunteers,
        'features', coalesce(json_agg(json_build_object(
            'type', 'Feature', 'id', to_hex(shown.cell),
            'geometry', ST_AsGeoJSON(c.boundary, 6)::json,
            'properties', json_build_object(
                'cell', to_hex(shown.cell), 'resolution', :res, 'band', shown.band,
                'reports', (CAST(:labels AS text[]))[shown.band]))
        ORDER BY shown.cell), '[]'::json))::text
    FROM shown JOIN h3_cells c ON c.cell = shown.cell
"""


def public_hexbins(bbox, zoom: int, min_volunteers: int) -> str:
    """The public layer as a GeoJSON FeatureCollection (text): cells of at least ~1 km² with
    verified evidence from at least `min_volunteers` people, reports stated in bands."""
    res = cells.public_resolution_for_zoom(zoom)
    check_area(bbox, res)
    return db.session.scalar(text(_PUBLIC_HEXBINS), {
        **_box(bbox), **public_bands(min_volunteers), "res": res,
        "min_volunteers": min_volunteers, "snapshot": shown_snapshot()})


def public_bands(min_volunteers: int) -> dict:
    """Query parameters for width_bucket: band edges and their labels."""
    edges = cells.count_bands(min_volunteers)
    return {"edges": edges, "labels": cells.band_labels(edges)}


def _box(bbox) -> dict:
    minlon, minlat, maxlon, maxlat = bbox
    return {"minlon": minlon, "minlat": minlat, "maxlon": maxlon, "maxlat": maxlat}


def check_area(bbox, res: int) -> None:
    """Refuse (422 naming bbox) an area holding more cells than one answer may carry."""
    limit = current_app.config["FIELDAPP_HEXBIN_MAX_CELLS"]
    if cells.cells_in_bbox(bbox, res) > limit:
        raise field_error("bbox", f"too large for this zoom: it spans about "
                                  f"{cells.cells_in_bbox(bbox, res)} hexagons at resolution "
                                  f"{res}, at most {limit} are sent at once; zoom out or "
                                  f"ask for a smaller box")


def check_window(args: dict) -> None:
    """Refuse (422 naming the field) a time window longer than FIELDAPP_WINDOW_MAX_DAYS: it
    reads one row per cell and day. Without from and to, all-time totals are read instead."""
    start, end = args.get("from"), args.get("to")
    if start is None and end is None:
        return
    limit = current_app.config["FIELDAPP_WINDOW_MAX_DAYS"]
    if start is None:
        raise field_error("from", f"a window with 'to' needs 'from' too (at most {limit} "
                                  f"days); leave both out for all-time counts")
    if ((end or datetime.now(UTC)) - start).days > limit:
        raise field_error("from", f"the window may span at most {limit} days; leave 'from' "
                                  f"and 'to' out for all-time counts")


def count_source(args: dict, verified_only: bool) -> tuple[str, str, dict]:
    """(table, extra WHERE clauses, parameters) for counts: all-time totals unless a time
    window is asked for, then per-day counts (days in UTC)."""
    source = "hex_counts" if args.get("from") or args.get("to") else "hex_totals"
    clauses, params = [], {}
    if args.get("from"):
        clauses.append("h.day >= :day_from")
        params["day_from"] = args["from"].astimezone(UTC).date()
    if args.get("to"):
        clauses.append("h.day <= :day_to")
        params["day_to"] = args["to"].astimezone(UTC).date()
    if args.get("category"):
        clauses.append("h.category = :category")
        params["category"] = args["category"]
    if verified_only or args.get("verified"):
        clauses.append("h.verified")
    return source, "".join(f" AND {c}" for c in clauses), params


# --- candidates: clusters of reports linked to no site ---------------------------------------

# ST_ClusterDBSCAN works in the units of its input, so points are clustered in metres in the
# Asia North Equidistant Conic (ESRI:102026, shipped with PostGIS; a registered SRID, so its
# transformation is cached, unlike a PROJ string). North-south distances are exact; east-west
# ones read up to about 10% short between 30°N and 50°N (3% at 20°N), so a cluster may reach
# that much further east-west than distance_m.
ASIA_NORTH_EQUIDISTANT = 102026
_CLUSTERS = """
    WITH unlinked AS (
        SELECT id, location, observed_at, category,
               ST_Transform(location, :srid) AS local
        FROM reports
        WHERE site_id IS NULL {window}
    ), clustered AS (
        SELECT *, ST_ClusterDBSCAN(local, eps := :eps, minpoints := :min_size) OVER () AS cid
        FROM unlinked
    )
    SELECT array_agg(id ORDER BY id) AS report_ids, count(*) AS n,
           ST_AsGeoJSON(ST_Centroid(ST_Collect(location)), 7)::json AS centroid,
           ST_AsGeoJSON(ST_Envelope(ST_Collect(location)), 7)::json AS extent,
           ST_AsGeoJSON(ST_ConvexHull(ST_Collect(location)), 7)::json AS hull,
           min(observed_at) AS first_observed, max(observed_at) AS last_observed,
           array_agg(DISTINCT category) AS categories
    FROM clustered WHERE cid IS NOT NULL
    GROUP BY cid ORDER BY count(*) DESC, min(observed_at)
"""


# Counting stops one past the cap: what it costs is bounded by the cap, not by the table.
_UNLINKED_UP_TO = """
    SELECT count(*) FROM (SELECT 1 FROM reports WHERE site_id IS NULL {window} LIMIT :cap)
    AS capped
"""


def candidates(args: dict) -> list[dict]:
    window = ""
    params = {"eps": args["distance_m"], "min_size": args["min_size"],
              "srid": ASIA_NORTH_EQUIDISTANT}
    if args.get("from"):
        window += " AND observed_at >= :start"
        params["start"] = args["from"]
    if args.get("to"):
        window += " AND observed_at <= :end"
        params["end"] = args["to"]
    _check_cluster_input(window, params)
    rows = db.session.execute(text(_CLUSTERS.format(window=window)), params)
    return [_candidate(row) for row in rows]


def _check_cluster_input(window: str, params: dict) -> None:
    """DBSCAN's work grows faster than its input: refuse (422 naming from) a window holding
    more reports than FIELDAPP_CLUSTER_MAX_REPORTS rather than cluster without bound."""
    limit = current_app.config["FIELDAPP_CLUSTER_MAX_REPORTS"]
    found = db.session.scalar(text(_UNLINKED_UP_TO.format(window=window)),
                              {**params, "cap": limit + 1})
    if found > limit:
        raise field_error("from", f"more than {limit} reports at no known site in this "
                                  f"window; narrow it with 'from' and 'to'")


def _candidate(row) -> dict:
    ids = [str(i) for i in row.report_ids]
    return {
        "id": candidate_id(ids), "report_count": row.n, "report_ids": ids,
        "centroid": row.centroid, "extent": row.extent, "hull": row.hull,
        "first_observed": row.first_observed, "last_observed": row.last_observed,
        "categories": sorted(row.categories),
    }


def candidate_id(report_ids: list[str]) -> str:
    """Stable while the cluster keeps the same members."""
    return hashlib.sha256(",".join(sorted(report_ids)).encode()).hexdigest()[:16]


def promote(candidate: str, args: dict, site_fields: dict, user) -> tuple[Site, int]:
    """Make a candidate a site (its hull, or its centre if the hull is not an area) and link
    its reports to it, each link a custody event."""
    found = next((c for c in candidates(args) if c["id"] == candidate), None)
    if found is None:
        raise Conflict("no such candidate with these parameters (its reports may have changed)",
                       errors={"candidate_id": ["not found; list candidates again"]})
    geometry = found["hull"] if found["hull"]["type"] == "Polygon" else found["centroid"]
    site = create_site_in_session({**site_fields, "geometry": _shape(geometry)})
    linked = link_reports_to_site([uuid.UUID(i) for i in found["report_ids"]], site.id, user)
    refresh_site_risk(site.id)
    db.session.commit()
    return site, linked


def _shape(geometry: dict):
    from shapely.geometry import shape

    return shape(geometry)
