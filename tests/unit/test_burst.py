"""The streaming burst detector: what it must and must not flag, and its contract."""

from __future__ import annotations

import math
import random
import statistics
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout.domain import burst
from marketscout.domain.burst import DEFAULT_BURST_PARAMS, BurstDetector, BurstParams
from marketscout.domain.errors import InvalidValue

ALARM = DEFAULT_BURST_PARAMS.alarm_level
DAY = 288  # 5-minute values
# Small windows so that short generated streams get past the warm-up and into the refractory logic.
SMALL = BurstParams(smoothing=3, history=60, warmup=20, refractory=10)

counts = st.one_of(
    st.floats(min_value=0, max_value=1e7),
    st.floats(min_value=0, max_value=1.7e308),
    st.floats(min_value=0, max_value=10),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)


def _feed(detector: BurstDetector, values: list[float]) -> list[float]:
    return [detector.update(v) for v in values]


def _calm(days: float, level: float = 50.0) -> list[float]:
    """A quiet, slightly uneven series with no burst in it."""
    return [level + (i % 7) for i in range(int(days * DAY))]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(counts, min_size=1, max_size=400), small=st.booleans())
def test_likelihood_is_always_in_unit_interval(values: list[float], small: bool) -> None:
    detector = BurstDetector(SMALL if small else DEFAULT_BURST_PARAMS)
    for likelihood in _feed(detector, values):
        assert 0.0 <= likelihood <= 1.0
        assert not math.isnan(likelihood)


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.lists(st.floats(min_value=0, max_value=1e5), min_size=1, max_size=150),
    first=st.lists(st.floats(min_value=0, max_value=1e5), max_size=30),
    second=st.lists(st.floats(min_value=0, max_value=1e5), max_size=30),
)
def test_the_output_for_a_prefix_does_not_depend_on_later_values(
    prefix: list[float], first: list[float], second: list[float]
) -> None:
    a = _feed(BurstDetector(SMALL), prefix + first)
    b = _feed(BurstDetector(SMALL), prefix + second)
    assert a[: len(prefix)] == b[: len(prefix)]


def test_nothing_is_reported_during_the_warm_up() -> None:
    detector = BurstDetector()
    outputs = _feed(detector, [10.0] * 100 + [10_000.0] * 100)
    assert outputs == [0.0] * 200


@pytest.mark.parametrize("level", [0.0, 3.0, 100.0, 1e6])
def test_a_flat_series_never_alarms(level: float) -> None:
    outputs = _feed(BurstDetector(), [level] * (3 * DAY))
    assert max(outputs) < ALARM


def test_a_sustained_jump_alarms_at_once() -> None:
    detector = BurstDetector()
    calm = _feed(detector, _calm(3))
    burst = _feed(detector, [1000.0] * 12)
    assert max(calm) < ALARM
    first = next(i for i, likelihood in enumerate(burst) if likelihood >= ALARM)
    assert first <= DEFAULT_BURST_PARAMS.smoothing, "seen within the smoothing window"


def test_a_daily_cycle_and_quiet_weekends_are_not_bursts() -> None:
    # Ten-fold swing between night and day, weekends at 40 %, Gaussian noise: three weeks.
    rng = random.Random(7)
    detector = BurstDetector()
    outputs = []
    for t in range(21 * DAY):
        weekend = (t // DAY) % 7 in (5, 6)
        level = (5 + 45 * (1 + math.sin(2 * math.pi * t / DAY)) / 2) * (0.4 if weekend else 1.0)
        outputs.append(detector.update(max(rng.gauss(level, math.sqrt(level)), 0.0)))
    assert max(outputs) < ALARM
    # ... while the same cycle with a five-fold burst at the daily peak is flagged.
    peak = 21 * DAY + DAY // 4
    for t in range(21 * DAY, peak):
        detector.update(5 + 45 * (1 + math.sin(2 * math.pi * t / DAY)) / 2)
    assert max(detector.update(250.0) for _ in range(6)) >= ALARM


def test_noise_alone_rarely_alarms() -> None:
    # Poisson(10) counts for four weeks: alarms are the rare extremes, at most one every few days.
    rng = random.Random(1)

    def poisson(lam: float) -> int:
        limit, k, product = math.exp(-lam), 0, rng.random()
        while product >= limit:
            k += 1
            product *= rng.random()
        return k

    outputs = _feed(BurstDetector(), [float(poisson(10.0)) for _ in range(28 * DAY)])
    assert sum(likelihood >= ALARM for likelihood in outputs) <= 7


def test_after_an_alarm_it_stays_quiet_for_the_refractory_period_then_rearms() -> None:
    detector = BurstDetector()
    _feed(detector, _calm(5))
    first = _feed(detector, [1000.0] * 6)
    assert first[0] >= ALARM
    assert max(first[1:]) < ALARM, "one burst is one alarm"
    between = _feed(detector, _calm(100 / DAY) + [1000.0] * 6)
    assert max(between) < ALARM, "a second burst within the refractory day is not a new alarm"
    _feed(detector, _calm((DEFAULT_BURST_PARAMS.refractory - 100) / DAY))
    again = _feed(detector, [1000.0] * 6)
    assert again[0] >= ALARM, "after the refractory day a new burst alarms again"


def test_the_refractory_cap_follows_the_alarm_level() -> None:
    params = replace(DEFAULT_BURST_PARAMS, alarm_level=0.95)
    detector = BurstDetector(params)
    _feed(detector, _calm(3))
    outputs = _feed(detector, [1000.0] * 6)
    assert outputs[0] >= 0.95
    assert max(outputs[1:]) < 0.95


def test_a_burst_still_going_on_alarms_again_once_the_refractory_period_is_over() -> None:
    # The burst's own values join the history but stay a small share of it, above its 99 %.
    detector = BurstDetector(replace(DEFAULT_BURST_PARAMS, refractory=12))
    _feed(detector, _calm(5))
    outputs = _feed(detector, [1000.0] * 14)
    assert outputs[0] >= ALARM and max(outputs[1:13]) < ALARM and outputs[13] >= ALARM


def test_a_long_burst_does_not_hide_the_next_one() -> None:
    """A burst of six hours is over 1 % of the two weeks of reference: were its rates taken in
    as they are, the reference's 99 % quantile would sit at the burst's level for two weeks and
    the same burst again, a day and a half later, would not alarm (as on the NAB UPS series).
    They join the reference capped at the alarm level."""
    detector = BurstDetector()
    _feed(detector, _calm(5))
    first = _feed(detector, [1000.0] * 72)
    assert first[0] >= ALARM
    _feed(detector, _calm(1.5))
    again = _feed(detector, [1000.0] * 6)
    assert max(again) >= ALARM


def _straightforward(params: BurstParams, values: list[float]) -> list[float]:
    """The detector written the plain way, for ``refractory=0`` and the 99 % quantile: the rate
    from the mean of the window summed anew, the reference sorted anew, its quantiles from
    :mod:`statistics`."""
    counts: list[float] = []
    rates: list[float] = []
    reference: list[float] = []
    tail = math.log(50.0)
    alarm_distance = -math.log(2.0 * (1.0 - params.alarm_level))
    ceiling = math.inf
    likelihoods = []
    for value in values:
        counts.append(min(max(value, 0.0), 1e12))
        window = counts[-params.smoothing :]
        rates.append(math.log(params.pseudo_count + sum(window) / len(window)))
        if len(rates) > params.smoothing:  # the rate that has just left the window
            reference = [*reference, min(rates[-params.smoothing - 1], ceiling)][-params.history :]
        if len(reference) < params.warmup:
            likelihoods.append(0.0)
            continue
        median = statistics.median(reference)
        spread = max(statistics.quantiles(reference, n=100, method="inclusive")[98] - median, 0.1)
        ceiling = median + spread * alarm_distance / tail
        distance = (rates[-1] - median) / spread * tail
        likelihoods.append(0.0 if distance <= -math.log(2.0) else max(1.0 - 0.5 * math.exp(-distance), 0.0))
    return likelihoods


def _uneven(count: int) -> list[float]:
    """Counts that are not whole numbers, around a level that rises a third of the way in and
    drops back two thirds in, with a few bursts: likelihoods anywhere from 0 to 1."""
    rng = random.Random(3)
    level = [20.0] * (count // 3) + [35.0] * (count // 3) + [20.0] * (count - 2 * (count // 3))
    return [x * rng.uniform(0.5, 1.5) * (40 if rng.random() < 0.003 else 1) for x in level]


@pytest.mark.parametrize("smoothing", [1, 3, 7, 1000])
def test_the_rate_is_the_plain_mean_of_the_window_however_long_the_window(smoothing: int) -> None:
    """The window's mean is kept as a running total: it must not drift away from the mean summed
    anew, over many windows (3,000 values) and with a window of 1,000 values."""
    params = BurstParams(smoothing=smoothing, history=1000, warmup=100, refractory=0)
    values = _uneven(3000)
    expected = _straightforward(params, values)
    reported = [x for x in expected if x > 0]
    assert len(reported) > 1000 and min(reported) < 0.5 and max(reported) > 0.99  # a real comparison
    assert _feed(BurstDetector(params), values) == pytest.approx(expected, rel=0, abs=1e-9)


def test_a_running_total_rounded_below_zero_is_a_mean_of_zero() -> None:
    """Once 10^12 and 0.1 have left the window, the total of floats added and taken away is
    -2.4e-05, not 0: with a tiny pseudo-count its log was a math domain error."""
    params = BurstParams(smoothing=3, pseudo_count=1e-300, history=3, warmup=2, refractory=0)
    values = [1e12, 0.1, 0.0, 0.0, 0.0, 0.0]
    assert _feed(BurstDetector(params), values) == _straightforward(params, values)


_Item = TypeVar("_Item")


def test_each_value_reads_a_bounded_number_of_counts_whatever_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bounded work per value: the mean of a window of 1,000 counts is not summed anew at each
    value (amortised, each count is read about once more: when the whole window has been replaced)."""
    read = 0

    class CountingDeque(deque[_Item]):
        def __iter__(self) -> Iterator[_Item]:
            nonlocal read
            for item in super().__iter__():
                read += 1
                yield item

    monkeypatch.setattr(burst, "deque", CountingDeque)
    detector = BurstDetector(BurstParams(smoothing=1000, history=1000, warmup=100))
    values = _uneven(5000)
    _feed(detector, values)
    assert read <= 2 * len(values)


def test_missing_values_are_skipped() -> None:
    plain, gappy = BurstDetector(), BurstDetector()
    values = _calm(2) + [1000.0] * 3
    with_gaps = [v for value in values for v in (value, math.nan)]
    outputs = _feed(gappy, with_gaps)
    assert outputs[::2] == _feed(plain, values)
    assert set(outputs[1::2]) == {0.0}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("smoothing", 0),
        ("history", 0),
        ("warmup", 0),
        ("pseudo_count", 0.0),
        ("upper_quantile", 1.0),
        ("alarm_level", 1.0),
        ("alarm_level", 0.3),
        ("alarm_level", math.nan),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(field: str, value: float) -> None:
    """Refused where they are made, as ScoringParams are: an embedder hears which one."""
    with pytest.raises(InvalidValue, match="must be") as refused:
        changes: dict[str, Any] = {field: value}
        BurstParams(**changes)
    assert refused.value.field == field


def test_a_count_too_large_for_a_float_is_taken_as_the_largest() -> None:
    detector = BurstDetector()
    for _ in range(DEFAULT_BURST_PARAMS.warmup + 10):
        detector.update(5)
    assert 0.0 <= detector.update(10**400) <= 1.0


@pytest.mark.parametrize("value", [-1, -0.5, -(10**400), -1e300, Fraction(-1, 2)])
def test_a_negative_count_is_refused_naming_it(value: object) -> None:
    """A count is a number from 0: a negative one was read as 0 without a word (a counter
    that went down, or a sign error upstream, passed for a quiet interval)."""
    detector = BurstDetector(SMALL)
    detector.update(1.0)
    with pytest.raises(InvalidValue) as refused:
        detector.update(value)  # type: ignore[arg-type]
    assert refused.value.field == "value"
    assert "from 0" in refused.value.rule, refused.value.rule
    assert _feed(detector, [1.0] * 30) == _feed(BurstDetector(SMALL), [1.0] * 31)[1:]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pseudo_count", "2"),
        ("pseudo_count", True),
        ("pseudo_count", math.inf),
        ("upper_quantile", "0.99"),
        ("upper_quantile", None),
        ("alarm_level", True),
        ("alarm_level", "0.998"),
        ("smoothing", 2**63),
        ("smoothing", 3.0),
        ("history", 2**63),
        ("history", True),
        ("refractory", -1),
        ("refractory", 2**63),
        ("warmup", None),
    ],
)
def test_parameters_of_the_wrong_type_or_beyond_their_bounds_are_refused_naming_them(
    field: str, value: object
) -> None:
    """A text or a bool where a number belongs, or a window too long to allocate, was a
    TypeError or an OverflowError, or was taken (pseudo_count=True counted as 1)."""
    changes: dict[str, Any] = {field: value}
    with pytest.raises(InvalidValue) as refused:
        BurstParams(**changes)
    assert refused.value.field == field


def test_a_warm_up_longer_than_the_history_it_keeps_is_refused() -> None:
    """The reference never holds more than ``history`` rates: a longer warm-up never ends, and
    the detector answered 0 for ever."""
    with pytest.raises(InvalidValue) as refused:
        BurstParams(history=100, warmup=101)
    assert refused.value.field == "warmup"
    assert "history" in refused.value.rule
    assert BurstParams(history=100, warmup=100).warmup == 100


def test_a_detector_refuses_params_that_are_not_burst_params() -> None:
    with pytest.raises(InvalidValue) as refused:
        BurstDetector(5)  # type: ignore[arg-type]
    assert refused.value.field == "params"


@pytest.mark.parametrize("value", [True, False, "5", None, [1], 1 + 2j, Decimal("1")])
def test_a_value_that_is_not_a_count_is_refused_naming_it(value: object) -> None:
    """A bool was counted as 0 or 1; text, None, a complex or a Decimal were a TypeError from
    deep inside (a Decimal only at the next sum)."""
    detector = BurstDetector(SMALL)
    detector.update(1.0)
    with pytest.raises(InvalidValue) as refused:
        detector.update(value)  # type: ignore[arg-type]
    assert refused.value.field == "value"
    # The refused value left nothing behind: the detector goes on as if it had not been given.
    assert _feed(detector, [1.0] * 30) == _feed(BurstDetector(SMALL), [1.0] * 31)[1:]


def test_a_fraction_is_a_count_like_its_float() -> None:
    fractions: list[Any] = [Fraction(1, 2)] * 30 + [Fraction(900)] * 3
    assert _feed(BurstDetector(SMALL), fractions) == _feed(BurstDetector(SMALL), [0.5] * 30 + [900.0] * 3)


_EXTREMES = st.sampled_from([0, 1, 2**63 - 1, 10**400, 1e12, 1.7e308, 5e-324, 0.0, math.nan, math.inf])


@settings(max_examples=80, deadline=None)
@given(
    runs=st.lists(st.tuples(_EXTREMES, st.integers(1, 120)), min_size=1, max_size=8),
    small=st.booleans(),
)
def test_likelihood_stays_in_the_unit_interval_for_extreme_values_and_long_constant_runs(
    runs: list[tuple[float, int]], small: bool
) -> None:
    detector = BurstDetector(SMALL if small else BurstParams(history=400, warmup=50, refractory=20))
    for value, length in runs:
        for _ in range(length):
            likelihood = detector.update(value)
            assert 0.0 <= likelihood <= 1.0
