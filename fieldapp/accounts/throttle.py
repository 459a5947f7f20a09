"""When a run of failed sign-ins locks an account or an address, and for how long.

A pure core (no Flask, no database): the service reads the newest failures and asks this
module, so the arithmetic of the sliding window is tested with plain values.

A lock is a sliding window, not a fixed sentence: with at most `limit` failures allowed in
any `window`, the next attempt is allowed again as soon as the oldest of the newest `limit`
failures leaves the window. Refused attempts are not failures (their password is never
checked, so they teach a guesser nothing), which keeps a locked attacker from extending
the lock for ever.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limits:
    """At most `per_account` failures for one account and `per_address` from one client
    address in any `window`."""

    window: timedelta = timedelta(minutes=15)
    per_account: int = 10
    per_address: int = 50


def retry_after(recent_failures: Iterable[datetime], limit: int, window: timedelta,
                now: datetime) -> int | None:
    """Whole seconds until one more attempt is allowed, or None if it is allowed now.

    `recent_failures` need only hold the newest `limit` failures (any order); older ones
    cannot matter.
    """
    newest = sorted((t for t in recent_failures if t > now - window), reverse=True)[:limit]
    if len(newest) < max(limit, 1):
        return None
    free_at = newest[-1] + window
    return max(1, math.ceil((free_at - now).total_seconds()))
