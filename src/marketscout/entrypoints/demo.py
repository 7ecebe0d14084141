"""Fills an instance with the synthetic demo market, replayed day by day through the use cases."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.simulation import SimulatedMarket, simulate_market
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.engagement import Rejection, SnapshotInput, ingest_engagement
from marketscout.domain.usecases.trends import rescore
from marketscout.entrypoints.container import Container

logger = logging.getLogger("marketscout")
DEMO_DAYS = 21
# Scores are replayed once a day over the last days, so that every product has a history.
SCORED_DAYS = 14


async def _begun_at(container: Container, market: SimulatedMarket) -> datetime | None:
    """When the demo of this market (its seed) that is (partly) stored began: the time its
    catalogue was made, which its first ad keeps. Its days are replayed again from there, so
    that a load completed later stores the readings the first one would have (ingestion skips
    those it has)."""
    first = market.ads[0]  # its external id depends on the seed alone, not on the days
    probe: UnitOfWork = container.unit_of_work()
    async with probe:
        ad = await probe.ads.get_by_external_id(first.platform, first.external_id)
    return ad.created_at.astimezone(UTC) if ad is not None and ad.created_at is not None else None


async def load_demo(container: Container, *, seed: int = 7, only_to_complete: bool = False) -> str:
    """Creates the synthetic products and ads, ingests their engagement day by day, and scores
    each product at the end of each day, as if the server had been running.

    Safe to stop anywhere (Ctrl-C): the catalogue is stored in one unit of work, readings are
    stored once whatever the number of runs, and each day's scores once, so the next run
    completes what is missing. With ``only_to_complete``, does nothing unless part of this
    demo is stored already."""
    real_clock: Clock = container.clock()
    end = real_clock.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DEMO_DAYS)
    market = simulate_market(seed, start=start, days=DEMO_DAYS)
    begun = await _begun_at(container, market)
    if begun is not None and begun != start:
        start = begun
        market = simulate_market(seed, start=start, days=DEMO_DAYS)
    clock = FixedClock(start)

    def uow() -> UnitOfWork:
        made: UnitOfWork = container.unit_of_work()
        return made

    catalogue = await catalog.complete_synthetic_listings(
        uow(),
        clock,
        [
            catalog.SyntheticListing(
                product=catalog.NewProduct(
                    name=product.name,
                    description=product.description,
                    category=product.category,
                    keywords=product.keywords,
                ),
                ads=tuple(
                    catalog.NewAd(
                        product_id=0,
                        platform=ad.platform,
                        ad_content=ad.content,
                        external_id=ad.external_id,
                        advertiser=ad.advertiser,
                        first_seen_at=ad.first_seen_at,
                    )
                    for ad in market.ads
                    if ad.product_index == index
                ),
            )
            for index, product in enumerate(market.products)
        ],
        only_if_begun=only_to_complete,
    )
    if catalogue is None:
        return f"no demo market of seed {seed} is stored; nothing added"
    product_ids = catalogue.product_ids
    # The listings keep the market's ads in order within each product; the market lists them
    # product by product, so ad ``i`` of the market is ``ad_ids[i]``.
    ad_ids = catalogue.ad_ids
    probe = uow()
    async with probe:
        scored = {s.calculated_at.astimezone(UTC) for s in await probe.scores.history(product_ids[0])}
    day_ends = [start + timedelta(days=day + 1) for day in range(DEMO_DAYS)]
    if catalogue.created == 0 and day_ends[-1] in scored:
        return f"the demo market of seed {seed} is already loaded; nothing added"
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
    for day, day_end in enumerate(day_ends):
        clock.set(day_end)
        report = await ingest_engagement(uow(), clock, by_day.get(day, []))
        stored += report.stored
        if day >= DEMO_DAYS - SCORED_DAYS and day_end not in scored:
            await rescore(uow(), clock, product_ids, force=True)
    summary = (
        f"demo market (synthetic, seed {seed}): {len(product_ids)} products, {len(ad_ids)} ads, "
        f"{stored} snapshots over {DEMO_DAYS} days"
    )
    if catalogue.created < len(product_ids) + len(ad_ids):
        summary += f" (completing the load begun at {start:%Y-%m-%d %H:%M} UTC)"
    logger.info(summary)
    return summary


async def load_demo_if_empty(container: Container) -> None:
    """Loads the demo into an empty store, and completes one whose load was stopped (a store
    holding anything else is left as it is)."""
    store: UnitOfWork = container.unit_of_work()
    async with store:
        empty = not await store.products.list(skip=0, limit=1)
        synthetic = not empty and await store.products.any_synthetic()
    if empty or synthetic:
        await load_demo(container, only_to_complete=not empty)
