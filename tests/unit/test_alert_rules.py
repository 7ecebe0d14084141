"""Alert rules: each event fires once, thresholds do not flap, rules validate their fields."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout.domain.alert_rules import HYSTERESIS_POINTS, KIND_PARAMETERS, evaluate_rule, validate_rule
from marketscout.domain.errors import InvalidValue
from marketscout.domain.model import (
    Ad,
    AlertRule,
    AlertRuleKind,
    Platform,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    ViralAd,
)

START = datetime(2026, 2, 1, tzinfo=UTC)


def history(scores: list[float], statuses: list[TrendStatus] | None = None) -> list[TrendScore]:
    return [
        TrendScore(
            id=i + 1,
            product_id=7,
            calculated_at=START + timedelta(hours=6 * i),
            assessment=TrendAssessment(
                score=s, status=(statuses[i] if statuses else TrendStatus.STEADY), confidence=0.5
            ),
        )
        for i, s in enumerate(scores)
    ]


def rule(
    kind: AlertRuleKind, threshold: float | None = None, window: int | None = None, rule_id: int = 3
) -> AlertRule:
    return AlertRule(
        id=rule_id, user_id=1, kind=kind, threshold=threshold, window_hours=window, created_at=START
    )


def keys(r: AlertRule, scores: list[TrendScore]) -> list[str]:
    now = START + timedelta(days=365)
    return [e.event_key for e in evaluate_rule(r, 7, "Lamp", scores, [], now)]


def test_a_score_hovering_at_the_threshold_fires_once() -> None:
    hovering = history([69, 71, 69.5, 70.5, 69, 72, 70])
    assert len(keys(rule(AlertRuleKind.SCORE_THRESHOLD, 70), hovering)) == 1


def test_the_threshold_rearms_after_a_real_fall() -> None:
    scores = history([50, 75, 80, 70 - HYSTERESIS_POINTS - 1, 75])
    assert len(keys(rule(AlertRuleKind.SCORE_THRESHOLD, 70), scores)) == 2


@settings(max_examples=100, deadline=None)
@given(threshold=st.floats(0.01, 100), episodes=st.integers(2, 4))
def test_a_threshold_rule_rearms_on_a_reachable_score_whatever_its_threshold(
    threshold: float, episodes: int
) -> None:
    """A score of 0 is reachable, so it re-arms every threshold rule: a threshold of 5 or less
    re-armed only below threshold - 5, a negative score, and never fired again."""
    scores = history([threshold, 0.0] * episodes)
    assert len(keys(rule(AlertRuleKind.SCORE_THRESHOLD, threshold), scores)) == episodes


def test_score_rise_within_the_window() -> None:
    scores = history([20, 25, 40, 41, 42])
    events = evaluate_rule(
        rule(AlertRuleKind.SCORE_RISE, 15, 24), 7, "Lamp", scores, [], START + timedelta(days=9)
    )
    assert len(events) == 1
    assert "increased by" in events[0].message


def test_status_becomes_exploding() -> None:
    statuses = [
        TrendStatus.STEADY,
        TrendStatus.EXPLODING,
        TrendStatus.EXPLODING,
        TrendStatus.PEAKED,
        TrendStatus.EXPLODING,
    ]
    assert len(keys(rule(AlertRuleKind.STATUS_EXPLODING), history([10, 80, 85, 60, 90], statuses))) == 2


@settings(max_examples=100, deadline=None)
@given(scores=st.lists(st.floats(0, 100), min_size=1, max_size=30), threshold=st.floats(1, 100))
def test_reevaluating_never_invents_new_events(scores: list[float], threshold: float) -> None:
    full = history(scores)
    r = rule(AlertRuleKind.SCORE_THRESHOLD, threshold)
    whole = keys(r, full)
    assert len(whole) == len(set(whole)), "one key per event"
    assert keys(r, full) == whole, "the same history gives the same events"
    seen: set[str] = set()
    for end in range(1, len(full) + 1):
        seen |= set(keys(r, full[:end]))
    # Growing history only adds events; a key, once seen, names the same event.
    assert set(whole) <= seen


@pytest.mark.parametrize(
    ("kind", "threshold", "window", "field"),
    [
        (AlertRuleKind.SCORE_RISE, None, 24, "threshold"),
        (AlertRuleKind.SCORE_RISE, 10, None, "window_hours"),
        (AlertRuleKind.SCORE_THRESHOLD, 0, None, "threshold"),
        (AlertRuleKind.SCORE_THRESHOLD, 101, None, "threshold"),
        (AlertRuleKind.STATUS_EXPLODING, 50, None, "threshold"),
        (AlertRuleKind.NEW_VIRAL_AD, None, 5, "window_hours"),
    ],
)
def test_rule_validation_names_the_field(
    kind: AlertRuleKind, threshold: float | None, window: int | None, field: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        validate_rule(kind, threshold, window)
    assert error.value.field == field


def test_messages_date_an_old_crossing_and_give_the_score_now() -> None:
    """An episode that began days ago is reported with its date and the score now, never
    with the old score alone as if it were current."""
    scores = history([40, 59.3, 70, 84.8, 96.8])  # 6-hourly from START
    now = START + timedelta(days=3)
    threshold = evaluate_rule(rule(AlertRuleKind.SCORE_THRESHOLD, 50), 7, "Lamp", scores, [], now)
    assert [e.message for e in threshold] == [
        "📈 Lamp trend score crossed 50 on 2026-02-01 06:00 UTC (59.3); now 96.8"
    ]
    statuses = [TrendStatus.STEADY, TrendStatus.STEADY, TrendStatus.STEADY] + [TrendStatus.EXPLODING] * 2
    exploding = evaluate_rule(
        rule(AlertRuleKind.STATUS_EXPLODING),
        7,
        "Lamp",
        history([40, 59.3, 70, 84.8, 96.8], statuses),
        [],
        now,
    )
    assert [e.message for e in exploding] == [
        "💥 Lamp has been exploding since 2026-02-01 18:00 UTC (score 84.8); now 96.8"
    ]


def test_a_crossing_at_the_latest_score_reads_as_current() -> None:
    scores = history([40, 59.3])
    events = evaluate_rule(
        rule(AlertRuleKind.SCORE_THRESHOLD, 50), 7, "Lamp", scores, [], START + timedelta(days=1)
    )
    assert [e.message for e in events] == [
        "📈 Lamp trend score reached 59.3 (threshold 50) on 2026-02-01 06:00 UTC"
    ]


def test_the_message_never_changes_the_event_key() -> None:
    r = rule(AlertRuleKind.SCORE_THRESHOLD, 50)
    early = keys(r, history([40, 59.3]))
    later = keys(r, history([40, 59.3, 70, 96.8]))
    assert early == later


KINDS = st.sampled_from(
    [
        (AlertRuleKind.SCORE_THRESHOLD, 50.0, None),
        (AlertRuleKind.SCORE_RISE, 10.0, 24),
        (AlertRuleKind.STATUS_EXPLODING, None, None),
        (AlertRuleKind.NEW_VIRAL_AD, None, None),
    ]
)


def viral(ad_ids: list[int]) -> list[ViralAd]:
    return [
        ViralAd(
            ad=Ad(id=i, product_id=7, platform=Platform.TIKTOK, ad_content="c", created_at=START),
            product_name="Lamp",
            engagement_score=90,
            growth_rate=2.0,
            views_gained=1000,
            detected_at=START,
            reason="fast",
            first_seen=START,
        )
        for i in ad_ids
    ]


@settings(max_examples=100, deadline=None)
@given(
    kind=KINDS,
    scores=st.lists(st.floats(0, 100), min_size=1, max_size=20),
    exploding=st.lists(st.booleans(), min_size=20, max_size=20),
    ads=st.lists(st.integers(1, 50), unique=True, max_size=5),
    ids=st.tuples(st.integers(0, 1000), st.integers(0, 1000)),
)
def test_an_event_has_one_key_whichever_rule_of_that_condition_finds_it(
    kind: tuple[AlertRuleKind, float | None, int | None],
    scores: list[float],
    exploding: list[bool],
    ads: list[int],
    ids: tuple[int, int],
) -> None:
    """The default rule (id 0) and any explicit rule of the same kind and parameters, or two
    identical rules, name each event with the same key, so the alert store keeps it once."""
    statuses = [TrendStatus.EXPLODING if e else TrendStatus.STEADY for e in exploding[: len(scores)]]
    full = history(scores, statuses)
    now = START + timedelta(days=30)
    first, second = (rule(kind[0], kind[1], kind[2], rule_id=i) for i in ids)
    one = [e.event_key for e in evaluate_rule(first, 7, "Lamp", full, viral(ads), now)]
    other = [e.event_key for e in evaluate_rule(second, 7, "Lamp", full, viral(ads), now)]
    assert one == other
    assert len(one) == len(set(one))


@settings(max_examples=50, deadline=None)
@given(
    scores=st.lists(st.floats(0, 100), min_size=1, max_size=20),
    thresholds=st.tuples(st.floats(1, 100), st.floats(1, 100)),
)
def test_different_conditions_are_different_events(
    scores: list[float], thresholds: tuple[float, float]
) -> None:
    """A threshold of 50 and one of 80 ask different questions: their events never share a key,
    nor do the events of one product and another."""
    low, high = thresholds
    if low == high:
        return
    full = history(scores)
    now = START + timedelta(days=30)
    first = {
        e.event_key for e in evaluate_rule(rule(AlertRuleKind.SCORE_THRESHOLD, low), 7, "L", full, [], now)
    }
    second = {
        e.event_key for e in evaluate_rule(rule(AlertRuleKind.SCORE_THRESHOLD, high), 7, "L", full, [], now)
    }
    elsewhere = {
        e.event_key for e in evaluate_rule(rule(AlertRuleKind.SCORE_THRESHOLD, low), 8, "L", full, [], now)
    }
    assert not first & second
    assert not first & elsewhere


def _rise_events_by_definition(r: AlertRule, scores: list[TrendScore]) -> list[str]:
    """The score_rise rule spelled out as docs define it: the rise at a score is it less the
    lowest score of the window before it (0 without one); an episode starts where the rise
    reaches the threshold while armed and re-arms once every rise within the window up to a
    score (its own included) is below half of it."""
    ordered = sorted(scores, key=lambda s: (s.calculated_at, s.id))
    window, points = timedelta(hours=r.window_hours or 0), r.threshold or 0.0
    armed, starts, rises = True, [], []
    for i, current in enumerate(ordered):
        earlier = [s.score for s in ordered[:i] if current.calculated_at - s.calculated_at <= window]
        rise = current.score - min(earlier) if earlier else 0.0
        rises.append((current.calculated_at, rise))
        quiet = all(r < points / 2 for at, r in rises if current.calculated_at - at <= window)
        if armed and rise >= points:
            armed = False
            starts.append(current.id)
        elif not armed and quiet:
            armed = True
    return [f"p7:rise{float(points)!r}/{r.window_hours}h:s{start}" for start in starts]


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(0, 100), st.integers(0, 200), st.sampled_from([0, 5, -8])),
        min_size=1,
        max_size=40,
    ),
    threshold=st.floats(1, 60),
    window=st.integers(1, 72),
)
def test_a_score_rise_is_measured_against_the_lowest_score_of_its_window(
    data: list[tuple[float, int, int]], threshold: float, window: int
) -> None:
    """Scores at any times (several at one instant, written in any time zone)."""
    scores = [
        TrendScore(
            id=i + 1,
            product_id=7,
            calculated_at=(START + timedelta(hours=hours)).astimezone(timezone(timedelta(hours=offset))),
            assessment=TrendAssessment(score=score, status=TrendStatus.STEADY, confidence=0.5),
        )
        for i, (score, hours, offset) in enumerate(data)
    ]
    r = rule(AlertRuleKind.SCORE_RISE, threshold, window)
    assert keys(r, scores) == _rise_events_by_definition(r, scores)


def test_a_score_wobbling_by_more_than_the_rise_alerts_once() -> None:
    """50, 62, 50, 62, … every 6 h for 2 days under a rise of 10 points within 24 h: one alert
    (each dip to 50 re-armed the rule, and each 62 alerted again)."""
    scores = history([50.0, 62.0] * 4)
    assert len(keys(rule(AlertRuleKind.SCORE_RISE, 10, 24), scores)) == 1


@settings(max_examples=200, deadline=None)
@given(
    levels=st.tuples(st.floats(0, 100), st.floats(0, 100)),
    points=st.floats(1, 60),
    window=st.integers(2, 72),
    period=st.integers(1, 36),
    count=st.integers(2, 60),
)
def test_a_score_alternating_between_two_levels_within_the_window_alerts_at_most_once(
    levels: tuple[float, float], points: float, window: int, period: int, count: int
) -> None:
    """A score alternating between two levels, each seen again within the rule's window (every
    ``period`` hours, two periods within the window), never stays quiet (a rise below half the
    points) for a whole window once it has risen by the points: at most one alert, whatever
    the levels and however long it goes on."""
    period = min(period, window // 2)
    scores = [
        TrendScore(
            id=i + 1,
            product_id=7,
            calculated_at=START + timedelta(hours=period * i),
            assessment=TrendAssessment(score=levels[i % 2], status=TrendStatus.STEADY, confidence=0.5),
        )
        for i in range(count)
    ]
    assert len(keys(rule(AlertRuleKind.SCORE_RISE, points, window), scores)) <= 1


def test_a_long_score_history_is_evaluated_in_linear_time() -> None:
    """Scores every few minutes for weeks, or years of hourly ones: a rule's work grows with the
    history, not with its square (10,000 scores took over 15 s)."""
    scores = [
        TrendScore(
            id=i + 1,
            product_id=7,
            calculated_at=START + timedelta(minutes=5 * i),
            assessment=TrendAssessment(score=(i * 37) % 101, status=TrendStatus.STEADY, confidence=0.5),
        )
        for i in range(10_000)
    ]
    for r in (rule(AlertRuleKind.SCORE_RISE, 10, 24), rule(AlertRuleKind.SCORE_RISE, 30, 720)):
        began = time.perf_counter()
        assert keys(r, scores)
        assert time.perf_counter() - began < 2.0


# --- Episodes longer than the history window a rule is evaluated on --------------------------

WINDOW = timedelta(days=31)


def timed(points: list[tuple[float, float, TrendStatus]]) -> list[TrendScore]:
    """Scores at the given hours from START, with their statuses."""
    return [
        TrendScore(
            id=i + 1,
            product_id=7,
            calculated_at=START + timedelta(hours=hours),
            assessment=TrendAssessment(score=score, status=status, confidence=0.5),
        )
        for i, (hours, score, status) in enumerate(points)
    ]


def sliding(r: AlertRule, scores: list[TrendScore]) -> list[list[tuple[str, bool]]]:
    """What the use case sees after each new score: the rule on the last 31 days, with the
    events' keys and whether each may have begun before that window."""
    seen = []
    for latest in scores:
        now = latest.calculated_at
        window = [s for s in scores if now - WINDOW <= s.calculated_at <= now]
        events = evaluate_rule(r, 7, "Lamp", window, [], now, history_since=now - WINDOW)
        seen.append([(e.event_key, e.continued) for e in events])
    return seen


def test_an_episode_longer_than_the_window_is_continued_not_new() -> None:
    """Above the threshold for 40 days, scored hourly: each window names an episode by its first
    score, so it says that episode may have begun before it rather than calling it new."""
    scores = timed([(h, 80.0, TrendStatus.STEADY) for h in range(40 * 24)])
    r = rule(AlertRuleKind.SCORE_THRESHOLD, 50)
    seen = sliding(r, scores)
    new = {key for events in seen for key, continued in events if not continued}
    assert new == set(), "the first window holds the product's first score: it may be a continuation"
    assert all(continued for events in seen for _, continued in events)
    assert keys(r, scores) == ["p7:threshold50.0:s1"]


def test_a_window_that_saw_the_rule_rearm_names_its_episodes_exactly() -> None:
    scores = timed(
        [(0, 80.0, TrendStatus.STEADY), (1, 30.0, TrendStatus.STEADY), (2, 60.0, TrendStatus.STEADY)]
    )
    r = rule(AlertRuleKind.SCORE_THRESHOLD, 50)
    now = scores[-1].calculated_at
    events = evaluate_rule(r, 7, "Lamp", scores, [], now, history_since=now - WINDOW)
    assert [(e.event_key, e.continued) for e in events] == [
        ("p7:threshold50.0:s1", True),
        ("p7:threshold50.0:s3", False),
    ]
    whole = evaluate_rule(r, 7, "Lamp", scores, [], now)
    assert [e.continued for e in whole] == [False, False], "the whole history: nothing before it"


SLIDING_KINDS = st.sampled_from(
    [
        (AlertRuleKind.SCORE_THRESHOLD, 50.0, None),
        (AlertRuleKind.SCORE_RISE, 10.0, 24),
        (AlertRuleKind.SCORE_RISE, 20.0, 720),
        (AlertRuleKind.STATUS_EXPLODING, None, None),
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    kind=SLIDING_KINDS,
    points=st.lists(
        st.tuples(
            st.integers(1, 24 * 12),  # hours since the score before
            st.floats(0, 100),
            st.sampled_from(list(TrendStatus)),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_sliding_windows_name_only_the_whole_historys_events(
    kind: tuple[AlertRuleKind, float | None, int | None],
    points: list[tuple[int, float, TrendStatus]],
) -> None:
    """Evaluated after each new score on the last 31 days, as the use case does, a rule names
    every event the whole history has, and each event it does not mark as possibly begun before
    its window is one of those: no episode gets a second key while it lasts."""
    hours = 0
    at: list[tuple[float, float, TrendStatus]] = []
    for gap, score, status in points:
        hours += gap
        at.append((hours, score, status))
    scores = timed(at)
    r = rule(*kind)
    whole = {e.event_key for e in evaluate_rule(r, 7, "Lamp", scores, [], scores[-1].calculated_at)}
    seen = sliding(r, scores)
    assert {key for events in seen for key, continued in events if not continued} <= whole
    assert whole <= {key for events in seen for key, _ in events}


# --- The exploding status near its threshold ---------------------------------------------------

E, EM = TrendStatus.EXPLODING, TrendStatus.EMERGING


def test_an_exploding_status_flickering_at_70_alerts_once() -> None:
    scores = history([70.2, 69.8, 70.3, 69.9, 70.1], [E, EM, E, EM, E])
    assert len(keys(rule(AlertRuleKind.STATUS_EXPLODING), scores)) == 1


def test_an_exploding_product_called_emerging_by_a_guard_for_a_while_alerts_once() -> None:
    """99.43 'emerging' (only one ad in one region is rising) between two exploding scores is
    the same explosion."""
    scores = history([99.2, 99.43, 99.47], [E, EM, E])
    assert len(keys(rule(AlertRuleKind.STATUS_EXPLODING), scores)) == 1


@pytest.mark.parametrize(
    ("between", "status"),
    [
        (80.0, TrendStatus.PEAKED),
        (80.0, TrendStatus.DECLINING),
        (70 - HYSTERESIS_POINTS - 0.1, TrendStatus.EMERGING),
    ],
)
def test_exploding_rearms_once_the_product_clearly_stopped(between: float, status: TrendStatus) -> None:
    scores = history([75, between, 76], [E, status, E])
    assert len(keys(rule(AlertRuleKind.STATUS_EXPLODING), scores)) == 2


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(70 - HYSTERESIS_POINTS, 100), st.sampled_from([E, EM, TrendStatus.STEADY])),
        min_size=1,
        max_size=40,
    )
)
def test_a_score_hovering_around_70_never_alerts_twice_while_it_lasts(
    data: list[tuple[float, TrendStatus]],
) -> None:
    """Exploding or not by a hair or by a guard, but never peaked, declining or clearly below 70:
    one sustained episode, at most one event."""
    scores = history([s for s, _ in data], [status if s >= 70 else EM for s, status in data])
    assert len(keys(rule(AlertRuleKind.STATUS_EXPLODING), scores)) <= 1


# --- A rise is measured from a score with readings behind it ----------------------------------


def no_data(score_id: int, at: datetime, *, one_reading: bool = False) -> TrendScore:
    """What scoring gives a product without readings (or with one), as stored by a re-score."""
    return TrendScore(
        id=score_id,
        product_id=7,
        calculated_at=at,
        assessment=TrendAssessment(
            score=50.0 if one_reading else 0.0,
            status=TrendStatus.EMERGING if one_reading else TrendStatus.STEADY,
            confidence=0.0064 if one_reading else 0.0,
            reasons=("not enough data yet",) if one_reading else ("no engagement recorded",),
        ),
    )


@pytest.mark.parametrize("one_reading", [False, True])
def test_a_score_without_data_is_never_the_base_of_a_rise(one_reading: bool) -> None:
    """A watched product re-scored before its first readings (0.0, or 50.0 on one reading), then
    perfectly steady at 34 (62 after one reading): no rise."""
    level = 62.0 if one_reading else 34.0
    scores = [no_data(1, START, one_reading=one_reading)] + [
        TrendScore(
            id=i + 2,
            product_id=7,
            calculated_at=START + timedelta(hours=6 * (i + 1)),
            assessment=TrendAssessment(score=level, status=TrendStatus.STEADY, confidence=0.5),
        )
        for i in range(8)
    ]
    assert keys(rule(AlertRuleKind.SCORE_RISE, 10, 24), scores) == []


# --- What a rule's fields may be ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "threshold", "window", "field", "words"),
    [
        (AlertRuleKind.SCORE_THRESHOLD, "50", None, "threshold", "must be a number"),
        (AlertRuleKind.SCORE_THRESHOLD, True, None, "threshold", "must be a number"),
        (AlertRuleKind.SCORE_THRESHOLD, float("nan"), None, "threshold", "greater than 0"),
        (AlertRuleKind.SCORE_THRESHOLD, float("inf"), None, "threshold", "at most 100"),
        (AlertRuleKind.SCORE_RISE, 10, "24", "window_hours", "must be a whole number"),
        (AlertRuleKind.SCORE_RISE, 10, 2.5, "window_hours", "must be a whole number"),
        (AlertRuleKind.SCORE_RISE, 10, True, "window_hours", "must be a whole number"),
        (AlertRuleKind.SCORE_RISE, float("-inf"), 24, "threshold", "greater than 0"),
        ("score_risen", 10, 24, "kind", "must be one of: score_rise, score_threshold"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_by_name(
    kind: AlertRuleKind, threshold: float | None, window: int | None, field: str, words: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        validate_rule(kind, threshold, window)
    assert (error.value.field, words in error.value.rule) == (field, True)


def test_a_kind_is_taken_by_its_value() -> None:
    assert validate_rule("score_threshold", 50, None) is AlertRuleKind.SCORE_THRESHOLD
    assert validate_rule(AlertRuleKind.SCORE_RISE, 10, 24) is AlertRuleKind.SCORE_RISE
    r = AlertRule(user_id=1, kind="score_threshold", threshold=50, created_at=START)  # type: ignore[arg-type]
    assert keys(r, history([40, 60])) == ["p7:threshold50.0:s2"]


@pytest.mark.parametrize("kind", list(AlertRuleKind))
def test_kind_parameters_are_what_validation_requires_and_refuses(kind: AlertRuleKind) -> None:
    """The dashboard hides and ignores the fields KIND_PARAMETERS leaves out: they must be the
    ones validate_rule refuses, and the others the ones it requires."""
    used = KIND_PARAMETERS[kind]
    threshold = 5.0 if "threshold" in used else None
    window = 24 if "window_hours" in used else None
    assert validate_rule(kind, threshold, window) == kind
    flipped = {
        "threshold": (None if threshold else 5.0, window),
        "window_hours": (threshold, None if window else 24),
    }
    for name, (other_threshold, other_window) in flipped.items():
        with pytest.raises(InvalidValue) as refused:
            validate_rule(kind, other_threshold, other_window)
        assert refused.value.field == name
        assert refused.value.rule.startswith("is required" if name in used else "does not apply")


@pytest.mark.parametrize("ad_id", [None, "2", 2.5, True])
def test_a_viral_ad_without_a_whole_number_id_is_refused_naming_it(ad_id: object) -> None:
    """An ad without an id (not stored yet) cannot be alerted on: its event key is made of the
    id. Beside one with an id, None was a TypeError from ordering the hits by id."""
    unknown = viral([1])[0]
    hits = [*viral([1]), dataclasses.replace(unknown, ad=dataclasses.replace(unknown.ad, id=ad_id))]  # type: ignore[arg-type]
    rule = AlertRule(user_id=1, kind=AlertRuleKind.NEW_VIRAL_AD, created_at=START)
    with pytest.raises(InvalidValue) as refused:
        evaluate_rule(rule, 7, "Lamp", [], hits, START)
    assert refused.value.field == "id"
    assert "viral_ads item 1" in refused.value.rule, refused.value.rule


def test_viral_ads_are_alerted_on_in_the_order_of_their_ids() -> None:
    rule = AlertRule(user_id=1, kind=AlertRuleKind.NEW_VIRAL_AD, created_at=START)
    events = evaluate_rule(rule, 7, "Lamp", [], viral([3, 1, 2]), START)
    assert [e.event_key.rsplit("ad", 1)[1] for e in events] == ["1", "2", "3"]
