"""`fieldapp serve`: prepare the proxy's and the supervisor's files, then become supervisord.

Everything the stack writes lives under FIELDAPP_DATA_DIR/serving/ (configuration, pid
files, gunicorn's socket, nginx's temp files), on the same disk as the evidence, so a
request body spooled by nginx never fills a small /tmp.
"""
from __future__ import annotations

import errno
import os
import pwd
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fieldapp.serving.proxy import ProxySettings, nginx_conf
from fieldapp.serving.supervision import Program, supervisord_conf

DEFAULT_APP = "fieldapp:create_app()"
# sockaddr_un holds 108 bytes; a deeper data dir puts the socket in a private temp dir.
MAX_SOCKET_PATH = 100
# nginx's graceful stop (SIGQUIT) lets requests in flight finish, up to this long.
NGINX_STOP_WAIT_S = 20


class ServeError(Exception):
    """The stack cannot start as configured; the message says what to change."""


@dataclass(frozen=True)
class Plan:
    """What `fieldapp serve` will run, written to disk."""

    supervisord_conf: Path
    nginx_conf: Path
    socket: Path
    programs: list[Program]


def prepare(config, *, with_jobs: bool, app_spec: str = DEFAULT_APP) -> Plan:
    """Check the machine, write nginx.conf and supervisord.conf; start nothing yet."""
    nginx = _nginx_binary()
    data_dir = Path(config["FIELDAPP_DATA_DIR"])
    serving = data_dir / "serving"
    serving.mkdir(parents=True, exist_ok=True)
    owner = _workers_user(data_dir)
    # gunicorn's socket is in here: only nginx may reach the app, so that no local process
    # can talk to it directly with an X-Forwarded-For of its choosing.
    serving.chmod(0o700)
    if owner:
        shutil.chown(serving, owner.pw_uid, owner.pw_gid)
    sock = _socket_path(serving)  # refuses if another stack serves from this directory
    if owner:
        shutil.chown(sock.parent, owner.pw_uid, owner.pw_gid)
    _check_bind_free(config["FIELDAPP_BIND"])
    temp = serving / "temp"
    # Bodies and responses spooled by a proxy that was killed: nothing reads them again.
    shutil.rmtree(temp, ignore_errors=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (temp / sub).mkdir(parents=True, mode=0o700)
        if owner:
            shutil.chown(temp / sub, owner.pw_uid, owner.pw_gid)

    settings = ProxySettings(
        listen=config["FIELDAPP_BIND"], upstream_socket=sock, run_dir=serving, temp_dir=temp,
        max_body_bytes=config["MAX_CONTENT_LENGTH"],
        header_timeout_s=config["FIELDAPP_CLIENT_HEADER_TIMEOUT_S"],
        body_timeout_s=config["FIELDAPP_CLIENT_BODY_TIMEOUT_S"],
        app_timeout_s=config["FIELDAPP_TIMEOUT"],
        temp_file_mb=config["FIELDAPP_PROXY_TEMP_FILE_MB"],
        downloads=config["FIELDAPP_PROXY_DOWNLOADS"],
        tls_cert=_readable(config, "FIELDAPP_TLS_CERT"),
        tls_key=_readable(config, "FIELDAPP_TLS_KEY"),
        user=f"{owner.pw_name} {_group_name(owner.pw_gid)}" if owner else None,
        open_files=_open_files_limit(),
    )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ServeError("set both FIELDAPP_TLS_CERT and FIELDAPP_TLS_KEY, or neither")
    nginx_path = serving / "nginx.conf"
    nginx_path.write_text(nginx_conf(settings))
    nginx_command = [nginx, "-p", str(serving), "-c", str(nginx_path), "-e", "stderr"]
    test = subprocess.run([*nginx_command, "-t", "-q"], capture_output=True, text=True)
    if test.returncode != 0:
        raise ServeError(f"nginx refuses {nginx_path}:\n{test.stderr.strip()}")

    programs = _programs(config, nginx_command, sock, temp / "body", with_jobs, app_spec)
    supervisor_path = serving / "supervisord.conf"
    supervisor_path.write_text(supervisord_conf(
        programs, serving, user="root" if os.geteuid() == 0 else None))
    return Plan(supervisor_path, nginx_path, sock, programs)


def run(plan: Plan) -> None:
    """Replace this process with supervisord: the stack's signals go straight to it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "supervisor.supervisord",
                              "-c", str(plan.supervisord_conf)])


def _programs(config, nginx_command, sock: Path, body_dir: Path, with_jobs: bool,
              app_spec: str):
    python = sys.executable
    # gunicorn trusts X-Forwarded-For/-Proto from nginx, plus any proxies named in front.
    hops = max(1, config["FIELDAPP_PROXY_HOPS"])
    programs = [
        Program("gunicorn", [
            python, "-m", "gunicorn", "--config", "python:fieldapp.serving.gunicorn_conf",
            "--bind", f"unix:{sock}", "--workers", str(config["FIELDAPP_WORKERS"]),
            "--threads", str(config["FIELDAPP_THREADS"]),
            "--timeout", str(config["FIELDAPP_TIMEOUT"]),
            "--env", f"FIELDAPP_PROXY_HOPS={hops}",
            "--env", f"FIELDAPP_PROXY_BODY_DIR={body_dir}", app_spec],
            priority=10, start_s=3, stop_wait_s=35),
    ]
    if config["FIELDAPP_ANALYSERS"] > 0:
        programs.append(Program(
            "analyser", [python, "-m", "fieldapp.cli", "evidence", "analyse", "--follow",
                         "--idle-priority"],
            priority=20, start_s=3, count=config["FIELDAPP_ANALYSERS"]))
    if with_jobs:
        programs.append(Program("jobs", [python, "-m", "fieldapp.cli", "jobs", "work"],
                                priority=20, start_s=3, stop_wait_s=30))
    # Started last, stopped first (gracefully: requests in flight still reach gunicorn).
    programs.append(Program("nginx", nginx_command, priority=30, stop_signal="QUIT",
                            stop_wait_s=NGINX_STOP_WAIT_S, start_s=1))
    return programs


def _nginx_binary() -> str:
    # /usr/sbin is often missing from an unprivileged user's PATH.
    found = shutil.which("nginx", path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"]))
    if found is None:
        raise ServeError("nginx is not installed (Debian: apt-get install nginx; "
                         "`make run` installs it)")
    return found


def _workers_user(data_dir: Path):
    """As root, nginx's workers run as whoever owns the data directory (they write temp
    files there); otherwise nginx cannot switch users and runs as we do."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwuid(data_dir.stat().st_uid)


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def _socket_path(serving: Path) -> Path:
    sock = serving / "gunicorn.sock"
    if len(str(sock)) > MAX_SOCKET_PATH:
        sock = Path(tempfile.mkdtemp(prefix="fieldapp-")) / "gunicorn.sock"
    if sock.exists():
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(str(sock))
        except OSError:
            sock.unlink()  # left by a stack that was killed
        else:
            raise ServeError(f"another `fieldapp serve` is using {serving.parent}")
        finally:
            probe.close()
    return sock


def _check_bind_free(bind: str) -> None:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ServeError(f"FIELDAPP_BIND must be host:port, got {bind!r}")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, int(port)))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"FIELDAPP_BIND {bind} is already in use") from None
        raise ServeError(f"cannot listen on FIELDAPP_BIND {bind}: {exc.strerror}") from None
    finally:
        probe.close()


def _open_files_limit() -> int:
    # Any process may raise its soft limit up to the hard one; nginx's workers do.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)


def _readable(config, name: str) -> Path | None:
    value = config.get(name)
    if not value:
        return None
    path = Path(value).resolve()
    if not os.access(path, os.R_OK):
        raise ServeError(f"{name}: cannot read {path}")
    return path
