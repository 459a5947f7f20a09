"""OGC API – Features query parameters (bbox, datetime, limit, offset, f) and documents."""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime, time, timedelta

from marshmallow import Schema, ValidationError, fields, validate

from fieldapp.moments import storable_problem

MAX_LIMIT = 1000

# RFC 3339 date-time (an offset is required), or a full-date standing for the whole UTC day.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2}))?$")
_OPEN = ("", "..")


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """minlon,minlat,maxlon,maxlat in CRS84 (a 6-number 3D box loses its heights).

    minlon > maxlon is a box across the antimeridian, as the standard allows.
    """
    try:
        numbers = [float(part) for part in raw.split(",")]
    except ValueError:
        raise ValidationError("must be 4 numbers: minlon,minlat,maxlon,maxlat") from None
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise ValidationError("must be 4 numbers: minlon,minlat,maxlon,maxlat")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minlon, minlat, maxlon, maxlat = numbers
    if not all(-180 <= lon <= 180 for lon in (minlon, maxlon)):
        raise ValidationError("longitudes must be within -180..180")
    if not (-90 <= minlat <= maxlat <= 90):
        raise ValidationError("latitudes must be within -90..90, minlat <= maxlat")
    return minlon, minlat, maxlon, maxlat


def parse_datetime(raw: str) -> tuple[datetime | None, datetime | None]:
    """An instant or an interval (`a/b`, `../b`, `a/..`) as inclusive (start, end) bounds."""
    if raw.count("/") > 1:
        raise ValidationError("must be an RFC 3339 instant or an interval start/end")
    if "/" not in raw:
        if raw in _OPEN:
            raise ValidationError("an instant cannot be open ('..')")
        return _instant(raw, end=False), _instant(raw, end=True)
    start_raw, _, end_raw = raw.partition("/")
    start = None if start_raw in _OPEN else _instant(start_raw, end=False)
    end = None if end_raw in _OPEN else _instant(end_raw, end=True)
    if start and end and start > end:
        raise ValidationError("the interval's start is after its end")
    return start, end


def _instant(text: str, *, end: bool) -> datetime:
    if not _RFC3339.match(text):
        raise ValidationError(
            f"{text!r} is not an RFC 3339 date-time with offset (2026-04-01T10:00:00Z)")
    try:
        value = datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise ValidationError(f"{text!r}: {exc}") from None
    if len(text) == 10:  # a date: the whole day, in UTC
        value = datetime.combine(value.date(), time.min, UTC)
        if end:
            value += timedelta(days=1, microseconds=-1)
    problem = storable_problem(value)
    if problem:
        raise ValidationError(f"{text!r}: {problem}")
    return value


class _Parsed(fields.String):
    """A string parameter turned into a value by a parse function."""

    def __init__(self, parse, **kwargs):
        super().__init__(**kwargs)
        self.parse = parse

    def _deserialize(self, value, attr, data, **kwargs):
        return self.parse(super()._deserialize(value, attr, data, **kwargs))


class MetadataArgsSchema(Schema):
    f = fields.String(validate=validate.OneOf(("json",)),
                      metadata={"description": "representation: json (the only one)"})


class ItemArgsSchema(Schema):
    f = fields.String(validate=validate.OneOf(("geojson", "json")), metadata={
        "description": "geojson (default, application/geo+json) or json (application/json)"})


class ItemsArgsSchema(ItemArgsSchema):
    bbox = _Parsed(parse_bbox, metadata={
        "description": "minlon,minlat,maxlon,maxlat in CRS84 (minlon > maxlon crosses 180°)"})
    datetime = _Parsed(parse_datetime, metadata={
        "description": "RFC 3339 instant or interval: a/b, ../b, a/.."})
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0),
                            metadata={"description": "features to skip (next/prev links)"})


class LinkSchema(Schema):
    href = fields.String(required=True)
    rel = fields.String(required=True)
    type = fields.String()
    title = fields.String()


class LandingPageSchema(Schema):
    title = fields.String()
    description = fields.String()
    links = fields.List(fields.Nested(LinkSchema))


class ConformanceSchema(Schema):
    conformsTo = fields.List(fields.String())


class CollectionSchema(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String()
    links = fields.List(fields.Nested(LinkSchema))
    extent = fields.Dict(metadata={"description": "spatial bbox (CRS84), temporal interval"})
    itemType = fields.String()
    crs = fields.List(fields.String())


class CollectionsSchema(Schema):
    links = fields.List(fields.Nested(LinkSchema))
    collections = fields.List(fields.Nested(CollectionSchema))
