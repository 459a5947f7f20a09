"""Review decisions on photos: appended, never changed; each is a custody event, and news
to the volunteer who sent the photo (a notification)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fieldapp.accounts.models import User
from fieldapp.custody import service as custody
from fieldapp.extensions import db
from fieldapp.hotspots import indexing
from fieldapp.photos.service import get_photo
from fieldapp.reviews.models import Review
from fieldapp.tasks.models import Notification
from fieldapp.volunteers.overview import review_notice


def review_photo(photo_id: uuid.UUID, decision: str, reason: str, user: User) -> Review:
    photo = get_photo(photo_id, user)
    now = datetime.now(UTC)
    review = Review(id=uuid.uuid4(), photo_id=photo.id, reviewer_id=user.id,
                    decision=decision, reason=reason.strip(), created_at=now)
    # Counts and risk move first and the chain's lock is taken last, in the order a
    # submission takes them: a review and a submission at the same place must never wait
    # for each other in opposite orders (a deadlock).
    indexing.refresh_verified(photo.report, pending_decisions={photo.id: decision})
    db.session.flush()
    indexing.refresh_site_risk(photo.report.site_id)
    # The event binds the review row's digest, so a decision changed or a review deleted
    # behind the app's back is found by the audit (custody.binding).
    event = custody.append("reviewed", "photo", photo.id, actor_id=user.id, occurred_at=now,
                           details={"sha256": photo.sha256, "decision": decision,
                                    "reason": reason, "review_id": str(review.id),
                                    "row_sha256": custody.row_sha256("review", review)})
    review.custody_hash = event.hash
    db.session.add(review)
    db.session.add(Notification(id=uuid.uuid4(), user_id=photo.report.volunteer_id,
                                **review_notice(decision, review.reason, photo.report_id,
                                                photo.id, now)))
    db.session.flush()
    db.session.expire(photo, ["reviews"])
    db.session.commit()
    return review


def reviews_of(photo_id: uuid.UUID, user: User) -> list[Review]:
    return list(get_photo(photo_id, user).reviews)
