"""Alert rules and alerts: evaluate users' rules on their products, store each event once.

Rules read the last :data:`HISTORY_WINDOW` of a product's scores, evaluated after every new
score. An episode that lasts longer than that (a product over a threshold, or exploding, for
weeks) has left its first score behind: the window finds it starting at its own first score, a
key that changes as the window slides. The rules engine marks such an episode *continued* (it
cannot tell it from one that began in the window), and here it is settled, on the first
evaluation that finds it as on every later one, by a history read far enough back to hold its
start: the last 2, 4, 8 then 16 windows, each read only while an episode is still continued in
the one before, then the whole stored history. So its key and message name its true first
score whichever window finds it (a rule made, changed, or covering a product watched, 40 days
into an episode alerts it once, from its start), and the events of that history that began in
the window or are still going are stored with the window's other events (an ongoing one was
alerted, under that key, when it began). What the whole history cannot tell either (an episode
at its first score, after ``scores prune``, which keeps at least this window) is taken for the
user's alert of the condition if they have one, and keyed by that score otherwise; a rise in
the first rule window after a prune is measured on the scores kept.

So a longer history is read only for a rule whose window opens inside an episode, or inside a
hysteresis band without a re-arming score (or, for a ``score_rise`` rule, where it does not hold
twice the rule's window before an episode), and back to at most twice as long ago as that
episode began: the whole history only for an episode older than 8 windows, or where a read
finds no scores older than the one before (what is older lies beyond a gap, if anywhere).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from marketscout.domain.alert_rules import AlertEvent, evaluate_rule, event_key_prefix, validate_rule
from marketscout.domain.errors import Conflict, InvalidValue, NotFound
from marketscout.domain.model import Alert, AlertRule, AlertRuleKind, Channel, TrendScore, ViralAd
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases.notifications import (
    RULE_DELETED,
    WEBHOOK_CHANGED,
    deliveries_for,
    new_webhook_secret,
    validate_channels,
    webhook_unchanged,
)
from marketscout.domain.usecases.trends import rescore, scan_hits

# How much score history a rule looks at. Longer than any rule window allowed.
HISTORY_WINDOW = timedelta(days=31)
# How many windows back the history is read to find where an episode the window opens inside
# began, one after the other, before the whole history is read (see _settled).
LOOK_BACK_FACTORS = (2, 4, 8, 16)
MAX_RULES_PER_USER = 100

# What a user who has written no rules of their own is alerted about, one rule a kind; their
# alerts carry the rule id DEFAULT_RULE_ID, which no stored rule has.
DEFAULT_RULE_ID = 0
DEFAULT_RULES: tuple[tuple[AlertRuleKind, float | None, int | None], ...] = (
    (AlertRuleKind.SCORE_RISE, 10.0, 24),
    (AlertRuleKind.NEW_VIRAL_AD, None, None),
)


def default_rules(user_id: int, created_at: datetime) -> list[AlertRule]:
    return [
        AlertRule(
            id=DEFAULT_RULE_ID,
            user_id=user_id,
            kind=kind,
            threshold=threshold,
            window_hours=window,
            created_at=created_at,
        )
        for kind, threshold, window in DEFAULT_RULES
    ]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RuleDefinition:
    """What a rule asks (kind, product, threshold, window) and where it delivers: what creating a
    rule takes and changing one replaces."""

    kind: AlertRuleKind
    product_id: int | None = None
    threshold: float | None = None
    window_hours: int | None = None
    channels: tuple[Channel, ...] = ()
    webhook_url: str | None = None

    def checked_channels(
        self, available_channels: Collection[Channel], allow_private_webhooks: bool
    ) -> tuple[Channel, ...]:
        """The definition checked by the rules of its kind and of delivery: the channels chosen."""
        validate_rule(self.kind, self.threshold, self.window_hours)
        chosen = validate_channels(self.channels, self.webhook_url, allow_private=allow_private_webhooks)
        for channel in chosen:
            if channel not in available_channels:
                raise InvalidValue("channels", f"{channel} delivery is not configured on this server")
        return chosen


class IdenticalRule(Conflict):
    """The rule would ask exactly what another of the user's rules asks: ``rule``, that one."""

    def __init__(self, message: str, rule: AlertRule) -> None:
        super().__init__(message)
        self.rule = rule


def _identical(rule: AlertRule, others: Iterable[AlertRule]) -> AlertRule | None:
    """Another rule that asks exactly the same (kind, product, threshold, window): it would find
    the same events, which alert once anyway."""
    question = _question(rule)
    return next((o for o in others if o.id != rule.id and _question(o) == question), None)


def _question(rule: AlertRule) -> tuple[object, ...]:
    """What a rule asks: its kind, product, threshold and window."""
    return (rule.kind, rule.product_id, rule.threshold, rule.window_hours)


async def create_rule(
    uow: UnitOfWork,
    clock: Clock,
    *,
    user_id: int,
    definition: RuleDefinition,
    available_channels: Collection[Channel] = tuple(Channel),
    allow_private_webhooks: bool = False,
) -> AlertRule:
    """Stores a rule. A rule delivering to a webhook gets a new signing secret, which the
    caller shows the user once. A rule identical to one the user has (same kind, product,
    threshold and window) is an :class:`IdenticalRule` conflict."""
    d = definition
    rule = AlertRule(
        user_id=user_id,
        kind=d.kind,
        product_id=d.product_id,
        threshold=d.threshold,
        window_hours=d.window_hours,
        created_at=clock.now(),
        channels=d.checked_channels(available_channels, allow_private_webhooks),
        webhook_url=d.webhook_url,
        webhook_secret=new_webhook_secret() if d.webhook_url is not None else None,
    )
    async with uow:
        # Held first: two requests creating the same rule at once would each miss the other's.
        await uow.alert_rules.hold(user_id)
        if d.product_id is not None and await uow.products.get(d.product_id) is None:
            raise NotFound("product", d.product_id)
        existing = await uow.alert_rules.list(user_id)
        if (other := _identical(rule, existing)) is not None:
            raise IdenticalRule(
                f"an identical alert rule exists (id {other.id}); change that one to change how its "
                "alerts are delivered",
                other,
            )
        if len(existing) >= MAX_RULES_PER_USER:
            raise Conflict(f"at most {MAX_RULES_PER_USER} alert rules per user")
        rule = await uow.alert_rules.add(rule)
        await uow.commit()
    return rule


async def replace_rule(
    uow: UnitOfWork,
    clock: Clock,
    *,
    user_id: int,
    rule_id: int,
    definition: RuleDefinition,
    available_channels: Collection[Channel] = tuple(Channel),
    allow_private_webhooks: bool = False,
) -> tuple[AlertRule, bool]:
    """Changes one of the user's rules in place: its id, creation time and the alerts it raised
    stay; what it asks and where it delivers are replaced, by the rules of :func:`create_rule`.
    A rule whose question changes (kind, product, threshold or window) records the moment in
    ``changed_at`` and is judged from then as a rule made then: an episode over before the
    change is not news to it. A change of delivery alone keeps the moment it is judged from.
    The webhook signing secret stays while the URL does; a new URL gets a new secret, no URL
    none. Returns the rule and whether its secret is new (to be shown once)."""
    d = definition
    chosen = d.checked_channels(available_channels, allow_private_webhooks)
    async with uow:
        await uow.alert_rules.hold(user_id)
        existing = await uow.alert_rules.list(user_id)
        current = next((r for r in existing if r.id == rule_id), None)
        if current is None:
            raise NotFound("alert rule", rule_id)
        if d.product_id is not None and await uow.products.get(d.product_id) is None:
            raise NotFound("product", d.product_id)
        new_secret = d.webhook_url is not None and d.webhook_url != current.webhook_url
        rule = dataclasses.replace(
            current,
            kind=d.kind,
            product_id=d.product_id,
            threshold=d.threshold,
            window_hours=d.window_hours,
            channels=chosen,
            webhook_url=d.webhook_url,
            webhook_secret=new_webhook_secret()
            if new_secret
            else current.webhook_secret
            if d.webhook_url
            else None,
        )
        if _question(rule) != _question(current):
            rule = dataclasses.replace(rule, changed_at=clock.now())
        if (other := _identical(rule, existing)) is not None:
            raise IdenticalRule(f"an identical alert rule exists (id {other.id})", other)
        await uow.alert_rules.replace(rule)
        if not webhook_unchanged(current, rule):
            await uow.deliveries.cancel(user_id, rule_id, WEBHOOK_CHANGED, channel=Channel.WEBHOOK)
        await uow.commit()
    return rule, new_secret


async def list_rules(
    uow: UnitOfWork, *, user_id: int, skip: int = 0, limit: int | None = None
) -> list[AlertRule]:
    async with uow:
        return await uow.alert_rules.list(user_id, skip=skip, limit=limit)


async def delete_rule(uow: UnitOfWork, *, user_id: int, rule_id: int) -> None:
    """Removes one of the user's rules; the alerts it raised stay, but none of their deliveries
    still waiting is sent (they are cancelled, in the same unit of work)."""
    async with uow:
        await uow.alert_rules.hold(user_id)
        if not await uow.alert_rules.remove(user_id, rule_id):
            raise NotFound("alert rule", rule_id)
        await uow.deliveries.cancel(user_id, rule_id, RULE_DELETED)
        await uow.commit()


async def list_alerts(
    uow: UnitOfWork, *, user_id: int, unread_only: bool = False, skip: int = 0, limit: int = 100
) -> list[Alert]:
    async with uow:
        return await uow.alerts.list(user_id, unread_only=unread_only, skip=skip, limit=limit)


async def count_unread_alerts(uow: UnitOfWork, *, user_id: int) -> int:
    """How many of the user's alerts are unread (the dashboard's navigation shows it)."""
    async with uow:
        return await uow.alerts.count_unread(user_id)


async def mark_alerts_read(
    uow: UnitOfWork, clock: Clock, *, user_id: int, alert_ids: list[int] | None
) -> int:
    async with uow:
        changed = await uow.alerts.mark_read(user_id, alert_ids, clock.now())
        await uow.commit()
    return changed


async def evaluate_alerts(
    uow: UnitOfWork,
    clock: Clock,
    *,
    user_ids: Iterable[int] | None = None,
    product_ids: Iterable[int] | None = None,
) -> dict[int, list[Alert]]:
    """Evaluates the rules of the given users (all when None), on the products each
    rule covers (only ``product_ids`` when given), and stores the new alerts.

    A rule naming a product covers it; a rule without one covers the user's watchlist.
    """
    now = clock.now()
    only_products = None if product_ids is None else set(product_ids)
    new_alerts: dict[int, list[Alert]] = defaultdict(list)
    async with uow:
        if user_ids is None:
            rules_by_user: dict[int, list[AlertRule]] = defaultdict(list)
            for rule in await uow.alert_rules.list_all():
                rules_by_user[rule.user_id].append(rule)
            users = set(rules_by_user)
            if only_products is not None:
                # Watchers without rules of their own are covered by the default rules.
                users |= await uow.watchlists.users_watching(only_products)
        else:
            users = set(user_ids)
            rules_by_user = {uid: await uow.alert_rules.list(uid) for uid in users}
        targets: list[tuple[AlertRule, int]] = []
        for user_id in sorted(users):
            rules = rules_by_user.get(user_id) or default_rules(user_id, now)
            watched = {e.product_id: e.created_at for e in await uow.watchlists.list(user_id)}
            for rule in rules:
                if rule.product_id is not None:
                    if only_products is None or rule.product_id in only_products:
                        targets.append((rule, rule.product_id))
                    continue
                for pid, since_watched in watched.items():
                    if only_products is None or pid in only_products:
                        # A rule over the watchlist is news about a product from when it was
                        # watched: an episode over before then is not alerted.
                        targets.append((_from(rule, since_watched), pid))
        if not targets:
            return {}
        wanted = {pid for _, pid in targets}
        products = await uow.products.get_many(wanted)
        since = now - HISTORY_WINDOW
        histories: dict[int, list[TrendScore]] = {
            pid: await uow.scores.history(pid, since=since) for pid in wanted
        }
        longer_reads: dict[tuple[int, datetime | None], list[TrendScore]] = {}
        viral_by_product: dict[int, list[ViralAd]] = defaultdict(list)
        if any(rule.kind == AlertRuleKind.NEW_VIRAL_AD for rule, _ in targets):
            # The same scan as /scan-ads: every ad is judged against all its peers.
            hits = [h for h in await scan_hits(uow, now) if h.product_id in wanted]
            ads = await uow.ads.get_many(h.ad_id for h in hits)
            for hit in hits:
                if hit.ad_id in ads:
                    viral_by_product[hit.product_id].append(
                        hit.viral(ads[hit.ad_id], products[hit.product_id].name)
                    )
        emails: dict[int, str] = {}
        for rule, pid in targets:
            product = products.get(pid)
            if product is None:
                continue
            events = evaluate_rule(
                rule, pid, product.name, histories[pid], viral_by_product[pid], now, history_since=since
            )
            if any(e.continued for e in events):
                # The window's other events are exact; a longer read settles the continued.
                exact = {e.event_key: e for e in events if not e.continued}
                settled = await _settled(
                    uow, rule, pid, product.name, histories[pid], since, now, longer_reads
                )
                events = list(({e.event_key: e for e in settled} | exact).values())
            for event in events:
                stored = await uow.alerts.add_if_new(
                    Alert(
                        user_id=rule.user_id,
                        rule_id=rule.id,
                        product_id=pid,
                        kind=rule.kind,
                        event_key=event.event_key,
                        message=event.message,
                        created_at=now,
                    )
                )
                if stored is None:
                    continue
                new_alerts[rule.user_id].append(stored)
                if rule.channels:
                    if rule.user_id not in emails:
                        user = await uow.users.get(rule.user_id)
                        emails[rule.user_id] = user.email if user is not None else ""
                    for delivery in deliveries_for(stored, rule, emails[rule.user_id], now):
                        await uow.deliveries.add(delivery)
        await uow.commit()
    return dict(new_alerts)


def _from(rule: AlertRule, moment: datetime) -> AlertRule:
    """``rule`` as if made at ``moment`` when that is later than it was made."""
    return rule if moment <= rule.created_at else dataclasses.replace(rule, created_at=moment)


async def _settled(
    uow: UnitOfWork,
    rule: AlertRule,
    product_id: int,
    name: str,
    window: list[TrendScore],
    since: datetime,
    now: datetime,
    reads: dict[tuple[int, datetime | None], list[TrendScore]],
) -> list[AlertEvent]:
    """The rule's events on the product that began since ``since`` or still go on, read from a
    history long enough to hold the start of every episode the ``window`` (read since ``since``)
    left continued: the last 2, 4, 8 then 16 windows while some episode is still continued in
    them, and the whole stored history after those, or as soon as one finds no scores older
    than the read before (any older ones lie beyond a gap). ``reads`` keeps each read for the
    other rules on the product. On the whole history an episode holding at its first score is the user's
    alert of the condition if they have one (after ``scores prune`` it may have begun earlier,
    under a key no longer stored) and is keyed by that score otherwise."""
    count = len(window)
    for factor in (*LOOK_BACK_FACTORS, None):
        start = None if factor is None else now - factor * HISTORY_WINDOW
        history = await _read(uow, product_id, start, reads)
        if start is not None and len(history) == count:
            # Nothing older within this reach: what is older lies beyond a gap, if anywhere.
            start = None
            history = await _read(uow, product_id, start, reads)
        count = len(history)
        events = evaluate_rule(rule, product_id, name, history, [], now, history_since=start)
        if start is None or not any(e.continued for e in events):
            break
    first = history[0].calculated_at if start is None and history else None
    prefix = event_key_prefix(rule, product_id)
    found: list[AlertEvent] = []
    for event in events:
        if not (event.ongoing or (event.began_at is not None and event.began_at >= since)):
            continue
        if event.began_at == first and await uow.alerts.has_event(rule.user_id, prefix):
            continue
        found.append(event)
    return found


async def _read(
    uow: UnitOfWork,
    product_id: int,
    since: datetime | None,
    reads: dict[tuple[int, datetime | None], list[TrendScore]],
) -> list[TrendScore]:
    """The product's scores since ``since`` (all when None), read once per evaluation."""
    if (product_id, since) not in reads:
        reads[product_id, since] = await uow.scores.history(product_id, since=since)
    return reads[product_id, since]


async def check_alerts(uow: UnitOfWork, clock: Clock, *, user_id: int) -> list[Alert]:
    """Re-scores the products the user's rules cover, then stores and returns the new alerts."""
    async with uow:
        watched = {e.product_id for e in await uow.watchlists.list(user_id)}
        named = {r.product_id for r in await uow.alert_rules.list(user_id) if r.product_id is not None}
    if watched | named:
        await rescore(uow, clock, watched | named)
    return (await evaluate_alerts(uow, clock, user_ids=[user_id])).get(user_id, [])
