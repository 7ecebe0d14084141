"""Backtest protocols (``spec/evaluation.md``) and their metrics, as pure functions.

E1 replays one country's trending list day by day and asks which videos grow most over the
next ``H`` days (and, on the same days, how far the engine's forecast is from the views they
gain); E2 asks which videos trending in country A will trend in B within 14 days;
E3 streams tweet volumes through the burst detector and scores it with the NAB rules.
Lead times replay a market whose peaks are known (the synthetic simulator's) and ask how many
days before its peak each product is called exploding, and how often a decoy is.
Every method sees only rows dated up to the day it is judged on.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marketscout.domain.burst import BurstDetector
from marketscout.domain.gains import ad_gains, window_gains
from marketscout.domain.model import EngagementSnapshot, Platform, TrendAssessment, TrendStatus
from marketscout.domain.scan import SCAN_WINDOW, rank_gains
from marketscout.domain.scoring import DEFAULT_PARAMS, ReadingSeries, ScoringParams, score_item, score_series
from marketscout.domain.spread import spread_score


@dataclass(frozen=True, slots=True)
class TrendingRow:
    """One video on one country's trending list on one day (cumulative counters)."""

    video_id: str
    country: str
    day: date
    views: int
    likes: int = 0
    comments: int = 0


@dataclass(frozen=True, slots=True)
class LabelledSeries:
    name: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]
    windows: tuple[tuple[datetime, datetime], ...]


# ---------------------------------------------------------------- metrics


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the average of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Mann-Whitney AUC (ties count half); None when one class is empty."""
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores)
    rank_sum = sum(r for r, p in zip(ranks, positive, strict=True) if p)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def precision_at_k(scores: Sequence[float], positive: Sequence[bool], k: int = 20) -> float:
    """Share of positives among the k best-scored (ties broken by input order)."""
    top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    return sum(positive[i] for i in top) / len(top) if top else 0.0


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 2:
        return None
    rx, ry = average_ranks(xs), average_ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else None


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.fmean(kept), 4) if kept else None


# ---------------------------------------------------------------- E1

Scorer = Callable[[Sequence[TrendingRow], date], float]


def _as_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _snapshots(rows: Sequence[TrendingRow], ad_id: int) -> list[EngagementSnapshot]:
    return [
        EngagementSnapshot(
            ad_id=ad_id,
            product_id=ad_id,
            platform=Platform.YOUTUBE,
            region=row.country,
            observed_at=_as_of(row.day),
            views=row.views,
            likes=row.likes,
            comments=row.comments,
        )
        for row in rows
    ]


class MarketScoutEngine:
    """The product's own engine on trending rows, the same ``score_item`` the API uses: its
    score ranks E1's candidates and its forecast is measured on the same candidates, so each
    video's assessment of a day is computed once for both."""

    def __init__(self, params: ScoringParams = DEFAULT_PARAMS) -> None:
        self._params = params
        self._ids: dict[tuple[str, str], int] = {}
        self._assessed: dict[tuple[int, date], TrendAssessment] = {}

    def assess(self, rows: Sequence[TrendingRow], day: date) -> TrendAssessment:
        ad_id = self._ids.setdefault((rows[-1].country, rows[-1].video_id), len(self._ids) + 1)
        found = self._assessed.get((ad_id, day))
        if found is None:
            found = self._assessed[(ad_id, day)] = score_item(
                _snapshots(rows, ad_id), _as_of(day), self._params
            )
        return found

    def score(self, rows: Sequence[TrendingRow], day: date) -> float:
        return self.assess(rows, day).score

    def forecast(self, rows: Sequence[TrendingRow], day: date) -> Sequence[float]:
        return self.assess(rows, day).forecast


def marketscout_scorer() -> Scorer:
    """The product's own engine as an E1 scorer."""
    return MarketScoutEngine().score


def popularity(rows: Sequence[TrendingRow], day: date) -> float:
    return float(rows[-1].views)


def absolute_gain(rows: Sequence[TrendingRow], day: date) -> float:
    last, previous = rows[-1], rows[-2]
    return (last.views - previous.views) / max((last.day - previous.day).days, 1)


def relative_growth(rows: Sequence[TrendingRow], day: date) -> float:
    last, previous = rows[-1], rows[-2]
    return (math.log(last.views + 1) - math.log(previous.views + 1)) / max((last.day - previous.day).days, 1)


E1_BASELINES: dict[str, Scorer] = {
    "popularity": popularity,
    "absolute_gain": absolute_gain,
    "relative_growth": relative_growth,
}


def _by_video(rows: Iterable[TrendingRow]) -> dict[str, list[TrendingRow]]:
    per_day: dict[tuple[str, date], TrendingRow] = {}
    for row in rows:
        key = (row.video_id, row.day)
        if key not in per_day or row.views > per_day[key].views:
            per_day[key] = row
    videos: dict[str, list[TrendingRow]] = defaultdict(list)
    for row in per_day.values():
        videos[row.video_id].append(row)
    for history in videos.values():
        history.sort(key=lambda r: r.day)
    return videos


def top_share_positive(outcomes: Sequence[float], share: float = 0.1) -> list[bool]:
    """Positive = in the top ``share`` of outcomes, ties included."""
    ordered = sorted(outcomes, reverse=True)
    cut = ordered[max(math.ceil(share * len(ordered)), 1) - 1]
    return [g >= cut for g in outcomes]


E1_METRICS = ("auc", "precision_at_20", "spearman")
DailyMetrics = dict[str, dict[str, list[float | None]]]


def run_e1(
    rows: Iterable[TrendingRow], methods: Mapping[str, Scorer], *, horizon: int = 3
) -> dict[str, dict[str, float | int | None]]:
    """E1 on one country's rows: per method, AUC, precision@20 and Spearman averaged over days."""
    return average_days(e1_days(rows, methods, horizon=horizon))


def average_days(daily: DailyMetrics) -> dict[str, dict[str, float | int | None]]:
    """Each method's metrics averaged over the judged days, and how many days were judged."""
    return {
        name: {metric: _mean(values) for metric, values in metrics.items()} | {"days": len(metrics["auc"])}
        for name, metrics in daily.items()
    }


def _e1_candidates(
    videos: Mapping[str, list[TrendingRow]], horizon: int
) -> Iterator[tuple[date, list[tuple[list[TrendingRow], list[TrendingRow]]]]]:
    """E1's judged days (every day but the first and the last ``horizon``), each with its
    candidates (a row on the day, at least two up to it): their rows up to the day, and their
    rows of the next ``horizon`` days (empty when the video left the list)."""
    days = sorted({r.day for history in videos.values() for r in history})
    judged = days[1 : len(days) - horizon] if len(days) > horizon + 1 else []
    for day in judged:
        found: list[tuple[list[TrendingRow], list[TrendingRow]]] = []
        for history in videos.values():
            upto = [r for r in history if r.day <= day]
            if len(upto) < 2 or upto[-1].day != day:
                continue
            found.append((upto, [r for r in history if day < r.day <= day + timedelta(days=horizon)]))
        yield day, found


def _outcome(upto: Sequence[TrendingRow], future: Sequence[TrendingRow]) -> float:
    """E1's outcome of a candidate: ``ln(views at its latest row of the next H days + 1) -
    ln(views on the day + 1)``, 0 when it left the list."""
    return math.log(future[-1].views + 1) - math.log(upto[-1].views + 1) if future else 0.0


def e1_days(rows: Iterable[TrendingRow], methods: Mapping[str, Scorer], *, horizon: int = 3) -> DailyMetrics:
    """E1 on one country's rows: per method, each judged day's AUC, precision@20 and Spearman
    (the same days for every method, so methods compare day by day)."""
    videos = _by_video(rows)
    per_method: DailyMetrics = {name: {metric: [] for metric in E1_METRICS} for name in methods}
    for day, found in _e1_candidates(videos, horizon):
        candidates = [(upto, _outcome(upto, future)) for upto, future in found]
        if len(candidates) < 2:
            continue
        outcomes = [g for _, g in candidates]
        positive = top_share_positive(outcomes)
        for name, method in methods.items():
            scores = [method(upto, day) for upto, _ in candidates]
            per_method[name]["auc"].append(roc_auc(scores, positive))
            per_method[name]["precision_at_20"].append(precision_at_k(scores, positive, 20))
            per_method[name]["spearman"].append(spearman(scores, outcomes))
    return per_method


Assessor = Callable[[Sequence[TrendingRow], date], TrendAssessment]


def e1_statuses(rows: Iterable[TrendingRow], assess: Assessor, *, horizon: int = 3) -> dict[str, list[int]]:
    """What the engine's status says, on E1's candidates and days: per status, how many
    candidates were given it and how many of those were E1 positives (in the day's top 10 %
    of growth over the next ``horizon`` days), as ``[candidates, positives]``; every status
    listed, those never given with ``[0, 0]``."""
    counts: dict[str, list[int]] = {status.value: [0, 0] for status in TrendStatus}
    for day, found in _e1_candidates(_by_video(rows), horizon):
        if len(found) < 2:
            continue
        positive = top_share_positive([_outcome(upto, future) for upto, future in found])
        for (upto, _), is_positive in zip(found, positive, strict=True):
            entry = counts[assess(upto, day).status.value]
            entry[0] += 1
            entry[1] += is_positive
    return counts


def status_metrics(counts: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """:func:`e1_statuses`' counts in figures: per status, its candidates, their share of all
    candidates and the share of them that were positives; and the positives' share of all
    candidates (``base_rate``), what a status is worth against."""
    total = sum(candidates for candidates, _ in counts.values())
    positives = sum(hits for _, hits in counts.values())
    return {
        "statuses": {
            status: {
                "candidates": candidates,
                "share": round(candidates / total, 4) if total else None,
                "positive_share": round(hits / candidates, 4) if candidates else None,
            }
            for status, (candidates, hits) in counts.items()
        },
        "base_rate": round(positives / total, 4) if total else None,
    }


Forecaster = Callable[[Sequence[TrendingRow], date], Sequence[float]]


def last_pace(rows: Sequence[TrendingRow], day: date) -> Sequence[float]:
    """The naive forecast: the last interval's views gained per day, on every day ahead."""
    last, previous = rows[-1], rows[-2]
    pace = max(last.views - previous.views, 0) / max((last.day - previous.day).days, 1)
    return [float(pace)] * 7


FORECAST_BASELINES: dict[str, Forecaster] = {"last_pace": last_pace}


def e1_forecast_errors(
    rows: Iterable[TrendingRow], forecasters: Mapping[str, Forecaster], *, horizon: int = 3
) -> dict[str, list[float]]:
    """How far each forecaster is from the views a video gains over the next 1..``horizon``
    days, on E1's candidates and days, wherever a row ``k`` days later shows what was gained
    (``views(d + k) - views(d)``, at least 0) and the forecast reaches that far: the absolute
    difference of ``ln(1 + gained)`` and ``ln(1 + the sum of the first k days forecast)``, one
    per candidate, day and ``k`` (0 is exact; 0.69 is off by a factor of two)."""
    errors: dict[str, list[float]] = {name: [] for name in forecasters}
    for day, found in _e1_candidates(_by_video(rows), horizon):
        for upto, future in found:
            gained = {(r.day - day).days: max(r.views - upto[-1].views, 0) for r in future}
            if not gained:
                continue
            for name, forecaster in forecasters.items():
                ahead = forecaster(upto, day)
                for k, actual in gained.items():
                    if k <= len(ahead):
                        errors[name].append(abs(math.log1p(sum(ahead[:k])) - math.log1p(actual)))
    return errors


def forecast_metrics(errors: Sequence[float]) -> dict[str, float | int | None]:
    """The mean of the errors of :func:`e1_forecast_errors`, the share within a factor of two
    (an error of at most ln 2), and how many forecasts were judged."""
    return {
        "forecast_log_error": round(statistics.fmean(errors), 4) if errors else None,
        "forecast_within_2x": round(sum(e <= _LN2 for e in errors) / len(errors), 4) if errors else None,
        "forecasts": len(errors),
    }


_LN2 = math.log(2.0)


SCAN_BASELINES = ("most_views_gained", "relative_growth")


def e1_scan(rows: Iterable[TrendingRow], *, horizon: int = 3) -> dict[str, list[float]]:
    """The viral-ad scan on E1's days: each judged day, the day's candidates are the market (a
    video is an ad on YouTube, its rows up to the day its readings) and the scan
    (:func:`marketscout.domain.scan.rank_gains`, the API's) picks its hits. Per day: the share
    of hits that are E1 positives (in the top 10 % of the next ``horizon`` days' growth), the
    same share for as many videos picked by the most views gained in the scan's window and by
    relative growth, the share of positives among all candidates (``base_rate``) and the number
    of hits (``hits``). Days without a hit give no shares."""
    daily: dict[str, list[float]] = {
        name: [] for name in ("marketscout", *SCAN_BASELINES, "base_rate", "hits")
    }
    for day, found in _e1_candidates(_by_video(rows), horizon):
        if len(found) < 2:
            continue
        as_of = _as_of(day)
        snapshots: list[EngagementSnapshot] = []
        outcome: dict[int, float] = {}
        growth: dict[int, float] = {}
        for ad_id, (upto, future) in enumerate(found, start=1):
            snapshots.extend(_snapshots(upto, ad_id))
            outcome[ad_id] = _outcome(upto, future)
            growth[ad_id] = relative_growth(upto, day)
        positive = dict(zip(outcome, top_share_positive(list(outcome.values())), strict=True))
        gains = ad_gains(window_gains(snapshots, as_of - SCAN_WINDOW, as_of))
        hits = [hit.ad_id for hit in rank_gains(gains, as_of, window=SCAN_WINDOW)]
        daily["base_rate"].append(sum(positive.values()) / len(positive))
        daily["hits"].append(float(len(hits)))
        if not hits:
            continue
        picks = {
            "marketscout": hits,
            "most_views_gained": [g.ad_id for g in sorted(gains, key=lambda g: (-g.gained, g.ad_id))],
            "relative_growth": sorted(growth, key=lambda ad_id: (-growth[ad_id], ad_id)),
        }
        for name, picked in picks.items():
            daily[name].append(sum(positive[ad_id] for ad_id in picked[: len(hits)]) / len(hits))
    return daily


def scan_metrics(daily: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """:func:`e1_scan`'s days in figures: each method's precision averaged over the days with a
    hit, the scan's hits per judged day, and the base rate."""
    days = len(daily["hits"])
    return {
        "marketscout": {
            "precision": _mean(daily["marketscout"]),
            "hits_per_day": round(statistics.fmean(daily["hits"]), 2) if days else None,
            "days": days,
            "days_with_hits": len(daily["marketscout"]),
        },
        **{name: {"precision": _mean(daily[name])} for name in SCAN_BASELINES},
        "base_rate": _mean(daily["base_rate"]),
    }


@dataclass(frozen=True, slots=True)
class Difference:
    """One method's metric minus another's, averaged over the days both were judged on, with a
    95 % interval for that average (None from fewer than two days)."""

    difference: float
    low: float | None
    high: float | None
    days: int


# Student's t, two-sided 95 %, for 1 to 30 degrees of freedom (standard tables).
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_975(degrees: int) -> float:
    """The 97.5th percentile of Student's t: from the table up to 30 degrees of freedom, then the
    Cornish-Fisher expansion around the normal's 1.95996 (within 0.001 of the exact value)."""
    if degrees <= len(_T_975):
        return _T_975[degrees - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * degrees) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * degrees**2)


def paired_difference(ours: Sequence[float | None], theirs: Sequence[float | None]) -> Difference | None:
    """How far ``ours`` is above ``theirs`` day by day, and how sure: the mean of the daily
    differences with its 95 % t interval (the days are the paired units; deterministic, no
    resampling). Days where either value is undefined are left out; None when no day is left."""
    gaps = [a - b for a, b in zip(ours, theirs, strict=True) if a is not None and b is not None]
    if not gaps:
        return None
    mean = statistics.fmean(gaps)
    if len(gaps) < 2:
        return Difference(difference=round(mean, 4), low=None, high=None, days=1)
    half = t_975(len(gaps) - 1) * statistics.stdev(gaps) / math.sqrt(len(gaps))
    return Difference(
        difference=round(mean, 4), low=round(mean - half, 4), high=round(mean + half, 4), days=len(gaps)
    )


# ---------------------------------------------------------------- E2


def run_e2(
    rows_a: Iterable[TrendingRow],
    rows_b: Iterable[TrendingRow],
    methods: Mapping[str, Scorer],
    *,
    window: int = 14,
) -> dict[str, dict[str, float | int | None]]:
    """E2, A → B: which videos trending in A will trend in B within ``window`` days."""
    videos_a = _by_video(rows_a)
    first_in_b: dict[str, date] = {}
    for row in rows_b:
        if row.video_id not in first_in_b or row.day < first_in_b[row.video_id]:
            first_in_b[row.video_id] = row.day
    days_a = sorted({r.day for history in videos_a.values() for r in history})
    last_b = max(first_in_b.values(), default=None)
    if last_b is None:
        return {
            name: {"auc": None, "precision_at_20": None, "lead_time_days": None, "days": 0}
            for name in methods
        }
    judged = [d for d in days_a if d + timedelta(days=window) <= last_b]
    per_method: dict[str, dict[str, list[float | None]]] = {
        name: {"auc": [], "precision_at_20": [], "lead": []} for name in methods
    }
    for day in judged:
        candidates: list[tuple[list[TrendingRow], bool, int | None]] = []
        for video, history in videos_a.items():
            upto = [r for r in history if r.day <= day]
            if not upto or upto[-1].day != day:
                continue
            seen_b = first_in_b.get(video)
            if seen_b is not None and seen_b <= day:
                continue
            hit = seen_b is not None and seen_b <= day + timedelta(days=window)
            candidates.append((upto, hit, (seen_b - day).days if hit and seen_b else None))
        positive = [hit for _, hit, _ in candidates]
        # A day on which no candidate reaches B ranks nothing: AUC is undefined, and precision@20
        # would be 0 for every method, diluting the days that tell methods apart.
        if len(candidates) < 2 or not any(positive):
            continue
        for name, method in methods.items():
            scores = [
                method(upto, day) if len(upto) >= 2 else _single(name, method, upto, day)
                for upto, _, _ in candidates
            ]
            per_method[name]["auc"].append(roc_auc(scores, positive))
            per_method[name]["precision_at_20"].append(precision_at_k(scores, positive, 20))
            top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:20]
            per_method[name]["lead"].extend(float(candidates[i][2] or 0) for i in top if candidates[i][1])
    return {
        name: {
            "auc": _mean(m["auc"]),
            "precision_at_20": _mean(m["precision_at_20"]),
            "lead_time_days": statistics.median([v for v in m["lead"] if v is not None])
            if m["lead"]
            else None,
            "days": len(m["auc"]),
        }
        for name, m in per_method.items()
    }


def _single(name: str, method: Scorer, rows: Sequence[TrendingRow], day: date) -> float:
    """A video with one row so far: growth has no slope yet, so it gets the neutral 0 (no growth
    measured); every other method is defined on one row and is asked as usual."""
    if name == "relative_growth":
        return 0.0
    return method(rows, day)


def spread_scorer(target: str) -> Scorer:
    """The product's own ``spread_score`` towards country ``target`` (the API's function)."""

    def score(rows: Sequence[TrendingRow], day: date) -> float:
        return spread_score(_snapshots(rows, 1), target, _as_of(day)).score

    return score


def views_in_a(rows: Sequence[TrendingRow], day: date) -> float:
    return float(rows[-1].views)


E2_BASELINES: dict[str, Scorer] = {"views": views_in_a, "relative_growth": relative_growth}


# ---------------------------------------------------------------- E3 (NAB)


@dataclass(frozen=True, slots=True)
class NabResult:
    score: float | None  # None without a labelled window: NAB's normalisation is then undefined
    detected_windows: int
    windows: int
    false_positives: int
    median_delay_minutes: float | None
    days: float


def scaled_sigmoid(y: float) -> float:
    """NAB's weighting: 1 early in a window, 0 at its end, towards -1 after it (-1 past 3 widths)."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


PROBATIONARY_SHARE = 0.15
PROBATIONARY_CAP = 0.15 * 5000  # NAB's sweeper: min(floor(15 % of the rows), 750)


def probationary_length(rows: int) -> int:
    """Rows at the start of a series where NAB ignores detections (``Sweeper._getProbationaryLength``)."""
    return int(min(math.floor(PROBATIONARY_SHARE * rows), PROBATIONARY_CAP))


def nab_score(
    times: Sequence[datetime],
    detections: Sequence[bool],
    windows: Sequence[tuple[datetime, datetime]],
    *,
    a_tp: float = 1.0,
    a_fp: float = 0.11,
    a_fn: float = 1.0,
) -> tuple[float, int, int, list[float]]:
    """NAB standard-profile raw score: (raw, windows detected, false positives, delays in minutes).

    As NAB's sweeper: detections in the probationary period (the first 15 % of the series, at
    most 750 values) are ignored, and a window lying wholly inside it is not scored; in a window
    only the earliest detection counts, weighted ``a_tp * scaled_sigmoid(y) / scaled_sigmoid(-1)``
    with ``y`` from -1 (window start, worth exactly ``a_tp``) to 0 (window end); one outside every
    window costs ``a_fp * scaled_sigmoid(distance after the previous window / its width)``, or
    the full ``a_fp`` before any window; each missed window costs ``a_fn``.
    """
    spans = sorted((_nearest(times, a), _nearest(times, b)) for a, b in windows)
    probation = probationary_length(len(times))
    counted = [False] * len(spans)
    scored = [b >= probation for _, b in spans]
    best_tp = scaled_sigmoid(-1.0)
    raw = 0.0
    delays: list[float] = []
    false_positives = 0
    for i, flagged in enumerate(detections):
        if not flagged or i < probation:
            continue
        inside = next((k for k, (a, b) in enumerate(spans) if a <= i <= b), None)
        if inside is not None:
            if not counted[inside]:
                counted[inside] = True
                a, b = spans[inside]
                raw += a_tp * scaled_sigmoid(-(b - i + 1) / (b - a + 1)) / best_tp
                delays.append((times[i] - times[a]).total_seconds() / 60.0)
            continue
        false_positives += 1
        before = [(a, b) for a, b in spans if b < i]
        if before:
            a, b = before[-1]
            raw += a_fp * scaled_sigmoid(abs(b - i) / max(b - a, 1))
        else:
            raw -= a_fp
    missed = sum(1 for hit, live in zip(counted, scored, strict=True) if live and not hit)
    raw -= a_fn * missed
    return raw, counted.count(True), false_positives, delays


def scored_windows(times: Sequence[datetime], windows: Sequence[tuple[datetime, datetime]]) -> int:
    """Windows that end after the probationary period, the only ones NAB scores."""
    probation = probationary_length(len(times))
    return sum(1 for _, b in windows if _nearest(times, b) >= probation)


def _nearest(times: Sequence[datetime], at: datetime) -> int:
    lo, hi = 0, len(times) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < at:
            lo = mid + 1
        else:
            hi = mid
    return lo


def run_e3(
    series: Sequence[LabelledSeries],
    detector: Callable[[], Callable[[float], float]],
    threshold: float,
) -> NabResult:
    """Streams each series through a fresh detector; normalises NAB's score over all series."""
    raw_total = null_total = perfect_total = 0.0
    detected = windows = false_positives = 0
    delays: list[float] = []
    days = 0.0
    for one in series:
        update = detector()
        flags = [update(value) >= threshold for value in one.values]
        raw, hit, fp, lag = nab_score(one.times, flags, one.windows)
        raw_total += raw
        # As NAB's runner: the null detector (no detection) misses every scored window; the
        # perfect score is a_tp = 1 for every labelled window.
        null_total += -1.0 * scored_windows(one.times, one.windows)
        perfect_total += 1.0 * len(one.windows)
        detected += hit
        windows += len(one.windows)
        false_positives += fp
        delays.extend(lag)
        if one.times:
            days += (one.times[-1] - one.times[0]).total_seconds() / 86400
    span = perfect_total - null_total
    return NabResult(
        score=round(100.0 * (raw_total - null_total) / span, 2) if span else None,
        detected_windows=detected,
        windows=windows,
        false_positives=false_positives,
        median_delay_minutes=statistics.median(delays) if delays else None,
        days=round(days, 1),
    )


def burst_detector() -> Callable[[float], float]:
    return BurstDetector().update


# --- Lead time on a market with known peaks (the synthetic simulator's) ----------------------


# The places of a market's ranking by score that ``lead_times`` reads (the dashboard's first
# rows).
TOP_PLACES = 10
# A viral item is rising in the week before its peak (``LeadTimes.rising_above``).
RISING = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """An item of a market whose course is known: its kind (``viral`` or a decoy's), the moment
    its daily gains peak (``None`` for decoys) and its readings grouped per ad and region."""

    kind: str
    peak_at: datetime | None
    series: Sequence[ReadingSeries]
    # Which market the item belongs to: each market is ranked on its own (``LeadTimes.top``).
    market: int = 0


@dataclass(frozen=True, slots=True)
class LeadTimes:
    """How early the engine called each viral item ``exploding``, replaying the market moment
    by moment (each moment scored from the readings up to it only), and how often it called a
    decoy so."""

    # Days from the first moment flagged to the peak, per viral item that peaked before the
    # replay's end (negative: flagged after the peak; None: never flagged up to the peak).
    lead_days: tuple[float | None, ...]
    # Per decoy kind: items flagged at least once, items, and the share of (item, moment) pairs
    # flagged.
    decoys: Mapping[str, tuple[int, int, float]]
    # Per kind (viral and each decoy's): its share of the places in each market's top
    # ``TOP_PLACES`` by score, over every moment (what a user ranking by score is shown).
    top: Mapping[str, float] = field(default_factory=dict)
    # Per decoy kind: how often a viral item in the week before its peak scores above one of
    # them at the same moment in the same market (an AUC: 0.5 is chance, 1 always).
    rising_above: Mapping[str, float] = field(default_factory=dict)

    @property
    def flagged_before_peak(self) -> int:
        return sum(1 for lead in self.lead_days if lead is not None and lead > 0)

    @property
    def median_lead_days(self) -> float | None:
        found = [lead for lead in self.lead_days if lead is not None]
        return statistics.median(found) if found else None


def lead_times(
    items: Iterable[ReplayItem], moments: Sequence[datetime], params: ScoringParams = DEFAULT_PARAMS
) -> LeadTimes:
    """Each item scored at every moment (``score_series`` leaves out what came after it); a
    viral item counts if its peak falls inside the moments replayed."""
    leads: list[float | None] = []
    decoys: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # flagged items, items, flags
    ranked: dict[tuple[int, int], list[tuple[float, str]]] = defaultdict(list)  # (market, moment)
    # The scores of the viral items in the week before their peak, per (market, moment).
    rising: dict[tuple[int, int], list[float]] = defaultdict(list)
    kinds: set[str] = set()
    for item in items:
        assessed = [score_series(item.series, moment, params) for moment in moments]
        flags = [a.status is TrendStatus.EXPLODING for a in assessed]
        kinds.add(item.kind)
        for m, a in enumerate(assessed):
            ranked[(item.market, m)].append((a.score, item.kind))
            if item.peak_at is not None and timedelta(0) < item.peak_at - moments[m] <= RISING:
                rising[(item.market, m)].append(a.score)
        if item.kind == "viral":
            if item.peak_at is None or item.peak_at > moments[-1]:
                continue
            first = next((m for m, flagged in zip(moments, flags, strict=True) if flagged), None)
            leads.append(None if first is None else (item.peak_at - first) / timedelta(days=1))
        else:
            counts = decoys[item.kind]
            counts[0] += any(flags)
            counts[1] += 1
            counts[2] += sum(flags)
    return LeadTimes(
        lead_days=tuple(leads),
        decoys={
            kind: (flagged, count, round(flags / (count * len(moments)), 4))
            for kind, (flagged, count, flags) in sorted(decoys.items())
        },
        top=top_places(ranked.values(), kinds),
        rising_above=rising_above(ranked, rising),
    )


Ranked = Mapping[tuple[int, int], Sequence[tuple[float, str]]]  # (market, moment): (score, kind)


def top_places(
    rankings: Iterable[Sequence[tuple[float, str]]], kinds: Iterable[str], *, places: int = TOP_PLACES
) -> dict[str, float]:
    """Each kind's share of the first ``places`` places of the rankings (by score)."""
    held: dict[str, float] = defaultdict(float)
    for scored in rankings:
        taken = min(places, len(scored))
        last = sorted((score for score, _ in scored), reverse=True)[taken - 1]
        ahead = [kind for score, kind in scored if score > last]
        tied = [kind for score, kind in scored if score == last]
        # Items tied for the last places share them: the order of equal scores is no one's.
        for kind in ahead:
            held[kind] += 1.0
        for kind in tied:
            held[kind] += (taken - len(ahead)) / len(tied)
    total = sum(held.values())
    return {kind: round(held[kind] / total, 4) if total else 0.0 for kind in sorted(kinds)}


def rising_above(ranked: Ranked, rising: Mapping[tuple[int, int], Sequence[float]]) -> dict[str, float]:
    """Per decoy kind: of the pairs (a rising viral item, a decoy) of one market at one moment,
    the share where the viral scores higher (a tie counts half)."""
    won: dict[str, float] = defaultdict(float)
    pairs: dict[str, int] = defaultdict(int)
    for key, viral_scores in rising.items():
        for decoy_score, kind in ranked[key]:
            if kind != "viral":
                won[kind] += sum(
                    1.0 if v > decoy_score else 0.5 if v == decoy_score else 0.0 for v in viral_scores
                )
                pairs[kind] += len(viral_scores)
    return {kind: round(won[kind] / pairs[kind], 4) for kind in sorted(pairs)}
