"""Site risk: a documented, configurable score from a site's verified evidence. Pure.

    evidence(t)  = Σ over verified photos  w[category] · 2^(-age_days / half_life)
    volunteers   = 1 + volunteer_weight · ln(distinct volunteers)      (1 when none)
    cases        = case_weight · open cases
    score(t)     = evidence(t) · volunteers + cases

A photo counts as verified when its latest review accepts it, or when it has no rejecting
review and its checks' verdict is "consistent". Age runs from the report's observed time.
Because every term of evidence(t) decays by the same factor, a score stored at time t0 is
brought to time t by multiplying its evidence part by 2^(-(t - t0) / half_life): stored
components stay exact without recomputing them every day.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

DEFAULT_CATEGORY_WEIGHTS = {"water": 1.0, "air": 1.0, "soil": 0.8, "solid_waste": 0.7,
                            "noise": 0.3, "other": 0.5}
OPEN_LEGAL_STATUSES = ("monitoring", "complaint_filed", "disclosure_requested",
                       "litigation_filed")


@dataclass(frozen=True)
class RiskParams:
    half_life_days: float = 90.0
    volunteer_weight: float = 0.5
    case_weight: float = 2.0
    category_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_WEIGHTS))

    def __post_init__(self):
        if not self.half_life_days > 0:
            raise ValueError("half_life_days must be positive")
        if self.volunteer_weight < 0 or self.case_weight < 0:
            raise ValueError("weights must not be negative")
        if any(w < 0 for w in self.category_weights.values()):
            raise ValueError("category weights must not be negative")

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> RiskParams:
        """Read FIELDAPP_RISK_HALF_LIFE_DAYS, ..._VOLUNTEER_WEIGHT, ..._CASE_WEIGHT and
        FIELDAPP_RISK_WEIGHT_<CATEGORY>; a bad value raises ValueError naming the key."""
        kwargs, weights = {}, dict(DEFAULT_CATEGORY_WEIGHTS)
        for f in fields(cls):
            key = f"FIELDAPP_RISK_{f.name.upper()}"
            if f.name != "category_weights" and values.get(key) not in (None, ""):
                kwargs[f.name] = _number(key, values[key])
        for category in weights:
            key = f"FIELDAPP_RISK_WEIGHT_{category.upper()}"
            if values.get(key) not in (None, ""):
                weights[category] = _number(key, values[key])
        return cls(category_weights=weights, **kwargs)


def _number(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{key} must be finite")
    return value


@dataclass(frozen=True)
class Evidence:
    """One verified photo as the score sees it."""

    category: str
    observed_at: datetime
    volunteer_id: str


def decay(age_days: float, half_life_days: float) -> float:
    """Weight of evidence that old: 1 when new, 1/2 after one half-life. Future counts as new."""
    return 2.0 ** (-max(age_days, 0.0) / half_life_days)


def evidence_components(evidence: Iterable[Evidence], now: datetime,
                        params: RiskParams) -> dict:
    """What a site's score is made of, as of `now` (stored, then decayed on reading)."""
    by_category: dict[str, float] = {}
    volunteers, count = set(), 0
    for item in evidence:
        age = (now - item.observed_at).total_seconds() / 86400
        weight = params.category_weights.get(item.category, 0.0)
        contribution = weight * decay(age, params.half_life_days)
        by_category[item.category] = by_category.get(item.category, 0.0) + contribution
        volunteers.add(item.volunteer_id)
        count += 1
    return {"evidence": sum(by_category.values()), "by_category": by_category,
            "verified_photos": count, "distinct_volunteers": len(volunteers)}


def site_score(components: dict, computed_at: datetime, open_cases: int, now: datetime,
               params: RiskParams) -> dict:
    """The score at `now` with every component shown, so a ranking can be explained."""
    factor = decay((now - computed_at).total_seconds() / 86400, params.half_life_days)
    evidence = components["evidence"] * factor
    volunteers = components["distinct_volunteers"]
    volunteer_factor = 1.0 + params.volunteer_weight * math.log(volunteers) if volunteers else 1.0
    cases = params.case_weight * open_cases
    return {
        "score": round(evidence * volunteer_factor + cases, 6),
        "evidence": round(evidence, 6),
        "by_category": {k: round(v * factor, 6) for k, v in components["by_category"].items()},
        "verified_photos": components["verified_photos"],
        "distinct_volunteers": volunteers,
        "volunteer_factor": round(volunteer_factor, 6),
        "open_cases": open_cases,
        "cases": round(cases, 6),
        "half_life_days": params.half_life_days,
    }


def photo_is_verified(verdict: str, latest_decision: str | None, analysed: bool = True) -> bool:
    """Evidence that counts: accepted in review, or analysed, consistent and not rejected."""
    if latest_decision == "accepted":
        return True
    if latest_decision == "rejected":
        return False
    return analysed and verdict == "consistent"


def with_more_evidence(components: dict, computed_at: datetime, evidence: list[Evidence],
                       new_volunteers: int, now: datetime, params: RiskParams) -> dict:
    """Stored components brought to `now` with new evidence added, without re-reading the
    site's older evidence (exact: every older term decays by the same factor)."""
    factor = decay((now - computed_at).total_seconds() / 86400, params.half_life_days)
    added = evidence_components(evidence, now, params)
    by_category = {k: v * factor for k, v in components["by_category"].items()}
    for category, value in added["by_category"].items():
        by_category[category] = by_category.get(category, 0.0) + value
    return {"evidence": components["evidence"] * factor + added["evidence"],
            "by_category": by_category,
            "verified_photos": components["verified_photos"] + added["verified_photos"],
            "distinct_volunteers": components["distinct_volunteers"] + new_volunteers}
