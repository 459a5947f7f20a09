"""Every evidence row bound to the chain: changes made behind the app's back are named.

Each tamper is made as the PostgreSQL superuser with triggers and foreign keys switched off
(session_replication_role = replica), as an insider would, and undone afterwards, so that
the database the suite shares stays as the app left it.
"""
from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from fieldapp.custody import service as custody
from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from fieldapp.reports.models import Photo
from tests.helpers import (
    auth,
    freeze,
    post_report,
    report_json,
    role_tokens,
    superuser_sql,
)
from tests.imagegen import jpeg_bytes


def verify(app):
    return app.test_cli_runner().invoke(args=["custody", "verify"])


def _as_insider(statements: str) -> None:
    superuser_sql("BEGIN; SET LOCAL session_replication_role = replica; "
                  f"{statements}; COMMIT;")


@contextmanager
def tampered(table: str, row_id: str, change: str | None):
    """UPDATE the row with `change`, or DELETE it (change None); put it back afterwards."""
    keep = f"tamper_{uuid.uuid4().hex[:12]}"
    where = f"id = '{row_id}'"
    act = f"UPDATE {table} SET {change} WHERE {where}" if change else (
        f"DELETE FROM {table} WHERE {where}")
    _as_insider(f"CREATE TABLE {keep} AS SELECT * FROM {table} WHERE {where}; {act}")
    try:
        yield
    finally:
        _as_insider(f"DELETE FROM {table} WHERE {where}; "
                    f"INSERT INTO {table} SELECT * FROM {keep}; DROP TABLE {keep}")


def assert_named(app, *fragments: str) -> str:
    result = verify(app)
    assert result.exit_code == 1, result.output
    broken = [line for line in result.output.splitlines() if line.startswith("BROKEN:")]
    assert any(all(f in line for f in fragments) for line in broken), result.output
    return result.output


@pytest.fixture(scope="module")
def evidence(app):
    """Two reports, a review, a case with both photos as items, frozen into a dossier."""
    client = app.test_client()
    tokens = role_tokens(app, "binding", ("volunteer", "coordinator", "lawyer"))
    vol, coord, law = tokens["volunteer"], tokens["coordinator"], tokens["lawyer"]
    site = client.post("/api/v1/sites", headers=auth(coord), json={
        "name": "绑定测试工厂", "geometry": {"type": "Point", "coordinates": [113.39, 23.18]},
    }).get_json()
    photos = []
    for seed in (801, 802):
        response = post_report(client, vol, report_json(),
                               [(jpeg_bytes(seed=seed, lat=23.18, lon=113.39), "a.jpg")])
        assert response.status_code == 201, response.get_json()
        photos.append(response.get_json()["photos"][0])
    review = client.post(f"/api/v1/photos/{photos[0]['id']}/reviews", headers=auth(coord),
                         json={"decision": "accepted", "reason": "clear outflow"})
    assert review.status_code == 201, review.get_json()
    case = client.post("/api/v1/cases", headers=auth(law), json={
        "site_id": site["id"], "title": "绑定测试"}).get_json()
    items = []
    for n, photo in enumerate(photos):
        item = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(law), json={
            "photo_id": photo["id"], "title": f"照片 {n}", "purpose": "证明排污"})
        assert item.status_code == 201, item.get_json()
        items.append(item.get_json())
    dossier = freeze(client, law, case["id"])
    assert dossier["status"] == "frozen", dossier
    return {"client": client, "law": law, "photos": photos, "review": review.get_json(),
            "case": case, "items": items, "dossier": dossier}


@pytest.fixture()
def fresh(client, volunteer):
    """A report of its own, for a tamper that must not touch the shared evidence."""
    response = post_report(client, volunteer[2], report_json(),
                           [(jpeg_bytes(seed=811, lat=23.18, lon=113.39), "a.jpg")])
    assert response.status_code == 201
    return response.get_json()


def test_new_rows_carry_their_digest(app, evidence):
    photo = evidence["photos"][0]
    with app.app_context():
        from fieldapp.reports.models import Photo
        from fieldapp.reviews.models import Review

        stored = db.session.get(Photo, uuid.UUID(photo["id"]))
        received = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.hash == stored.receipt_hash))
        assert received.details["row_sha256"] == custody.row_sha256("photo", stored)
        report_event = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.action == "received", CustodyEvent.subject_id == stored.report_id))
        assert report_event.details["row_sha256"] == custody.row_sha256("report", stored.report)
        review = db.session.get(Review, uuid.UUID(evidence["review"]["id"]))
        reviewed = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.hash == review.custody_hash))
        assert reviewed.details["review_id"] == str(review.id)
        assert reviewed.details["row_sha256"] == custody.row_sha256("review", review)


def test_clean_database_verifies_and_the_audit_is_recorded(app, client, evidence):
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:") and "1 dossiers" in result.output
    with app.app_context():
        last = db.session.scalar(select(CustodyEvent).where(CustodyEvent.action == "audited")
                                 .order_by(CustodyEvent.seq.desc()).limit(1))
        assert last.details["ok"] is True and last.details["problems"] == 0
        assert last.details["rows_checked"]["photo"] >= 2
    health = client.get("/api/v1/health").get_json()
    assert health["audit"]["ok"] is True and health["audit"]["problems"] == 0
    assert datetime.fromisoformat(health["audit"]["at"]) == last.occurred_at


def test_photo_row_deleted(app, fresh):
    photo = fresh["photos"][0]
    with tampered("photos", photo["id"], None):
        assert_named(app, f"photo {photo['id']}", "deleted")
    assert verify(app).exit_code == 0


def test_photo_hash_rewritten(app, client, fresh):
    photo = fresh["photos"][0]
    with tampered("photos", photo["id"], f"sha256 = '{'ab' * 32}'"):
        assert_named(app, f"photo {photo['id']}", "altered")
        health = client.get("/api/v1/health").get_json()
        assert health["audit"]["ok"] is False and health["audit"]["problems"] >= 1
    assert verify(app).exit_code == 0


@pytest.mark.parametrize("change", [
    "observed_at = observed_at - interval '7 hours'",
    "received_at = received_at + interval '1 day'",
    "location = ST_SetSRID(ST_MakePoint(113.41, 23.18), 4326)",
    "claim_lat = claim_lat + 0.0001",
    "volunteer_id = (SELECT id FROM users WHERE id <> volunteer_id LIMIT 1)",
])
def test_report_time_place_or_author_moved(app, fresh, change):
    with tampered("reports", fresh["id"], change):
        assert_named(app, f"report {fresh['id']}", "altered")
    assert verify(app).exit_code == 0


def test_report_row_deleted(app, fresh):
    with tampered("reports", fresh["id"], None):
        assert_named(app, f"report {fresh['id']}", "deleted")


def test_review_decision_changed_or_review_deleted(app, evidence):
    review = evidence["review"]
    with tampered("reviews", review["id"], "decision = 'rejected'"):
        assert_named(app, f"review {review['id']}", "altered")
    with tampered("reviews", review["id"], None):
        assert_named(app, f"review {review['id']}", "deleted")
    assert verify(app).exit_code == 0


def test_row_with_no_binding_event(app, evidence):
    """A review slipped in by an insider (a copy of a real one under a new id)."""
    forged = str(uuid.uuid4())
    _as_insider(f"INSERT INTO reviews SELECT '{forged}', photo_id, reviewer_id, 'rejected', "
                f"reason, created_at, custody_hash FROM reviews "
                f"WHERE id = '{evidence['review']['id']}'")
    try:
        assert_named(app, f"review {forged}", "no custody event binds")
    finally:
        _as_insider(f"DELETE FROM reviews WHERE id = '{forged}'")


def test_frozen_evidence_item_removed_behind_the_app(app, evidence):
    item, dossier = evidence["items"][1], evidence["dossier"]
    with tampered("evidence_items", item["id"], None):
        assert_named(app, f"dossier {dossier['label']}", "evidence item 2",
                     item["photo_id"], "removed")
    assert verify(app).exit_code == 0


def test_frozen_photo_hash_changed_is_named_on_the_dossier_too(app, evidence):
    photo, dossier = evidence["photos"][0], evidence["dossier"]
    with tampered("photos", photo["id"], f"sha256 = '{'cd' * 32}'"):
        output = assert_named(app, f"dossier {dossier['label']}", "evidence item 1",
                              "no longer has the hash frozen")
        assert f"photo {photo['id']}: altered" in output


def test_the_app_refuses_to_remove_a_frozen_item(app, evidence):
    client, case, item = evidence["client"], evidence["case"], evidence["items"][0]
    response = client.delete(f"/api/v1/cases/{case['id']}/items/{item['id']}",
                             headers=auth(evidence["law"]))
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert "item_id" in body["errors"] and evidence["dossier"]["label"] in body["message"]
    items = client.get(f"/api/v1/cases/{case['id']}/items",
                       headers=auth(evidence["law"])).get_json()
    assert [i["id"] for i in items] == [i["id"] for i in evidence["items"]]


def test_an_unfrozen_item_can_still_be_removed(app, client, evidence, volunteer):
    photo = post_report(client, volunteer[2], report_json(),
                        [(jpeg_bytes(seed=812, lat=23.18, lon=113.39), "a.jpg")])
    case = evidence["case"]
    added = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(evidence["law"]),
                        json={"photo_id": photo.get_json()["photos"][0]["id"],
                              "title": "后加", "purpose": "补充"})
    assert added.status_code == 201
    response = client.delete(f"/api/v1/cases/{case['id']}/items/{added.get_json()['id']}",
                             headers=auth(evidence["law"]))
    assert response.status_code == 204


@pytest.mark.parametrize("change", [
    "label = 'dossier-forged-001'",
    "manifest = manifest || '\\x20'::bytea",
    "item_count = item_count + 1",
])
def test_dossier_row_altered(app, evidence, change):
    dossier = evidence["dossier"]
    with tampered("dossiers", dossier["id"], change):
        assert_named(app, f"dossier {dossier['id']}", "altered")
    assert verify(app).exit_code == 0


def test_dossier_row_deleted(app, evidence):
    dossier = evidence["dossier"]
    with tampered("dossiers", dossier["id"], None):
        assert_named(app, f"dossier {dossier['id']}", "deleted")


def _old_release_rows(app, volunteer_id: uuid.UUID) -> tuple:
    """A report, photo and review written as a release before binding wrote them: their
    creation events carry no row digest."""
    from fieldapp.geo.geometry import point_element
    from fieldapp.reports.models import Photo, Report
    from fieldapp.reviews.models import Review

    now = datetime.now(UTC)
    original = f"photo of an old install {uuid.uuid4()}".encode()
    sha256 = app.extensions["blob_store"].put_bytes(original)
    report = Report(id=uuid.uuid4(), client_id=uuid.uuid4(), fingerprint="0" * 64,
                    volunteer_id=volunteer_id, category="air", description="old install",
                    observed_at=now, received_at=now, claim_lon=113.4, claim_lat=23.1,
                    claim_crs="wgs84", accuracy_m=None, location=point_element(113.4, 23.1),
                    verdict="needs_review", verified=False)
    photo = Photo(id=uuid.uuid4(), report_id=report.id, position=0, sha256=sha256,
                  media_type="image/jpeg", size=len(original), exif={}, checks={},
                  verdict="needs_review", received_at=now, checked_at=now,
                  # Releases before background analysis analysed a photo as it arrived.
                  analysed_at=now)
    events = custody.append_many([
        custody.Entry("received", "report", report.id, volunteer_id,
                      {"client_id": str(report.client_id), "photos": [photo.sha256]}, now),
        custody.Entry("received", "photo", photo.id, volunteer_id, {
            "sha256": photo.sha256, "size": photo.size, "media_type": photo.media_type,
            "report_id": str(report.id), "position": 0}, now)], flush=False)
    photo.receipt_hash = events[1].hash
    db.session.add_all([report, photo])
    db.session.flush()
    review_event = custody.append("reviewed", "photo", photo.id, actor_id=volunteer_id,
                                  occurred_at=now, details={
                                      "sha256": photo.sha256, "decision": "accepted",
                                      "reason": " fine "})
    review = Review(id=uuid.uuid4(), photo_id=photo.id, reviewer_id=volunteer_id,
                    decision="accepted", reason="fine", created_at=now,
                    custody_hash=review_event.hash)
    db.session.add(review)
    db.session.commit()
    return report.id, photo.id, review.id, [events[0].seq, events[1].seq, review_event.seq]


def test_rows_of_an_old_install_are_bound_once_in_order(app, volunteer):
    with app.app_context():
        report_id, photo_id, review_id, seqs = _old_release_rows(app, volunteer[0])
    first = verify(app)
    assert first.exit_code == 0, first.output
    assert "bound 3 rows" in first.output
    with app.app_context():
        bound = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.action == "bound",
            CustodyEvent.subject_id.in_([report_id, photo_id, review_id]))
            .order_by(CustodyEvent.seq)).all()
        assert [(e.subject_type, e.subject_id) for e in bound] == [
            ("report", report_id), ("photo", photo_id), ("review", review_id)]
        assert [e.details["binds_seq"] for e in bound] == seqs
    again = verify(app)
    assert again.exit_code == 0 and "bound" not in again.output
    with tampered("reviews", str(review_id), "decision = 'rejected'"):
        assert_named(app, f"review {review_id}", "altered")
    with tampered("photos", str(photo_id), None):
        assert_named(app, f"photo {photo_id}", "deleted")


def test_a_changed_old_row_is_never_bound(app, volunteer):
    with app.app_context():
        _, photo_id, _, seqs = _old_release_rows(app, volunteer[0])
        size = db.session.scalar(select(Photo.size).where(Photo.id == photo_id))
    _as_insider(f"UPDATE photos SET size = {size + 1} WHERE id = '{photo_id}'")
    try:
        assert_named(app, f"photo {photo_id}", "no custody event binds")
        assert_named(app, f"photo {photo_id}", f"custody event #{seqs[1]}",
                     "no row agreeing with it")
    finally:
        _as_insider(f"UPDATE photos SET size = {size} WHERE id = '{photo_id}'")
    assert "bound 1 rows" in verify(app).output


class _PausingStore:
    """The blob store, but the audit's first re-hash waits until the test lets it go."""

    def __init__(self, store):
        self._store = store
        self.rehashing, self.go_on = threading.Event(), threading.Event()

    def path_for(self, sha256):
        self.rehashing.set()
        self.go_on.wait(120)
        return self._store.path_for(sha256)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_intake_goes_on_while_the_audit_rehashes(app, client, volunteer):
    """The audit holds no lock of the chain while it re-hashes originals: a submission made
    meanwhile is answered before the audit is let go on."""
    store = _PausingStore(app.extensions["blob_store"])
    outcome = {}
    first = post_report(client, volunteer[2], report_json(),
                        [(jpeg_bytes(seed=814, lat=23.18, lon=113.39), "a.jpg")])
    assert first.status_code == 201  # at least one original for the audit to re-hash

    def run_audit():
        with app.app_context():
            outcome["problems"] = custody.audit(store)

    def submit():
        photo = jpeg_bytes(seed=813, lat=23.18, lon=113.39)
        outcome["status"] = post_report(client, volunteer[2], report_json(),
                                        [(photo, "a.jpg")]).status_code

    auditor = threading.Thread(target=run_audit)
    auditor.start()
    try:
        assert store.rehashing.wait(120), "the audit never reached its re-hash"
        submitter = threading.Thread(target=submit)
        submitter.start()
        submitter.join(60)
        assert not submitter.is_alive(), "the submission waited for the audit"
        assert outcome["status"] == 201
    finally:
        store.go_on.set()
        auditor.join(120)
    assert outcome["problems"] == []
