"""The trend-scoring engine: one function for the API, the backtest and embedders.

``score_item`` turns an item's cumulative engagement snapshots (any number of ads, platforms
and regions) into a 0-100 score, a life-cycle status, the components behind the score, growth
over standard windows, a short forecast and a confidence. Pure and deterministic.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import attrgetter, itemgetter, lt
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from marketscout.domain.errors import InvalidValue
from marketscout.domain.figures import NONE_BEFORE, rise, times
from marketscout.domain.inputs import instant
from marketscout.domain.inputs import kind as _kind
from marketscout.domain.instants import LATEST
from marketscout.domain.model import (
    GROWTH_WINDOW_DAYS,
    MAX_COUNT,
    WHOLE_NUMBER,
    EngagementSnapshot,
    Platform,
    TrendAssessment,
    TrendStatus,
    check_reading,
)
from marketscout.domain.numeric import RealNumber, finite, real, whole

DAY = timedelta(days=1)
WINDOWS: tuple[tuple[str, timedelta], ...] = tuple(
    (label, days * DAY) for label, days in GROWTH_WINDOW_DAYS.items()
)
_WINDOW_DAYS = tuple(GROWTH_WINDOW_DAYS.items())

# Interactions (likes + comments + shares) per view that is ordinary on each platform.
PLATFORM_ENGAGEMENT_NORM: Mapping[Platform, float] = {
    Platform.TIKTOK: 0.08,
    Platform.INSTAGRAM: 0.05,
    Platform.FACEBOOK: 0.03,
    Platform.YOUTUBE: 0.04,
    Platform.TWITTER: 0.02,
}


# In logits (docs/scoring.md, "Swings").
SWING_PENALTY = 1.5


# Days of gains observed before the last day, at least, for its usual range (the surprise).
MIN_RANGE_DAYS = 3


# The bounds of ScoringParams: weights and penalties (in logits per unit of their term), the
# centre (in units of momentum), the scale.
MAX_WEIGHT = 10
MAX_CENTRE = 50
MIN_SCALE, MAX_SCALE = 0.01, 100
# The logit is clipped to this before the logistic: beyond it the score rounds to 0 or 100
# anyway, and math.exp would overflow past about 709.
MAX_LOGIT = 50.0


@dataclass(frozen=True, slots=True)
class ScoringParams:
    """The engine's few parameters; ``docs/scoring.md`` says why each has its value."""

    # momentum = ln(relative growth per day) + reach_weight * ln(1 + views gained per day);
    # the weight at which E1 beats relative growth on every development file (docs/scoring.md,
    # "The reach weight").
    reach_weight: float = 0.05
    # The logistic that maps momentum onto 0-100: centre (score 50) and scale. The centre keeps
    # an item gaining 10,000 views a day where it scored with reach_weight 0.1 and centre -2.5:
    # -2.5 - 0.05 * ln(10,001).
    centre: float = -2.96
    scale: float = 1.0
    acceleration_weight: float = 0.15
    breadth_weight: float = 0.15
    quality_weight: float = 0.1
    concentration_penalty: float = 0.8
    # Taken off a rise that repeats the same days a week ago, or within a week that gained no
    # more than the week before (a seasonal product's peak days): docs/scoring.md, "Swings".
    swing_penalty: float = SWING_PENALTY
    horizon_days: int = 30
    forecast_days: int = 7
    # The forecast: the last day's gain, multiplied by this each day ahead (measured on real
    # data: trending items' daily gains fall by about 40 % a day, accelerating or not).
    forecast_daily_ratio: float = 0.6

    if TYPE_CHECKING:
        # What the type checker reads: any real number in (read as a float by __post_init__,
        # so the fields are floats out). At run time dataclass makes __init__ from the fields.
        def __init__(
            self,
            reach_weight: RealNumber = ...,
            centre: RealNumber = ...,
            scale: RealNumber = ...,
            acceleration_weight: RealNumber = ...,
            breadth_weight: RealNumber = ...,
            quality_weight: RealNumber = ...,
            concentration_penalty: RealNumber = ...,
            swing_penalty: RealNumber = ...,
            horizon_days: int = ...,
            forecast_days: int = ...,
            forecast_daily_ratio: RealNumber = ...,
        ) -> None: ...

    def __post_init__(self) -> None:
        """Refuse, naming the field, what the engine cannot run with (an embedding service or
        ``backtest --set`` hears it here, not as a crash in scoring). Weights may be negative:
        a term is tried against the data in both directions. The bounds hold the defaults and
        every value docs/scoring.md measures (none beyond 3 from 0) well inside; past them one
        term swamps all the others (and math.exp overflowed)."""
        weights = ("reach_weight", "acceleration_weight", "breadth_weight", "quality_weight")
        for name in (*weights, "concentration_penalty", "swing_penalty"):
            _set_within(self, name, -MAX_WEIGHT, MAX_WEIGHT)
        _set_within(self, "centre", -MAX_CENTRE, MAX_CENTRE)
        _set_within(self, "scale", MIN_SCALE, MAX_SCALE)
        # Two weeks at least: the status compares the last week with the one before.
        _set_whole(self, "horizon_days", 14, 365)
        _set_whole(self, "forecast_days", 1, 30)
        _set_within(self, "forecast_daily_ratio", 0, 1)


def _set_within(params: object, name: str, low: float, high: float) -> None:
    """The field as a float, once known to be a real number (not a bool) from ``low`` to
    ``high``: InvalidValue naming it otherwise."""
    number = finite(getattr(params, name))
    if number is None or not low <= number <= high:
        raise InvalidValue(name, f"must be a number from {low:g} to {high:g}")
    object.__setattr__(params, name, number)


def _set_whole(params: object, name: str, low: int, high: int) -> None:
    """The field as an int, once known to be a whole number (not a bool) from ``low`` to
    ``high``: InvalidValue naming it otherwise."""
    number = whole(getattr(params, name))
    if number is None or not low <= number <= high:
        raise InvalidValue(name, f"must be a whole number from {low} to {high}")
    object.__setattr__(params, name, number)


DEFAULT_PARAMS = ScoringParams()
# Momentum's floor: a relative growth per day below this (none, on a day without gains) counts as
# this, since ln 0 has no value; momentum is then ln of it (about -13.82) plus the reach term.
RELATIVE_FLOOR = 1e-6
# Rising: gains a tenth above those of the days compared with. Accelerating (for the status):
# the last three days' gains that much above the three before.
RISE_MARGIN = 1.1
ACCELERATING = math.log(RISE_MARGIN)
# Engagement per view below a third of the platform's norm: bot-like views, never "exploding".
BOT_LIKE_QUALITY = math.log(1 / 3)
# Peaked a day ago: only when the last day's gain fell below this share of the day before's
# (a spike that is over); a smaller fall a day after the best day is not yet a peak.
COLLAPSED = 0.1
# Days' gains within this share of each other are equal: a gain spread over days without
# readings gives each day the same share, up to the last bits of the curve read at the days'
# edges (the last three days are not "less than the three before", the peak is the most recent
# of them).
TIE = 1e-9
# Why an item whose readings record no like, comment or share is never exploding.
VIEWS_ALONE = "no likes, comments or shares recorded: not called exploding on views alone"
# The score from which an item may be called exploding (with the guards of the status).
EXPLODING_SCORE = 70.0
# The reasons of an assessment with nothing to compare: no reading (score 0) or one (score 50).
NO_ENGAGEMENT = "no engagement recorded"
TOO_FEW_READINGS = "not enough data yet"


def measured(assessment: TrendAssessment) -> bool:
    """Whether readings to compare stand behind the assessment: not the neutral placeholder
    given for no reading or for one (its score measures nothing)."""
    return assessment.confidence > 0 and assessment.reasons not in ((NO_ENGAGEMENT,), (TOO_FEW_READINGS,))


@functools.cache
def _forecast_powers(ratio: float, days: int) -> tuple[float, ...]:
    """``100 * ratio ** k`` for the days 1..``days`` ahead (computed once per ratio): the day's
    factor in hundredths, so that ``round(gain * factor) / 100`` is the forecast to the cent."""
    return tuple(100.0 * ratio**k for k in range(1, days + 1))


class Reading(Protocol):
    """What :func:`reading_series` reads of a raw reading (an :class:`EngagementSnapshot`, or
    any object with these attributes)."""

    @property
    def ad_id(self) -> int: ...
    @property
    def platform(self) -> Platform: ...
    @property
    def region(self) -> str: ...
    @property
    def observed_at(self) -> datetime: ...
    @property
    def views(self) -> int: ...
    @property
    def likes(self) -> int: ...
    @property
    def comments(self) -> int: ...
    @property
    def shares(self) -> int: ...


class ReadingSeries(NamedTuple):
    """One ad's readings in one region, in time order: what the engine scores. The counters are
    cumulative; ``interactions`` is likes + comments + shares, at most ``MAX_COUNT`` (2^63 - 1,
    as every count). :func:`reading_series` groups raw readings into these; a store hands them to
    re-scoring already grouped (:func:`hourly_series`), as parallel lists rather than an object
    per reading."""

    ad_id: int
    platform: Platform
    region: str
    epochs: list[float]  # POSIX seconds of each reading
    views: list[int]
    interactions: list[int]


# Series in (ad, region) order and readings in time order (the lower reading first at equal
# times), whatever order they arrive in: the sums below then do not depend on it, to the last bit.
_SERIES_ORDER = itemgetter(0, 2)
_KEY_ORDER = itemgetter(0)


# A series' readings in time order, the lower reading first at equal times: fewer views, then
# (only where a series has readings that share a time: rare, so the common sort stays cheap)
# fewer interactions. Readings of one instant that disagree then come out the same whatever
# order they arrive in.
_READING_ORDER = attrgetter("observed_at", "views")


class _PlainReading(NamedTuple):
    """An embedder's reading whose whole numbers were of another type (NumPy's), with them as
    plain ints: what the engine groups in its place."""

    ad_id: int
    platform: Platform
    region: str
    observed_at: datetime
    views: int
    likes: int
    comments: int
    shares: int


def _interactions(r: Reading) -> int:
    """A reading's likes + comments + shares, at most :data:`MAX_COUNT`: each may be that high,
    and the stores keep the sum in a 64-bit counter, as every count (so the engine reads the same
    figure from raw readings and from the stores' rollups)."""
    total = r.likes + r.comments + r.shares
    return total if total <= MAX_COUNT else MAX_COUNT


def _at_most_max(totals: list[int]) -> list[int]:
    """Sums of counts, each at most :data:`MAX_COUNT` (as :func:`_interactions`): looked at once
    per series rather than once per reading, which scoring raw readings does for every one."""
    if not totals or max(totals) <= MAX_COUNT:
        return totals
    return [total if total <= MAX_COUNT else MAX_COUNT for total in totals]


def _rising(epochs: list[float]) -> bool:
    """Whether the times rise strictly (none repeated, in order): nearly always so, and cheaper
    to see than the repeats (a set) and the order (a sorted copy) it rules out."""
    return all(map(lt, epochs, epochs[1:]))


def _tie_order(r: Reading) -> tuple[datetime, int, int]:
    return (r.observed_at, r.views, _interactions(r))


def reading_series(readings: Iterable[Reading], as_of: datetime | None = None) -> list[ReadingSeries]:
    """The readings (observed at or before ``as_of``, when given) grouped per ad and region;
    :class:`InvalidValue` naming ``readings`` when they are not readings, ``as_of`` when it is
    not an aware datetime from 1970 to 2100 (as :func:`score_item`)."""
    if as_of is not None:
        instant("as_of", as_of)
    return _reading_series("readings", readings, as_of)


def _items(field: str, given: object, what: str) -> Iterator[Any]:
    """An iterator over ``given``; InvalidValue naming ``field`` when it is text, a mapping or
    not iterable (concrete types and ``iter``, not the ABCs: every call to score pays this)."""
    if not isinstance(given, str | bytes | dict):
        try:
            return iter(given)  # type: ignore[call-overload,no-any-return]
        except TypeError:
            pass
    raise InvalidValue(field, f"must be a list (or any iterable) of {what}, not {_kind(given)}")


def _reading_series(field: str, readings: Iterable[Reading], as_of: datetime | None) -> list[ReadingSeries]:
    """:func:`reading_series`, saying ``field`` of input that is not readings (an embedding
    service hears a rule, not a TypeError or an AttributeError from deep inside)."""
    items = _items(field, readings, "readings")
    grouped: dict[tuple[int, str], list[Reading]] = defaultdict(list)
    later = 0  # readings after as_of: with those kept, the index of a reading that fails
    try:
        for r in items:
            # A snapshot checked itself when built; any other reading is checked here, by field.
            if type(r) is not EngagementSnapshot and (plain := check_reading(r)) is not None:
                r = _PlainReading(plain[0], r.platform, r.region, r.observed_at, *plain[1:])
            if as_of is None or r.observed_at <= as_of:
                grouped[(r.ad_id, r.region)].append(r)
            else:
                later += 1
    except AttributeError as error:
        index = later + sum(len(rows) for rows in grouped.values())
        raise InvalidValue(
            field,
            f"item {index} is {_kind(error.obj)}: must be an EngagementSnapshot or have its "
            "ad_id, platform, region, observed_at, views, likes, comments and shares",
        ) from error
    series: list[ReadingSeries] = []
    platforms: dict[int, Platform] = {}
    for (ad_id, region), rows in sorted(grouped.items(), key=_KEY_ORDER):
        given = rows[0].platform
        platform = platforms.setdefault(ad_id, given if type(given) is Platform else Platform(given))
        if len(seen := {platform, *(row.platform for row in rows)}) > 1:
            raise _two_platforms(ad_id, seen)
        rows.sort(key=_READING_ORDER)
        epochs = [row.observed_at.timestamp() for row in rows]
        if not _rising(epochs) and len(set(epochs)) < len(epochs):
            rows.sort(key=_tie_order)
        series.append(
            ReadingSeries(
                ad_id,
                platform,
                region,
                epochs,
                [row.views for row in rows],
                _at_most_max([row.likes + row.comments + row.shares for row in rows]),
            )
        )
    return series


def _not_a_list(s: ReadingSeries) -> InvalidValue:
    """The refusal of a series whose epochs, views or interactions have no length (None, a
    number), naming the first such."""
    for name in ("epochs", "views", "interactions"):
        given = getattr(s, name)
        if not isinstance(given, Sized):
            return InvalidValue(
                name, f"ad {s.ad_id} in {s.region}: must be a list of numbers, not {_kind(given)}"
            )
    return InvalidValue("series", f"ad {s.ad_id} in {s.region}: must be a ReadingSeries")


def _two_platforms(ad_id: int, platforms: Iterable[str]) -> InvalidValue:
    """The refusal of readings of one ad on several platforms: an ad lives on one."""
    named = " and ".join(sorted({Platform(p).value for p in platforms}))
    return InvalidValue("platform", f"ad {ad_id} is read on {named}: an ad lives on one platform")


def hourly_series(
    snapshots: Iterable[EngagementSnapshot], *, since: datetime, until: datetime
) -> list[ReadingSeries]:
    """What re-scoring reads: for the hours that start in ``[floor(since), until]``, one reading
    per ad, region and UTC hour: the hour's last reading time, its highest views and its
    highest interactions. The stores keep these hours as rollups at ingest, so re-scoring does
    not read every raw reading again; the engine's daily buckets lose nothing by it. Series in
    (ad, region) order, hours in order."""
    first_hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours: dict[tuple[int, str], dict[datetime, list[EngagementSnapshot]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for s in snapshots:
        hour = s.observed_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if first_hour <= hour <= until:
            hours[(s.ad_id, s.region)][hour].append(s)
    series: list[ReadingSeries] = []
    for (ad_id, region), by_hour in sorted(hours.items(), key=_KEY_ORDER):
        ordered = [by_hour[hour] for hour in sorted(by_hour)]
        series.append(
            ReadingSeries(
                ad_id,
                ordered[0][0].platform,
                region,
                [max(r.observed_at for r in rows).timestamp() for rows in ordered],
                [max(r.views for r in rows) for rows in ordered],
                _at_most_max([max(r.likes + r.comments + r.shares for r in rows) for rows in ordered]),
            )
        )
    return series


@functools.lru_cache(maxsize=64)
def _older_edges(as_of_epoch: float, days: int) -> tuple[float, ...]:
    """The older edge of each of ``days`` days back from ``as_of_epoch`` (POSIX seconds), the
    newest day first: the same for every item scored at one moment, so computed once for them."""
    return tuple([as_of_epoch - (k + 1) * 86400.0 for k in range(days)])


def _fade(recent: float, base: float | None) -> float:
    """How much of a swing ``recent`` gains are against the ``base`` they repeat: all of one up
    to a tenth above it (``RISE_MARGIN``), none from twice it, linear between; none without a
    base or gains. Never higher for higher ``recent`` gains: more growth never lowers a score."""
    if base is None or base <= 0 or recent <= 0:
        return 0.0
    return _clip((2.0 - recent / base) / (2.0 - RISE_MARGIN), 0.0, 1.0)


def _rounded(x: float, scale: float) -> float:
    """``x`` to the nearest 1/``scale`` (100.0: two decimals), for a finite ``x``: what
    ``round(x, digits)`` gives, at a quarter of its cost (it converts to decimal digits and
    back), except where ``x * scale`` lies within its own rounding error of a half (measured on
    50,000 varied items: the last cent of 4 forecasts above 10^10 views a day) and that a small
    negative ``x`` gives 0.0, not -0.0. The engine rounds about twenty figures an item."""
    return round(x * scale) / scale


_INF = math.inf
_COUNT_RULE = f"counts must be from 0 to {MAX_COUNT}"
_NUMBERS_RULE = f"counts must be whole numbers from 0 to {MAX_COUNT}"


_TIMES_RULE = "reading times must be finite numbers"
# The reading times' span, as every entry point's times (domain.instants): POSIX seconds.
_LATEST_EPOCH = LATEST.timestamp()
_EPOCHS_RULE = "reading times must lie between 0 and 4133980799.999999 (1970 to 2100 UTC)"


def _checked_lists(s: ReadingSeries, n: int) -> ReadingSeries:
    """The series, once its times are known to be finite numbers and its counts whole numbers
    from 0 (:func:`_sums_checked`), with its lists as lists of plain floats or ints (times) and
    plain ints (counts): as given when they are, else a copy (an array, or numbers of another
    type: NumPy's). InvalidValue naming the list otherwise (a float count, 1.5 or 2.0, too:
    counts are whole, as :func:`score_item` holds them). Numbers of another type are read as
    ints and floats before any sum: NumPy's int64 would wrap round past 2^63 - 1. The common
    case, lists of plain numbers, costs one look at each number's type."""
    if not (
        type(s.epochs) is list
        and type(s.views) is list
        and type(s.interactions) is list
        and _PLAIN_TYPES.issuperset(map(type, s.epochs))
        and _INT_TYPE.issuperset(map(type, s.views))
        and _INT_TYPE.issuperset(map(type, s.interactions))
    ):
        s = s._replace(
            epochs=_plain_numbers("epochs", s.epochs, s, _TIMES_RULE),
            views=_plain_numbers("views", s.views, s, _NUMBERS_RULE, whole_only=True),
            interactions=_plain_numbers("interactions", s.interactions, s, _NUMBERS_RULE, whole_only=True),
        )
    _sums_checked(s, n)
    return s


_PLAIN_TYPES = frozenset((int, float))
_INT_TYPE = frozenset((int,))


def _sums_checked(s: ReadingSeries, n: int) -> None:
    """Refuses by name NaN and infinities (the sums carry them) and counts below 0 or above
    :data:`MAX_COUNT`, rather than meet them as a crash further on: a sum and the least count
    per list of plain numbers, no loop per reading in Python (the engine checks every series it
    scores). A sum up to MAX_COUNT holds no count above it; only a higher sum (counts in the
    billions of billions) has its highest count looked at too."""
    total = sum(s.epochs) if n else 0.0
    if not -_INF < total < _INF:
        raise InvalidValue("epochs", f"ad {s.ad_id} in {s.region}: {_TIMES_RULE}")
    for name, counts in (("views", s.views), ("interactions", s.interactions)):
        if n and not (min(counts) >= 0 and (sum(counts) <= MAX_COUNT or max(counts) <= MAX_COUNT)):
            raise InvalidValue(name, f"ad {s.ad_id} in {s.region}: {_COUNT_RULE}")


def _plain_numbers(
    field: str, values: Iterable[object], s: ReadingSeries, rule: str, *, whole_only: bool = False
) -> list[Any]:
    """``values`` as a list of plain ints (whole numbers of any type: a NumPy integer) and,
    unless ``whole_only``, floats (other real numbers); InvalidValue naming ``field`` for
    anything else."""
    plain: list[Any] = []
    for value in values:
        if type(value) is int or (type(value) is float and not whole_only):
            plain.append(value)
            continue
        number: float | None = whole(value)
        if number is None:
            number = None if whole_only else real(value)
            if number is None:
                raise InvalidValue(field, f"ad {s.ad_id} in {s.region}: {rule}")
        plain.append(number)
    return plain


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _confidence(observations: int, observed_days: float) -> float:
    """Grows with the number of readings and the days they span (docs/scoring.md): never lower
    for one reading more, of any series, since neither falls."""
    return _clip((1 - math.exp(-observations / 12.0)) * (1 - math.exp(-(observed_days + 0.25) / 3.0)), 0, 1)


_ONE_READING_CONFIDENCE = _rounded(_confidence(1, 0.0), 1e4)


def score_item(
    snapshots: Iterable[Reading], as_of: datetime, params: ScoringParams = DEFAULT_PARAMS
) -> TrendAssessment:
    """Scores one item (a product, or a single ad) from its snapshots observed at or before ``as_of``
    (an aware datetime: :class:`InvalidValue` naming ``as_of`` otherwise)."""
    instant("as_of", as_of)
    _check_params(params)
    return score_series(_reading_series("snapshots", snapshots, as_of), as_of, params)


def _check_params(params: object) -> None:
    """InvalidValue naming ``params`` unless they are :class:`ScoringParams` (as the burst
    detector and the spread score name theirs), not an AttributeError from deep inside."""
    if not isinstance(params, ScoringParams):
        raise InvalidValue("params", f"must be a ScoringParams, not {_kind(params)}")


def _in_time_order(s: ReadingSeries) -> ReadingSeries:
    """The series' readings by time (no two of them share an instant: :func:`_one_per_instant`)."""
    rows = sorted(zip(s.epochs, s.views, s.interactions, strict=True))
    return s._replace(
        epochs=[row[0] for row in rows], views=[row[1] for row in rows], interactions=[row[2] for row in rows]
    )


def _one_per_instant(s: ReadingSeries) -> ReadingSeries:
    """The series with one reading per instant, in time order: of the readings that share an
    instant (the same reading sent twice, by two collectors, or one a moment behind the other),
    the highest views and the highest interactions. Readings given twice then change nothing."""
    views: dict[float, int] = {}
    interactions: dict[float, int] = {}
    for epoch, seen, engaged in zip(s.epochs, s.views, s.interactions, strict=True):
        views[epoch] = max(views.get(epoch, seen), seen)
        interactions[epoch] = max(interactions.get(epoch, engaged), engaged)
    epochs = sorted(views)
    return s._replace(
        epochs=epochs, views=[views[e] for e in epochs], interactions=[interactions[e] for e in epochs]
    )


def score_series(
    series: Iterable[ReadingSeries], as_of: datetime, params: ScoringParams = DEFAULT_PARAMS
) -> TrendAssessment:
    """Scores one item from its readings grouped per ad and region (:func:`reading_series`);
    readings after ``as_of`` are left out. :func:`score_item` is this on raw readings. A
    series whose readings are not in time order is put in order first; readings of one ad and
    region at the same instant (given twice, in one series or in two) count once, with their
    highest views and highest interactions; a series with empty lists counts as none."""
    instant("as_of", as_of)  # in the span every entry point takes: 1970 to 2100
    _check_params(params)
    as_of_epoch = as_of.timestamp()
    gathered: dict[tuple[int, str], ReadingSeries] = {}
    platforms: dict[int, Platform] = {}
    for index, s in enumerate(_items("series", series, "ReadingSeries")):
        try:
            epochs, views, interactions = s.epochs, s.views, s.interactions
        except AttributeError as error:
            raise InvalidValue("series", f"item {index} is {_kind(s)}: must be a ReadingSeries") from error
        try:
            n = len(epochs)
            if len(views) != n or len(interactions) != n:
                raise InvalidValue("series", f"ad {s.ad_id} in {s.region}: the lists differ in length")
        except TypeError as error:  # one of them has no length: None, a number
            raise _not_a_list(s) from error
        try:
            listed_platform = s.platform in PLATFORM_ENGAGEMENT_NORM
        except TypeError:  # unhashable: a list
            listed_platform = False
        if not listed_platform:
            raise InvalidValue("platform", f"must be one of: {', '.join(p.value for p in Platform)}")
        if type(s.ad_id) is not int:
            ad_id = whole(s.ad_id)
            if ad_id is None:
                raise InvalidValue("ad_id", WHOLE_NUMBER)
            s = s._replace(ad_id=ad_id)
        if (platform := platforms.setdefault(s.ad_id, s.platform)) != s.platform:
            raise _two_platforms(s.ad_id, (platform, s.platform))
        if not isinstance(s.region, str) or not s.region:
            raise InvalidValue("region", "must be a region code, not empty")
        s = _checked_lists(s, n)
        epochs, views, interactions = s.epochs, s.views, s.interactions
        key = (s.ad_id, s.region)
        if (known := gathered.get(key)) is not None:
            # The same ad and region in two series (two collectors'): read as one.
            s = s._replace(
                epochs=[*known.epochs, *epochs],
                views=[*known.views, *views],
                interactions=[*known.interactions, *interactions],
            )
        gathered[key] = s
    kept: list[ReadingSeries] = []
    observations = 0
    for s in gathered.values():
        if _rising(s.epochs):
            pass  # nearly every series: no time repeated, none out of order
        elif len(set(s.epochs)) < len(s.epochs):
            s = _one_per_instant(s)
        elif s.epochs != sorted(s.epochs):
            s = _in_time_order(s)
        # In time order (and finite: _sums_checked), the first and last times bound them all.
        if s.epochs and not (s.epochs[0] >= 0.0 and s.epochs[-1] <= _LATEST_EPOCH):
            raise InvalidValue("epochs", f"ad {s.ad_id} in {s.region}: {_EPOCHS_RULE}")
        cut = bisect_right(s.epochs, as_of_epoch)
        if not cut:  # no reading by as_of (or none at all): nothing to count
            continue
        if cut < len(s.epochs):
            s = s._replace(epochs=s.epochs[:cut], views=s.views[:cut], interactions=s.interactions[:cut])
        kept.append(s)
        observations += cut
    if observations < 2:
        return TrendAssessment(
            # One reading: nothing to compare it with. Neutral, as confident as the formula says
            # of one reading spanning no time (less than any two readings are).
            score=0.0 if not observations else 50.0,
            status=TrendStatus.STEADY if not observations else TrendStatus.EMERGING,
            confidence=0.0 if not observations else _ONE_READING_CONFIDENCE,
            components={},
            growth=dict.fromkeys(label for label, _ in WINDOWS),  # nothing to compare
            forecast=tuple(0.0 for _ in range(params.forecast_days)),
            reasons=(TOO_FEW_READINGS if observations else NO_ENGAGEMENT,),
        )
    if len(kept) > 1:
        kept.sort(key=_SERIES_ORDER)

    # Each series' increments (only a rise above the highest reading so far counts: counters
    # that go down, by corrections or deletions, never count as negative growth): views gained
    # per day before ``as_of`` (bucket 0 = the last 24 h), for the item and for each series'
    # last six days.
    span_days = 2 * max(params.horizon_days, 30)
    daily_all = [0.0] * span_days
    rising_ads: set[int] = set()
    rising_series = 0
    rising_regions: set[str] = set()
    rising_platforms: set[Platform] = set()
    ad_gain: dict[int, float] = defaultdict(float)
    quality_num = quality_den = norm_weighted = 0.0
    most_interactions = 0
    level_now = 0
    # The earliest reading time and the first readings' views, of all series together.
    first_epoch = math.inf
    first_level = 0
    quality_since = as_of_epoch - 7 * 86400.0
    older_edges = _older_edges(as_of_epoch, span_days)
    for ad_id, platform, region, epochs, views, interactions in kept:
        # The views counter read as a curve: its running maximum (a counter that goes down
        # adds nothing until it passes its highest reading again), rising evenly between
        # consecutive readings (an increment spread over the interval it covers; no two share
        # an instant here). A day's gain is the curve's rise within the day, read at the day's
        # edges, so the work follows the days a series spans, not its readings (a
        # series read every hour has 24 readings a day and the same days). A counter that
        # never goes down is its own running maximum.
        highest = views if views == sorted(views) else list(accumulate(views, max))
        # The level now is the highest reading. The last week's gains: from the first reading
        # after ``quality_since`` on (never the first reading: nothing before it).
        top = highest[-1]
        level_now += top
        first_level += views[0]
        if epochs[0] < first_epoch:
            first_epoch = epochs[0]
        recent_from = max(bisect_right(epochs, quality_since), 1)
        week_gain = top - highest[recent_from - 1]
        before_week = max(interactions[:recent_from])
        in_week = max(interactions[recent_from:], default=before_week)
        top_interactions = in_week if in_week > before_week else before_week
        if top_interactions > most_interactions:
            most_interactions = top_interactions
        quality_num += top_interactions - before_week
        quality_den += week_gain
        norm_weighted += week_gain * PLATFORM_ENGAGEMENT_NORM[platform]
        first_views = views[0]
        newest = epochs[-1]
        # The day of the newest reading: the newer edge of day k is as_of less k days, and a
        # reading exactly on an edge belongs to the older day (the curve at an edge counts it).
        newest_day = int((as_of_epoch - newest) / 86400.0)
        if as_of_epoch - newest_day * 86400.0 < newest:
            newest_day -= 1
        elif as_of_epoch - (newest_day + 1) * 86400.0 >= newest:
            newest_day += 1
        # The curve at the newer edges of days 0 to 6 (for the series' last six days), then
        # at each older edge until the first reading or the horizon.
        edges: list[float] = [top] * 7
        upper: float = top  # the curve at the day's newer edge
        i = len(epochs)
        for k in range(newest_day, span_days):
            edge = older_edges[k]
            i = bisect_right(epochs, edge, 0, i)
            if not i:  # the day reaches back past the first reading
                daily_all[k] += upper - first_views
                if k < 6:
                    edges[k + 1 :] = [first_views] * (6 - k)
                break
            lo, low = epochs[i - 1], highest[i - 1]
            lower = low + (highest[i] - low) * (edge - lo) / (epochs[i] - lo)
            daily_all[k] += upper - lower
            upper = lower
            if k < 6:
                edges[k + 1] = lower
        recent, before = top - edges[3], edges[3] - edges[6]
        ad_gain[ad_id] += recent
        # Rising: the last three days' gains a tenth above the three before, where those were
        # observed (unobserved days are not days without gains), or where the ad is new: first
        # seen with fewer views than it has gained since.
        if (
            recent > RISE_MARGIN * before
            and recent > 0
            and (epochs[0] <= as_of_epoch - 6 * 86400.0 or views[0] < top - views[0])
        ):
            rising_series += 1
            rising_ads.add(ad_id)
            rising_regions.add(region)
            rising_platforms.add(platform)

    daily = daily_all[: params.horizon_days]
    # What is reported is the relative change itself, or None where there is no earlier window
    # to compare with: the readings do not reach back to its start, or it gained nothing while
    # this window gained (a rise from nothing: the ratio would be about the raw view count); 0
    # where neither gained. The status reads the week's smoothed
    # ratio, defined on any data.
    # Whole days from the first reading to as_of, as the windows count them: the window of
    # ``days`` before the last was observed when this is at least 2 * days (a reported None is
    # then a window before that gained nothing, not one the readings do not reach back to).
    days_of_readings = int((as_of_epoch - first_epoch) // 86400.0)
    if first_epoch > as_of_epoch - days_of_readings * 86400.0:
        days_of_readings -= 1
    elif first_epoch <= as_of_epoch - (days_of_readings + 1) * 86400.0:
        days_of_readings += 1
    reported: dict[str, float | None] = {}
    for label, days in _WINDOW_DAYS:
        recent_sum = sum(daily_all[:days])
        before_sum = sum(daily_all[days : 2 * days])
        if days_of_readings >= 2 * days and before_sum > 0:
            change = recent_sum / before_sum - 1.0
            # Finite unless the window before gained a vanishing share of a reading (overflow).
            reported[label] = _rounded(change, 1e4) if change != math.inf else change
        elif days_of_readings >= 2 * days and recent_sum <= 0:
            # Nothing gained in either window: no change, where None would read "from none", a
            # rise from nothing (model.growth_from_none).
            reported[label] = 0.0
        else:
            reported[label] = None
    last_week, week_before_sum = sum(daily_all[:7]), sum(daily_all[7:14])
    week = (last_week + 1.0) / (week_before_sum + 1.0) - 1.0

    v1 = daily[0]
    v3 = sum(daily[:3]) / 3.0
    v_prev3 = sum(daily[3:6]) / 3.0
    # Relative growth per day (log ratio of the level now to a day ago): what predicts the next
    # days best on real data; the reach term adds how many people that growth already touches.
    relative = math.log((level_now + 1.0) / (max(level_now - v1, 0.0) + 1.0))
    momentum = math.log(max(relative, RELATIVE_FLOOR)) + params.reach_weight * math.log1p(v1)
    # Acceleration likewise only where the three days before were observed, or the item is new
    # (first seen with fewer views than it has gained since): an item that starts being tracked
    # with a history of its own has no known days before, not days without gains.
    acceleration = (
        math.log((v3 + 1.0) / (v_prev3 + 1.0))
        if first_epoch <= as_of_epoch - 6 * 86400.0 or first_level < level_now - first_level
        else 0.0
    )

    # The usual range: the whole days observed before the last (the days before the first
    # reading are not days without gains), none with fewer than MIN_RANGE_DAYS of them.
    observed_whole_days = int((as_of_epoch - first_epoch) // 86400.0)
    history = sorted(daily[1:observed_whole_days]) if observed_whole_days > MIN_RANGE_DAYS else []
    middle = len(history) // 2
    median = history[middle] if history else 0.0
    # The deviations |x - median| of the sorted history as two ascending runs (below the median
    # read backwards, then from it on), which sorted() merges in one pass.
    below = [median - x for x in reversed(history[:middle])]
    mad = sorted(below + [x - median for x in history[middle:]])[middle] if history else 0.0
    surprise = (v1 - median) / (1.4826 * mad + math.sqrt(median + 1.0) + 1.0) if history else 0.0

    breadth = (
        (len(rising_platforms) - 1 if rising_platforms else 0) * 1.5
        + (min(len(rising_regions), 8) - 1 if rising_regions else 0) * 0.5
        + (min(len(rising_ads), 10) - 1 if rising_ads else 0) * 0.5
    )
    total_recent = sum(ad_gain.values())
    top_share = max(ad_gain.values()) / total_recent if total_recent > 0 else 1.0
    concentrated = len(ad_gain) > 1 and top_share > 0.8
    # Interactions never recorded on any reading are unknown (a source that reports views
    # only), not a bot's zero: the quality term is then neutral (the status still asks for them).
    quality = (
        math.log((quality_num / quality_den + 1e-6) / (norm_weighted / quality_den + 1e-6))
        if quality_den > 0 and most_interactions
        else 0.0
    )

    # The same three days a week earlier, where observed: a weekly swing is not an explosion.
    week_ago = sum(daily[7:10]) / 3.0 if first_epoch <= as_of_epoch - 10 * 86400.0 else None
    # The week before's gains per day, over the days of it observed (at least three).
    before_days = min((as_of_epoch - first_epoch) / 86400.0 - 7.0, 7.0)
    week_before = week_before_sum / before_days if before_days >= 3.0 else None
    # A rise that is a swing: the last days no more than the same days a week ago, or the week no
    # more a day than a tenth above the week before (the last days rose within a week that did
    # not: a seasonal product's peak days). Never exploding, and scored lower.
    swing = None
    if acceleration > ACCELERATING:
        if week_ago is not None and v3 <= RISE_MARGIN * week_ago:
            swing = "no more than the same days a week ago: a weekly swing"
        elif week_before is not None and last_week / 7.0 <= RISE_MARGIN * week_before:
            swing = "this week gained no more than the week before: a swing, not a rise"

    raw = (
        (momentum - params.centre) / params.scale
        + params.acceleration_weight * _clip(acceleration, -1.5, 1.5)
        + params.breadth_weight * min(breadth, 6.0)
        + params.quality_weight * _clip(quality, -1.0, 1.0)
        - (params.concentration_penalty * (top_share - 0.8) / 0.2 if concentrated else 0.0)
        - params.swing_penalty * max(_fade(v3, week_ago), _fade(last_week / 7.0, week_before))
    )
    score = _rounded(100.0 / (1.0 + math.exp(-_clip(raw, -MAX_LOGIT, MAX_LOGIT))), 100.0)

    if len(kept) == 1:
        observed_days = (kept[0].epochs[-1] - kept[0].epochs[0]) / 86400.0
    else:
        observed_days = (max(s.epochs[-1] for s in kept) - first_epoch) / 86400.0
    confidence = _confidence(observations, observed_days)

    peak = max(daily)
    # The most recent day of the highest gain (a tie: see TIE).
    peak_day = daily.index(peak)
    level_with_peak = peak * (1.0 - TIE)
    for day in range(peak_day):
        if daily[day] >= level_with_peak:
            peak_day = day
            break
    reasons: list[str] = []
    if week < -0.3 and v3 < v_prev3 * (1.0 - TIE):
        status = TrendStatus.DECLINING
        # The figure said is the one reported as growth (none without a week before to compare).
        down = reported["7d"]
        reasons.append(
            "engagement down on the previous week"
            if down is None
            else f"engagement down {abs(down):.0%} on the previous week"
        )
    elif peak > 0 and ((peak_day >= 2 and v1 < 0.5 * peak) or (peak_day == 1 and v1 < COLLAPSED * peak)):
        status = TrendStatus.PEAKED
        reasons.append(
            f"daily gains peaked {peak_day} {'day' if peak_day == 1 else 'days'} ago "
            f"and are at {v1 / peak:.0%} of the peak"
        )
    elif score >= EXPLODING_SCORE and acceleration > ACCELERATING:
        # Exploding, unless what rises is one series among several (one ad in one region),
        # engagement far below the platform's norm (bot-like views), or the same as a week ago
        # (the same days, or the whole week).
        if len(kept) > 1 and rising_series < 2:
            status = TrendStatus.EMERGING
            reasons.append("only one ad in one region is rising")
        elif quality < BOT_LIKE_QUALITY:
            status = TrendStatus.EMERGING
            reasons.append("likes, comments and shares per view far below the platform's norm")
        elif not most_interactions:
            # Views alone: the guard above cannot be read (a source that reports views only,
            # or views nobody engages with), so they are not enough to call it exploding.
            status = TrendStatus.EMERGING
            reasons.append(VIEWS_ALONE)
        elif swing:
            status = TrendStatus.EMERGING
        else:
            status = TrendStatus.EXPLODING
    elif score >= 45 or (week > 0.5 and confidence < 0.6):
        status = TrendStatus.EMERGING
    else:
        status = TrendStatus.STEADY
    if swing and status is not TrendStatus.PEAKED:
        reasons.append(swing)
    if relative > 0.005:
        before = level_now - v1
        growth = math.expm1(relative)
        reasons.append(
            f"{v1:,.0f} views in the last 24 h, from none before"
            if before < 0.5
            # Of the total views: growth["24h"] is the growth of the daily gains.
            else f"total views {rise(growth)} in the last 24 h (+{v1:,.0f} views)"
            if growth < 9.0
            else f"total views up {rise(growth)} in the last 24 h (+{v1:,.0f} views)"
        )
    # Peaked within the last three days, the same figures describe a rise that is over; peaked
    # earlier, a rise since stays below the peak (declining needs the last three days below the
    # three before, so it never accelerates).
    peaked = status == TrendStatus.PEAKED
    over = peaked and peak_day <= 2
    if acceleration > 0.2:
        # Against three days without gains a ratio says nothing: the gain is said instead.
        gained = (
            f"{times(math.exp(acceleration))} the 3 before"
            if v_prev3 >= 0.5
            else f"{3.0 * v3:,.0f} views, {NONE_BEFORE}"
        )
        reasons.append(
            f"the 3 days with the peak gained {gained}"
            if over
            else f"last 3 days gained {gained}, still below the peak"
            if peaked
            else f"accelerating: last 3 days gained {gained}"
        )
    if surprise > 10:
        reasons.append("daily gain far outside its usual range")
    elif surprise > 3:
        reasons.append(f"daily gain {surprise:.1f} deviations above its usual range")
    if len(rising_platforms) > 1 or len(rising_regions) > 2:
        reasons.append(
            f"{'the rise reached' if over else 'rising again on' if peaked else 'rising on'} "
            f"{len(rising_platforms)} platform{'' if len(rising_platforms) == 1 else 's'} in "
            f"{len(rising_regions)} region{'' if len(rising_regions) == 1 else 's'}"
        )
    if concentrated:
        reasons.append(f"one ad carries {top_share:.0%} of recent views")
    if not most_interactions and quality_den > 0 and VIEWS_ALONE not in reasons:
        reasons.append("no likes, comments or shares recorded: engagement quality not judged")
    if not reasons:
        reasons.append("no unusual movement")

    # The views expected on each of the next days: the last day's gain, falling by the ratio a
    # day. Measured against the alternatives (docs/scoring.md, Forecast): the last three days'
    # mean lags a falling item, and bending by the acceleration made it worse on real data.
    forecast = (
        tuple(
            [
                round(v1 * power) / 100.0
                for power in _forecast_powers(params.forecast_daily_ratio, params.forecast_days)
            ]
        )
        if v1 > 0
        else (0.0,) * params.forecast_days
    )
    components = {
        "momentum": _rounded(momentum, 1e4),
        "relative_growth_per_day": _rounded(relative, 1e4),
        "acceleration": _rounded(acceleration, 1e4),
        "surprise": _rounded(surprise, 1e4),
        "breadth": _rounded(breadth, 1e4),
        "quality": _rounded(quality, 1e4),
        "concentration": _rounded(top_share, 1e4),
        "velocity_24h": _rounded(v1, 100.0),
        "days_of_readings": float(days_of_readings),
    }
    return TrendAssessment(
        score=_clip(score, 0.0, 100.0),
        status=status,
        confidence=_rounded(confidence, 1e4),
        components=components,
        growth=reported,
        forecast=forecast,
        reasons=tuple(reasons),
    )


def score_many(
    items: Mapping[int, Iterable[Reading]], as_of: datetime, params: ScoringParams = DEFAULT_PARAMS
) -> dict[int, TrendAssessment]:
    """Scores several items at the same moment: each item's readings any iterable of them (as
    :func:`score_item` takes), read once."""
    if not isinstance(items, Mapping):
        raise InvalidValue("items", f"must be a mapping of item ids to their readings, not {_kind(items)}")
    return {key: score_item(snapshots, as_of, params) for key, snapshots in items.items()}
