"""Daily quotas per account and the photo-count limit, enforced before and while the body
streams: a refusal is a 429 (or 422) naming the limit, and writes nothing at all."""
from __future__ import annotations

import io
import json
import threading

import pytest
from urllib3 import encode_multipart_formdata

from fieldapp.reports import quota
from tests.helpers import auth, post_report, report_json, storage_snapshot
from tests.imagegen import jpeg_bytes, sized_jpeg

PHOTO = jpeg_bytes(seed=5501, lat=23.18, lon=113.39)


class CountingBody(io.BytesIO):
    """A request body that records how far the server read it."""

    read_up_to = 0

    def _note(self, result):
        self.read_up_to = max(self.read_up_to, self.tell())
        return result

    def read(self, *args):
        return self._note(super().read(*args))

    def read1(self, *args):
        return self._note(super().read1(*args))

    def readinto(self, buffer):
        return self._note(super().readinto(buffer))

    def readline(self, *args):
        return self._note(super().readline(*args))


def _body(photos: list[bytes]) -> tuple[bytes, str]:
    return encode_multipart_formdata(
        [("report", json.dumps(report_json()))]
        + [("photos", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos)])


def _post_stream(client, token, photos, chunked=False):
    """Post as a phone streams it: with its Content-Length, or chunked (no length)."""
    data, content_type = _body(photos)
    body = CountingBody(data)
    headers = {**auth(token), "Content-Type": content_type}
    overrides = {}
    if chunked:
        overrides["wsgi.input_terminated"] = True
    else:
        headers["Content-Length"] = str(len(data))
    response = client.post("/api/v1/reports", input_stream=body, headers=headers,
                           environ_overrides=overrides)
    return response, body, len(data)


@pytest.fixture()
def limits(app, monkeypatch):
    def set_limits(reports=0, megabytes=0.0, photos=20):
        monkeypatch.setitem(app.config, "FIELDAPP_QUOTA_REPORTS_PER_DAY", reports)
        monkeypatch.setitem(app.config, "FIELDAPP_QUOTA_BYTES_PER_DAY", int(megabytes * 2**20))
        monkeypatch.setitem(app.config, "FIELDAPP_MAX_PHOTOS", photos)
    return set_limits


def _refused(response, sub_code: str) -> dict:
    assert response.status_code == 429, response.get_json()
    body = response.get_json()
    assert body["code"] == 429 and body["sub_code"] == sub_code
    name = "quota." + sub_code.removeprefix("QUOTA_").lower()
    assert list(body["errors"]) == [name] and name in body["message"]
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 86400
    return body


def test_the_report_after_the_daily_count_is_429_and_writes_nothing(app, client, volunteer,
                                                                     limits):
    limits(reports=2)
    token = volunteer[2]
    for seed in (1, 2):
        photo = jpeg_bytes(seed=5510 + seed)
        assert post_report(client, token, report_json(), [(photo, "a.jpg")]).status_code == 201
    before = storage_snapshot(app)
    response, body, _ = _post_stream(client, token, [PHOTO])
    refusal = _refused(response, "QUOTA_REPORTS_PER_DAY")
    assert "2 reports in 24 hours" in refusal["errors"]["quota.reports_per_day"][0]
    # The last report was sent moments ago: the oldest of the two leaves the window in a day.
    assert int(response.headers["Retry-After"]) > 86400 - 120
    assert body.read_up_to == 0, "refused before a byte of the body was read"
    assert storage_snapshot(app) == before


def test_a_body_that_cannot_fit_the_daily_bytes_is_refused_before_it_is_read(
        app, client, volunteer, limits):
    token = volunteer[2]
    first = jpeg_bytes(seed=5520, size=(1200, 900))
    limits(megabytes=len(first) / 2**20 + 1.2)
    assert post_report(client, token, report_json(), [(first, "a.jpg")]).status_code == 201
    big = sized_jpeg(int(1.3 * 2**20), seed=5521)
    assert len(big) > 1.2 * 2**20
    before = storage_snapshot(app)
    response, body, _ = _post_stream(client, token, [big])
    _refused(response, "QUOTA_BYTES_PER_DAY")
    assert body.read_up_to == 0
    assert storage_snapshot(app) == before
    # Something that fits is still taken.
    assert post_report(client, token, report_json(), [(PHOTO, "b.jpg")]).status_code == 201


def test_a_body_without_a_length_is_cut_off_as_soon_as_it_passes_the_quota(
        app, client, volunteer, limits):
    limits(megabytes=0.5)
    photos = [sized_jpeg(200_000, seed=5530 + i) for i in range(6)]
    assert sum(map(len, photos)) > 0.5 * 2**20
    before = storage_snapshot(app)
    response, body, total = _post_stream(client, volunteer[2], photos, chunked=True)
    _refused(response, "QUOTA_BYTES_PER_DAY")
    assert body.read_up_to < total, "the server stopped reading at the quota"
    assert storage_snapshot(app) == before  # no row, no blob, no temp file


def test_a_photo_beyond_the_limit_is_refused_before_it_is_spooled(app, client, volunteer,
                                                                  limits, monkeypatch):
    limits(photos=2)
    store = app.extensions["blob_store"]
    spooled = []
    real_spool = store.spool

    def counting_spool(max_bytes):
        spooled.append(max_bytes)
        return real_spool(max_bytes)

    monkeypatch.setattr(store, "spool", counting_spool)
    photos = [sized_jpeg(300_000, seed=5540 + i) for i in range(3)]
    before = storage_snapshot(app)
    response, body, total = _post_stream(client, volunteer[2], photos)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert error["sub_code"] == "TOO_MANY_PHOTOS" and "photos" in error["errors"]
    assert len(spooled) == 2, "the third photo never reached a spool"
    assert body.read_up_to < total
    assert storage_snapshot(app) == before


def test_staff_are_not_held_to_the_quotas(client, coordinator, limits):
    limits(reports=1, megabytes=0.001)
    for seed in (1, 2):
        response = post_report(client, coordinator[2], report_json(),
                               [(jpeg_bytes(seed=5550 + seed), "a.jpg")])
        assert response.status_code == 201


def test_a_retry_of_a_stored_report_is_answered_within_the_quota(client, volunteer, limits):
    limits(reports=5, megabytes=50)
    claim = report_json()
    photo = jpeg_bytes(seed=5560)
    assert post_report(client, volunteer[2], claim, [(photo, "a.jpg")]).status_code == 201
    # Idempotent: the retry writes nothing, so it counts for nothing.
    assert post_report(client, volunteer[2], claim, [(photo, "a.jpg")]).status_code == 200


def test_concurrent_submissions_cannot_overshoot(app, volunteer, limits, monkeypatch):
    """Both pass the check before their bodies are read; the lock in the transaction lets
    only one of them in."""
    limits(reports=1)
    both_read = threading.Barrier(2, timeout=30)
    real = quota.enforce_in_transaction

    def after_both_bodies(user, photo_bytes):
        both_read.wait()
        real(user, photo_bytes)

    monkeypatch.setattr(quota, "enforce_in_transaction", after_both_bodies)
    before = storage_snapshot(app)
    statuses = []

    def submit(seed):
        client = app.test_client()
        response = post_report(client, volunteer[2], report_json(),
                               [(jpeg_bytes(seed=seed), "a.jpg")])
        statuses.append((response.status_code, response.get_json().get("sub_code")))

    threads = [threading.Thread(target=submit, args=(5570 + i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses, key=lambda s: s[0]) == [(201, None), (429, "QUOTA_REPORTS_PER_DAY")]
    after = storage_snapshot(app)
    assert after["counts"]["reports"] == before["counts"]["reports"] + 1
