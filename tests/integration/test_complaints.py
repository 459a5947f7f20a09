"""Complaints to the authorities: filing, deadlines, every update a custody event, the
overdue listing, the site's timeline, dossiers and the packet."""
from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from psycopg2 import errors
from sqlalchemy import func, select, text

from fieldapp.complaints import rules
from fieldapp.complaints.models import Complaint, ComplaintUpdate
from fieldapp.custody import service as custody
from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from tests.helpers import (
    TEST_OWNER_DB_URL,
    auth,
    freeze,
    post_report,
    report_json,
    role_tokens,
)
from tests.imagegen import jpeg_bytes
from tests.integration.test_binding import assert_named, tampered, verify


@pytest.fixture(scope="module")
def world(app):
    """A site, two reports at it (three photos), and a token per role, made once."""
    client = app.test_client()
    tokens = role_tokens(app, "complaints", ("volunteer", "coordinator", "lawyer", "admin"))
    site = client.post("/api/v1/sites", headers=auth(tokens["coordinator"]), json={
        "name": "投诉测试印染厂", "operator": "某某印染有限公司",
        "geometry": {"type": "Point", "coordinates": [113.391, 23.181]}})
    assert site.status_code == 201, site.get_json()
    reports = []
    for seeds in ((901, 902), (903,)):
        photos = [(jpeg_bytes(seed=seed, lat=23.18, lon=113.39), f"{seed}.jpg")
                  for seed in seeds]
        response = post_report(client, tokens["volunteer"],
                               report_json(site_id=site.get_json()["id"]), photos)
        assert response.status_code == 201, response.get_json()
        reports.append(response.get_json())
    return {"client": client, "site": site.get_json(), "reports": reports, **tokens}


def file(world, token=None, **overrides):
    body = {"site_id": world["site"]["id"], "channel": "12369",
            "number": f"HB-{uuid.uuid4().hex[:10]}", "authority": "广州市生态环境局",
            "filed_at": datetime.now(UTC).isoformat(),
            "summary": "印染厂东侧排污口排放深色废水",
            "report_ids": [report["id"] for report in world["reports"]]}
    body.update(overrides)
    return world["client"].post("/api/v1/complaints", json=body,
                                headers=auth(token or world["coordinator"]))


def filed(world, **overrides) -> dict:
    response = file(world, **overrides)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def update(world, complaint, kind, token=None, **fields):
    body = {"kind": kind, "occurred_at": datetime.now(UTC).isoformat(), **fields}
    return world["client"].post(f"/api/v1/complaints/{complaint['id']}/updates", json=body,
                                headers=auth(token or world["coordinator"]))


def counts(app) -> dict:
    with app.app_context():
        return {"complaints": db.session.scalar(select(func.count()).select_from(Complaint)),
                "updates": db.session.scalar(select(func.count()).select_from(ComplaintUpdate)),
                "events": db.session.scalar(select(func.count()).select_from(CustodyEvent))}


def test_filing_stores_deadlines_and_binds_the_row(app, world):
    complaint = filed(world, filed_at="2026-05-04T23:30:00+08:00")
    assert complaint["status"] == "filed" and complaint["site_name"] == "投诉测试印染厂"
    assert complaint["report_ids"] == [report["id"] for report in world["reports"]]
    acceptance, result = complaint["deadlines"]["acceptance"], complaint["deadlines"]["result"]
    assert acceptance["last_day"] == "2026-05-19" and acceptance["days"] == 15
    assert acceptance["due_at"] == "2026-05-20T00:00:00+08:00"
    assert result["last_day"] == "2026-07-03" and result["extension_days"] == 0
    # Long past: both deadlines lapsed with no answer.
    assert complaint["overdue"] is True and complaint["lapsed"] == ["acceptance", "result"]
    with app.app_context():
        stored = db.session.get(Complaint, uuid.UUID(complaint["id"]))
        event = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.hash == stored.custody_hash))
        assert (event.action, event.subject_type) == ("complaint_filed", "complaint")
        assert event.subject_id == stored.id
        assert event.details["row_sha256"] == custody.row_sha256("complaint", stored)
        assert stored.accept_due_at == datetime(2026, 5, 20, tzinfo=rules.CHINA)
    shown = world["client"].get(f"/api/v1/complaints/{complaint['id']}",
                                headers=auth(world["lawyer"]))
    assert shown.status_code == 200 and shown.get_json()["number"] == complaint["number"]


def test_deadlines_follow_the_configuration(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "FIELDAPP_COMPLAINT_ACCEPT_DAYS", 7)
    monkeypatch.setitem(app.config, "FIELDAPP_COMPLAINT_RESULT_DAYS", 30)
    complaint = filed(world, filed_at="2026-05-04T10:00:00+08:00")
    assert complaint["deadlines"]["acceptance"]["last_day"] == "2026-05-11"
    assert complaint["deadlines"]["result"]["last_day"] == "2026-06-03"


def test_who_may_read_and_write(world):
    client = world["client"]
    assert file(world, token=world["volunteer"]).status_code == 403
    assert file(world, token=world["lawyer"]).status_code == 403
    assert file(world, token=world["admin"]).status_code == 201
    assert client.get("/api/v1/complaints", headers=auth(world["volunteer"])).status_code == 403
    complaint = filed(world)
    for role in ("coordinator", "lawyer", "admin"):
        assert client.get("/api/v1/complaints", headers=auth(world[role])).status_code == 200
    assert client.get(f"/api/v1/complaints/{complaint['id']}/packet",
                      headers=auth(world["volunteer"])).status_code == 403
    assert update(world, complaint, "accepted", token=world["lawyer"]).status_code == 403
    assert update(world, complaint, "accepted", token=world["admin"]).status_code == 201


def test_a_complaint_lives_its_whole_life_each_update_a_custody_event(app, world):
    complaint = filed(world)
    steps = [("accepted", {}), ("investigating", {}),
             ("extended", {"extension_days": 20, "reason": "需要委托第三方监测"}),
             ("note", {"reason": "电话询问进度"}),
             ("replied", {"reply_text": "经查属实，已立案查处", "outcome": "罚款二十万元",
                          "penalty_number": "穗环罚〔2026〕88号"}),
             ("closed", {})]
    for kind, fields in steps:
        response = update(world, complaint, kind, **fields)
        assert response.status_code == 201, (kind, response.get_json())
    shown = world["client"].get(f"/api/v1/complaints/{complaint['id']}",
                                headers=auth(world["coordinator"])).get_json()
    assert shown["status"] == "closed"
    assert [u["kind"] for u in shown["updates"]] == [kind for kind, _ in steps]
    assert shown["deadlines"]["result"]["extension_days"] == 20
    assert shown["deadlines"]["acceptance"]["met_at"] is not None
    assert shown["overdue"] is False and shown["lapsed"] == []
    with app.app_context():
        events = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.subject_id == uuid.UUID(complaint["id"])).order_by(CustodyEvent.seq)
        ).all()
        assert [e.action for e in events] == ["complaint_filed"] + ["complaint_updated"] * 6
        assert [e.details["to"] for e in events[1:]] == [
            "accepted", "investigating", "investigating", "investigating", "replied", "closed"]
        for event, shown_update in zip(events[1:], shown["updates"], strict=True):
            stored = db.session.get(ComplaintUpdate, uuid.UUID(shown_update["id"]))
            assert event.hash == stored.custody_hash == shown_update["custody_hash"]
            assert event.details["row_sha256"] == custody.row_sha256("complaint_update", stored)
    assert verify(app).exit_code == 0


def test_patch_moves_the_status_as_an_update(world):
    complaint = filed(world)
    response = world["client"].patch(
        f"/api/v1/complaints/{complaint['id']}", headers=auth(world["coordinator"]),
        json={"status": "rejected", "occurred_at": datetime.now(UTC).isoformat(),
              "reply_text": "不属于本机关职责"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "rejected" and body["updates"][0]["kind"] == "rejected"
    # What was filed is not for PATCH.
    renumbered = world["client"].patch(
        f"/api/v1/complaints/{complaint['id']}", headers=auth(world["coordinator"]),
        json={"number": "X-1"})
    assert renumbered.status_code == 422 and "number" in renumbered.get_json()["errors"]


@pytest.mark.parametrize("path, refused", [
    ((), "replied"), ((), "investigating"), ((), "closed"),
    (("accepted",), "rejected"), (("accepted",), "replied"),
    (("rejected",), "accepted"), (("rejected",), "extended"),
    (("accepted", "investigating", "replied"), "investigating"),
    (("accepted", "investigating", "replied", "closed"), "accepted"),
    ((), "extended"),
])
def test_impossible_transitions_are_409_and_write_nothing(app, world, path, refused):
    complaint = filed(world)
    for kind in path:
        fields = {"reply_text": "答复"} if kind in ("rejected", "replied") else {}
        assert update(world, complaint, kind, **fields).status_code == 201
    before = counts(app)
    fields = {"reply_text": "答复"} if refused in ("rejected", "replied") else {}
    if refused == "extended":
        fields = {"extension_days": 5, "reason": "延期"}
    response = update(world, complaint, refused, **fields)
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert body["sub_code"] == "COMPLAINT_TRANSITION" and "cannot" in body["message"]
    assert counts(app) == before


def test_two_answers_at_once_move_the_status_once(app, world, owner_connection):
    complaint = filed(world)
    results = []

    def answer(kind):
        client = app.test_client()
        fields = {"reply_text": "不予受理"} if kind == "rejected" else {}
        response = client.post(f"/api/v1/complaints/{complaint['id']}/updates",
                               headers=auth(world["coordinator"]), json={
                                   "kind": kind, "occurred_at": datetime.now(UTC).isoformat(),
                                   **fields})
        results.append((kind, response.status_code))

    # Both requests queue behind a lock held on the row, then go one after the other.
    with owner_connection.cursor() as cur:
        cur.execute("SELECT 1 FROM complaints WHERE id = %s FOR UPDATE", (complaint["id"],))
        threads = [threading.Thread(target=answer, args=(kind,))
                   for kind in ("accepted", "rejected")]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        assert results == []  # both are waiting for the row
        owner_connection.commit()
    for thread in threads:
        thread.join(30)
    assert sorted(status for _, status in results) == [201, 409], results
    shown = world["client"].get(f"/api/v1/complaints/{complaint['id']}",
                                headers=auth(world["coordinator"])).get_json()
    winner = next(kind for kind, status in results if status == 201)
    assert shown["status"] == winner and [u["kind"] for u in shown["updates"]] == [winner]


def test_extensions_are_capped_and_need_a_reason(app, world):
    complaint = filed(world)
    update(world, complaint, "accepted")
    before = counts(app)
    too_long = update(world, complaint, "extended", extension_days=31, reason="复杂")
    assert too_long.status_code == 422 and "extension_days" in too_long.get_json()["errors"]
    no_reason = update(world, complaint, "extended", extension_days=10, reason="  ")
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["errors"]
    assert counts(app) == before
    assert update(world, complaint, "extended", extension_days=20, reason="复杂").status_code \
        == 201
    over = update(world, complaint, "extended", extension_days=11, reason="再延")
    assert over.status_code == 422
    assert "20 already granted, 10 left" in over.get_json()["errors"]["extension_days"][0]
    shown = update(world, complaint, "extended", extension_days=10, reason="再延")
    assert shown.status_code == 201
    complaint = world["client"].get(f"/api/v1/complaints/{complaint['id']}",
                                    headers=auth(world["coordinator"])).get_json()
    result = complaint["deadlines"]["result"]
    assert result["extension_days"] == 30
    moved = datetime.fromisoformat(result["due_at"]) - datetime.fromisoformat(
        result["original_due_at"])
    assert moved == timedelta(days=30)


def test_overdue_lists_complaints_past_a_deadline_with_no_answer(world):
    client, token = world["client"], world["coordinator"]
    now = datetime.now(UTC)
    site = client.post("/api/v1/sites", headers=auth(token), json={
        "name": f"逾期测试 {uuid.uuid4().hex[:6]}",
        "geometry": {"type": "Point", "coordinates": [113.5, 23.2]}}).get_json()
    fresh = filed(world, site_id=site["id"], filed_at=now.isoformat())
    unanswered = filed(world, site_id=site["id"],
                       filed_at=(now - timedelta(days=20)).isoformat())
    accepted_late = filed(world, site_id=site["id"],
                          filed_at=(now - timedelta(days=20)).isoformat())
    update(world, accepted_late, "accepted")
    no_result = filed(world, site_id=site["id"], filed_at=(now - timedelta(days=70)).isoformat())
    update(world, no_result, "accepted", occurred_at=(now - timedelta(days=65)).isoformat())
    extended = filed(world, site_id=site["id"], filed_at=(now - timedelta(days=70)).isoformat())
    update(world, extended, "accepted")
    update(world, extended, "extended", extension_days=30, reason="案情复杂")

    def listed(query):
        response = client.get(f"/api/v1/complaints?site_id={site['id']}&{query}",
                              headers=auth(token))
        assert response.status_code == 200, response.get_json()
        return {item["id"]: item for item in response.get_json()["items"]}

    overdue = listed("overdue=true")
    assert set(overdue) == {unanswered["id"], no_result["id"]}
    assert overdue[unanswered["id"]]["lapsed"] == ["acceptance"]
    assert overdue[no_result["id"]]["lapsed"] == ["result"]
    assert overdue[no_result["id"]]["deadlines"]["result"]["lapsed"] is True
    assert set(listed("overdue=false")) == {fresh["id"], accepted_late["id"], extended["id"]}
    late = listed("status=accepted")[accepted_late["id"]]["deadlines"]["acceptance"]
    assert late["late"] is True and late["lapsed"] is False
    page = client.get(f"/api/v1/complaints?site_id={site['id']}&page=2&page_size=2",
                      headers=auth(token)).get_json()
    assert page["total"] == 5 and len(page["items"]) == 2


@pytest.mark.parametrize("overrides, field", [
    ({"channel": "weibo"}, "channel"),
    ({"site_id": str(uuid.uuid4())}, "site_id"),
    ({"report_ids": [str(uuid.uuid4())]}, "report_ids"),
    ({"report_ids": ["not-a-uuid"]}, "report_ids"),
    ({"filed_at": "2026-05-04T10:00:00"}, "filed_at"),
    ({"filed_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, "filed_at"),
    ({"number": "   "}, "number"),
    ({"number": ""}, "number"),
    ({"authority": None}, "authority"),
    ({"summary": "a\x00b"}, "summary"),
])
def test_bad_filing_is_422_naming_the_field_and_writes_nothing(app, world, overrides, field):
    before = counts(app)
    response = file(world, **overrides)
    assert response.status_code == 422, response.get_json()
    assert any(name.split("[")[0].split(".")[0] == field
               for name in response.get_json()["errors"]), response.get_json()
    assert counts(app) == before


def test_a_report_cited_twice_or_a_number_filed_twice(app, world):
    report_id = world["reports"][0]["id"]
    twice = file(world, report_ids=[report_id, report_id])
    assert twice.status_code == 422 and "report_ids" in twice.get_json()["errors"]
    first = filed(world)
    before = counts(app)
    again = file(world, number=first["number"])
    assert again.status_code == 409 and again.get_json()["sub_code"] == "COMPLAINT_DUPLICATE"
    assert counts(app) == before


@pytest.mark.parametrize("body, field", [
    ({"kind": "approved"}, "kind"),
    ({"kind": "accepted", "occurred_at": "soon"}, "occurred_at"),
    ({"kind": "replied"}, "reply_text"),
    ({"kind": "accepted", "extension_days": 3}, "extension_days"),
    ({"kind": "note"}, "reason"),
    ({"kind": "accepted", "occurred_at": "2020-01-01T00:00:00+08:00"}, "occurred_at"),
    ({"kind": "accepted", "occurred_at": "2999-01-01T00:00:00+08:00"}, "occurred_at"),
])
def test_bad_update_is_422_naming_the_field_and_writes_nothing(app, world, body, field):
    complaint = filed(world)
    before = counts(app)
    body = {"occurred_at": datetime.now(UTC).isoformat(), **body}
    response = world["client"].post(f"/api/v1/complaints/{complaint['id']}/updates",
                                    json=body, headers=auth(world["coordinator"]))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"], response.get_json()
    assert counts(app) == before


def test_unknown_complaint_is_404(world):
    missing = uuid.uuid4()
    client, token = world["client"], world["coordinator"]
    assert client.get(f"/api/v1/complaints/{missing}", headers=auth(token)).status_code == 404
    assert update(world, {"id": str(missing)}, "accepted").status_code == 404
    assert client.get(f"/api/v1/complaints/{missing}/packet",
                      headers=auth(token)).status_code == 404


def test_the_app_moves_only_the_status_columns(app, world, app_connection):
    complaint = filed(world)
    answered = update(world, complaint, "accepted").get_json()
    with app_connection.cursor() as cur:
        cur.execute("SET ROLE fieldapp_app")
        for statement in ("UPDATE complaints SET number = 'forged' WHERE id = %s",
                          "UPDATE complaints SET filed_at = now() WHERE id = %s",
                          "DELETE FROM complaints WHERE id = %s",
                          "UPDATE complaint_updates SET reply_text = 'x' WHERE id = %s",
                          "DELETE FROM complaint_updates WHERE id = %s"):
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute(statement, (answered["id"] if "updates" in statement
                                        else complaint["id"],))
            app_connection.rollback()
            cur.execute("SET ROLE fieldapp_app")
    # Even the owner cannot rewrite what was filed or an update.
    owner = psycopg2.connect(TEST_OWNER_DB_URL)
    try:
        for statement, row in (("UPDATE complaints SET number = 'forged' WHERE id = %s",
                                complaint["id"]),
                               ("UPDATE complaint_updates SET kind = 'rejected' WHERE id = %s",
                                answered["id"])):
            with pytest.raises(psycopg2.Error, match="refused"), owner, owner.cursor() as cur:
                cur.execute(statement, (row,))
    finally:
        owner.close()


def test_the_audit_names_a_complaint_or_update_altered_behind_the_app(app, world):
    complaint = filed(world)
    answered = update(world, complaint, "rejected", reply_text="不予受理").get_json()
    with tampered("complaints", complaint["id"], "authority = '别的机关'"):
        assert_named(app, f"complaint {complaint['id']}", "altered")
    with tampered("complaint_updates", answered["id"], "reply_text = '已受理'"):
        assert_named(app, f"complaint_update {answered['id']}", "altered")
    with tampered("complaint_updates", answered["id"], None):
        assert_named(app, f"complaint_update {answered['id']}", "deleted")
    assert verify(app).exit_code == 0


def test_the_site_timeline_shows_complaints_and_updates(world):
    complaint = filed(world, number=f"TL-{uuid.uuid4().hex[:8]}")
    update(world, complaint, "accepted")
    update(world, complaint, "investigating")
    timeline = world["client"].get(f"/api/v1/sites/{world['site']['id']}/timeline",
                                   headers=auth(world["coordinator"])).get_json()
    mine = [event for event in timeline if event["subject_id"] == complaint["id"]]
    assert [event["kind"] for event in mine] == ["complaint", "complaint_update",
                                                 "complaint_update"]
    assert complaint["number"] in mine[0]["summary"] and "investigating" in mine[2]["summary"]
    ats = [event["at"] for event in timeline]
    assert ats == sorted(ats)


def _pdf_text(data: bytes) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data,
                            capture_output=True, check=True)
    return result.stdout.decode()


def test_a_dossier_of_a_case_on_the_site_carries_the_complaint_history(app, world, tmp_path):
    client = world["client"]
    complaint = filed(world, number=f"DS-{uuid.uuid4().hex[:8]}")
    update(world, complaint, "accepted")
    update(world, complaint, "investigating")
    penalty = "穗环罚〔2026〕99号"
    update(world, complaint, "replied", reply_text="已责令整改", penalty_number=penalty)
    lawyer = world["lawyer"]
    case = client.post("/api/v1/cases", headers=auth(lawyer), json={
        "site_id": world["site"]["id"], "title": "投诉记录卷宗"}).get_json()
    item = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(lawyer), json={
        "photo_id": world["reports"][0]["photos"][0]["id"], "title": "排污口",
        "purpose": "证明排污"})
    assert item.status_code == 201, item.get_json()
    dossier = freeze(client, lawyer, case["id"])
    assert dossier["status"] == "frozen", dossier
    manifest = client.get(f"/api/v1/dossiers/{dossier['id']}/manifest",
                          headers=auth(lawyer)).get_json()
    entries = {entry["number"]: entry for entry in manifest["complaints"]["entries"]}
    entry = entries[complaint["number"]]
    assert entry["status"] == "replied" and entry["custody_hash"] == complaint["custody_hash"]
    assert [u["kind"] for u in entry["updates"]] == ["accepted", "investigating", "replied"]
    assert entry["updates"][-1]["penalty_number"] == penalty
    assert "calendar days" in manifest["complaints"]["description"]
    download = client.get(f"/api/v1/dossiers/{dossier['id']}/download", headers=auth(lawyer))
    assert download.status_code == 200
    archive = tmp_path / "dossier.zip"
    archive.write_bytes(download.get_data())
    checked = app.test_cli_runner().invoke(args=["dossier", "verify", str(archive)])
    assert checked.exit_code == 0, checked.output
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        custody_lines = zf.read(next(n for n in names if n.endswith("custody.jsonl")))
        catalog = zf.read(next(n for n in names if n.endswith("catalog.pdf")))
    # The history's own custody events ship with it, so each binding can be checked offline.
    for hash_ in [complaint["custody_hash"], *(u["custody_hash"] for u in entry["updates"])]:
        assert hash_.encode() in custody_lines
    catalog_text = _pdf_text(catalog)
    assert "投诉记录" in catalog_text and complaint["number"] in catalog_text
    assert "穗环罚" in catalog_text


def test_the_packet_is_a_chinese_pdf_citing_every_photo_by_hash(app, world):
    complaint = filed(world, number=f"PK-{uuid.uuid4().hex[:8]}")
    with app.app_context():
        head = db.session.scalar(text("SELECT max(seq) FROM custody_events"))
    response = world["client"].get(f"/api/v1/complaints/{complaint['id']}/packet",
                                    headers=auth(world["lawyer"]))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    letter = _pdf_text(response.data)
    assert complaint["number"] in letter and "广州市生态环境局" in letter
    photos = [photo for report in world["reports"] for photo in report["photos"]]
    assert len(photos) == 3
    for photo in photos:
        assert photo["sha256"] in letter
    assert "现场位置图" in letter and "比例尺" in letter  # the drawn map
    assert "接收时间" in letter and "拍摄时间" in letter
    with app.app_context():
        added = db.session.scalars(select(CustodyEvent).where(CustodyEvent.seq > head)
                                   .order_by(CustodyEvent.seq)).all()
    # The export is one event, and nothing else was read: no original was opened.
    assert [(e.action, e.subject_type, str(e.subject_id)) for e in added] == [
        ("exported", "complaint", complaint["id"])]
    assert added[0].details["packet_sha256"] == hashlib.sha256(response.data).hexdigest()
    assert sorted(added[0].details["photos"]) == sorted(p["sha256"] for p in photos)


def test_further_evidence_is_a_dated_update_and_the_filing_stays_as_filed(app, world):
    """The reports cited at filing stay as filed (the letter cites them); further reports
    are sent with an update of kind supplemented, a custody event of its own, and the
    packet shows them after the filed ones, under the day they were sent."""
    first, second = world["reports"]
    complaint = filed(world, report_ids=[first["id"]], number=f"SP-{uuid.uuid4().hex[:8]}")
    sent = update(world, complaint, "supplemented", report_ids=[second["id"]],
                  reason="补充东侧排污口夜间照片")
    assert sent.status_code == 201, sent.get_json()
    body = sent.get_json()
    assert body["kind"] == "supplemented" and body["report_ids"] == [second["id"]]
    shown = world["client"].get(f"/api/v1/complaints/{complaint['id']}",
                                headers=auth(world["lawyer"])).get_json()
    assert shown["report_ids"] == [first["id"]] and shown["status"] == "filed"
    assert shown["updates"][0]["report_ids"] == [second["id"]]
    assert shown["next_statuses"] == ["accepted", "rejected"]
    with app.app_context():
        stored = db.session.get(ComplaintUpdate, uuid.UUID(body["id"]))
        event = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.hash == stored.custody_hash))
        assert event.details["report_ids"] == [second["id"]]
        assert event.details["row_sha256"] == custody.row_sha256("complaint_update", stored)
        head = db.session.scalar(text("SELECT max(seq) FROM custody_events"))

    letter = world["client"].get(f"/api/v1/complaints/{complaint['id']}/packet",
                                 headers=auth(world["coordinator"]))
    assert letter.status_code == 200
    words = _pdf_text(letter.data)
    assert "照片证据（共 2 张）" in words and "补充证据" in words
    assert "补充东侧排污口夜间照片" in words
    for photo in first["photos"] + second["photos"]:
        assert photo["sha256"] in words
    # The filed photos come first, numbered on through the supplement.
    assert words.index(first["photos"][-1]["sha256"]) < words.index("补充证据") \
        < words.index(second["photos"][0]["sha256"])
    with app.app_context():
        exported = db.session.scalar(select(CustodyEvent).where(CustodyEvent.seq > head))
    assert exported.details["photos"] == [p["sha256"] for p in first["photos"] + second["photos"]]

    # Timeline and the audit know the supplement; tampering with what it cites is named.
    timeline = world["client"].get(f"/api/v1/sites/{world['site']['id']}/timeline",
                                   headers=auth(world["coordinator"])).get_json()
    assert any("1 further report(s)" in (event.get("summary") or "") for event in timeline)
    assert verify(app).exit_code == 0
    with tampered("complaint_updates", body["id"],
                  f"report_ids = '[\"{first['id']}\"]'::jsonb"):
        assert_named(app, f"complaint_update {body['id']}", "altered")


def test_further_evidence_refused(app, world):
    first, second = world["reports"]
    complaint = filed(world, report_ids=[first["id"]])
    before = counts(app)
    for fields, field in (({}, "report_ids"),
                          ({"report_ids": []}, "report_ids"),
                          ({"report_ids": [first["id"]]}, "report_ids"),  # cited at filing
                          ({"report_ids": [str(uuid.uuid4())]}, "report_ids"),
                          ({"report_ids": [second["id"], second["id"]]}, "report_ids")):
        response = update(world, complaint, "supplemented", **fields)
        assert response.status_code == 422, (fields, response.get_json())
        assert field in response.get_json()["errors"], response.get_json()
    # Only a supplement cites reports: not a note, not a PATCH of the status.
    note = update(world, complaint, "note", reason="x", report_ids=[second["id"]])
    assert note.status_code == 422 and "report_ids" in note.get_json()["errors"]
    patched = world["client"].patch(
        f"/api/v1/complaints/{complaint['id']}", headers=auth(world["coordinator"]),
        json={"status": "accepted", "occurred_at": datetime.now(UTC).isoformat(),
              "report_ids": [second["id"]]})
    assert patched.status_code == 422 and "report_ids" in patched.get_json()["errors"]
    assert counts(app) == before
    # Cited once by a supplement, not again; and a rejected complaint takes none.
    assert update(world, complaint, "supplemented", report_ids=[second["id"]]).status_code \
        == 201
    again = update(world, complaint, "supplemented", report_ids=[second["id"]])
    assert again.status_code == 422 and "already cited" in again.get_json()["errors"][
        "report_ids"][0]
    rejected = filed(world, report_ids=[first["id"]])
    assert update(world, rejected, "rejected", reply_text="不予受理").status_code == 201
    refused = update(world, rejected, "supplemented", report_ids=[second["id"]])
    assert refused.status_code == 409
    assert refused.get_json()["sub_code"] == "COMPLAINT_TRANSITION"
