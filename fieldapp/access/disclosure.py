"""What a volunteer may see of checks that concern other people's evidence. Pure.

The `duplicate` and `near_duplicate` checks name the reports and photos they matched, which
may be another volunteer's: telling a volunteer that someone else sent the same picture, and
which report it is, would point at that person. A volunteer sees the stored detail only when
every report or photo it names is their own; otherwise the result and a sentence without
identifiers. Staff see the detail as stored. The stored checks, and the custody digest that
binds them, are never changed: this only shapes an answer.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Set

# (check, result) -> what a volunteer reads instead of the stored detail.
VOLUNTEER_DETAILS = {
    ("duplicate", "fail"): "The identical file is already evidence in another report; "
                           "a coordinator can see which.",
    ("near_duplicate", "warn"): "A perceptually similar photo is already in another report; "
                                "a coordinator can see which.",
}
# Checks whose detail may name other people's evidence; a result not listed above (a future
# one) gets a sentence without identifiers too.
NAMING_OTHERS = ("duplicate", "near_duplicate")
_OTHER_RESULT = "This check compared the photo with other reports; a coordinator can see more."
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def named_ids(checks: Iterable[dict]) -> set[str]:
    """Report and photo ids named by the details a volunteer might not be shown."""
    return {found for check in checks if _may_name_others(check)
            for found in _UUID.findall(check.get("detail", ""))}


def checks_for_viewer(checks: Iterable[dict], staff: bool,
                      own_ids: Set[str] = frozenset()) -> list[dict]:
    """The checks as the viewer may read them; `own_ids` are the ids among named_ids that
    are the viewer's own reports or photos."""
    if staff:
        return list(checks)
    return [_redacted(check, own_ids) for check in checks]


def _may_name_others(check: dict) -> bool:
    return (check.get("name") in NAMING_OTHERS
            and check.get("result") not in ("pass", "unknown"))


def _redacted(check: dict, own_ids: Set[str]) -> dict:
    if not _may_name_others(check):
        return check
    named = set(_UUID.findall(check.get("detail", "")))
    if named and named <= own_ids:
        return check
    detail = VOLUNTEER_DETAILS.get((check["name"], check["result"]), _OTHER_RESULT)
    return {**check, "detail": detail}
