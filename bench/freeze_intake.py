"""Freeze-versus-intake benchmark: does freezing a dossier slow the phones down?

Serves fieldapp as in production (`fieldapp serve`: nginx, gunicorn and the job worker; no
background analysers, so the freeze also analyses every photo of the case itself, the
heaviest freeze there is), files 120 photos into a case, then sends 3 MB photo reports at a
steady rate (as phones do, each on its own connection, whether or not the one before was
answered): first for a while with nothing else going on, then until the case's dossier,
asked for at that moment, is frozen by the job worker, and for a while after. It prints
intake p50/p95 before, during and after the freeze, the ratio during / before (target: at
most 2x; the floor is the "before" of the same run), how long the freeze took, step by
step, and how many cores the job worker, the rest of the server and everything else on the
machine kept busy in each window. It prints figures; it is not a test.

    .venv/bin/python bench/freeze_intake.py [--photos 120] [--rate 4] [--before-s 30]
                                            [--after-s 30] [--distinct 60] [--photo-mb 3]

The reports sent cycle through --distinct different photos, each time as a new report (a
new client_id), so the server does all of its work for every one.

Everything it makes (a database cloned from the PostGIS template, a temp data dir, the
accounts, the server) is removed afterwards, even on failure.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 (the benchmark folder is not a package)
    MB,
    BenchError,
    Server,
    create_database,
    drop_database,
    fieldapp_cli,
    free_port,
    make_user,
    percentile,
    process_tree,
    server_env,
    verdict,
)
from ingest import (  # noqa: E402
    CLAIM_LAT,
    CLAIM_LON,
    Submission,
    cpu_seconds,
    machine_busy_seconds,
    make_submissions,
    run_on_threads,
)

BENCH_DB = "fieldapp_bench_freeze"
TARGET_RATIO = 2.0
REQUEST_TIMEOUT_S = 300
POLL_S = 0.25


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=120, help="evidence items in the case")
    parser.add_argument("--rate", type=float, default=4.0, help="reports sent per second")
    parser.add_argument("--before-s", type=float, default=30.0,
                        help="seconds of intake measured before the freeze")
    parser.add_argument("--after-s", type=float, default=None,
                        help="seconds of intake measured after the freeze (default: --before-s)")
    parser.add_argument("--distinct", type=int, default=60,
                        help="different photos the reports cycle through")
    parser.add_argument("--freeze-max-s", type=float, default=1800.0,
                        help="give up if the dossier is not frozen by then")
    parser.add_argument("--photo-mb", type=float, default=3.0, help="size of each JPEG")
    args = parser.parse_args(argv)
    if min(args.photos, args.distinct) < 1 or min(args.rate, args.before_s) <= 0:
        parser.error("--photos, --distinct, --rate and --before-s must be positive")
    if args.after_s is None:
        args.after_s = args.before_s
    return args


def step(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


# --- the evidence to freeze -------------------------------------------------------------------


def api(session: requests.Session, method: str, url: str, token: str, expect: int, **kw):
    response = session.request(method, url, headers={"Authorization": f"Bearer {token}"},
                               timeout=REQUEST_TIMEOUT_S, **kw)
    if response.status_code != expect:
        raise BenchError(f"{method} {url} answered {response.status_code}, not {expect}: "
                         f"{response.text[:300]}")
    return response.json()


def build_case(server: Server, tokens: dict, submissions: list[Submission]) -> str:
    """Post the photos as reports and attach each to a new case; the case's id."""

    def post(session: requests.Session, submission: Submission) -> str:
        body, content_type = submission.encoded()
        response = session.post(f"{server.base_url}/reports", data=body,
                                timeout=REQUEST_TIMEOUT_S, headers={
                                    "Authorization": f"Bearer {tokens['volunteer']}",
                                    "Content-Type": content_type})
        if response.status_code != 201:
            raise BenchError(f"a report was answered {response.status_code}: "
                             f"{response.text[:300]}")
        return response.json()["photos"][0]["id"]

    photo_ids = run_on_threads(submissions, 4, requests.Session, post).results
    with requests.Session() as session:
        site = api(session, "POST", f"{server.base_url}/sites", tokens["coordinator"], 201,
                   json={"name": "基准测试工厂", "geometry": {
                       "type": "Point", "coordinates": [CLAIM_LON, CLAIM_LAT]}})
        case = api(session, "POST", f"{server.base_url}/cases", tokens["lawyer"], 201,
                   json={"site_id": site["id"], "title": "冻结与接收基准"})
        for number, photo_id in enumerate(photo_ids, start=1):
            api(session, "POST", f"{server.base_url}/cases/{case['id']}/items",
                tokens["lawyer"], 201, json={"photo_id": photo_id, "title": f"现场照片 {number}",
                                             "purpose": "证明该厂向河道排放污水"})
    return case["id"]


# --- steady intake ----------------------------------------------------------------------------


@dataclass
class Intake:
    """Reports sent on a fixed schedule; each answer's latency, by when it was sent."""

    base_url: str
    token: str
    rate: float
    sent: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)
    refused: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, encoded: tuple[bytes, str]) -> None:
        body, content_type = encoded
        started = time.monotonic()
        try:
            response = requests.post(
                f"{self.base_url}/reports", data=body, timeout=REQUEST_TIMEOUT_S,
                headers={"Authorization": f"Bearer {self.token}",
                         "Content-Type": content_type})
            problem = None if response.status_code == 201 else \
                f"{response.status_code} {response.text[:200]}"
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - started
        with self._lock:
            if problem:
                self.refused.append(problem)
            else:
                self.sent.append((started, elapsed))

    def run(self, photos: list[Submission], until: threading.Event) -> None:
        """Send a report every 1/rate seconds, cycling through the photos, until is set."""
        interval = 1.0 / self.rate
        start = time.monotonic()
        # Enough threads that no report waits for another's answer (an open-loop load).
        with ThreadPoolExecutor(max_workers=32, thread_name_prefix="phone") as pool:
            for index in itertools.count():
                delay = start + index * interval - time.monotonic()
                if until.wait(max(0.0, delay)):
                    break
                pool.submit(self.send, as_new_report(photos[index % len(photos)]))

    def latencies(self, since: float, before: float) -> list[float]:
        return [seconds for started, seconds in self.sent if since <= started < before]


def as_new_report(submission: Submission) -> tuple[bytes, str]:
    """The submission's body under a new client_id: a new report, not a retry."""
    claim = json.loads(submission.claim_json)
    claim["client_id"] = str(uuid.uuid4())
    return dataclasses.replace(submission, claim_json=json.dumps(claim)).encoded()


# --- the freeze -------------------------------------------------------------------------------


@dataclass
class Freeze:
    asked_at: float = 0.0
    done_at: float = 0.0
    status: str = ""
    error: str | None = None
    steps: list[tuple[str, float]] = field(default_factory=list)  # (step, first seen at)


def freeze_and_follow(server: Server, token: str, case_id: str, timeout_s: float) -> Freeze:
    """Ask for the dossier (202) and poll its address until it is frozen or failed."""
    result = Freeze()
    with requests.Session() as session:
        result.asked_at = time.monotonic()
        asked = api(session, "POST", f"{server.base_url}/cases/{case_id}/dossiers", token, 202)
        url = f"{server.root_url}{asked['links']['self']}"
        while time.monotonic() - result.asked_at < timeout_s:
            shown = api(session, "GET", url, token, 200)
            step_name = shown["progress"]["step"]
            if not result.steps or result.steps[-1][0] != step_name:
                result.steps.append((step_name, time.monotonic()))
            if shown["status"] != "freezing":
                result.status, result.error = shown["status"], shown.get("error")
                result.done_at = time.monotonic()
                return result
            time.sleep(POLL_S)
    raise BenchError(f"the dossier was not frozen within {timeout_s:.0f} s")


# --- CPU time: the job worker's, the rest of the server's, and everything else's ---------


@dataclass(frozen=True)
class Cpu:
    """CPU seconds so far of the job worker (with its children), the rest of the server,
    and the whole machine."""

    jobs: float
    server: float
    machine: float

    @classmethod
    def take(cls, server: Server) -> Cpu:
        tree = process_tree(server.pid)
        workers = [pid for pid in tree if b"jobs\0work" in _cmdline(pid)]
        jobs = {pid for worker in workers for pid in process_tree(worker)}
        return cls(jobs=sum(cpu_seconds(pid) for pid in jobs),
                   server=sum(cpu_seconds(pid) for pid in tree if pid not in jobs),
                   machine=machine_busy_seconds())

    def since(self, earlier: Cpu, seconds: float) -> str:
        """Cores kept busy on average meanwhile, by whom."""
        jobs, server = self.jobs - earlier.jobs, self.server - earlier.server
        others = self.machine - earlier.machine - jobs - server
        return (f"job worker {jobs / seconds:.2f}, rest of the server {server / seconds:.2f}, "
                f"everything else {max(others, 0) / seconds:.2f}")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# --- figures ----------------------------------------------------------------------------------


def describe(name: str, latencies: list[float]) -> str:
    if not latencies:
        return f"{name:<28} no answers"
    return (f"{name:<28} {len(latencies):>4} reports   p50 {percentile(latencies, .5)*1e3:6.0f} ms"
            f"   p95 {percentile(latencies, .95)*1e3:6.0f} ms   max {max(latencies)*1e3:6.0f} ms")


def print_figures(args, intake: Intake, windows: dict[str, tuple[float, float]],
                  freeze: Freeze, cpu: dict[str, str]) -> None:
    latencies = {name: intake.latencies(*window) for name, window in windows.items()}
    print(f"\nFreeze of a {args.photos}-photo dossier (its photos analysed by the freeze) while "
          f"{args.photo_mb:g} MB reports arrive at {args.rate:g}/s (one run, `fieldapp serve`, "
          f"no background analysers, the job worker at its default priority)")
    for name in ("before", "during", "after"):
        print(describe(f"intake {name} the freeze", latencies[name]))
    if latencies["before"] and latencies["during"]:
        during = percentile(latencies["during"], .95)
        ratio = during / percentile(latencies["before"], .95)
        print(f"{'p95 during / p95 before':<28} {ratio:.2f}x   target <= {TARGET_RATIO:g}x   "
              f"{verdict(ratio <= TARGET_RATIO)}")
        if latencies["after"]:
            print(f"{'p95 during / p95 after':<28} "
                  f"{during / percentile(latencies['after'], .95):.2f}x   (for comparison)")
    print(f"{'freeze':<28} {freeze.status} in {freeze.done_at - freeze.asked_at:.1f} s"
          + (f": {freeze.error}" if freeze.error else ""))
    marks = freeze.steps + [("end", freeze.done_at)]
    for (name, at), (_, until) in zip(marks, marks[1:], strict=False):
        print(f"    {name:<24} {until - at:6.1f} s")
    for name in ("before", "during", "after"):
        print(f"{'cores busy ' + name:<28} {cpu[name]}")
    if intake.refused:
        print(f"refused reports: {len(intake.refused)}; first: {intake.refused[0]}")


def run(args: argparse.Namespace, cleanup: ExitStack) -> None:
    work = Path(tempfile.mkdtemp(prefix="fieldapp-bench-freeze-"))
    cleanup.callback(shutil.rmtree, work, ignore_errors=True)
    create_database(BENCH_DB)
    cleanup.callback(drop_database, BENCH_DB)
    # One volunteer sends every report here: no daily quota (0: unlimited).
    env = server_env(BENCH_DB, work / "data", free_port(), FIELDAPP_ANALYSERS="0",
                     FIELDAPP_MAX_PHOTO_BYTES=str(int(args.photo_mb * 2 * MB)),
                     FIELDAPP_QUOTA_REPORTS_PER_DAY="0", FIELDAPP_QUOTA_BYTES_PER_DAY="0")
    fieldapp_cli(env, "db", "upgrade")
    tokens = {role: make_user(env, f"bench-{role}@example.org", role)
              for role in ("volunteer", "coordinator", "lawyer")}
    step(f"making {args.photos + args.distinct} photos of {args.photo_mb:g} MB")
    submissions = make_submissions(args.photos + args.distinct, int(args.photo_mb * MB))
    case_photos, intake_photos = submissions[:args.photos], submissions[args.photos:]
    server = Server(env, work / "serve.log")
    cleanup.callback(server.stop)
    server.wait_until_healthy()
    step(f"filing {args.photos} photos into a case")
    case_id = build_case(server, tokens, case_photos)

    step(f"intake alone for {args.before_s:g} s, then the freeze, then {args.after_s:g} s more")
    intake = Intake(server.base_url, tokens["volunteer"], args.rate)
    stop = threading.Event()
    sender = threading.Thread(target=intake.run, args=(intake_photos, stop), daemon=True)
    marks = [(time.monotonic(), Cpu.take(server))]
    sender.start()
    time.sleep(args.before_s)
    marks.append((time.monotonic(), Cpu.take(server)))
    freeze = freeze_and_follow(server, tokens["lawyer"], case_id, args.freeze_max_s)
    marks.append((time.monotonic(), Cpu.take(server)))
    time.sleep(args.after_s)
    marks.append((time.monotonic(), Cpu.take(server)))
    stop.set()
    sender.join(REQUEST_TIMEOUT_S)
    names = ("before", "during", "after")
    windows = {"before": (marks[0][0], marks[1][0]), "during": (freeze.asked_at, freeze.done_at),
               "after": (marks[2][0], marks[3][0])}
    cpu = {name: later[1].since(earlier[1], later[0] - earlier[0])
           for name, earlier, later in zip(names, marks[:-1], marks[1:], strict=True)}
    print_figures(args, intake, windows, freeze, cpu)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with ExitStack() as cleanup:
        run(args, cleanup)
    return 0


if __name__ == "__main__":
    from common import run as run_main

    run_main(main)
