"""RFC 3161 anchors of the custody chain, against a real local TSA (openssl ts -reply)."""
from __future__ import annotations

import subprocess
import uuid

import pytest
from sqlalchemy import func, select

from fieldapp.anchors import service
from fieldapp.anchors.models import Anchor
from fieldapp.custody import service as custody
from fieldapp.extensions import db
from tests.helpers import auth, post_report, report_json, superuser_sql
from tests.imagegen import jpeg_bytes
from tests.tsa import LocalTsa, closed_port_url, configured


def _submit(client, token) -> dict:
    photo = jpeg_bytes(seed=uuid.uuid4().int % 100_000, lat=23.18, lon=113.39)
    response = post_report(client, token, report_json(), [(photo, "a.jpg")])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _received_seq(app, photo_id: str) -> int:
    from fieldapp.custody.models import CustodyEvent

    with app.app_context():
        return db.session.scalar(select(CustodyEvent.seq).where(
            CustodyEvent.subject_id == uuid.UUID(photo_id),
            CustodyEvent.action == "received"))


def _head(app):
    with app.app_context():
        head = custody.head()
        return head.seq, head.hash


def _openssl_verify(tmp_path, der: bytes, digest: str, ca_file) -> subprocess.CompletedProcess:
    token = tmp_path / f"{uuid.uuid4().hex}.tsr"
    token.write_bytes(der)
    return subprocess.run(["openssl", "ts", "-verify", "-digest", digest, "-in", str(token),
                           "-CAfile", str(ca_file)], capture_output=True, text=True)


def test_the_head_is_anchored_and_every_anchor_reverifies(app, client, tsa, volunteer,
                                                           coordinator, tmp_path):
    _submit(client, volunteer[2])
    seq, digest = _head(app)
    runner = app.test_cli_runner()
    with configured(app, [tsa.url], tsa.ca_file):
        result = runner.invoke(args=["custody", "anchor"])
        assert result.exit_code == 0, result.output
        assert f"anchored event #{seq} {digest} by {tsa.url}" in result.output
        with app.app_context():
            anchor = db.session.scalar(select(Anchor).where(Anchor.seq == seq))
            assert (anchor.hash, anchor.tsa_url) == (digest, tsa.url)
            der = anchor.response
        # The token is the authority's statement about exactly this event hash.
        checked = _openssl_verify(tmp_path, der, digest, tsa.ca_file)
        assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
        listed = runner.invoke(args=["custody", "anchors"])
        assert listed.exit_code == 0, listed.output
        assert f"#{seq} {digest} {tsa.url}" in listed.output
        assert listed.output.rstrip().endswith("anchor(s) verified")

    answer = client.get("/api/v1/custody/anchors", headers=auth(coordinator[2]))
    assert answer.status_code == 200
    newest = answer.get_json()[0]
    assert (newest["seq"], newest["hash"], newest["tsa_url"]) == (seq, digest, tsa.url)
    token = client.get(newest["links"]["token"], headers=auth(coordinator[2]))
    assert token.status_code == 200 and token.data == der
    assert token.mimetype == "application/timestamp-reply"


def test_anchors_are_for_staff_and_bad_paging_names_the_field(client, volunteer, coordinator):
    assert client.get("/api/v1/custody/anchors", headers=auth(volunteer[2])).status_code == 403
    assert client.get("/api/v1/custody/anchors").status_code == 401
    bad = client.get("/api/v1/custody/anchors?limit=0", headers=auth(coordinator[2]))
    assert bad.status_code == 422 and "limit" in bad.get_json()["errors"]
    missing = client.get("/api/v1/custody/anchors/999999999/token",
                         headers=auth(coordinator[2]))
    assert missing.status_code == 404


def test_an_anchored_head_is_not_anchored_again(app, client, tsa, volunteer):
    _submit(client, volunteer[2])
    with configured(app, [tsa.url], tsa.ca_file), app.app_context():
        first = service.anchor_head(ignore_interval=True)
        asked = tsa.requests
        again = service.anchor_head(ignore_interval=True)
    assert len(first.anchored) == 1 and again.anchored == []
    assert tsa.requests == asked


def test_new_events_wait_for_the_interval(app, client, tsa, volunteer):
    _submit(client, volunteer[2])
    with configured(app, [tsa.url], tsa.ca_file), app.app_context():
        service.anchor_head(ignore_interval=True)
        _submit(client, volunteer[2])
        app.config["FIELDAPP_ANCHOR_INTERVAL_S"] = 3600
        try:
            assert service.anchor_head().anchored == []
            app.config["FIELDAPP_ANCHOR_INTERVAL_S"] = 0
            assert [a["seq"] for a in service.anchor_head().anchored] == [custody.head().seq]
        finally:
            app.config["FIELDAPP_ANCHOR_INTERVAL_S"] = 60


def test_a_tsa_that_is_down_blocks_nothing_and_the_anchor_comes_later(app, client, tsa,
                                                                       volunteer):
    down = closed_port_url()
    with configured(app, [down], tsa.ca_file):
        report = _submit(client, volunteer[2])
        received = _received_seq(app, report["photos"][0]["id"])
        with app.app_context():
            with pytest.raises(service.AnchorFailed) as failed:
                service.anchor_head(ignore_interval=True)
            assert down in failed.value.description
            assert all(a.tsa_url != down for a in service.covering_anchors(received))
        failed_cli = app.test_cli_runner().invoke(args=["custody", "anchor"])
        assert failed_cli.exit_code == 1 and "Connection refused" in failed_cli.output
    # The authority is back (here: another one answers); the receipt gets its anchor.
    with configured(app, [tsa.url], tsa.ca_file), app.app_context():
        service.anchor_head(ignore_interval=True)
        covering = service.covering_anchors(received)
        assert [a.tsa_url for a in covering if a.tsa_url == tsa.url] == [tsa.url]
        assert all(a.seq >= received for a in covering)


def test_one_tsa_down_of_two_still_records_the_other(app, client, tsa, volunteer):
    down = closed_port_url()
    _submit(client, volunteer[2])
    with configured(app, [tsa.url, down], tsa.ca_file), app.app_context():
        with pytest.raises(service.AnchorFailed) as failed:
            service.anchor_head(ignore_interval=True)
        head = custody.head()
        urls = db.session.scalars(select(Anchor.tsa_url).where(Anchor.seq == head.seq)).all()
    assert urls == [tsa.url]
    assert f"anchored event #{head.seq} with 1 TSA(s)" in failed.value.description


def test_a_token_from_an_untrusted_authority_is_refused(app, client, volunteer):
    # A second authority with its own root, while only the first root is trusted.
    with LocalTsa(name="impostor") as impostor, LocalTsa(name="trusted") as trusted:
        _submit(client, volunteer[2])
        with configured(app, [impostor.url], trusted.ca_file), app.app_context():
            before = db.session.scalar(select(func.count()).select_from(Anchor))
            with pytest.raises(service.AnchorFailed) as failed:
                service.anchor_head(ignore_interval=True)
            assert "does not verify" in failed.value.description
            assert db.session.scalar(select(func.count()).select_from(Anchor)) == before


def test_no_tsa_configured_means_no_anchor_and_no_error(app):
    with configured(app, [], None), app.app_context():
        assert service.anchor_head().anchored == []
        assert service.ensure_covering_anchor(custody.head().seq + 1) == []


def test_ensure_covering_anchor_asks_only_when_nothing_covers(app, client, tsa, volunteer):
    report = _submit(client, volunteer[2])
    received = _received_seq(app, report["photos"][0]["id"])
    with configured(app, [tsa.url], tsa.ca_file), app.app_context():
        covering = service.ensure_covering_anchor(received)
        assert covering and all(a.seq >= received for a in covering)
        asked = tsa.requests
        assert [a.id for a in service.ensure_covering_anchor(received)] == [
            a.id for a in covering]
        assert tsa.requests == asked


def test_a_changed_token_fails_reverification(app, client, tsa, volunteer):
    _submit(client, volunteer[2])
    with configured(app, [tsa.url], tsa.ca_file), app.app_context():
        service.anchor_head(ignore_interval=True)
        anchor_id = db.session.scalar(select(func.max(Anchor.id)))
    # Only the owner or a superuser could do this; re-verification must notice.
    superuser_sql(
        "ALTER TABLE custody_anchors DISABLE TRIGGER USER; "
        "UPDATE custody_anchors SET response = set_byte(response, length(response) - 1, "
        f"get_byte(response, length(response) - 1) # 1) WHERE id = {anchor_id}; "
        "ALTER TABLE custody_anchors ENABLE TRIGGER USER")
    try:
        with configured(app, [tsa.url], tsa.ca_file):
            result = app.test_cli_runner().invoke(args=["custody", "anchors"])
        assert result.exit_code == 1
        assert "PROBLEM: token does not verify" in result.output
    finally:
        superuser_sql(f"ALTER TABLE custody_anchors DISABLE TRIGGER USER; "
                      f"DELETE FROM custody_anchors WHERE id = {anchor_id}; "
                      "ALTER TABLE custody_anchors ENABLE TRIGGER USER")


def test_the_app_role_may_record_and_read_anchors_but_never_change_them(app):
    superuser_sql("BEGIN; SET ROLE fieldapp_app; SELECT count(*) FROM custody_anchors; "
                  "INSERT INTO custody_anchors (seq, hash, tsa_url, gen_time, serial_number, "
                  "response) SELECT seq, hash, 'http://role-check', now(), 1, '\\x30' "
                  "FROM custody_events ORDER BY seq LIMIT 1; ROLLBACK")
    for statement in ("UPDATE custody_anchors SET tsa_url = 'x'",
                      "DELETE FROM custody_anchors", "TRUNCATE custody_anchors"):
        with pytest.raises(subprocess.CalledProcessError) as refused:
            superuser_sql(f"BEGIN; SET ROLE fieldapp_app; {statement}; ROLLBACK")
        assert "permission denied" in refused.value.stderr


_LINKS = ("photos.receipt_hash", "reviews.custody_hash", "dossiers.custody_hash",
          "complaints.custody_hash", "complaint_updates.custody_hash")


def _rewrite_chain_from(app, seq: int, occurred_at: str | None = None) -> list[dict]:
    """As a superuser, rewrite event seq (its time) and recompute every later link, as
    someone would who meant to leave a chain that holds; the rows naming an event's hash
    follow it. Returns the events as they were, for _restore."""
    from fieldapp.custody import chain
    from fieldapp.custody.models import CustodyEvent

    with app.app_context():
        before = [event.as_chain_dict() for event in db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.seq >= seq).order_by(CustodyEvent.seq))]
    after, prev = [], before[0]["prev_hash"]
    for event in before:
        event = dict(event, prev_hash=prev)
        if event["seq"] == seq:
            event["occurred_at"] = occurred_at or "2020-01-01T00:00:00.000000+00:00"
        event["hash"] = prev = chain.link_hash(prev, event)
        after.append(event)
    _write_events(before, after)
    return before


def _write_events(old: list[dict], new: list[dict]) -> None:
    statements = []
    for was, event in zip(old, new, strict=True):
        statements.append(
            f"UPDATE custody_events SET occurred_at = '{event['occurred_at']}', "
            f"prev_hash = '{event['prev_hash']}', hash = '{event['hash']}' "
            f"WHERE seq = {event['seq']}")
        statements += [f"UPDATE {link.split('.')[0]} SET {link.split('.')[1]} = "
                       f"'{event['hash']}' WHERE {link.split('.')[1]} = '{was['hash']}'"
                       for link in _LINKS]
    # A superuser: replica mode switches off every trigger, the guards and the keys alike.
    superuser_sql("BEGIN; SET session_replication_role = replica; "
                  + "; ".join(statements) + "; COMMIT")


def _anchored_submission(app, client, tsa, volunteer) -> tuple[int, int]:
    """A report whose photo's receipt an anchor covers: (received seq, anchored seq)."""
    photo_id = _submit(client, volunteer[2])["photos"][0]["id"]
    with configured(app, [tsa.url], tsa.ca_file), app.app_context():
        run = service.anchor_head(ignore_interval=True)
    return _received_seq(app, photo_id), run.anchored[0]["seq"]


def _verify(app, tsa=None):
    if tsa is None:
        return app.test_cli_runner().invoke(args=["custody", "verify"])
    with configured(app, [tsa.url], tsa.ca_file):
        return app.test_cli_runner().invoke(args=["custody", "verify"])


@pytest.mark.parametrize("with_roots", [True, False])
def test_the_audit_names_a_chain_rewritten_under_an_anchor(app, client, tsa, volunteer,
                                                            with_roots):
    received, anchored = _anchored_submission(app, client, tsa, volunteer)
    assert _verify(app, tsa if with_roots else None).exit_code == 0
    before = _rewrite_chain_from(app, received)
    try:
        result = _verify(app, tsa if with_roots else None)
        assert result.exit_code == 1, result.output
        assert (f"custody event #{anchored} no longer has the hash the anchor recorded"
                in result.output)
    finally:
        _rewrite_chain_from(app, received, before[0]["occurred_at"])
    assert _verify(app, tsa if with_roots else None).exit_code == 0


def test_the_audit_names_an_anchor_rewritten_to_follow_the_chain(app, client, tsa, volunteer):
    received, anchored = _anchored_submission(app, client, tsa, volunteer)
    before = _rewrite_chain_from(app, received)
    with app.app_context():
        new_hash = db.session.scalar(select(custody.CustodyEvent.hash)
                                     .where(custody.CustodyEvent.seq == anchored))
    old_hash = superuser_sql(f"SELECT hash FROM custody_anchors WHERE seq = {anchored}")
    moved = (f"SET session_replication_role = replica; UPDATE custody_anchors SET hash = "
             f"'%s' WHERE seq = {anchored}")
    superuser_sql(moved % new_hash)
    try:
        for roots in (tsa, None):  # the imprint is read even without the TSA's root
            result = _verify(app, roots)
            assert result.exit_code == 1, result.output
            assert f"of custody event #{anchored}" in result.output
            assert "token" in result.output
    finally:
        superuser_sql(moved % old_hash)
        _rewrite_chain_from(app, received, before[0]["occurred_at"])
    assert _verify(app, tsa).exit_code == 0


def test_the_audit_names_anchored_events_cut_from_the_tail(app, client, tsa, volunteer):
    _, anchored = _anchored_submission(app, client, tsa, volunteer)
    saved = superuser_sql(f"SELECT json_agg(e ORDER BY seq) FROM custody_events e "
                          f"WHERE seq >= {anchored}")
    superuser_sql(f"BEGIN; SET session_replication_role = replica; "
                  f"DELETE FROM custody_events WHERE seq >= {anchored}; COMMIT")
    try:
        result = _verify(app)
        assert result.exit_code == 1, result.output
        assert f"custody event #{anchored} is gone" in result.output
    finally:
        superuser_sql(f"BEGIN; SET session_replication_role = replica; "
                      f"DELETE FROM custody_events WHERE seq >= {anchored}; "
                      f"INSERT INTO custody_events SELECT * FROM "
                      f"json_populate_recordset(NULL::custody_events, $j${saved}$j$); COMMIT")
    assert _verify(app).exit_code == 0


def test_the_audit_names_an_anchor_whose_time_was_moved(app, client, tsa, volunteer):
    _, anchored = _anchored_submission(app, client, tsa, volunteer)
    moved = ("SET session_replication_role = replica; UPDATE custody_anchors SET gen_time = "
             f"gen_time %s interval '1 day' WHERE seq = {anchored}")
    superuser_sql(moved % "-")
    try:
        result = _verify(app)
        assert result.exit_code == 1, result.output
        assert f"of custody event #{anchored}" in result.output
        assert "is not the recorded one" in result.output
    finally:
        superuser_sql(moved % "+")
    assert _verify(app).exit_code == 0
