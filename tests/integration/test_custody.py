"""The chain of custody: append-only in the database itself, and tampering is caught."""
from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy import func, select

from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from tests.helpers import TEST_OWNER_DB_URL, post_report, report_json, superuser_sql
from tests.imagegen import jpeg_bytes


@pytest.fixture()
def stored(client, volunteer):
    photo = jpeg_bytes(seed=501, lat=23.18, lon=113.39)
    response = post_report(client, volunteer[2], report_json(), [(photo, "a.jpg")])
    assert response.status_code == 201
    return response.get_json()["photos"][0], photo


def _owner_sql(statement: str):
    # The schema owner: the triggers refuse even it (the app's role has no such privilege).
    conn = psycopg2.connect(TEST_OWNER_DB_URL)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@pytest.mark.parametrize("statement", [
    "UPDATE custody_events SET details = '{}'::jsonb WHERE seq = 1",
    "DELETE FROM custody_events WHERE seq = 1",
    "TRUNCATE custody_events CASCADE",  # CASCADE: past the tables that refer to it
])
def test_database_refuses_to_rewrite_history(stored, statement):
    with pytest.raises(psycopg2.Error, match="append-only"):
        _owner_sql(statement)


def test_verify_passes_on_an_intact_chain(app, stored):
    result = app.test_cli_runner().invoke(args=["custody", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


def test_receipt_hash_is_the_received_event(app, stored):
    meta, _ = stored
    with app.app_context():
        event = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.hash == meta["receipt"]["custody_hash"]))
        assert event.action == "received" and str(event.subject_id) == meta["id"]
        assert event.details["sha256"] == meta["sha256"]


def test_verify_names_an_altered_event(app, stored):
    meta, _ = stored
    with app.app_context():
        seq = db.session.scalar(select(CustodyEvent.seq).where(
            CustodyEvent.hash == meta["receipt"]["custody_hash"]))
    original = superuser_sql(f"SELECT details::text FROM custody_events WHERE seq = {seq}")
    forged = original.replace(meta["sha256"], "0" * 64)
    assert forged != original
    _tamper(f"UPDATE custody_events SET details = '{forged}'::jsonb WHERE seq = {seq}")
    try:
        result = app.test_cli_runner().invoke(args=["custody", "verify"])
        assert result.exit_code == 1
        assert f"custody event #{seq}" in result.output
        assert "altered" in result.output
    finally:
        _tamper(f"UPDATE custody_events SET details = '{original}'::jsonb WHERE seq = {seq}")
    assert app.test_cli_runner().invoke(args=["custody", "verify"]).exit_code == 0


def test_verify_names_an_altered_original(app, stored):
    meta, photo = stored
    path = app.extensions["blob_store"].path_for(meta["sha256"])
    path.chmod(0o644)
    path.write_bytes(photo[:-1] + bytes([photo[-1] ^ 1]))
    try:
        result = app.test_cli_runner().invoke(args=["custody", "verify"])
        assert result.exit_code == 1
        assert f"original {meta['sha256']} was altered" in result.output
    finally:
        path.write_bytes(photo)
        path.chmod(0o444)
    assert app.test_cli_runner().invoke(args=["custody", "verify"]).exit_code == 0


def test_verify_names_a_missing_original(app, stored):
    meta, photo = stored
    path = app.extensions["blob_store"].path_for(meta["sha256"])
    path.unlink()
    try:
        result = app.test_cli_runner().invoke(args=["custody", "verify"])
        assert result.exit_code == 1 and "missing" in result.output
    finally:
        path.write_bytes(photo)
        path.chmod(0o444)


def _tamper(statement: str) -> None:
    """As the superuser: switch the guard off, rewrite history, switch it back on."""
    superuser_sql(
        "BEGIN; ALTER TABLE custody_events DISABLE TRIGGER custody_events_no_update_delete; "
        f"{statement}; "
        "ALTER TABLE custody_events ENABLE TRIGGER custody_events_no_update_delete; COMMIT;"
    )


def test_verify_names_every_altered_event_not_only_the_first(app, stored):
    with app.app_context():
        first, last = db.session.execute(
            select(func.min(CustodyEvent.seq), func.max(CustodyEvent.seq))).one()
    assert last > first
    # One break already known (say, the app's role appended a bad event once) must not hide a
    # later rewrite: each altered event is named.
    saved = {seq: superuser_sql(f"SELECT details::text FROM custody_events WHERE seq = {seq}")
             for seq in (first, last)}
    for seq in saved:
        _tamper(f"UPDATE custody_events SET details = details || '{{\"forged\": true}}'::jsonb "
                f"WHERE seq = {seq}")
    try:
        result = app.test_cli_runner().invoke(args=["custody", "verify"])
        assert result.exit_code == 1
        for seq in (first, last):
            assert f"custody event #{seq}: hash does not match its content" in result.output
    finally:
        for seq, details in saved.items():
            _tamper(f"UPDATE custody_events SET details = '{details}'::jsonb WHERE seq = {seq}")
    assert app.test_cli_runner().invoke(args=["custody", "verify"]).exit_code == 0
