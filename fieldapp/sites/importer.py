"""Reading site lists (CSV with lon/lat or WKT columns, or GeoJSON) into validated rows.

Needs no app and no database. Each row is validated by the same schema the API uses, and
every bad row is reported with its line (CSV) or feature number (GeoJSON) and the reason.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from marshmallow import ValidationError
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import mapping

from fieldapp.sites.schemas import SiteInSchema

SITE_FIELDS = ("name", "name_en", "operator", "uscc", "permit_number", "industry", "address",
               "region", "status")


@dataclass(frozen=True)
class Row:
    where: str            # "line 7" or "feature 3"
    site: dict | None     # validated fields, or None when bad
    problem: str | None = None


def read_rows(path: Path, default_crs: str = "wgs84") -> Iterator[Row]:
    """Every row of a CSV or GeoJSON file, validated."""
    if path.suffix.lower() in (".geojson", ".json"):
        yield from _geojson_rows(path.read_text(encoding="utf-8-sig"), default_crs)
    else:
        yield from _csv_rows(path.read_text(encoding="utf-8-sig"), default_crs)


def _csv_rows(text: str, default_crs: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = set(reader.fieldnames or ())
    if "name" not in columns or not ({"lon", "lat"} <= columns or "wkt" in columns):
        yield Row("line 1", None, "the header needs name and either lon and lat, or wkt")
        return
    for record in reader:
        yield _validated(f"line {reader.line_num}", _csv_site(record, default_crs))


def _csv_site(record: dict, default_crs: str) -> dict | str:
    values = {k: (record.get(k) or "").strip() or None for k in SITE_FIELDS}
    values = {k: v for k, v in values.items() if v is not None}
    try:
        values["geometry"] = _csv_geometry(record)
    except ValueError as exc:
        return str(exc)
    values["crs"] = (record.get("crs") or "").strip() or default_crs
    return values


def _csv_geometry(record: dict) -> dict:
    if (record.get("wkt") or "").strip():
        try:
            return mapping(wkt.loads(record["wkt"]))
        except (ShapelyError, ValueError) as exc:
            raise ValueError(f"geometry: not valid WKT ({exc})") from None
    try:
        return {"type": "Point", "coordinates": [float(record["lon"]), float(record["lat"])]}
    except (TypeError, ValueError):
        raise ValueError("geometry: lon and lat must be numbers") from None


def _geojson_rows(text: str, default_crs: str) -> Iterator[Row]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        yield Row("file", None, f"not valid JSON: {exc}")
        return
    features = document.get("features") if isinstance(document, dict) else None
    if document.get("type") != "FeatureCollection" or not isinstance(features, list):
        yield Row("file", None, "must be a GeoJSON FeatureCollection")
        return
    for number, feature in enumerate(features, start=1):
        properties = (feature or {}).get("properties") or {}
        site = {k: properties[k] for k in SITE_FIELDS if properties.get(k) not in (None, "")}
        site["geometry"] = (feature or {}).get("geometry")
        site["crs"] = properties.get("crs") or default_crs
        yield _validated(f"feature {number}", site)


def _validated(where: str, site: dict | str) -> Row:
    if isinstance(site, str):
        return Row(where, None, site)
    try:
        return Row(where, SiteInSchema().load(site))
    except ValidationError as exc:
        return Row(where, None, _flatten(exc.messages))


def _flatten(messages) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{field}: {_flatten(text)}" for field, text in messages.items())
    if isinstance(messages, list):
        return ", ".join(_flatten(m) for m in messages)
    return str(messages)
