"""Every real camera and phone file in ../shared/photos goes through the API intake.

No file may cause a 500. Every file is whole, so every one is received; files with broken
metadata are stored with checks that say so, and the one file whose pixels cannot be
decoded is caught by the pixel analysis after receipt, which fails it.
"""
from __future__ import annotations

import pytest

from fieldapp.evidence.checks import CHECK_NAMES
from tests.helpers import (
    SHARED_PHOTOS,
    analyse_waiting,
    auth,
    post_report,
    report_json,
    shared_reference,
)

REFERENCE = shared_reference()
# Fuzzed test-suite file: corrupt TIFF header in EXIF and pixel data that cannot be decoded.
UNDECODABLE = {"mdx__jpg__ImageTestSuite__c3018ebe53d0046eecb58858ca869a99.jpg"}


def _claim_for(entry: dict) -> dict:
    lat, lon = entry["gps_latitude"], entry["gps_longitude"]
    if lat is None or (lat == 0 and lon == 0):
        lat, lon = 23.18, 113.39
    taken = entry["datetime_original"]
    observed = "2026-05-04T10:31:00+08:00"
    if taken and not taken.startswith("0000"):
        date, time = taken.split(" ")
        offset = entry["offset_time_original"] or "+08:00"
        observed = f"{date.replace(':', '-')}T{time}{offset}"
    return report_json(observed_at=observed,
                       location={"lon": lon, "lat": lat, "crs": "wgs84", "accuracy_m": 10})


@pytest.mark.parametrize("entry", REFERENCE, ids=[e["file"] for e in REFERENCE])
def test_shared_file_through_intake(app, client, volunteer, entry):
    analyse_waiting(app)  # photos other tests left waiting are not this file's
    data = (SHARED_PHOTOS / entry["file"]).read_bytes()
    response = post_report(client, volunteer[2], _claim_for(entry), [(data, entry["file"])])
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = response.get_json()["photos"][0]
    assert photo["sha256"] == entry["sha256"] and photo["size"] == entry["size"]
    assert [c["name"] for c in photo["checks"]] == list(CHECK_NAMES)
    assert photo["verdict"] in ("consistent", "needs_review", "inconsistent")
    assert photo["analysis"] == "pending"
    gps = photo["exif"]["gps"]
    placeholder = entry["gps_latitude"] == 0 and entry["gps_longitude"] == 0
    if entry["gps_latitude"] is None or placeholder:
        assert gps is None
    else:
        assert abs(gps["lat"] - entry["gps_latitude"]) < 1e-6
        assert abs(gps["lon"] - entry["gps_longitude"]) < 1e-6
        results = {c["name"]: c["result"] for c in photo["checks"]}
        assert results["gps_matches_claim"] == "pass"
    assert photo["exif"]["make"] == entry["make"]
    assert photo["exif"]["model"] == entry["model"]

    assert analyse_waiting(app) == 1
    analysed = client.get(f"/api/v1/photos/{photo['id']}", headers=auth(volunteer[2])).get_json()
    assert analysed["analysis"] == "done"
    results = {c["name"]: c for c in analysed["checks"]}
    assert not any(c["detail"].startswith("Pending") for c in analysed["checks"])
    if entry["file"] in UNDECODABLE:
        assert results["metadata_present"]["result"] == "fail"
        assert "cannot be decoded" in results["metadata_present"]["detail"]
        assert analysed["verdict"] == "inconsistent"
    else:
        assert results["metadata_present"]["result"] != "fail"
        # Earlier shared files are in the database too, and some of them look alike.
        assert results["near_duplicate"]["result"] in ("pass", "warn")
