"""A region's own ranking, alike in every store: the products active in the area, each scored by
the engine from the area's readings alone, never stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from marketscout.adapters.clock import FixedClock
from marketscout.domain.model import Ad, EngagementSnapshot, Platform, Product
from marketscout.domain.ports import UnitOfWork
from marketscout.domain.scoring import score_item
from marketscout.domain.usecases import trends

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
UowFactory = Callable[[], UnitOfWork]

# name: each ad's platform, region and views a step (12 hours) from its first reading
MARKET: dict[str, list[tuple[Platform, str, Callable[[int], int]]]] = {
    "German Lamp": [(Platform.TIKTOK, "DE", lambda step: int(1000 * 1.25**step))],
    "Two Markets": [
        (Platform.TIKTOK, "DE", lambda step: 80_000 + 100 * step),
        (Platform.INSTAGRAM, "US", lambda step: int(5000 * 1.4**step)),
        (Platform.YOUTUBE, "FR", lambda step: 3000 + 900 * step),
    ],
    "US Only": [(Platform.TIKTOK, "US", lambda step: int(2000 * 1.3**step))],
}


async def _market(make: UowFactory) -> tuple[dict[str, int], dict[str, list[EngagementSnapshot]]]:
    """The products by name, and each one's readings."""
    uow = make()
    ids: dict[str, int] = {}
    readings: dict[str, list[EngagementSnapshot]] = {}
    async with uow:
        for name, ads in MARKET.items():
            product = await uow.products.add(
                Product(name=name, description="d", created_at=NOW - timedelta(days=11))
            )
            ids[name], readings[name] = product.id, []
            for platform, region, views in ads:
                ad = await uow.ads.add(
                    Ad(
                        product_id=product.id,
                        platform=platform,
                        ad_content="c",
                        created_at=NOW - timedelta(days=10),
                    )
                )
                readings[name] += [
                    EngagementSnapshot(
                        ad_id=ad.id,
                        product_id=product.id,
                        platform=platform,
                        region=region,
                        observed_at=NOW - timedelta(hours=240 - 12 * step),
                        views=views(step),
                        likes=views(step) // 20,
                        comments=views(step) // 200,
                    )
                    for step in range(21)
                ]
            await uow.engagement.add_many(readings[name])
        await uow.commit()
    return ids, readings


async def test_a_regions_ranking_scores_its_own_readings_with_the_engine(uow_factory: UowFactory) -> None:
    ids, readings = await _market(uow_factory)
    clock = FixedClock(NOW)
    names = {product_id: name for name, product_id in ids.items()}
    for area, regions, listed in (
        ("DE", {"DE"}, ["German Lamp", "Two Markets"]),
        ("Europe", {"DE", "FR"}, ["German Lamp", "Two Markets"]),
        ("US", {"US"}, ["Two Markets", "US Only"]),
        ("North America", {"US"}, ["Two Markets", "US Only"]),
        ("JP", set(), []),
    ):
        page = await trends.regional_trending_page(uow_factory(), clock, area=area, limit=10)
        assert sorted(names[item.product.id] for item in page.items) == sorted(listed), area
        assert page.total == len(listed)
        scores = [item.score.score for item in page.items]
        assert scores == sorted(scores, reverse=True), area
        for item in page.items:
            there = [r for r in readings[item.product.name] if r.region in regions]
            assert item.score.assessment == score_item(there, NOW), (area, item.product.name)
            assert item.score.calculated_at == NOW
    # One platform keeps the products active there, still scored on every platform of the area.
    on_instagram = await trends.regional_trending_page(
        uow_factory(), clock, area="US", platform=Platform.INSTAGRAM, limit=10
    )
    [two] = on_instagram.items
    every_platform = [r for r in readings["Two Markets"] if r.region == "US"]
    assert two.product.id == ids["Two Markets"] and two.score.assessment == score_item(every_platform, NOW)
    # A product all of whose readings are in the area scores there as it does worldwide.
    stored = await trends.rescore(uow_factory(), clock, ids.values(), force=True)
    german = await trends.regional_trending_page(uow_factory(), clock, area="de", query="lamp", limit=10)
    [lamp] = german.items
    assert lamp.score.assessment == stored[ids["German Lamp"]].assessment
    # Nothing was stored by the regional lists: only rescore's scores are.
    uow = uow_factory()
    async with uow:
        for product_id in ids.values():
            assert [s.calculated_at for s in await uow.scores.history(product_id)] == [NOW]
