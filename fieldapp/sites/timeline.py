"""A site's story in time order: reports, reviews, cases, case entries, dossier exports,
complaints to the authorities and what the authorities did."""
from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import select

from fieldapp.cases.models import Case, CaseEntry
from fieldapp.complaints.models import Complaint, ComplaintUpdate
from fieldapp.complaints.rules import CHANNEL_LABELS
from fieldapp.dossiers.models import Dossier
from fieldapp.extensions import db
from fieldapp.reports.models import Photo, Report
from fieldapp.reviews.models import Review
from fieldapp.sites.models import Site


def site_timeline(site: Site) -> list[dict]:
    events = [*_reports(site), *_reviews(site), *_cases(site), *_entries(site),
              *_exports(site), *_complaints(site), *_complaint_updates(site)]
    return sorted(events, key=lambda event: (event["at"], event["kind"]))


def _event(at, kind, subject_id, summary) -> dict:
    return {"at": at, "kind": kind, "subject_id": subject_id, "summary": summary}


def _reports(site):
    for report in db.session.scalars(select(Report).where(Report.site_id == site.id)):
        yield _event(report.received_at, "report", report.id,
                     f"{report.category} report by {report.volunteer.pseudonym}, "
                     f"{len(report.photos)} photo(s), verdict {report.verdict}")


def _reviews(site):
    stmt = (select(Review).join(Photo, Review.photo_id == Photo.id)
            .join(Report, Photo.report_id == Report.id).where(Report.site_id == site.id))
    for review in db.session.scalars(stmt):
        reason = f": {review.reason}" if review.reason else ""
        yield _event(review.created_at, "review", review.photo_id,
                     f"photo {review.decision}{reason}")


def _cases(site):
    for case in db.session.scalars(select(Case).where(Case.site_id == site.id)):
        yield _event(case.created_at, "case", case.id, f"case opened: {case.title}")


def _entries(site):
    stmt = select(CaseEntry).join(Case).where(Case.site_id == site.id)
    for entry in db.session.scalars(stmt):
        at = datetime.combine(entry.happened_on, time.min, tzinfo=UTC)
        yield _event(at, "case_entry", entry.case_id, entry.text)


def _exports(site):
    stmt = select(Dossier).join(Case).where(Case.site_id == site.id)
    for dossier in db.session.scalars(stmt):
        yield _event(dossier.created_at, "export", dossier.id,
                     f"dossier {dossier.label} exported with {dossier.item_count} item(s)")


def _complaints(site):
    for complaint in db.session.scalars(select(Complaint).where(Complaint.site_id == site.id)):
        yield _event(complaint.filed_at, "complaint", complaint.id,
                     f"complaint {complaint.number} filed with {complaint.authority} "
                     f"({CHANNEL_LABELS.get(complaint.channel, complaint.channel)}), "
                     f"citing {len(complaint.report_ids)} report(s)")


def _complaint_updates(site):
    stmt = select(ComplaintUpdate).join(Complaint).where(Complaint.site_id == site.id)
    for update in db.session.scalars(stmt):
        said = update.reply_text or update.reason or update.outcome
        extra = f" by {update.extension_days} days" if update.extension_days else ""
        if update.report_ids:
            extra = f", citing {len(update.report_ids)} further report(s)"
        yield _event(update.occurred_at, "complaint_update", update.complaint_id,
                     f"complaint {update.complaint.number}: {update.kind}{extra}"
                     + (f": {said}" if said else ""))
