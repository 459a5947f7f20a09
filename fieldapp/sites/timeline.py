"""A site's story in time order: reports, reviews, cases, case entries, dossier exports."""
from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import select

from fieldapp.cases.models import Case, CaseEntry
from fieldapp.dossiers.models import Dossier
from fieldapp.extensions import db
from fieldapp.reports.models import Photo, Report
from fieldapp.reviews.models import Review
from fieldapp.sites.models import Site


def site_timeline(site: Site) -> list[dict]:
    events = [*_reports(site), *_reviews(site), *_cases(site), *_entries(site),
              *_exports(site)]
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
