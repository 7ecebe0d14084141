"""Calls an embedding service makes with what the domain's docs promise to take: any real number
where a parameter or a count is a number (a Fraction here; NumPy's scalars likewise), any
iterable where readings, scores or hits are listed. mypy checks this file (strict, over tests),
so an annotation narrower than the docs fails it; pytest runs it, so the calls work too, and a
one-shot iterator is read once."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from marketscout.domain import (
    AlertRule,
    AlertRuleKind,
    BurstDetector,
    BurstParams,
    EngagementSnapshot,
    Platform,
    ScoringParams,
    SpreadParams,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    evaluate_rule,
    score_many,
    validate_rule,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _snapshots() -> list[EngagementSnapshot]:
    return [
        EngagementSnapshot(
            ad_id=1,
            product_id=1,
            platform=Platform.TIKTOK,
            region="US",
            observed_at=NOW - timedelta(days=days),
            views=1000 * (10 - days),
            likes=50 * (10 - days),
        )
        for days in range(10)
    ]


def test_parameters_take_any_real_number_and_keep_it_as_a_float() -> None:
    params = ScoringParams(reach_weight=Fraction(1, 10), centre=Fraction(-3), scale=1)
    weight: float = params.reach_weight  # read back as the float the engine computes with
    assert (weight, params.centre, params.scale) == (0.1, -3.0, 1.0)
    assert BurstParams(pseudo_count=Fraction(2), alarm_level=Fraction(999, 1000)).pseudo_count == 2.0
    assert SpreadParams(freshness_days=Fraction(1, 2)).freshness_days == 0.5


def test_a_count_may_be_any_real_number() -> None:
    detector = BurstDetector()
    assert detector.update(Fraction(1, 2)) == detector.update(0.5) == detector.update(1) == 0.0


def test_a_rule_threshold_may_be_any_real_number() -> None:
    assert validate_rule("score_rise", Fraction(10), 24) is AlertRuleKind.SCORE_RISE


def test_score_many_reads_each_items_readings_from_any_iterable_once() -> None:
    snaps = _snapshots()
    once = score_many({1: (s for s in snaps)}, NOW)
    assert once == score_many({1: snaps}, NOW)
    assert once[1].confidence > 0


def test_evaluate_rule_reads_history_and_hits_from_any_iterable_once() -> None:
    history = [
        TrendScore(
            id=i,
            product_id=1,
            calculated_at=NOW - timedelta(hours=10 - i),
            assessment=TrendAssessment(score=10.0 * i, status=TrendStatus.STEADY, confidence=0.5),
        )
        for i in range(10)
    ]
    rule = AlertRule(user_id=1, kind=AlertRuleKind.SCORE_THRESHOLD, threshold=50, created_at=NOW)
    events = evaluate_rule(rule, 1, "x", (h for h in history), (), NOW)
    assert events == evaluate_rule(rule, 1, "x", history, [], NOW)
    assert len(events) == 1


@pytest.mark.parametrize("params", [ScoringParams, BurstParams, SpreadParams])
def test_the_typed_constructor_names_the_fields_in_order(params: type) -> None:
    """The parameters' ``__init__`` that mypy reads (real numbers in) is written by hand beside
    the one dataclass makes (the fields, floats out): both name the same fields, in order."""
    tree = ast.parse(inspect.getsource(params))
    stubs = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "__init__"]
    assert len(stubs) == 1
    named = [arg.arg for arg in stubs[0].args.args[1:]]
    assert named == [field.name for field in dataclasses.fields(params)]
    assert named == list(inspect.signature(params).parameters)
