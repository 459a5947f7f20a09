"""A volunteer's own view, pure: service hours from visits, and one list of what to know.

Hours count on-site time only (check-in to check-out, never travel), as the Measures for
Volunteer Service Records ask; time of claims not (yet) accepted is shown apart, so a
volunteer sees what is still waiting for evaluation. Reviews of the volunteer's own photos
are notifications too (written when the review is recorded): a decision, and above all a
request for more, is news to them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

REVIEW_KINDS = {"accepted": "report_accepted", "rejected": "report_rejected",
                "needs_more": "report_needs_more"}


@dataclass(frozen=True)
class Visit:
    on_site_s: int | None
    claim_status: str


def service_hours(visits: list[Visit]) -> dict:
    """On-site seconds: all closed visits, and those of accepted claims (the service)."""
    closed = [visit for visit in visits if visit.on_site_s is not None]
    accepted_s = sum(v.on_site_s for v in closed if v.claim_status == "accepted")
    total_s = sum(v.on_site_s for v in closed)
    return {"on_site_s": total_s, "accepted_on_site_s": accepted_s,
            "pending_on_site_s": total_s - accepted_s,
            "accepted_hours": round(accepted_s / 3600, 2)}


def review_notice(decision: str, reason: str, report_id, photo_id, at: datetime) -> dict:
    """A review of one's own photo, told as a notification."""
    said = {"accepted": "A coordinator accepted your photo.",
            "rejected": "A coordinator rejected your photo",
            "needs_more": "A coordinator asks for more about your photo"}[decision]
    message = f"{said}: {reason}" if reason and decision != "accepted" else said
    return {"kind": REVIEW_KINDS[decision], "message": message, "report_id": report_id,
            "photo_id": photo_id, "created_at": at}
