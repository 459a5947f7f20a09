"""Custody audit benchmark: how long `fieldapp custody verify` takes, and what it costs intake.

Serves fieldapp as in production (`fieldapp serve`), stores reports (each with one photo,
a review for every tenth), then sends photo reports at a steady rate: first for a while with
nothing else going on, then while `fieldapp custody verify` runs (the chain walked, every
evidence row checked against the digest bound in the chain, every original re-hashed). It
prints how long the audit took, then again alone, and the command's start-up alone (imports
and the app, which every `fieldapp` command pays), beside the floor in the same run (SHA-256
of the same originals in one Python thread, what the re-hash cannot beat), and intake
p50/p95 before and during the audit (the audit takes the chain's lock only to append).
It prints figures; it is not a test.

    .venv/bin/python bench/audit.py [--reports 300] [--photo-mb 3] [--rate 4] [--before-s 15]

Everything it makes (a database cloned from the PostGIS template, a temp data dir, the
accounts, the server) is removed afterwards, even on failure.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 (the benchmark folder is not a package)
    BIN,
    MB,
    ROOT,
    BenchError,
    Server,
    create_database,
    database_url,
    drop_database,
    fieldapp_cli,
    free_port,
    make_user,
    percentile,
    server_env,
    verdict,
)
from freeze_intake import REQUEST_TIMEOUT_S, Intake, api, describe, step  # noqa: E402
from ingest import make_submissions, run_on_threads  # noqa: E402

BENCH_DB = "fieldapp_bench_audit"
TARGET_RATIO = 2.0
INTAKE_PHOTOS = 8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=300, help="reports stored first")
    parser.add_argument("--photo-mb", type=float, default=3.0, help="size of each JPEG")
    parser.add_argument("--rate", type=float, default=4.0, help="reports sent per second")
    parser.add_argument("--before-s", type=float, default=15.0,
                        help="seconds of intake measured before the audit")
    args = parser.parse_args(argv)
    if args.reports < 1 or args.rate <= 0 or args.before_s <= 0 or args.photo_mb <= 0:
        parser.error("--reports, --photo-mb, --rate and --before-s must be positive")
    return args


def store_reports(server: Server, tokens: dict, submissions) -> None:
    """Post the reports; a coordinator reviews every tenth photo."""

    def post(session: requests.Session, numbered) -> None:
        number, submission = numbered
        body, content_type = submission.encoded()
        response = session.post(f"{server.base_url}/reports", data=body,
                                timeout=REQUEST_TIMEOUT_S, headers={
                                    "Authorization": f"Bearer {tokens['volunteer']}",
                                    "Content-Type": content_type})
        if response.status_code != 201:
            raise BenchError(f"a report was answered {response.status_code}: "
                             f"{response.text[:300]}")
        if number % 10 == 0:
            photo = response.json()["photos"][0]["id"]
            api(session, "POST", f"{server.base_url}/photos/{photo}/reviews",
                tokens["coordinator"], 201, json={"decision": "accepted", "reason": "bench"})

    # One at a time: the audit, not intake, is measured here.
    run_on_threads(enumerate(submissions), 1, requests.Session, post)


def wait_for_analysis(timeout_s: float = 1800) -> None:
    """The audit is measured on settled evidence, not beside the analysers' backlog."""
    deadline = time.monotonic() + timeout_s
    connection = psycopg2.connect(database_url(BENCH_DB))
    connection.autocommit = True
    try:
        with connection.cursor() as cur:
            while True:
                cur.execute("SELECT count(*) FROM photos WHERE analysed_at IS NULL")
                if cur.fetchone()[0] == 0:
                    return
                if time.monotonic() > deadline:
                    raise BenchError(f"photos still waiting for analysis after {timeout_s} s")
                time.sleep(0.5)
    finally:
        connection.close()


def hash_floor(data_dir: Path) -> tuple[int, int, float]:
    """(files, bytes, seconds) to SHA-256 every stored original in this process."""
    files = [path for path in (data_dir / "blobs").rglob("*") if path.is_file()]
    started = time.monotonic()
    total = 0
    for path in files:
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(MB):
                digest.update(chunk)
                total += len(chunk)
    return len(files), total, time.monotonic() - started


def run_audit(env: dict) -> tuple[float, float, str]:
    """Run `fieldapp custody verify`; (started, finished, its last line)."""
    started = time.monotonic()
    result = subprocess.run([str(BIN / "fieldapp"), "custody", "verify"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    finished = time.monotonic()
    if result.returncode != 0:
        raise BenchError(f"the audit found problems:\n{result.stderr.strip()[-2000:]}")
    return started, finished, result.stdout.strip().splitlines()[-1]


def app_startup_seconds(env: dict) -> float:
    """What every `fieldapp` command pays before it does anything: imports and the app."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "from fieldapp import create_app; create_app()"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def run(args: argparse.Namespace, cleanup: ExitStack) -> None:
    work = Path(tempfile.mkdtemp(prefix="fieldapp-bench-audit-"))
    cleanup.callback(shutil.rmtree, work, ignore_errors=True)
    create_database(BENCH_DB)
    cleanup.callback(drop_database, BENCH_DB)
    # One volunteer sends every report here: no daily quota.
    env = server_env(BENCH_DB, work / "data", free_port(),
                     FIELDAPP_MAX_PHOTO_BYTES=str(int(args.photo_mb * 2 * MB)),
                     FIELDAPP_QUOTA_REPORTS_PER_DAY="0", FIELDAPP_QUOTA_BYTES_PER_DAY="0")
    fieldapp_cli(env, "db", "upgrade")
    tokens = {role: make_user(env, f"bench-{role}@example.org", role)
              for role in ("volunteer", "coordinator")}
    # Intake cycles through a few photos, each sent as a new report.
    step(f"making {args.reports + INTAKE_PHOTOS} photos of {args.photo_mb:g} MB")
    submissions = make_submissions(args.reports + INTAKE_PHOTOS, int(args.photo_mb * MB))
    server = Server(env, work / "serve.log")
    cleanup.callback(server.stop)
    server.wait_until_healthy()
    step(f"storing {args.reports} reports (and waiting for their analysis)")
    store_reports(server, tokens, submissions[:args.reports])
    wait_for_analysis()
    files, floor_bytes, floor_s = hash_floor(work / "data")

    step(f"intake alone for {args.before_s:g} s, then the audit")
    intake = Intake(server.base_url, tokens["volunteer"], args.rate)
    stop = threading.Event()
    sender = threading.Thread(target=intake.run, args=(submissions[args.reports:], stop),
                              daemon=True)
    before_start = time.monotonic()
    sender.start()
    time.sleep(args.before_s)
    before_end = time.monotonic()
    started, finished, said = run_audit(env)
    stop.set()
    sender.join(REQUEST_TIMEOUT_S)
    step("the audit again, alone, and the command's start-up alone")
    idle_started, idle_finished, _ = run_audit(env)
    startup = app_startup_seconds(env)

    seconds = finished - started
    print(f"\nCustody audit of {args.reports} reports ({files} originals, "
          f"{floor_bytes / MB:.0f} MB) while {args.photo_mb:g} MB reports arrive at "
          f"{args.rate:g}/s (one run, `fieldapp serve`)")
    print(f"{'audit':<28} {seconds:.1f} s   ({said})")
    print(f"{'floor: SHA-256 of originals':<28} {floor_s:.1f} s, "
          f"{floor_bytes / MB / max(floor_s, 1e-9):.0f} MB/s in one thread")
    idle = idle_finished - idle_started
    print(f"{'audit alone':<28} {idle:.1f} s, of which {startup:.1f} s is starting the "
          f"command (imports, app); the rest {max(idle - startup, 0):.1f} s")
    print(f"{'audit alone / floor':<28} {idle / max(floor_s, 1e-9):.2f}x "
          f"({max(idle - startup, 0) / max(floor_s, 1e-9):.2f}x without start-up)")
    before_lat = intake.latencies(before_start, before_end)
    during_lat = intake.latencies(started, finished)
    print(describe("intake before the audit", before_lat))
    print(describe("intake during the audit", during_lat))
    if before_lat and during_lat:
        ratio = percentile(during_lat, .95) / percentile(before_lat, .95)
        print(f"{'p95 during / p95 before':<28} {ratio:.2f}x   target <= {TARGET_RATIO:g}x   "
              f"{verdict(ratio <= TARGET_RATIO)}")
    if intake.refused:
        print(f"refused reports: {len(intake.refused)}; first: {intake.refused[0]}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with ExitStack() as cleanup:
        run(args, cleanup)
    return 0


if __name__ == "__main__":
    from common import run as run_main

    run_main(main)
