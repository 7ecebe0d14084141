"""A streaming burst detector: feed one count at a time, get an anomaly likelihood in [0, 1].

A burst is a tweet rate well above what the recent past counts as a *high* rate:

1. *Rate*: the mean of the last few counts (``smoothing``: 15 minutes of 5-minute counts), on a
   log scale since counts burst multiplicatively, with a pseudo-count that damps the noise of
   sparse series (a series of 0-3 tweets per interval should not burst on a 5).
2. *Reference*: the distribution of that rate over a sliding history of two weeks, kept as a
   sorted list so that its median and upper quantile (99 %) are exact and robust. The daily
   cycle and the weekday/weekend rhythm are inside the history, so the usual daily peak sits at
   or below the upper quantile and is not a burst. A rate joins the history once it has left the
   current smoothing window, so a burst is never its own reference, and capped at the rate that
   was then at the alarm level (winsorized): a burst that lasts hours does not lift the upper
   quantile to its own level and hide the next burst for two weeks, while a lasting change of
   level still moves the reference up, step by step.
3. *Likelihood*: the probability that a rate of the history is below the current one, with an
   exponential upper tail through the median and the upper quantile,
   ``1 - 0.5 * exp(-(rate - median) / beta)`` with ``beta = (q_upper - median) / ln(0.5 / (1 -
   upper))``: 0.5 at the median, 0.99 at the 99 % quantile, towards 1 above (0 well below the
   median).

The detector raises an alarm when the likelihood reaches ``alarm_level``; then it stays quiet
for a refractory day (one burst is one event): its output is capped below the alarm level. The
refractory period is tied to ``alarm_level``, so a threshold is varied by changing
``alarm_level``, not by reading the same output at another level. Each update depends only
on values already seen; non-finite values are skipped. The defaults assume one value every 5
minutes.

Cost: the mean of the window is a running total (each count added once and taken away once,
and the window summed again once it has been wholly replaced, so that float rounding does not
build up), whatever ``smoothing``. The reference is a sorted list: a bisection, one insertion
and one deletion a value, and these move the list's tail, so the cost grows with ``history``:
a few microseconds at the default two weeks (4,032 rates), about 50-80 us a value at 100,000,
1 ms at 1,000,000 and 15 ms at 10,000,000 (measured 2026-12-03).
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from marketscout.domain.errors import InvalidValue
from marketscout.domain.inputs import kind as _kind
from marketscout.domain.numeric import RealNumber, finite, real, whole

_MIN_SPREAD = 0.1  # log units: with a near-constant history, a 10 % rise is the scale of a burst
_MAX_COUNT = 1e12  # larger counts are clipped, so that sums and logs stay finite
#: The longest window (smoothing, history, warm-up, refractory period) in values: 95 years of
#: 5-minute counts; a longer one could not be allocated.
MAX_VALUES = 10_000_000
_NOT_A_COUNT = "must be a count: an int or a float (NaN or an infinity for a missing value), not "
_NEGATIVE = "must be a count from 0 (NaN or an infinity for a missing value), not a negative number"


@dataclass(frozen=True, slots=True)
class BurstParams:
    smoothing: int = 3  # values averaged into the rate: 15 minutes of 5-minute counts
    pseudo_count: float = 2.0  # added to the mean count before the log
    history: int = 14 * 288  # two weeks of 5-minute values form the reference distribution
    upper_quantile: float = 0.99  # the "usual high" of the history
    warmup: int = 288  # a day of history before any likelihood is reported
    # The one fixed threshold (also the backtest's default): rarer than 1 rate in 500 of the
    # history, i.e. about 0.41 of the median-to-q99 distance above the 99 % quantile.
    alarm_level: float = 0.998
    refractory: int = 288  # one day of 5-minute values

    if TYPE_CHECKING:
        # Any real number in, a float out (as ScoringParams'): see there.
        def __init__(
            self,
            smoothing: int = ...,
            pseudo_count: RealNumber = ...,
            history: int = ...,
            upper_quantile: RealNumber = ...,
            warmup: int = ...,
            alarm_level: RealNumber = ...,
            refractory: int = ...,
        ) -> None: ...

    def __post_init__(self) -> None:
        """Refuse, naming the field, what the detector cannot run with (as ScoringParams does):
        a bool or text where a number belongs, a window beyond :data:`MAX_VALUES`, a warm-up
        longer than the history (the reference never holds more: it would never end)."""
        for name, low in (("smoothing", 1), ("history", 1), ("warmup", 1), ("refractory", 0)):
            value = whole(getattr(self, name))  # any whole number (a NumPy integer), as an int
            if value is None or not low <= value <= MAX_VALUES:
                raise InvalidValue(name, f"must be a whole number from {low} to {MAX_VALUES:,}")
            object.__setattr__(self, name, value)
        if self.warmup > self.history:
            raise InvalidValue(
                "warmup", f"must be at most history ({self.history}): the reference holds no more rates"
            )
        # Any real number (a NumPy float), as a float.
        pseudo_count = finite(self.pseudo_count)
        if pseudo_count is None or not pseudo_count > 0:
            raise InvalidValue("pseudo_count", "must be a finite number above 0")
        upper_quantile = real(self.upper_quantile)
        if upper_quantile is None or not 0.5 < upper_quantile < 1:
            raise InvalidValue("upper_quantile", "must be a number above 0.5 and below 1")
        alarm_level = real(self.alarm_level)
        if alarm_level is None or not 0.5 <= alarm_level < 1:
            raise InvalidValue("alarm_level", "must be from 0.5 to below 1: a likelihood never reaches 1")
        object.__setattr__(self, "pseudo_count", pseudo_count)
        object.__setattr__(self, "upper_quantile", upper_quantile)
        object.__setattr__(self, "alarm_level", alarm_level)


DEFAULT_BURST_PARAMS = BurstParams()


class BurstDetector:
    """Online; ``update`` returns the likelihood that the stream is in a burst right now."""

    __slots__ = (
        "_alarm_distance",
        "_cap",
        "_ceiling",
        "_history",
        "_params",
        "_pending",
        "_quiet",
        "_recent",
        "_sorted",
        "_tail",
        "_total",
        "_unsummed",
    )

    def __init__(self, params: BurstParams = DEFAULT_BURST_PARAMS) -> None:
        if not isinstance(params, BurstParams):
            raise InvalidValue("params", f"must be a BurstParams, not {_kind(params)}")
        self._params = params
        self._recent: deque[float] = deque(maxlen=params.smoothing)
        # The sum of the counts in ``_recent``, kept as they come and go, and how many more
        # counts until it is summed again.
        self._total: float = 0
        self._unsummed = params.smoothing
        self._pending: deque[float] = deque()
        self._history: deque[float] = deque()
        self._sorted: list[float] = []
        self._quiet = 0
        # an exponential tail through the median and the upper quantile: rate = median + spread
        # means a tail probability of 1 - upper_quantile
        self._tail = math.log(0.5 / (1.0 - params.upper_quantile))
        # while quiet after an alarm the output stays below the alarm level
        self._cap = min(params.upper_quantile, math.nextafter(params.alarm_level, 0.0))
        # The rate at the alarm level, from the reference as it stood at the last likelihood
        # (none before the warm-up ends): what a rate joining the reference is capped at.
        self._alarm_distance = -math.log(2.0 * (1.0 - params.alarm_level))
        self._ceiling = math.inf

    def update(self, value: RealNumber) -> float:
        """The likelihood that the stream is in a burst, ``value`` being the next count.

        The rule: a count is a real number from 0, an int or a float (any other real number, a
        NumPy scalar or a Fraction, is read as its float); one above 10^12 counts as 10^12. NaN
        or an infinity is a missing value: skipped, the answer 0. A negative count, and
        anything that is not a real number (a bool, text, None, a Decimal, a complex), is
        refused with :class:`InvalidValue` naming ``value``, and leaves the detector as it was."""
        if type(value) is not float and type(value) is not int:
            value = _count(value)
        try:
            if not math.isfinite(value):
                return 0.0
        except OverflowError:  # an int beyond any float: the largest count there is
            value = _MAX_COUNT if value > 0 else -1.0
        if value < 0:
            raise InvalidValue("value", _NEGATIVE)
        p = self._params
        count = min(value, _MAX_COUNT)
        recent = self._recent
        if len(recent) == p.smoothing:
            self._total -= recent[0]  # the count about to leave the window
        recent.append(count)
        self._total += count
        self._unsummed -= 1
        if self._unsummed == 0:
            # The whole window replaced since the last exact sum: sum it again, so that the
            # rounding of floats added and taken away never builds up (amortised, one more
            # addition a value; whole counts are exact anyway).
            self._total = sum(recent)
            self._unsummed = p.smoothing
        # max: a float total with its rounding may end a hair below 0 when all counts left are 0
        rate = math.log(p.pseudo_count + max(self._total, 0.0) / len(recent))

        self._pending.append(rate)
        if len(self._pending) > p.smoothing:
            # A burst's rates join the reference at most at the alarm level (winsorized), so
            # that one burst does not lift the reference's upper quantile and hide the next.
            self._remember(min(self._pending.popleft(), self._ceiling))
        if len(self._sorted) < p.warmup:
            return 0.0

        likelihood = self._likelihood(rate)
        if self._quiet > 0:
            self._quiet -= 1
            return min(likelihood, self._cap)
        if likelihood >= p.alarm_level:
            self._quiet = p.refractory
        return likelihood

    def _remember(self, rate: float) -> None:
        self._history.append(rate)
        bisect.insort(self._sorted, rate)
        if len(self._history) > self._params.history:
            old = self._history.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def _quantile(self, q: float) -> float:
        ordered = self._sorted
        position = q * (len(ordered) - 1)
        i = int(position)
        if i + 1 >= len(ordered):
            return ordered[-1]
        share = position - i
        return ordered[i] * (1.0 - share) + ordered[i + 1] * share

    def _likelihood(self, rate: float) -> float:
        median = self._quantile(0.5)
        spread = max(self._quantile(self._params.upper_quantile) - median, _MIN_SPREAD)
        self._ceiling = median + spread * self._alarm_distance / self._tail
        distance = (rate - median) / spread * self._tail
        if distance <= -math.log(2.0):
            return 0.0
        return min(max(1.0 - 0.5 * math.exp(-distance), 0.0), 1.0)


def _count(value: object) -> float:
    """A real number that is not an int or a float, as a float (its sign checked by the caller);
    InvalidValue naming ``value`` for anything else (a bool is a truth, not a count; a Decimal
    is not a :class:`numbers.Real`, as everywhere in the domain)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValue("value", _NOT_A_COUNT + _kind(value))
    try:
        return float(value)
    except OverflowError:  # a real beyond any float (a huge Fraction): the largest, or 0
        return _MAX_COUNT if value > 0 else -1.0  # type: ignore[operator]  # Real declares no order
