"""The one date-time field of the API: an RFC 3339 instant that PostgreSQL can store.

Python accepts UTC offsets up to ±23:59 and years 1–9999, PostgreSQL's ``timestamptz``
accepts offsets only up to ±15:59, and an instant near year 1 or 9999 overflows when it is
moved to UTC. A date a schema accepts must be one the database takes, so such values are
refused at the edge with a 422 naming the field, never a 500 from the query.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import ValidationError, fields

# Civil time zones run from UTC-12:00 to UTC+14:00.
_MIN_OFFSET, _MAX_OFFSET = timedelta(hours=-12), timedelta(hours=14)
# Far enough from the ends of Python's calendar that moving to UTC cannot overflow.
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def storable_problem(value: datetime) -> str | None:
    """Why an aware datetime cannot be stored and compared as timestamptz, or None."""
    offset = value.utcoffset()
    if offset is None:
        return "must include a UTC offset"
    if not _MIN_OFFSET <= offset <= _MAX_OFFSET:
        return "the UTC offset must lie between -12:00 and +14:00"
    if not _EARLIEST <= value <= _LATEST:
        return "must lie between years 1 and 9999"
    return None


class Moment(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset, refused unless PostgreSQL can store it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "iso")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        problem = storable_problem(moment)
        if problem:
            raise ValidationError(problem)
        return moment
