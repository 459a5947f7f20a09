"""Service records (民政部令第67号), corrections, real names and certificates, on real PostGIS:
hours are the on-site seconds of accepted claims only; both steps of a correction are kept;
a real name reaches the volunteer and admins only; every certificate issued is recorded and
verifies, and a changed byte is refused."""
from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg2
import pytest

from fieldapp.volunteers import certificates
from tests.helpers import auth, post_report, report_json
from tests.imagegen import jpeg_bytes
from tests.integration.test_volunteer_view import SITE_LAT, SITE_LON, _site, wall_token


def _task(client, token, site_id, title) -> dict:
    now = datetime.now(UTC)
    response = client.post("/api/v1/tasks", headers=auth(token), json={
        "site_id": site_id, "title": title, "instructions": "From the bridge",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(), "slots": 1,
        "categories": ["water"], "photos_required": 1})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _visit(client, owner_connection, volunteer, coordinator, title, minutes, decision,
           seed) -> str:
    """A claim with one visit of `minutes` on site, one report, evaluated `decision`."""
    site = _site(client, coordinator[2])
    task = _task(client, coordinator[2], site["id"], title)
    claimed = client.post(f"/api/v1/tasks/{task['id']}/claims", headers=auth(volunteer[2]))
    assert claimed.status_code == 201, claimed.get_json()
    claim_id = claimed.get_json()["id"]
    checked_in = client.post(f"/api/v1/claims/{claim_id}/check-in", headers=auth(volunteer[2]),
                             json={"location": {"lon": SITE_LON, "lat": SITE_LAT}})
    assert checked_in.status_code == 200, checked_in.get_json()
    sent = post_report(client, volunteer[2], report_json(task_id=task["id"], location={
        "lon": SITE_LON, "lat": SITE_LAT, "crs": "wgs84", "accuracy_m": 8}),
        [(jpeg_bytes(seed=seed), "a.jpg")])
    assert sent.status_code == 201, sent.get_json()
    # The app never rewrites when a visit began: an insider moves it back.
    with owner_connection.cursor() as cur:
        cur.execute("UPDATE claim_visits SET checked_in_at = checked_in_at - %s * interval "
                    "'1 min' WHERE claim_id = %s", (minutes, claim_id))
    owner_connection.commit()
    assert client.post(f"/api/v1/claims/{claim_id}/check-out", headers=auth(volunteer[2]),
                       json={"location": {"lon": SITE_LON, "lat": SITE_LAT}}).status_code == 200
    body = {"decision": decision, "rating": 4}
    if decision != "accepted":
        body["reason"] = "the outfall is not in frame"
    evaluated = client.post(f"/api/v1/claims/{claim_id}/evaluation",
                            headers=auth(coordinator[2]), json=body)
    assert evaluated.status_code == 200, evaluated.get_json()
    return claim_id


def _on_site_s(owner_connection, claim_id) -> int:
    with owner_connection.cursor() as cur:
        cur.execute("SELECT sum(on_site_s) FROM claim_visits WHERE claim_id = %s", (claim_id,))
        return cur.fetchone()[0]


def test_record_counts_accepted_on_site_time_only_in_json_and_csv(
        client, volunteer, coordinator, make_user, owner_connection):
    accepted = _visit(client, owner_connection, volunteer, coordinator, "河涌排口夜查", 90,
                      "accepted", 5101)
    sent_back = _visit(client, owner_connection, volunteer, coordinator, "Second look", 40,
                       "needs_more", 5102)

    response = client.get("/api/v1/volunteers/me/service-record", headers=auth(volunteer[2]))
    assert response.status_code == 200, response.get_json()
    record = response.get_json()
    expected_s = _on_site_s(owner_connection, accepted)
    assert 90 * 60 <= expected_s < 91 * 60
    assert [e["claim_id"] for e in record["entries"]] == [accepted]
    assert sent_back not in str(record)
    [entry] = record["entries"]
    assert entry["on_site_s"] == expected_s == record["total_on_site_s"]
    assert record["total_hours"] == round(expected_s / 3600, 2)
    assert (entry["task_title"], entry["reports"], entry["organisation"]) == (
        "河涌排口夜查", 1, "fieldapp")
    assert entry["site_name"].startswith("电镀厂")
    assert (entry["evaluation"]["decision"], entry["evaluation"]["rating"]) == ("accepted", 4)
    assert record["volunteer"]["user_id"] == str(volunteer[0])

    as_csv = client.get("/api/v1/volunteers/me/service-record?format=csv",
                        headers=auth(volunteer[2]))
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert [(r["claim_id"], r["task_title"], int(r["on_site_s"]), r["decision"])
            for r in rows] == [(accepted, "河涌排口夜查", expected_s, "accepted")]

    admin = make_user("admin")
    theirs = client.get(f"/api/v1/volunteers/{volunteer[0]}/service-record",
                        headers=auth(admin[2]))
    assert theirs.status_code == 200 and theirs.get_json() == record
    refused = client.get(f"/api/v1/volunteers/{volunteer[0]}/service-record",
                         headers=auth(coordinator[2]))
    assert refused.status_code == 403
    assert client.get(f"/api/v1/volunteers/{uuid.uuid4()}/service-record",
                      headers=auth(admin[2])).status_code == 404
    assert client.get("/api/v1/volunteers/me/service-record?format=xls",
                      headers=auth(volunteer[2])).status_code == 422


def _count(owner_connection, table) -> int:
    with owner_connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


ISSUER = {"FIELDAPP_ORG_NAME": "绿水青山环保志愿者协会", "FIELDAPP_ORG_PERSON_IN_CHARGE": "王建国",
          "FIELDAPP_ORG_HANDLER": "陈静", "FIELDAPP_ORG_CONTACT": "020-12345678"}


@contextmanager
def issuer(app, **changes):
    """The NGO's issuing settings in place (as the environment would give them), then as
    they were."""
    before = {name: app.config.get(name) for name in ISSUER}
    app.config.update({**ISSUER, **changes})
    try:
        yield
    finally:
        app.config.update(before)


def test_correction_requested_then_resolved_both_recorded(
        client, volunteer, coordinator, make_user, owner_connection):
    claim_id = _visit(client, owner_connection, volunteer, coordinator, "Outfall", 30,
                      "accepted", 5103)
    before = _count(owner_connection, "service_record_corrections")
    other = make_user("volunteer")
    for body, field in (({"claim_id": claim_id, "message": "  "}, "message"),
                        ({"message": "missing claim"}, "claim_id"),
                        ({"claim_id": "nope", "message": "x"}, "claim_id")):
        bad = client.post("/api/v1/volunteers/me/service-record/corrections",
                          headers=auth(volunteer[2]), json=body)
        assert bad.status_code == 422 and field in bad.get_json()["errors"], bad.get_json()
    not_theirs = client.post("/api/v1/volunteers/me/service-record/corrections",
                             headers=auth(other[2]),
                             json={"claim_id": claim_id, "message": "mine"})
    assert not_theirs.status_code == 422 and "claim_id" in not_theirs.get_json()["errors"]
    assert _count(owner_connection, "service_record_corrections") == before

    asked = client.post("/api/v1/volunteers/me/service-record/corrections",
                        headers=auth(volunteer[2]),
                        json={"claim_id": claim_id, "message": "I stayed 2 h, not 30 min"})
    assert asked.status_code == 201, asked.get_json()
    correction = asked.get_json()
    assert correction["status"] == "pending" and correction["requested_at"]
    record = client.get("/api/v1/volunteers/me/service-record",
                        headers=auth(volunteer[2])).get_json()
    assert [(c["id"], c["status"]) for c in record["corrections"]] == [
        (correction["id"], "pending")]

    url = f"/api/v1/service-record-corrections/{correction['id']}/resolution"
    assert client.post(url, headers=auth(volunteer[2]),
                       json={"decision": "accepted", "note": "x"}).status_code == 403
    bad = client.post(url, headers=auth(coordinator[2]), json={"decision": "maybe",
                                                               "note": "x"})
    assert bad.status_code == 422 and "decision" in bad.get_json()["errors"]
    resolved = client.post(url, headers=auth(coordinator[2]),
                           json={"decision": "rejected", "note": "the check-out time stands"})
    assert resolved.status_code == 201, resolved.get_json()
    assert (resolved.get_json()["status"], resolved.get_json()["resolver_id"]) == (
        "rejected", str(coordinator[0]))
    again = client.post(url, headers=auth(coordinator[2]),
                        json={"decision": "accepted", "note": "changed my mind"})
    assert again.status_code == 409
    with owner_connection.cursor() as cur:
        cur.execute("SELECT c.user_id, c.created_at, r.resolver_id, r.decision, r.resolved_at"
                    " FROM service_record_corrections c JOIN service_record_resolutions r"
                    " ON r.correction_id = c.id WHERE c.id = %s", (correction["id"],))
        user_id, asked_at, resolver, decision, resolved_at = cur.fetchone()
    assert (user_id, resolver, decision) == (str(volunteer[0]), str(coordinator[0]), "rejected")
    assert asked_at <= resolved_at
    # Both steps stand: not even the schema's owner rewrites them.
    for table in ("service_record_corrections", "service_record_resolutions"):
        with owner_connection.cursor() as cur:
            with pytest.raises(psycopg2.Error):
                cur.execute(f"DELETE FROM {table}")
        owner_connection.rollback()
    shown = client.get("/api/v1/volunteers/me/service-record",
                       headers=auth(volunteer[2])).get_json()["corrections"]
    assert [(c["status"], c["note"]) for c in shown] == [
        ("rejected", "the check-out time stands")]


def test_no_one_resolves_a_correction_of_their_own_record(client, coordinator, make_user,
                                                        owner_connection):
    # A coordinator who also goes out on tasks is evaluated by another; their correction
    # is likewise decided by another, never by themself.
    walker = make_user("coordinator")
    claim_id = _visit(client, owner_connection, walker, coordinator, "Outfall", 20,
                      "accepted", 5107)
    asked = client.post("/api/v1/volunteers/me/service-record/corrections",
                        headers=auth(walker[2]),
                        json={"claim_id": claim_id, "message": "I stayed 5 h, not 20 min"})
    assert asked.status_code == 201, asked.get_json()
    url = f"/api/v1/service-record-corrections/{asked.get_json()['id']}/resolution"
    before = _count(owner_connection, "service_record_resolutions")
    own = client.post(url, headers=auth(walker[2]), json={"decision": "accepted", "note": "ok"})
    assert own.status_code == 403, own.get_json()
    assert _count(owner_connection, "service_record_resolutions") == before
    decided = client.post(url, headers=auth(coordinator[2]),
                          json={"decision": "rejected", "note": "the times stand"})
    assert decided.status_code == 201, decided.get_json()


def test_real_name_reaches_only_the_volunteer_and_admins(
        client, volunteer, coordinator, make_user, owner_connection):
    admin, other = make_user("admin"), make_user("volunteer")
    real_name, number = f"张{uuid.uuid4().hex[:4]}", "44010619900101" + uuid.uuid4().hex[:4]
    url = f"/api/v1/volunteers/{volunteer[0]}/identity"
    body = {"real_name": real_name, "document_type": "居民身份证", "document_number": number}
    assert client.put(url, headers=auth(coordinator[2]), json=body).status_code == 403
    blank = client.put(url, headers=auth(admin[2]), json={"real_name": " "})
    assert blank.status_code == 422 and "real_name" in blank.get_json()["errors"]
    assert client.get("/api/v1/volunteers/me/identity",
                      headers=auth(volunteer[2])).status_code == 404
    stored = client.put(url, headers=auth(admin[2]), json=body)
    assert stored.status_code == 200, stored.get_json()

    mine = client.get("/api/v1/volunteers/me/identity", headers=auth(volunteer[2]))
    assert (mine.status_code, mine.get_json()["real_name"],
            mine.get_json()["document_number"]) == (200, real_name, number)
    assert client.get(url, headers=auth(admin[2])).get_json()["real_name"] == real_name
    assert client.get(url, headers=auth(coordinator[2])).status_code == 403
    assert client.get("/api/v1/volunteers/me/identity",
                      headers=auth(other[2])).status_code == 404

    # Observed at a moment of its own, so the listing's first page holds it whatever other
    # tests have stored.
    observed = "2019-07-01T08:00:00.514300+08:00"
    sent = post_report(client, volunteer[2], report_json(observed_at=observed),
                       [(jpeg_bytes(seed=5104), "a.jpg")])
    assert sent.status_code == 201, sent.get_json()
    listing = client.get("/api/v1/reports", headers=auth(coordinator[2]), query_string={
        "observed_from": observed, "observed_to": observed})
    assert listing.status_code == 200
    assert real_name not in listing.get_data(as_text=True)
    assert number not in listing.get_data(as_text=True)
    [shown] = [r for r in listing.get_json()["items"] if r["id"] == sent.get_json()["id"]]
    assert shown["volunteer"] != real_name and shown["volunteer"]
    users = client.get("/api/v1/users", headers=auth(admin[2]))
    assert real_name not in users.get_data(as_text=True)


def test_a_read_only_token_reads_no_real_name_record_or_certificate(
        app, client, coordinator, make_user, owner_connection):
    # A wall display's token sits in a link (/map#token=…) on a screen anyone may read:
    # it is for the map, never for who a volunteer is, where they served, or a certificate.
    walker, admin = make_user("coordinator"), make_user("admin")
    _visit(client, owner_connection, walker, coordinator, "Outfall", 20, "accepted", 5108)
    assert client.put(f"/api/v1/volunteers/{walker[0]}/identity", headers=auth(admin[2]),
                      json={"real_name": "周立", "document_number": "440106199001010000"}
                      ).status_code == 200
    with issuer(app):
        issued = client.get("/api/v1/volunteers/me/certificate", headers=auth(walker[2]))
    assert issued.status_code == 200
    number = certificates.TRAILER.search(issued.data)["number"].decode()

    own, admins = wall_token(client, walker[2]), wall_token(client, admin[2])
    before = _count(owner_connection, "certificates")
    with issuer(app):
        for token, path in ((own, "/api/v1/volunteers/me/identity"),
                            (own, "/api/v1/volunteers/me/service-record"),
                            (own, "/api/v1/volunteers/me/service-record?format=csv"),
                            (own, "/api/v1/volunteers/me/certificate"),
                            (own, f"/api/v1/certificates/{number}"),
                            (admins, f"/api/v1/volunteers/{walker[0]}/identity"),
                            (admins, f"/api/v1/volunteers/{walker[0]}/service-record"),
                            (admins, f"/api/v1/certificates/{number}")):
            refused = client.get(path, headers=auth(token))
            assert refused.status_code == 403, (path, refused.get_data(as_text=True)[:200])
            assert refused.get_json()["sub_code"] == "READ_ONLY_TOKEN", path
            assert "440106199001010000" not in refused.get_data(as_text=True)
    assert _count(owner_connection, "certificates") == before
    # The same people with their own full tokens still read them.
    assert client.get("/api/v1/volunteers/me/identity",
                      headers=auth(walker[2])).get_json()["real_name"] == "周立"
    assert client.get(f"/api/v1/certificates/{number}",
                      headers=auth(admin[2])).status_code == 200


def test_a_number_drawn_twice_in_a_day_is_drawn_again_not_a_500(
        app, client, coordinator, make_user, owner_connection, monkeypatch):
    # 32 random bits a day: with many volunteers (or one whose service keeps growing), a
    # number already issued that day is drawn sooner or later.
    from fieldapp.volunteers import records_service

    walkers = [make_user("volunteer") for _ in range(2)]
    for seed, walker in enumerate(walkers, 5109):
        _visit(client, owner_connection, walker, coordinator, "Outfall", 20, "accepted", seed)
    draws = iter(["c0ffee01", "c0ffee01", "c0ffee02"])
    monkeypatch.setattr(records_service.secrets, "token_hex", lambda n: next(draws))
    with issuer(app):
        first, second = (client.get("/api/v1/volunteers/me/certificate",
                                    headers=auth(walker[2])) for walker in walkers)
    assert (first.status_code, second.status_code) == (200, 200), second.get_data()[:300]
    numbers = [certificates.TRAILER.search(r.data)["number"].decode() for r in (first, second)]
    assert [n[-8:] for n in numbers] == ["C0FFEE01", "C0FFEE02"]


def test_certificate_carries_the_fields_verifies_and_is_recorded(
        app, client, volunteer, coordinator, make_user, owner_connection, tmp_path):
    assert client.get("/api/v1/volunteers/me/certificate",
                      headers=auth(volunteer[2])).status_code == 409
    _visit(client, owner_connection, volunteer, coordinator, "化工园区排口巡查", 120,
           "accepted", 5105)
    admin = make_user("admin")
    assert client.put(f"/api/v1/volunteers/{volunteer[0]}/identity", headers=auth(admin[2]),
                      json={"real_name": "李小梅"}).status_code == 200
    before = _count(owner_connection, "certificates")
    with issuer(app):
        response = client.get("/api/v1/volunteers/me/certificate", headers=auth(volunteer[2]))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          check=True, text=True).stdout
    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    for expected in ("志愿服务证明", "李小梅", str(volunteer[0]), "2.0 小时", "化工园区排口巡查",
                     "绿水青山环保志愿者协会", "王建国", "陈静", "020-12345678", "ZYFW-", today):
        assert expected in text, expected

    assert _count(owner_connection, "certificates") == before + 1
    with owner_connection.cursor() as cur:
        cur.execute("SELECT number, issued_by, fields_sha256, pdf_sha256, fields"
                    " FROM certificates WHERE user_id = %s", (volunteer[0],))
        [(number, issued_by, fields_sha256, pdf_sha256, fields)] = cur.fetchall()
    assert number in text and issued_by == str(volunteer[0])
    assert pdf_sha256 == hashlib.sha256(response.data).hexdigest()
    assert fields["volunteer_name"] == "李小梅" and fields["total_hours"] == 2.0

    runner = app.test_cli_runner()
    ok = runner.invoke(args=["certificate", "verify", str(pdf)])
    assert ok.exit_code == 0, ok.output
    assert number in ok.output and fields_sha256 in ok.output
    assert f"in the register, issued on {today}" in ok.output
    changed = bytearray(response.data)
    changed[len(changed) // 2] ^= 0x01
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(changed))
    refused = runner.invoke(args=["certificate", "verify", str(tampered)])
    assert refused.exit_code == 1 and "PROBLEM" in refused.output

    # Asked again the same day with nothing changed: that very file, and no second line in
    # the register (a volunteer fetching over and over does not fill it).
    with issuer(app):
        again = client.get("/api/v1/volunteers/me/certificate", headers=auth(volunteer[2]))
    assert again.status_code == 200 and again.data == response.data
    assert _count(owner_connection, "certificates") == before + 1
    # More accepted service: a new certificate with its own number, and the first still holds.
    _visit(client, owner_connection, volunteer, coordinator, "化工园区排口复查", 60,
           "accepted", 5106)
    with issuer(app):
        later = client.get("/api/v1/volunteers/me/certificate", headers=auth(volunteer[2]))
    assert later.status_code == 200 and later.data != response.data
    assert _count(owner_connection, "certificates") == before + 2
    assert number not in later.data.decode("latin-1")
    assert runner.invoke(args=["certificate", "verify", str(pdf)]).exit_code == 0


def test_training_recorded_by_an_admin_shows_apart_from_service_hours(
        client, volunteer, coordinator, make_user, owner_connection):
    admin = make_user("admin")
    url = f"/api/v1/volunteers/{volunteer[0]}/trainings"
    body = {"title": "水样采集与拍摄规范", "held_on": "2026-04-12", "hours": 3.5,
            "organiser": "绿水青山环保志愿者协会"}
    before = _count(owner_connection, "volunteer_trainings")
    assert client.post(url, headers=auth(coordinator[2]), json=body).status_code == 403
    for change, field in (({"hours": 0}, "hours"), ({"hours": "NaN"}, "hours"),
                          ({"hours": 0.001}, "hours"), ({"hours": 10000}, "hours"),
                          ({"held_on": "12/04/2026"}, "held_on"), ({"title": " "}, "title"),
                          # Training received: not a day that has not come yet.
                          ({"held_on": "2999-01-01"}, "held_on")):
        bad = client.post(url, headers=auth(admin[2]), json={**body, **change})
        assert bad.status_code == 422 and field in bad.get_json()["errors"], bad.get_json()
    assert _count(owner_connection, "volunteer_trainings") == before
    recorded = client.post(url, headers=auth(admin[2]), json=body)
    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_json()["recorded_by"] == str(admin[0])

    record = client.get("/api/v1/volunteers/me/service-record",
                        headers=auth(volunteer[2])).get_json()
    assert [(t["title"], t["held_on"], t["hours"]) for t in record["trainings"]] == [
        ("水样采集与拍摄规范", "2026-04-12", 3.5)]
    assert record["total_on_site_s"] == 0


def test_a_missing_font_is_a_503_and_no_certificate_is_recorded(
        app, client, volunteer, coordinator, owner_connection, tmp_path):
    _visit(client, owner_connection, volunteer, coordinator, "Outfall", 20, "accepted", 5106)
    before = _count(owner_connection, "certificates")
    font = app.config["FIELDAPP_CJK_FONT"]
    app.config["FIELDAPP_CJK_FONT"] = str(tmp_path / "absent.ttc")
    try:
        with issuer(app):
            response = client.get("/api/v1/volunteers/me/certificate",
                                  headers=auth(volunteer[2]))
    finally:
        app.config["FIELDAPP_CJK_FONT"] = font
    assert response.status_code == 503
    assert "font" in response.get_json()["message"]
    assert str(tmp_path) not in response.get_data(as_text=True)
    assert _count(owner_connection, "certificates") == before


@pytest.mark.parametrize("setting", sorted(ISSUER))
def test_no_certificate_is_issued_until_the_ngo_names_each_of_its_fields(
        app, client, volunteer, coordinator, owner_connection, setting):
    # 民政部令第67号: the organisation, the person in charge, the handler and their contact.
    _visit(client, owner_connection, volunteer, coordinator, "Outfall", 20, "accepted",
           5107 + sorted(ISSUER).index(setting))
    before = _count(owner_connection, "certificates")
    for unset in ("", "  "):
        with issuer(app, **{setting: unset}):
            response = client.get("/api/v1/volunteers/me/certificate",
                                  headers=auth(volunteer[2]))
        assert response.status_code == 503, response.get_json()
        assert setting in response.get_json()["message"]
    assert _count(owner_connection, "certificates") == before
