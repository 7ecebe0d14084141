"""The trending list in another order (24-hour or 7-day growth, newest products) and of one
category, alike in every store: ordered and filtered by the store, counted as listed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from marketscout.domain.model import (
    Product,
    TrendAssessment,
    TrendingFilter,
    TrendingOrder,
    TrendScore,
    TrendStatus,
)
from marketscout.domain.ports import UnitOfWork
from marketscout.domain.usecases import trends

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
UowFactory = Callable[[], UnitOfWork]

# name: category, created (hours after T0), latest score, 24-hour growth, 7-day growth
MARKET: dict[str, tuple[str | None, int, float, float | None, float | None]] = {
    "Lamp": ("Home", 0, 90.0, 0.10, 2.0),
    "Mug": ("Home", 3, 50.0, 0.80, None),
    "Tee": ("Fashion", 1, 70.0, None, 0.5),
    "Cap": ("Fashion", 2, 30.0, 0.80, 3.0),
    "Plain": (None, 4, 10.0, -0.2, -0.1),
}


async def _market(make: UowFactory) -> dict[str, int]:
    uow = make()
    async with uow:
        ids: dict[str, int] = {}
        for name, (category, hours, value, day, week) in MARKET.items():
            product = Product(
                name=name, description="d", category=category, created_at=T0 + timedelta(hours=hours)
            )
            ids[name] = (await uow.products.add(product)).id
            growth = {key: g for key, g in (("24h", day), ("7d", week)) if g is not None}
            await uow.scores.add(
                TrendScore(
                    product_id=ids[name],
                    calculated_at=T0 + timedelta(days=1),
                    assessment=TrendAssessment(
                        score=value, status=TrendStatus.STEADY, confidence=0.5, growth=growth
                    ),
                )
            )
        await uow.commit()
    return ids


async def test_the_trending_list_is_ordered_and_filtered_by_the_store(uow_factory: UowFactory) -> None:
    ids = await _market(uow_factory)
    cases = [
        (TrendingOrder.SCORE, None, ["Lamp", "Tee", "Mug", "Cap", "Plain"]),
        # fastest first; equal growth by score; a product without the figure last
        (TrendingOrder.GROWTH_24H, None, ["Mug", "Cap", "Lamp", "Plain", "Tee"]),
        (TrendingOrder.GROWTH_7D, None, ["Cap", "Lamp", "Tee", "Plain", "Mug"]),
        (TrendingOrder.NEWEST, None, ["Plain", "Mug", "Cap", "Tee", "Lamp"]),
        (TrendingOrder.SCORE, "Fashion", ["Tee", "Cap"]),
        (TrendingOrder.GROWTH_24H, "Home", ["Mug", "Lamp"]),
        (TrendingOrder.NEWEST, "Toys", []),
    ]
    uow = uow_factory()
    async with uow:
        for order, category, names in cases:
            keep = TrendingFilter(category=category)
            wanted = [ids[name] for name in names]
            listed = await uow.scores.ranked(keep, limit=100, order=order)
            assert [s.product_id for s in listed] == wanted, (order, category)
            pages = [
                await uow.scores.ranked(keep, skip=skip, limit=2, order=order) for skip in range(0, 6, 2)
            ]
            assert [s.product_id for page in pages for s in page] == wanted, (order, category)
            assert await uow.scores.count_ranked(keep) == len(wanted), category
        assert await uow.products.categories() == ["Fashion", "Home"]
    page = await trends.trending_page(
        uow_factory(), limit=1, skip=1, order=TrendingOrder.NEWEST, category="Home"
    )
    assert ([item.product.name for item in page.items], page.total) == (["Lamp"], 2)


# name: latest score, 24-hour growth, 7-day growth, components.days_of_readings (None: a score
# stored before it was recorded). A None growth is "from none" where the days of readings reach
# back two windows (2 days for 24 h, 14 for 7 days), "n/a" otherwise.
BREAKOUTS: dict[str, tuple[float, float | None, float | None, float | None]] = {
    "Kite": (95.0, None, None, 20.0),  # from none in both windows
    "Bell": (95.0, 2.0, None, 30.0),  # from none over 7 days, tied with Kite by score
    "Dove": (80.0, 0.5, None, 14.0),  # from none over 7 days: exactly 2 * 7 days of readings
    "Reed": (80.0, None, None, 13.0),  # from none over 24 h; n/a over 7 days (13 < 14)
    "Harp": (50.0, 3.0, 1.5, 30.0),
    "Pipe": (60.0, None, 0.2, 30.0),  # from none over 24 h
    "Drum": (20.0, -0.5, -0.6, 30.0),
    "Lute": (99.0, None, None, 1.0),  # n/a in both windows (1 < 2)
    "Oboe": (97.0, None, None, None),  # stored before days_of_readings: n/a in both
}


async def test_a_growth_order_puts_from_none_first_and_n_a_last_in_every_store(
    uow_factory: UowFactory,
) -> None:
    uow = uow_factory()
    async with uow:
        ids: dict[str, int] = {}
        for name, (value, day, week, days) in BREAKOUTS.items():
            ids[name] = (await uow.products.add(Product(name=name, description="d", created_at=T0))).id
            components = {} if days is None else {"days_of_readings": days}
            assessment = TrendAssessment(
                score=value,
                status=TrendStatus.EXPLODING,
                confidence=0.5,
                components=components,
                growth={"24h": day, "7d": week, "30d": None},
            )
            score = TrendScore(
                product_id=ids[name], calculated_at=T0 + timedelta(days=1), assessment=assessment
            )
            await uow.scores.add(score)
        await uow.commit()
    cases = {
        # from none by score (ties: lower id), then finite growths fastest first, then n/a by score
        TrendingOrder.GROWTH_24H: ["Kite", "Reed", "Pipe", "Harp", "Bell", "Dove", "Drum", "Lute", "Oboe"],
        TrendingOrder.GROWTH_7D: ["Kite", "Bell", "Dove", "Harp", "Pipe", "Drum", "Lute", "Oboe", "Reed"],
    }
    uow = uow_factory()
    async with uow:
        for order, names in cases.items():
            wanted = [ids[name] for name in names]
            listed = await uow.scores.ranked(TrendingFilter(), limit=100, order=order)
            assert [s.product_id for s in listed] == wanted, order
            pages = [
                await uow.scores.ranked(TrendingFilter(), skip=skip, limit=4, order=order)
                for skip in range(0, 12, 4)
            ]
            assert [s.product_id for page in pages for s in page] == wanted, order
