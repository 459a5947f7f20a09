"""The monitoring loop's pure rules: transitions, expiry, reach, on-site time, evaluation."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fieldapp.tasks import rules

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)

ALLOWED = [
    ("request", "pending", "dispatched"), ("request", "pending", "declined"),
    ("request", "dispatched", "done"), ("request", "dispatched", "declined"),
    ("task", "open", "completed"), ("task", "open", "cancelled"),
    ("claim", "active", "checked_in"), ("claim", "active", "expired"),
    ("claim", "active", "cancelled"), ("claim", "checked_in", "checked_out"),
    ("claim", "checked_out", "accepted"), ("claim", "checked_out", "needs_more"),
    ("claim", "needs_more", "checked_in"), ("claim", "needs_more", "cancelled"),
]
STATES = {"request": rules.REQUEST_STATUSES, "task": rules.TASK_STATUSES,
          "claim": rules.CLAIM_STATUSES}
REFUSED = [(kind, current, target) for kind, states in STATES.items()
           for current in states for target in states
           if (kind, current, target) not in ALLOWED]


@pytest.mark.parametrize(("kind", "current", "target"), ALLOWED)
def test_allowed_transitions_pass(kind, current, target):
    rules.check_transition(kind, current, target)


@pytest.mark.parametrize(("kind", "current", "target"), REFUSED)
def test_every_other_transition_is_refused_naming_the_current_state(kind, current, target):
    with pytest.raises(rules.TransitionRefused) as refused:
        rules.check_transition(kind, current, target)
    assert f"this {kind} is {current}: it cannot become {target}" in str(refused.value)
    assert refused.value.current == current


def test_a_refusal_says_what_the_state_could_become():
    with pytest.raises(rules.TransitionRefused, match="can only become checked_out"):
        rules.check_transition("claim", "checked_in", "accepted")


def test_the_machines_name_only_their_own_states():
    for kind, machine in rules.MACHINES.items():
        assert set(machine) == set(STATES[kind])
        assert all(set(targets) <= set(STATES[kind]) for targets in machine.values())


def test_an_active_claim_past_its_expiry_is_expired_before_any_sweep():
    assert rules.claim_status("active", NOW + timedelta(seconds=1), NOW) == "active"
    assert rules.claim_status("active", NOW, NOW) == "expired"
    assert rules.claim_status("checked_in", NOW - timedelta(days=1), NOW) == "checked_in"


def test_seconds_left_only_for_active_claims():
    assert rules.seconds_left("active", NOW + timedelta(seconds=90.7), NOW) == 90
    assert rules.seconds_left("active", NOW - timedelta(seconds=5), NOW) == 0
    assert rules.seconds_left("checked_in", NOW + timedelta(hours=1), NOW) is None


def test_expired_and_cancelled_claims_free_their_slot():
    later = NOW + timedelta(minutes=5)
    assert rules.holds_slot("active", later, NOW)
    assert not rules.holds_slot("active", NOW - timedelta(seconds=1), NOW)
    for status in ("checked_in", "checked_out", "needs_more", "accepted"):
        assert rules.holds_slot(status, NOW - timedelta(days=1), NOW)
    for status in ("expired", "cancelled"):
        assert not rules.holds_slot(status, later, NOW)


def test_an_extension_restarts_the_clock():
    assert rules.expires_after(NOW, 7200) == NOW + timedelta(hours=2)


def test_expiring_soon_is_a_window_before_expiry():
    assert rules.expiring_soon(NOW + timedelta(minutes=10), NOW, 900)
    assert not rules.expiring_soon(NOW + timedelta(minutes=20), NOW, 900)
    assert not rules.expiring_soon(NOW, NOW, 900)


def test_reach_names_the_distance_in_whole_metres():
    assert rules.reach_problem(499.9, 500) is None
    assert rules.reach_problem(500, 500) is None
    assert rules.reach_problem(1234.6, 500) == (
        "1235 m from the task's place; check-in is accepted within 500 m")


def test_on_site_time_is_check_out_minus_check_in():
    assert rules.on_site_seconds(NOW, NOW + timedelta(minutes=42, seconds=3)) == 2523
    assert rules.on_site_seconds(NOW, NOW - timedelta(seconds=3)) == 0


def test_a_visit_not_checked_out_ends_at_the_last_sign_of_presence():
    ends = NOW + timedelta(hours=8)
    # Nothing since the check-in: nothing is attested after it.
    assert rules.left_at(NOW, None, ends) == NOW
    # The last report sent for the task during the visit, then the volunteer went quiet.
    assert rules.left_at(NOW, NOW + timedelta(minutes=40), ends) == NOW + timedelta(minutes=40)
    # Never past the task's end, never before the check-in.
    assert rules.left_at(NOW, NOW + timedelta(hours=9), ends) == ends
    assert rules.left_at(NOW, NOW - timedelta(hours=1), ends) == NOW


def test_on_site_time_ends_with_the_tasks_window():
    # Staying on (or checking out days later) adds nothing after the task has ended.
    ends = NOW + timedelta(hours=2)
    assert rules.on_site_seconds(NOW, NOW + timedelta(days=3), ends) == 7200
    assert rules.on_site_seconds(NOW, NOW + timedelta(minutes=30), ends) == 1800
    assert rules.on_site_seconds(NOW, NOW + timedelta(hours=5), NOW - timedelta(hours=1)) == 0


@pytest.mark.parametrize(("decision", "reason", "refused"), [
    ("needs_more", None, True), ("needs_more", "   ", True), ("needs_more", "closer", False),
    ("accepted", None, False), ("accepted", "", False),
])
def test_asking_for_more_needs_a_reason(decision, reason, refused):
    assert (rules.evaluation_problem(decision, reason) is not None) is refused


def test_check_in_only_within_the_task_window():
    start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    assert rules.window_problem(start, end, NOW) is None
    assert "starts at" in rules.window_problem(NOW + timedelta(minutes=1), end, NOW)
    assert "ended at" in rules.window_problem(start, NOW, NOW)


def test_accepted_work_fills_a_task():
    assert not rules.fills_task(1, 2)
    assert rules.fills_task(2, 2)
