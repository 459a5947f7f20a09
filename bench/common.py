"""Pieces every benchmark shares: a throw-away database, the fieldapp CLI, a real gunicorn
server, and the resident memory of its process tree. Benchmarks print figures; they are not
tests.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
# The interpreter running a benchmark is the venv's, so its console scripts sit beside it.
BIN = Path(sys.executable).parent
MB = 1024 * 1024
# Where scripts/postgis.sh keeps this machine's two database URLs and their passwords.
DATABASE_ENV = Path(os.environ.get("FIELDAPP_DATABASE_ENV", "/etc/fieldapp/database.env"))
TEMPLATE_DB = os.environ.get("FIELDAPP_BENCH_TEMPLATE_DB", "fieldapp_template")
SAMPLE_INTERVAL_S = 0.05
HEALTH_TIMEOUT_S = 60


class BenchError(Exception):
    """The benchmark could not run as intended; the message says why."""


# --- database and CLI -------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _database_env(variable: str) -> str:
    if not DATABASE_ENV.exists():
        raise SystemExit(f"{DATABASE_ENV} not found: run scripts/postgis.sh first")
    return dotenv_values(DATABASE_ENV)[variable]


# The schema owner creates, migrates, loads and drops a benchmark's database; the server and
# its CLI connect as the app's login role (a member of fieldapp_app), as in production.
ADMIN_URL = _with_database(_database_env("FIELDAPP_OWNER_DATABASE_URL"), "postgres")
APP_URL = _database_env("DATABASE_URL")


def database_url(name: str) -> str:
    """The app's URL for that database."""
    return _with_database(APP_URL, name)


def owner_database_url(name: str) -> str:
    return _with_database(ADMIN_URL, name)


def admin_execute(statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    connection = psycopg2.connect(ADMIN_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def create_database(name: str) -> None:
    drop_database(name)
    admin_execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")


def drop_database(name: str) -> None:
    admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fieldapp_cli(env: dict, *args: str, stdin: str | None = None) -> str:
    if args[:1] == ("db",):  # only migrations run as the owner
        database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
        env = {**env, "FIELDAPP_OWNER_DATABASE_URL": owner_database_url(database)}
    result = subprocess.run([str(BIN / "fieldapp"), *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, input=stdin)
    if result.returncode != 0:
        raise BenchError(f"`fieldapp {' '.join(args[:2])}` failed:\n{result.stderr.strip()}")
    return result.stdout


def make_user(env: dict, email: str, role: str) -> str:
    """Create a user through the CLI (with a random password) and return a new API token."""
    fieldapp_cli(env, "users", "create", "--email", email, "--password-stdin", "--role", role,
                 stdin=secrets.token_urlsafe(16) + "\n")
    return fieldapp_cli(env, "users", "token", "--email", email).split()[-1]


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(database: str, data_dir: Path, port: int, **extra: str) -> dict:
    return dict(os.environ, DATABASE_URL=database_url(database),
                FIELDAPP_DATA_DIR=str(data_dir), FIELDAPP_BIND=f"127.0.0.1:{port}", **extra)


class Server:
    """`fieldapp serve` (nginx, gunicorn, analysers) as in production, its output kept in a
    log file."""

    def __init__(self, env: dict, log_path: Path):
        self.root_url = f"http://{env['FIELDAPP_BIND']}"
        self.base_url = f"{self.root_url}/api/v1"
        self.log_path = log_path
        with open(log_path, "wb") as log:
            # A session of its own keeps a Ctrl-C in the terminal from reaching gunicorn
            # before the benchmark's cleanup stops it in order.
            self.process = subprocess.Popen(
                [str(BIN / "fieldapp"), "serve"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The whole stack: supervisord, nginx, gunicorn, the analysers, the job worker."""
        return self.process.pid

    @property
    def web_pid(self) -> int:
        """gunicorn's master, whose tree serves the requests (the stack's other programs,
        nginx, the analysers and the job worker, aside)."""
        for pid in process_tree(self.pid)[1:]:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"gunicorn" in command and parent_pid(str(pid)) == self.pid:
                return pid
        raise BenchError("gunicorn is not running under fieldapp serve")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"fieldapp serve exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # still booting: the master listens before the workers have the app
            time.sleep(0.2)
        raise BenchError(f"no healthy answer from {self.base_url}/health "
                         f"within {HEALTH_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()  # supervisord stops nginx, then the rest, gracefully
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- resident memory of the server's process tree --------------------------------------------


def parent_pid(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; the fields after its last ")" do not.
    return int(stat.rpartition(")")[2].split()[1])


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            parent = parent_pid(entry.name)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        tree.append(pid)
        frontier.extend(children.get(pid, ()))
    return tree


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass  # the process ended between listing and reading
    return 0


def tree_rss(root: int) -> int:
    """Sum of VmRSS over the master and every worker (shared pages count once per process)."""
    return sum(rss_bytes(pid) for pid in process_tree(root))


class RssSampler:
    """Samples the tree's RSS in a background thread while in its `with` block; keeps the peak."""

    def __init__(self, root: int, interval: float = SAMPLE_INTERVAL_S):
        self.root = root
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        self.peak = max(self.peak, tree_rss(self.root))
        self.samples += 1

    def _run(self) -> None:
        while not self._halt.is_set():
            self._sample()
            self._halt.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._halt.set()
        self._thread.join()
        self._sample()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def run(main) -> None:
    """Run a benchmark's main(); a BenchError ends it with its message and exit status 1."""
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(1)
