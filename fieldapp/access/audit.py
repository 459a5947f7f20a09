"""Flask glue for the access log: which views are bulk reads, and recording them.

A bulk read is a staff request to an endpoint that answers many records at once: the
report and site listings (and their GeoJSON exports), a site's reports and timeline, hex
bins and candidates, OGC items, and vector tiles. Reading one record by id is not; neither
is a volunteer's listing (it only ever holds their own reports) nor the anonymous public
layer (logging strangers' addresses would only collect more about people).
"""
from __future__ import annotations

import math
from functools import wraps

from flask import Flask, Response, g, request

from fieldapp.access import service
from fieldapp.access.disclosure import checks_for_viewer, named_ids

# Query arguments that move through a result rather than change what is asked for; the
# box is kept apart, as the area the minute's reads covered together.
_PAGING = ("page", "offset", "bbox")
_TILE_PLACE = ("x", "y")


def viewer_is_staff() -> bool:
    """Is the signed-in user of this request staff? (False when there is none.)"""
    user = g.get("current_user")
    return bool(user is not None and user.is_staff)


def checks_as_seen(checks: list[dict]) -> list[dict]:
    """A photo's checks as this request's user may read them (see access.disclosure)."""
    if viewer_is_staff():
        return checks_for_viewer(checks, staff=True)
    user, named = g.get("current_user"), named_ids(checks)
    own = service.owned_by(user.id, named) if user is not None and named else set()
    return checks_for_viewer(checks, staff=False, own_ids=own)


def bulk_read(count_rows: bool = True):
    """Mark a view as a bulk read; its answer is logged when a staff member made it.

    Place it under flask-smorest's decorators, so it sees what the view returned (a page
    dict, a list, or a Response) and can count the records.
    """
    return _logged(lambda result: _rows(result) if count_rows else None)


def lookup_read(view):
    """Mark a view that answers one record found by a key brought from outside (a
    certificate's number), logged as a read of one record when staff made it: the record
    names a person, and the key says whom the reader was asked about."""
    return _logged(lambda result: 1)(view)


def _logged(rows_of):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            result = view(*args, **kwargs)
            g.bulk_read_rows = rows_of(result)
            g.bulk_read = True
            return result

        return wrapper

    return decorator


def _rows(result) -> int | None:
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, Response):
        if result.is_streamed or not result.is_json:
            return None
        result = result.get_json(silent=True)
    if isinstance(result, list):
        return len(result)
    if isinstance(result, dict):
        for key in ("items", "features"):
            if isinstance(result.get(key), list):
                return len(result[key])
    return None


def register(app: Flask) -> None:
    app.after_request(_record)


def _record(response: Response) -> Response:
    if not g.get("bulk_read") or not viewer_is_staff() or response.status_code >= 400:
        return response
    user = g.current_user
    service.record(service.BulkRead(
        user_id=user.id, role=user.role, endpoint=f"{request.method} {request.url_rule.rule}",
        filters=_filters(), rows=g.get("bulk_read_rows"), box=_box()))
    return response


def _filters() -> dict:
    found = {name: values[0] if len(values) == 1 else values
             for name, values in request.args.to_dict(flat=False).items()
             if name not in _PAGING}
    for name, value in (request.view_args or {}).items():
        if name not in _TILE_PLACE:
            found[name] = str(value)
    return found


def _box() -> tuple[float, float, float, float] | None:
    place = request.view_args or {}
    if all(name in place for name in ("z", "x", "y")):
        return tile_bounds(place["z"], place["x"], place["y"])
    raw = request.args.get("bbox")
    if raw:
        try:
            parts = tuple(float(part) for part in raw.split(","))
        except ValueError:
            return None
        return parts if len(parts) == 4 else None
    return None


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of a web-mercator tile."""
    n = 2 ** z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)
