"""Site risk as read: each site's stored components brought to this moment.

scoring.site_score is the rule; what is stored per site (site_risk) is only its components
as of when they were computed, so a score is always read through it. Ranking a list of
sites is done by PostgreSQL with the same formula (score_sql), so that a page of the
highest-risk sites reads one page of rows however many sites match; the page's scores and
their components are then computed by scoring.site_score itself, which is what is shown.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Float, Integer, case, cast, func, select, text

from fieldapp.extensions import db
from fieldapp.hotspots import scoring
from fieldapp.hotspots.indexing import refresh_site_risk, risk_params
from fieldapp.hotspots.models import SiteRisk
from fieldapp.sites.models import Site

# What a site without stored components scores from.
_EMPTY = {"evidence": 0.0, "by_category": {}, "verified_photos": 0, "distinct_volunteers": 0}


def risk_of(ids: list[uuid.UUID], now: datetime | None = None) -> dict[uuid.UUID, dict]:
    """Each site's score at `now` (this moment), with the components it is made of."""
    now, params = now or datetime.now(UTC), risk_params()
    stored = {row.site_id: row for row in
              db.session.query(SiteRisk).filter(SiteRisk.site_id.in_(ids))} if ids else {}
    return {site_id: (scoring.site_score(row.components, row.computed_at, row.open_cases, now,
                                         params) if (row := stored.get(site_id))
                      else scoring.site_score(_EMPTY, now, 0, now, params))
            for site_id in ids}


def score_sql(now: datetime, params: scoring.RiskParams):
    """scoring.site_score's "score" as a SQL expression over site_risk (outer-joined: a site
    without a row scores 0), rounded alike, so PostgreSQL ranks as the rule would."""
    age_days = func.greatest(func.extract("epoch", now - SiteRisk.computed_at) / 86400, 0)
    factor = func.power(cast(2.0, Float), -age_days / params.half_life_days)
    volunteers = cast(SiteRisk.components["distinct_volunteers"].astext, Integer)
    volunteer_factor = case(
        (volunteers > 0, 1.0 + params.volunteer_weight * func.ln(cast(volunteers, Float))),
        else_=1.0)
    evidence = cast(SiteRisk.components["evidence"].astext, Float) * factor
    score = evidence * volunteer_factor + params.case_weight * SiteRisk.open_cases
    return func.coalesce(func.round(cast(score, db.Numeric), 6), 0)


def ranked_page(stmt, page: int, size: int) -> tuple[list[Site], int]:
    """One page of the sites `stmt` selects, highest risk first (ties by name, then id);
    each site gets a `risk` attribute for the response."""
    now = datetime.now(UTC)
    matching = stmt.subquery()
    total = db.session.scalar(select(func.count()).select_from(matching))
    sites = db.session.scalars(
        select(Site).join(matching, matching.c.id == Site.id)
        .outerjoin(SiteRisk, SiteRisk.site_id == Site.id)
        .order_by(score_sql(now, risk_params()).desc(), Site.name, Site.id)
        .offset((page - 1) * size).limit(size)).all()
    risks = risk_of([site.id for site in sites], now)
    for site in sites:
        site.risk = risks[site.id]
    return list(sites), total


def rescore_all() -> int:
    """Recompute every site's components from its evidence (after a change of settings)."""
    count = 0
    for site_id in db.session.scalars(text("SELECT id FROM sites")):
        refresh_site_risk(site_id)
        count += 1
    db.session.commit()
    return count
