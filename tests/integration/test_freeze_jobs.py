"""Dossier freezes as background jobs, and the job mechanism itself (procrastinate on the
real database, run by the same worker `fieldapp jobs work` runs)."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from fieldapp.extensions import db
from tests.helpers import auth, freeze, post_report, report_json, run_jobs
from tests.imagegen import jpeg_bytes


@pytest.fixture()
def case_with_items(app, make_user):
    """A case against a new site with two evidence items; (client, lawyer token, case id)."""
    client = app.test_client()
    vol, law = make_user("volunteer")[2], make_user("lawyer")[2]
    coord = make_user("coordinator")[2]
    site = client.post("/api/v1/sites", headers=auth(coord), json={
        "name": "Freeze Dye Works", "geometry": {"type": "Point",
                                                 "coordinates": [113.394, 23.178]}})
    assert site.status_code == 201, site.get_json()
    case = client.post("/api/v1/cases", headers=auth(law), json={
        "site_id": site.get_json()["id"], "title": "freeze jobs"}).get_json()
    for seed in (1301, 1302):
        report = post_report(client, vol, report_json(), [
            (jpeg_bytes(seed=seed + uuid.uuid4().int % 10000, lat=23.178, lon=113.394),
             "p.jpg")])
        assert report.status_code == 201
        item = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(law), json={
            "photo_id": report.get_json()["photos"][0]["id"], "title": f"photo {seed}",
            "purpose": "shows the outflow"})
        assert item.status_code == 201
    return client, law, case["id"]


def _scalar(app, sql: str, **params):
    with app.app_context():
        return db.session.execute(text(sql), params).scalar()


def _job(app, freeze_id: str):
    with app.app_context():
        return db.session.execute(text(
            "SELECT id, status, attempts FROM procrastinate_jobs WHERE task_name = "
            "'dossiers.freeze' AND args->>'freeze_id' = :id"), {"id": freeze_id}).one()


def test_freeze_is_accepted_then_frozen_by_the_job(app, case_with_items):
    client, law, case_id = case_with_items
    asked = client.post(f"/api/v1/cases/{case_id}/dossiers", headers=auth(law))
    assert asked.status_code == 202
    body = asked.get_json()
    assert body["status"] == "freezing" and body["number"] == 1
    assert body["progress"] == {"step": "queued", "done": 0, "total": 2}
    assert body["links"] == {"self": f"/api/v1/dossiers/{body['id']}"}
    # Queued in the request's own transaction, recorded by the queue.
    assert _job(app, body["id"]).status == "todo"
    # Nothing to download yet; one freeze per case at a time.
    early = client.get(f"/api/v1/dossiers/{body['id']}/download", headers=auth(law))
    assert early.status_code == 409 and early.get_json()["sub_code"] == "NOT_FROZEN"
    again = client.post(f"/api/v1/cases/{case_id}/dossiers", headers=auth(law))
    assert again.status_code == 409 and again.get_json()["sub_code"] == "FREEZE_IN_PROGRESS"
    listed = client.get(f"/api/v1/cases/{case_id}/dossiers", headers=auth(law)).get_json()
    assert [(d["number"], d["status"]) for d in listed] == [(1, "freezing")]

    run_jobs(app)

    shown = client.get(body["links"]["self"], headers=auth(law)).get_json()
    assert shown["status"] == "frozen" and shown["id"] == body["id"]
    assert shown["progress"] == {"step": "frozen", "done": 2, "total": 2}
    assert shown["item_count"] == 2 and len(shown["manifest_sha256"]) == 64
    assert set(shown["links"]) == {"self", "download", "manifest"}
    assert _job(app, body["id"]).status == "succeeded"
    assert client.get(shown["links"]["download"], headers=auth(law)).status_code == 200
    # Running the job again (a retry after a crash) changes nothing.
    with app.app_context():
        from fieldapp.dossiers import service

        assert service.run_freeze(uuid.UUID(body["id"])) is None
    assert _scalar(app, "SELECT count(*) FROM dossiers WHERE case_id = :c", c=case_id) == 1


def test_a_failed_freeze_says_why_and_leaves_nothing_half_made(app, case_with_items,
                                                               monkeypatch):
    from fieldapp.dossiers import service

    client, law, case_id = case_with_items

    def broken_renderer(work):
        raise service.CatalogFailed("the catalog PDF could not be made: font missing")

    monkeypatch.setattr(service, "_render_in_child", broken_renderer)
    asked = client.post(f"/api/v1/cases/{case_id}/dossiers", headers=auth(law)).get_json()
    run_jobs(app)
    shown = client.get(asked["links"]["self"], headers=auth(law))
    assert shown.status_code == 200
    failed = shown.get_json()
    assert failed["status"] == "failed" and "font missing" in failed["error"]
    assert failed["progress"]["step"] == "catalog"
    assert _job(app, asked["id"]).status == "failed"
    assert _scalar(app, "SELECT count(*) FROM dossiers WHERE id = :id", id=asked["id"]) == 0
    assert _scalar(app, "SELECT count(*) FROM custody_events WHERE subject_id = :id",
                   id=asked["id"]) == 0
    assert _scalar(app, "SELECT count(*) FROM custody_events WHERE action = 'exported' "
                        "AND details->>'case_id' = :c", c=case_id) == 0

    # The case may be frozen again, and its numbering has no gap.
    monkeypatch.undo()
    frozen = freeze(client, law, case_id)
    assert frozen["status"] == "frozen" and frozen["number"] == 1


# Where the freeze is held while a phone submits: rendering the catalog PDF, and decoding a
# photo's catalog image right after its preview (whose custody event came just before).
HOLD_POINTS = {
    "catalog": ("fieldapp.dossiers.service", "_render_in_child", 1, "catalog"),
    "derivative": ("fieldapp.photos.service", "_make_derivative", 2, "previews"),
}


@pytest.mark.parametrize("hold", sorted(HOLD_POINTS))
def test_intake_goes_on_while_a_freeze_is_busy(app, case_with_items, volunteer, monkeypatch,
                                               hold):
    import importlib

    module_name, function, nth_call, step = HOLD_POINTS[hold]
    module = importlib.import_module(module_name)
    client, law, case_id = case_with_items
    original = getattr(module, function)
    calls, busy, release = [], threading.Event(), threading.Event()

    def held(*args, **kwargs):
        calls.append(args)
        if len(calls) == nth_call:
            busy.set()
            assert release.wait(120), "the test never let the freeze go on"
        return original(*args, **kwargs)

    monkeypatch.setattr(module, function, held)
    asked = client.post(f"/api/v1/cases/{case_id}/dossiers", headers=auth(law)).get_json()
    worker = threading.Thread(target=run_jobs, args=(app,), daemon=True)
    worker.start()
    try:
        assert busy.wait(120), f"the freeze never reached {hold}"
        mid_way = client.get(asked["links"]["self"], headers=auth(law)).get_json()
        assert mid_way["status"] == "freezing" and mid_way["progress"]["step"] == step
        # Nobody holds an advisory lock (the custody chain's) while the freeze works...
        assert _scalar(app, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON "
                            "d.oid = l.database WHERE l.locktype = 'advisory' AND "
                            "d.datname = current_database()") == 0
        # ...so a submission, which appends to the chain, is answered meanwhile.
        answers = []
        phone = threading.Thread(target=lambda: answers.append(post_report(
            app.test_client(), volunteer[2], report_json(),
            [(jpeg_bytes(seed=1399, lat=23.178, lon=113.394), "p.jpg")])), daemon=True)
        phone.start()
        phone.join(60)
        assert not phone.is_alive(), "intake waited for the freeze"
        assert answers[0].status_code == 201
    finally:
        release.set()
        worker.join(180)
    assert not worker.is_alive()
    shown = client.get(asked["links"]["self"], headers=auth(law)).get_json()
    assert shown["status"] == "frozen"


def test_a_job_is_queued_with_the_transaction_that_asks_for_it(app):
    from fieldapp.jobs import queue, tasks

    marker = str(uuid.uuid4())
    with app.app_context():
        queue.defer(tasks.FREEZE, freeze_id=marker)
        db.session.rollback()
        assert db.session.execute(text(
            "SELECT count(*) FROM procrastinate_jobs WHERE args->>'freeze_id' = :m"),
            {"m": marker}).scalar() == 0
        job_id = queue.defer(tasks.FREEZE, freeze_id=marker)
        db.session.commit()
        assert db.session.execute(text(
            "SELECT status FROM procrastinate_jobs WHERE id = :id"),
            {"id": job_id}).scalar() == "todo"
    # A freeze job whose freeze does not exist has nothing to do, and succeeds.
    run_jobs(app)
    assert _scalar(app, "SELECT status FROM procrastinate_jobs WHERE id = :id",
                   id=job_id) == "succeeded"


def _waiting(app, task: str) -> list:
    with app.app_context():
        return db.session.execute(text(
            "SELECT id, args, scheduled_at FROM procrastinate_jobs WHERE task_name = :t "
            "AND status = 'todo'"), {"t": task}).all()


def test_interval_jobs_run_and_queue_their_next_run(app, monkeypatch):
    from fieldapp.custody import service as custody
    from fieldapp.jobs import tasks

    monkeypatch.setitem(app.config, "FIELDAPP_AUDIT_INTERVAL_S", 3600)
    monkeypatch.setitem(app.config, "FIELDAPP_TSA_URLS", [])
    monkeypatch.setitem(app.config, "FIELDAPP_CLAIM_SWEEP_INTERVAL_S", 0)
    with app.app_context():  # a clean slate (a server started by another test seeds too)
        db.session.execute(text("DELETE FROM procrastinate_jobs WHERE status = 'todo' AND "
                                "task_name IN (:a, :b)"), {"a": tasks.AUDIT, "b": tasks.ANCHOR})
        db.session.commit()
    audits_before = _scalar(app, "SELECT count(*) FROM custody_events WHERE action='audited'")
    with app.app_context():
        seeded = tasks.seed_schedules()
        assert tasks.AUDIT in seeded and tasks.ANCHOR not in seeded  # no TSA: no anchors
        assert tasks.seed_schedules() == []  # one run of each waiting is enough
    assert len(_waiting(app, tasks.AUDIT)) == 1 and not _waiting(app, tasks.ANCHOR)

    run_jobs(app)

    assert _scalar(app, "SELECT count(*) FROM custody_events WHERE action='audited'") \
        == audits_before + 1
    [(_, args, scheduled_at)] = _waiting(app, tasks.AUDIT)
    assert args == {"failures": 0}
    expected = datetime.now(UTC) + timedelta(seconds=3600)
    assert abs((scheduled_at - expected).total_seconds()) < 60
    assert _scalar(app, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND "
                        "status = 'succeeded'", t=tasks.SWEEP) >= 1

    # A failed run is recorded and its next run comes sooner (backoff), not a day later.
    with app.app_context():
        db.session.execute(text("DELETE FROM procrastinate_jobs WHERE task_name = :t AND "
                                "status = 'todo'"), {"t": tasks.AUDIT})
        db.session.commit()

    def failing_audit(store, actor_id=None):
        raise OSError("storage unreadable")

    monkeypatch.setattr(custody, "audit", failing_audit)
    with app.app_context(), pytest.raises(OSError):
        tasks.audit(failures=2)
    [(_, args, scheduled_at)] = _waiting(app, tasks.AUDIT)
    assert args == {"failures": 3}
    assert abs((scheduled_at - datetime.now(UTC)).total_seconds() - 20) < 10


def test_jobs_cli_runs_what_is_due_and_lists_it(app, monkeypatch):
    from fieldapp.jobs import queue, tasks

    monkeypatch.setitem(app.config, "FIELDAPP_JOB_NICE", 0)  # not this test process
    with app.app_context():
        job_id = queue.defer(tasks.FREEZE, freeze_id=str(uuid.uuid4()))
        db.session.commit()
    runner = app.test_cli_runner()
    worked = runner.invoke(args=["jobs", "work", "--once"])
    assert worked.exit_code == 0, worked.output
    listed = runner.invoke(args=["jobs", "list", "--status", "succeeded"])
    assert listed.exit_code == 0
    assert any(line.split("\t")[:3] == [str(job_id), tasks.FREEZE, "succeeded"]
               for line in listed.output.splitlines())


def test_a_freeze_left_unfinished_by_a_dead_worker_is_run_again(app, case_with_items):
    client, law, case_id = case_with_items
    asked = client.post(f"/api/v1/cases/{case_id}/dossiers", headers=auth(law)).get_json()
    job = _job(app, asked["id"])
    # As a worker that took the job and then died: its heartbeat stopped an hour ago.
    with app.app_context():
        worker_id = db.session.execute(text(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - interval '1 hour') RETURNING id")).scalar()
        db.session.execute(text("UPDATE procrastinate_jobs SET status = 'doing', "
                                "worker_id = :w WHERE id = :id"), {"w": worker_id, "id": job.id})
        db.session.commit()
    stalled = client.get(asked["links"]["self"], headers=auth(law)).get_json()
    assert stalled["status"] == "freezing"

    run_jobs(app)

    assert client.get(asked["links"]["self"], headers=auth(law)).get_json()["status"] == "frozen"
    again = _job(app, asked["id"])
    assert again.id == job.id and again.status == "succeeded" and again.attempts > job.attempts


def test_anchors_run_as_jobs_and_back_off_while_the_tsa_is_down(app, tsa, volunteer,
                                                                monkeypatch):
    from fieldapp.jobs import tasks
    from tests.tsa import closed_port_url, configured

    client = app.test_client()
    monkeypatch.setitem(app.config, "FIELDAPP_ANCHOR_INTERVAL_S", 60)
    with app.app_context():  # a clean slate for the anchor chain
        db.session.execute(text("DELETE FROM procrastinate_jobs WHERE task_name = :t AND "
                                "status = 'todo'"), {"t": tasks.ANCHOR})
        db.session.commit()
    # Down: the run fails and is recorded, intake goes on, the next try comes in seconds.
    with configured(app, [closed_port_url()], tsa.ca_file):
        with app.app_context():
            assert tasks.ANCHOR in tasks.seed_schedules()
        assert post_report(client, volunteer[2], report_json(), [
            (jpeg_bytes(seed=1411, lat=23.18, lon=113.39), "a.jpg")]).status_code == 201
        run_jobs(app)
        assert post_report(client, volunteer[2], report_json(), [
            (jpeg_bytes(seed=1412, lat=23.18, lon=113.39), "a.jpg")]).status_code == 201
    assert _scalar(app, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND "
                        "status = 'failed'", t=tasks.ANCHOR) >= 1
    [(_, args, scheduled_at)] = _waiting(app, tasks.ANCHOR)
    assert args == {"failures": 1}
    assert (scheduled_at - datetime.now(UTC)).total_seconds() < 10
    # Up again: once that try is due, the head is anchored and the interval resumes.
    with app.app_context():
        db.session.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now() "
                                "WHERE task_name = :t AND status = 'todo'"), {"t": tasks.ANCHOR})
        db.session.commit()
    head = _scalar(app, "SELECT max(seq) FROM custody_events")
    # A short interval: the session's TSA may have anchored for another test a moment ago,
    # and anchors of one TSA come at most once an interval.
    monkeypatch.setitem(app.config, "FIELDAPP_ANCHOR_INTERVAL_S", 2)
    time.sleep(2)
    with configured(app, [tsa.url], tsa.ca_file):
        run_jobs(app)
    assert _scalar(app, "SELECT count(*) FROM custody_anchors WHERE seq >= :s AND "
                        "tsa_url = :u", s=head, u=tsa.url) == 1
    [(_, args, scheduled_at)] = _waiting(app, tasks.ANCHOR)
    assert args == {"failures": 0}
    assert (scheduled_at - datetime.now(UTC)).total_seconds() <= 2  # the interval, not a retry


def test_failed_sign_ins_past_the_window_are_pruned_by_a_job(app):
    from fieldapp.accounts.models import SigninFailure
    from fieldapp.jobs import tasks
    from fieldapp.jobs.queue import defer

    key = uuid.uuid4().hex * 2
    with app.app_context():
        window = app.config["FIELDAPP_SIGNIN_WINDOW_S"]
        db.session.add_all([
            SigninFailure(at=datetime.now(UTC) - timedelta(seconds=window + 60),
                          account_key=key, address="203.0.113.7"),
            SigninFailure(at=datetime.now(UTC), account_key=key, address="203.0.113.7")])
        # Under a lock of its own: a run a worker scheduled for later may be waiting.
        assert defer(tasks.SIGNINS, queueing_lock=f"test-{uuid.uuid4()}") is not None
        db.session.commit()
    run_jobs(app)
    ages = _scalar(app, "SELECT count(*) FROM signin_failures WHERE account_key = :k", k=key)
    assert ages == 1  # the recent failure still counts; the old one is gone
    assert _waiting(app, tasks.SIGNINS)  # and the next prune is queued


def test_succeeded_jobs_older_than_the_keep_days_are_forgotten_failed_ones_kept(app):
    from fieldapp.jobs import tasks
    from fieldapp.jobs.queue import defer

    marker = f"test.old-{uuid.uuid4().hex[:8]}"
    keep_days = app.config["FIELDAPP_JOBS_KEEP_DAYS"]
    ended = {"old succeeded": ("succeeded", keep_days + 1), "new succeeded": ("succeeded", 1),
             "old failed": ("failed", keep_days + 1)}  # and when each ended
    with app.app_context():
        ids = {}
        for name, (status, days_ago) in ended.items():
            # Deferred, then ended: procrastinate's triggers write an event for each.
            job_id = db.session.execute(text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
                "VALUES ('default', :t, '{}', 'todo') RETURNING id"),
                {"t": f"{marker}-{name}"}).scalar()
            db.session.execute(text(
                "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :j"), {"j": job_id})
            db.session.execute(text(
                "UPDATE procrastinate_jobs SET status = :s WHERE id = :j"),
                {"s": status, "j": job_id})
            assert db.session.execute(text(
                "UPDATE procrastinate_events SET at = now() - make_interval(days => :d) "
                "WHERE job_id = :j"), {"d": days_ago, "j": job_id}).rowcount >= 2
            ids[name] = job_id
        assert defer(tasks.PRUNE_JOBS, queueing_lock=f"test-{uuid.uuid4()}") is not None
        db.session.commit()
    run_jobs(app)
    left = {name for name, job_id in ids.items()
            if _scalar(app, "SELECT count(*) FROM procrastinate_jobs WHERE id = :j", j=job_id)}
    assert left == {"new succeeded", "old failed"}
    assert _scalar(app, "SELECT count(*) FROM procrastinate_events WHERE job_id = :j",
                   j=ids["old succeeded"]) == 0
    assert _waiting(app, tasks.PRUNE_JOBS)  # and the next prune is queued
