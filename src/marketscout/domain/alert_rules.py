"""Alert rules as small named objects: each finds the events in a product's score history.

An *episode* is a stretch of history during which a rule's condition holds; it starts when the
condition first holds while the rule is armed, and the rule re-arms only once the condition has
clearly stopped holding (hysteresis), so a score hovering at a threshold does not flap. Each
episode has one stable event key (the product, the rule's condition and the score that started
it), so evaluating the same history again never yields a new event; the alert store keeps one
alert per user and key. The key names the condition (kind and parameters), not the rule's id:
a default rule, an explicit rule of the same kind and parameters, and a rule for the whole
watchlist overlapping one for a single product all find the same events, which alert once.
Episodes that started before the rule existed are reported only while still ongoing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from marketscout.domain.errors import InvalidValue
from marketscout.domain.instants import require_aware
from marketscout.domain.model import AlertRule, AlertRuleKind, TrendScore, TrendStatus, ViralAd

# Points a score must fall below a threshold before a threshold rule fires again.
HYSTERESIS_POINTS = 5.0
MAX_WINDOW_HOURS = 720


@dataclass(frozen=True, slots=True)
class AlertEvent:
    rule: AlertRule
    product_id: int
    event_key: str
    message: str


def validate_rule(kind: AlertRuleKind, threshold: float | None, window_hours: int | None) -> None:
    """Raises InvalidValue naming the field a rule of this kind needs or must not have."""
    if not isinstance(kind, AlertRuleKind):
        raise InvalidValue("kind", f"must be one of: {', '.join(k.value for k in AlertRuleKind)}")
    if kind in (AlertRuleKind.SCORE_RISE, AlertRuleKind.SCORE_THRESHOLD):
        if threshold is None:
            raise InvalidValue("threshold", f"is required for {kind} rules")
        if not 0 < threshold <= 100:
            raise InvalidValue("threshold", "must be greater than 0 and at most 100")
    elif threshold is not None:
        raise InvalidValue("threshold", f"does not apply to {kind} rules")
    if kind == AlertRuleKind.SCORE_RISE:
        if window_hours is None:
            raise InvalidValue("window_hours", "is required for score_rise rules")
        if not 1 <= window_hours <= MAX_WINDOW_HOURS:
            raise InvalidValue("window_hours", f"must be between 1 and {MAX_WINDOW_HOURS}")
    elif window_hours is not None:
        raise InvalidValue("window_hours", f"does not apply to {kind} rules")


@dataclass(frozen=True, slots=True)
class _Episode:
    start: TrendScore
    ongoing: bool
    detail: str


def _episodes(
    history: Sequence[TrendScore],
    holds: Callable[[int], tuple[bool, str]],
    rearms: Callable[[int], bool],
) -> list[_Episode]:
    episodes: list[_Episode] = []
    armed = True
    start: TrendScore | None = None
    detail = ""
    for index, score in enumerate(history):
        condition, text = holds(index)
        if armed and condition:
            armed, start, detail = False, score, text
        elif not armed and rearms(index):
            if start is not None:
                episodes.append(_Episode(start, ongoing=False, detail=detail))
            armed, start = True, None
    if start is not None:
        episodes.append(_Episode(start, ongoing=True, detail=detail))
    return episodes


def _threshold_episodes(rule: AlertRule, history: Sequence[TrendScore]) -> list[_Episode]:
    limit = rule.threshold or 0.0
    return _episodes(
        history,
        lambda i: (history[i].score >= limit, f"{history[i].score:.1f}"),
        lambda i: history[i].score < limit - HYSTERESIS_POINTS,
    )


def _rise_episodes(rule: AlertRule, history: Sequence[TrendScore]) -> list[_Episode]:
    window = timedelta(hours=rule.window_hours or 24)
    points = rule.threshold or 0.0
    rises = _rises(history, window)
    return _episodes(
        history, lambda i: (rises[i] >= points, f"{rises[i]:.1f}"), lambda i: rises[i] < points / 2
    )


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


def _exploding_episodes(history: Sequence[TrendScore]) -> list[_Episode]:
    return _episodes(
        history,
        lambda i: (history[i].status == TrendStatus.EXPLODING, f"{history[i].score:.1f}"),
        lambda i: history[i].status != TrendStatus.EXPLODING,
    )


def evaluate_rule(
    rule: AlertRule,
    product_id: int,
    product_name: str,
    history: Sequence[TrendScore],
    viral_ads: Sequence[ViralAd],
    now: datetime,
) -> list[AlertEvent]:
    """The events of one rule on one product. ``history`` is the product's scores, oldest first.
    A rule that breaks its kind's rules (:func:`validate_rule`) is refused, as is a naive ``now``."""
    validate_rule(rule.kind, rule.threshold, rule.window_hours)
    require_aware("now", now)
    ordered = sorted((s for s in history if s.calculated_at <= now), key=lambda s: (s.calculated_at, s.id))
    prefix = f"p{product_id}"
    if rule.kind == AlertRuleKind.NEW_VIRAL_AD:
        return [
            AlertEvent(
                rule,
                product_id,
                f"{prefix}:viral:ad{viral.ad.id}",
                f"🔥 New viral ad detected for {product_name} on {viral.ad.platform}: {viral.reason}",
            )
            for viral in sorted(viral_ads, key=lambda v: v.ad.id)
        ]
    if rule.kind == AlertRuleKind.SCORE_THRESHOLD:
        episodes, condition = _threshold_episodes(rule, ordered), f"threshold{_exact(rule.threshold)}"
    elif rule.kind == AlertRuleKind.SCORE_RISE:
        episodes, condition = (
            _rise_episodes(rule, ordered),
            f"rise{_exact(rule.threshold)}/{rule.window_hours}h",
        )
    else:
        episodes, condition = _exploding_episodes(ordered), "exploding"
    events: list[AlertEvent] = []
    for episode in episodes:
        if episode.start.calculated_at < rule.created_at and not episode.ongoing:
            continue
        message = _message(rule, product_name, episode, ordered[-1])
        events.append(AlertEvent(rule, product_id, f"{prefix}:{condition}:s{episode.start.id}", message))
    return events


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
