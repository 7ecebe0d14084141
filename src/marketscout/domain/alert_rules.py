"""Alert rules as small named objects: each finds the events in a product's score history.

An *episode* is a stretch of history during which a rule's condition holds; it starts when the
condition first holds while the rule is armed, and the rule re-arms only once the condition has
clearly stopped holding (hysteresis), so a score hovering at a threshold does not flap: a score
rule re-arms once the score fell below :func:`rearm_level` (:data:`HYSTERESIS_POINTS` below its
threshold, or half the threshold where that is higher: a reachable score), a rise rule once
the rise has stayed below half its points for a whole window of the rule (every score within
its ``window_hours`` up to then: a score wobbling by more than the points within the window, 50,
62, 50, 62 …, is one episode, where re-arming at each dip alerted at each peak), and the exploding rule once the product has clearly stopped
exploding: its status is peaked or declining, or its score fell :data:`HYSTERESIS_POINTS` below
the score from which a product may be called exploding (70). Only those: the status also leaves
"exploding" for a score of 69.9 or for a guard ("only one ad in one region is rising"), which
say nothing about the explosion being over, and flipped back an hour later.

Each episode has one stable event key (the product, the rule's condition and the score that
started it), so evaluating the same history again never yields a new event; the alert store
keeps one alert per user and key. The key names the condition (kind and parameters), not the
rule's id: a default rule, an explicit rule of the same kind and parameters, and a rule for the
whole watchlist overlapping one for a single product all find the same events, which alert once.
Episodes that started before the rule existed (or before what it asks last changed:
``changed_at``) are reported only while the condition holds at the
latest score: not for a score back under a threshold but inside the hysteresis band, which keeps
the episode going without making the rule's condition true. (A rule over a watchlist counts as
made when the product was watched, if that is later: the caller passes it so.)

A rule is evaluated on the history read since some moment (``history_since``: the last 31 days,
after each new score), not on all of it. Up to the first score in it at which the rule certainly
re-arms, such a history cannot say what the rule's state was: a score over a threshold at its
start may be an episode that began a month before, whose first score has left the window. So an
episode that starts before that point is marked *continued* (it may have begun earlier, under
another key): the caller settles it on a longer history, one that holds where it began. After that point the truncated history gives exactly the
events of the whole history (a rise is known only where the rule's window lies in the history).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter

from marketscout.domain.errors import InvalidValue
from marketscout.domain.inputs import instant, listed
from marketscout.domain.inputs import kind as kind_of
from marketscout.domain.instants import require_aware
from marketscout.domain.model import (
    Ad,
    AlertRule,
    AlertRuleKind,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    ViralAd,
)
from marketscout.domain.numeric import RealNumber, finite, real, whole
from marketscout.domain.scoring import EXPLODING_SCORE, measured

# Points a score must fall below a threshold before a threshold rule fires again.
HYSTERESIS_POINTS = 5.0
MAX_WINDOW_HOURS = 720


def rearm_level(threshold: float) -> float:
    """The score a ``score_threshold`` rule re-arms below: :data:`HYSTERESIS_POINTS` under the
    threshold, but never under half of it, so a threshold of 5 or less (whose threshold - 5 no
    score reaches) re-arms too, at the latest on a score of 0."""
    return max(threshold - HYSTERESIS_POINTS, threshold / 2)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One event of a rule on a product. ``began_at``: the score that began its episode (None
    for a viral ad); ``ongoing``: the episode still holds at the latest score; ``continued``: the
    episode may have begun before the history evaluated, under another key (see the module)."""

    rule: AlertRule
    product_id: int
    event_key: str
    message: str
    began_at: datetime | None = None
    ongoing: bool = False
    continued: bool = False


_KINDS = tuple(k.value for k in AlertRuleKind)
# The parameters each kind of rule reads (validate_rule requires these and refuses the others).
KIND_PARAMETERS: dict[AlertRuleKind, frozenset[str]] = {
    AlertRuleKind.SCORE_RISE: frozenset({"threshold", "window_hours"}),
    AlertRuleKind.SCORE_THRESHOLD: frozenset({"threshold"}),
    AlertRuleKind.STATUS_EXPLODING: frozenset(),
    AlertRuleKind.NEW_VIRAL_AD: frozenset(),
}


def validate_rule(
    kind: AlertRuleKind | str, threshold: RealNumber | None, window_hours: int | None
) -> AlertRuleKind:
    """The rule's kind, given as itself or its value; raises InvalidValue naming the field a rule
    of this kind needs, must not have, or has of the wrong type."""
    if not isinstance(kind, AlertRuleKind):
        if not isinstance(kind, str) or kind not in _KINDS:
            raise InvalidValue("kind", f"must be one of: {', '.join(_KINDS)}")
        kind = AlertRuleKind(kind)
    if kind in (AlertRuleKind.SCORE_RISE, AlertRuleKind.SCORE_THRESHOLD):
        if threshold is None:
            raise InvalidValue("threshold", f"is required for {kind} rules")
        number = real(threshold)  # any real number (a NumPy float) but a bool
        if number is None:
            raise InvalidValue("threshold", "must be a number")
        if not 0 < number <= 100:  # NaN too
            raise InvalidValue("threshold", "must be greater than 0 and at most 100")
    elif threshold is not None:
        raise InvalidValue("threshold", f"does not apply to {kind} rules")
    if kind == AlertRuleKind.SCORE_RISE:
        if window_hours is None:
            raise InvalidValue("window_hours", "is required for score_rise rules")
        hours = whole(window_hours)  # any whole number (a NumPy integer) but a bool
        if hours is None:
            raise InvalidValue("window_hours", "must be a whole number")
        if not 1 <= hours <= MAX_WINDOW_HOURS:
            raise InvalidValue("window_hours", f"must be between 1 and {MAX_WINDOW_HOURS}")
    elif window_hours is not None:
        raise InvalidValue("window_hours", f"does not apply to {kind} rules")
    return kind


def event_key_prefix(rule: AlertRule, product_id: int) -> str:
    """What every event key of the rule's condition on the product begins with."""
    return f"p{product_id}:{_condition(rule)}:"


def _condition(rule: AlertRule) -> str:
    kind = validate_rule(rule.kind, rule.threshold, rule.window_hours)
    if kind == AlertRuleKind.SCORE_THRESHOLD:
        return f"threshold{_exact(rule.threshold)}"
    if kind == AlertRuleKind.SCORE_RISE:
        return f"rise{_exact(rule.threshold)}/{rule.window_hours}h"
    if kind == AlertRuleKind.STATUS_EXPLODING:
        return "exploding"
    return "viral"


@dataclass(frozen=True, slots=True)
class _Episode:
    start: TrendScore
    ongoing: bool
    detail: str
    continued: bool
    holds_now: bool = False  # the condition holds at the latest score (not only not re-armed)


def _episodes(
    history: Sequence[TrendScore],
    holds: Callable[[int], tuple[bool, str]],
    rearms: Callable[[int], bool],
    *,
    truncated: bool,
    known: Callable[[int], bool] = lambda _: True,
) -> list[_Episode]:
    """The episodes of a condition; in a ``truncated`` history, those starting before the first
    score at which the rule certainly re-arms (``rearms`` and ``known`` there) are continued."""
    episodes: list[_Episode] = []
    armed, settled = True, not truncated
    start: TrendScore | None = None
    detail, continued, condition = "", False, False
    for index, score in enumerate(history):
        condition, text = holds(index)
        if condition:
            # Never a re-arming score too: after one, the rule is armed whatever came before.
            if armed:
                armed, start, detail, continued = False, score, text, not settled
        elif rearms(index):
            if start is not None:
                episodes.append(_Episode(start, ongoing=False, detail=detail, continued=continued))
            armed, start = True, None
            settled = settled or known(index)
    if start is not None:
        episodes.append(
            _Episode(start, ongoing=True, detail=detail, continued=continued, holds_now=condition)
        )
    return episodes


def _threshold_episodes(rule: AlertRule, history: Sequence[TrendScore], truncated: bool) -> list[_Episode]:
    limit = rule.threshold or 0.0
    return _episodes(
        history,
        lambda i: (history[i].score >= limit, f"{history[i].score:.1f}"),
        lambda i: history[i].score < rearm_level(limit),
        truncated=truncated,
    )


def _rise_episodes(rule: AlertRule, history: Sequence[TrendScore], since: datetime | None) -> list[_Episode]:
    window = timedelta(hours=rule.window_hours or 24)
    points = rule.threshold or 0.0
    # A score without readings behind it (0 for none, 50 for one) measures nothing: a rise from
    # it would be the product's first readings, not a rise.
    history = [s for s in history if measured(s.assessment)]
    rises = _rises(history, window)
    quiet = _quiet(history, rises, window, points / 2)
    return _episodes(
        history,
        lambda i: (rises[i] >= points, f"{rises[i]:.1f}"),
        lambda i: quiet[i],
        truncated=since is not None,
        # Quiet is known where the history holds the window before each score of the window.
        known=lambda i: since is not None and history[i].calculated_at - 2 * window >= since,
    )


def _quiet(
    history: Sequence[TrendScore], rises: Sequence[float], window: timedelta, below: float
) -> list[bool]:
    """Whether every rise within ``window`` up to each score (its own included) is under
    ``below``: a score rule re-arms only after a whole window of it, so a score wobbling within
    its window (50, 62, 50, 62 …) stays one episode."""
    quiet: list[bool] = []
    loud_at: datetime | None = None  # the latest score whose rise was not under ``below``
    for score, rise in zip(history, rises, strict=True):
        if rise >= below:
            loud_at = score.calculated_at
        quiet.append(loud_at is None or score.calculated_at - loud_at > window)
    return quiet


def _rises(history: Sequence[TrendScore], window: timedelta) -> list[float]:
    """Each score less the lowest of the scores before it within ``window`` (0 without one), for
    a history in time order: the scores in the window form a run that ends just before the
    score, so a queue of its candidates for the lowest (a sliding minimum) finds each in
    constant time on average, where a scan of all the scores before made a long history cost
    its square."""
    rises: list[float] = []
    lows: deque[TrendScore] = deque()  # the window's scores that no later one undercuts, in order
    for current in history:
        while lows and current.calculated_at - lows[0].calculated_at > window:
            lows.popleft()
        rises.append(current.score - lows[0].score if lows else 0.0)
        while lows and lows[-1].score >= current.score:
            lows.pop()
        lows.append(current)
    return rises


_STOPPED = (TrendStatus.PEAKED, TrendStatus.DECLINING)


def _exploding_episodes(history: Sequence[TrendScore], truncated: bool) -> list[_Episode]:
    return _episodes(
        history,
        lambda i: (history[i].status == TrendStatus.EXPLODING, f"{history[i].score:.1f}"),
        lambda i: history[i].status in _STOPPED or history[i].score < EXPLODING_SCORE - HYSTERESIS_POINTS,
        truncated=truncated,
    )


def evaluate_rule(
    rule: AlertRule,
    product_id: int,
    product_name: str,
    history: Iterable[TrendScore],
    viral_ads: Iterable[ViralAd],
    now: datetime,
    *,
    history_since: datetime | None = None,
) -> list[AlertEvent]:
    """The events of one rule on one product. ``history`` is the product's scores, oldest first,
    read since ``history_since`` (None: the whole history); an episode it cannot tell from one
    begun before is marked ``continued``.

    Input it cannot evaluate is refused with :class:`InvalidValue` naming it: a ``rule`` that
    is not an :class:`AlertRule`, breaks its kind's rules (:func:`validate_rule`) or has a
    naive ``created_at`` or ``changed_at``; a ``product_id`` or ``product_name`` of the wrong type; a ``history``
    that is not a list of :class:`TrendScore` (each with a whole-number ``id``, an aware
    ``calculated_at`` and a :class:`TrendAssessment` whose ``score`` is a finite number);
    ``viral_ads`` that are not :class:`ViralAd` hits, each of an :class:`Ad` whose ``id`` is a
    whole number; a ``now`` or ``history_since`` without a
    UTC offset or outside 1970-2100."""
    if not isinstance(rule, AlertRule):
        raise InvalidValue("rule", f"must be an AlertRule, not {kind_of(rule)}")
    kind = validate_rule(rule.kind, rule.threshold, rule.window_hours)
    # The rule as the events carry it: its kind as itself, its numbers as a float and an int
    # (whatever real and whole numbers it was given: a NumPy scalar).
    threshold = None if rule.threshold is None else real(rule.threshold)
    window_hours = None if rule.window_hours is None else whole(rule.window_hours)
    if (
        rule.kind is not kind
        or (threshold is not None and type(rule.threshold) is not float)
        or (window_hours is not None and type(rule.window_hours) is not int)
    ):
        rule = dataclasses.replace(rule, kind=kind, threshold=threshold, window_hours=window_hours)
    require_aware("created_at", rule.created_at)
    asked_from = rule.created_at
    if rule.changed_at is not None:
        require_aware("changed_at", rule.changed_at)
        asked_from = max(asked_from, rule.changed_at)
    plain_id = whole(product_id)  # any whole number (a NumPy integer), as an int
    if plain_id is None:
        raise InvalidValue("product_id", f"must be a whole number, not {kind_of(product_id)}")
    product_id = plain_id
    if not isinstance(product_name, str):
        raise InvalidValue("product_name", f"must be text, not {kind_of(product_name)}")
    instant("now", now)
    if history_since is not None:
        instant("history_since", history_since)
    scores = _checked_history(history)
    hits = listed("viral_ads", viral_ads, "ViralAd")
    # Each hit with its ad's id as a plain int: the id names the event (an ad not stored, without
    # one, cannot be alerted on).
    ad_ids: list[tuple[int, ViralAd]] = []
    for index, viral in enumerate(hits):
        if not isinstance(viral, ViralAd) or not isinstance(viral.ad, Ad):
            raise InvalidValue("viral_ads", f"item {index} is {kind_of(viral)}: must be a ViralAd of an Ad")
        ad_id = whole(viral.ad.id)
        if ad_id is None:
            raise InvalidValue(
                "id",
                f"viral_ads item {index}: the ad's id must be a whole number (an ad without one cannot "
                f"be alerted on), not {kind_of(viral.ad.id)}",
            )
        ad_ids.append((ad_id, viral))
    ordered = sorted((s for s in scores if s.calculated_at <= now), key=lambda s: (s.calculated_at, s.id))
    prefix = event_key_prefix(rule, product_id)
    if kind == AlertRuleKind.NEW_VIRAL_AD:
        return [
            AlertEvent(
                rule,
                product_id,
                f"{prefix}ad{ad_id}",
                f"🔥 New viral ad detected for {product_name} on {viral.ad.platform}: {viral.reason}",
            )
            for ad_id, viral in sorted(ad_ids, key=itemgetter(0))
        ]
    truncated = history_since is not None
    if kind == AlertRuleKind.SCORE_THRESHOLD:
        episodes = _threshold_episodes(rule, ordered, truncated)
    elif kind == AlertRuleKind.SCORE_RISE:
        episodes = _rise_episodes(rule, ordered, history_since)
    else:
        episodes = _exploding_episodes(ordered, truncated)
    events: list[AlertEvent] = []
    for episode in episodes:
        if episode.start.calculated_at < asked_from and not episode.holds_now:
            continue  # news before the rule: only what is true of it now
        events.append(
            AlertEvent(
                rule,
                product_id,
                f"{prefix}s{episode.start.id}",
                _message(rule, product_name, episode, ordered[-1]),
                began_at=episode.start.calculated_at,
                ongoing=episode.ongoing,
                continued=episode.continued,
            )
        )
    return events


def _checked_history(history: object) -> list[TrendScore]:
    """The history as a list, each score checked for what the rules compare and order by; a
    score whose ``id`` or ``score`` is a number of another type (NumPy's) is given with them as
    an int and a float, in a copy of the list."""
    scores = listed("history", history, "TrendScore")
    copied = False
    for index, s in enumerate(scores):
        if not isinstance(s, TrendScore):
            raise InvalidValue("history", f"item {index} is {kind_of(s)}: must be a TrendScore")
        score_id = s.id if type(s.id) is int else whole(s.id)
        if score_id is None:
            raise InvalidValue("id", f"history item {index}: must be a whole number, not {kind_of(s.id)}")
        if not isinstance(s.calculated_at, datetime) or s.calculated_at.utcoffset() is None:
            raise InvalidValue("calculated_at", f"history item {index}: must be a datetime with a UTC offset")
        if not isinstance(s.assessment, TrendAssessment):
            raise InvalidValue(
                "assessment", f"history item {index}: must be a TrendAssessment, not {kind_of(s.assessment)}"
            )
        score = s.assessment.score
        plain = score if type(score) is float and math.isfinite(score) else finite(score)
        if plain is None:
            raise InvalidValue("score", f"history item {index}: must be a finite number")
        if score_id is not s.id or plain is not score:
            if not copied:
                scores, copied = list(scores), True
            scores[index] = dataclasses.replace(
                s, id=score_id, assessment=dataclasses.replace(s.assessment, score=plain)
            )
    return scores


def _exact(number: float | None) -> str:
    # Exact and the same whether the store gave back 50 or 50.0: two rules share events only
    # when their parameters are equal.
    return repr(float(number or 0.0))


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _message(rule: AlertRule, product_name: str, episode: _Episode, latest: TrendScore) -> str:
    """What is true now: when the episode began, what it was then, and the score now (when
    a later score exists), so an alert about an old crossing never reads as current."""
    start = episode.start
    when = _when(start.calculated_at)
    current = start.id == latest.id
    now = "" if current else f"; now {latest.score:.1f}"
    if rule.kind == AlertRuleKind.SCORE_THRESHOLD:
        if current:
            return f"📈 {product_name} trend score reached {episode.detail} (threshold {rule.threshold:g}) on {when}"
        return f"📈 {product_name} trend score crossed {rule.threshold:g} on {when} ({episode.detail}){now}"
    if rule.kind == AlertRuleKind.SCORE_RISE:
        return (
            f"🚀 {product_name} trend score increased by {episode.detail} points within "
            f"{rule.window_hours} h on {when} (to {start.score:.1f}){now}"
        )
    if current:
        return f"💥 {product_name} is exploding (score {episode.detail}) as of {when}"
    if episode.ongoing:
        return f"💥 {product_name} has been exploding since {when} (score {episode.detail}){now}"
    return f"💥 {product_name} was exploding on {when} (score {episode.detail}){now}"
