"""Ingest benchmark: photo reports posted over HTTP to a real gunicorn server.

Prints reports/s, p50/p95 latency and the server's peak RSS beside a floor measured in the
same run on the same bytes (SHA-256, write, fsync, one INSERT; before and after the HTTP
run, the faster counting), and the RSS growth caused by one ~100 MB upload. It prints
figures; it is not a test.

    .venv/bin/python bench/ingest.py [--reports N] [--clients K] [--photo-mb 3] [--workers W]

Everything it needs is made here and removed afterwards, even on failure: a database cloned
from the PostGIS template, a temp data dir, a volunteer and token, the server process.

The photos are 12-megapixel JPEGs as a phone writes them (EXIF with GPS and capture time,
and an EXIF thumbnail), each a different picture. The server's CPU time per report is
printed too, with the cores that other processes kept busy meanwhile: on a shared machine
that tells a slow server from a crowded one. MB means 2**20 bytes throughout.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import requests
from PIL import Image, ImageChops
from urllib3 import encode_multipart_formdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 (the benchmark folder is not a package)
    MB,
    TEMPLATE_DB,
    BenchError,
    RssSampler,
    Server,
    create_database,
    database_url,
    drop_database,
    fieldapp_cli,
    free_port,
    make_user,
    owner_database_url,
    parent_pid,
    percentile,
    process_tree,
    server_env,
    tree_rss,
    verdict,
)

from fieldapp.photogen import make_exif, phone_jpeg, scene  # noqa: E402

BENCH_DB = "fieldapp_bench"
VOLUNTEER_EMAIL = "bench-volunteer@example.org"

TARGET_REPORTS_PER_S = 50
TARGET_FLOOR_RATIO = 4
TARGET_BIG_UPLOAD_RSS_MB = 50
BIG_PHOTO_MB = 100
SERVER_MAX_PHOTO_BYTES = 200 * MB

PHOTO_PIXELS = (4032, 3024)  # a 12-megapixel phone photo
REQUEST_TIMEOUT_S = 600

CHINA = timezone(timedelta(hours=8))
CLAIM_LON, CLAIM_LAT = 113.39, 23.18  # Guangzhou
# Photos are taken shortly before "now" so that no time check sees them in the future.
TAKEN_BASE = datetime.now(CHINA).replace(microsecond=0) - timedelta(hours=2)


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=300, help="reports to post (N)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (K)")
    parser.add_argument("--photo-mb", type=float, default=3.0, help="size of each JPEG")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: FIELDAPP_WORKERS, or cores + 1)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed small reports first (default: 2 per client)")
    args = parser.parse_args(argv)
    if args.reports < 1 or args.clients < 1 or args.photo_mb <= 0:
        parser.error("--reports and --clients must be >= 1 and --photo-mb > 0")
    if args.warmup is None:
        args.warmup = 2 * args.clients
    return args


# --- database, account and server ---------------------------------------------------------


def prepare_volunteer(env: dict) -> str:
    """Migrate the bench database, create a volunteer and return their API token."""
    fieldapp_cli(env, "db", "upgrade")
    return make_user(env, VOLUNTEER_EMAIL, "volunteer")


def ingest_server_env(data_dir: Path, workers: int | None) -> dict:
    # The per-photo cap must let the ~100 MB photo through.
    extra = {"FIELDAPP_MAX_PHOTO_BYTES": str(SERVER_MAX_PHOTO_BYTES),
             # One volunteer sends every report here: no daily quota.
             "FIELDAPP_QUOTA_REPORTS_PER_DAY": "0", "FIELDAPP_QUOTA_BYTES_PER_DAY": "0"}
    if workers is not None:
        extra["FIELDAPP_WORKERS"] = str(workers)
    return server_env(BENCH_DB, data_dir, free_port(), **extra)


def worker_count(server: Server) -> int:
    """gunicorn's web workers: the gunicorn processes whose parent is gunicorn's master."""
    return sum(1 for pid in process_tree(server.pid)[1:]
               if is_gunicorn(pid) and is_gunicorn(parent_pid(str(pid))))


def photos_waiting() -> int:
    with psycopg2.connect(database_url(BENCH_DB)) as connection, connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM photos WHERE analysed_at IS NULL")
        return cur.fetchone()[0]


def wait_for_analysis(timeout_s: float = 1800) -> float:
    """Seconds until the analysers have settled every photo received so far."""
    started = time.perf_counter()
    while photos_waiting():
        if time.perf_counter() - started > timeout_s:
            raise BenchError(f"photos still waiting for analysis after {timeout_s:.0f} s")
        time.sleep(0.1)
    return time.perf_counter() - started


def log_tail(server: Server, lines: int = 30) -> str:
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- CPU time: the server's, this script's and the machine's -----------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    user, system = stat.rpartition(")")[2].split()[11:13]
    return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time spent by every core on anything but idling or waiting for I/O."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


# The parts of `fieldapp serve`, told apart by command line; the first that matches names it.
PROCESS_KINDS = (("analysers", b"evidence\0analyse"), ("job worker", b"jobs\0work"),
                 ("nginx", b"nginx"), ("gunicorn", b"gunicorn"),
                 ("supervisord", b"supervisord"))


def process_kind(pid: int) -> str:
    cmdline = _cmdline(pid)
    return next((kind for kind, marker in PROCESS_KINDS if marker in cmdline), "other")


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far: the server's tree by kind of process (see PROCESS_KINDS), this
    process, and the whole machine."""

    by_kind: dict[str, float]
    bench: float
    machine: float

    @classmethod
    def take(cls, root: int) -> CpuSnapshot:
        own = os.times()
        by_kind: dict[str, float] = {}
        for pid in process_tree(root):
            kind = process_kind(pid)
            by_kind[kind] = by_kind.get(kind, 0.0) + cpu_seconds(pid)
        return cls(by_kind, bench=own.user + own.system, machine=machine_busy_seconds())

    @property
    def server(self) -> float:
        return sum(self.by_kind.values())

    def __sub__(self, earlier: CpuSnapshot) -> CpuSnapshot:
        kinds = self.by_kind.keys() | earlier.by_kind.keys()
        return CpuSnapshot({k: self.by_kind.get(k, 0.0) - earlier.by_kind.get(k, 0.0)
                            for k in kinds},
                           self.bench - earlier.bench, self.machine - earlier.machine)


def is_gunicorn(pid: int | None) -> bool:
    return b"gunicorn" in _cmdline(pid)


def _cmdline(pid: int | None) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# --- photos and claims ------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    claim_json: str
    photo: bytes
    filename: str

    def encoded(self) -> tuple[bytes, str]:
        """The multipart/form-data body a phone sends, and its content type."""
        return encode_multipart_formdata({
            "report": self.claim_json, "photos": (self.filename, self.photo, "image/jpeg")})


# Offsets into the past, in seconds, that keep each kind of photo's capture time distinct.
WARMUP_TAKEN_OFFSET = 20_000
BIG_PHOTO_TAKEN_OFFSET = 30_000


def taken_at(seconds_before: int) -> datetime:
    return TAKEN_BASE - timedelta(seconds=seconds_before)


def photo_exif(index: int, taken: datetime) -> Image.Exif:
    # A few metres from the claimed point, as a phone's GPS fix would be.
    jitter = random.Random(index)
    return make_exif(lat=CLAIM_LAT + jitter.uniform(-1e-4, 1e-4),
                     lon=CLAIM_LON + jitter.uniform(-1e-4, 1e-4), taken=taken, gps_time=taken)


def claim_json(taken: datetime) -> str:
    """A claim in the shape tests/helpers.report_json makes, observed when the photo was taken."""
    return json.dumps({
        "client_id": str(uuid.uuid4()),
        "category": "water",
        "description": "Dark outflow from the pipe east of the dye works",
        "observed_at": taken.isoformat(),
        "location": {"lon": CLAIM_LON, "lat": CLAIM_LAT, "crs": "wgs84", "accuracy_m": 12},
        "site_id": None,
    })


def noise_texture(size: tuple[int, int], seed: int = 0) -> Image.Image:
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def textured_scene(seed: int, noise: Image.Image, noise_weight: float) -> Image.Image:
    """A distinct scene per seed under sensor-like noise (shifted per seed, so never repeated).

    Flat shapes alone compress to a few hundred kB; the noise is what brings a 12-megapixel
    JPEG to the size a phone writes.
    """
    shift = random.Random(seed)
    grain = ImageChops.offset(noise, shift.randrange(noise.width), shift.randrange(noise.height))
    return Image.blend(scene(seed, noise.size), grain, noise_weight)


def noise_weight_for(target_bytes: int, noise: Image.Image) -> float:
    """The noise weight giving JPEGs of about target_bytes, found by bisection on one scene."""
    low, high = 0.0, 1.0
    for _ in range(10):
        middle = (low + high) / 2
        size = len(phone_jpeg(textured_scene(0, noise, middle), photo_exif(0, TAKEN_BASE)))
        low, high = (middle, high) if size < target_bytes else (low, middle)
    return (low + high) / 2


def make_submissions(count: int, photo_bytes: int) -> list[Submission]:
    noise = noise_texture(PHOTO_PIXELS)
    weight = noise_weight_for(photo_bytes, noise)

    def one(index: int) -> Submission:
        taken = taken_at(index)
        photo = phone_jpeg(textured_scene(index + 1, noise, weight), photo_exif(index, taken))
        return Submission(claim_json(taken), photo, f"IMG_{index:05d}.jpg")

    # Pillow releases the GIL while blending and encoding, so threads use every core.
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        submissions = list(pool.map(one, range(count)))
    distinct = {hashlib.sha256(s.photo).digest() for s in submissions}
    if len(distinct) != count:
        raise BenchError("generated photos repeat; the server would deduplicate them")
    return submissions


def make_warmup_submissions(count: int) -> list[Submission]:
    """Small photos that take every worker through imports and its first connections."""
    result = []
    for index in range(count):
        taken = taken_at(WARMUP_TAKEN_OFFSET + index)
        photo = phone_jpeg(scene(WARMUP_TAKEN_OFFSET + index), photo_exif(index, taken))
        result.append(Submission(claim_json(taken), photo, f"WARM_{index:03d}.jpg"))
    return result


def big_noise_jpeg(target_bytes: int, taken: datetime) -> bytes:
    """A decodable JPEG of at least target_bytes: pure noise, quality 100, no chroma subsampling.

    Noise defeats compression (about 4 bytes a pixel), so 100 MB needs only ~25 megapixels,
    well under Pillow's decompression-bomb limit that the server applies.
    """
    side = int((target_bytes / 4) ** 0.5)
    while True:
        photo = phone_jpeg(noise_texture((side, side), seed=side), photo_exif(0, taken),
                           quality=100, subsampling=0)
        if len(photo) >= target_bytes:
            return photo
        side = int(side * (target_bytes / len(photo)) ** 0.5) + 16


# --- running jobs on client threads -----------------------------------------------------------


@dataclass
class Timed:
    wall_s: float
    durations_s: list[float]
    results: list


def run_on_threads(jobs: Iterable, clients: int, open_resource: Callable,
                   handle: Callable) -> Timed:
    """handle(resource, job) for every job, on `clients` threads each with its own resource."""
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    durations: list[float] = []
    results: list = []
    abandoned = threading.Event()

    def drain() -> None:
        resource = open_resource()
        try:
            while not abandoned.is_set():
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                results.append(handle(resource, job))
                durations.append(time.perf_counter() - started)
        finally:
            resource.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients, thread_name_prefix="client") as pool:
        try:
            for future in [pool.submit(drain) for _ in range(clients)]:
                future.result()
        except BaseException:
            # Interrupted or one client failed: finish the requests in flight, start no more.
            abandoned.set()
            raise
    return Timed(time.perf_counter() - started, durations, results)


# --- the HTTP run -----------------------------------------------------------------------------


def post_report(base_url: str, token: str) -> Callable:
    """Post one pre-encoded body (see post_all) and return (status, start of the answer)."""

    def post(session: requests.Session, encoded: tuple[bytes, str]) -> tuple[int, str]:
        body, content_type = encoded
        response = session.post(
            f"{base_url}/reports", data=body, timeout=REQUEST_TIMEOUT_S,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        return response.status_code, response.text[:300]

    return post


def post_all(server: Server, token: str, submissions: list[Submission], clients: int) -> Timed:
    # The clients share the server's two cores, so the bodies are encoded before the clock
    # starts: the run then spends its CPU on sending them, as phones would, not on building.
    bodies = [submission.encoded() for submission in submissions]
    timed = run_on_threads(bodies, clients, requests.Session,
                           post_report(server.base_url, token))
    refused = [(status, body) for status, body in timed.results if status != 201]
    if refused:
        status, body = refused[0]
        raise BenchError(f"{len(refused)} of {len(submissions)} reports were not answered 201; "
                         f"first: {status} {body}")
    return timed


def big_upload_rss_increase(server: Server, token: str) -> tuple[int, int]:
    """(photo bytes, peak RSS growth) of one ~100 MB report posted to the idle server,
    its analysis included (the analysers are part of the server's process tree)."""
    taken = taken_at(BIG_PHOTO_TAKEN_OFFSET)
    photo = big_noise_jpeg(BIG_PHOTO_MB * MB, taken)
    submission = Submission(claim_json(taken), photo, "BIG.jpg")
    idle = tree_rss(server.pid)
    with RssSampler(server.pid) as sampler:
        with requests.Session() as session:
            status, body = post_report(server.base_url, token)(session, submission.encoded())
        if status == 201:
            wait_for_analysis()
    if status != 201:
        raise BenchError(f"the {BIG_PHOTO_MB} MB report was answered {status}: {body}")
    return len(submission.photo), sampler.peak - idle


# --- the floor: the same bytes hashed, written, fsynced and recorded, nothing more ------------


def create_floor_table(owner_dsn: str) -> None:
    """Made by the schema owner, written by the app's role: the floor's INSERT runs with the
    privileges the server has."""
    connection = psycopg2.connect(owner_dsn)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, "
                           "sha256 text NOT NULL, size bigint NOT NULL)")
            cursor.execute("GRANT INSERT ON bench_floor TO fieldapp_app")
            cursor.execute("GRANT USAGE ON SEQUENCE bench_floor_id_seq TO fieldapp_app")
    finally:
        connection.close()


def store_minimally(folder: Path) -> Callable:
    def store(connection, submission: Submission) -> None:
        digest = hashlib.sha256(submission.photo).hexdigest()
        descriptor, _ = tempfile.mkstemp(dir=folder, prefix="floor-")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(submission.photo)
            handle.flush()
            os.fsync(handle.fileno())
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_floor (sha256, size) VALUES (%s, %s)",
                           (digest, len(submission.photo)))
        connection.commit()

    return store


def measure_floor(submissions: list[Submission], clients: int, data_dir: Path) -> Timed:
    dsn = database_url(BENCH_DB)
    create_floor_table(owner_database_url(BENCH_DB))
    folder = Path(tempfile.mkdtemp(dir=data_dir, prefix="floor-"))
    try:
        return run_on_threads(submissions, clients, lambda: psycopg2.connect(dsn),
                              store_minimally(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- report -----------------------------------------------------------------------------------


@dataclass
class Figures:
    reports: int
    clients: int
    workers: int
    photo_mb: float
    ingest: Timed
    peak_rss: int
    cpu: CpuSnapshot
    floors: list[Timed]
    big_photo_bytes: int
    big_rss_increase: int
    analysis_lag_s: float

    @property
    def reports_per_s(self) -> float:
        return self.reports / self.ingest.wall_s

    @property
    def analysed_per_s(self) -> float:
        """Reports received and fully analysed, from the first post to the last analysis."""
        return self.reports / (self.ingest.wall_s + self.analysis_lag_s)

    @property
    def floor_per_s(self) -> float:
        """The best floor measured: other load can only slow it, never speed it up."""
        return self.reports / min(floor.wall_s for floor in self.floors)

    @property
    def floor_ratio(self) -> float:
        return self.floor_per_s / self.reports_per_s

    @property
    def server_cpu_ms(self) -> float:
        return self.cpu.server / self.reports * 1000

    @property
    def other_cores(self) -> float:
        """Cores busy outside the server and this script: PostgreSQL and any other load."""
        return (self.cpu.machine - self.cpu.server - self.cpu.bench) / self.ingest.wall_s


def print_table(f: Figures) -> None:
    latencies_ms = [d * 1000 for d in f.ingest.durations_s]
    rows = [
        ("reports", f"{f.reports}", "", ""),
        ("clients", f"{f.clients}", "", ""),
        ("gunicorn workers", f"{f.workers}", "", ""),
        ("photo size (mean)", f"{f.photo_mb:.2f} MB", "", ""),
        ("reports/s", f"{f.reports_per_s:.1f}", f">= {TARGET_REPORTS_PER_S}",
         verdict(f.reports_per_s >= TARGET_REPORTS_PER_S)),
        ("latency p50", f"{statistics.median(latencies_ms):.0f} ms", "", ""),
        ("latency p95", f"{percentile(latencies_ms, 0.95):.0f} ms", "", ""),
        ("server peak RSS (tree)", f"{f.peak_rss / MB:.0f} MB", "", ""),
        ("analysis done after last answer", f"{f.analysis_lag_s:.1f} s", "", ""),
        ("  received and analysed/s", f"{f.analysed_per_s:.1f}", "", ""),
        ("server CPU per report", f"{f.server_cpu_ms:.0f} ms", "", ""),
        *((f"  {kind}", f"{seconds / f.reports * 1000:.1f} ms", "", "")
          for kind, seconds in sorted(f.cpu.by_kind.items(), key=lambda kv: -kv[1])),
        ("bench clients' CPU per report", f"{f.cpu.bench / f.reports * 1000:.0f} ms", "", ""),
        ("  ceiling if CPU-bound (server)", f"{os.cpu_count() * 1000 / f.server_cpu_ms:.1f}/s",
         "", ""),
        ("cores busy: PostgreSQL + others", f"{f.other_cores:.2f}", "", ""),
        ("floor reports/s (best)", f"{f.floor_per_s:.1f}", "", ""),
        ("  before / after the run", " / ".join(f"{f.reports / t.wall_s:.0f}" for t in f.floors),
         "", ""),
        ("floor / server", f"{f.floor_ratio:.2f}x", f"<= {TARGET_FLOOR_RATIO}x",
         verdict(f.floor_ratio <= TARGET_FLOOR_RATIO)),
        (f"{f.big_photo_bytes / MB:.0f} MB upload: RSS increase",
         f"{f.big_rss_increase / MB:.1f} MB", f"< {TARGET_BIG_UPLOAD_RSS_MB} MB",
         verdict(f.big_rss_increase < TARGET_BIG_UPLOAD_RSS_MB * MB)),
    ]
    print(f"\nfieldapp ingest benchmark ({os.cpu_count()} CPUs)")
    print(f"{'':32}{'figure':>14}  {'target':>10}  result")
    for name, value, target, result in rows:
        print(f"{name:32}{value:>14}  {target:>10}  {result}")


# --- main -------------------------------------------------------------------------------------


def step(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def run(args: argparse.Namespace, cleanup: ExitStack) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-bench-"))
    cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
    data_dir = workdir / "data"
    data_dir.mkdir()

    step(f"generating {args.reports} distinct photos of ~{args.photo_mb:g} MB")
    submissions = make_submissions(args.reports, int(args.photo_mb * MB))
    warmup = make_warmup_submissions(args.warmup)

    step(f"creating database {BENCH_DB} from {TEMPLATE_DB}")
    create_database(BENCH_DB)
    cleanup.callback(drop_database, BENCH_DB)
    env = ingest_server_env(data_dir, args.workers)
    token = prepare_volunteer(env)

    server = Server(env, workdir / "gunicorn.log")
    cleanup.callback(server.stop)
    try:
        return measure(args, server, token, submissions, warmup, data_dir)
    except Exception:
        print(f"--- gunicorn log (tail) ---\n{log_tail(server)}", file=sys.stderr)
        raise


def measure(args, server: Server, token: str, submissions: list[Submission],
            warmup: list[Submission], data_dir: Path) -> Figures:
    server.wait_until_healthy()
    step(f"gunicorn up at {server.base_url} with {worker_count(server)} workers; "
         f"warming up with {len(warmup)} small reports")
    post_all(server, token, warmup, args.clients)
    wait_for_analysis()  # the floor is measured on an idle server

    step("measuring the floor: SHA-256 + write + fsync + INSERT of the same bytes")
    floors = [measure_floor(submissions, args.clients, data_dir)]

    step(f"posting {len(submissions)} reports with {args.clients} clients")
    cpu_before = CpuSnapshot.take(server.pid)
    with RssSampler(server.pid) as sampler:
        ingest = post_all(server, token, submissions, args.clients)
    cpu_used = CpuSnapshot.take(server.pid) - cpu_before
    step("waiting for the analysers to settle every photo")
    analysis_lag = wait_for_analysis()

    step(f"posting one ~{BIG_PHOTO_MB} MB report to the idle server")
    big_bytes, big_increase = big_upload_rss_increase(server, token)

    step("measuring the floor again; the faster of the two counts, as load only slows it")
    floors.append(measure_floor(submissions, args.clients, data_dir))

    mean_mb = statistics.fmean(len(s.photo) for s in submissions) / MB
    return Figures(args.reports, args.clients, worker_count(server), mean_mb, ingest,
                   sampler.peak, cpu_used, floors, big_bytes, big_increase, analysis_lag)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A plain SIGTERM would end the process without unwinding; exiting runs every cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("[bench] terminated; cleaned up"))
    try:
        with ExitStack() as cleanup:
            figures = run(args, cleanup)
    except (BenchError, psycopg2.Error, requests.RequestException) as exc:
        print(f"[bench] failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[bench] interrupted; cleaned up", file=sys.stderr)
        return 130
    print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
