"""Fills an instance with the synthetic demo market, replayed day by day through the use cases."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from datetime import timedelta

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.simulation import simulate_market
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.engagement import Rejection, SnapshotInput, ingest_engagement
from marketscout.domain.usecases.trends import rescore
from marketscout.entrypoints.container import Container

logger = logging.getLogger("marketscout")
DEMO_DAYS = 21
# Scores are replayed once a day over the last days, so that every product has a history.
SCORED_DAYS = 14


async def load_demo(container: Container, *, seed: int = 7) -> str:
    """Creates the synthetic products and ads, ingests their engagement day by day, and scores
    each product at the end of each day, as if the server had been running."""
    real_clock: Clock = container.clock()
    end = real_clock.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DEMO_DAYS)
    market = simulate_market(seed, start=start, days=DEMO_DAYS)
    clock = FixedClock(start)

    def uow() -> UnitOfWork:
        made: UnitOfWork = container.unit_of_work()
        return made

    first_ad = market.ads[0]
    probe = uow()
    async with probe:
        if await probe.ads.get_by_external_id(first_ad.platform, first_ad.external_id) is not None:
            return f"the demo market of seed {seed} is already loaded; nothing added"

    product_ids: list[int] = []
    for product in market.products:
        created = await catalog.create_product(
            uow(),
            clock,
            catalog.NewProduct(
                name=product.name,
                description=product.description,
                category=product.category,
                keywords=product.keywords,
            ),
            created_by=None,
        )
        product_ids.append(created.id)
    ad_ids: list[int] = []
    for ad in market.ads:
        made_ad = await catalog.create_ad(
            uow(),
            clock,
            catalog.NewAd(
                product_id=product_ids[ad.product_index],
                platform=ad.platform,
                ad_content=ad.content,
                external_id=ad.external_id,
                advertiser=ad.advertiser,
                first_seen_at=ad.first_seen_at,
            ),
        )
        ad_ids.append(made_ad.id)
    # Day ``d`` holds the readings of ``(start + d days, start + d + 1 days]`` (day 0 also the one
    # at ``start``): a reading taken exactly at a day's end is in that day's score, and each
    # day-end, up to ``end``, is scored once, after every reading up to it.
    by_day: dict[int, list[SnapshotInput | Rejection]] = defaultdict(list)
    for snap in market.snapshots:
        day = max(math.ceil((snap.observed_at - start) / timedelta(days=1)) - 1, 0)
        by_day[day].append(
            SnapshotInput(
                ad_id=ad_ids[snap.ad_index],
                region=snap.region,
                observed_at=snap.observed_at,
                views=snap.views,
                likes=snap.likes,
                comments=snap.comments,
                shares=snap.shares,
            )
        )
    stored = 0
    for day in range(DEMO_DAYS):
        clock.set(start + timedelta(days=day + 1))
        report = await ingest_engagement(uow(), clock, by_day.get(day, []))
        stored += report.stored
        if day >= DEMO_DAYS - SCORED_DAYS:
            await rescore(uow(), clock, product_ids, force=True)
    summary = (
        f"demo market (synthetic, seed {seed}): {len(product_ids)} products, {len(ad_ids)} ads, "
        f"{stored} snapshots over {DEMO_DAYS} days"
    )
    logger.info(summary)
    return summary


async def load_demo_if_empty(container: Container) -> None:
    store: UnitOfWork = container.unit_of_work()
    async with store:
        empty = not await store.products.list(skip=0, limit=1)
    if empty:
        await load_demo(container)
