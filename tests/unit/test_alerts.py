"""Evaluating alert rules over stored scores: one alert per episode, however long it lasts."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Self

from hypothesis import example, given, settings
from hypothesis import strategies as st

from marketscout.adapters.memory import InMemoryScoreRepository, InMemoryStore, InMemoryUnitOfWork
from marketscout.domain.alert_rules import evaluate_rule
from marketscout.domain.model import (
    AlertRule,
    AlertRuleKind,
    Product,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    User,
    WatchlistEntry,
)
from marketscout.domain.usecases.alerts import RuleDefinition, evaluate_alerts, replace_rule
from tests.unit.fakes import START, FakeClock


class Shop:
    """A user, a product and a rule on it, in memory; scores arrive one by one."""

    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock()
        self.user_id = 0
        self.product_id = 0
        self.scores: list[TrendScore] = []

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def open(self) -> None:
        uow = self.uow()
        async with uow:
            user = await uow.users.add(
                User(username="ana", email="a@x.example", password_hash="h", created_at=START)
            )
            product = await uow.products.add(Product(name="Lamp", description="d", created_at=START))
            await uow.commit()
        self.user_id, self.product_id = user.id, product.id

    async def add_rule(
        self, kind: AlertRuleKind, threshold: float | None, window: int | None, *, watchlist: bool = False
    ) -> AlertRule:
        """A rule on the shop's product, or with ``watchlist`` on every product the user watches."""
        uow = self.uow()
        async with uow:
            rule = await uow.alert_rules.add(
                AlertRule(
                    user_id=self.user_id,
                    kind=kind,
                    product_id=None if watchlist else self.product_id,
                    threshold=threshold,
                    window_hours=window,
                    created_at=self.clock.now(),
                )
            )
            await uow.commit()
        return rule

    async def watch(self, hours: float) -> None:
        self.clock.current = START + timedelta(hours=hours)
        uow = self.uow()
        async with uow:
            await uow.watchlists.add_if_new(
                WatchlistEntry(user_id=self.user_id, product_id=self.product_id, created_at=self.clock.now())
            )
            await uow.commit()

    async def messages(self) -> list[str]:
        uow = self.uow()
        async with uow:
            return [a.message for a in await uow.alerts.list(self.user_id, limit=10_000)]

    async def score(self, hours: float, score: float, status: TrendStatus = TrendStatus.STEADY) -> None:
        self.clock.current = START + timedelta(hours=hours)
        uow = self.uow()
        async with uow:
            stored = await uow.scores.add(
                TrendScore(
                    product_id=self.product_id,
                    calculated_at=self.clock.now(),
                    assessment=TrendAssessment(score=score, status=status, confidence=0.5),
                )
            )
            await uow.commit()
        self.scores.append(stored)

    async def evaluate(self) -> None:
        await evaluate_alerts(InMemoryUnitOfWork(self.store), self.clock, user_ids=[self.user_id])

    async def alert_keys(self) -> list[str]:
        uow = self.uow()
        async with uow:
            return sorted(a.event_key for a in await uow.alerts.list(self.user_id, limit=10_000))

    async def prune(self, days: int) -> None:
        uow = self.uow()
        async with uow:
            await uow.scores.prune(self.clock.now() - timedelta(days=days))
            await uow.commit()


async def test_an_episode_longer_than_the_history_window_alerts_once() -> None:
    """Above the threshold for 45 days, scored every 3 hours and evaluated after each score,
    scores older than 32 days pruned on the 40th: one alert."""
    shop = Shop()
    await shop.open()
    await shop.add_rule(AlertRuleKind.SCORE_THRESHOLD, 50, None)
    for step in range(45 * 8):
        await shop.score(3 * step, 80.0)
        await shop.evaluate()
        if step == 40 * 8:
            await shop.prune(32)
    assert await shop.alert_keys() == [f"p{shop.product_id}:threshold50.0:s{shop.scores[0].id}"]


async def test_an_exploding_stretch_longer_than_the_window_alerts_once() -> None:
    shop = Shop()
    await shop.open()
    await shop.add_rule(AlertRuleKind.STATUS_EXPLODING, None, None)
    for step in range(40 * 4):
        await shop.score(6 * step, 90.0, TrendStatus.EXPLODING)
        await shop.evaluate()
    assert len(await shop.alert_keys()) == 1


async def test_a_rule_made_during_a_long_episode_alerts_once() -> None:
    shop = Shop()
    await shop.open()
    for step in range(40 * 4):
        await shop.score(6 * step, 80.0)
    await shop.add_rule(AlertRuleKind.SCORE_THRESHOLD, 50, None)
    for step in range(40 * 4, 60 * 4):
        await shop.score(6 * step, 80.0)
        await shop.evaluate()
    assert len(await shop.alert_keys()) == 1


async def test_a_rule_made_after_a_crossing_the_score_fell_back_from_waits_until_it_holds_again() -> None:
    """Over 50, then 47 (inside the hysteresis band, so the crossing's episode has not ended)
    when the rule is made: nothing is true of the rule now, so nothing alerts; once the score
    is over 50 again the episode holds and alerts, once, saying the score now."""
    shop = Shop()
    await shop.open()
    await shop.score(0, 80.0)
    await shop.score(6, 47.0)
    await shop.add_rule(AlertRuleKind.SCORE_THRESHOLD, 50, None)
    await shop.score(7, 46.0)
    await shop.evaluate()
    assert await shop.messages() == []
    await shop.score(12, 52.0)
    await shop.evaluate()
    await shop.score(13, 53.0)
    await shop.evaluate()
    assert await shop.messages() == [
        f"📈 Lamp trend score crossed 50 on {(START).strftime('%Y-%m-%d %H:%M UTC')} (80.0); now 52.0"
    ]


async def test_an_edited_rule_is_judged_like_a_new_one_from_the_edit() -> None:
    """92.4 then 0.0 under a rule at 95: nothing. Changed to 90 after that, the rule asks a new
    question: the crossing of 90 that is over is not news, as it is not for a rule made then;
    one after the change is."""
    shop = Shop()
    await shop.open()
    rule = await shop.add_rule(AlertRuleKind.SCORE_THRESHOLD, 95, None)
    await shop.score(1, 92.4)
    await shop.evaluate()
    await shop.score(2, 0.0)
    await shop.evaluate()
    shop.clock.current = START + timedelta(hours=3)
    await replace_rule(
        shop.uow(),
        shop.clock,
        user_id=shop.user_id,
        rule_id=rule.id,
        definition=RuleDefinition(
            kind=AlertRuleKind.SCORE_THRESHOLD, product_id=shop.product_id, threshold=90
        ),
    )
    await shop.evaluate()
    assert await shop.messages() == []
    await shop.score(4, 91.0)
    await shop.evaluate()
    assert await shop.messages() == [
        f"📈 Lamp trend score reached 91.0 (threshold 90) on {(START + timedelta(hours=4)).strftime('%Y-%m-%d %H:%M UTC')}"
    ]


async def test_a_rule_made_after_an_explosion_alerts_it_only_while_the_product_is_exploding() -> None:
    """Exploding until hour 6, then emerging at 69 (not the end of an explosion by the
    hysteresis) when the rule is made: no alert; exploding again: one."""
    shop = Shop()
    await shop.open()
    await shop.score(0, 90.0, TrendStatus.EXPLODING)
    await shop.score(6, 69.0, TrendStatus.EMERGING)
    await shop.add_rule(AlertRuleKind.STATUS_EXPLODING, None, None)
    await shop.score(8, 69.0, TrendStatus.EMERGING)
    await shop.evaluate()
    assert await shop.messages() == []
    await shop.score(10, 75.0, TrendStatus.EXPLODING)
    await shop.evaluate()
    assert len(await shop.messages()) == 1
    assert "has been exploding since" in (await shop.messages())[0]


async def test_a_product_watched_later_alerts_no_episode_over_before_it_was_watched() -> None:
    """A watchlist-wide rule made at hour 0; the product explodes at hour 1 and has peaked by
    hour 12, and is watched at hour 20: its old explosion is not news to alert. Another
    explosion after the watch alerts."""
    shop = Shop()
    await shop.open()
    await shop.add_rule(AlertRuleKind.STATUS_EXPLODING, None, None, watchlist=True)
    await shop.score(1, 90.0, TrendStatus.EXPLODING)
    await shop.score(12, 60.0, TrendStatus.PEAKED)
    await shop.watch(20)
    await shop.score(21, 58.0, TrendStatus.PEAKED)
    await shop.evaluate()
    assert await shop.messages() == []
    await shop.score(30, 88.0, TrendStatus.EXPLODING)
    await shop.evaluate()
    assert len(await shop.messages()) == 1


async def test_a_product_watched_while_it_explodes_alerts_at_once() -> None:
    shop = Shop()
    await shop.open()
    await shop.add_rule(AlertRuleKind.STATUS_EXPLODING, None, None, watchlist=True)
    await shop.score(1, 90.0, TrendStatus.EXPLODING)
    await shop.watch(5)
    await shop.score(6, 91.0, TrendStatus.EXPLODING)
    await shop.evaluate()
    assert len(await shop.messages()) == 1


async def test_a_new_crossing_after_a_month_just_below_the_threshold_alerts() -> None:
    """Over 50 (an alert), well below it (the rule re-arms), then a month within the hysteresis
    band (neither), then over 50 again: a new episode, which the last 31 days alone cannot tell
    from a continuing one."""
    shop = Shop()
    await shop.open()
    await shop.add_rule(AlertRuleKind.SCORE_THRESHOLD, 50, None)
    await shop.score(0, 80.0)
    await shop.evaluate()
    await shop.score(6, 30.0)
    await shop.evaluate()
    for step in range(2, 35 * 4):
        await shop.score(6 * step, 48.0)
        await shop.evaluate()
    await shop.score(6 * 35 * 4, 60.0)
    await shop.evaluate()
    assert await shop.alert_keys() == sorted(
        f"p{shop.product_id}:threshold50.0:s{s.id}" for s in (shop.scores[0], shop.scores[-1])
    )


class RecordingScores(InMemoryScoreRepository):
    """Scores that note the ``since`` of every history read of them."""

    reads: list[datetime | None]

    async def history(self, product_id: int, *, since: datetime | None = None) -> list[TrendScore]:
        self.reads.append(since)
        return await super().history(product_id, since=since)


class RecordingUnitOfWork(InMemoryUnitOfWork):
    def __init__(self, store: InMemoryStore, reads: list[datetime | None]) -> None:
        super().__init__(store)
        self.reads = reads

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        assert self._tx is not None
        self.scores = RecordingScores(self._tx)
        self.scores.reads = self.reads
        return self


async def test_an_episode_is_settled_reading_back_only_as_far_as_it_began() -> None:
    """300 days at 30, then 45 at 80 when a rule at 50 is made: its evaluations read the last 31
    days and the last 62, which hold where the episode began, never the whole history; once the
    episode is over (the score at 30 again, in the last 31 days) only the last 31 days."""
    shop = Shop()
    await shop.open()
    for day in range(345):
        await shop.score(24 * day, 30.0 if day < 300 else 80.0)
    await shop.add_rule(AlertRuleKind.SCORE_THRESHOLD, 50, None)
    reads: list[datetime | None] = []
    for _ in range(2):
        await evaluate_alerts(RecordingUnitOfWork(shop.store, reads), shop.clock, user_ids=[shop.user_id])
    now = shop.clock.now()
    assert set(reads) == {now - timedelta(days=31), now - timedelta(days=62)}
    assert await shop.alert_keys() == [f"p{shop.product_id}:threshold50.0:s{shop.scores[300].id}"]
    await shop.score(24 * 345, 30.0)
    reads.clear()
    await evaluate_alerts(RecordingUnitOfWork(shop.store, reads), shop.clock, user_ids=[shop.user_id])
    assert reads == [shop.clock.now() - timedelta(days=31)]


KINDS_LIST: list[tuple[AlertRuleKind, float | None, int | None]] = [
    (AlertRuleKind.SCORE_THRESHOLD, 50.0, None),
    (AlertRuleKind.SCORE_RISE, 10.0, 24),
    (AlertRuleKind.SCORE_RISE, 20.0, 720),
    (AlertRuleKind.STATUS_EXPLODING, None, None),
]
KINDS = st.sampled_from(KINDS_LIST)
GAPS = st.integers(1, 24 * 12)  # hours since the score before
LEVELS = st.sampled_from([0.0, 30.0, 47.0, 52.0, 64.0, 68.0, 71.0, 90.0])
STATUSES = st.sampled_from(list(TrendStatus))
# One ordinary score, then 45 days exploding at 90.
LONG_EPISODE = [(24, 30.0, TrendStatus.STEADY, 1)] + [(24, 90.0, TrendStatus.EXPLODING, 15)] * 3


@settings(max_examples=60, deadline=None)
@given(
    kind=KINDS,
    points=st.lists(
        st.tuples(
            GAPS,
            LEVELS,
            STATUSES,
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_evaluating_after_each_score_alerts_exactly_the_whole_historys_events(
    kind: tuple[AlertRuleKind, float | None, int | None], points: list[tuple[int, float, TrendStatus]]
) -> None:
    """Scores days apart or hours apart, the use case evaluating the last 31 days after each:
    the alerts stored are the events of the whole history, each once."""

    async def run() -> tuple[list[str], list[str]]:
        shop = Shop()
        await shop.open()
        rule = await shop.add_rule(*kind)
        hours = 0
        for gap, score, status in points:
            hours += gap
            await shop.score(hours, score, status)
            await shop.evaluate()
        whole = evaluate_rule(rule, shop.product_id, "Lamp", shop.scores, [], shop.clock.now())
        return await shop.alert_keys(), sorted(e.event_key for e in whole)

    stored, whole = asyncio.run(run())
    assert stored == whole


@settings(max_examples=200, deadline=None)
# The reviewer's shapes: a rule made, and a product watched, on the 46th day of an episode.
@example(kind=KINDS_LIST[0], points=LONG_EPISODE, start=45, how="made").via("a rule made during it")
@example(kind=KINDS_LIST[3], points=LONG_EPISODE, start=45, how="watched").via("a product watched during it")
@given(
    kind=KINDS,
    points=st.lists(
        st.tuples(
            GAPS,
            LEVELS,
            STATUSES,
            st.sampled_from([1, 1, 1, 15]),  # how many times in a row (a long episode)
        ),
        min_size=1,
        max_size=20,
    ),
    start=st.integers(0, 60),
    how=st.sampled_from(["made", "changed", "watched"]),
)
def test_a_rule_asking_from_any_moment_alerts_exactly_the_whole_historys_events_then(
    kind: tuple[AlertRuleKind, float | None, int | None],
    points: list[tuple[int, float, TrendStatus, int]],
    start: int,
    how: str,
) -> None:
    """Scores, some repeated at the same pace for weeks; the rule starts asking half an hour
    after the ``start``-th score: made then, changed then
    from another question, or (over the watchlist) covering the product watched then. The use
    case, evaluating the last 31 days after that and after each later score, stores exactly
    the events that evaluating the whole history so far finds at those moments, each once."""

    async def run() -> tuple[list[str], list[str]]:
        shop = Shop()
        await shop.open()
        if how == "changed":
            rule: AlertRule | None = await shop.add_rule(AlertRuleKind.SCORE_RISE, 30.0, 48)
        elif how == "watched":
            rule = await shop.add_rule(*kind, watchlist=True)
        else:
            rule = None
        asking = how == "changed"  # the question it had before counts too
        whole: set[str] = set()

        async def evaluate() -> None:
            await shop.evaluate()
            if rule is None or not asking:
                return
            found = evaluate_rule(rule, shop.product_id, "Lamp", shop.scores, [], shop.clock.now())
            whole.update(e.event_key for e in found)

        hours = 0
        runs = [(gap, score, status) for gap, score, status, times in points for _ in range(times)]
        for index, (gap, score, status) in enumerate(runs):
            hours += gap
            await shop.score(hours, score, status)
            await evaluate()
            if index == start:
                shop.clock.current += timedelta(minutes=30)
                if how == "made":
                    rule = await shop.add_rule(*kind)
                elif how == "changed":
                    assert rule is not None
                    rule, _ = await replace_rule(
                        shop.uow(),
                        shop.clock,
                        user_id=shop.user_id,
                        rule_id=rule.id,
                        definition=RuleDefinition(
                            kind=kind[0], product_id=shop.product_id, threshold=kind[1], window_hours=kind[2]
                        ),
                    )
                else:
                    await shop.watch(hours + 0.5)
                    assert rule is not None
                    rule = dataclasses.replace(rule, created_at=shop.clock.now())
                asking = True
                await evaluate()
        return await shop.alert_keys(), sorted(whole)

    stored, whole = asyncio.run(run())
    assert stored == whole
