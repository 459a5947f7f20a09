"""The public layer's pure rules, and what a volunteer may read of checks naming others."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import h3
import pytest

from fieldapp.access.disclosure import checks_for_viewer, named_ids
from fieldapp.hotspots import cells


@pytest.mark.parametrize("zoom", range(0, cells.PUBLIC_MAX_ZOOM + 1))
def test_public_cells_are_never_under_a_square_kilometre(zoom):
    res = cells.public_resolution_for_zoom(zoom)
    assert res <= cells.PUBLIC_FINEST
    assert h3.average_hexagon_area(res, "km^2") > 5


def _overhang(parent: str) -> tuple[str, tuple[float, float]]:
    """A child of parent at the finest public resolution, and a point inside the child but
    outside parent (H3's children overhang their parent)."""
    for child in sorted(h3.cell_to_children(parent, cells.PUBLIC_FINEST)):
        lat, lon = h3.cell_to_latlng(child)
        for vertex_lat, vertex_lon in h3.cell_to_boundary(child):
            point = lat + 0.8 * (vertex_lat - lat), lon + 0.8 * (vertex_lon - lon)
            if (h3.latlng_to_cell(*point, cells.PUBLIC_FINEST) == child
                    and h3.latlng_to_cell(*point, cells.PUBLIC_FINEST - 1) != parent):
                return child, point
    raise AssertionError(f"no child of {parent} overhangs it")


def test_coarser_public_cells_are_the_finest_cells_h3_ancestors():
    child, (lat, lon) = _overhang(h3.latlng_to_cell(39.77, 98.29, cells.PUBLIC_FINEST - 1))
    family = cells.public_family(h3.str_to_int(child))
    assert sorted(family) == list(cells.PUBLIC_RESOLUTIONS)
    assert family[cells.PUBLIC_FINEST] == h3.str_to_int(child)
    assert all(h3.int_to_str(family[res]) == h3.cell_to_parent(child, res) for res in family)
    # Not where the point lies at the coarser resolution: there it is in another cell.
    assert family[cells.PUBLIC_FINEST - 1] != cells.cells_for(lon, lat)[cells.PUBLIC_FINEST - 1]


def test_bands_start_at_the_threshold_and_never_state_a_small_number():
    assert cells.band_labels(cells.count_bands(3)) == [
        "3-9", "10-29", "30-99", "100-299", "300-999", "1000+"]
    assert cells.band_labels(cells.count_bands(10)) == [
        "10-29", "30-99", "100-299", "300-999", "1000+"]
    assert cells.band_labels(cells.count_bands(9)) == [
        "9", "10-29", "30-99", "100-299", "300-999", "1000+"]
    assert cells.band_labels(cells.count_bands(5000)) == ["5000+"]


def test_box_area_and_cells():
    # One degree by one degree at the equator: 111.2 km by 110.6 km on the authalic sphere.
    assert cells.bbox_area_km2((0, 0, 1, 1)) == pytest.approx(12363.5, rel=1e-3)
    china = (73.4, 18.1, 135.1, 53.6)
    assert cells.cells_in_bbox(china, 4) == pytest.approx(12_200, rel=0.01)
    assert cells.cells_in_bbox(china, 7) > 4_000_000


def test_the_public_layer_is_captured_once_a_utc_day():
    # 07:30 in Beijing is still the previous UTC day.
    now = datetime(2026, 12, 2, 7, 30, tzinfo=timezone(timedelta(hours=8)))
    assert cells.day_start(now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert cells.capture_due(now, None)
    assert not cells.capture_due(now, datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))
    assert cells.capture_due(now, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))


@pytest.mark.parametrize("delay, before", [
    (0, datetime(2026, 12, 2, tzinfo=UTC)),  # today's own capture
    (1, datetime(2026, 12, 1, tzinfo=UTC)),  # yesterday's, or older
    (2, datetime(2026, 11, 30, tzinfo=UTC)),
])
def test_a_capture_is_shown_from_delay_days_after_its_day(delay, before):
    now = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    assert cells.shown_before(now, delay) == before
    # A capture taken seconds after midnight is not shown before the next day (delay 1).
    taken = datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC)
    assert (taken < cells.shown_before(now, delay)) == (delay == 0)
    assert taken < cells.shown_before(now + timedelta(minutes=1), 1)


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError):
        cells.shown_before(datetime(2026, 12, 1, tzinfo=UTC), -1)


MINE = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
THEIRS = "9f1c28ba-2fa1-11d2-883f-0016d3cca427"
CHECKS = [
    {"name": "duplicate", "result": "fail",
     "detail": f"The identical file (same SHA-256) is already in report {MINE}."},
    {"name": "near_duplicate", "result": "warn",
     "detail": f"Perceptually similar photos in other reports: {THEIRS} (distance 2), {MINE} "
               f"(distance 3); the limit is 6."},
    {"name": "gps_present", "result": "pass", "detail": "GPS 23.18, 113.39."},
    {"name": "near_duplicate", "result": "unknown", "detail": "Pending: compared soon."},
]


def test_volunteers_read_no_other_evidence_ids_staff_read_all():
    assert named_ids(CHECKS) == {MINE, THEIRS}
    assert checks_for_viewer(CHECKS, staff=True) == CHECKS
    shown = checks_for_viewer(CHECKS, staff=False)
    assert [c["result"] for c in shown] == [c["result"] for c in CHECKS]
    text = " ".join(c["detail"] for c in shown)
    assert MINE not in text and THEIRS not in text
    assert shown[2:] == CHECKS[2:]
    assert CHECKS[0]["detail"].endswith(f"{MINE}.")  # the stored checks are left alone
    strange = {"name": "duplicate", "result": "warn", "detail": f"report {THEIRS}"}
    assert THEIRS not in checks_for_viewer([strange], staff=False)[0]["detail"]


def test_volunteers_read_details_that_name_only_their_own_evidence():
    shown = checks_for_viewer(CHECKS, staff=False, own_ids={MINE})
    assert shown[0] == CHECKS[0]  # names only their own report
    assert THEIRS not in shown[1]["detail"] and MINE not in shown[1]["detail"]
