"""The streaming burst detector."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout.domain.burst import BurstDetector


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(min_value=0, max_value=1e7), min_size=1, max_size=600))
def test_likelihood_is_always_in_unit_interval(values: list[float]) -> None:
    detector = BurstDetector()
    for value in values:
        likelihood = detector.update(value)
        assert 0.0 <= likelihood <= 1.0
        assert not math.isnan(likelihood)


def test_a_sustained_burst_is_flagged_and_calm_is_not() -> None:
    detector = BurstDetector()
    calm = [100 + (i % 7) * 3 for i in range(1500)]
    calm_peak = max(detector.update(v) for v in calm)
    burst = [detector.update(v) for v in [2000] * 12]
    assert calm_peak < 0.99
    assert max(burst) >= 0.99


def test_depends_only_on_the_past() -> None:
    first, second = BurstDetector(), BurstDetector()
    prefix = [float(100 + i % 13) for i in range(400)]
    a = [first.update(v) for v in [*prefix, 5.0]]
    b = [second.update(v) for v in [*prefix, 5.0, 99999.0]]
    assert a == b[: len(a)]
