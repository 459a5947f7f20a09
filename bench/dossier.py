"""Dossier benchmark: a case of 500 photos (about 1 GB) frozen and downloaded as a ZIP.

Prints, in one run: the time to freeze the dossier and to render its catalog PDF alone,
the download's throughput beside `zip -0` of the same files (the floor), its time to first
byte, and the server's peak resident memory while streaming. It prints figures; it is not
a test.

    .venv/bin/python bench/dossier.py [--photos 500] [--photo-mb 2]
"""
from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 (the benchmark folder is not a package)
    MB,
    BenchError,
    RssSampler,
    Server,
    create_database,
    database_url,
    drop_database,
    fieldapp_cli,
    free_port,
    make_user,
    run,
    server_env,
    tree_rss,
    verdict,
)

from fieldapp.photogen import make_exif  # noqa: E402

BENCH_DB = "fieldapp_bench_dossier"
TARGET_THROUGHPUT_RATIO = 0.70
TARGET_RSS_MB = 200
TARGET_TTFB_S = 2.0
TARGET_CATALOG_S = 30.0
LON, LAT = 113.3902, 23.1805


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--photo-mb", type=float, default=2.0)
    return parser.parse_args(argv)


def step(message: str) -> None:
    print(f"[dossier] {message}", file=sys.stderr, flush=True)


# --- photos -----------------------------------------------------------------------------------


def base_jpeg(target_bytes: int, taken: datetime) -> bytes:
    """A phone-sized JPEG of about target_bytes (noise keeps it from compressing away)."""
    rng = random.Random(5)
    side = 1200
    while True:
        image = Image.frombytes("RGB", (side * 4 // 3, side), rng.randbytes(side * side * 4))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80,
                   exif=make_exif(lat=LAT, lon=LON, taken=taken, gps_time=taken))
        if out.tell() >= target_bytes * 0.95:
            return out.getvalue()
        side = int(side * 1.15)


def unique_copy(base: bytes, index: int) -> bytes:
    """The same picture with a comment segment after SOI: different bytes, same pixels."""
    comment = f"bench photo {index} {uuid.uuid4()}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return base[:2] + segment + base[2:]


# --- building the case in-process --------------------------------------------------------------


@dataclass
class _Upload:
    stream: object
    filename: str


def build_case(app, photos: int, photo_bytes: int) -> tuple[str, list[Path]]:
    """Volunteer reports with one photo each, a site, a case with every photo as an item."""
    from fieldapp.accounts import service as accounts
    from fieldapp.cases import service as cases
    from fieldapp.reports import service as reports
    from fieldapp.sites.schemas import SiteInSchema
    from fieldapp.sites.service import create_site

    taken = datetime.now(UTC) - timedelta(days=2)
    base = base_jpeg(photo_bytes, taken)
    with app.app_context():
        volunteer = accounts.create_user("bench-vol@example.org",
                                         accounts.generate_password(), "volunteer")
        lawyer = accounts.find_user("bench-lawyer@example.org")
        site = create_site(SiteInSchema().load({
            "name": "基准测试工厂", "geometry": {"type": "Point", "coordinates": [LON, LAT]}}))
        case = cases.create_case({"site_id": site.id, "title": "基准测试案件",
                                  "legal_status": "litigation_filed"}, lawyer)
        store, paths = app.extensions["blob_store"], []
        for index in range(photos):
            report = _submit(app, reports, volunteer, unique_copy(base, index), taken)
            photo = report.photos[0]
            paths.append(store.path_for(photo.sha256))
            cases.add_item(case.id, {"photo_id": photo.id, "title": f"现场照片 {index + 1}",
                                     "purpose": "证明该厂向河道排放污水",
                                     "include_rejected": False}, lawyer)
            if (index + 1) % 100 == 0:
                step(f"  {index + 1} photos stored")
        return str(case.id), paths


def _submit(app, reports, volunteer, data: bytes, taken: datetime):
    spool = app.extensions["blob_store"].spool(len(data))
    try:
        spool.write(data)
        claim = {"client_id": uuid.uuid4(), "category": "water", "description": "",
                 "observed_at": taken, "site_id": None,
                 "location": {"lon": LON, "lat": LAT, "crs": "wgs84", "accuracy_m": 10.0}}
        report, _ = reports.submit(volunteer, claim, [_Upload(spool, "photo.jpg")])
        return report
    finally:
        spool.close()


def time_catalog_alone(app, dossier_id: str) -> float:
    """Render the frozen manifest's catalog again, alone, as the server does at freezing."""
    import json

    from fieldapp.dossiers.catalog import render_catalog
    from fieldapp.dossiers.models import Dossier
    from fieldapp.extensions import db

    with app.app_context():
        dossier = db.session.get(Dossier, uuid.UUID(dossier_id))
        body = json.loads(dossier.manifest)
        store = app.extensions["blob_store"]
        # The same images the server embeds: the catalog-sized derivatives made at freezing.
        images = {item["number"]: store.derivative_path(item["sha256"], "catalog")
                  for item in body["items"]}
        with tempfile.NamedTemporaryFile(suffix=".pdf") as out:
            start = time.perf_counter()
            render_catalog(body, images, out.name)
            return time.perf_counter() - start


# --- measuring --------------------------------------------------------------------------------


def download(server: Server, token: str, dossier_id: str, target: Path) -> dict:
    url = f"{server.base_url}/dossiers/{dossier_id}/download"
    # gunicorn streams the ZIP; nginx in front passes it on in fixed buffers.
    idle = tree_rss(server.web_pid)
    with RssSampler(server.web_pid) as sampler, open(target, "wb") as out:
        start = time.perf_counter()
        with requests.get(url, headers={"Authorization": f"Bearer {token}"}, stream=True,
                          timeout=600) as response:
            if response.status_code != 200:
                raise BenchError(f"download answered {response.status_code}")
            first = None
            for chunk in response.iter_content(MB):
                if first is None:
                    first = time.perf_counter() - start
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        elapsed = time.perf_counter() - start
    size = target.stat().st_size
    return {"bytes": size, "seconds": elapsed, "ttfb": first, "peak_rss": sampler.peak,
            "idle_rss": idle}


def zip_floor(files: list[Path], target: Path) -> dict:
    """`zip -0` of the same stored files, written to the same disk."""
    if shutil.which("zip") is None:
        raise BenchError("zip is not installed (apt-get install zip)")
    listing = "\n".join(str(f) for f in files).encode()
    start = time.perf_counter()
    subprocess.run(["zip", "-0", "-q", "-j", str(target), "-@"], input=listing, check=True)
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())
    elapsed = time.perf_counter() - start
    return {"bytes": target.stat().st_size, "seconds": elapsed}


def print_figures(args, freeze_s, catalog_s, got, floor) -> None:
    rate = got["bytes"] / got["seconds"] / MB
    floor_rate = floor["bytes"] / floor["seconds"] / MB
    ratio = rate / floor_rate
    peak_mb = got["peak_rss"] / MB
    print(f"\ndossier benchmark: {args.photos} photos, "
          f"{got['bytes'] / MB:,.0f} MB ZIP (one gunicorn worker)")
    print(f"  freeze (previews, custody extract, catalog, signature): {freeze_s:6.1f} s")
    print(f"  catalog PDF alone, {args.photos} items: {catalog_s:6.1f} s   "
          f"(target < {TARGET_CATALOG_S:.0f} s)  {verdict(catalog_s < TARGET_CATALOG_S)}")
    print(f"  download: {rate:7.1f} MB/s; zip -0 of the same files: {floor_rate:7.1f} MB/s; "
          f"ratio {ratio:.0%}  (target >= {TARGET_THROUGHPUT_RATIO:.0%})  "
          f"{verdict(ratio >= TARGET_THROUGHPUT_RATIO)}")
    print(f"  time to first byte: {got['ttfb']:.3f} s  (target < {TARGET_TTFB_S:.0f} s)  "
          f"{verdict(got['ttfb'] < TARGET_TTFB_S)}")
    print(f"  server peak RSS while streaming: {peak_mb:.0f} MB (idle {got['idle_rss'] / MB:.0f}"
          f" MB; target < {TARGET_RSS_MB} MB)  {verdict(peak_mb < TARGET_RSS_MB)}")


def freeze(server: Server, token: str, case_id: str, timeout_s: float = 1800) -> str:
    """Ask for the dossier (202) and wait until the job worker has frozen it; its id."""
    headers = {"Authorization": f"Bearer {token}"}
    asked = requests.post(f"{server.base_url}/cases/{case_id}/dossiers", headers=headers,
                          timeout=60)
    if asked.status_code != 202:
        raise BenchError(f"freeze answered {asked.status_code}: {asked.text[:300]}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shown = requests.get(f"{server.root_url}{asked.json()['links']['self']}",
                             headers=headers, timeout=60).json()
        if shown["status"] == "frozen":
            return shown["id"]
        if shown["status"] == "failed":
            raise BenchError(f"the freeze failed: {shown['error']}")
        time.sleep(0.25)
    raise BenchError(f"the dossier was not frozen within {timeout_s:.0f} s")


def main(argv=None) -> int:
    args = parse_args(argv)
    with ExitStack() as cleanup:
        work = Path(tempfile.mkdtemp(prefix="fieldapp-bench-dossier-"))
        cleanup.callback(shutil.rmtree, work, True)
        data_dir = work / "data"
        create_database(BENCH_DB)
        cleanup.callback(drop_database, BENCH_DB)
        # One web worker and no background analysers: the freeze analyses any photo still
        # waiting itself, and the download's memory is the web worker's alone.
        env = server_env(BENCH_DB, data_dir, free_port(), FIELDAPP_WORKERS="1",
                         FIELDAPP_ANALYSERS="0")
        fieldapp_cli(env, "db", "upgrade")
        token = make_user(env, "bench-lawyer@example.org", "lawyer")
        # One volunteer sends every photo here: no daily quota.
        os.environ.update(DATABASE_URL=database_url(BENCH_DB), FIELDAPP_DATA_DIR=str(data_dir),
                          FIELDAPP_QUOTA_REPORTS_PER_DAY="0", FIELDAPP_QUOTA_BYTES_PER_DAY="0")
        from fieldapp import create_app

        app = create_app()
        step(f"storing {args.photos} photos of {args.photo_mb:g} MB")
        case_id, originals = build_case(app, args.photos, int(args.photo_mb * MB))
        server = Server(env, work / "gunicorn.log")
        cleanup.callback(server.stop)
        server.wait_until_healthy()
        step("freezing the dossier")
        start = time.perf_counter()
        dossier_id = freeze(server, token, case_id)
        freeze_s = time.perf_counter() - start
        step("rendering the catalog alone")
        catalog_s = time_catalog_alone(app, dossier_id)
        step("downloading")
        got = download(server, token, dossier_id, work / "dossier.zip")
        (work / "dossier.zip").unlink()
        previews = sorted((data_dir / "blobs").rglob("*"))
        files = [p for p in previews if p.is_file()]
        step("zip -0 of the same files")
        floor = zip_floor(files, work / "floor.zip")
        print_figures(args, freeze_s, catalog_s, got, floor)
    return 0


if __name__ == "__main__":
    run(main)
