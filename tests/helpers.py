"""Helpers shared by the tests: paths, auth headers, superuser SQL, submissions."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = PROJECT_ROOT.parent / "shared" / "photos"
# One database per test run (named after the process), so runs side by side never collide.
TEST_DB_PREFIX = "fieldapp_test_"
TEST_DB_NAME = f"{TEST_DB_PREFIX}{os.getpid()}"
TEMPLATE_DB = os.environ.get("FIELDAPP_TEST_TEMPLATE_DB", "fieldapp_template")
# The URLs (with this machine's passwords) that scripts/postgis.sh writes: the schema owner's
# and the server's login role, a member of fieldapp_app.
DATABASE_ENV = Path(os.environ.get("FIELDAPP_DATABASE_ENV", "/etc/fieldapp/database.env"))


def _test_database_url(test_variable: str, variable: str) -> str:
    if os.environ.get(test_variable):
        return os.environ[test_variable]
    if not DATABASE_ENV.exists():
        raise FileNotFoundError(f"{DATABASE_ENV} not found: run scripts/postgis.sh (make test "
                                f"does), or set {test_variable}")
    url = dotenv_values(DATABASE_ENV)[variable]
    return urlunsplit(urlsplit(url)._replace(path=f"/{TEST_DB_NAME}"))


# The app under test connects as the server's role, so the suite proves that least privilege
# is enough; the owner creates and migrates the test database, and plays insiders.
TEST_DB_URL = _test_database_url("FIELDAPP_TEST_DATABASE_URL", "DATABASE_URL")
TEST_OWNER_DB_URL = _test_database_url("FIELDAPP_TEST_OWNER_DATABASE_URL",
                                       "FIELDAPP_OWNER_DATABASE_URL")


def shared_reference() -> list[dict]:
    reference = SHARED_PHOTOS / "reference.json"
    if not reference.exists():
        raise FileNotFoundError(f"shared photos not found at {SHARED_PHOTOS}")
    return json.loads(reference.read_text())["files"]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def superuser_sql(statement: str, database: str | None = None) -> str:
    """Run SQL as the PostgreSQL superuser (peer auth as the postgres OS user)."""
    database = database or psycopg2.extensions.parse_dsn(TEST_DB_URL)["dbname"]
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-qtA",
         "-d", database, "-c", statement],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


def report_json(**overrides) -> dict:
    """A valid report claim (Guangzhou, WGS-84) with overrides."""
    claim = {
        "client_id": str(uuid.uuid4()), "category": "water",
        "description": "Dark outflow from the pipe east of the dye works",
        "observed_at": "2026-05-04T10:31:00+08:00",
        "location": {"lon": 113.39, "lat": 23.18, "crs": "wgs84", "accuracy_m": 12},
        "site_id": None,
    }
    claim.update(overrides)
    return claim


def multipart(claim: dict | str, photos: list[tuple[bytes, str]]) -> dict:
    """Form data for the test client: the report part and the photo parts."""
    import io

    report = claim if isinstance(claim, str) else json.dumps(claim)
    return {"report": report,
            "photos": [(io.BytesIO(data), name) for data, name in photos]}


def post_encoded(client, token, claim, photos, cut: int = 0):
    """Post the multipart body exactly as HTTP libraries on phones encode it (urllib3's
    encoder), optionally with its last `cut` bytes missing."""
    from urllib3 import encode_multipart_formdata

    report = claim if isinstance(claim, str) else json.dumps(claim)
    body, content_type = encode_multipart_formdata(
        [("report", report)] + [("photos", (name, data, "image/jpeg")) for data, name in photos])
    return client.post("/api/v1/reports", data=body[: len(body) - cut], headers=auth(token),
                       content_type=content_type)


def post_report(client, token, claim, photos):
    return client.post("/api/v1/reports", data=multipart(claim, photos),
                       headers=auth(token), content_type="multipart/form-data")


def storage_snapshot(app) -> dict:
    """Row counts and stored files: what a rejected request must leave unchanged."""
    from sqlalchemy import text

    from fieldapp.extensions import db

    with app.app_context():
        counts = {table: db.session.scalar(text(f"SELECT count(*) FROM {table}"))
                  for table in ("reports", "photos", "custody_events")}
    root = Path(app.config["FIELDAPP_DATA_DIR"])
    files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    return {"counts": counts, "files": files}


def photo_as_seen(client, token, photo_id) -> dict:
    """GET /photos/{id} as this token's user sees it (200 asserted)."""
    response = client.get(f"/api/v1/photos/{photo_id}", headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def analyse_waiting(app) -> int:
    """Run the pixel analysis the background analyser would: every waiting photo, now."""
    from fieldapp.reports import analysis

    with app.app_context():
        return analysis.drain()


def submit_at(client, token, lon, lat, seed, observed, category="air", taken=None) -> dict:
    """Post a one-photo report at (lon, lat) whose photo was taken at `taken` (default: when
    observed, so it verifies), let it be analysed; returns the stored report."""
    from tests.imagegen import jpeg_bytes

    taken = taken or observed
    claim = report_json(category=category, observed_at=observed.isoformat(),
                        location={"lon": lon, "lat": lat, "crs": "wgs84", "accuracy_m": 10})
    photo = jpeg_bytes(seed=seed, lat=lat, lon=lon, taken=taken, gps_time=taken)
    response = post_report(client, token, claim, [(photo, "a.jpg")])
    assert response.status_code == 201, response.get_json()
    analyse_waiting(client.application)
    stored = client.get(f"/api/v1/reports/{response.get_json()['id']}", headers=auth(token))
    assert stored.status_code == 200
    return stored.get_json()


def role_tokens(app, prefix: str, roles=("volunteer", "coordinator")) -> dict[str, str]:
    """A new user per role (emails start with prefix), each with a fresh bearer token."""
    from fieldapp.accounts import service

    with app.app_context():
        return {role: service.issue_token(service.create_user(
                    f"{prefix}-{role}-{uuid.uuid4().hex[:8]}@example.org",
                    service.generate_password(), role))
                for role in roles}


def run_jobs(app) -> None:
    """Run every queued background job that is due, as `fieldapp jobs work` would (the same
    procrastinate worker, on the same database), and return once none is left."""
    from fieldapp.jobs import worker

    worker.run(app, forever=False)


def freeze(client, token, case_id) -> dict:
    """Ask for a dossier (202, `freezing`), run the freeze job, and return the dossier as
    `GET links.self` shows it then (`frozen`, or `failed` with its error)."""
    asked = client.post(f"/api/v1/cases/{case_id}/dossiers", headers=auth(token))
    assert asked.status_code == 202, asked.get_json()
    assert asked.get_json()["status"] == "freezing"
    run_jobs(client.application)
    shown = client.get(asked.get_json()["links"]["self"], headers=auth(token))
    assert shown.status_code == 200
    return shown.get_json()


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """Live child processes of pid, whichever of its threads started them."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@contextlib.contextmanager
def serving(app):
    """The app behind a real socket on the loopback address, so a browser talks HTTP to it
    as it would to gunicorn; yields the base URL."""
    import threading

    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
