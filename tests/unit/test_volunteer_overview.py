"""The volunteer's own view, from plain values: hours from visits, reviews as notices."""
from datetime import UTC, datetime, timedelta

from fieldapp.volunteers.overview import Visit, newest_first, review_notice, service_hours

AT = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def test_hours_count_closed_visits_and_set_apart_those_not_accepted():
    hours = service_hours([Visit(3600, "accepted"), Visit(1800, "accepted"),
                           Visit(900, "checked_out"), Visit(None, "checked_in")])
    assert hours == {"on_site_s": 6300, "accepted_on_site_s": 5400,
                     "pending_on_site_s": 900, "accepted_hours": 1.5}


def test_no_visits_no_hours():
    assert service_hours([])["accepted_hours"] == 0


def test_a_request_for_more_carries_its_reason_and_acceptance_needs_none():
    more = review_notice("needs_more", "the outfall is not in frame", "r", "p", AT)
    assert more["kind"] == "report_needs_more"
    assert more["message"].endswith("the outfall is not in frame")
    assert review_notice("accepted", "fine", "r", "p", AT)["message"] == (
        "A coordinator accepted your photo.")


def test_notices_are_merged_newest_first_and_capped():
    older = [{"created_at": AT - timedelta(hours=h), "kind": "task_nearby"} for h in (1, 3)]
    newer = [{"created_at": AT - timedelta(hours=h), "kind": "report_accepted"} for h in (0, 2)]
    merged = newest_first(older, newer, limit=3)
    assert [item["created_at"] for item in merged] == [
        AT, AT - timedelta(hours=1), AT - timedelta(hours=2)]
