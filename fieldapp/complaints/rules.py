"""What a complaint may do next and when the authorities must answer: pure, no Flask, no
database, so the API, the listing's SQL filter and the tests share one set of rules.

Deadlines follow the usual terms for complaints to environmental authorities (decide on
acceptance within 15 days of filing, give a result within 60, extend by at most 30 with a
stated reason), each configurable. They are counted in calendar days of Beijing time
(China keeps one time zone): the day of filing is not counted, and a deadline lapses at the
end of its last day (midnight, Beijing time). Some Chinese rules count working days or move
a deadline that ends on a public holiday to the next working day; the official holiday
calendar is decided year by year and is not known in advance, so it is not applied here:
a deadline can only come earlier than by such a rule, never later, and an NGO that
chases an authority on the day shown is never too late.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHANNELS = ("12345", "12369", "national_platform", "local_bureau", "other")
CHANNEL_LABELS = {
    "12345": "12345 政务服务便民热线",
    "12369": "12369 环保举报热线",
    "national_platform": "全国生态环境信访投诉举报管理平台",
    "local_bureau": "地方生态环境主管部门",
    "other": "其他渠道",
}
STATUSES = ("filed", "accepted", "rejected", "investigating", "replied", "closed")
STATUS_LABELS = {"filed": "已提交", "accepted": "已受理", "rejected": "不予受理",
                 "investigating": "调查处理中", "replied": "已答复", "closed": "已办结"}
# Where each status may go. A rejected complaint can only be closed: a new complaint is a
# new filing with its own number and deadlines.
NEXT: dict[str, tuple[str, ...]] = {
    "filed": ("accepted", "rejected"),
    "accepted": ("investigating",),
    "rejected": ("closed",),
    "investigating": ("replied",),
    "replied": ("closed",),
    "closed": (),
}
# Updates that move nothing: the authority extended its deadline; further evidence was sent
# to it (the reports cited at filing stay as filed: the letter cites them); anything else.
EXTENDED, SUPPLEMENTED, NOTE = "extended", "supplemented", "note"
UPDATE_KINDS = (*STATUSES[1:], EXTENDED, SUPPLEMENTED, NOTE)
KIND_LABELS = {**STATUS_LABELS, EXTENDED: "延期办理", SUPPLEMENTED: "补充证据", NOTE: "备注"}
# Statuses still waiting for the authority's decision on acceptance, and for its result.
AWAITING_DECISION = ("filed",)
AWAITING_RESULT = ("filed", "accepted", "investigating")
# The result deadline can be extended while the authority is still handling the complaint.
EXTENDABLE = ("accepted", "investigating")
# Further evidence goes to a complaint the authority has not turned away or closed.
SUPPLEMENTABLE = ("filed", "accepted", "investigating", "replied")
ACCEPTANCE, RESULT = "acceptance", "result"

CHINA = ZoneInfo("Asia/Shanghai")


class TransitionRefused(ValueError):
    """An update that the complaint's current status does not allow."""


@dataclass(frozen=True)
class Terms:
    """The deadlines in force when a complaint is filed (calendar days)."""

    accept_days: int = 15
    result_days: int = 60
    max_extension_days: int = 30


def due_after(start: datetime, days: int) -> datetime:
    """The instant a deadline of `days` calendar days from `start` lapses: the end of the
    last day in Beijing time (the day of `start` itself is not counted)."""
    first_day = start.astimezone(CHINA).date()
    return datetime.combine(first_day + timedelta(days=days + 1), time.min, tzinfo=CHINA)


def last_day(due_at: datetime) -> date:
    """The last calendar day (Beijing time) on which an answer is still in time."""
    return (due_at.astimezone(CHINA) - timedelta(microseconds=1)).date()


def initial_deadlines(filed_at: datetime, terms: Terms) -> tuple[datetime, datetime]:
    """(acceptance due, result due) of a complaint filed at filed_at."""
    return due_after(filed_at, terms.accept_days), due_after(filed_at, terms.result_days)


def extended(result_due_at: datetime, extension_days: int) -> datetime:
    """The result deadline after extensions totalling extension_days calendar days."""
    return result_due_at + timedelta(days=extension_days)


def next_status(status: str, kind: str) -> str:
    """The status after an update of this kind, or TransitionRefused saying why not."""
    if kind in (EXTENDED, SUPPLEMENTED, NOTE):
        if kind == EXTENDED and status not in EXTENDABLE:
            raise TransitionRefused(
                f"a complaint that is {status} cannot be extended: only one accepted or "
                "under investigation is still waiting for its result")
        if kind == SUPPLEMENTED and status not in SUPPLEMENTABLE:
            raise TransitionRefused(
                f"a complaint that is {status} takes no further evidence: file a new "
                "complaint with its own number and deadlines")
        return status
    if kind not in NEXT.get(status, ()):
        allowed = NEXT.get(status, ())
        then = (f"it can only become {' or '.join(allowed)}" if allowed
                else "it is closed: nothing follows")
        raise TransitionRefused(f"a complaint that is {status} cannot become {kind}: {then}")
    return kind


def extension_problem(granted_days: int, asked_days: int, terms: Terms) -> str | None:
    """Why an extension of asked_days cannot be granted on top of granted_days, or None."""
    left = terms.max_extension_days - granted_days
    if asked_days > left:
        return (f"at most {terms.max_extension_days} days of extension in all; "
                f"{granted_days} already granted, {max(left, 0)} left")
    return None


@dataclass(frozen=True)
class Standing:
    """A complaint's dates and status, as the deadlines need them."""

    status: str
    filed_at: datetime
    accept_due_at: datetime
    result_due_at: datetime
    extension_days: int
    decided_at: datetime | None
    replied_at: datetime | None


def lapsed(standing: Standing, now: datetime) -> list[str]:
    """The deadlines that have passed with no answer: "acceptance", "result"."""
    found = []
    if standing.status in AWAITING_DECISION and now >= standing.accept_due_at:
        found.append(ACCEPTANCE)
    if (standing.status in AWAITING_RESULT
            and now >= extended(standing.result_due_at, standing.extension_days)):
        found.append(RESULT)
    return found


def deadlines(standing: Standing, now: datetime) -> dict:
    """Both deadlines as shown to a client: when each lapses (in Beijing time, as the
    authorities count), its last day, when it was met (and whether late), and whether it
    lapsed with no answer."""
    gone = lapsed(standing, now)
    result_due = extended(standing.result_due_at, standing.extension_days)

    filed_on = standing.filed_at.astimezone(CHINA).date()

    def one(name, due_at, met_at) -> dict:
        return {"due_at": due_at.astimezone(CHINA), "last_day": last_day(due_at),
                "days": (last_day(due_at) - filed_on).days,
                "met_at": met_at, "late": bool(met_at and met_at >= due_at),
                "lapsed": name in gone}

    return {
        ACCEPTANCE: one(ACCEPTANCE, standing.accept_due_at, standing.decided_at),
        RESULT: {**one(RESULT, result_due, standing.replied_at),
                 "extension_days": standing.extension_days,
                 "original_due_at": standing.result_due_at.astimezone(CHINA)},
    }
