"""OGC API – Features: the three collections (sites, reports, hotspots) and their documents.

No Flask here: routes hand over the service's base URL and the query as sent, so the
documents (links, paging) are built from plain values.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from shapely.geometry import box, shape
from sqlalchemy import func, or_, select

from fieldapp.accounts.models import User
from fieldapp.errors import NotFound
from fieldapp.extensions import db
from fieldapp.geo.geometry import to_geojson
from fieldapp.hotspots.risk import risk_of
from fieldapp.hotspots.schemas import CandidateArgsSchema
from fieldapp.hotspots.service import candidates
from fieldapp.reports.models import Photo, Report
from fieldapp.sites.models import Site

JSON = "application/json"
GEOJSON = "application/geo+json"
JSON_SCHEMA = "application/schema+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


@dataclass(frozen=True)
class Query:
    """What /items asks for: bbox (CRS84), inclusive time bounds, one page."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[datetime | None, datetime | None] | None = None
    limit: int = 10
    offset: int = 0


@dataclass(frozen=True)
class Page:
    features: list[dict]
    matched: int


# --- filters shared by the collections ------------------------------------------------------


def envelopes(bbox) -> list[tuple[float, float, float, float]]:
    """One box, or two when it crosses the antimeridian (minlon > maxlon)."""
    minlon, minlat, maxlon, maxlat = bbox
    if minlon <= maxlon:
        return [bbox]
    return [(minlon, minlat, 180.0, maxlat), (-180.0, minlat, maxlon, maxlat)]


def _conditions(geometry, moment, query: Query) -> list:
    conditions = []
    if query.bbox:
        conditions.append(or_(*(func.ST_Intersects(geometry, func.ST_MakeEnvelope(*b, 4326))
                                for b in envelopes(query.bbox))))
    start, end = query.interval or (None, None)
    if start:
        conditions.append(moment >= start)
    if end:
        conditions.append(moment <= end)
    return conditions


def _extent(geometry, moment) -> dict | None:
    """Spatial bbox and temporal interval of a table, or None when it is empty."""
    extent = func.ST_Extent(geometry)
    row = db.session.execute(select(
        func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent),
        func.min(moment), func.max(moment))).one()
    if row[0] is None:
        return None
    return _extent_document(list(row[:4]), row[4], row[5])


def _extent_document(bbox: list[float], first: datetime, last: datetime) -> dict:
    return {"spatial": {"bbox": [bbox], "crs": CRS84},
            "temporal": {"interval": [[_iso(first), _iso(last)]], "trs": GREGORIAN}}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _geojson_feature(fid: str, geometry: dict | None, properties: dict) -> dict:
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


# JSON Schema types of the properties. A client that infers types from the first page
# (GDAL does) would take a column that is null there for a string; the schema settles it.
STRING = {"type": "string"}
NUMBER = {"type": "number"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
DATE_TIME = {"type": "string", "format": "date-time"}
UUID = {"type": "string", "format": "uuid"}
STRINGS = {"type": "array", "items": STRING}


def _uuid(fid: str) -> uuid.UUID:
    try:
        return uuid.UUID(fid)
    except ValueError:
        raise NotFound(f"no feature {fid!r}") from None


# --- the collections -------------------------------------------------------------------------


class Sites:
    id = "sites"
    title = "Known polluting sites"
    description = ("Factories' points or footprints, who runs them and their current risk "
                   "score. datetime filters on when the site's record last changed.")
    properties = {"name": STRING, "name_en": STRING, "operator": STRING, "uscc": STRING,
                  "status": STRING, "industry": STRING, "region": STRING,
                  "risk_score": NUMBER, "updated_at": DATE_TIME}

    def extent(self) -> dict | None:
        return _extent(Site.geom, Site.updated_at)

    def items(self, query: Query) -> Page:
        conditions = _conditions(Site.geom, Site.updated_at, query)
        matched = db.session.scalar(select(func.count()).select_from(Site).where(*conditions))
        sites = list(db.session.scalars(
            select(Site).where(*conditions).order_by(Site.name, Site.id)
            .offset(query.offset).limit(query.limit)))
        return Page(self._features(sites), matched)

    def item(self, fid: str) -> dict:
        site = db.session.get(Site, _uuid(fid))
        if site is None:
            raise NotFound(f"no site {fid!r}")
        return self._features([site])[0]

    @staticmethod
    def _features(sites: list[Site]) -> list[dict]:
        risks = risk_of([site.id for site in sites])
        return [_geojson_feature(str(site.id), to_geojson(site.geom), {
            "name": site.name, "name_en": site.name_en, "operator": site.operator,
            "uscc": site.uscc, "status": site.status, "industry": site.industry,
            "region": site.region, "risk_score": risks[site.id]["score"],
            "updated_at": _iso(site.updated_at),
        }) for site in sites]


class Reports:
    id = "reports"
    title = "Evidence reports"
    description = ("Volunteers' photo reports at their WGS-84 point; the volunteer appears "
                   "only by pseudonym. datetime filters on the observation time.")
    properties = {"category": STRING, "observed_at": DATE_TIME, "received_at": DATE_TIME,
                  "verdict": STRING, "verified": BOOLEAN, "site_id": UUID,
                  "site_link": STRING, "site_distance_m": NUMBER, "volunteer": STRING,
                  "photo_count": INTEGER}

    def extent(self) -> dict | None:
        return _extent(Report.location, Report.observed_at)

    def items(self, query: Query) -> Page:
        conditions = _conditions(Report.location, Report.observed_at, query)
        matched = db.session.scalar(select(func.count()).select_from(Report).where(*conditions))
        rows = db.session.execute(
            self._select().where(*conditions)
            .order_by(Report.observed_at.desc(), Report.id)
            .offset(query.offset).limit(query.limit))
        return Page([self._to_feature(*row) for row in rows], matched)

    def item(self, fid: str) -> dict:
        row = db.session.execute(self._select().where(Report.id == _uuid(fid))).first()
        if row is None:
            raise NotFound(f"no report {fid!r}")
        return self._to_feature(*row)

    @staticmethod
    def _select():
        # The pseudonym and photo count come with the page, not one query per report.
        photo_count = (select(func.count(Photo.id)).where(Photo.report_id == Report.id)
                       .scalar_subquery())
        return (select(Report, User.pseudonym, photo_count)
                .join(User, User.id == Report.volunteer_id))

    @staticmethod
    def _to_feature(report: Report, pseudonym: str, photo_count: int) -> dict:
        return _geojson_feature(str(report.id), to_geojson(report.location), {
            "category": report.category, "observed_at": _iso(report.observed_at),
            "received_at": _iso(report.received_at), "verdict": report.verdict,
            "verified": report.verified,
            "site_id": str(report.site_id) if report.site_id else None,
            "site_link": report.site_link, "site_distance_m": report.site_distance_m,
            "volunteer": pseudonym, "photo_count": photo_count,
        })


class Hotspots:
    id = "hotspots"
    title = "Candidate sites (hotspots)"
    description = ("Clusters of reports linked to no known site, as their convex hulls "
                   "(a point or a line when the reports do not span an area); the id is "
                   "the candidate id of /api/v1/hotspots/candidates. datetime filters on "
                   "the span from the first to the last observation.")
    properties = {"report_count": INTEGER, "first_observed": DATE_TIME,
                  "last_observed": DATE_TIME, "categories": STRINGS, "report_ids": STRINGS}

    def extent(self) -> dict | None:
        clusters = _clusters()
        if not clusters:
            return None
        hulls = [shape(c["hull"]) for c in clusters]
        bbox = [min(h.bounds[0] for h in hulls), min(h.bounds[1] for h in hulls),
                max(h.bounds[2] for h in hulls), max(h.bounds[3] for h in hulls)]
        return _extent_document(bbox, min(c["first_observed"] for c in clusters),
                                max(c["last_observed"] for c in clusters))

    def items(self, query: Query) -> Page:
        found = [c for c in _clusters() if _in_box(c, query.bbox) and _in_time(c, query)]
        page = found[query.offset:query.offset + query.limit]
        return Page([self._to_feature(c) for c in page], len(found))

    def item(self, fid: str) -> dict:
        found = next((c for c in _clusters() if c["id"] == fid), None)
        if found is None:
            raise NotFound(f"no hotspot {fid!r} (its reports may have changed)")
        return self._to_feature(found)

    @staticmethod
    def _to_feature(cluster: dict) -> dict:
        return _geojson_feature(cluster["id"], cluster["hull"], {
            "report_count": cluster["report_count"],
            "first_observed": _iso(cluster["first_observed"]),
            "last_observed": _iso(cluster["last_observed"]),
            "categories": cluster["categories"], "report_ids": cluster["report_ids"],
        })


def _clusters() -> list[dict]:
    # The same clustering parameters as /api/v1/hotspots/candidates' defaults, so ids match.
    return candidates(CandidateArgsSchema().load({}))


def _in_box(cluster: dict, bbox) -> bool:
    if not bbox:
        return True
    hull = shape(cluster["hull"])
    return any(hull.intersects(box(*b)) for b in envelopes(bbox))


def _in_time(cluster: dict, query: Query) -> bool:
    start, end = query.interval or (None, None)
    return ((start is None or cluster["last_observed"] >= start)
            and (end is None or cluster["first_observed"] <= end))


COLLECTIONS = {found.id: found for found in (Sites(), Reports(), Hotspots())}


def collection(collection_id: str):
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(f"no collection {collection_id!r}; collections: "
                       f"{', '.join(COLLECTIONS)}") from None


# --- documents -------------------------------------------------------------------------------


def link(href: str, rel: str, media_type: str, title: str | None = None) -> dict:
    found = {"href": href, "rel": rel, "type": media_type}
    if title:
        found["title"] = title
    return found


def landing_page(base: str, openapi_url: str) -> dict:
    return {
        "title": "fieldapp evidence (OGC API – Features)",
        "description": "Known sites, evidence reports and candidate sites, for GIS clients.",
        "links": [
            link(base, "self", JSON, "this document"),
            link(openapi_url, "service-desc", OPENAPI, "the API definition"),
            link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
            link(f"{base}/collections", "data", JSON, "the collections"),
        ],
    }


def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


def collections_document(base: str) -> dict:
    return {"links": [link(f"{base}/collections", "self", JSON)],
            "collections": [_describe(base, c) for c in COLLECTIONS.values()]}


def collection_document(base: str, collection_id: str) -> dict:
    return _describe(base, collection(collection_id))


def _describe(base: str, found) -> dict:
    url = f"{base}/collections/{found.id}"
    document = {
        "id": found.id, "title": found.title, "description": found.description,
        "links": [link(url, "self", JSON), link(f"{url}/items", "items", GEOJSON, found.title),
                  link(f"{url}/schema", "describedBy", JSON_SCHEMA, "the features' schema")],
        "itemType": "feature", "crs": [CRS84],
    }
    if extent := found.extent():
        document["extent"] = extent
    return document


def schema_document(base: str, collection_id: str) -> dict:
    """JSON Schema of one GeoJSON Feature of the collection."""
    found = collection(collection_id)
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base}/collections/{found.id}/schema",
        "title": found.title,
        "description": "A GeoJSON Feature; a property is null where it is not known.",
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": STRING,
            "geometry": {"type": "object"},
            "properties": {"type": "object", "properties": found.properties},
        },
    }


def items_document(base: str, collection_id: str, query: Query, url: str,
                   params: dict, media_type: str) -> dict:
    """A page of features with self, alternate, collection, next and prev links.

    `params` is the query as sent; next and prev carry it with another offset.
    """
    page = collection(collection_id).items(query)
    params = {**params, "limit": query.limit}
    links = _self_links(url, params, media_type)
    links.append(link(f"{base}/collections/{collection_id}", "collection", JSON))
    if query.offset + len(page.features) < page.matched:
        links.append(link(_with(url, params, offset=query.offset + query.limit), "next",
                          media_type, "next page"))
    if query.offset > 0:
        links.append(link(_with(url, params, offset=max(query.offset - query.limit, 0)),
                          "prev", media_type, "previous page"))
    return {"type": "FeatureCollection", "features": page.features, "links": links,
            "numberMatched": page.matched, "numberReturned": len(page.features),
            "timeStamp": _iso(datetime.now(UTC))}


def item_document(base: str, collection_id: str, fid: str, url: str, params: dict,
                  media_type: str) -> dict:
    feature = collection(collection_id).item(fid)
    links = _self_links(url, params, media_type)
    links.append(link(f"{base}/collections/{collection_id}", "collection", JSON))
    return {**feature, "links": links}


def _self_links(url: str, params: dict, media_type: str) -> list[dict]:
    other, f = (JSON, "json") if media_type == GEOJSON else (GEOJSON, "geojson")
    return [link(_with(url, params), "self", media_type, "this document"),
            link(_with(url, params, f=f), "alternate", other, f"this document as {other}")]


def _with(url: str, params: dict, **changes) -> str:
    query = urlencode({**params, **changes}, doseq=True)
    return f"{url}?{query}" if query else url
