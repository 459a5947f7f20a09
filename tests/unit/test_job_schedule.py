"""When interval jobs run next: the interval after a success, backoff after failures."""
import pytest

from fieldapp.jobs.schedule import RETRY_FIRST_S, RETRY_MAX_S, next_run_in


def test_after_a_success_the_interval():
    assert next_run_in(60, 0) == 60.0
    assert next_run_in(86400, 0) == 86400.0


def test_failures_back_off_from_seconds_up_to_a_cap():
    delays = [next_run_in(60, failures) for failures in range(1, 12)]
    assert delays[:4] == [RETRY_FIRST_S, 2 * RETRY_FIRST_S, 4 * RETRY_FIRST_S,
                          8 * RETRY_FIRST_S]
    assert delays == sorted(delays)
    assert delays[-1] == RETRY_MAX_S  # a TSA down for hours is asked every 15 minutes


def test_a_long_interval_is_never_shortened_by_the_cap():
    assert next_run_in(86400, 30) == 86400.0


def test_an_interval_must_be_positive():
    with pytest.raises(ValueError):
        next_run_in(0, 0)
