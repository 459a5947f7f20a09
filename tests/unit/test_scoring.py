"""Site risk from plain values: decay, weights, volunteers, cases, and decay on reading."""
import math
from datetime import UTC, datetime, timedelta

import pytest

from fieldapp.hotspots.scoring import (
    Evidence,
    RiskParams,
    decay,
    evidence_components,
    photo_is_verified,
    site_score,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def ev(category="water", days_ago=0, volunteer="a"):
    return Evidence(category, NOW - timedelta(days=days_ago), volunteer)


def test_decay_halves_every_half_life():
    assert decay(0, 90) == 1
    assert decay(90, 90) == pytest.approx(0.5)
    assert decay(180, 90) == pytest.approx(0.25)
    assert decay(-5, 90) == 1  # an observation dated ahead of now counts as new


def test_components_weight_categories_and_age():
    params = RiskParams()
    parts = evidence_components([ev("water", 0), ev("noise", 0), ev("water", 90, "b")],
                                NOW, params)
    assert parts["evidence"] == pytest.approx(1.0 + 0.3 + 0.5)
    assert parts["by_category"]["water"] == pytest.approx(1.5)
    assert parts["verified_photos"] == 3 and parts["distinct_volunteers"] == 2


def test_score_shows_every_component():
    params = RiskParams(volunteer_weight=0.5, case_weight=2.0)
    parts = evidence_components([ev(volunteer="a"), ev(volunteer="b")], NOW, params)
    risk = site_score(parts, NOW, open_cases=1, now=NOW, params=params)
    factor = 1 + 0.5 * math.log(2)
    assert risk["volunteer_factor"] == pytest.approx(factor)
    assert risk["score"] == pytest.approx(2.0 * factor + 2.0)
    assert risk["cases"] == 2.0 and risk["open_cases"] == 1


def test_more_volunteers_rank_higher_than_one_volunteer_repeating():
    params = RiskParams()
    many = evidence_components([ev(volunteer=str(i)) for i in range(4)], NOW, params)
    one = evidence_components([ev(volunteer="x") for _ in range(4)], NOW, params)
    assert site_score(many, NOW, 0, NOW, params)["score"] > \
        site_score(one, NOW, 0, NOW, params)["score"]


def test_stored_components_decay_on_reading_exactly():
    params = RiskParams(half_life_days=30)
    evidence = [ev(days_ago=3), ev("air", 40, "b")]
    later = NOW + timedelta(days=45)
    stored = site_score(evidence_components(evidence, NOW, params), NOW, 0, later, params)
    fresh = site_score(evidence_components(evidence, later, params), later, 0, later, params)
    assert stored["score"] == pytest.approx(fresh["score"])


def test_no_evidence_scores_only_cases():
    params = RiskParams()
    empty = evidence_components([], NOW, params)
    assert site_score(empty, NOW, 2, NOW, params)["score"] == 4.0


def test_params_from_environment():
    params = RiskParams.from_mapping({"FIELDAPP_RISK_HALF_LIFE_DAYS": "30",
                                      "FIELDAPP_RISK_WEIGHT_NOISE": "0"})
    assert params.half_life_days == 30 and params.category_weights["noise"] == 0
    with pytest.raises(ValueError, match="FIELDAPP_RISK_CASE_WEIGHT"):
        RiskParams.from_mapping({"FIELDAPP_RISK_CASE_WEIGHT": "lots"})
    with pytest.raises(ValueError, match="half_life"):
        RiskParams(half_life_days=0)


@pytest.mark.parametrize("verdict, decision, verified", [
    ("consistent", None, True), ("needs_review", None, False),
    ("inconsistent", "accepted", True), ("consistent", "rejected", False),
    ("consistent", "needs_more", True), ("needs_review", "needs_more", False),
])
def test_what_counts_as_verified(verdict, decision, verified):
    assert photo_is_verified(verdict, decision) is verified


@pytest.mark.parametrize("decision, verified", [
    (None, False), ("needs_more", False), ("rejected", False), ("accepted", True)])
def test_a_photo_awaiting_pixel_analysis_counts_only_if_accepted(decision, verified):
    assert photo_is_verified("consistent", decision, analysed=False) is verified


def test_adding_evidence_later_equals_computing_it_all_at_once():
    from fieldapp.hotspots.scoring import with_more_evidence

    params = RiskParams(half_life_days=60)
    earlier = [ev("water", 10, "a"), ev("air", 70, "b")]
    later_time = NOW + timedelta(days=20)
    newer = [Evidence("soil", later_time - timedelta(days=1), "c"),
             Evidence("water", later_time, "a")]
    stored = evidence_components(earlier, NOW, params)
    incremental = with_more_evidence(stored, NOW, newer, 1, later_time, params)
    full = evidence_components(earlier + newer, later_time, params)
    assert incremental["evidence"] == pytest.approx(full["evidence"])
    assert incremental["by_category"] == pytest.approx(full["by_category"])
    assert incremental["verified_photos"] == full["verified_photos"] == 4
    assert incremental["distinct_volunteers"] == full["distinct_volunteers"] == 3
