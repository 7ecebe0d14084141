"""A streaming burst detector: feed one count at a time, get an anomaly likelihood in [0, 1].

Two stages, in the spirit of Numenta's anomaly likelihood:

1. *Surprise*: how far the new value (on a log scale, since counts burst multiplicatively)
   stands above an exponentially weighted baseline of recent values, in units of their
   exponentially weighted deviation.
2. *Likelihood*: whether the average surprise of the last few values is unusual compared with
   the distribution of surprise over a long history, as a normal tail probability. A single odd
   value does not fire; a sustained rise does.

After it reports a burst the detector stays quiet for a refractory period, since one burst is
one event. Every update is O(1) in time and memory; it depends only on values already seen.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BurstParams:
    baseline_alpha: float = 0.005
    short_window: int = 6
    long_alpha: float = 0.0005
    warmup: int = 300
    alarm_level: float = 0.99
    refractory: int = 288  # one day of 5-minute values


DEFAULT_BURST_PARAMS = BurstParams()


def _normal_tail(z: float) -> float:
    """P(Z > z) for a standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


class BurstDetector:
    """Online; ``update`` returns the likelihood that the stream is in a burst right now."""

    __slots__ = (
        "_count",
        "_long_mean",
        "_long_var",
        "_mean",
        "_params",
        "_quiet",
        "_recent",
        "_recent_sum",
        "_var",
    )

    def __init__(self, params: BurstParams = DEFAULT_BURST_PARAMS) -> None:
        self._params = params
        self._count = 0
        self._mean = 0.0
        self._var = 0.0
        self._recent: deque[float] = deque(maxlen=params.short_window)
        self._recent_sum = 0.0
        self._long_mean = 0.0
        self._long_var = 1.0
        self._quiet = 0

    def update(self, value: float) -> float:
        p = self._params
        x = math.log1p(max(value, 0.0))
        self._count += 1
        if self._count == 1:
            self._mean = x
            return 0.0
        deviation = x - self._mean
        spread = math.sqrt(self._var) + 0.1
        surprise = max(deviation / spread, 0.0)
        # The baseline learns slowly from surprising values, so a burst does not become normal at once.
        weight = p.baseline_alpha / (1.0 + surprise)
        self._mean += weight * deviation
        self._var = (1 - weight) * (self._var + weight * deviation * deviation)

        if len(self._recent) == self._recent.maxlen:
            self._recent_sum -= self._recent[0]
        self._recent.append(surprise)
        self._recent_sum += surprise
        short = self._recent_sum / len(self._recent)

        z = (short - self._long_mean) / math.sqrt(self._long_var + 1e-9)
        delta = surprise - self._long_mean
        self._long_mean += p.long_alpha * delta
        self._long_var = (1 - p.long_alpha) * (self._long_var + p.long_alpha * delta * delta)

        if self._count < p.warmup:
            return 0.0
        likelihood = 1.0 - _normal_tail(z)
        if self._quiet > 0:
            self._quiet -= 1
            return min(likelihood, p.alarm_level * 0.5)
        if likelihood >= p.alarm_level:
            self._quiet = p.refractory
        return likelihood
