"""Backups on real PostGIS: made with pg_dump as the schema owner, checked file by file
(also with coreutils' sha256sum, as an admin would), shared with an earlier backup by hard
link, restored into an empty database and data dir, and audited there."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from fieldapp.backups import contents
from fieldapp.extensions import db
from fieldapp.reports.models import Photo, Report
from fieldapp.storage.blobs import sha256_of
from tests.conftest import app_on_own_database
from tests.helpers import auth, freeze, role_tokens, submit_at


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An install with reports and a frozen dossier (so a signing key), on its own database."""
    with app_on_own_database("bksrc", tmp_path_factory.mktemp("bk-source")) as app:
        tokens = role_tokens(app, "bk", ("volunteer", "coordinator", "lawyer"))
        client = app.test_client()
        site = client.post("/api/v1/sites", headers=auth(tokens["coordinator"]), json={
            "name": "备份测试厂", "geometry": {"type": "Point", "coordinates": [113.394, 23.178]}
        }).get_json()
        observed = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
        reports = [submit_at(client, tokens["volunteer"], 113.394 + i / 10000, 23.178, 4100 + i,
                             observed) for i in range(3)]
        case = client.post("/api/v1/cases", headers=auth(tokens["lawyer"]), json={
            "site_id": site["id"], "title": "备份"}).get_json()
        item = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(tokens["lawyer"]),
                           json={"photo_id": reports[0]["photos"][0]["id"], "title": "现场",
                                 "purpose": "证明排污"})
        assert item.status_code == 201, item.get_json()
        assert freeze(client, tokens["lawyer"], case["id"])["status"] == "frozen"
        yield app


@pytest.fixture()
def empty_install(tmp_path):
    """An app on a new database with PostGIS and nothing else, and an empty data dir."""
    with app_on_own_database("bkdst", tmp_path / "restored", migrated=False) as app:
        yield app


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)


def _photos(app) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(select(Photo.id, Photo.sha256)).all()
        return {str(row.id): row.sha256 for row in rows}


def _make(app, dest: Path, *extra):
    result = _cli(app, "backup", "make", str(dest), *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_a_backup_holds_the_dump_every_stored_file_and_the_key_and_is_a_custody_event(
        source, tmp_path):
    dest = tmp_path / "b1"
    made = _make(source, dest)
    store = source.extensions["blob_store"].blob_dir
    stored = sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())
    assert made["stored_files"] == len(stored) > 3  # originals, previews, catalog, tokens
    sums = contents.read_sums(dest)
    assert {f"blobs/{name}" for name in stored} <= set(sums)
    assert "keys/dossier-signing-ed25519.pem" in sums
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700  # the key is a secret
    # An admin checks it with coreutils alone.
    checked = subprocess.run(["sha256sum", "--check", "--strict", contents.SUMS], cwd=dest,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    info = json.loads((dest / contents.INFO).read_text())
    with source.app_context():
        event = db.session.execute(text(
            "SELECT details FROM custody_events WHERE action = 'backed_up' "
            "ORDER BY seq DESC LIMIT 1")).scalar_one()
        dumped_before = db.session.execute(text(
            "SELECT hash FROM custody_events WHERE seq = :seq"),
            {"seq": info["chain_head_before_dump"]["seq"]}).scalar_one()
    assert event["dump_sha256"] == sums[contents.DUMP]
    assert event["stored_files"] == made["stored_files"]
    assert dumped_before == info["chain_head_before_dump"]["hash"]
    assert _cli(source, "backup", "verify", str(dest)).exit_code == 0


def test_a_later_backup_shares_unchanged_files_by_hard_link_and_stands_alone(source,
                                                                             tmp_path):
    first, second = tmp_path / "b1", tmp_path / "b2"
    _make(source, first)
    made = _make(source, second, "--earlier", str(first))
    assert made["shared_with_earlier"] == made["stored_files"]
    for name in contents.read_sums(second):
        if name.startswith("blobs/"):
            assert (second / name).stat().st_ino == (first / name).stat().st_ino
    # The earlier one can go: the later one is whole on its own.
    subprocess.run(["rm", "-rf", str(first)], check=True)
    assert _cli(source, "backup", "verify", str(second)).exit_code == 0


def test_backup_verify_names_a_changed_byte_a_missing_file_and_an_unlisted_one(source,
                                                                               tmp_path):
    dest = tmp_path / "b"
    _make(source, dest)
    blob = next(name for name in contents.read_sums(dest) if name.startswith("blobs/"))
    path = dest / blob
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    (dest / "blobs" / "extra").write_bytes(b"slipped in")
    (dest / contents.INFO).unlink()
    result = _cli(source, "backup", "verify", str(dest))
    assert result.exit_code == 1
    assert f"{blob}: SHA-256" in result.output
    assert f"{contents.INFO}: listed in {contents.SUMS} but missing" in result.output
    assert "blobs/extra: present but not listed" in result.output


def test_a_backup_restores_into_an_empty_install_whose_audit_passes(source, empty_install,
                                                                    tmp_path):
    dest = tmp_path / "b"
    _make(source, dest)
    result = _cli(empty_install, "backup", "restore", str(dest))
    assert result.exit_code == 0, result.output
    assert _photos(empty_install) == _photos(source)
    with empty_install.app_context():
        reports = db.session.scalar(select(func.count()).select_from(Report))
        head = json.loads((dest / contents.INFO).read_text())["chain_head_before_dump"]
        restored_link = db.session.execute(text(
            "SELECT hash FROM custody_events WHERE seq = :seq"), {"seq": head["seq"]}).scalar()
    assert reports == 3 and restored_link == head["hash"]
    # The originals are back byte for byte, and the app serves them.
    photo_id, sha256 = next(iter(_photos(source).items()))
    restored = empty_install.extensions["blob_store"].path_for(sha256)
    assert sha256_of(restored) == sha256
    assert _cli(empty_install, "custody", "verify").exit_code == 0
    # The restored key is the one that signed the source's dossiers.
    key = "keys/dossier-signing-ed25519.pem"
    assert (empty_install.config["FIELDAPP_DATA_DIR"] / key).read_bytes() == \
        (source.config["FIELDAPP_DATA_DIR"] / key).read_bytes()
    assert photo_id


def test_restore_refuses_a_damaged_backup_and_a_database_in_use(source, empty_install,
                                                                tmp_path):
    dest = tmp_path / "b"
    _make(source, dest)
    (dest / contents.DUMP).write_bytes((dest / contents.DUMP).read_bytes()[:-1])
    damaged = _cli(empty_install, "backup", "restore", str(dest))
    assert damaged.exit_code == 1
    assert f"{contents.DUMP}: SHA-256" in damaged.output
    with empty_install.app_context():
        assert db.session.scalar(text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'spatial_ref_sys'")) == 0
    whole = tmp_path / "whole"
    _make(source, whole)
    in_use = _cli(source, "backup", "restore", str(whole))
    assert in_use.exit_code == 1
    assert "already has" in in_use.output and "table(s)" in in_use.output


def test_a_backup_goes_into_a_new_directory(source, tmp_path):
    result = _cli(source, "backup", "make", str(tmp_path))
    assert result.exit_code == 1
    assert "exists" in result.output


def test_a_stored_file_that_no_longer_matches_its_name_is_left_out_and_named(tmp_path):
    with app_on_own_database(f"bkrot{uuid.uuid4().hex[:6]}", tmp_path / "data") as app:
        tokens = role_tokens(app, "rot")
        report = submit_at(app.test_client(), tokens["volunteer"], 113.39, 23.18, 4200,
                           datetime(2026, 5, 4, 10, 30, tzinfo=UTC))
        sha256 = report["photos"][0]["sha256"]
        original = app.extensions["blob_store"].path_for(sha256)
        os.chmod(original, 0o644)  # bit rot, or a hand behind the app's back
        original.write_bytes(original.read_bytes() + b"\0")
        result = _cli(app, "backup", "make", str(tmp_path / "b"))
        assert result.exit_code == 1
        name = f"blobs/{original.relative_to(app.extensions['blob_store'].blob_dir).as_posix()}"
        assert f"BROKEN: {name}: the store's bytes hash to" in result.output
        assert name not in contents.read_sums(tmp_path / "b")
        assert _cli(app, "backup", "verify", str(tmp_path / "b")).exit_code == 0
