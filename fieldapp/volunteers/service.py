"""The volunteer's own view: reports with verdicts and review reasons, claims and their
tasks, service hours and notifications, in one answer for the phone's home screen."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fieldapp.accounts.models import User
from fieldapp.extensions import db
from fieldapp.reports.models import Photo, Report
from fieldapp.reviews.models import Review
from fieldapp.tasks import service as tasks
from fieldapp.tasks.models import Claim, Notification, Visit
from fieldapp.volunteers import overview

# The home screen shows the newest of each; the full lists have their own paged endpoints.
RECENT = 20


def my_overview(user: User) -> dict:
    claims, _ = tasks.my_claims(user, {"page": 1, "page_size": RECENT})
    return {
        "pseudonym": user.pseudonym,
        "reports": _recent_reports(user),
        "claims": claims,
        "hours": overview.service_hours(_visits(user)),
        "notifications": overview.newest_first(
            _task_notifications(user), _review_notices(user), limit=RECENT),
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


def _task_notifications(user: User) -> list[dict]:
    rows = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc()).limit(RECENT))
    return [{"kind": n.kind, "message": n.message, "task_id": n.task_id,
             "claim_id": n.claim_id, "request_id": n.request_id, "created_at": n.created_at}
            for n in rows]


def _review_notices(user: User) -> list[dict]:
    rows = db.session.execute(
        select(Review.decision, Review.reason, Review.created_at, Photo.id, Photo.report_id)
        .join(Photo, Photo.id == Review.photo_id).join(Report, Report.id == Photo.report_id)
        .where(Report.volunteer_id == user.id)
        .order_by(Review.created_at.desc()).limit(RECENT))
    return [overview.review_notice(row.decision, row.reason, row.report_id, row.id,
                                   row.created_at) for row in rows]
