"""The complaint rules as plain values: every transition, deadlines, extensions, lapses."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fieldapp.complaints import rules

TERMS = rules.Terms(accept_days=15, result_days=60, max_extension_days=30)
# 2026-05-04 23:30 in Beijing is still 15:30 UTC of the same day.
FILED = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)

ALLOWED = {("filed", "accepted"), ("filed", "rejected"), ("accepted", "investigating"),
           ("rejected", "closed"), ("investigating", "replied"), ("replied", "closed")}


@pytest.mark.parametrize("status", rules.STATUSES)
@pytest.mark.parametrize("kind", rules.STATUSES[1:])
def test_every_status_change_is_allowed_or_refused(status, kind):
    if (status, kind) in ALLOWED:
        assert rules.next_status(status, kind) == kind
    else:
        with pytest.raises(rules.TransitionRefused, match=f"{status} cannot become {kind}"):
            rules.next_status(status, kind)


def test_refusal_says_what_may_follow():
    with pytest.raises(rules.TransitionRefused, match="only become accepted or rejected"):
        rules.next_status("filed", "replied")
    with pytest.raises(rules.TransitionRefused, match="closed: nothing follows"):
        rules.next_status("closed", "accepted")


@pytest.mark.parametrize("status", rules.STATUSES)
def test_extension_only_while_a_result_is_awaited_after_acceptance(status):
    if status in ("accepted", "investigating"):
        assert rules.next_status(status, "extended") == status
    else:
        with pytest.raises(rules.TransitionRefused, match="cannot be extended"):
            rules.next_status(status, "extended")


@pytest.mark.parametrize("status", rules.STATUSES)
def test_a_note_never_moves_the_status(status):
    assert rules.next_status(status, "note") == status


@pytest.mark.parametrize("status", rules.STATUSES)
def test_further_evidence_moves_nothing_and_ends_with_rejection_or_closing(status):
    if status in ("rejected", "closed"):
        with pytest.raises(rules.TransitionRefused, match="takes no further evidence"):
            rules.next_status(status, "supplemented")
    else:
        assert rules.next_status(status, "supplemented") == status


def test_deadlines_count_calendar_days_from_the_day_after_filing_in_beijing():
    accept, result = rules.initial_deadlines(FILED, TERMS)
    # Filed on 4 May (Beijing): day 1 is 5 May, day 15 is 19 May, lapsing at its end.
    assert rules.last_day(accept) == date(2026, 5, 19)
    assert accept == datetime(2026, 5, 20, tzinfo=rules.CHINA)
    assert rules.last_day(result) == date(2026, 7, 3)
    # Half an hour later it is 5 May in Beijing: every deadline moves a day.
    later, _ = rules.initial_deadlines(FILED + timedelta(minutes=31), TERMS)
    assert rules.last_day(later) == date(2026, 5, 20)


def test_extension_is_capped_in_all():
    assert rules.extension_problem(0, 30, TERMS) is None
    assert rules.extension_problem(20, 10, TERMS) is None
    assert "20 already granted, 10 left" in rules.extension_problem(20, 11, TERMS)
    assert "at most 30 days" in rules.extension_problem(0, 31, TERMS)


def _standing(status, extension_days=0, decided=None, replied=None):
    accept, result = rules.initial_deadlines(FILED, TERMS)
    return rules.Standing(status, FILED, accept, result, extension_days, decided, replied)


def test_lapsed_deadlines_are_those_unanswered():
    accept, result = rules.initial_deadlines(FILED, TERMS)
    assert rules.lapsed(_standing("filed"), accept - timedelta(seconds=1)) == []
    assert rules.lapsed(_standing("filed"), accept) == ["acceptance"]
    assert rules.lapsed(_standing("accepted"), accept + timedelta(days=1)) == []
    assert rules.lapsed(_standing("filed"), result) == ["acceptance", "result"]
    assert rules.lapsed(_standing("investigating"), result) == ["result"]
    # A rejection answers the complaint; a reply answers its result.
    assert rules.lapsed(_standing("rejected"), result) == []
    assert rules.lapsed(_standing("replied"), result) == []
    assert rules.lapsed(_standing("closed"), result) == []


def test_an_extension_moves_the_result_deadline():
    _, result = rules.initial_deadlines(FILED, TERMS)
    extended = _standing("investigating", extension_days=30)
    assert rules.lapsed(extended, result) == []
    assert rules.lapsed(extended, result + timedelta(days=30)) == ["result"]
    shown = rules.deadlines(extended, result)["result"]
    assert shown["due_at"] == result + timedelta(days=30)
    assert shown["original_due_at"] == result
    assert shown["extension_days"] == 30 and shown["days"] == 90 and not shown["lapsed"]


def test_deadlines_show_when_and_whether_late():
    accept, _ = rules.initial_deadlines(FILED, TERMS)
    late = accept + timedelta(days=2)
    shown = rules.deadlines(_standing("accepted", decided=late), late)
    assert shown["acceptance"] == {"due_at": accept, "last_day": date(2026, 5, 19), "days": 15,
                                   "met_at": late, "late": True, "lapsed": False}
    on_time = rules.deadlines(_standing("accepted", decided=FILED), late)["acceptance"]
    assert on_time["late"] is False and on_time["met_at"] == FILED
