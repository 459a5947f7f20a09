"""Pixel analysis after receipt: pending checks on the phone's answer, settled durably later.

Covers the service (claims with SKIP LOCKED, final checks, custody, verified counts and
risk), the `fieldapp evidence analyse` command, and the analyser `fieldapp serve` keeps running.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import select, text

from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from fieldapp.photogen import make_exif, phone_jpeg, scene
from fieldapp.reports import analyser, analysis
from fieldapp.reports.models import Photo
from tests.helpers import (
    TEST_DB_URL,
    analyse_waiting,
    auth,
    child_pids,
    free_port,
    post_report,
    report_json,
    role_tokens,
)

CST = timezone(timedelta(hours=8))
LON, LAT = 113.301, 23.101
PIXEL_CHECKS = ("near_duplicate", "thumbnail_matches")


def _phone_photo(seed: int, thumbnail_of: Image.Image | None = None) -> tuple[bytes, str]:
    taken = datetime(2026, 7, 1, 10, 0, tzinfo=CST) + timedelta(minutes=seed % 500)
    exif = make_exif(lat=LAT, lon=LON, taken=taken, gps_time=taken)
    return phone_jpeg(scene(seed, (1200, 900)), exif, thumbnail_of=thumbnail_of), \
        taken.isoformat()


def _post(client, token, seed, thumbnail_of=None, site_id=None):
    photo, observed = _phone_photo(seed, thumbnail_of)
    claim = report_json(observed_at=observed, site_id=site_id,
                        location={"lon": LON, "lat": LAT, "crs": "wgs84", "accuracy_m": 8})
    response = post_report(client, token, claim, [(photo, f"IMG_{seed}.jpg")])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _results(photo: dict) -> dict:
    return {c["name"]: c for c in photo["checks"]}


def _photo(client, token, photo_id) -> dict:
    response = client.get(f"/api/v1/photos/{photo_id}", headers=auth(token))
    assert response.status_code == 200
    return response.get_json()


def _actions(app, photo_id) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(CustodyEvent.action).where(
            CustodyEvent.subject_id == photo_id).order_by(CustodyEvent.seq)).all()


@pytest.fixture()
def tokens(app):
    analyse_waiting(app)  # start from an empty queue whatever ran before
    return role_tokens(app, "analysis", ("volunteer", "coordinator"))


def test_the_answer_carries_pending_pixel_checks_and_analysis_settles_them(app, client, tokens):
    report = _post(client, tokens["volunteer"], 2001)
    sent = report["photos"][0]
    assert sent["analysis"] == "pending" and sent["analysed_at"] is None
    for name in PIXEL_CHECKS:
        assert _results(sent)[name]["result"] == "unknown"
        assert _results(sent)[name]["detail"].startswith("Pending")
    assert _actions(app, sent["id"]) == ["received"]

    assert analyse_waiting(app) == 1
    settled = _photo(client, tokens["volunteer"], sent["id"])
    assert settled["analysis"] == "done" and settled["analysed_at"] is not None
    assert _results(settled)["thumbnail_matches"]["result"] == "pass"
    assert _results(settled)["near_duplicate"]["result"] == "pass"
    assert settled["verdict"] == "consistent"
    # Everything the metadata settled on receipt is unchanged.
    unchanged = [c for c in sent["checks"] if c["name"] not in PIXEL_CHECKS]
    assert [c for c in settled["checks"] if c["name"] not in PIXEL_CHECKS] == unchanged
    assert _actions(app, sent["id"]) == ["received", "verified"]
    assert analyse_waiting(app) == 0  # nothing is analysed twice


def test_the_verified_event_binds_the_final_checks(app, client, tokens):
    from fieldapp.reports.service import checks_digest

    sent = _post(client, tokens["volunteer"], 2002)["photos"][0]
    analyse_waiting(app)
    with app.app_context():
        photo = db.session.get(Photo, sent["id"])
        received, verified = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.subject_id == photo.id).order_by(CustodyEvent.seq)).all()
        assert received.hash == sent["receipt"]["custody_hash"]
        assert received.details["verdict"] == sent["verdict"]
        assert verified.details["checks_sha256"] == checks_digest(photo.checks)
        assert verified.details["sha256"] == photo.sha256 and verified.details["decodable"]
        assert int(verified.details["phash"], 16) == photo.phash % (1 << 64)


def test_an_edited_picture_is_caught_by_its_stale_thumbnail(app, client, tokens):
    # The thumbnail still shows the picture before the edit: only the pixels can tell.
    report = _post(client, tokens["volunteer"], 2003, thumbnail_of=scene(9999, (1200, 900)))
    sent = report["photos"][0]
    assert sent["verdict"] == "consistent"  # metadata alone cannot see it
    analyse_waiting(app)
    settled = _photo(client, tokens["volunteer"], sent["id"])
    assert _results(settled)["thumbnail_matches"]["result"] == "fail"
    assert settled["verdict"] == "inconsistent"
    stored = client.get(f"/api/v1/reports/{report['id']}", headers=auth(tokens["volunteer"]))
    assert stored.get_json()["verdict"] == "inconsistent"


def test_the_same_picture_in_another_report_is_found_near_duplicate(app, client, tokens):
    first = _post(client, tokens["volunteer"], 2004)["photos"][0]
    analyse_waiting(app)
    # Same scene, re-encoded (different bytes, so not an exact duplicate).
    photo, observed = _phone_photo(2004)
    again = Image.open(io.BytesIO(photo))
    out = io.BytesIO()
    again.save(out, "JPEG", quality=70, exif=again.info["exif"])
    claim = report_json(observed_at=observed,
                        location={"lon": LON, "lat": LAT, "crs": "wgs84", "accuracy_m": 8})
    second = post_report(client, tokens["volunteer"], claim, [(out.getvalue(), "b.jpg")])
    second_photo = second.get_json()["photos"][0]
    assert _results(second_photo)["duplicate"]["result"] == "pass"
    analyse_waiting(app)
    settled = _photo(client, tokens["volunteer"], second_photo["id"])
    near = _results(settled)["near_duplicate"]
    assert near["result"] == "warn" and first["id"] in near["detail"]


@pytest.mark.parametrize("disguise", ["orientation_tag", "mirrored", "rotated"])
def test_a_recycled_picture_turned_or_mirrored_is_found_near_duplicate(app, client, tokens,
                                                                        disguise):
    # Changing the EXIF Orientation (not one pixel touched) or flipping the picture turns
    # the upright image, and with it the perceptual hash, while showing the same scene.
    seed = {"orientation_tag": 2011, "mirrored": 2012, "rotated": 2013}[disguise]
    first = _post(client, tokens["volunteer"], seed)["photos"][0]
    analyse_waiting(app)
    photo, observed = _phone_photo(seed)
    image = Image.open(io.BytesIO(photo))
    exif = image.getexif()
    if disguise == "orientation_tag":
        exif[0x0112] = 3  # shown upside down
        pixels = image
    else:
        pixels = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT if disguise == "mirrored"
                                 else Image.Transpose.ROTATE_90)
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=90, exif=exif.tobytes())
    claim = report_json(observed_at=observed,
                        location={"lon": LON, "lat": LAT, "crs": "wgs84", "accuracy_m": 8})
    second = post_report(client, tokens["volunteer"], claim, [(out.getvalue(), "b.jpg")])
    assert second.status_code == 201, second.get_json()
    analyse_waiting(app)
    settled = _photo(client, tokens["volunteer"], second.get_json()["photos"][0]["id"])
    near = _results(settled)["near_duplicate"]
    assert near["result"] == "warn" and first["id"] in near["detail"]


def _identical_reports(client, token, seed, copies=2):
    photo, observed = _phone_photo(seed)
    claim = dict(observed_at=observed,
                 location={"lon": LON, "lat": LAT, "crs": "wgs84", "accuracy_m": 8})
    sent = []
    for _ in range(copies):
        response = post_report(client, token, report_json(**claim), [(photo, "same.jpg")])
        assert response.status_code == 201, response.get_json()
        sent.append(response.get_json())
    return sent


def test_a_recheck_does_not_make_the_original_a_duplicate_of_its_copy(app, client, tokens):
    # The copy sent later fails `duplicate`; the report that had the photo first must not
    # become inconsistent because someone recycled its photo afterwards.
    from fieldapp.reports.service import recheck_photos

    original, copy = _identical_reports(client, tokens["volunteer"], 2021)
    analyse_waiting(app)
    assert _results(_photo(client, tokens["volunteer"], copy["photos"][0]["id"]))[
        "duplicate"]["result"] == "fail"
    with app.app_context():
        recheck_photos(uuid.UUID(original["id"]))
        recheck_photos(uuid.UUID(copy["id"]))
    first = _photo(client, tokens["volunteer"], original["photos"][0]["id"])
    assert _results(first)["duplicate"]["result"] == "pass"
    second = _photo(client, tokens["volunteer"], copy["photos"][0]["id"])
    assert _results(second)["duplicate"]["result"] == "fail"


def test_a_copy_sent_alongside_its_original_is_caught_once_analysed(app, client, tokens,
                                                                    monkeypatch):
    # Two submissions of one file at once: neither transaction sees the other's photo, so
    # both receipts say `duplicate: pass`. The analysis, after both committed, must not
    # leave the later one passing.
    from fieldapp.reports import service

    real = service.reports_with_sha
    monkeypatch.setattr(service, "reports_with_sha", lambda *args, **kwargs: [])
    original, copy = _identical_reports(client, tokens["volunteer"], 2022)
    monkeypatch.setattr(service, "reports_with_sha", real)
    assert _results(copy["photos"][0])["duplicate"]["result"] == "pass"
    analyse_waiting(app)
    settled = _photo(client, tokens["volunteer"], copy["photos"][0]["id"])
    assert _results(settled)["duplicate"]["result"] == "fail"
    assert settled["verdict"] == "inconsistent"
    first = _photo(client, tokens["volunteer"], original["photos"][0]["id"])
    assert _results(first)["duplicate"]["result"] == "pass"


def test_a_photo_whose_pixels_were_never_read_is_not_consistent_evidence(app, client, tokens):
    # A file whose decode kept killing its process (or one over a budget lowered since its
    # receipt) is analysed without its pixels: nothing then shows it is not a recycled or
    # edited picture, and nobody can look at it. It must not count as verified evidence.
    from fieldapp.evidence import imaging

    sent = _post(client, tokens["volunteer"], 2031)["photos"][0]
    assert sent["verdict"] == "consistent"  # provisional, as every receipt

    def unread(path, max_pixels):
        return imaging.PixelAnalysis(None, None, refused=True, problem=(
            "decoding the image stopped its process 2 times; it is not decoded again"))

    with app.app_context():
        analysis.analyse(db.session.get(Photo, sent["id"], with_for_update=True), unread)
        db.session.commit()
        assert db.session.get(Photo, sent["id"]).verified is False
    settled = _photo(client, tokens["volunteer"], sent["id"])
    assert settled["analysis"] == "done"
    assert _results(settled)["near_duplicate"]["result"] == "unknown"
    assert settled["verdict"] == "needs_review"


@pytest.mark.parametrize("damage", ["replaced", "missing"])
def test_a_recheck_does_not_record_checks_of_bytes_that_are_not_the_original(
        app, client, tokens, damage):
    # The recheck re-reads the original from disk. Checks computed from other bytes (an
    # edited file put in its place) or from no file at all ("cannot be decoded", a fail)
    # were recorded in the custody chain under the original's SHA-256.
    from fieldapp.reports.service import OriginalUnavailable, recheck_photos

    report = _post(client, tokens["volunteer"], 2041)
    sent = report["photos"][0]
    analyse_waiting(app)
    before = _photo(client, tokens["volunteer"], sent["id"])
    path = app.extensions["blob_store"].path_for(sent["sha256"])
    original = path.read_bytes()
    if damage == "replaced":
        edited, _ = _phone_photo(2042)
        path.write_bytes(edited)
    else:
        path.unlink()
    try:
        with app.app_context(), pytest.raises(OriginalUnavailable) as raised:
            recheck_photos(uuid.UUID(report["id"]))
        assert sent["id"] in str(raised.value)
    finally:
        path.write_bytes(original)
    after = _photo(client, tokens["volunteer"], sent["id"])
    assert after["checks"] == before["checks"] and after["verdict"] == before["verdict"]
    assert "rechecked" not in _actions(app, sent["id"])


def test_a_missing_original_is_not_analysed_as_undecodable(app, client, tokens):
    # Without its file a photo is not "an image that cannot be decoded" (a fail recorded
    # under its hash): it waits, and is analysed once its original is back.
    sent = _post(client, tokens["volunteer"], 2043)["photos"][0]
    path = app.extensions["blob_store"].path_for(sent["sha256"])
    original = path.read_bytes()
    path.unlink()
    try:
        assert analyse_waiting(app) == 0
        assert _photo(client, tokens["volunteer"], sent["id"])["analysis"] == "pending"
        assert _actions(app, sent["id"]) == ["received"]
    finally:
        path.write_bytes(original)
    assert analyse_waiting(app) == 1
    settled = _photo(client, tokens["volunteer"], sent["id"])
    assert settled["analysis"] == "done" and settled["verdict"] == "consistent"


def test_evidence_counts_only_once_analysed(app, client, tokens):
    coordinator = auth(tokens["coordinator"])
    site = client.post("/api/v1/sites", headers=coordinator, json={
        "name": "分析测试厂", "geometry": {"type": "Point", "coordinates": [LON, LAT]}})
    assert site.status_code == 201
    site_id = site.get_json()["id"]
    report = _post(client, tokens["volunteer"], 2005, site_id=site_id)

    def risk_photos():
        listed = client.get("/api/v1/sites?order=risk&page_size=100", headers=coordinator)
        row = next(s for s in listed.get_json()["items"] if s["id"] == site_id)
        return row["risk"]["verified_photos"]

    with app.app_context():
        assert not db.session.get(Photo, report["photos"][0]["id"]).verified
    assert risk_photos() == 0
    analyse_waiting(app)
    with app.app_context():
        assert db.session.get(Photo, report["photos"][0]["id"]).verified
    assert risk_photos() == 1
    # Incremental risk kept by the analysis equals a full recomputation.
    from fieldapp.hotspots import indexing
    from fieldapp.hotspots.models import SiteRisk

    with app.app_context():
        kept = db.session.get(SiteRisk, site_id).components["verified_photos"]
        indexing.refresh_site_risk(site_id)
        assert db.session.get(SiteRisk, site_id).components["verified_photos"] == kept
        db.session.rollback()


def test_concurrent_analysers_analyse_each_photo_exactly_once(app, client, tokens):
    sent = [_post(client, tokens["volunteer"], 2100 + i)["photos"][0]["id"] for i in range(6)]
    counts = []

    def work():
        with app.app_context():
            counts.append(analysis.drain())
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == 6
    for photo_id in sent:
        assert _actions(app, photo_id) == ["received", "verified"]


def test_a_photo_whose_analysis_fails_does_not_stall_the_queue(app, client, tokens, monkeypatch):
    bad = _post(client, tokens["volunteer"], 2200)["photos"][0]["id"]
    good = _post(client, tokens["volunteer"], 2201)["photos"][0]["id"]
    real = analysis.analyse

    def failing(photo, read_pixels):
        if str(photo.id) == bad:
            raise RuntimeError("simulated failure")
        real(photo, read_pixels)

    monkeypatch.setattr(analysis, "analyse", failing)
    stop = threading.Event()

    def follow():
        with app.app_context():
            analyser.follow(stop, idle_poll_s=0.2, idle_priority=True)
            db.session.remove()

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while _photo(client, tokens["volunteer"], good)["analysis"] != "done":
            assert time.monotonic() < deadline, "the good photo was never analysed"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert _photo(client, tokens["volunteer"], bad)["analysis"] == "pending"
    monkeypatch.undo()
    assert analyse_waiting(app) == 1  # still waiting, and analysable once the fault is gone


def _env(data_dir, **extra) -> dict:
    return {**os.environ, "DATABASE_URL": TEST_DB_URL, "FIELDAPP_DATA_DIR": str(data_dir),
            **extra}


def _wait_for_analysis(client, token, photo_id, seconds=30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        photo = _photo(client, token, photo_id)
        if photo["analysis"] == "done":
            return photo
        assert time.monotonic() < deadline, f"photo {photo_id} not analysed in {seconds} s"
        time.sleep(0.1)


def test_the_analyse_command_drains_or_follows(app, client, tokens, data_dir, tmp_path):
    command = [sys.executable, "-m", "fieldapp.cli", "evidence", "analyse"]
    first = _post(client, tokens["volunteer"], 2300)["photos"][0]["id"]
    drained = subprocess.run(command, cwd=tmp_path, env=_env(data_dir), capture_output=True,
                             text=True, timeout=120)
    assert drained.returncode == 0, drained.stderr
    assert "analysed 1 photos; 0 waiting" in drained.stdout
    assert _photo(client, tokens["volunteer"], first)["analysis"] == "done"

    follower = subprocess.Popen([*command, "--follow", "--nice", "5"], cwd=tmp_path,
                                env=_env(data_dir), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    try:
        time.sleep(1.0)  # listening by now; the NOTIFY of the next commit wakes it
        second = _post(client, tokens["volunteer"], 2301)["photos"][0]["id"]
        _wait_for_analysis(client, tokens["volunteer"], second, seconds=10)
        assert os.getpriority(os.PRIO_PROCESS, follower.pid) >= 5
    finally:
        follower.terminate()
        follower.wait(30)


def _analyser_pids(supervisor: int) -> list[int]:
    """The analysers `fieldapp serve` keeps running (children of its supervisord)."""
    pids = []
    for pid in child_pids(supervisor):
        try:
            if b"evidence\0analyse" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue
    return pids


def _thread_policies(pid: int) -> dict[int, int]:
    return {int(task.name): os.sched_getscheduler(int(task.name))
            for task in Path(f"/proc/{pid}/task").iterdir()}


def test_serve_keeps_an_analyser_running(app, client, tokens, data_dir, tmp_path):
    port = free_port()
    env = _env(data_dir, FIELDAPP_BIND=f"127.0.0.1:{port}", FIELDAPP_WORKERS="1",
               FIELDAPP_ANALYSERS="1")
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "fieldapp.cli", "serve"], cwd=tmp_path,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _analyser_pids(server.pid):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve started no analyser"
            time.sleep(0.2)
        [first] = _analyser_pids(server.pid)
        # Submitted over HTTP through the proxy; analysed by the analyser.
        photo, observed = _phone_photo(2400)
        claim = report_json(observed_at=observed,
                            location={"lon": LON, "lat": LAT, "crs": "wgs84"})
        while True:
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/api/v1/reports", headers=auth(tokens["volunteer"]),
                    data={"report": json.dumps(claim)}, files={"photos": ("a.jpg", photo)},
                    timeout=30)
                if response.status_code != 502:  # the proxy is up before gunicorn is
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.2)
        assert response.status_code == 201, response.text
        _wait_for_analysis(client, tokens["volunteer"], response.json()["photos"][0]["id"])
        # It decoded on a thread of idle priority; its main thread, which takes the
        # custody chain's lock, runs at normal priority.
        policies = _thread_policies(first)
        assert policies[first] == os.SCHED_OTHER
        assert os.SCHED_IDLE in policies.values()
        # An analyser that dies is started again.
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not (restarted := [pid for pid in _analyser_pids(server.pid) if pid != first]):
            assert time.monotonic() < deadline, "the analyser was not restarted"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    # Stopping the stack stops its analyser too.
    assert not Path(f"/proc/{restarted[0]}").exists()


def test_the_queue_is_indexed(app):
    with app.app_context():
        # The test table is small enough for a scan to look cheaper; ask for the index.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.scalars(text(
            "EXPLAIN SELECT id FROM photos WHERE analysed_at IS NULL "
            "ORDER BY received_at LIMIT 1")).all())
        db.session.rollback()
    assert "photos_awaiting_analysis" in plan


def test_settling_in_a_child_process_commits_there(app, client, tokens):
    waiting = _post(client, tokens["volunteer"], 2500)["photos"][0]["id"]
    with app.app_context():
        assert analysis.settle_in_child([waiting]) == 1
        db.session.rollback()
        assert db.session.get(Photo, waiting).analysed_at is not None
        assert analysis.settle_in_child([waiting]) == 0  # nothing left: no child started
        db.session.rollback()
    assert _actions(app, waiting) == ["received", "verified"]
