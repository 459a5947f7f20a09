"""Slow clients benchmark: does the stack keep answering while slow clients hold connections?

Starts `fieldapp serve` (nginx in front of gunicorn) and measures the p50/p95 of
GET /api/v1/health and the time to receive a 3 MB report (posted, stored, answered 201)
twice in one run: with no slow clients (the floor), then while 60 connections send their
headers a byte at a time and 8 phones upload at 4 KB/s (tests/slowclients.py). With
--bare (the default) it then runs gunicorn alone, as before the proxy, under the same load.
It prints figures; it is not a test.

    .venv/bin/python bench/slow_clients.py [--headers 60] [--uploads 8] [--health 200]
                                           [--reports 5] [--photo-mb 3] [--no-bare]

Everything it needs is made here and removed afterwards, even on failure: a database cloned
from the PostGIS template, a temp data dir, a volunteer and token, the server processes.
Loopback addresses only; every wait is bounded. MB means 2**20 bytes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import requests
from urllib3 import encode_multipart_formdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 (the benchmark folder is not a package)
    MB,
    ROOT,
    TEMPLATE_DB,
    BenchError,
    Server,
    create_database,
    drop_database,
    fieldapp_cli,
    free_port,
    make_user,
    percentile,
    run,
    server_env,
)

sys.path.insert(0, str(ROOT))
from tests.imagegen import sized_jpeg  # noqa: E402
from tests.slowclients import SlowClients  # noqa: E402

BENCH_DB = "fieldapp_bench_slow"
HEALTH_TIMEOUT_S = 10
REPORT_TIMEOUT_S = 120
# Before the proxy, gunicorn answered nothing under this load: keep that phase short.
BARE_HEALTH_TRIES = 10
BARE_HEALTH_TIMEOUT_S = 5
BARE_REPORT_TIMEOUT_S = 60
HOLD_S = 900  # the slow clients give up by then whatever happens
# Every process of the stack loads the app at once; on a busy 2-core machine that is slow.
START_TIMEOUT_S = 300
OBSERVED = "2026-05-04T10:31:00+08:00"


@dataclass
class Phase:
    name: str
    health_ms: list[float]
    health_failed: int
    report_s: list[float]
    report_failed: int
    held: int = 0
    reconnected: int = 0

    def health(self) -> str:
        if not self.health_ms:
            return "none answered"
        return (f"{percentile(self.health_ms, 0.5):.0f} / "
                f"{percentile(self.health_ms, 0.95):.0f} ms")

    def reports(self) -> str:
        if not self.report_s:
            return "none received"
        return f"{statistics.median(self.report_s):.2f} / {max(self.report_s):.2f} s"


def step(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headers", type=int, default=60, help="slow-header connections")
    parser.add_argument("--uploads", type=int, default=8, help="uploads at 4 KB/s")
    parser.add_argument("--health", type=int, default=200, help="health requests per phase")
    parser.add_argument("--reports", type=int, default=5, help="3 MB reports per phase")
    parser.add_argument("--photo-mb", type=float, default=3.0)
    parser.add_argument("--no-bare", dest="bare", action="store_false",
                        help="skip gunicorn alone (as before the proxy)")
    return parser.parse_args(argv)


def measure(base: str, token: str, photos: list[bytes], health_count: int,
            health_timeout: float, report_timeout: float, name: str) -> Phase:
    phase = Phase(name, [], 0, [], 0)
    for _ in range(health_count):
        started = time.perf_counter()
        try:
            ok = requests.get(f"{base}/api/v1/health", timeout=health_timeout).ok
        except requests.RequestException:
            ok = False
        if ok:
            phase.health_ms.append((time.perf_counter() - started) * 1000)
        else:
            phase.health_failed += 1
    for photo in photos:
        claim = {"client_id": str(uuid.uuid4()), "category": "water",
                 "description": "Slow clients benchmark", "observed_at": OBSERVED,
                 "location": {"lon": 113.39, "lat": 23.18, "crs": "wgs84", "accuracy_m": 12}}
        body, content_type = encode_multipart_formdata(
            [("report", json.dumps(claim)), ("photos", ("photo.jpg", photo, "image/jpeg"))])
        started = time.perf_counter()
        try:
            response = requests.post(f"{base}/api/v1/reports", data=body,
                                     timeout=report_timeout,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": content_type})
            stored = (response.status_code == 201 and response.json()["photos"][0]["sha256"]
                      == hashlib.sha256(photo).hexdigest())
        except requests.RequestException:
            stored = False
        if stored:
            phase.report_s.append(time.perf_counter() - started)
        else:
            phase.report_failed += 1
    return phase


def under_load(args, port: int, token: str, measure_phase) -> Phase:
    with SlowClients("127.0.0.1", port, headers=args.headers, uploads=args.uploads,
                     token=token, hold_s=HOLD_S) as load:
        time.sleep(3)  # every connection open and trickling
        phase = measure_phase()
        phase.held, phase.reconnected = load.still_held(), load.dropped
    return phase


class BareGunicorn:
    """gunicorn alone on a loopback port, as the stack served before the proxy."""

    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config",
                 "python:fieldapp.serving.gunicorn_conf", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "3", "--threads", "2", "fieldapp:create_app()"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until_healthy(base: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{what} exited with {process.returncode}")
        try:
            if requests.get(f"{base}/api/v1/health", timeout=5).ok:
                return
        except requests.RequestException:
            pass  # not listening yet, or the workers still loading the app
        time.sleep(0.5)
    raise BenchError(f"{what} did not answer within {START_TIMEOUT_S} s")


def report(args, floor: Phase, loaded: Phase, bare: Phase | None) -> None:
    load = f"{args.headers} slow headers + {args.uploads} uploads at 4 KB/s"
    print(f"\nfieldapp slow clients benchmark: {args.health} health requests and "
          f"{args.reports} reports of {args.photo_mb:g} MB per phase")
    rows = [("", "health p50 / p95", "failed", f"{args.photo_mb:g} MB report median / max",
             "failed", "slow conns held")]
    for phase in (floor, loaded, bare):
        if phase is None:
            continue
        rows.append((phase.name, phase.health(), f"{phase.health_failed}",
                     phase.reports(), f"{phase.report_failed}",
                     f"{phase.held} ({phase.reconnected} reconnected)"
                     if phase is not floor else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width)
                        for cell, width in zip(row, widths, strict=True)).rstrip())
    if floor.health_ms and loaded.health_ms and floor.report_s and loaded.report_s:
        p95 = percentile(loaded.health_ms, 0.95) / percentile(floor.health_ms, 0.95)
        received = statistics.median(loaded.report_s) / statistics.median(floor.report_s)
        print(f"\nunder load ({load}), against the floor: health p95 x{p95:.2f}, "
              f"report received x{received:.2f}")


def main(argv=None) -> int:
    args = parse_args(argv)
    # A plain SIGTERM would end the process without unwinding; exiting runs every cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="fieldapp-bench-slow-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        data_dir = workdir / "data"
        data_dir.mkdir()
        size = int(args.photo_mb * MB)
        step(f"generating {3 * args.reports} photos of ~{args.photo_mb:g} MB")
        photos = [sized_jpeg(size, seed=seed, lat=23.18, lon=113.39)
                  for seed in range(3 * args.reports)]

        step(f"creating database {BENCH_DB} from {TEMPLATE_DB}")
        create_database(BENCH_DB)
        cleanup.callback(drop_database, BENCH_DB)
        port = free_port()
        env = server_env(BENCH_DB, data_dir, port)
        fieldapp_cli(env, "db", "upgrade")
        token = make_user(env, "bench-slow@example.org", "volunteer")

        server = Server(env, workdir / "serve.log")
        cleanup.callback(server.stop)
        wait_until_healthy(server.root_url, server.process, "fieldapp serve")
        step(f"fieldapp serve up at {server.root_url}; warming up")
        measure(server.root_url, token, [], 20, HEALTH_TIMEOUT_S, REPORT_TIMEOUT_S, "warm-up")

        step("the floor: no slow clients")
        floor = measure(server.root_url, token, photos[:args.reports], args.health,
                        HEALTH_TIMEOUT_S, REPORT_TIMEOUT_S, "no slow clients (floor)")
        step(f"under load: {args.headers} slow-header and {args.uploads} slow-upload "
             "connections held")
        loaded = under_load(args, port, token, lambda: measure(
            server.root_url, token, photos[args.reports:2 * args.reports], args.health,
            HEALTH_TIMEOUT_S, REPORT_TIMEOUT_S, "fieldapp serve, slow clients"))
        server.stop()

        bare = None
        if args.bare:
            step("gunicorn alone (3 workers x 2 threads, as before), same load")
            alone = BareGunicorn(env, workdir / "gunicorn.log")
            cleanup.callback(alone.stop)
            wait_until_healthy(alone.base, alone.process, "gunicorn alone")
            bare = under_load(args, alone.port, token, lambda: measure(
                alone.base, token, photos[2 * args.reports:2 * args.reports + 1],
                BARE_HEALTH_TRIES, BARE_HEALTH_TIMEOUT_S, BARE_REPORT_TIMEOUT_S,
                "gunicorn alone, slow clients"))
        report(args, floor, loaded, bare)
    return 0


if __name__ == "__main__":
    run(main)
