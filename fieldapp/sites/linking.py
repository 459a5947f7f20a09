"""Which site a report is about: found at intake, changed by a coordinator, or given when a
hotspot becomes a site. Every link after intake's is a custody event, and the risk of each
site touched is recomputed in the same transaction.

Linking has this one home so that reports, sites and hotspots can each use it without
importing one another's services.
"""
from __future__ import annotations

import uuid

from sqlalchemy import select

from fieldapp.custody import service as custody
from fieldapp.errors import field_error
from fieldapp.extensions import db
from fieldapp.geo.geometry import lon_lat
from fieldapp.hotspots import indexing
from fieldapp.reports.models import Report
from fieldapp.sites import service as sites


def site_for(claimed_site_id, lon: float, lat: float):
    """(site_id, how linked, metres) for a new report at WGS-84 lon, lat: the site the
    volunteer named, else the nearest within FIELDAPP_SITE_LINK_M."""
    if claimed_site_id is not None:
        metres = sites.distance_to_site(claimed_site_id, lon, lat)
        if metres is None:
            raise field_error("report.site_id", "no such site")
        return claimed_site_id, "claimed", round(metres, 1)
    nearest = sites.nearest_site(lon, lat, sites.link_radius_m())
    if nearest is None:
        return None, None, None
    return nearest[0], "auto", round(nearest[1], 1)


def link_entry(report: Report, previous, actor_id) -> custody.Entry:
    """The custody event of a report's (new) link."""
    return custody.Entry("site_linked", "report", report.id, actor_id, {
        "site_id": str(report.site_id) if report.site_id else None,
        "previous_site_id": str(previous) if previous else None,
        "link": report.site_link, "distance_m": report.site_distance_m})


def link_reports_to_site(report_ids: list[uuid.UUID], site_id: uuid.UUID, user) -> int:
    """Link many reports to a new site in the caller's transaction (promoting a hotspot)."""
    entries = []
    for report in db.session.scalars(select(Report).where(Report.id.in_(report_ids))):
        previous = _link_manually(report, site_id)
        entries.append(link_entry(report, previous, user.id))
    custody.append_many(entries)
    return len(entries)


def relink(report: Report, site_id: uuid.UUID | None, user) -> Report:
    """A coordinator links, relinks or unlinks a report; committed."""
    previous = _link_manually(report, site_id)
    custody.append_many([link_entry(report, previous, user.id)])
    for touched in {previous, report.site_id}:
        indexing.refresh_site_risk(touched)
    db.session.commit()
    return report


def _link_manually(report: Report, site_id: uuid.UUID | None):
    """Point the report at a site (or at none); returns the site it had before."""
    previous = report.site_id
    if site_id is None:
        report.site_id = report.site_link = report.site_distance_m = None
        return previous
    metres = sites.distance_to_site(site_id, *lon_lat(report.location))
    if metres is None:
        raise field_error("site_id", "no such site")
    report.site_id, report.site_link, report.site_distance_m = site_id, "manual", round(metres, 1)
    return previous
