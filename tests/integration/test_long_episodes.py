"""A rule that starts asking during an episode longer than the 31-day history window alerts it
once, under its true start, on every store: made then, changed then, or (over the watchlist)
covering a product watched then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from marketscout.adapters.clock import FixedClock
from marketscout.domain.model import (
    AlertRuleKind,
    Product,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    User,
    WatchlistEntry,
)
from marketscout.domain.ports import UnitOfWork
from marketscout.domain.usecases.alerts import RuleDefinition, create_rule, evaluate_alerts, replace_rule

T0 = datetime(2026, 1, 1, tzinfo=UTC)
UowFactory = Callable[[], UnitOfWork]

THRESHOLD = RuleDefinition(kind=AlertRuleKind.SCORE_THRESHOLD, threshold=60.0)
EXPLODING = RuleDefinition(kind=AlertRuleKind.STATUS_EXPLODING)


class Market:
    """A user and a product whose daily scores are stored, on one store."""

    def __init__(self, make: UowFactory) -> None:
        self.make = make
        self.clock = FixedClock(T0)
        self.user_id = self.product_id = 0
        self.score_ids: list[int] = []

    async def open(self, *, watched: bool = False) -> None:
        uow = self.make()
        async with uow:
            user = await uow.users.add(
                User(username="ana", email="a@x.example", password_hash="h", created_at=T0)
            )
            product = await uow.products.add(Product(name="Lamp", description="d", created_at=T0))
            await uow.commit()
        self.user_id, self.product_id = user.id, product.id
        if watched:
            await self.watch()

    async def watch(self) -> None:
        uow = self.make()
        async with uow:
            entry = WatchlistEntry(
                user_id=self.user_id, product_id=self.product_id, created_at=self.clock.now()
            )
            await uow.watchlists.add_if_new(entry)
            await uow.commit()

    async def days(self, first: int, scores: list[float], status: TrendStatus) -> None:
        """One score a day from day ``first``, each then evaluated (as after an ingest)."""
        for day, value in enumerate(scores, start=first):
            self.clock.current = T0 + timedelta(days=day)
            uow = self.make()
            async with uow:
                stored = await uow.scores.add(
                    TrendScore(
                        product_id=self.product_id,
                        calculated_at=self.clock.now(),
                        assessment=TrendAssessment(
                            score=value, status=status, confidence=0.8, reasons=("x",)
                        ),
                    )
                )
                await uow.commit()
            self.score_ids.append(stored.id)
            await self.evaluate()

    async def evaluate(self) -> None:
        await evaluate_alerts(self.make(), self.clock, user_ids=[self.user_id])

    async def later(self, minutes: int) -> None:
        self.clock.current = self.clock.now() + timedelta(minutes=minutes)

    async def make_rule(self, definition: RuleDefinition) -> None:
        """An hour after the last score, then evaluated three times, 10 minutes apart."""
        await self.later(60)
        await create_rule(self.make(), self.clock, user_id=self.user_id, definition=definition)
        await self.evaluate_thrice()

    async def evaluate_thrice(self) -> None:
        for _ in range(3):
            await self.evaluate()
            await self.later(10)

    async def alerts(self) -> list[tuple[str, str]]:
        uow = self.make()
        async with uow:
            return [(a.event_key, a.message) for a in await uow.alerts.list(self.user_id, limit=1000)]


def _started(day: int) -> str:
    return (T0 + timedelta(days=day)).strftime("%Y-%m-%d %H:%M UTC")


CASES = [
    # (the rule, the first score, the episode's status, the alert's condition and wording)
    (
        THRESHOLD,
        40.0,
        TrendStatus.STEADY,
        "threshold60.0",
        "📈 Lamp trend score crossed 60 on {start} (80.0); now 80.0",
    ),
    (
        THRESHOLD,
        0.0,
        TrendStatus.STEADY,
        "threshold60.0",
        "📈 Lamp trend score crossed 60 on {start} (80.0); now 80.0",
    ),
    (
        EXPLODING,
        40.0,
        TrendStatus.EXPLODING,
        "exploding",
        "💥 Lamp has been exploding since {start} (score 80.0); now 80.0",
    ),
]


@pytest.mark.parametrize(("definition", "before", "status", "condition", "wording"), CASES)
async def test_a_rule_made_on_the_40th_day_of_an_episode_alerts_it_once_from_its_start(
    uow_factory: UowFactory,
    definition: RuleDefinition,
    before: float,
    status: TrendStatus,
    condition: str,
    wording: str,
) -> None:
    """One ordinary score, then 39 days at 80: a rule made on the 40th day, evaluated three
    times, alerts once, named and dated by the episode's first score (day 1), not by the first
    score of the last 31 days."""
    market = Market(uow_factory)
    await market.open()
    await market.days(0, [before], TrendStatus.STEADY)
    await market.days(1, [80.0] * 39, status)
    await market.make_rule(_on(definition, market.product_id))
    key = f"p{market.product_id}:{condition}:s{market.score_ids[1]}"
    assert await market.alerts() == [(key, wording.format(start=_started(1)))]


async def test_a_rule_made_during_an_episode_begun_at_the_first_score_alerts_it_from_then(
    uow_factory: UowFactory,
) -> None:
    market = Market(uow_factory)
    await market.open()
    await market.days(0, [80.0] * 40, TrendStatus.STEADY)
    await market.make_rule(_on(THRESHOLD, market.product_id))
    assert await market.alerts() == [
        (
            f"p{market.product_id}:threshold60.0:s{market.score_ids[0]}",
            f"📈 Lamp trend score crossed 60 on {_started(0)} (80.0); now 80.0",
        )
    ]


async def test_a_rule_changed_on_the_45th_day_of_an_episode_alerts_it_once_from_its_start(
    uow_factory: UowFactory,
) -> None:
    """A rule at 50 from the start alerts the crossing; changed to 60 on the 45th day of it, the
    rule asks a new question, which the episode answers once, dated from its start."""
    market = Market(uow_factory)
    await market.open()
    rule = await create_rule(
        market.make(),
        market.clock,
        user_id=market.user_id,
        definition=RuleDefinition(
            kind=AlertRuleKind.SCORE_THRESHOLD, product_id=market.product_id, threshold=50.0
        ),
    )
    await market.days(0, [40.0], TrendStatus.STEADY)
    await market.days(1, [80.0] * 45, TrendStatus.STEADY)
    await market.later(60)
    await replace_rule(
        market.make(),
        market.clock,
        user_id=market.user_id,
        rule_id=rule.id,
        definition=_on(THRESHOLD, market.product_id),
    )
    await market.evaluate_thrice()
    assert sorted(k for k, _ in await market.alerts()) == sorted(
        f"p{market.product_id}:threshold{t}:s{market.score_ids[1]}" for t in ("50.0", "60.0")
    )
    assert f"crossed 60 on {_started(1)}" in (await market.alerts())[0][1]


@pytest.mark.parametrize(
    ("definition", "status", "condition"),
    [(THRESHOLD, TrendStatus.STEADY, "threshold60.0"), (EXPLODING, TrendStatus.EXPLODING, "exploding")],
)
async def test_a_product_watched_on_the_40th_day_of_its_episode_alerts_it_once_from_its_start(
    uow_factory: UowFactory, definition: RuleDefinition, status: TrendStatus, condition: str
) -> None:
    """A rule over the watchlist made first; the product, 40 days into an episode, is then
    watched: one alert, from the episode's start."""
    market = Market(uow_factory)
    await market.open()
    await create_rule(market.make(), market.clock, user_id=market.user_id, definition=definition)
    await market.days(0, [40.0], TrendStatus.STEADY)
    await market.days(1, [80.0] * 40, status)
    await market.later(60)
    await market.watch()
    await market.evaluate_thrice()
    alerts = await market.alerts()
    assert [k for k, _ in alerts] == [f"p{market.product_id}:{condition}:s{market.score_ids[1]}"]
    assert _started(1) in alerts[0][1]


def _on(definition: RuleDefinition, product_id: int) -> RuleDefinition:
    return RuleDefinition(
        kind=definition.kind,
        product_id=product_id,
        threshold=definition.threshold,
        window_hours=definition.window_hours,
    )
