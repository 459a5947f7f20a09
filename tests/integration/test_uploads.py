"""Resumable uploads (tus 1.0): a real tus client against a live server, the protocol's
refusals, and reports that use finished uploads exactly like multipart photos."""
from __future__ import annotations

import base64
import fcntl
import hashlib
import http.client
import io
import json
import os
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import event, text
from tusclient import client as tus

from fieldapp.extensions import db
from fieldapp.photogen import padded_jpeg
from tests.helpers import auth, multipart, report_json, serving, storage_snapshot
from tests.imagegen import jpeg_bytes

MB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = {"Content-Type": "application/offset+octet-stream"}


def phone_photo(target_bytes: int, seed: int = 1) -> bytes:
    """A phone-like JPEG (EXIF with GPS and time) of target_bytes."""
    return padded_jpeg(jpeg_bytes(seed=seed, lat=23.18, lon=113.39), target_bytes, seed)


@pytest.fixture(scope="module")
def live_url(app):
    """The test app served over real HTTP on 127.0.0.1 (werkzeug, one thread a request)."""
    with serving(app) as url:
        yield f"{url}/api/v1/uploads"


def _create(client, token, length, **headers):
    response = client.post("/api/v1/uploads",
                           headers={**auth(token), **TUS, "Upload-Length": str(length),
                                    **headers})
    assert response.status_code == 201, response.get_json()
    return response.headers["Location"].rsplit("/", 1)[1]


def _patch(client, token, upload_id, offset, data, **headers):
    return client.patch(f"/api/v1/uploads/{upload_id}", data=data,
                        headers={**auth(token), **TUS, **CHUNK,
                                 "Upload-Offset": str(offset), **headers})


def _offset(client, token, upload_id):
    response = client.head(f"/api/v1/uploads/{upload_id}", headers={**auth(token), **TUS})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return int(response.headers["Upload-Offset"])


def _spool(app, upload_id) -> Path:
    return Path(app.config["FIELDAPP_DATA_DIR"]) / "tmp" / "uploads" / uuid.UUID(upload_id).hex


def _report(client, token, upload_ids, photos=(), **claim):
    body = multipart(report_json(uploads=upload_ids, **claim), list(photos))
    return client.post("/api/v1/reports", data=body, headers=auth(token),
                       content_type="multipart/form-data")


def _upload_whole(client, token, data, **create_headers) -> str:
    upload_id = _create(client, token, len(data), **create_headers)
    response = _patch(client, token, upload_id, 0, data)
    assert response.status_code == 204, response.get_json()
    return upload_id


def _cut_off(url: str, token: str, offset: int, data: bytes, sent: int) -> None:
    """A PATCH announcing all of `data` whose connection drops after `sent` bytes."""
    host, _, rest = url.removeprefix("http://").partition("/")
    connection = http.client.HTTPConnection(host, timeout=30)
    connection.putrequest("PATCH", "/" + rest)
    for name, value in {**auth(token), **TUS, **CHUNK, "Upload-Offset": str(offset),
                        "Content-Length": str(len(data))}.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(data[:sent])
    connection.close()


def _settled_offset(client, token, upload_id, before: int) -> int:
    """The offset once the server has noticed a dropped connection (it reads on for a moment
    after the client is gone)."""
    deadline = time.monotonic() + 30
    while (offset := _offset(client, token, upload_id)) == before:
        assert time.monotonic() < deadline, "the cut-off chunk was never settled"
        time.sleep(0.05)
    return offset


def test_a_tus_client_cut_off_midway_resumes_and_the_report_keeps_the_very_bytes(
        app, client, volunteer, live_url):
    _, _, token = volunteer
    photo = phone_photo(20 * MB)
    sha256 = hashlib.sha256(photo).hexdigest()
    phone = tus.TusClient(live_url, headers=auth(token))
    first = phone.uploader(file_path=None, file_stream=_stream(photo), chunk_size=MB,
                           metadata={"filename": "IMG_2041.jpg"}, upload_checksum=True)
    for _ in range(7):
        first.upload_chunk()
    upload_id = first.url.rsplit("/", 1)[1]
    # The connection drops in the middle of the eighth chunk: what arrived is kept.
    _cut_off(first.url, token, 7 * MB, photo[7 * MB:8 * MB], sent=300_000)
    assert _settled_offset(client, token, upload_id, 7 * MB) == 7 * MB + 300_000

    # The phone comes back later: a new uploader asks the server where to go on from.
    resumed = phone.uploader(file_stream=_stream(photo), url=first.url, chunk_size=MB,
                             upload_checksum=True)
    assert resumed.offset == 7 * MB + 300_000
    resumed.upload()
    assert _offset(client, token, upload_id) == len(photo)

    response = _report(client, token, [upload_id])
    assert response.status_code == 201, response.get_json()
    stored = response.get_json()["photos"]
    assert [p["sha256"] for p in stored] == [sha256]
    assert stored[0]["size"] == len(photo) and stored[0]["media_type"] == "image/jpeg"
    assert stored[0]["exif"]["gps"]["lat"] == pytest.approx(23.18)
    original = client.get(stored[0]["links"]["original"], headers=auth(token))
    assert hashlib.sha256(original.data).hexdigest() == sha256
    assert not _spool(app, upload_id).exists(), "the spool became the original"
    with app.app_context():
        events = db.session.execute(text(
            "SELECT count(*) FROM custody_events WHERE subject_id = :id AND action = 'received' "
            "AND details->>'sha256' = :sha"), {"id": stored[0]["id"], "sha": sha256}).scalar()
        assert events == 1
        filename = db.session.execute(text("SELECT filename FROM photos WHERE id = :id"),
                                      {"id": stored[0]["id"]}).scalar()
        assert filename == "IMG_2041.jpg"


def _stream(data: bytes):
    import io

    return io.BytesIO(data)


def test_an_upload_is_used_once_and_a_retry_of_its_report_is_answered_as_one(
        client, volunteer):
    _, _, token = volunteer
    multipart_photo = jpeg_bytes(seed=41)
    upload_id = _upload_whole(client, token, jpeg_bytes(seed=42))
    claim = report_json(uploads=[upload_id])
    body = lambda: multipart(claim, [(multipart_photo, "a.jpg")])  # noqa: E731
    first = client.post("/api/v1/reports", data=body(), headers=auth(token),
                        content_type="multipart/form-data")
    assert first.status_code == 201, first.get_json()
    hashes = [p["sha256"] for p in first.get_json()["photos"]]
    assert hashes == [hashlib.sha256(multipart_photo).hexdigest(),
                      hashlib.sha256(jpeg_bytes(seed=42)).hexdigest()]

    retry = client.post("/api/v1/reports", data=body(), headers=auth(token),
                        content_type="multipart/form-data")
    assert retry.status_code == 200 and retry.get_json()["id"] == first.get_json()["id"]

    again = _report(client, token, [upload_id])
    assert again.status_code == 422
    assert again.get_json()["errors"] == {
        "report.uploads[0]": ["the upload was already used by a report"]}
    used = client.delete(f"/api/v1/uploads/{upload_id}", headers={**auth(token), **TUS})
    assert used.status_code == 409 and used.get_json()["sub_code"] == "UPLOAD_USED"


def test_options_announces_what_this_server_offers(client, volunteer):
    _, _, token = volunteer
    response = client.options("/api/v1/uploads", headers=auth(token))
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation", "creation-with-upload", "checksum", "expiration", "termination"}
    assert response.headers["Tus-Max-Size"] == str(client.application.config[
        "FIELDAPP_MAX_PHOTO_BYTES"])
    assert response.headers["Tus-Checksum-Algorithm"].split(",") == ["sha256", "sha1"]
    assert client.options("/api/v1/uploads").status_code == 401


def test_creation_with_upload_and_expiry_headers(client, volunteer):
    _, _, token = volunteer
    data = jpeg_bytes(seed=43)
    metadata = "filename " + base64.b64encode(b"river.jpg").decode() + ",is_private"
    response = client.post("/api/v1/uploads", data=data[:1000], headers={
        **auth(token), **TUS, **CHUNK, "Upload-Length": str(len(data)),
        "Upload-Metadata": metadata})
    assert response.status_code == 201, response.get_json()
    assert response.headers["Upload-Offset"] == "1000"
    assert response.headers["Upload-Expires"].endswith(" GMT")
    upload_id = response.headers["Location"].rsplit("/", 1)[1]
    head = client.head(f"/api/v1/uploads/{upload_id}", headers={**auth(token), **TUS})
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Upload-Metadata"] == metadata
    done = _patch(client, token, upload_id, 1000, data[1000:])
    assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))


def test_a_checksum_mismatch_is_460_and_the_chunk_is_discarded(app, client, volunteer):
    _, _, token = volunteer
    data = jpeg_bytes(seed=44)
    upload_id = _create(client, token, len(data))
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    response = _patch(client, token, upload_id, 0, data[:5000],
                      **{"Upload-Checksum": f"sha256 {wrong}"})
    assert response.status_code == 460
    assert response.status == "460 Checksum Mismatch"
    assert response.get_json()["errors"] == {"Upload-Checksum": ["does not match the body"]}
    assert _offset(client, token, upload_id) == 0
    assert _spool(app, upload_id).stat().st_size == 0
    right = base64.b64encode(hashlib.sha256(data[:5000]).digest()).decode()
    ok = _patch(client, token, upload_id, 0, data[:5000],
                **{"Upload-Checksum": f"sha256 {right}"})
    assert ok.status_code == 204 and ok.headers["Upload-Offset"] == "5000"
    unknown = _patch(client, token, upload_id, 5000, data[5000:],
                     **{"Upload-Checksum": f"md5 {right}"})
    assert unknown.status_code == 400 and "Upload-Checksum" in unknown.get_json()["errors"]
    assert _offset(client, token, upload_id) == 5000


def _row(app, upload_id) -> dict:
    with app.app_context():
        row = db.session.execute(text(
            "SELECT received, sha256, finished_at FROM uploads WHERE id = :id"),
            {"id": upload_id}).mappings().one()
        db.session.rollback()
        return dict(row)


def test_a_chunk_writes_no_row_and_its_offset_is_the_spools_size(app, client, volunteer):
    _, _, token = volunteer
    data = jpeg_bytes(seed=51)
    upload_id = _create(client, token, len(data))
    writes = []

    def _note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", _note)
    try:
        assert _patch(client, token, upload_id, 0, data[:100]).status_code == 204
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", _note)
    assert writes == [], "a chunk is held by the spool's fdatasync, not by a row"
    assert _row(app, upload_id)["finished_at"] is None
    assert _offset(client, token, upload_id) == 100

    # A chunk a crash cut short: the bytes that reached the spool were the client's, at
    # their places, and are kept (tus asks a server to keep what it received).
    with open(_spool(app, upload_id), "ab") as held:
        held.write(data[100:150])
    assert _offset(client, token, upload_id) == 150
    assert _patch(client, token, upload_id, 100, data[100:]).status_code == 409
    done = _patch(client, token, upload_id, 150, data[150:])
    assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))
    row = _row(app, upload_id)
    assert row["received"] == len(data) and row["finished_at"] is not None
    assert row["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("ask_first", [True, False], ids=["head", "report"])
def test_a_spool_found_whole_is_the_upload_finished(app, client, volunteer, ask_first):
    """A crash between the last chunk's fdatasync and the commit that records the upload
    as finished: a whole spool beside an unfinished row. Whoever asks next (HEAD, or the
    report naming the upload) finishes it, with the SHA-256 of the bytes held."""
    _, _, token = volunteer
    data = jpeg_bytes(seed=52 + ask_first)
    upload_id = _create(client, token, len(data))
    assert _patch(client, token, upload_id, 0, data[:1000]).status_code == 204
    with open(_spool(app, upload_id), "ab") as held:  # fdatasynced, then the process died
        held.write(data[1000:])
        os.fdatasync(held.fileno())
    assert _row(app, upload_id)["finished_at"] is None
    if ask_first:
        assert _offset(client, token, upload_id) == len(data)
        row = _row(app, upload_id)
        assert row["finished_at"] is not None and row["received"] == len(data)
    response = _report(client, token, [upload_id])
    assert response.status_code == 201, response.get_json()
    assert [p["sha256"] for p in response.get_json()["photos"]] == [
        hashlib.sha256(data).hexdigest()]


class _Watched(io.BytesIO):
    """A request body that notes the spool's size each time the server reads on."""

    def __init__(self, data: bytes, spool: Path):
        super().__init__(data)
        self.spool, self.sizes = spool, []

    def readinto(self, buffer):
        self.sizes.append(self.spool.stat().st_size)
        return super().readinto(buffer)

    def read(self, size=-1):
        self.sizes.append(self.spool.stat().st_size)
        return super().read(size)


def test_a_chunk_with_a_checksum_enters_the_spool_only_once_it_matches(app, client, volunteer):
    """So a crash while it is read or checked can never leave unproven bytes counted."""
    _, _, token = volunteer
    data = os.urandom(5 * MB // 2)
    upload_id = _create(client, token, 2 * len(data))
    spool = _spool(app, upload_id)
    digest = base64.b64encode(hashlib.sha1(data).digest()).decode()
    for offset, checksum in ((0, {"Upload-Checksum": f"sha1 {digest}"}), (len(data), {})):
        body = _Watched(data, spool)
        response = client.patch(f"/api/v1/uploads/{upload_id}", input_stream=body, headers={
            **auth(token), **TUS, **CHUNK, "Upload-Offset": str(offset),
            "Content-Length": str(len(data)), **checksum})
        assert response.status_code == 204, response.get_json()
        if checksum:
            assert set(body.sizes) == {offset}, "the chunk waited apart until it matched"
        else:
            assert max(body.sizes) > offset, "a chunk without a checksum goes straight in"
    assert spool.read_bytes() == data + data


def test_a_chunk_an_error_cuts_short_is_dropped(app, client, volunteer, monkeypatch):
    """Bytes written but never fdatasynced must not count: the spool ends at the offset
    again."""
    from fieldapp.uploads import spool

    _, _, token = volunteer
    data = os.urandom(3 * MB)
    upload_id = _create(client, token, len(data))
    assert _patch(client, token, upload_id, 0, data[:100]).status_code == 204
    write, written = spool.Chunk.write, []

    def write_then_fail(chunk, piece):
        write(chunk, piece)
        written.append(len(piece))
        if len(written) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool.Chunk, "write", write_then_fail)
    with pytest.raises(OSError):
        _patch(client, token, upload_id, 100, data[100:])
    assert sum(written) > MB
    monkeypatch.undo()
    assert _spool(app, upload_id).stat().st_size == 100
    assert _offset(client, token, upload_id) == 100


def test_where_an_upload_stands_is_never_answered_mid_chunk(
        app, client, volunteer, live_url, monkeypatch):
    """A chunk being written holds the spool: HEAD (and another PATCH) wait for it, and are
    told UPLOAD_BUSY if it takes too long, rather than count bytes not yet held for good."""
    from fieldapp.uploads import service

    monkeypatch.setattr(service, "LOCK_WAIT_S", 0.3)
    _, _, token = volunteer
    upload_id = _create(client, token, 1000)
    host, _, rest = f"{live_url}/{upload_id}".removeprefix("http://").partition("/")
    slow = http.client.HTTPConnection(host, timeout=30)
    slow.putrequest("PATCH", "/" + rest)
    for name, value in {**auth(token), **TUS, **CHUNK, "Upload-Offset": "0",
                        "Content-Length": "1000"}.items():
        slow.putheader(name, value)
    slow.endheaders()
    slow.send(b"a" * 400)
    _wait_until_locked(_spool(app, upload_id))
    head = client.head(f"/api/v1/uploads/{upload_id}", headers={**auth(token), **TUS})
    assert head.status_code == 409
    other = _patch(client, token, upload_id, 0, b"b" * 1000)
    assert other.status_code == 409 and other.get_json()["sub_code"] == "UPLOAD_BUSY"
    slow.send(b"a" * 600)
    answer = slow.getresponse()
    assert answer.status == 204 and answer.getheader("Upload-Offset") == "1000"
    slow.close()
    assert _offset(client, token, upload_id) == 1000


def _wait_until_locked(path: Path) -> None:
    deadline = time.monotonic() + 10
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(fd, fcntl.LOCK_UN)
            assert time.monotonic() < deadline, "the server never took the spool's lock"
            time.sleep(0.02)
    finally:
        os.close(fd)


def test_a_wrong_offset_is_409_and_changes_nothing(client, volunteer):
    _, _, token = volunteer
    data = jpeg_bytes(seed=45)
    upload_id = _create(client, token, len(data))
    assert _patch(client, token, upload_id, 0, data[:100]).status_code == 204
    for offset in (0, 50, 200):
        response = _patch(client, token, upload_id, offset, data[offset:offset + 100])
        assert response.status_code == 409
        assert "Upload-Offset" in response.get_json()["errors"]
    assert _offset(client, token, upload_id) == 100


def test_protocol_refusals_name_the_header(client, volunteer):
    _, _, token = volunteer
    cap = client.application.config["FIELDAPP_MAX_PHOTO_BYTES"]
    cases = [
        ({"Upload-Length": str(cap + 1)}, 413, "Upload-Length"),
        ({}, 400, "Upload-Length"),
        ({"Upload-Length": "-5"}, 400, "Upload-Length"),
        ({"Upload-Length": "0"}, 422, "Upload-Length"),
        ({"Upload-Defer-Length": "1"}, 400, "Upload-Defer-Length"),
        ({"Upload-Length": "10", "Upload-Metadata": "filename not*base64"}, 400,
         "Upload-Metadata"),
    ]
    for headers, status, header in cases:
        response = client.post("/api/v1/uploads", headers={**auth(token), **TUS, **headers})
        assert response.status_code == status, (headers, response.get_json())
        assert header in response.get_json()["errors"]
    old = client.post("/api/v1/uploads", headers={**auth(token), "Tus-Resumable": "0.2.2",
                                                  "Upload-Length": "10"})
    assert old.status_code == 412 and old.headers["Tus-Version"] == "1.0.0"
    upload_id = _create(client, token, 10)
    plain = client.patch(f"/api/v1/uploads/{upload_id}", data=b"0123456789", headers={
        **auth(token), **TUS, "Upload-Offset": "0", "Content-Type": "text/plain"})
    assert plain.status_code == 415
    too_long = _patch(client, token, upload_id, 0, b"0123456789A")
    assert too_long.status_code == 413 and "Content-Length" in too_long.get_json()["errors"]
    assert _offset(client, token, upload_id) == 0
    overridden = client.post(f"/api/v1/uploads/{upload_id}", data=b"01234", headers={
        **auth(token), **TUS, **CHUNK, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"})
    assert overridden.status_code == 204 and overridden.headers["Upload-Offset"] == "5"


def test_someone_elses_upload_is_404_and_422_in_a_report(app, client, make_user):
    _, _, owner = make_user()
    _, _, stranger = make_user()
    upload_id = _upload_whole(client, owner, jpeg_bytes(seed=46))
    headers = {**auth(stranger), **TUS}
    assert client.head(f"/api/v1/uploads/{upload_id}", headers=headers).status_code == 404
    assert _patch(client, stranger, upload_id, 0, b"x").status_code == 404
    assert client.delete(f"/api/v1/uploads/{upload_id}", headers=headers).status_code == 404
    before = storage_snapshot(app)
    for ids in ([upload_id], [str(uuid.uuid4())]):
        response = _report(client, stranger, ids)
        assert response.status_code == 422
        assert response.get_json()["errors"] == {"report.uploads[0]": ["no such upload"]}
    assert storage_snapshot(app) == before
    assert _offset(client, owner, upload_id) == len(jpeg_bytes(seed=46))


def test_an_unfinished_or_repeated_upload_is_refused_and_nothing_is_written(
        app, client, volunteer):
    _, _, token = volunteer
    data = jpeg_bytes(seed=47)
    unfinished = _create(client, token, len(data))
    assert _patch(client, token, unfinished, 0, data[:100]).status_code == 204
    finished = _upload_whole(client, token, data)
    not_a_photo = _upload_whole(client, token, b"%PDF-1.7 not a photo at all")
    before = storage_snapshot(app)
    response = _report(client, token, [finished, unfinished])
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"report.uploads[1]": [
        f"the upload is unfinished: 100 of {len(data)} bytes received"]}
    twice = _report(client, token, [finished, finished])
    assert twice.get_json()["errors"] == {"report.uploads[1]": ["the upload is named twice"]}
    refused = _report(client, token, [not_a_photo])
    assert refused.status_code == 415 and "report.uploads[0]" in refused.get_json()["errors"]
    assert storage_snapshot(app) == before
    assert _report(client, token, [finished]).status_code == 201


def test_an_expired_upload_is_refused_then_swept_with_its_bytes(
        app, client, volunteer, owner_connection):
    from tests.helpers import run_jobs

    _, _, token = volunteer
    data = jpeg_bytes(seed=48)
    finished = _upload_whole(client, token, data)
    unfinished = _create(client, token, len(data))
    fresh = _create(client, token, len(data))
    with owner_connection, owner_connection.cursor() as cursor:
        cursor.execute("UPDATE uploads SET expires_at = now() - interval '1 second' "
                       "WHERE id IN (%s, %s)", (finished, unfinished))
    headers = {**auth(token), **TUS}
    assert client.head(f"/api/v1/uploads/{unfinished}", headers=headers).status_code == 410
    assert _patch(client, token, unfinished, 0, data).status_code == 410
    before = storage_snapshot(app)
    refused = _report(client, token, [finished])
    assert refused.status_code == 422
    assert refused.get_json()["sub_code"] == "UPLOAD_EXPIRED"
    assert storage_snapshot(app) == before

    # Spools no upload owns (a creation cut short): removed once old, left while recent.
    orphan, recent = (_spool(app, str(uuid.uuid4())) for _ in range(2))
    orphan.write_bytes(b"left behind")
    recent.write_bytes(b"being created")
    two_hours_ago = time.time() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))

    with app.app_context():
        from fieldapp.jobs.queue import defer
        from fieldapp.jobs.tasks import UPLOADS

        # Under a lock of its own: a run the worker scheduled for later may be waiting.
        job_id = defer(UPLOADS, queueing_lock=f"test-{uuid.uuid4()}")
        db.session.commit()
    run_jobs(app)
    assert not orphan.exists() and recent.exists()
    recent.unlink()
    for gone in (finished, unfinished):
        assert client.head(f"/api/v1/uploads/{gone}", headers=headers).status_code == 404
        assert not _spool(app, gone).exists()
    assert _offset(client, token, fresh) == 0 and _spool(app, fresh).exists()
    with app.app_context():
        status = db.session.execute(text(
            "SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}).scalar()
        assert status == "succeeded"


def test_termination_removes_an_unused_upload(app, client, volunteer):
    _, _, token = volunteer
    upload_id = _create(client, token, 1000)
    assert _patch(client, token, upload_id, 0, b"x" * 10).status_code == 204
    headers = {**auth(token), **TUS}
    response = client.delete(f"/api/v1/uploads/{upload_id}", headers=headers)
    assert response.status_code == 204 and response.headers["Tus-Resumable"] == "1.0.0"
    assert not _spool(app, upload_id).exists()
    assert client.head(f"/api/v1/uploads/{upload_id}", headers=headers).status_code == 404
    assert _patch(client, token, upload_id, 10, b"y").status_code == 404


def test_uploads_count_against_the_daily_byte_quota_once(app, client, make_user):
    _, _, token = make_user()
    data = jpeg_bytes(seed=49)
    limit = 3 * len(data)
    app.config["FIELDAPP_QUOTA_BYTES_PER_DAY"] = limit
    try:
        first = _upload_whole(client, token, data)
        second = _create(client, token, len(data))
        over = client.post("/api/v1/uploads", headers={
            **auth(token), **TUS, "Upload-Length": str(limit - 2 * len(data) + 1)})
        assert over.status_code == 429
        assert over.get_json()["sub_code"] == "QUOTA_BYTES_PER_DAY"
        # Used by a report, the first upload's bytes count once, as a photo.
        assert _report(client, token, [first]).status_code == 201
        assert _create(client, token, len(data))
        assert client.delete(f"/api/v1/uploads/{second}",
                             headers={**auth(token), **TUS}).status_code == 204
    finally:
        app.config["FIELDAPP_QUOTA_BYTES_PER_DAY"] = 2048 * MB


def test_requests_without_a_token_are_refused(client, volunteer):
    _, _, token = volunteer
    upload_id = _create(client, token, 10)
    assert client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "10"}
                       ).status_code == 401
    assert client.head(f"/api/v1/uploads/{upload_id}", headers=TUS).status_code == 401
    assert client.patch(f"/api/v1/uploads/{upload_id}", data=b"x",
                        headers={**TUS, **CHUNK, "Upload-Offset": "0"}).status_code == 401
    assert json.loads(client.delete(f"/api/v1/uploads/{upload_id}", headers=TUS).data)[
        "code"] == 401
    assert _offset(client, token, upload_id) == 0


def test_a_chunks_token_is_refused_as_any_requests_is(app, client, make_user,
                                                     owner_connection):
    """A chunk loads no account row, yet a read-only, expired or revoked token, or one of a
    disabled account, is refused as on any other request, and nothing is written."""
    _, _, staff = make_user("coordinator")
    upload_id = _create(client, staff, 100)
    read = client.post("/api/v1/auth/read-token", json={"ttl_s": 600}, headers=auth(staff))
    refused = _patch(client, read.get_json()["token"], upload_id, 0, b"x" * 10)
    assert refused.status_code == 403 and refused.get_json()["sub_code"] == "READ_ONLY_TOKEN"
    assert _spool(app, upload_id).stat().st_size == 0
    for how in ("expired", "revoked", "disabled"):
        user_id, _, token = make_user()
        mine = _create(client, token, 100)
        if how == "revoked":
            assert client.delete("/api/v1/auth/token", headers=auth(token)).status_code == 204
        with owner_connection, owner_connection.cursor() as cursor:
            if how == "expired":
                digest = hashlib.sha256(token.encode()).hexdigest()
                cursor.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' "
                               "WHERE token_hash = %s", (digest,))
            if how == "disabled":
                cursor.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (user_id,))
        response = _patch(client, token, mine, 0, b"x" * 10)
        assert response.status_code == 401, how
        assert _spool(app, mine).stat().st_size == 0, how
    assert _patch(client, staff, upload_id, 0, b"x" * 10).status_code == 204


def test_requests_library_sees_the_location_header(live_url, volunteer):
    """The Location answered is a URL a client can use as it is."""
    _, _, token = volunteer
    created = requests.post(live_url, headers={**auth(token), **TUS, "Upload-Length": "3"},
                            timeout=30)
    assert created.status_code == 201
    head = requests.head(created.headers["Location"], headers={**auth(token), **TUS},
                         timeout=30)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "0"
