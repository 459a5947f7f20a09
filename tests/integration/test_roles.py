"""Least privilege: what the server's login role (a member of fieldapp_app) is refused, and
that the app's own writes still go through as that role.

The rest of the suite runs the app as the same role, so it shows the grants are enough; these
tests show they are no more than that: evidence can be appended, never rewritten.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from psycopg2 import errors
from sqlalchemy import text

from fieldapp.extensions import db
from tests.helpers import (
    TEMPLATE_DB,
    TEST_DB_NAME,
    TEST_DB_URL,
    TEST_OWNER_DB_URL,
    analyse_waiting,
    auth,
    post_report,
    report_json,
    role_tokens,
)
from tests.imagegen import jpeg_bytes

APP_ROLE = "fieldapp_app"
APPEND_ONLY = ("custody_events", "reviews", "dossiers")
# A report's claim and receipt: what it says happened, where, when and from whom.
REPORT_EVIDENCE_COLUMNS = {
    "location": "ST_SetSRID(ST_MakePoint(0, 0), 4326)",
    "observed_at": "now()",
    "volunteer_id": "gen_random_uuid()",
    "client_id": "gen_random_uuid()",
    "claim_lon": "0",
    "claim_lat": "0",
    "claim_crs": "'wgs84'",
    "received_at": "now()",
    "fingerprint": "'forged'",
}


@pytest.fixture(scope="module")
def evidence(app):
    """A site, a report at it with one photo, and a coordinator's review of that photo, made
    once for this module (the refusals change nothing), with the two users' tokens."""
    client, tokens = app.test_client(), role_tokens(app, "roles")
    coordinator, volunteer = tokens["coordinator"], tokens["volunteer"]
    site = client.post("/api/v1/sites", headers=auth(coordinator), json={
        "name": "权限测试工厂", "geometry": {"type": "Point", "coordinates": [113.39, 23.18]}})
    assert site.status_code == 201, site.get_json()
    photo = jpeg_bytes(seed=811, lat=23.18, lon=113.39)
    report = post_report(client, volunteer, report_json(), [(photo, "a.jpg")])
    assert report.status_code == 201, report.get_json()
    body = report.get_json()
    reviewed = client.post(f"/api/v1/photos/{body['photos'][0]['id']}/reviews",
                           headers=auth(coordinator),
                           json={"decision": "needs_more", "reason": "closer, please"})
    assert reviewed.status_code == 201, reviewed.get_json()
    return {"site": site.get_json(), "report": body, "photo": body["photos"][0], **tokens}


def _refused(conn, statement: str, params=None) -> str:
    """Run statement as the app's role; it must fail with insufficient_privilege (42501)."""
    with pytest.raises(errors.InsufficientPrivilege) as refused, conn.cursor() as cur:
        cur.execute(statement, params)
    conn.rollback()
    return str(refused.value)


def _count(conn, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        (count,) = cur.fetchone()
    conn.rollback()
    return count


def test_app_connects_as_a_mere_member_of_fieldapp_app(app):
    with app.app_context():
        row = db.session.execute(text("""
            SELECT current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
                   pg_has_role(current_user, :app_role, 'MEMBER'),
                   (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
                      AND tableowner = current_user)
            FROM pg_roles r WHERE r.rolname = current_user"""), {"app_role": APP_ROLE}).one()
        db.session.rollback()
    user, superuser, createrole, createdb, bypassrls, member, owned = row
    assert user == psycopg2.extensions.parse_dsn(TEST_DB_URL)["user"] != APP_ROLE
    assert (superuser, createrole, createdb, bypassrls) == (False, False, False, False)
    assert member and owned == 0


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_app_role_cannot_disable_triggers(evidence, app_connection, table):
    message = _refused(app_connection, f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    assert "must be owner" in message


@pytest.mark.parametrize(("table", "trigger"), [
    ("custody_events", "custody_events_no_update_delete"),
    ("custody_events", "custody_events_no_truncate"),
    ("reviews", "reviews_no_update_delete"),
    ("dossiers", "dossiers_no_update_delete"),
])
def test_app_role_cannot_drop_triggers(evidence, app_connection, table, trigger):
    assert "must be owner" in _refused(app_connection, f"DROP TRIGGER {trigger} ON {table}")


@pytest.mark.parametrize("function", ["custody_events_append_only", "refuse_change"])
def test_app_role_cannot_replace_a_guard_function(evidence, app_connection, function):
    # A harmless body would switch a guard off without touching its trigger.
    message = _refused(app_connection, f"""
        CREATE OR REPLACE FUNCTION public.{function}() RETURNS trigger AS $$
        BEGIN RETURN NEW; END $$ LANGUAGE plpgsql""")
    assert "must be owner" in message or "permission denied for schema public" in message


def test_app_role_cannot_take_the_owners_role(evidence, app_connection, owner_connection):
    owner = owner_connection.get_dsn_parameters()["user"]
    assert "permission denied" in _refused(app_connection, f"SET ROLE {owner}")


def test_app_role_cannot_create_objects(evidence, app_connection):
    # No table, function or trigger of its own to shadow or replace the guarded ones.
    assert "permission denied for schema public" in _refused(
        app_connection, "CREATE TABLE public.shadow_events (seq bigint)")


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_app_role_cannot_update_append_only_tables(evidence, app_connection, table):
    column = {"custody_events": "details = '{}'::jsonb", "reviews": "decision = 'accepted'",
              "dossiers": "label = 'forged'"}[table]
    message = _refused(app_connection, f"UPDATE {table} SET {column}")
    assert f"permission denied for table {table}" in message


def _refused_leaving_rows(conn, table: str, statement: str, params=None) -> None:
    """A removal refused for lack of privilege, and every row still there."""
    before = _count(conn, table)
    assert f"permission denied for table {table}" in _refused(conn, statement, params)
    assert _count(conn, table) == before


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_app_role_cannot_delete_from_append_only_tables(evidence, app_connection, table):
    _refused_leaving_rows(app_connection, table, f"DELETE FROM {table}")


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_app_role_cannot_truncate_append_only_tables(evidence, app_connection, table):
    _refused_leaving_rows(app_connection, table, f"TRUNCATE {table} CASCADE")


@pytest.mark.parametrize(("table", "row"), [("photos", "photo"), ("reports", "report")])
def test_app_role_cannot_delete_photos_or_reports(evidence, app_connection, table, row):
    _refused_leaving_rows(app_connection, table, f"DELETE FROM {table} WHERE id = %s",
                          (evidence[row]["id"],))


def test_app_role_cannot_rewrite_a_photos_hash(evidence, app_connection):
    message = _refused(app_connection, "UPDATE photos SET sha256 = repeat('0', 64) WHERE id = %s",
                       (evidence["photo"]["id"],))
    assert "permission denied for table photos" in message


@pytest.mark.parametrize("column", sorted(REPORT_EVIDENCE_COLUMNS))
def test_app_role_cannot_rewrite_a_reports_claim(evidence, app_connection, column):
    message = _refused(
        app_connection, f"UPDATE reports SET {column} = {REPORT_EVIDENCE_COLUMNS[column]} "
        "WHERE id = %s", (evidence["report"]["id"],))
    assert "permission denied for table reports" in message


def test_app_role_relinks_a_report_to_a_site(evidence, client):
    report_id, site_id = evidence["report"]["id"], evidence["site"]["id"]
    coordinator = evidence["coordinator"]
    unlinked = client.put(f"/api/v1/reports/{report_id}/site", headers=auth(coordinator),
                          json={"site_id": None})
    assert unlinked.status_code == 200, unlinked.get_json()
    assert unlinked.get_json()["site_id"] is None
    linked = client.put(f"/api/v1/reports/{report_id}/site", headers=auth(coordinator),
                        json={"site_id": site_id})
    assert linked.status_code == 200, linked.get_json()
    assert (linked.get_json()["site_id"], linked.get_json()["site_link"]) == (site_id, "manual")


def test_app_role_appends_a_review(evidence, client):
    photo_id, coordinator = evidence["photo"]["id"], evidence["coordinator"]
    added = client.post(f"/api/v1/photos/{photo_id}/reviews", headers=auth(coordinator),
                        json={"decision": "accepted", "reason": ""})
    assert added.status_code == 201, added.get_json()
    listed = client.get(f"/api/v1/photos/{photo_id}/reviews", headers=auth(coordinator))
    assert [r["decision"] for r in listed.get_json()] == ["needs_more", "accepted"]


def test_app_role_records_an_analysis(evidence, app, client):
    assert analyse_waiting(app) >= 1
    photo = client.get(f"/api/v1/photos/{evidence['photo']['id']}",
                       headers=auth(evidence["volunteer"])).get_json()
    assert photo["analysis"] == "done" and photo["analysed_at"] is not None


@pytest.mark.parametrize("change", ["message = 'forged'", "kind = 'report_accepted'",
                                    "user_id = gen_random_uuid()", "created_at = now()",
                                    "photo_id = NULL"])
def test_app_role_changes_nothing_of_a_notification_but_its_reading(evidence, app_connection,
                                                                     change):
    # The review in the fixture told the volunteer: a notification with the photo's id.
    photo_id = evidence["photo"]["id"]
    message = _refused(app_connection, f"UPDATE notifications SET {change} WHERE photo_id = %s",
                       (photo_id,))
    assert "permission denied for table notifications" in message
    _refused_leaving_rows(app_connection, "notifications",
                          "DELETE FROM notifications WHERE photo_id = %s", (photo_id,))
    with app_connection.cursor() as cur:
        cur.execute("UPDATE notifications SET read_at = now() WHERE photo_id = %s", (photo_id,))
        assert cur.rowcount >= 1
    app_connection.rollback()


def test_app_role_revokes_a_token(client, make_user):
    _, _, token = make_user("volunteer")
    assert client.delete("/api/v1/auth/token", headers=auth(token)).status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 401


def _on(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _as_owner_on_server(statement: str) -> None:
    conn = psycopg2.connect(_on(TEST_OWNER_DB_URL, "postgres"))
    conn.autocommit = True  # CREATE/DROP DATABASE
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture()
def blank_database(app):
    """A database just made from the PostGIS template, not migrated: (app URL, owner URL)."""
    name = f"{TEST_DB_NAME}_blank"
    _as_owner_on_server(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _as_owner_on_server(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    yield _on(TEST_DB_URL, name), _on(TEST_OWNER_DB_URL, name)
    _as_owner_on_server(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _upgrade(tmp_path, **database_env) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FIELDAPP_OWNER_DATABASE_URL")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("fieldapp")), "db", "upgrade"], cwd=tmp_path,
        env={**env, "FIELDAPP_DATA_DIR": str(tmp_path), **database_env},
        capture_output=True, text=True, timeout=300)


def _public_tables(url: str) -> dict[str, str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'spatial_ref_sys'")
            return dict(cur.fetchall())
    finally:
        conn.close()


def test_db_upgrade_as_the_app_role_alone_is_refused_and_writes_nothing(blank_database,
                                                                        tmp_path):
    app_url, _ = blank_database
    upgraded = _upgrade(tmp_path, DATABASE_URL=app_url)
    assert upgraded.returncode != 0
    assert "permission denied for schema public" in upgraded.stderr
    assert _public_tables(app_url) == {}


def test_db_upgrade_runs_as_the_owner_named_by_its_own_url(blank_database, tmp_path):
    app_url, owner_url = blank_database
    upgraded = _upgrade(tmp_path, DATABASE_URL=app_url, FIELDAPP_OWNER_DATABASE_URL=owner_url)
    assert upgraded.returncode == 0, upgraded.stderr
    tables = _public_tables(app_url)
    owner = psycopg2.extensions.parse_dsn(TEST_OWNER_DB_URL)["user"]
    assert {"reports", "photos", "custody_events", "alembic_version"} <= set(tables)
    assert set(tables.values()) == {owner}


@pytest.fixture(scope="module")
def closed_visit(app, evidence) -> str:
    """A volunteer's claim on a task at the evidence's site, checked in and out: its id."""
    return _checked_out_claim(app, evidence)


def _checked_out_claim(app, evidence) -> str:
    client, coordinator, volunteer = app.test_client(), evidence["coordinator"], evidence[
        "volunteer"]
    now = datetime.now(UTC)
    task = client.post("/api/v1/tasks", headers=auth(coordinator), json={
        "site_id": evidence["site"]["id"], "title": "Photograph the outfall",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(), "slots": 1,
        "categories": ["water"], "photos_required": 1})
    assert task.status_code == 201, task.get_json()
    claim = client.post(f"/api/v1/tasks/{task.get_json()['id']}/claims",
                        headers=auth(volunteer))
    assert claim.status_code == 201, claim.get_json()
    claim_id = claim.get_json()["id"]
    for action, body in (("check-in", {"location": {"lon": 113.39, "lat": 23.18}}),
                         ("check-out", None)):
        done = client.post(f"/api/v1/claims/{claim_id}/{action}", headers=auth(volunteer),
                           json=body)
        assert done.status_code == 200, done.get_json()
    return claim_id


@pytest.mark.parametrize("change", [
    "checked_out_at = checked_out_at + interval '8 hours'",
    "on_site_s = on_site_s + 28800",
    "checked_out_at = NULL, on_site_s = NULL",  # reopened, to be closed again later
])
def test_app_role_cannot_rewrite_a_closed_visit(closed_visit, app_connection, owner_connection,
                                                change):
    # A visit's hours are a volunteer's service record and their certificates: once closed,
    # neither the app nor the owner moves them.
    for conn in (app_connection, owner_connection):
        message = _refused(conn, f"UPDATE claim_visits SET {change} WHERE claim_id = %s",
                           (closed_visit,))
        assert "closed visit" in message


def test_app_role_cannot_accept_work_no_evaluation_accepted(evidence, app, app_connection):
    claim_id = _checked_out_claim(app, evidence)
    # Only accepted claims are service (their hours enter the record and certificates), and
    # a claim is accepted by an evaluation, which is append-only: a status alone is refused.
    with app_connection.cursor() as cur:
        cur.execute("UPDATE claims SET status = 'accepted', status_at = now() WHERE id = %s",
                    (claim_id,))
    with pytest.raises(errors.InsufficientPrivilege) as refused:
        app_connection.commit()
    app_connection.rollback()
    assert "evaluation" in str(refused.value)


def test_accepted_work_stays_accepted(evidence, app, app_connection):
    claim_id, client = _checked_out_claim(app, evidence), app.test_client()
    accepted = client.post(f"/api/v1/claims/{claim_id}/evaluation",
                           headers=auth(evidence["coordinator"]),
                           json={"decision": "accepted", "rating": 4})
    assert accepted.status_code == 200, accepted.get_json()
    for status in ("needs_more", "cancelled", "checked_in"):
        message = _refused(app_connection, "UPDATE claims SET status = %s WHERE id = %s",
                           (status, claim_id))
        assert "accepted" in message


@pytest.mark.parametrize("closed", ["checked_out_at, on_site_s",
                                    "checked_in_at + interval '8 hours', 28800"])
def test_app_role_cannot_insert_a_visit_already_closed(closed_visit, app_connection, closed):
    # A visit begins open (a check-in); one inserted closed is hours no check-in began.
    message = _refused(app_connection, f"""
        INSERT INTO claim_visits (id, claim_id, checked_in_at, claim_lon, claim_lat, claim_crs,
                                  location, distance_m, checked_out_at, on_site_s)
        SELECT gen_random_uuid(), claim_id, checked_in_at - interval '1 day', claim_lon,
               claim_lat, claim_crs, location, distance_m, {closed}
        FROM claim_visits WHERE claim_id = %s""", (closed_visit,))
    assert "open" in message
