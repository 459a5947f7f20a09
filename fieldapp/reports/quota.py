"""Per-account daily quotas: how many reports, and how many bytes of photos, a volunteer may
send in any 24 hours (FIELDAPP_QUOTA_REPORTS_PER_DAY, FIELDAPP_QUOTA_BYTES_PER_DAY; 0 means
no limit). Staff accounts are not limited: an admin creates them, and their uploads are the
NGO's own work.

Usage is counted from the reports and photos stored (index reports_by_volunteer_received),
so it can never drift from what was kept. A submission is held to the quota three times:

1. before its body is read (enforce_before_body): the reports already sent, and the bytes
   already sent plus the body's Content-Length, so an upload that cannot fit is refused
   before a byte of it is spooled;
2. while the body streams: the photo bytes spooled so far against what is left, so a body
   without an honest Content-Length is cut off as soon as it goes over;
3. in the submission's transaction (enforce_in_transaction), under a per-account advisory
   lock held until commit, recounting committed usage: two submissions of one account sent
   at once are serialised there, so together they cannot overshoot.

A refusal is a 429 whose Retry-After says when enough of the window's usage will have aged
out for this submission to fit.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import current_app, request
from sqlalchemy import text

from fieldapp.accounts.models import User
from fieldapp.errors import TooManyRequests
from fieldapp.extensions import db

WINDOW = timedelta(days=1)
# What a body carries besides its photos: the report's JSON (a description of at most
# 10,000 characters) and the multipart framing of its parts.
FORM_OVERHEAD_BYTES = 64 * 1024
# pg_advisory_xact_lock(class, key): the class keeps these locks apart from any other use.
_LOCK_CLASS = 0x71D7

_REPORTS_IN_WINDOW = text("""
    SELECT r.received_at, coalesce(sum(p.size), 0) AS bytes
    FROM reports r LEFT JOIN photos p ON p.report_id = r.id
    WHERE r.volunteer_id = :user_id AND r.received_at > :since
    GROUP BY r.id, r.received_at ORDER BY r.received_at
""")


def _limits() -> tuple[int, int]:
    config = current_app.config
    return config["FIELDAPP_QUOTA_REPORTS_PER_DAY"], config["FIELDAPP_QUOTA_BYTES_PER_DAY"]


def applies_to(user: User) -> bool:
    return not user.is_staff and any(limit > 0 for limit in _limits())


def enforce_before_body(view):
    """Decorate a view (inside @require) that reads an upload: check the quota before the
    body is read, and give the request the bytes it may still bring."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        from fieldapp.accounts.auth import current_user

        user = current_user()
        if applies_to(user):
            allowance = _check(user, incoming=request.content_length or 0,
                               overhead=FORM_OVERHEAD_BYTES)
            # The body may stream for minutes: no connection waits in a transaction for it.
            db.session.rollback()
            if allowance is not None:
                request.upload_allowance = allowance
                request.refuse_upload = lambda spooled: _refuse_bytes(user.id, spooled)
        return view(*args, **kwargs)

    return wrapper


def enforce_in_transaction(user: User, photo_bytes: int) -> None:
    """Within the submission's transaction, before anything is written: lock the account's
    quota until commit, and refuse (429) if this report would go over."""
    if not applies_to(user):
        return
    db.session.execute(text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:user_id))"),
                       {"lock_class": _LOCK_CLASS, "user_id": str(user.id)})
    _check(user, incoming=photo_bytes, overhead=0)


def _check(user: User, incoming: int, overhead: int) -> int | None:
    """Refuse if one more report, or `incoming` more bytes (less overhead), would go over;
    return the photo bytes still allowed (None: no byte limit)."""
    max_reports, max_bytes = _limits()
    sent = _sent(user.id)
    if max_reports > 0 and len(sent) >= max_reports:
        wait = _wait(sent, lambda left: len(left) < max_reports)
        raise _error("reports_per_day", f"{max_reports} reports in 24 hours", wait)
    if max_bytes <= 0:
        return None
    used = sum(size for _, size in sent)
    if used + max(0, incoming - overhead) > max_bytes:
        raise _bytes_error(sent, max_bytes, max(0, incoming - overhead))
    return max_bytes - used


def _refuse_bytes(user_id, spooled: int):
    """Called while the body streams, once its photos pass what was left: raise the 429."""
    sent = _sent(user_id)
    db.session.rollback()
    raise _bytes_error(sent, _limits()[1], spooled)


def _bytes_error(sent, max_bytes: int, needed: int) -> TooManyRequests:
    def fits(left):
        return sum(size for _, size in left) + needed <= max_bytes

    wait = _wait(sent, fits) if needed <= max_bytes else int(WINDOW.total_seconds())
    return _error("bytes_per_day", f"{max_bytes / (1024 * 1024):g} MB of photos in 24 hours",
                  wait)


def _sent(user_id) -> list[tuple[datetime, int]]:
    """(received_at, photo bytes) of each report the account sent within the window."""
    since = datetime.now(UTC) - WINDOW
    rows = db.session.execute(_REPORTS_IN_WINDOW, {"user_id": user_id, "since": since})
    return [(row.received_at, int(row.bytes)) for row in rows]


def _wait(sent: list[tuple[datetime, int]], fits) -> int:
    """Seconds until enough of the oldest reports have left the window for fits() to hold."""
    now = datetime.now(UTC)
    for index, (received_at, _) in enumerate(sent):
        if fits(sent[index + 1:]):
            return max(1, int((received_at + WINDOW - now).total_seconds()) + 1)
    return int(WINDOW.total_seconds())


def _error(name: str, limit: str, wait: int) -> TooManyRequests:
    message = f"the daily quota of {limit} is used up; try again in {wait} s"
    return TooManyRequests(f"quota.{name}: {message}", retry_after=wait,
                           errors={f"quota.{name}": [message]},
                           sub_code=f"QUOTA_{name.upper()}")
