"""When an interval job runs next: a pure core, free of Flask, the database and the queue.

Interval jobs (the audit, anchors) re-queue themselves rather than use cron: their
intervals are any number of seconds from the environment (90 s, 7 h), which a cron line
cannot say. After a failure the next try comes sooner than the interval at first (a TSA
that hiccuped is asked again in seconds), then later and later (one that is down is not
hammered), never later than the larger of the interval and RETRY_MAX_S.
"""
from __future__ import annotations

RETRY_FIRST_S = 5.0
RETRY_MAX_S = 900.0


def next_run_in(interval_s: float, failures: int) -> float:
    """Seconds until the next run, given how many runs in a row have failed (0: none)."""
    if interval_s <= 0:
        raise ValueError("an interval must be positive")
    if failures <= 0:
        return float(interval_s)
    backoff = RETRY_FIRST_S * 2 ** (failures - 1)
    return min(backoff, max(float(interval_s), RETRY_MAX_S))
