"""The volunteer's own view, from plain values: hours from visits, reviews as notices."""
from datetime import UTC, datetime

from fieldapp.volunteers.overview import Visit, review_notice, service_hours

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

