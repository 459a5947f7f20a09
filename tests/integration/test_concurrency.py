"""Submissions, reviews and the pixel analysis at one place at the same time, through a real
HTTP server with a thread per request: none waits for another in an opposite lock order.

A submission moves its place's hex counts and then appends to the custody chain under the
chain's lock; a review, or an analysis that settles a photo, does both too. Taken in
opposite orders, two of them deadlock and PostgreSQL kills one (a 500 for a volunteer, or
an analysis that fails). Each writer therefore takes its place's cell locks in one order
(hotspots.indexing), then moves counts, and takes the chain's lock last. This test runs
them against one another at one hex cell, with reviews flipping reports between verified
and unverified in both directions at once; without the cell locks it fails every time.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import requests
from urllib3 import encode_multipart_formdata

from fieldapp.custody import service as custody
from tests.helpers import (
    analyse_waiting,
    auth,
    report_json,
    role_tokens,
    serving,
    submit_at,
)
from tests.imagegen import jpeg_bytes

CST = timezone(timedelta(hours=8))
# Around Kashgar: no other test puts reports here.
LON, LAT = 75.99, 39.47
ROUNDS = 16
FLIPS = 3


def _report_body(index: int) -> tuple[bytes, str]:
    taken = datetime(2026, 6, 1, 9, 0, tzinfo=CST) + timedelta(minutes=index)
    claim = report_json(category="air", observed_at=taken.isoformat(), location={
        "lon": LON, "lat": LAT, "crs": "wgs84", "accuracy_m": 10})
    photo = jpeg_bytes(seed=7700 + index, lat=LAT, lon=LON, taken=taken, gps_time=taken)
    return encode_multipart_formdata(
        [("report", json.dumps(claim)), ("photos", ("a.jpg", photo, "image/jpeg"))])


def test_submissions_reviews_and_analysis_at_one_place_never_deadlock(app, client):
    tokens = role_tokens(app, "concurrency")
    volunteer, coordinator = tokens["volunteer"], tokens["coordinator"]
    observed = datetime(2026, 5, 30, 9, 0, tzinfo=CST)
    photos = [submit_at(client, volunteer, LON, LAT, 7600 + i, observed + timedelta(hours=i))
              ["photos"][0]["id"] for i in range(ROUNDS)]
    bodies = [_report_body(i) for i in range(ROUNDS)]
    analysing, analysis_errors = threading.Event(), []

    def analyse_meanwhile():
        while not analysing.is_set():
            try:
                analyse_waiting(app)
            except Exception as exc:  # noqa: BLE001 (recorded, and the test fails on it)
                analysis_errors.append(repr(exc))

    with serving(app) as url, ThreadPoolExecutor(8) as pool:
        def submit(body):
            return requests.post(f"{url}/api/v1/reports", data=body[0], timeout=60,
                                 headers={**auth(volunteer), "Content-Type": body[1]})

        def review(index):
            # Rejected, accepted, rejected, accepted: each flips the report between the
            # verified and unverified counts, while other photos flip the other way.
            answers = [requests.post(
                f"{url}/api/v1/photos/{photos[index]}/reviews", timeout=60,
                headers=auth(coordinator), json={"decision": decision,
                                                 "reason": "checked against the site visit"})
                for decision in ("rejected", "accepted") * FLIPS]
            return max(answers, key=lambda answer: answer.status_code)

        analyser = threading.Thread(target=analyse_meanwhile)
        analyser.start()
        try:
            answers = list(pool.map(lambda i: (submit(bodies[i]), review(i)), range(ROUNDS)))
        finally:
            analysing.set()
            analyser.join(timeout=120)
    statuses = [(sent.status_code, reviewed.status_code) for sent, reviewed in answers]
    assert statuses == [(201, 201)] * ROUNDS, [a.text for pair in answers for a in pair
                                              if a.status_code >= 500][:2]
    assert analysis_errors == []
    analyse_waiting(app)
    with app.app_context():
        assert custody.first_break() is None  # every event went onto one unbroken chain
