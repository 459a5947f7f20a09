"""The monitoring loop's rules (点单-派单-接单-评单): which state may follow which, when a
claim holds a slot, when it has run out, how far a check-in may be from the task. Pure, no
Flask and no database, so the API, the expiry sweep and the tests share one set of rules
and a refusal reads the same wherever it comes from.

A request (点单) is asked for, then dispatched as a task or declined, then done when its
task is completed. A task (派单) is open until a coordinator completes or cancels it, or
its slots are all filled by accepted work. A claim (接单) holds one of the task's slots:
taken `active` with an expiry, then on site (`checked_in`), back (`checked_out`), and
evaluated (评单) `accepted` or `needs_more`; `needs_more` sends the volunteer back on site
(a new check-in within reach, more reports, a new check-out, a new evaluation).
"""
from __future__ import annotations

from datetime import datetime, timedelta

REQUEST_STATUSES = ("pending", "dispatched", "declined", "done")
URGENCIES = ("low", "normal", "high")
TASK_STATUSES = ("open", "completed", "cancelled")
CLAIM_STATUSES = ("active", "checked_in", "checked_out", "accepted", "needs_more",
                  "expired", "cancelled")
DECISIONS = ("accepted", "needs_more")

# Where each state may go. A request whose task is cancelled is declined with the task's
# reason: the requester learns that nobody will go, rather than waiting on a dead task.
REQUEST_NEXT: dict[str, tuple[str, ...]] = {
    "pending": ("dispatched", "declined"),
    "dispatched": ("done", "declined"),
    "declined": (),
    "done": (),
}
TASK_NEXT: dict[str, tuple[str, ...]] = {
    "open": ("completed", "cancelled"),
    "completed": (),
    "cancelled": (),
}
# A claim sent back for more may also be given up (cancelled), so that a volunteer who
# will not return frees the slot instead of holding it for ever.
CLAIM_NEXT: dict[str, tuple[str, ...]] = {
    "active": ("checked_in", "expired", "cancelled"),
    "checked_in": ("checked_out",),
    "checked_out": ("accepted", "needs_more"),
    "needs_more": ("checked_in", "cancelled"),
    "accepted": (),
    "expired": (),
    "cancelled": (),
}
MACHINES = {"request": REQUEST_NEXT, "task": TASK_NEXT, "claim": CLAIM_NEXT}

# Claims that hold one of the task's slots (an `active` one only until it expires):
# accepted work fills a slot for good, expired and cancelled claims give theirs back.
HOLDS_SLOT = ("active", "checked_in", "checked_out", "needs_more", "accepted")
# Claims the volunteer still has to act on: these count against the per-volunteer limit.
# A checked-out claim waits on the coordinator, not on the volunteer, so it does not.
IN_HAND = ("active", "checked_in", "needs_more")
# Reports count toward a task only from the claimant on site or back from it, before the
# evaluation: an evaluated claim's reports are what was evaluated.
REPORTING = ("checked_in", "checked_out")
# Claims still under way when a task ends: a task cannot be completed or cancelled under
# a volunteer who is on site or waiting for an evaluation.
UNDER_WAY = ("checked_in", "checked_out")


class TransitionRefused(ValueError):
    """A move the current state does not allow; the message names the current state."""

    def __init__(self, kind: str, current: str, target: str):
        allowed = MACHINES[kind].get(current, ())
        then = f"; from {current} it can only become {', '.join(allowed)}" if allowed else ""
        super().__init__(f"this {kind} is {current}: it cannot become {target}{then}")
        self.kind, self.current, self.target = kind, current, target


def check_transition(kind: str, current: str, target: str) -> None:
    """Raise TransitionRefused unless `kind` may move from `current` to `target`."""
    if target not in MACHINES[kind].get(current, ()):
        raise TransitionRefused(kind, current, target)


def claim_status(status: str, expires_at: datetime, now: datetime) -> str:
    """The claim's state as it stands now: an active claim past its expiry is expired,
    whether or not the sweep has written that down yet."""
    if status == "active" and expires_at <= now:
        return "expired"
    return status


def seconds_left(status: str, expires_at: datetime, now: datetime) -> int | None:
    """Whole seconds an active claim still holds its slot (0 once run out); None for a
    claim in any other state, which does not expire."""
    if status != "active":
        return None
    return max(0, int((expires_at - now).total_seconds()))


def holds_slot(status: str, expires_at: datetime, now: datetime) -> bool:
    return claim_status(status, expires_at, now) in HOLDS_SLOT


def expires_after(now: datetime, ttl_s: int) -> datetime:
    """When a claim taken or extended now runs out: a full TTL from now (an extension
    restarts the clock; it does not add to what was left)."""
    return now + timedelta(seconds=ttl_s)


def expiring_soon(expires_at: datetime, now: datetime, warn_s: int) -> bool:
    """True while an unexpired claim has at most warn_s seconds left."""
    return now < expires_at <= now + timedelta(seconds=warn_s)


def reach_problem(distance_m: float, reach_m: int) -> str | None:
    """Why a check-in this far from the task's place is refused, or None. The distance is
    rounded to whole metres in the message: a phone's fix is not better than that."""
    if distance_m <= reach_m:
        return None
    return (f"{round(distance_m)} m from the task's place; check-in is accepted within "
            f"{reach_m} m")


def on_site_seconds(checked_in_at: datetime, checked_out_at: datetime,
                    ends_at: datetime | None = None) -> int:
    """On-site time of one visit: check-out minus check-in, whole seconds (never negative:
    clocks are the server's own, but a visit is never less than nothing). A visit counts
    no further than the end of its task's window: check-in is refused after it, and a
    volunteer who stays on, or checks out only days later, adds nothing past it."""
    until = min(checked_out_at, ends_at) if ends_at is not None else checked_out_at
    return max(0, int((until - checked_in_at).total_seconds()))


def left_at(checked_in_at: datetime, last_report_at: datetime | None,
            ends_at: datetime) -> datetime:
    """When a volunteer who never checked out is taken to have left: at the last sign of
    presence the server holds (the check-in, or the latest report sent for the task since),
    never past the task's end. Crediting them up to the task's end, or up to whenever the
    visit is closed for them, would count hours nobody attested."""
    seen = max(checked_in_at, last_report_at) if last_report_at else checked_in_at
    return min(seen, ends_at)


def evaluation_problem(decision: str, reason: str | None) -> str | None:
    """A request for more must say what more is wanted: the volunteer reads it first."""
    if decision == "needs_more" and not (reason or "").strip():
        return "a reason is required when asking for more"
    return None


def window_problem(starts_at: datetime, ends_at: datetime, now: datetime) -> str | None:
    """Why a check-in cannot happen now, given the task's window, or None."""
    if now < starts_at:
        return f"the task starts at {starts_at.isoformat()}"
    if now >= ends_at:
        return f"the task ended at {ends_at.isoformat()}"
    return None


def fills_task(accepted: int, slots: int) -> bool:
    """A task is done once accepted claims fill every slot."""
    return accepted >= slots
