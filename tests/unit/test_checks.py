"""Claim-versus-metadata checks, one focused test per result branch, with plain values."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fieldapp.evidence.checks import (
    CHECK_NAMES,
    Claim,
    Found,
    Thresholds,
    capture_time,
    run_checks,
)
from fieldapp.geo.coordinates import distance_m, wgs84_to_bd09, wgs84_to_gcj02

CST = timezone(timedelta(hours=8))

# Yuexiu, Guangzhou, as read in each system. Source: hujiulong/gcoord
# test/fixtures/china-cities.json, entry 广州市.
GZ_WGS84 = (113.2590543, 23.131788)
GZ_GCJ02 = (113.2643859, 23.1291146)
GZ_BD09 = (113.2708188, 23.135343)

TAKEN = datetime(2024, 5, 1, 10, 0, 0, tzinfo=CST)
RECEIVED = datetime(2024, 5, 1, 10, 30, 0, tzinfo=CST)


def metadata(**overrides):
    """A phone photo taken at GZ_WGS84 at 2024-05-01 10:00:00 +08:00; overrides replace keys."""
    base = {
        "reader": "exifread",
        "make": "Xiaomi",
        "model": "Redmi Note 12",
        "software": "MIUI Camera",
        "creator_tool": None,
        "datetime_original": "2024:05:01 10:00:00",
        "offset_time_original": "+08:00",
        "datetime": "2024:05:01 10:00:00",
        "gps": {
            "lat": GZ_WGS84[1],
            "lon": GZ_WGS84[0],
            "alt": 21.0,
            "timestamp": "2024-05-01T02:00:00+00:00",
        },
        "gps_problems": [],
        "width": 4000,
        "height": 3000,
        "orientation": 1,
        "has_thumbnail": True,
        "errors": [],
    }
    base.update(overrides)
    return base


def gps(**overrides):
    block = dict(metadata()["gps"])
    block.update(overrides)
    return block


def claim(lon=GZ_WGS84[0], lat=GZ_WGS84[1], crs="wgs84", accuracy_m=None, observed_at=None):
    return Claim(lon, lat, crs, accuracy_m, observed_at or TAKEN + timedelta(minutes=5))


def run(meta=None, the_claim=None, received_at=RECEIVED, found=None, thresholds=None):
    return run_checks(
        metadata() if meta is None else meta,
        the_claim or claim(),
        received_at,
        found or Found(thumbnail_distance=2),
        thresholds or Thresholds(),
    )


def check(outcome, name):
    return next(item for item in outcome["checks"] if item["name"] == name)


def result(name, **kwargs):
    return check(run(**kwargs), name)


def point_at(lon, lat, north_m):
    """A WGS-84 point north_m metres due north of (lon, lat)."""
    return lon, lat + north_m / 111_195.0


# --- the whole run -----------------------------------------------------------------------


def test_clean_photo_passes_every_check_in_order():
    outcome = run()
    assert [item["name"] for item in outcome["checks"]] == list(CHECK_NAMES)
    assert {item["result"] for item in outcome["checks"]} == {"pass"}
    assert outcome["verdict"] == "consistent"
    assert outcome["capture_time"] == "2024-05-01T10:00:00+08:00"
    assert outcome["capture_time_source"] == "datetime_original+offset"


def test_every_check_has_an_english_detail():
    for item in run(meta=metadata(gps=None, software=None))["checks"]:
        assert set(item) == {"name", "result", "detail"}
        assert item["result"] in {"pass", "warn", "fail", "unknown"}
        assert item["detail"].endswith(".")


# --- metadata_present --------------------------------------------------------------------


def test_metadata_present_pass():
    item = result("metadata_present")
    assert item["result"] == "pass"
    assert item["detail"] == "EXIF metadata read with exifread: Make, Model, DateTimeOriginal, GPS."


def test_metadata_present_warn_when_no_exif():
    meta = {"reader": None, "gps": None, "errors": ["no EXIF segment"]}
    item = result("metadata_present", meta=meta)
    assert item["result"] == "warn"
    assert "no EXIF segment" in item["detail"]


def test_metadata_present_warn_when_reader_found_nothing_useful():
    meta = metadata(make=None, model="  ", datetime_original=None, gps=None)
    assert result("metadata_present", meta=meta)["result"] == "warn"


def test_metadata_present_fail_when_image_cannot_be_decoded():
    item = result("metadata_present", found=Found(decodable=False))
    assert item == {
        "name": "metadata_present",
        "result": "fail",
        "detail": "The image cannot be decoded.",
    }


# --- gps_present -------------------------------------------------------------------------


def test_gps_present_pass():
    item = result("gps_present")
    assert item["result"] == "pass"
    assert "23.131788, 113.259054" in item["detail"]


def test_gps_present_warn_when_absent():
    item = result("gps_present", meta=metadata(gps=None))
    assert item["result"] == "warn"
    assert item["detail"] == "The photo has no GPS position."


def test_gps_present_warn_names_reader_problems_of_invalid_block():
    meta = metadata(gps=None, gps_problems=["GPSLatitude has a zero denominator"])
    item = result("gps_present", meta=meta)
    assert item["result"] == "warn"
    assert "GPSLatitude has a zero denominator" in item["detail"]


def test_gps_present_warn_on_zero_zero_placeholder():
    # Real files write 0/0 when there is no fix (Samsung GT-I9000 in ../shared/photos).
    meta = metadata(gps=gps(lat=0.0, lon=0.0))
    item = result("gps_present", meta=meta)
    assert item["result"] == "warn"
    assert "0, 0" in item["detail"]
    assert result("gps_matches_claim", meta=meta)["result"] == "unknown"


@pytest.mark.parametrize(
    "block",
    [
        {"lat": 95.0, "lon": 113.0, "alt": None, "timestamp": None},
        {"lat": "23.1", "lon": 113.2, "alt": None, "timestamp": None},
        {"lat": None, "lon": 113.2, "alt": None, "timestamp": None},
        {"lat": float("nan"), "lon": 113.2, "alt": None, "timestamp": None},
    ],
)
def test_gps_present_warn_on_unusable_position(block):
    outcome = run(meta=metadata(gps=block))
    assert check(outcome, "gps_present")["result"] == "warn"
    assert check(outcome, "gps_matches_claim")["result"] == "unknown"


# --- gps_matches_claim -------------------------------------------------------------------


def test_gps_matches_claim_pass_within_radius():
    item = result("gps_matches_claim", the_claim=claim(*point_at(*GZ_WGS84, 100)))
    assert item["result"] == "pass"
    assert "100 m from the claimed place" in item["detail"]


def test_gps_matches_claim_warn_between_pass_and_fail():
    item = result("gps_matches_claim", the_claim=claim(*point_at(*GZ_WGS84, 500)))
    assert item["result"] == "warn"
    assert "500 m" in item["detail"] and "150 m" in item["detail"] and "1000 m" in item["detail"]


def test_gps_matches_claim_fail_beyond_fail_distance():
    item = result("gps_matches_claim", the_claim=claim(*point_at(*GZ_WGS84, 2500)))
    assert item["result"] == "fail"
    assert "2500 m" in item["detail"]


def test_gps_matches_claim_unknown_without_gps():
    assert result("gps_matches_claim", meta=metadata(gps=None))["result"] == "unknown"


def test_claimed_accuracy_widens_pass_radius():
    near = point_at(*GZ_WGS84, 400)
    assert result("gps_matches_claim", the_claim=claim(*near))["result"] == "warn"
    widened = result("gps_matches_claim", the_claim=claim(*near, accuracy_m=250))
    assert widened["result"] == "pass"
    assert "500 m" in widened["detail"] and "250 m" in widened["detail"]
    # A small accuracy never narrows the radius below gps_pass_m.
    precise = result("gps_matches_claim", the_claim=claim(*point_at(*GZ_WGS84, 120), accuracy_m=5))
    assert precise["result"] == "pass"


def test_coarse_accuracy_never_passes_beyond_the_fail_distance():
    # 800 m accuracy gives a 1.6 km radius: 1.2 km away needs review, 2 km away fails.
    far = result("gps_matches_claim", the_claim=claim(*point_at(*GZ_WGS84, 1200), accuracy_m=800))
    assert far["result"] == "warn"
    farther = claim(*point_at(*GZ_WGS84, 2000), accuracy_m=800)
    assert result("gps_matches_claim", the_claim=farther)["result"] == "fail"
    inside = claim(*point_at(*GZ_WGS84, 900), accuracy_m=800)
    assert result("gps_matches_claim", the_claim=inside)["result"] == "pass"


def test_gcj02_claim_passes_after_conversion():
    # The published GCJ-02 reading of the same place is ~650 m away in raw numbers.
    assert distance_m(*GZ_GCJ02, *GZ_WGS84) > 500
    item = result("gps_matches_claim", the_claim=claim(*GZ_GCJ02, crs="gcj02"))
    assert item["result"] == "pass"
    assert "GCJ-02" in item["detail"] and "WGS-84" in item["detail"]


def test_bd09_claim_passes_after_conversion():
    assert distance_m(*GZ_BD09, *GZ_WGS84) > 500
    item = result("gps_matches_claim", the_claim=claim(*GZ_BD09, crs="bd09"))
    assert item["result"] == "pass"
    assert "BD-09" in item["detail"]


@pytest.mark.parametrize(("crs", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_offset_claim_of_the_exact_point_is_within_a_metre(crs, forward):
    item = result("gps_matches_claim", the_claim=claim(*forward(*GZ_WGS84), crs=crs))
    assert item["result"] == "pass"
    assert "is 0 m from" in item["detail"]


def test_gps_claim_in_wrong_crs_is_caught():
    # Raw GCJ-02 numbers mislabelled as WGS-84 are ~650 m off: not a pass.
    item = result("gps_matches_claim", the_claim=claim(*GZ_GCJ02, crs="wgs84"))
    assert item["result"] == "warn"


# --- time_matches_claim ------------------------------------------------------------------


def test_time_matches_claim_pass():
    item = result("time_matches_claim")
    assert item["result"] == "pass"
    assert "5.0 minutes before the claimed time" in item["detail"]
    assert "DateTimeOriginal with its OffsetTimeOriginal" in item["detail"]


def test_time_matches_claim_warn_with_known_offset_within_two_hours():
    item = result("time_matches_claim", the_claim=claim(observed_at=TAKEN - timedelta(minutes=90)))
    assert item["result"] == "warn"
    assert "90.0 minutes after" in item["detail"]
    assert "the file states its UTC offset" in item["detail"]


def test_time_matches_claim_fails_hours_off_when_the_offset_is_known():
    # Claimed at night, photographed in the morning: a contradiction, not a detail.
    item = result("time_matches_claim", the_claim=claim(observed_at=TAKEN - timedelta(hours=3)))
    assert item["result"] == "fail"
    assert "3.0 hours after" in item["detail"]
    assert "fails beyond 120 minutes" in item["detail"]


def test_time_matches_claim_fails_hours_off_from_the_gps_time():
    meta = metadata(offset_time_original=None)
    item = result("time_matches_claim", meta=meta,
                  the_claim=claim(observed_at=TAKEN + timedelta(hours=5, minutes=20)))
    assert item["result"] == "fail"
    assert "GPS timestamp" in item["detail"]


ASSUMED_OFFSET = {"offset_time_original": None, "gps": None}


@pytest.mark.parametrize("gap", [timedelta(hours=8), timedelta(hours=-1, minutes=-3),
                                 timedelta(hours=13, minutes=4)])
def test_time_matches_claim_whole_hours_with_assumed_offset_warns_of_a_time_zone(gap):
    item = result("time_matches_claim", meta=metadata(**ASSUMED_OFFSET),
                  the_claim=claim(observed_at=TAKEN - gap))
    assert item["result"] == "warn"
    assert "another time zone" in item["detail"]
    assert "the offset was assumed" in item["detail"]


def test_time_matches_claim_assumed_offset_hours_off_warns_without_zone_note():
    item = result("time_matches_claim", meta=metadata(**ASSUMED_OFFSET),
                  the_claim=claim(observed_at=TAKEN - timedelta(hours=3, minutes=20)))
    assert item["result"] == "warn"
    assert "time zone" not in item["detail"]


def test_time_matches_claim_assumed_offset_fails_beyond_a_day():
    item = result("time_matches_claim", meta=metadata(**ASSUMED_OFFSET),
                  the_claim=claim(observed_at=TAKEN - timedelta(hours=30)))
    assert item["result"] == "fail"


def test_time_matches_claim_known_offset_limit_is_configurable():
    limits = Thresholds.from_mapping({"FIELDAPP_CHECK_TIME_KNOWN_OFFSET_FAIL_MINUTES": "240",
                                      "FIELDAPP_CHECK_TIME_ZONE_SLACK_MINUTES": "1"})
    outcome = run(the_claim=claim(observed_at=TAKEN - timedelta(hours=3)), thresholds=limits)
    assert check(outcome, "time_matches_claim")["result"] == "warn"
    zone_outcome = run(meta=metadata(**ASSUMED_OFFSET), thresholds=limits,
                       the_claim=claim(observed_at=TAKEN - timedelta(hours=2, minutes=3)))
    assert "another time zone" not in check(zone_outcome, "time_matches_claim")["detail"]


def test_known_offset_limit_may_not_be_below_the_pass_limit():
    with pytest.raises(ValueError, match="TIME_PASS_MINUTES"):
        Thresholds.from_mapping({"FIELDAPP_CHECK_TIME_KNOWN_OFFSET_FAIL_MINUTES": "10"})


def test_time_matches_claim_fail():
    item = result("time_matches_claim", the_claim=claim(observed_at=TAKEN + timedelta(days=2)))
    assert item["result"] == "fail"
    assert "2.0 days before" in item["detail"]


def test_time_matches_claim_unknown_without_any_time():
    meta = metadata(datetime_original=None, gps=gps(timestamp=None))
    item = result("time_matches_claim", meta=meta)
    assert item["result"] == "unknown"


def test_time_matches_claim_names_gps_source():
    meta = metadata(offset_time_original=None)
    item = result("time_matches_claim", meta=meta)
    assert item["result"] == "pass"
    assert "GPS timestamp" in item["detail"]


def test_time_matches_claim_names_local_zone_source():
    meta = metadata(offset_time_original=None, gps=gps(timestamp=None))
    item = result("time_matches_claim", meta=meta)
    assert item["result"] == "pass"
    assert "Asia/Shanghai" in item["detail"]


def test_time_comparison_is_across_zones():
    # 02:05 UTC is 10:05 in Beijing: five minutes, not eight hours.
    observed = datetime(2024, 5, 1, 2, 5, tzinfo=UTC)
    assert result("time_matches_claim", the_claim=claim(observed_at=observed))["result"] == "pass"


# --- not_in_future -----------------------------------------------------------------------


def test_not_in_future_pass():
    item = result("not_in_future")
    assert item["result"] == "pass"
    assert "30.0 minutes before the receipt time" in item["detail"]


def test_not_in_future_pass_within_clock_skew():
    received = TAKEN - timedelta(minutes=3)
    assert result("not_in_future", received_at=received)["result"] == "pass"


def test_not_in_future_fail():
    received = TAKEN - timedelta(minutes=10)
    item = result("not_in_future", received_at=received)
    assert item["result"] == "fail"
    assert "10.0 minutes after the receipt time" in item["detail"]


def test_not_in_future_with_an_assumed_offset_warns_of_a_time_zone_not_fails():
    # No offset in the file: a camera set to Tokyo time, sent at once, reads an hour ahead
    # in Asia/Shanghai. Nothing in the file says it is in the future, so it cannot fail.
    meta = metadata(offset_time_original=None, gps=None)
    item = result("not_in_future", meta=meta, received_at=TAKEN - timedelta(minutes=55))
    assert item["result"] == "warn" and "time zone" in item["detail"]
    # Beyond what any zone explains (UTC+14 is six hours ahead of Shanghai) it still fails.
    item = result("not_in_future", meta=meta, received_at=TAKEN - timedelta(hours=7))
    assert item["result"] == "fail"


def test_not_in_future_with_a_stated_offset_still_fails():
    item = result("not_in_future", received_at=TAKEN - timedelta(minutes=55))
    assert item["result"] == "fail"


def test_not_in_future_unknown():
    meta = metadata(datetime_original=None, gps=gps(timestamp=None))
    assert result("not_in_future", meta=meta)["result"] == "unknown"


# --- gps_time_consistent -----------------------------------------------------------------


def test_gps_time_consistent_pass_with_offset():
    item = result("gps_time_consistent")
    assert item["result"] == "pass"
    assert "with its offset" in item["detail"]


def test_gps_time_consistent_pass_reading_local_zone():
    # ExifTool's reading of an iPhone 8 photo taken in Guangzhou (../shared/photos
    # reference.json, exifr__heic-maybebroken.HEIC): no offset, GPS clock one second behind.
    meta = metadata(
        datetime_original="2018:02:05 15:11:44",
        offset_time_original=None,
        datetime="2018:02:05 15:11:44",
        gps={
            "lat": 23.1779166666667,
            "lon": 113.394316666667,
            "alt": 42.81,
            "timestamp": "2018-02-05T07:11:43.07+00:00",
        },
    )
    item = result("gps_time_consistent", meta=meta)
    assert item["result"] == "pass"
    assert "no offset recorded, so read as Asia/Shanghai time" in item["detail"]
    assert "1 second;" in item["detail"]


def test_gps_time_consistent_warn():
    meta = metadata(gps=gps(timestamp="2024-05-01T02:10:00+00:00"))
    item = result("gps_time_consistent", meta=meta)
    assert item["result"] == "warn"
    assert "10.0 minutes" in item["detail"]


def test_gps_time_consistent_unknown_without_gps_timestamp():
    item = result("gps_time_consistent", meta=metadata(gps=gps(timestamp=None)))
    assert item["result"] == "unknown"
    assert "no GPS timestamp" in item["detail"]


def test_gps_time_consistent_unknown_passes_on_reader_problems():
    problem = "GPSDateStamp '0000:00:00' is malformed; GPS time not used"
    meta = metadata(gps=gps(timestamp=None), gps_problems=[problem])
    item = result("gps_time_consistent", meta=meta)
    assert item["result"] == "unknown"
    assert problem in item["detail"]


def test_gps_time_consistent_unknown_with_malformed_offset():
    item = result("gps_time_consistent", meta=metadata(offset_time_original="+8"))
    assert item["result"] == "unknown"
    assert "'+8'" in item["detail"]


# --- editing_software --------------------------------------------------------------------


def test_editing_software_pass():
    item = result("editing_software")
    assert item["result"] == "pass"
    assert "MIUI Camera" in item["detail"]


def test_editing_software_warn_on_software():
    meta = metadata(software="Adobe Photoshop CC 2019 (Windows)")
    item = result("editing_software", meta=meta)
    assert item["result"] == "warn"
    assert "'photoshop'" in item["detail"] and "Adobe Photoshop CC 2019" in item["detail"]


def test_editing_software_warn_on_chinese_creator_tool():
    item = result("editing_software", meta=metadata(creator_tool="美图秀秀 9.1"))
    assert item["result"] == "warn"
    assert "CreatorTool" in item["detail"] and "美图" in item["detail"]


def test_editing_software_warn_on_processing_software():
    item = result("editing_software", meta=metadata(processing_software="醒图 6.0"))
    assert item["result"] == "warn"
    assert "ProcessingSoftware" in item["detail"] and "醒图" in item["detail"]


def test_editing_software_warn_on_an_editor_in_the_xmp_history():
    # The camera's name left in Software and CreatorTool; the edit is in the history.
    meta = metadata(creator_tool="MIUI Camera", history_software_agents=[
        "MIUI Camera", "Adobe Photoshop 25.0 (Windows)"])
    item = result("editing_software", meta=meta)
    assert item["result"] == "warn"
    assert "HistorySoftwareAgent" in item["detail"] and "Photoshop 25.0" in item["detail"]


def test_editing_software_unknown_when_unnamed():
    meta = metadata(software=None, creator_tool="")
    assert result("editing_software", meta=meta)["result"] == "unknown"


def test_editing_software_uses_configured_editors():
    meta = metadata(software="SuperEdit 2")
    assert result("editing_software", meta=meta)["result"] == "pass"
    custom = Thresholds(editors=("superedit",))
    assert result("editing_software", meta=meta, thresholds=custom)["result"] == "warn"


# --- modified_after_capture --------------------------------------------------------------


def test_modified_after_capture_pass():
    assert result("modified_after_capture")["result"] == "pass"


def test_modified_after_capture_warn():
    item = result("modified_after_capture", meta=metadata(datetime="2024:05:03 18:00:00"))
    assert item["result"] == "warn"
    assert "2.3 days after" in item["detail"]


def test_modified_after_capture_unknown_when_missing():
    item = result("modified_after_capture", meta=metadata(datetime=None))
    assert item["result"] == "unknown"
    assert "no DateTime" in item["detail"]


def test_modified_after_capture_unknown_when_malformed():
    item = result("modified_after_capture", meta=metadata(datetime="2024:13:45 25:61:00"))
    assert item["result"] == "unknown"
    assert "2024:13:45 25:61:00" in item["detail"]


# --- duplicate, near_duplicate, thumbnail_matches ----------------------------------------


def test_duplicate_pass():
    assert result("duplicate")["result"] == "pass"


def test_duplicate_fail_lists_reports():
    found = Found(duplicate_report_ids=("rep-1", "rep-2"), thumbnail_distance=2)
    item = result("duplicate", found=found)
    assert item["result"] == "fail"
    assert "reports rep-1, rep-2" in item["detail"]


def test_near_duplicate_warn_lists_only_those_within_limit():
    found = Found(near_duplicates=(("photo-b", 5), ("photo-a", 2), ("photo-far", 9)))
    item = result("near_duplicate", found=found)
    assert item["result"] == "warn"
    assert "photo-a (distance 2), photo-b (distance 5)" in item["detail"]
    assert "photo-far" not in item["detail"]


def test_near_duplicate_pass_when_all_beyond_limit():
    found = Found(near_duplicates=(("photo-far", 7),), thumbnail_distance=0)
    assert result("near_duplicate", found=found)["result"] == "pass"


def test_thumbnail_matches_pass():
    item = result("thumbnail_matches", found=Found(thumbnail_distance=12))
    assert item["result"] == "pass"


def test_thumbnail_matches_fail():
    item = result("thumbnail_matches", found=Found(thumbnail_distance=13))
    assert item["result"] == "fail"
    assert "distance 13, limit 12" in item["detail"]


def test_thumbnail_matches_unknown_without_thumbnail():
    meta = metadata(has_thumbnail=False)
    item = result("thumbnail_matches", meta=meta, found=Found(thumbnail_distance=None))
    assert item["result"] == "unknown"
    assert "no embedded thumbnail" in item["detail"]


def test_pixel_checks_say_pending_before_the_pixels_are_analysed():
    found = Found(pixels_pending=True, near_duplicates=(("photo-a", 1),), thumbnail_distance=40)
    outcome = run(meta=metadata(has_thumbnail=True), found=found)
    for name in ("near_duplicate", "thumbnail_matches"):
        item = check(outcome, name)
        assert item["result"] == "unknown" and item["detail"].startswith("Pending")
    # Pending pixel checks neither pass nor lower the verdict the metadata earns.
    assert outcome["verdict"] == "consistent"


def test_pending_pixels_do_not_hide_a_missing_thumbnail():
    meta = metadata(has_thumbnail=False)
    item = result("thumbnail_matches", meta=meta, found=Found(pixels_pending=True))
    assert item["result"] == "unknown" and "no embedded thumbnail" in item["detail"]


# --- verdict -----------------------------------------------------------------------------


def test_verdict_inconsistent_on_any_fail():
    outcome = run(found=Found(duplicate_report_ids=("rep-1",), thumbnail_distance=2))
    assert outcome["verdict"] == "inconsistent"


def test_verdict_needs_review_on_any_warn():
    outcome = run(meta=metadata(software="Snapseed 2.0"))
    assert [item["result"] for item in outcome["checks"]].count("warn") == 1
    assert outcome["verdict"] == "needs_review"


def test_verdict_needs_review_when_time_is_uncorroborated():
    meta = metadata(datetime_original=None, datetime=None, gps=gps(timestamp=None))
    outcome = run(meta=meta)
    results = {item["name"]: item["result"] for item in outcome["checks"]}
    assert results["time_matches_claim"] == "unknown"
    assert "warn" not in results.values() and "fail" not in results.values()
    assert outcome["verdict"] == "needs_review"


def test_verdict_needs_review_without_gps():
    assert run(meta=metadata(gps=None))["verdict"] == "needs_review"


def test_other_unknowns_do_not_lower_the_verdict():
    meta = metadata(software=None, datetime=None, has_thumbnail=False)
    outcome = run(meta=meta, found=Found(thumbnail_distance=None))
    results = {item["name"]: item["result"] for item in outcome["checks"]}
    assert results["editing_software"] == "unknown"
    assert results["modified_after_capture"] == "unknown"
    assert results["thumbnail_matches"] == "unknown"
    assert outcome["verdict"] == "consistent"


# --- capture_time ------------------------------------------------------------------------


def test_capture_time_prefers_datetime_original_with_offset():
    meta = metadata(gps=gps(timestamp="2024-05-01T01:00:00+00:00"))
    assert capture_time(meta, "Asia/Shanghai") == (TAKEN, "datetime_original+offset")


def test_capture_time_then_gps():
    meta = metadata(offset_time_original=None, gps=gps(timestamp="2024-05-01T02:00:30Z"))
    expected = datetime(2024, 5, 1, 2, 0, 30, tzinfo=UTC)
    assert capture_time(meta, "Asia/Shanghai") == (expected, "gps")


def test_capture_time_then_datetime_original_in_local_zone():
    meta = metadata(offset_time_original=None, gps=None)
    when, source = capture_time(meta, "Asia/Shanghai")
    assert source == "datetime_original+local_zone"
    assert when == TAKEN and when.utcoffset() == timedelta(hours=8)


def test_capture_time_local_zone_is_configurable():
    meta = metadata(offset_time_original=None, gps=None)
    when, _ = capture_time(meta, "Asia/Urumqi")
    assert when.utcoffset() == timedelta(hours=6)
    outcome = run(meta=meta, thresholds=Thresholds(local_zone="Asia/Urumqi"))
    assert outcome["capture_time"] == "2024-05-01T10:00:00+06:00"


def test_capture_time_none():
    assert capture_time(metadata(datetime_original=None, gps=None), "Asia/Shanghai") == (
        None,
        "none",
    )
    assert capture_time({}, "Asia/Shanghai") == (None, "none")
    assert capture_time(None) == (None, "none")


def test_capture_time_negative_offset():
    meta = metadata(offset_time_original="-05:00", gps=None)
    when, _ = capture_time(meta, "Asia/Shanghai")
    assert when == datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


def test_malformed_offset_falls_back_to_gps_not_to_a_guessed_zone():
    meta = metadata(offset_time_original="+25:00")
    assert capture_time(meta, "Asia/Shanghai")[1] == "gps"
    without_gps = metadata(offset_time_original="+25:00", gps=None)
    assert capture_time(without_gps, "Asia/Shanghai") == (None, "none")
    item = result("time_matches_claim", meta=without_gps)
    assert item["result"] == "unknown"
    assert "'+25:00' is not a real UTC offset" in item["detail"]


# --- malformed inputs --------------------------------------------------------------------


def test_zero_date_gives_unknown_with_detail():
    meta = metadata(datetime_original="0000:00:00 00:00:00", gps=gps(timestamp=None))
    outcome = run(meta=meta)
    item = check(outcome, "time_matches_claim")
    assert item["result"] == "unknown"
    assert "'0000:00:00 00:00:00' is not a real date and time" in item["detail"]
    assert check(outcome, "modified_after_capture")["result"] == "unknown"
    assert outcome["capture_time"] is None and outcome["capture_time_source"] == "none"


def test_malformed_date_falls_back_to_gps():
    meta = metadata(datetime_original="yesterday")
    assert capture_time(meta, "Asia/Shanghai")[1] == "gps"


def test_malformed_gps_timestamp_gives_unknown_with_detail():
    meta = metadata(offset_time_original=None, gps=gps(timestamp="2024-05-01T99:00:00"))
    item = result("gps_time_consistent", meta=meta)
    assert item["result"] == "unknown"
    assert "2024-05-01T99:00:00" in item["detail"]


def test_naive_gps_timestamp_is_read_as_utc():
    meta = metadata(offset_time_original=None, gps=gps(timestamp="2024-05-01T02:00:00"))
    assert capture_time(meta, "Asia/Shanghai") == (TAKEN, "gps")


def test_padded_exif_strings_are_accepted():
    meta = metadata(datetime_original="2024:05:01 10:00:00\x00 ", offset_time_original=" +08:00")
    assert capture_time(meta, "Asia/Shanghai") == (TAKEN, "datetime_original+offset")


GARBAGE = [
    pytest.param({}, id="empty"),
    pytest.param(None, id="none"),
    pytest.param({"reader": "pillow", "gps": "not a dict", "gps_problems": None}, id="gps-str"),
    pytest.param(metadata(make=42, model=b"bytes", software=3.5, creator_tool=["x"]), id="types"),
    pytest.param(metadata(datetime_original=20240501, offset_time_original=8), id="numbers"),
    pytest.param(metadata(datetime_original="    :  :     :  :  "), id="blank-exif-date"),
    pytest.param(metadata(datetime="2024:02:30 10:00:00"), id="feb-30"),
    pytest.param(metadata(offset_time_original="+08:00:00"), id="offset-seconds"),
    pytest.param(metadata(gps={"lat": float("inf"), "lon": None, "timestamp": 5}), id="gps-junk"),
    pytest.param(metadata(errors="truncated file", gps_problems="bad ref"), id="str-lists"),
]


@pytest.mark.parametrize("meta", GARBAGE)
def test_malformed_metadata_never_raises(meta):
    outcome = run_checks(meta, claim(), RECEIVED)
    assert [item["name"] for item in outcome["checks"]] == list(CHECK_NAMES)
    assert outcome["verdict"] in {"consistent", "needs_review", "inconsistent"}


# --- programming errors ------------------------------------------------------------------


def test_naive_received_at_is_rejected():
    with pytest.raises(ValueError, match="received_at"):
        run_checks(metadata(), claim(), datetime(2024, 5, 1, 10, 30))


def test_naive_observed_at_is_rejected():
    with pytest.raises(ValueError, match="observed_at"):
        Claim(113.26, 23.13, "wgs84", None, datetime(2024, 5, 1, 10, 0))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((113.26, 23.13, "gcj-02", None), "gcj-02"),
        ((113.26, 95.0, "wgs84", None), "out of range"),
        ((113.26, 23.13, "wgs84", -1.0), "accuracy_m"),
        ((113.26, 23.13, "wgs84", float("nan")), "accuracy_m"),
    ],
)
def test_invalid_claim_is_rejected(args, message):
    with pytest.raises(ValueError, match=message):
        Claim(*args, TAKEN)


# --- Thresholds --------------------------------------------------------------------------


def test_thresholds_from_mapping_converts_types():
    thresholds = Thresholds.from_mapping(
        {
            "FIELDAPP_CHECK_GPS_PASS_M": "200",
            "FIELDAPP_CHECK_TIME_FAIL_MINUTES": " 90.5 ",
            "FIELDAPP_CHECK_NEAR_DUPLICATE_MAX_DISTANCE": "4",
            "FIELDAPP_CHECK_LOCAL_ZONE": "Asia/Urumqi",
            "FIELDAPP_CHECK_EDITORS": "photoshop, Meitu ,,",
            "DATABASE_URL": "postgresql://ignored",
        }
    )
    assert thresholds.gps_pass_m == 200.0
    assert thresholds.time_fail_minutes == 90.5
    assert thresholds.near_duplicate_max_distance == 4
    assert thresholds.local_zone == "Asia/Urumqi"
    assert thresholds.editors == ("photoshop", "Meitu")
    assert thresholds.gps_fail_m == Thresholds().gps_fail_m


def test_thresholds_from_empty_mapping_are_the_defaults():
    assert Thresholds.from_mapping({}) == Thresholds()


def test_thresholds_drive_the_checks():
    strict = Thresholds.from_mapping({"FIELDAPP_CHECK_GPS_PASS_M": "50"})
    near = claim(*point_at(*GZ_WGS84, 100))
    assert result("gps_matches_claim", the_claim=near, thresholds=strict)["result"] == "warn"


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"FIELDAPP_CHECK_GPS_PASS_M": "lots"}, "FIELDAPP_CHECK_GPS_PASS_M"),
        ({"FIELDAPP_CHECK_GPS_FAIL_M": "-1"}, "FIELDAPP_CHECK_GPS_FAIL_M"),
        ({"FIELDAPP_CHECK_TIME_PASS_MINUTES": "nan"}, "FIELDAPP_CHECK_TIME_PASS_MINUTES"),
        ({"FIELDAPP_CHECK_THUMBNAIL_MAX_DISTANCE": "6.5"}, "FIELDAPP_CHECK_THUMBNAIL_MAX_DISTANCE"),
        ({"FIELDAPP_CHECK_LOCAL_ZONE": "Beijing"}, "FIELDAPP_CHECK_LOCAL_ZONE"),
        ({"FIELDAPP_CHECK_GPS_PASS_METRES": "100"}, "FIELDAPP_CHECK_GPS_PASS_METRES"),
        ({"FIELDAPP_CHECK_GPS_PASS_M": "5000"}, "FIELDAPP_CHECK_GPS_FAIL_M"),
    ],
)
def test_thresholds_from_mapping_rejects_bad_value_naming_key(values, key):
    with pytest.raises(ValueError, match=key):
        Thresholds.from_mapping(values)


def test_thresholds_validate_on_direct_construction():
    with pytest.raises(ValueError, match="gps_pass_m"):
        Thresholds(gps_pass_m=-5)
    with pytest.raises(ValueError, match="local_zone"):
        Thresholds(local_zone="Not/AZone")


def test_settling_the_pixels_asks_duplicate_again_but_never_clears_one():
    from fieldapp.evidence.checks import settle_pixel_checks

    pending = Found(pixels_pending=True)
    # A copy committed at the same moment was unseen on receipt; the analysis sees it.
    on_receipt = run(found=pending)
    assert check(on_receipt, "duplicate")["result"] == "pass"
    found = Found(duplicate_report_ids=("r-1",), thumbnail_distance=2)
    settled = settle_pixel_checks(on_receipt, metadata(), claim(), RECEIVED, found)
    assert check(settled, "duplicate")["result"] == "fail"
    assert settled["verdict"] == "inconsistent"
    # A duplicate found on receipt stays found.
    failed = run(found=Found(duplicate_report_ids=("r-1",), pixels_pending=True))
    settled = settle_pixel_checks(failed, metadata(), claim(), RECEIVED,
                                  Found(thumbnail_distance=2))
    assert check(settled, "duplicate") == check(failed, "duplicate")
    assert settled["verdict"] == "inconsistent"


def test_verdict_needs_review_when_the_pixels_were_not_read():
    unread = Found(pixels_problem="the image declares 400 MP; this server decodes 100 MP")
    outcome = run(found=unread)
    assert all(c["result"] != "warn" for c in outcome["checks"])
    assert outcome["verdict"] == "needs_review"


@pytest.mark.parametrize("original, offset", [
    ("9999:12:31 23:59:59", "-12:00"),  # UTC year 10000
    ("0001:01:01 00:00:01", "+14:00"),  # UTC year 0
    ("0001:01:01 00:00:01", None),      # read in Asia/Shanghai: UTC year 0
])
def test_a_capture_time_no_timestamp_can_hold_is_unusable(original, offset):
    # Stored as the photo's capture_time, such an instant could be written but never read
    # back (Python's years end at 1 and 9999): every later read of the report was a 500.
    meta = metadata(datetime_original=original, offset_time_original=offset, gps=None)
    outcome = run(meta=meta)
    assert outcome["capture_time"] is None
    item = check(outcome, "time_matches_claim")
    assert item["result"] == "unknown" and original in item["detail"]
    assert check(outcome, "not_in_future")["result"] == "unknown"
    assert capture_time(meta) == (None, "none")
