"""Sites: create, change, find, and the nearest site to a report's point."""
from __future__ import annotations

import uuid

from flask import current_app
from geoalchemy2 import Geography
from sqlalchemy import cast, func, or_, select

from fieldapp.errors import NotFound
from fieldapp.extensions import db
from fieldapp.geo.geometry import shape_element
from fieldapp.hotspots import risk
from fieldapp.sites.models import Site


def create_site(data: dict) -> Site:
    site = create_site_in_session(data)
    db.session.commit()
    return site


def create_site_in_session(data: dict) -> Site:
    """Add a site within the caller's transaction."""
    site = Site(**_columns(data))
    db.session.add(site)
    db.session.flush()
    return site


def import_sites(sites: list[dict]) -> int:
    """Add many validated sites in one transaction: all of them or none."""
    for data in sites:
        db.session.add(Site(**_columns(data)))
    db.session.commit()
    return len(sites)


def update_site(site_id: uuid.UUID, changes: dict) -> Site:
    site = get_site(site_id)
    for name, value in _columns(changes).items():
        setattr(site, name, value)
    db.session.commit()
    return site


def _columns(data: dict) -> dict:
    columns = dict(data)
    if "geometry" in columns:
        columns["geom"] = shape_element(columns.pop("geometry"))
    return columns


def get_site(site_id: uuid.UUID) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound("no such site")
    return site


def get_site_shown(site_id: uuid.UUID, with_risk: bool) -> Site:
    """One site as answered; with_risk (staff only: risk is made of other volunteers'
    evidence) gives it a `risk` attribute, as order=risk does in a list."""
    site = get_site(site_id)
    if with_risk:
        site.risk = risk.risk_of([site.id])[site.id]
    return site


def list_sites(args: dict) -> tuple[list[Site], int]:
    stmt = select(Site)
    if bbox := args.get("bbox"):
        stmt = stmt.where(func.ST_Intersects(Site.geom, func.ST_MakeEnvelope(*bbox, 4326)))
    if args.get("status"):
        stmt = stmt.where(Site.status == args["status"])
    if q := args.get("q"):
        pattern = f"%{_escape_like(q)}%"
        stmt = stmt.where(or_(Site.name.ilike(pattern, escape="\\"),
                              Site.name_en.ilike(pattern, escape="\\"),
                              Site.operator.ilike(pattern, escape="\\")))
    page, size = args["page"], args["page_size"]
    if args.get("order") == "risk":
        return risk.ranked_page(stmt, page, size)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = db.session.scalars(stmt.order_by(Site.name, Site.id)
                               .offset((page - 1) * size).limit(size)).all()
    return list(items), total


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def link_radius_m() -> float:
    return float(current_app.config["FIELDAPP_SITE_LINK_M"])


def _geography_point(lon: float, lat: float):
    return cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)


def nearest_site(lon: float, lat: float, max_m: float) -> tuple[uuid.UUID, float] | None:
    """The closest site within max_m metres of a WGS-84 point, measured on the geography."""
    site_geog = cast(Site.geom, Geography)
    point_geog = _geography_point(lon, lat)
    distance = func.ST_Distance(site_geog, point_geog)
    row = db.session.execute(
        select(Site.id, distance.label("metres"))
        .where(func.ST_DWithin(site_geog, point_geog, max_m))
        .order_by("metres", Site.id).limit(1)
    ).first()
    return (row.id, float(row.metres)) if row else None


def distance_to_site(site_id: uuid.UUID, lon: float, lat: float) -> float | None:
    """Metres from a point to a site (None if there is no such site)."""
    metres = db.session.scalar(
        select(func.ST_Distance(cast(Site.geom, Geography), _geography_point(lon, lat)))
        .where(Site.id == site_id))
    return None if metres is None else float(metres)
