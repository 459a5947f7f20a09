"""The volunteer's own view: reports with verdicts and review reasons, claims and their
tasks, service hours and notifications, in one answer for the phone's home screen."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fieldapp.accounts.models import User
from fieldapp.extensions import db
from fieldapp.reports.models import Photo, Report
from fieldapp.tasks import service as tasks
from fieldapp.tasks.models import Claim, Visit
from fieldapp.volunteers import overview

# The home screen shows the newest of each; the full lists have their own paged endpoints.
RECENT = 20


def my_overview(user: User) -> dict:
    claims, _ = tasks.my_claims(user, {"page": 1, "page_size": RECENT})
    notifications, _ = tasks.my_notifications(user, {"page": 1, "page_size": RECENT})
    return {
        "pseudonym": user.pseudonym,
        "reports": _recent_reports(user),
        "claims": claims,
        "hours": overview.service_hours(_visits(user)),
        "notifications": notifications,
        "unread": tasks.unread_count(user),
    }


def _recent_reports(user: User) -> list[Report]:
    return list(db.session.scalars(
        select(Report).where(Report.volunteer_id == user.id)
        .order_by(Report.received_at.desc(), Report.id).limit(RECENT)
        .options(selectinload(Report.photos).selectinload(Photo.reviews))))


def _visits(user: User) -> list[overview.Visit]:
    rows = db.session.execute(
        select(Visit.on_site_s, Claim.status)
        .join(Claim, Claim.id == Visit.claim_id).where(Claim.volunteer_id == user.id))
    return [overview.Visit(row.on_site_s, row.status) for row in rows]
