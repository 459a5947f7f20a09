"""The sliding window that locks an account or an address after failed sign-ins."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fieldapp.accounts.throttle import retry_after

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def _ago(*seconds: int) -> list[datetime]:
    return [NOW - timedelta(seconds=s) for s in seconds]


def test_fewer_failures_than_the_limit_never_lock():
    assert retry_after([], 10, WINDOW, NOW) is None
    assert retry_after(_ago(*range(1, 10)), 10, WINDOW, NOW) is None


def test_the_limit_reached_locks_until_the_oldest_of_them_leaves_the_window():
    # Ten failures, the oldest 100 s ago: free again 800 s from now.
    failures = _ago(100, *range(1, 10))
    assert retry_after(failures, 10, WINDOW, NOW) == 800


def test_failures_outside_the_window_do_not_count():
    failures = _ago(*range(1, 10)) + _ago(901, 2000)
    assert retry_after(failures, 10, WINDOW, NOW) is None


def test_only_the_newest_failures_decide_however_they_are_ordered():
    # Twelve failures: the lock lasts until the tenth newest (30 s old) leaves the window.
    failures = list(reversed(_ago(1, 2, 3, 4, 5, 6, 7, 8, 9, 30, 400, 800)))
    assert retry_after(failures, 10, WINDOW, NOW) == 870


def test_a_lock_about_to_end_still_asks_for_a_whole_second():
    failures = [NOW - WINDOW + timedelta(milliseconds=200)] * 3
    assert retry_after(failures, 3, WINDOW, NOW) == 1
