"""The `fieldapp` command: users, tokens, recheck, demo — and it runs from any directory."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from tests.conftest import app_on_own_database
from tests.helpers import (
    TEST_DB_URL,
    TEST_OWNER_DB_URL,
    auth,
    post_report,
    report_json,
    role_tokens,
)
from tests.imagegen import jpeg_bytes

FIELDAPP = Path(sys.executable).with_name("fieldapp")


def _run(args, data_dir, cwd, stdin=None):
    env = {**os.environ, "DATABASE_URL": TEST_DB_URL,
           "FIELDAPP_OWNER_DATABASE_URL": TEST_OWNER_DB_URL, "FIELDAPP_DATA_DIR": str(data_dir)}
    return subprocess.run([str(FIELDAPP), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, input=stdin)


def test_console_command_from_another_directory(app, data_dir, tmp_path, client):
    upgraded = _run(["db", "upgrade"], data_dir, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    created = _run(["users", "create", "--email", "cli@example.org", "--password-stdin",
                    "--role", "coordinator"], data_dir, tmp_path,
                   stdin=secrets.token_urlsafe(12) + "\n")
    assert created.returncode == 0, created.stderr
    assert "created coordinator cli@example.org" in created.stdout
    token = _run(["users", "token", "--email", "cli@example.org"], data_dir, tmp_path)
    assert token.returncode == 0
    me = client.get("/api/v1/auth/me", headers=auth(token.stdout.strip()))
    assert me.status_code == 200 and me.get_json()["email"] == "cli@example.org"


def test_users_create_rejects_bad_input(app):
    runner = app.test_cli_runner()
    password = secrets.token_urlsafe(12) + "\n"
    result = runner.invoke(args=["users", "create", "--email", "not-an-email",
                                 "--password-stdin", "--role", "volunteer"], input=password)
    assert result.exit_code != 0 and "email" in result.output
    result = runner.invoke(args=["users", "create", "--email", "a@example.org",
                                 "--password-stdin", "--role", "emperor"], input=password)
    assert result.exit_code != 0 and "role" in result.output


def test_token_for_unknown_user_fails(app):
    result = app.test_cli_runner().invoke(args=["users", "token", "--email", "x@nowhere.org"])
    assert result.exit_code != 0 and "no user" in result.output


@pytest.fixture()
def recheck_app(tmp_path):
    """Its own database: a photo another test stored could be a near duplicate of this one's
    and hold its verdict at needs_review whatever the thresholds."""
    with app_on_own_database("recheck", tmp_path) as application:
        yield application


def test_recheck_applies_new_thresholds_and_records_it(recheck_app):
    app, client = recheck_app, recheck_app.test_client()
    token = role_tokens(app, "recheck", roles=("volunteer",))["volunteer"]
    # The photo was taken 3 km from the claim: inconsistent at the default 1 km limit.
    taken = datetime(2026, 5, 4, 10, 31, tzinfo=timezone(timedelta(hours=8)))
    photo = jpeg_bytes(seed=801, lat=23.18 + 3000 / 111_320, lon=113.39, taken=taken)
    created = post_report(client, token, report_json(), [(photo, "a.jpg")])
    body = created.get_json()
    assert body["verdict"] == "inconsistent"
    settings = app.config["FIELDAPP_CHECK_SETTINGS"]
    app.config["FIELDAPP_CHECK_SETTINGS"] = {**settings, "FIELDAPP_CHECK_GPS_PASS_M": "5000",
                                             "FIELDAPP_CHECK_GPS_FAIL_M": "10000"}
    try:
        result = app.test_cli_runner().invoke(args=["evidence", "recheck", "--report",
                                                    body["id"]])
    finally:
        app.config["FIELDAPP_CHECK_SETTINGS"] = settings
    assert result.exit_code == 0 and "rechecked 1 photos; 1 changed verdict" in result.output
    photo_id = body["photos"][0]["id"]
    after = client.get(f"/api/v1/photos/{photo_id}", headers=auth(token)).get_json()
    assert after["verdict"] == "consistent"
    with app.app_context():
        event = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.subject_id == photo_id, CustodyEvent.action == "rechecked"))
        assert event.details["verdict_before"] == "inconsistent"
        assert event.details["verdict"] == "consistent"


def test_demo_loads_accounts_and_reports_twice_without_copies(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "volunteer@demo.fieldapp.org" in first.output
    assert first.output.count(" stored ") == 5
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and second.output.count("already there") == 5
    assert "inconsistent" in first.output and "needs_review" in first.output
