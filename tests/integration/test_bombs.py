"""Decompression bombs and poison images: refused at intake from their headers, and never a
5xx, a runaway decode or a stuck queue anywhere after (analysis, previews, recheck)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest
from sqlalchemy import select

from fieldapp.custody.models import CustodyEvent
from fieldapp.evidence import imaging
from fieldapp.extensions import db
from fieldapp.reports.models import Photo
from tests.bombs import heif_claiming, jpeg_claiming, png_bomb, tiff_claiming
from tests.helpers import (
    SHARED_PHOTOS,
    TEST_DB_URL,
    analyse_waiting,
    auth,
    freeze,
    photo_as_seen,
    post_report,
    report_json,
    storage_snapshot,
)
from tests.imagegen import jpeg_bytes

BUDGET = 100_000_000
BOMBS = {"png": (png_bomb, "20000 x 20000"), "jpeg": (jpeg_claiming, "60000 x 60000"),
         "tiff": (tiff_claiming, "20000 x 20000"), "heif": (heif_claiming, "12000 x 12000")}
GOOD = jpeg_bytes(seed=4401, lat=23.18, lon=113.39)
DAMAGED_SCAN = "mdx__jpg__ImageTestSuite__c3018ebe53d0046eecb58858ca869a99.jpg"


def _checks(photo: dict) -> dict:
    return {check["name"]: check for check in photo["checks"]}


def _stored_past_intake(app, client, token, data: bytes, monkeypatch) -> dict:
    """A bomb as if received when the budget was larger (or before there was one)."""
    monkeypatch.setitem(app.config, "FIELDAPP_MAX_PIXELS", 10**12)
    response = post_report(client, token, report_json(), [(data, "bomb")])
    monkeypatch.setitem(app.config, "FIELDAPP_MAX_PIXELS", BUDGET)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["photos"][0]


@pytest.mark.parametrize("kind", BOMBS)
def test_a_bomb_at_intake_is_422_naming_the_photo_and_writes_nothing(app, client, volunteer,
                                                                     kind):
    make, declared = BOMBS[kind]
    before = storage_snapshot(app)
    response = post_report(client, volunteer[2], report_json(),
                           [(GOOD, "ok.jpg"), (make(), f"bomb.{kind}")])
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["sub_code"] == "PHOTO_TOO_MANY_PIXELS"
    assert list(body["errors"]) == ["photos[1]"]
    assert declared in body["errors"]["photos[1]"][0] and "100 MP" in body["message"]
    # No row, no blob, no temp file.
    assert storage_snapshot(app) == before


@pytest.mark.parametrize("kind", BOMBS)
def test_a_bomb_that_got_in_is_analysed_as_unreadable_and_the_queue_moves_on(
        app, client, volunteer, monkeypatch, kind):
    make, declared = BOMBS[kind]
    token = volunteer[2]
    bomb = _stored_past_intake(app, client, token, make(), monkeypatch)
    after = post_report(client, token, report_json(), [(jpeg_bytes(seed=4402), "ok.jpg")])
    good = after.get_json()["photos"][0]
    # Before analysis: the previews are refused too, never decoded.
    for kind_of in ("preview", "thumbnail"):
        refused = client.get(f"/api/v1/photos/{bomb['id']}/{kind_of}", headers=auth(token))
        assert refused.status_code == 422
        assert refused.get_json()["sub_code"] == "PHOTO_NOT_RENDERABLE"
        assert declared in refused.get_json()["errors"]["photo_id"][0]

    assert analyse_waiting(app) >= 2  # the bomb did not stop the good photo behind it
    analysed = photo_as_seen(client, token, bomb["id"])
    assert analysed["analysis"] == "done" and declared in analysed["analysis_error"]
    checks = _checks(analysed)
    for name in ("near_duplicate", "thumbnail_matches"):
        assert checks[name]["result"] == "unknown"
        assert declared in checks[name]["detail"]
    assert checks["metadata_present"]["result"] != "fail"  # never decoded, so not "undecodable"
    assert photo_as_seen(client, token, good["id"])["analysis_error"] is None
    with app.app_context():
        verified = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.subject_id == bomb["id"], CustodyEvent.action == "verified")).one()
        assert declared in verified.details["analysis_error"]
        # Not waiting any more: no analyser picks it up again.
        assert db.session.get(Photo, bomb["id"]).analysed_at is not None
    for kind_of in ("preview", "thumbnail"):
        refused = client.get(f"/api/v1/photos/{bomb['id']}/{kind_of}", headers=auth(token))
        assert refused.status_code == 422, refused.get_json()
    derivatives = os.path.join(app.config["FIELDAPP_DATA_DIR"], "derivatives")
    assert not any(bomb["sha256"] in name for _, _, names in os.walk(derivatives)
                   for name in names)


def test_a_photo_that_cannot_be_decoded_says_why(app, client, volunteer):
    token = volunteer[2]
    data = (SHARED_PHOTOS / DAMAGED_SCAN).read_bytes()
    photo = post_report(client, token, report_json(), [(data, "damaged.jpg")]).get_json()[
        "photos"][0]
    # A preview asked for before analysis tries, fails with a 422, and the read of the
    # original it took stays recorded.
    pending = photo_as_seen(client, token, photo["id"])["analysis"] == "pending"
    refused = client.get(f"/api/v1/photos/{photo['id']}/preview", headers=auth(token))
    assert refused.status_code == 422 and refused.get_json()["sub_code"] == "PHOTO_NOT_RENDERABLE"
    with app.app_context():
        reads = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.subject_id == photo["id"], CustodyEvent.action == "original_read"))
        purposes = [r.details["purpose"] for r in reads]
    # (Analysed meanwhile by an analyser running elsewhere, it is refused without a read.)
    assert purposes == (["preview attempted"] if pending else [])
    analyse_waiting(app)
    analysed = photo_as_seen(client, token, photo["id"])
    assert analysed["analysis_error"].startswith("the image cannot be decoded")
    assert _checks(analysed)["metadata_present"]["result"] == "fail"
    assert _checks(analysed)["near_duplicate"]["result"] == "unknown"


def test_recheck_of_a_bomb_keeps_it_unread(app, client, volunteer, monkeypatch):
    from fieldapp.reports.service import recheck_photos

    bomb = _stored_past_intake(app, client, volunteer[2], png_bomb(), monkeypatch)
    with app.app_context():
        changed, total = recheck_photos(bomb["report_id"])
        assert total == 1
        photo = db.session.get(Photo, bomb["id"])
        assert "20000 x 20000" in photo.analysis_error and photo.analysed_at is not None


# A child's peak RSS must be measured from a fresh parent: Linux carries the high-water mark
# of the process that forked (here pytest, hundreds of MB) across exec into the child's
# figure. So a small launcher runs the command and reports its child's ru_maxrss.
_LAUNCHER = textwrap.dedent("""
    import resource, subprocess, sys
    code = subprocess.run(sys.argv[1:]).returncode
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)
    sys.exit(code)
""")
# The decode paths (analysis, derivatives) on each file named, under a budget.
_DECODE = textwrap.dedent("""
    import sys
    from fieldapp.evidence import imaging
    budget, paths = int(sys.argv[1]), sys.argv[2:]
    imaging.register_heif()
    for path in paths:
        imaging.analyse_pixels(path, budget)
        try:
            imaging.make_derivative(path, path + ".jpg", 1600, max_pixels=budget)
        except imaging.ImageDecodeError:
            pass
""")


def _peak_rss_mb(command: list[str], stdin: str = "", env=None) -> tuple[float, str]:
    """(peak RSS of the command's process in MB, what it printed)."""
    result = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], input=stdin,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    out, _, peak = result.stdout.rpartition("PEAK_KB ")
    return int(peak) / 1024, out


def _decode_peak_mb(paths, budget: int) -> float:
    return _peak_rss_mb([sys.executable, "-c", _DECODE, str(budget), *map(str, paths)])[0]


def test_decoding_bombs_stays_within_a_few_megabytes(tmp_path):
    paths = []
    for kind, (make, _) in BOMBS.items():
        paths.append(tmp_path / f"bomb.{kind}")
        paths[-1].write_bytes(make())
    baseline = _decode_peak_mb([], BUDGET)  # the same process, decoding nothing
    assert _decode_peak_mb(paths, BUDGET) - baseline < 20
    # The measurement sees a decode when one happens: the same one-bit PNG bomb, smaller
    # (12000 x 12000, 144 MP), decoded with no budget, grows the process by tens of MB.
    control = tmp_path / "control.png"
    control.write_bytes(png_bomb(12000, 12000))
    assert _decode_peak_mb([control], 0) - baseline > 50


def test_the_analyser_process_analyses_bombs_in_bounded_memory(app, client, volunteer,
                                                               monkeypatch, data_dir):
    ids = [_stored_past_intake(app, client, volunteer[2], make(), monkeypatch)["id"]
           for make, _ in BOMBS.values()]
    env = {**os.environ, "DATABASE_URL": TEST_DB_URL, "FIELDAPP_DATA_DIR": str(data_dir),
           "FIELDAPP_MAX_PIXELS": str(BUDGET)}
    command = [sys.executable, "-m", "fieldapp.cli", "evidence", "analyse",
               "--photos-from-stdin"]
    baseline, _ = _peak_rss_mb(command, stdin="", env=env)  # the same process, no photo
    peak, out = _peak_rss_mb(command, stdin="\n".join(ids), env=env)
    assert "analysed 4 photos" in out
    # The whole process (Python, Flask, SQLAlchemy, Pillow, libheif) at its peak, against
    # the same command analysing nothing (about 160 MB here, most of it imports).
    assert peak - baseline < 30, f"peak RSS {peak:.0f} MB, {baseline:.0f} MB idle"
    assert peak < 400
    for photo_id in ids:
        assert "MP" in photo_as_seen(client, volunteer[2], photo_id)["analysis_error"]


def test_a_dossier_with_unrenderable_photos_freezes_with_placeholders(app, client, make_user,
                                                                       monkeypatch):
    _, _, volunteer = make_user("volunteer")
    _, _, coordinator = make_user("coordinator")
    _, _, lawyer = make_user("lawyer")
    bomb = _stored_past_intake(app, client, volunteer, heif_claiming(), monkeypatch)
    damaged = post_report(client, volunteer, report_json(), [
        ((SHARED_PHOTOS / DAMAGED_SCAN).read_bytes(), "damaged.jpg")]).get_json()["photos"][0]
    good = post_report(client, volunteer, report_json(), [(GOOD, "ok.jpg")]).get_json()[
        "photos"][0]
    site = client.post("/api/v1/sites", headers=auth(coordinator), json={
        "name": "Bomb test works", "geometry": {"type": "Point", "coordinates": [113.39, 23.18]},
    }).get_json()
    case = client.post("/api/v1/cases", headers=auth(lawyer), json={
        "site_id": site["id"], "title": "Outflow"}).get_json()
    for photo in (bomb, damaged, good):
        added = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(lawyer), json={
            "photo_id": photo["id"], "title": "photo", "purpose": "outflow"})
        assert added.status_code == 201, added.get_json()

    frozen = freeze(client, lawyer, case["id"])

    assert frozen["status"] == "frozen", frozen
    download = client.get(frozen["links"]["download"], headers=auth(lawyer))
    assert download.status_code == 200
    placeholder = app.extensions["blob_store"].placeholder_path("preview").read_bytes()
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        [name] = [n for n in archive.namelist() if n.endswith("/manifest.json")]
        top = name.split("/")[0]
        items = json.loads(archive.read(name))["items"]
        previews = {item["photo_id"]: archive.read(f"{top}/{item['preview']}")
                    for item in items}
    assert previews[bomb["id"]] == placeholder and previews[damaged["id"]] == placeholder
    assert previews[good["id"]] != placeholder


# Analyses one photo in a process whose decoder kills it, as a crashing decoder or the
# kernel's OOM killer would.
_DYING_ANALYSER = textwrap.dedent("""
    import os, signal, sys
    from fieldapp import create_app
    from fieldapp.extensions import db
    from fieldapp.reports import analysis
    from fieldapp.reports.models import Photo

    def die(path, max_pixels):
        os.kill(os.getpid(), signal.SIGKILL)

    with create_app().app_context():
        analysis.analyse(db.session.get(Photo, sys.argv[1], with_for_update=True), die)
""")


def test_a_photo_whose_decode_kills_its_process_is_not_decoded_forever(app, client, volunteer,
                                                                        data_dir):
    from fieldapp.reports import analysis

    photo = post_report(client, volunteer[2], report_json(),
                        [(jpeg_bytes(seed=4403), "a.jpg")]).get_json()["photos"][0]
    env = {**os.environ, "DATABASE_URL": TEST_DB_URL, "FIELDAPP_DATA_DIR": str(data_dir)}
    for _ in range(analysis.MAX_UNFINISHED_DECODES):
        died = subprocess.run([sys.executable, "-c", _DYING_ANALYSER, photo["id"]], env=env,
                              capture_output=True, text=True, timeout=120)
        assert died.returncode == -9, died.stderr
        assert photo_as_seen(client, volunteer[2], photo["id"])["analysis"] == "pending"

    def must_not_decode(path, max_pixels):
        pytest.fail("decoded a third time")

    with app.app_context():
        analysis.analyse(db.session.get(Photo, photo["id"], with_for_update=True),
                         must_not_decode)
        db.session.commit()
    analysed = photo_as_seen(client, volunteer[2], photo["id"])
    assert analysed["analysis"] == "done"
    assert "stopped its process 2 times" in analysed["analysis_error"]
    assert _checks(analysed)["near_duplicate"]["result"] == "unknown"


def test_a_decode_that_ends_is_not_counted_against_the_photo(app, client, volunteer,
                                                             app_connection):
    photo = post_report(client, volunteer[2], report_json(),
                        [(jpeg_bytes(seed=4404), "a.jpg")]).get_json()["photos"][0]
    analyse_waiting(app)
    assert photo_as_seen(client, volunteer[2], photo["id"])["analysis_error"] is None
    with app_connection.cursor() as cursor:
        cursor.execute("SELECT unfinished FROM photo_decodes WHERE photo_id = %s",
                       (photo["id"],))
        assert cursor.fetchone() == (0,)


def test_draining_the_queue_passes_over_a_photo_whose_analysis_raises(app, client, volunteer,
                                                                      monkeypatch):
    from fieldapp.reports import analysis

    token = volunteer[2]
    bad, good = (post_report(client, token, report_json(), [(jpeg_bytes(seed=seed), "a.jpg")])
                 .get_json()["photos"][0] for seed in (4405, 4406))
    real = analysis.analyse

    def failing(photo, read_pixels=imaging.analyse_pixels):
        if str(photo.id) == bad["id"]:
            raise RuntimeError("a row no analysis can read")
        real(photo, read_pixels)

    monkeypatch.setattr(analysis, "analyse", failing)
    analyse_waiting(app)  # never raises
    assert photo_as_seen(client, token, good["id"])["analysis"] == "done"
    assert photo_as_seen(client, token, bad["id"])["analysis"] == "pending"  # for a later run
