"""The serving stack as `fieldapp serve` runs it: nginx in front of gunicorn on a unix
socket, the analysers beside them, all under supervisord, against the test database.

Slow clients (tests/slowclients.py) hold connections while the tests ask for health and
submit a 3 MB report; the app must see the client's real address; children that die are
started again; SIGTERM stops every process of the stack. Loopback addresses only; every
wait is bounded.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from urllib3 import encode_multipart_formdata

from tests.helpers import (
    PROJECT_ROOT,
    TEST_DB_URL,
    auth,
    child_pids,
    free_port,
    report_json,
    role_tokens,
)
from tests.imagegen import sized_jpeg
from tests.slowclients import SlowClients

MB = 1024 * 1024
PROBE_APP = "tests.serving_probe:create_app()"
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 90
# Kept small so that a few requests already show whether threads were taken by slow clients.
SMALL_STACK = {"FIELDAPP_WORKERS": "2", "FIELDAPP_THREADS": "2", "FIELDAPP_ANALYSERS": "1",
               "FIELDAPP_MAX_PHOTO_BYTES": str(8 * MB), "FIELDAPP_MAX_PHOTOS": "2"}


def _descendants(pid: int) -> list[int]:
    tree, frontier = [], [pid]
    while frontier:
        children = child_pids(frontier.pop())
        tree += children
        frontier += children
    return tree


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


class Stack:
    """`fieldapp serve` in a process of its own, its output in a log file."""

    def __init__(self, data_dir: Path, **env: str):
        self.port = free_port()
        self.data_dir = data_dir
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("FIELDAPP_PROXY_HOPS", "FIELDAPP_TLS_CERT",
                                      "FIELDAPP_TLS_KEY")}
        environment.update(SMALL_STACK, DATABASE_URL=TEST_DB_URL, FIELDAPP_DATA_DIR=str(data_dir),
                           FIELDAPP_BIND=f"127.0.0.1:{self.port}")
        environment.update(env)
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fieldapp.cli", "serve", "--app", PROBE_APP],
                cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def wait_until_healthy(self, **request_options) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        url = request_options.pop("base", self.base) + "/api/v1/health"
        while True:
            assert self.process.poll() is None, f"serve exited:\n{self.log()}"
            try:
                if requests.get(url, timeout=10, **request_options).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # nginx not listening yet, or the workers still loading the app
            assert time.monotonic() < deadline, f"no healthy answer:\n{self.log()}"
            time.sleep(0.25)

    def program(self, marker: bytes) -> list[int]:
        """The stack's programs (children of supervisord) whose command line holds marker."""
        return [pid for pid in child_pids(self.process.pid) if marker in _cmdline(pid)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def tokens(app):
    return role_tokens(app, "serving")


LEFTOVERS = ("tmp/catalog-0badc0de/manifest.json", "serving/temp/body/1/00/0000000001")


@pytest.fixture(scope="module")
def stack(app, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("serving-data")
    # What a stack killed mid-request leaves: an app spool and a body spooled by nginx.
    two_days_ago = time.time() - 2 * 86400
    for leftover in LEFTOVERS:
        path = data_dir / leftover
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half a photo")
        os.utime(path.parent, (two_days_ago, two_days_ago))
    running = Stack(data_dir)
    try:
        running.wait_until_healthy()
        yield running
    finally:
        running.stop()


def _claim_and_photo(size: int) -> tuple[dict, bytes]:
    taken = dt.datetime(2026, 5, 4, 10, 31, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    photo = sized_jpeg(size, seed=size, lat=23.18, lon=113.39, taken=taken)
    return report_json(observed_at=taken.isoformat()), photo


def _submit(stack: Stack, token: str, claim: dict, photo: bytes) -> requests.Response:
    body, content_type = encode_multipart_formdata(
        [("report", json.dumps(claim)), ("photos", ("big.jpg", photo, "image/jpeg"))])
    return requests.post(f"{stack.base}/api/v1/reports", data=body, timeout=60,
                         headers={**auth(token), "Content-Type": content_type})


def test_health_answers_while_slow_clients_hold_connections(stack, tokens):
    with SlowClients("127.0.0.1", stack.port, headers=60, uploads=8,
                     token=tokens["volunteer"], hold_s=60) as load:
        time.sleep(2)  # every connection open and trickling
        answers = [requests.get(f"{stack.base}/api/v1/health", timeout=5)
                   for _ in range(10)]
        held = load.still_held()
        dropped = load.dropped
    assert [a.status_code for a in answers] == [200] * 10
    assert max(a.elapsed.total_seconds() for a in answers) < 2
    # The slow clients were all still connected, neither answered nor dropped, meanwhile.
    assert (held, dropped) == (68, 0)
    assert load.sent > 0


def test_a_3_mb_report_is_stored_byte_for_byte_while_slow_clients_hold_connections(
        stack, tokens):
    claim, photo = _claim_and_photo(3 * MB)
    digest = hashlib.sha256(photo).hexdigest()
    with SlowClients("127.0.0.1", stack.port, headers=60, uploads=8,
                     token=tokens["volunteer"], hold_s=60) as load:
        time.sleep(2)
        started = time.monotonic()
        response = _submit(stack, tokens["volunteer"], claim, photo)
        took = time.monotonic() - started
        held = load.still_held()
    assert response.status_code == 201, response.text
    assert took < 30
    assert held == 68
    [stored] = response.json()["photos"]
    assert stored["sha256"] == digest
    original = requests.get(f"{stack.base}/api/v1/photos/{stored['id']}/original",
                            headers=auth(tokens["volunteer"]), timeout=30)
    assert original.status_code == 200
    assert hashlib.sha256(original.content).hexdigest() == digest
    blob = stack.data_dir / "blobs" / digest[:2] / digest[2:4] / digest
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest


def test_a_slow_reader_holds_the_proxy_not_a_gunicorn_thread(stack, tokens):
    claim, photo = _claim_and_photo(5 * MB)
    response = _submit(stack, tokens["volunteer"], claim, photo)
    assert response.status_code == 201, response.text
    photo_id = response.json()["photos"][0]["id"]
    readers = []
    for _ in range(6):  # more than the stack's 4 gunicorn threads
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # reads a little at a time
        reader.connect(("127.0.0.1", stack.port))
        reader.sendall(f"GET /api/v1/photos/{photo_id}/original HTTP/1.1\r\nHost: test\r\n"
                       f"Authorization: Bearer {tokens['volunteer']}\r\n"
                       "User-Agent: slow-reader\r\nConnection: close\r\n\r\n".encode())
        readers.append(reader)
    try:
        time.sleep(3)  # reading nothing
        answers = [requests.get(f"{stack.base}/api/v1/health", timeout=5) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        bodies = []
        for reader in readers:
            received = b""
            while piece := reader.recv(1 << 20):
                received += piece
            bodies.append(received.partition(b"\r\n\r\n")[2])
    finally:
        for reader in readers:
            reader.close()
    assert {hashlib.sha256(body).hexdigest() for body in bodies} == {
        hashlib.sha256(photo).hexdigest()}
    # nginx's log: each download took over 3 s, of which gunicorn spent a fraction.
    deadline = time.monotonic() + 10
    while len(lines := [line for line in stack.log().splitlines() if line.startswith(
            f'127.0.0.0 "GET /api/v1/photos/{photo_id}/original HTTP/1.1" ')]) < 6:
        assert time.monotonic() < deadline, stack.log()
        time.sleep(0.2)
    for line in lines:
        request_s, upstream = line.split('" ')[1].split()[2:4]
        assert float(request_s) >= 3, line
        assert float(upstream.removeprefix("up=")) < 1.5, line


def test_the_proxys_log_holds_a_network_and_a_path_not_an_address_a_place_or_a_phone(
        stack, tokens):
    near = "113.394512,23.178633"
    response = requests.get(f"{stack.base}/api/v1/tasks", params={"near": near},
                            headers={**auth(tokens["volunteer"]),
                                     "User-Agent": "PhoneModel-XYZ-123"}, timeout=30)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 10
    while not (lines := [line for line in stack.log().splitlines()
                         if '"GET /api/v1/tasks HTTP/1.1" 200' in line]):
        assert time.monotonic() < deadline, stack.log()
        time.sleep(0.2)
    assert lines[-1].startswith('127.0.0.0 "GET /api/v1/tasks HTTP/1.1" 200 ')
    log = stack.log()
    for secret in ("113.394512", "23.178633", "PhoneModel"):
        assert secret not in log
    # Only errors (a gunicorn not up yet, at start) name an address, as nginx always does.
    assert not [line for line in log.splitlines() if re.match(r"^\d+[.]\d+[.]\d+[.]\d+ ", line)
                and not line.startswith("127.0.0.0 ")]


def test_a_report_body_reaches_the_app_as_the_proxys_temp_file_then_removed(stack, tokens):
    claim, photo = _claim_and_photo(2 * MB)
    body, content_type = encode_multipart_formdata(
        [("report", json.dumps(claim)), ("photos", ("p.jpg", photo, "image/jpeg"))])
    # A client naming a file of its own is overridden by the proxy.
    response = requests.post(f"{stack.base}/api/v1/reports", data=body, timeout=60, headers={
        **auth(tokens["volunteer"]), "Content-Type": content_type,
        "X-Fieldapp-Body-File": "/etc/passwd"})
    assert response.status_code == 201, response.text
    assert response.json()["photos"][0]["sha256"] == hashlib.sha256(photo).hexdigest()
    handed = Path(response.headers["X-Probe-Body-File"])
    assert handed.is_relative_to(stack.data_dir / "serving" / "temp" / "body")
    _wait_until(lambda: not handed.exists(), "nginx removes the body file once answered")


def test_a_chunked_report_is_handed_over_whole(stack, tokens):
    claim, photo = _claim_and_photo(1 * MB)
    body, content_type = encode_multipart_formdata(
        [("report", json.dumps(claim)), ("photos", ("c.jpg", photo, "image/jpeg"))])
    pieces = (body[i:i + 64 * 1024] for i in range(0, len(body), 64 * 1024))
    response = requests.post(f"{stack.base}/api/v1/reports", data=pieces, timeout=60,
                             headers={**auth(tokens["volunteer"]), "Content-Type": content_type})
    assert response.status_code == 201, response.text
    assert response.json()["photos"][0]["sha256"] == hashlib.sha256(photo).hexdigest()


def test_a_resumable_upload_is_handed_over_chunk_by_chunk(stack, tokens):
    claim, photo = _claim_and_photo(3 * MB)
    tus = {**auth(tokens["volunteer"]), "Tus-Resumable": "1.0.0"}
    chunk = {**tus, "Content-Type": "application/offset+octet-stream"}
    # creation-with-upload carries the first megabyte, a PATCH the rest.
    created = requests.post(f"{stack.base}/api/v1/uploads", data=photo[:MB], timeout=30,
                            headers={**chunk, "Upload-Length": str(len(photo))})
    assert created.status_code == 201, created.text
    assert created.headers["X-Probe-Body-File"] != ""
    upload = created.headers["Location"]
    rest = requests.patch(upload, data=photo[MB:], timeout=30,
                          headers={**chunk, "Upload-Offset": str(MB)})
    assert rest.status_code == 204, rest.text
    assert rest.headers["Upload-Offset"] == str(len(photo))
    assert rest.headers["X-Probe-Body-File"] != ""
    body, content_type = encode_multipart_formdata(
        [("report", json.dumps({**claim, "uploads": [upload.rsplit("/", 1)[1]]}))])
    stored = requests.post(f"{stack.base}/api/v1/reports", data=body, timeout=30,
                           headers={**auth(tokens["volunteer"]), "Content-Type": content_type})
    assert stored.status_code == 201, stored.text
    assert stored.json()["photos"][0]["sha256"] == hashlib.sha256(photo).hexdigest()


def test_static_assets_are_compressed_and_api_answers_are_not(stack, tokens):
    gzip = {"Accept-Encoding": "gzip"}
    script = requests.get(f"{stack.base}/map/static/map.js", headers=gzip, timeout=10)
    assert script.status_code == 200 and script.headers["Content-Encoding"] == "gzip"
    assert "fieldappBasemap" in script.text  # requests inflates it
    answer = requests.get(f"{stack.base}/api/v1/volunteers/me", timeout=10,
                          headers={**gzip, **auth(tokens["volunteer"])})
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers


def test_no_other_request_can_name_a_body_file(stack):
    forged = {"X-Fieldapp-Body-File": "/etc/passwd"}
    answer = requests.get(f"{stack.base}/probe/client", headers=forged, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["X-Probe-Body-File"] == ""
    answer = requests.get(f"{stack.base}/api/v1/reports", headers=forged, timeout=10)
    assert answer.status_code == 401  # an ordinary answer: no body file was opened
    assert answer.headers["X-Probe-Body-File"] == ""


def _wait_until(condition, what: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _probe_from(address: str, port: int, headers: dict | None = None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                            source_address=(address, 0))
    try:
        connection.request("GET", "/probe/client", headers=headers or {})
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        connection.close()


def test_leftovers_of_a_killed_stack_are_swept_at_start(stack):
    for leftover in LEFTOVERS:
        assert not (stack.data_dir / leftover).exists(), leftover
    assert (stack.data_dir / "serving" / "temp" / "body").is_dir()


def test_the_app_sees_the_real_client_address_not_a_forged_one(stack):
    # 127.0.0.2 is this machine too, but not the address nginx itself connects from.
    assert _probe_from("127.0.0.2", stack.port) == {"remote_addr": "127.0.0.2",
                                                    "scheme": "http"}
    forged = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Proto": "https"}
    assert _probe_from("127.0.0.3", stack.port, forged) == {"remote_addr": "127.0.0.3",
                                                            "scheme": "http"}
    # Nothing but the proxy can reach gunicorn to forge them another way.
    serving = stack.data_dir / "serving"
    assert serving.stat().st_mode & 0o077 == 0
    assert (serving / "gunicorn.sock").is_socket()


def test_the_proxy_refuses_an_oversized_body_in_the_api_error_shape(stack):
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as conn:
        conn.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: test\r\n"
                     b"Content-Type: multipart/form-data; boundary=x\r\n"
                     b"Content-Length: 104857600\r\n\r\n")
        answer = b""
        while b"}" not in answer:
            piece = conn.recv(4096)
            assert piece, answer
            answer += piece
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/json" in head
    assert json.loads(body)["code"] == 413
    assert json.loads(body)["status"] == "Payload Too Large"


def _serve_once(data_dir: Path, bind: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fieldapp.cli", "serve"], cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": TEST_DB_URL, "FIELDAPP_DATA_DIR": str(data_dir),
             "FIELDAPP_BIND": bind},
        capture_output=True, text=True, timeout=60)


def test_serve_refuses_a_port_already_taken(app, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve_once(tmp_path, f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"FIELDAPP_BIND 127.0.0.1:{port} is already in use" in result.stderr


def test_serve_refuses_a_data_directory_another_stack_serves_from(stack):
    in_flight = stack.data_dir / "serving" / "temp" / "body" / "in-flight"
    in_flight.write_bytes(b"a body nginx is still receiving")
    result = _serve_once(stack.data_dir, f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert f"another `fieldapp serve` is using {stack.data_dir}" in result.stderr
    # The running stack's files were left alone.
    assert in_flight.exists()
    in_flight.unlink()
    assert requests.get(f"{stack.base}/api/v1/health", timeout=10).status_code == 200


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_is_terminated_by_the_proxy(app, tmp_path_factory):
    certs = tmp_path_factory.mktemp("tls")
    cert, key = _self_signed(certs)
    tls = Stack(tmp_path_factory.mktemp("serving-tls"), FIELDAPP_TLS_CERT=str(cert),
                FIELDAPP_TLS_KEY=str(key), FIELDAPP_ANALYSERS="0")
    https = f"https://127.0.0.1:{tls.port}"
    try:
        tls.wait_until_healthy(base=https, verify=str(cert))
        health = requests.get(f"{https}/api/v1/health", verify=str(cert), timeout=10)
        assert health.headers["Strict-Transport-Security"].startswith("max-age=")
        seen = requests.get(f"{https}/probe/client", verify=str(cert), timeout=10).json()
        assert seen == {"remote_addr": "127.0.0.1", "scheme": "https"}
        # Nothing is answered in clear on that port.
        plain = requests.get(f"http://127.0.0.1:{tls.port}/api/v1/health", timeout=10)
        assert plain.status_code == 400 and "HTTPS port" in plain.text
        assert ssl.get_server_certificate(("127.0.0.1", tls.port)).strip() == \
            cert.read_text().strip()
    finally:
        tls.stop()


def _wait_for(condition, what: str, stack: Stack, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}:\n{stack.log()}"
        time.sleep(0.2)
    return found


def test_dead_children_are_restarted_and_sigterm_stops_every_process(stack):
    # Last in this module: it ends the module's stack.
    [gunicorn] = stack.program(b"gunicorn")
    [analyser] = stack.program(b"evidence\0analyse")
    os.kill(gunicorn, signal.SIGKILL)
    os.kill(analyser, signal.SIGKILL)
    [new_gunicorn] = _wait_for(lambda: [p for p in stack.program(b"gunicorn")
                                        if p != gunicorn], "gunicorn not restarted", stack)
    _wait_for(lambda: [p for p in stack.program(b"evidence\0analyse") if p != analyser],
              "analyser not restarted", stack)
    stack.wait_until_healthy()
    assert new_gunicorn != gunicorn

    everything = _descendants(stack.process.pid)
    commands = b"\n".join(_cmdline(pid) for pid in everything)
    assert b"nginx: master" in commands and b"gunicorn" in commands
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(STOP_TIMEOUT_S) == 0
    deadline = time.monotonic() + 10
    while (left := [pid for pid in everything if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], [_cmdline(pid) for pid in left]
