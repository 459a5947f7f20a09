"""What a volunteer may see of checks that concern other people's evidence. Pure.

The `duplicate` and `near_duplicate` checks name the reports and photos they matched, which
may be another volunteer's: telling a volunteer that someone else sent the same picture, and
which report it is, would point at that person. A volunteer sees the result and a sentence
without identifiers; staff see the detail as stored. The stored checks, and the custody
digest that binds them, are never changed: this only shapes an answer.
"""
from __future__ import annotations

from collections.abc import Iterable

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


def checks_for_viewer(checks: Iterable[dict], staff: bool) -> list[dict]:
    """The checks as the viewer may read them: all of them, other details redacted."""
    if staff:
        return list(checks)
    return [_redacted(check) for check in checks]


def _redacted(check: dict) -> dict:
    name, result = check.get("name"), check.get("result")
    if name not in NAMING_OTHERS or result in ("pass", "unknown"):
        return check
    return {**check, "detail": VOLUNTEER_DETAILS.get((name, result), _OTHER_RESULT)}
