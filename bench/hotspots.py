"""Hotspot benchmark: vector tiles and hex aggregates over a million generated reports.

Generates reports clustered around a few hundred sites across China (plus scattered
reports at no site), loads them with COPY together with the H3 cells and per-day hex counts
the app keeps at ingest, starts gunicorn, and prints:
  - vector tile latency (p50, p95) per zoom for the reports, hexbins, sites and public
    layers (staff tiles include writing the access log);
  - the hex-bin aggregate for the whole of China through the API, staff and public;
  - in the same run, the naive PostGIS query (ST_HexagonGrid joined to every point).
It prints figures; it is not a test.

    .venv/bin/python bench/hotspots.py [--reports 1000000] [--sites 300] [--tiles 40]
"""
from __future__ import annotations

import argparse
import io
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 (the benchmark folder is not a package)
    BenchError,
    Server,
    create_database,
    database_url,
    drop_database,
    fieldapp_cli,
    free_port,
    make_user,
    owner_database_url,
    percentile,
    run,
    server_env,
    verdict,
)

from fieldapp.hotspots.cells import (  # noqa: E402
    PUBLIC_FINEST,
    RESOLUTIONS,
    cell_shape,
    cells_for,
)

BENCH_DB = "fieldapp_bench_hotspots"
CHINA_BBOX = (73.4, 18.1, 135.1, 53.6)
TARGET_TILE_P95_MS = 50
TARGET_CHINA_HEX_MS = 200
ZOOMS = range(3, 17)
WARM_REQUESTS = 8
LAYERS = ("reports", "hexbins", "sites", "public")
CATEGORIES = ("water", "air", "soil", "solid_waste", "noise", "other")
# Where China's factories are: (lon, lat, weight) of industrial regions.
REGIONS = [
    (121.47, 31.23, 8), (120.16, 30.27, 5), (118.80, 32.06, 5), (113.26, 23.13, 8),
    (114.06, 22.54, 6), (116.40, 39.90, 6), (117.20, 39.13, 5), (114.51, 38.04, 4),
    (112.55, 37.87, 3), (123.43, 41.80, 4), (125.32, 43.82, 2), (126.64, 45.76, 2),
    (117.00, 36.65, 5), (120.38, 36.07, 3), (113.62, 34.75, 4), (114.30, 30.59, 5),
    (112.94, 28.23, 3), (115.86, 28.68, 2), (119.30, 26.08, 3), (106.55, 29.56, 4),
    (104.07, 30.67, 4), (106.63, 26.65, 2), (102.71, 25.04, 2), (108.94, 34.34, 3),
    (103.83, 36.06, 2), (87.62, 43.83, 1), (111.67, 40.82, 2), (108.32, 22.82, 2),
    (110.33, 20.03, 1), (101.78, 36.62, 1),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--tiles", type=int, default=40, help="tiles per zoom and layer")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def step(message: str) -> None:
    print(f"[hotspots] {message}", file=sys.stderr, flush=True)


# --- generating the field ---------------------------------------------------------------------


def make_sites(count: int, rng: random.Random) -> list[tuple[str, float, float]]:
    weights = [w for _, _, w in REGIONS]
    sites = []
    for _ in range(count):
        lon, lat, _ = rng.choices(REGIONS, weights)[0]
        sites.append((str(uuid.uuid4()), lon + rng.gauss(0, 0.6), lat + rng.gauss(0, 0.4)))
    return sites


def metres_to_degrees(lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    return east_m / (111_320 * math.cos(math.radians(lat))), north_m / 110_574


def make_reports(count: int, sites, volunteers, rng: random.Random):
    """Yield report rows: 85% around a site (Zipf-like popularity), 15% at no known site."""
    popularity = [1 / (rank + 1) ** 0.8 for rank in range(len(sites))]
    now = datetime.now(UTC)
    for _ in range(count):
        if rng.random() < 0.85:
            site_id, slon, slat = rng.choices(sites, popularity)[0]
            dlon, dlat = metres_to_degrees(slat, rng.gauss(0, 400), rng.gauss(0, 400))
            lon, lat, linked = slon + dlon, slat + dlat, site_id
        else:
            base_lon, base_lat, _ = rng.choice(REGIONS)
            lon, lat, linked = base_lon + rng.gauss(0, 1.5), base_lat + rng.gauss(0, 1.0), None
        observed = now - timedelta(seconds=rng.randrange(0, 730 * 86400))
        verified = rng.random() < 0.6
        yield (lon, lat, linked, rng.choice(CATEGORIES), observed, verified,
               rng.choice(volunteers))


# --- loading with COPY ------------------------------------------------------------------------


def copy_rows(cursor, table: str, columns: tuple[str, ...], rows, batch: int = 100_000) -> None:
    buffer, pending = io.StringIO(), 0
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
        pending += 1
        if pending == batch:
            _flush(cursor, table, columns, buffer)
            buffer, pending = io.StringIO(), 0
    if pending:
        _flush(cursor, table, columns, buffer)


def _flush(cursor, table, columns, buffer) -> None:
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def load(dsn: str, args, rng: random.Random) -> tuple[int, int]:
    connection = psycopg2.connect(dsn)
    try:
        with connection, connection.cursor() as cursor:
            volunteers = _load_volunteers(cursor, 500)
            sites = make_sites(args.sites, rng)
            now = datetime.now(UTC).isoformat()
            copy_rows(cursor, "sites", ("id", "name", "status", "geom", "created_at",
                                        "updated_at"),
                      ((sid, f"site {i}", "active", f"SRID=4326;POINT({lon} {lat})", now, now)
                       for i, (sid, lon, lat) in enumerate(sites)))
            counts, cells_seen, public, per_volunteer = Counter(), set(), {}, Counter()
            copy_rows(cursor, "reports", REPORT_COLUMNS,
                      _report_rows(make_reports(args.reports, sites, volunteers, rng),
                                   counts, cells_seen, public, per_volunteer,
                                   {vid: i for i, vid in enumerate(volunteers)}))
            step(f"{len(cells_seen)} H3 cells, {len(counts)} hex count rows")
            copy_rows(cursor, "h3_cells", ("cell", "res", "center", "boundary"),
                      _cell_rows(cells_seen))
            copy_rows(cursor, "hex_counts",
                      ("res", "cell", "day", "category", "verified", "reports"),
                      ((*key, n) for key, n in counts.items()))
            totals = Counter()
            for (res, cell, _day, category, verified), n in counts.items():
                totals[(res, cell, category, verified)] += n
            copy_rows(cursor, "hex_totals", ("res", "cell", "category", "verified", "reports"),
                      ((*key, n) for key, n in totals.items()))
            # What the public layer is captured from (hotspots.publication): distinct
            # volunteers per cell, and each volunteer's reports in it.
            copy_rows(cursor, "public_cells", ("res", "cell", "volunteers", "reports"),
                      ((res, cell, mask.bit_count(), n)
                       for (res, cell), (mask, n) in public.items()))
            copy_rows(cursor, "cell_volunteers", ("res", "cell", "volunteer_id", "reports"),
                      ((*key, n) for key, n in per_volunteer.items()))
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        return len(cells_seen), len(counts)
    finally:
        connection.close()


REPORT_COLUMNS = ("id", "client_id", "fingerprint", "volunteer_id", "category", "description",
                  "observed_at", "received_at", "claim_lon", "claim_lat", "claim_crs",
                  "location", "site_id", "site_link", "verdict", "verified", "h3_cell")


def _report_rows(reports, counts: Counter, cells_seen: set, public: dict,
                 per_volunteer: Counter, index: dict):
    """Report rows; counts, cells and the public layer's (volunteers as a bit mask, reports)
    per cell, and each volunteer's verified reports per cell, are gathered on the way."""
    for lon, lat, site_id, category, observed, verified, volunteer in reports:
        by_res = cells_for(lon, lat)
        day = observed.date()
        for res, cell in by_res.items():
            counts[(res, cell, day, category, verified)] += 1
            cells_seen.add(cell)
            if verified and res == PUBLIC_FINEST:
                mask, n = public.get((res, cell), (0, 0))
                public[(res, cell)] = (mask | 1 << index[volunteer], n + 1)
                per_volunteer[(res, cell, volunteer)] += 1
        yield (uuid.uuid4(), uuid.uuid4(), "0" * 64, volunteer, category, "", observed.isoformat(),
               observed.isoformat(), lon, lat, "wgs84", f"SRID=4326;POINT({lon} {lat})",
               site_id, "auto" if site_id else None,
               "consistent" if verified else "needs_review", verified, by_res[RESOLUTIONS[-1]])


def _cell_rows(cells_seen: set):
    for cell in cells_seen:
        (lon, lat), ring = cell_shape(cell)
        polygon = ", ".join(f"{x} {y}" for x, y in ring)
        yield (cell, _res_of(cell), f"SRID=4326;POINT({lon} {lat})",
               f"SRID=4326;POLYGON(({polygon}))")


def _res_of(cell: int) -> int:
    return (cell >> 52) & 0xF  # H3 index layout: 4 resolution bits at 52-55


def _load_volunteers(cursor, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now = datetime.now(UTC).isoformat()
    copy_rows(cursor, "users", ("id", "email", "password_hash", "role", "pseudonym",
                                "created_at"),
              ((vid, f"v{i}@bench.example.org", "x", "volunteer", f"bench-{i}", now)
               for i, vid in enumerate(ids)))
    return ids


# --- measuring --------------------------------------------------------------------------------


def tile_xy(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    n = 2 ** zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(x, n - 1), min(y, n - 1)


def sample_points(dsn: str, count: int) -> list[tuple[float, float]]:
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT ST_X(location), ST_Y(location) FROM reports "
                           "TABLESAMPLE SYSTEM (1) LIMIT %s", (count,))
            return cursor.fetchall()
    finally:
        connection.close()


def time_get(session, url: str, headers: dict) -> tuple[float, int, int]:
    start = time.perf_counter()
    response = session.get(url, headers=headers, timeout=120)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise BenchError(f"{url} answered {response.status_code}: {response.text[:200]}")
    return elapsed, len(response.content), response.status_code


def measure_tiles(server: Server, token: str, points, per_zoom: int) -> dict:
    session, headers, results = requests.Session(), {"Authorization": f"Bearer {token}"}, {}
    for layer in LAYERS:
        for zoom in ZOOMS:
            tiles = {tile_xy(lon, lat, zoom) for lon, lat in points}
            chosen = sorted(tiles)[:per_zoom]
            # Warm every gunicorn worker on this layer and zoom: steady state is measured.
            for x, y in chosen[:WARM_REQUESTS]:
                time_get(session, _tile_url(server, layer, zoom, x, y), headers)
            timings, sizes = [], []
            for x, y in chosen:
                elapsed, size, _ = time_get(session, _tile_url(server, layer, zoom, x, y),
                                            headers)
                timings.append(elapsed)
                sizes.append(size)
            results[(layer, zoom)] = (statistics.median(timings), percentile(timings, 0.95),
                                      statistics.mean(sizes), len(chosen))
    return results


def _tile_url(server, layer, zoom, x, y) -> str:
    if layer == "public":
        return f"{server.root_url}/tiles/public/{zoom}/{x}/{y}.mvt"
    return f"{server.root_url}/tiles/{layer}/{zoom}/{x}/{y}.mvt"


def measure_china_hexbins(server: Server, token: str, runs: int = 10) -> dict:
    session, staff = requests.Session(), {"Authorization": f"Bearer {token}"}
    bbox = ",".join(str(v) for v in CHINA_BBOX)
    results = {}
    for zoom in (4, 5, 6):
        for who, path, headers in (("staff", "hotspots/hexbins", staff),
                                   ("public", "public/hexbins", {})):
            url = f"{server.base_url}/{path}?bbox={bbox}&zoom={zoom}"
            time_get(session, url, headers)
            timings = [time_get(session, url, headers)[0] for _ in range(runs)]
            cells = len(session.get(url, headers=headers).json()["features"])
            results[f"{who} zoom {zoom}"] = (statistics.median(timings),
                                             percentile(timings, 0.95), cells)
    return results


# The usual way: a generated grid joined to every point. The grid is brought to the points'
# SRID so that the join can use the GIST index on reports.location.
NAIVE = """
    WITH grid AS (
        SELECT i, j, ST_Transform(geom, 4326) AS geom FROM ST_HexagonGrid(%(size)s,
            ST_Transform(ST_MakeEnvelope(73.4, 18.1, 135.1, 53.6, 4326), 3857))
    )
    SELECT g.i, g.j, count(*)
    FROM grid g JOIN reports r ON ST_Intersects(g.geom, r.location)
    GROUP BY g.i, g.j
"""


def measure_naive(dsn: str, runs: int = 3, size_m: float = 80_000) -> tuple[float, int]:
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            timings, cells = [], 0
            for _ in range(runs):
                start = time.perf_counter()
                cursor.execute(NAIVE, {"size": size_m})
                cells = len(cursor.fetchall())
                timings.append((time.perf_counter() - start) * 1000)
            return statistics.median(timings), cells
    finally:
        connection.close()


# --- report -----------------------------------------------------------------------------------


def capture_public_layer(server) -> float:
    """Seconds the day's first public request takes, which captures the public layer."""
    started = time.perf_counter()
    response = requests.get(f"{server.base_url}/public/hexbins?bbox=73,18,135,54&zoom=4",
                            timeout=120)
    if response.status_code != 200 or not response.json()["features"]:
        raise BenchError(f"the public layer is empty or refused: {response.status_code}")
    return time.perf_counter() - started


def print_figures(args, load_s, cells, tiles, china, naive) -> None:
    print(f"\nhotspots benchmark: {args.reports:,} reports around {args.sites} sites "
          f"(loaded in {load_s:.0f} s; {cells[0]:,} H3 cells, {cells[1]:,} hex count rows)")
    print(f"\nvector tiles, ms (target p95 < {TARGET_TILE_P95_MS} ms at every zoom)")
    print(f"{'zoom':>4} " + " ".join(f"{layer + ' p50/p95':>22}" for layer in LAYERS))
    worst = 0.0
    for zoom in ZOOMS:
        cols = []
        for layer in LAYERS:
            p50, p95, size, _ = tiles[(layer, zoom)]
            worst = max(worst, p95)
            cols.append(f"{p50:7.1f} /{p95:7.1f} ({size / 1024:5.1f}K)")
        print(f"{zoom:>4} " + " ".join(f"{c:>22}" for c in cols))
    print(f"worst tile p95: {worst:.1f} ms  {verdict(worst < TARGET_TILE_P95_MS)}")
    print(f"\nhex bins for the whole of China via the API, ms "
          f"(target < {TARGET_CHINA_HEX_MS} ms)")
    for zoom, (p50, p95, count) in china.items():
        print(f"  {zoom:>14}: p50 {p50:6.1f}  p95 {p95:6.1f}  ({count} hexagons)  "
              f"{verdict(p95 < TARGET_CHINA_HEX_MS)}")
    naive_ms, naive_cells = naive
    best = min(p50 for zoom, (p50, _, _) in china.items() if zoom.startswith("staff"))
    print(f"naive ST_HexagonGrid join over every point, same run: {naive_ms:,.0f} ms "
          f"({naive_cells} hexagons); the API's whole-China aggregate is "
          f"{naive_ms / max(best, 0.001):,.0f}x faster")


def main(argv=None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    with ExitStack() as cleanup:
        data_dir = Path(tempfile.mkdtemp(prefix="fieldapp-bench-hot-"))
        cleanup.callback(shutil.rmtree, data_dir, True)
        step(f"database {BENCH_DB}")
        create_database(BENCH_DB)
        cleanup.callback(drop_database, BENCH_DB)
        port = free_port()
        # The public layer shows today's capture at once (the product waits a day).
        env = server_env(BENCH_DB, data_dir, port, FIELDAPP_PUBLIC_DELAY_DAYS="0")
        fieldapp_cli(env, "db", "upgrade")
        token = make_user(env, "bench-coordinator@example.org", "coordinator")
        step(f"generating and loading {args.reports:,} reports")
        start = time.perf_counter()
        # Loaded as the owner, who may VACUUM ANALYZE what it loaded.
        cells = load(owner_database_url(BENCH_DB), args, rng)
        load_s = time.perf_counter() - start
        server = Server(env, data_dir / "gunicorn.log")
        cleanup.callback(server.stop)
        server.wait_until_healthy()
        step("capturing the public layer (the day's first public request)")
        capture_s = capture_public_layer(server)
        step("measuring tiles")
        points = sample_points(database_url(BENCH_DB), 400)
        tiles = measure_tiles(server, token, points, args.tiles)
        step("measuring whole-China hex bins")
        china = measure_china_hexbins(server, token)
        step("measuring the naive query")
        naive = measure_naive(database_url(BENCH_DB))
        print_figures(args, load_s, cells, tiles, china, naive)
        print(f"public layer's daily capture (the day's first public request): "
              f"{capture_s:.2f} s")
    return 0


if __name__ == "__main__":
    run(main)
