"""Trend scores, trending lists, the viral-ad scan and the regional heat map."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from marketscout.domain.errors import InvalidValue, NotFound
from marketscout.domain.heatmap import heat_map_from_activity, regional_views
from marketscout.domain.instants import utc_instant, window_back
from marketscout.domain.model import (
    EngagementSnapshot,
    Platform,
    Product,
    ScoreLevel,
    TrendAssessment,
    TrendingFilter,
    TrendingOrder,
    TrendScore,
    TrendStatus,
    ViralAd,
    trending_key,
)
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.regions import in_area, normalise_area, regions_of
from marketscout.domain.scan import SCAN_WINDOW, ScanHit, rank_gains
from marketscout.domain.scoring import score_series
from marketscout.domain.spread import SpreadAssessment, spread_score
from marketscout.domain.text import search_text

# A score is stored again when it changed this much, or when the last one is this old,
# so that history stays readable however often scores are refreshed.
SCORE_EPSILON = 0.05
SCORE_REFRESH_AFTER = timedelta(hours=1)
SCORING_HISTORY = timedelta(days=61)
HEAT_MAP_WINDOW = timedelta(days=30)
HEAT_MAP_DEFAULT_PRODUCTS = 10


def _worth_storing(previous: ScoreLevel | None, fresh: TrendScore) -> bool:
    if previous is None:
        return True
    return (
        abs(previous.score - fresh.score) >= SCORE_EPSILON
        or previous.status != fresh.status
        or fresh.calculated_at - previous.calculated_at >= SCORE_REFRESH_AFTER
    )


async def rescore(
    uow: UnitOfWork, clock: Clock, product_ids: Iterable[int], *, force: bool = False
) -> dict[int, TrendScore]:
    """Scores the products from their stored engagement and stores the scores that moved (every
    one with ``force``); returns those it stored, by product."""
    now = clock.now()
    wanted = sorted(set(product_ids))
    async with uow:
        # Only the latest score, status and time are compared: not the stored components.
        previous = {} if force else await uow.scores.latest_levels(wanted)

        async def fresh_scores() -> AsyncGenerator[TrendScore, None]:
            """Each product's new score that is worth storing, in product order, as it is
            computed: the store may write some while the engine computes the next."""
            # The engine looks back at most SCORING_HISTORY, and reads one point per ad, region
            # and hour (the stores' hourly rollups) rather than every raw reading. The store
            # streams them product by product, grouped per ad and region, in product order;
            # the products without readings in the window (scored as such) keep their place.
            # Closed here whatever happens, so the store's stream (and a statement it has in
            # flight) ends inside this unit of work.
            no_readings = score_series((), now)

            def worth(product_id: int, assessment: TrendAssessment) -> TrendScore | None:
                fresh = TrendScore(product_id=product_id, calculated_at=now, assessment=assessment)
                return fresh if force or _worth_storing(previous.get(product_id), fresh) else None

            pending = iter(wanted)
            async with contextlib.aclosing(
                uow.engagement.scoring_series(wanted, since=now - SCORING_HISTORY, until=now)
            ) as stream:
                async for product_id, series in stream:
                    for quiet in pending:
                        if quiet == product_id:
                            break
                        if (fresh := worth(quiet, no_readings)) is not None:
                            yield fresh
                    if (fresh := worth(product_id, score_series(series, now))) is not None:
                        yield fresh
            for quiet in pending:
                if (fresh := worth(quiet, no_readings)) is not None:
                    yield fresh

        # Closed here too, so that a store failing midway ends the stream inside this unit of work.
        async with contextlib.aclosing(fresh_scores()) as scores:
            stored = await uow.scores.add_stream(scores)
        await uow.commit()
    return {score.product_id: score for score in stored}


async def calculate_score(uow: UnitOfWork, clock: Clock, product_id: int) -> TrendScore:
    async with uow:
        if await uow.products.get(product_id) is None:
            raise NotFound("product", product_id)
    scores = await rescore(uow, clock, [product_id], force=True)
    return scores[product_id]


@dataclass(frozen=True, slots=True)
class TrendingItem:
    product: Product
    score: TrendScore  # the score the list ranks by: the stored worldwide one, or a region's own
    # In a region's own ranking, the product's latest stored (worldwide) score level, None when
    # it has none; on a worldwide list, ``score`` is that score.
    worldwide: ScoreLevel | None = None


ACTIVITY_WINDOW = timedelta(days=30)


async def active_products(
    uow: UnitOfWork, clock: Clock, *, platform: Platform | None = None, region: str | None = None
) -> set[int]:
    """Products that gained engagement on the platform and/or in the region over the last 30 days;
    the region is a country code, ``GLOBAL`` or a continent (see :func:`normalise_area`)."""
    area = normalise_area(region) if region is not None else None
    now = clock.now()
    async with uow:
        # Only the area's regions come back (a continent: its countries), kept by the store.
        regions = regions_of(area) if area is not None else None
        gains = await uow.engagement.window_gains(window_back(now, ACTIVITY_WINDOW), now, regions=regions)
    return {
        g.product_id
        for g in gains
        if g.gained > 0
        and (platform is None or g.platform == platform)
        and (area is None or in_area(g.region, area))
    }


def _trending_filter(
    status: TrendStatus | None,
    query: str | None,
    among: set[int] | None,
    min_confidence: float | None,
    category: str | None = None,
) -> TrendingFilter:
    return TrendingFilter(
        status=status,
        name=search_text("q", query),
        among=frozenset(among) if among is not None else None,
        min_confidence=min_confidence,
        category=category,
    )


async def _ranked_items(
    uow: UnitOfWork,
    keep: TrendingFilter,
    *,
    skip: int,
    limit: int,
    order: TrendingOrder = TrendingOrder.SCORE,
) -> list[TrendingItem]:
    """The page of the ranking, inside an open unit of work."""
    latest = await uow.scores.ranked(keep, skip=skip, limit=limit, order=order)
    products = await uow.products.get_many(s.product_id for s in latest)
    return [TrendingItem(products[s.product_id], s) for s in latest if s.product_id in products]


async def trending(
    uow: UnitOfWork,
    *,
    limit: int,
    skip: int = 0,
    status: TrendStatus | None = None,
    query: str | None = None,
    among: set[int] | None = None,
    min_confidence: float | None = None,
    category: str | None = None,
) -> list[TrendingItem]:
    """Distinct products, highest latest score first (ties: lower id first), the ``limit`` after
    the first ``skip`` of them; ``query`` keeps those whose name holds it (any case), ``among``
    only those products (see :func:`active_products`), ``min_confidence`` only those whose latest
    score has at least that confidence (a score on a day or two of data is no ranking),
    ``category`` only those of exactly that category, as stored."""
    keep = _trending_filter(status, query, among, min_confidence, category)
    async with uow:
        return await _ranked_items(uow, keep, skip=skip, limit=limit)


@dataclass(frozen=True, slots=True)
class TrendingPage:
    items: list[TrendingItem]
    total: int  # the products on the whole list, every page, with the same filters


async def trending_page(
    uow: UnitOfWork,
    *,
    limit: int,
    skip: int = 0,
    status: TrendStatus | None = None,
    query: str | None = None,
    among: set[int] | None = None,
    min_confidence: float | None = None,
    category: str | None = None,
    order: TrendingOrder = TrendingOrder.SCORE,
) -> TrendingPage:
    """What :func:`trending` lists, with how many products the whole list holds, read in one
    unit of work; of one ``category`` when given, in ``order`` (by default highest score first:
    :class:`TrendingOrder`), ordered and counted by the store."""
    keep = _trending_filter(status, query, among, min_confidence, category)
    async with uow:
        items = await _ranked_items(uow, keep, skip=skip, limit=limit, order=order)
        return TrendingPage(items, await uow.scores.count_ranked(keep))


@dataclass(frozen=True, slots=True)
class RegionalScores:
    """Every product that gained engagement in ``area`` (on ``platform``, when given) over the
    last 30 days, with the score the engine gives the area's readings alone: what a region's own
    ranking ranks, however it is filtered, ordered and paged (so a read cache may keep it)."""

    area: str  # canonical (normalise_area)
    platform: Platform | None
    scores: dict[int, TrendScore]  # by product
    products: dict[int, Product]


async def regional_scores(
    uow: UnitOfWork, clock: Clock, *, area: str, platform: Platform | None = None
) -> RegionalScores:
    """The products active in the area (on the platform when given) over the last 30 days, each
    scored by the engine from that area's readings alone (every platform's), as of now. A
    country's score is what E1 measures, one video in one country; a continent's adds up its
    countries. Computed for the asking, not stored: a product's history and the worldwide list
    keep its worldwide score."""
    here = normalise_area(area)
    among = await active_products(uow, clock, platform=platform, region=here)
    now = clock.now()
    scores: dict[int, TrendScore] = {}
    async with uow:
        products = await uow.products.get_many(among)
        async with contextlib.aclosing(
            uow.engagement.scoring_series(sorted(among), since=now - SCORING_HISTORY, until=now)
        ) as stream:
            async for product_id, series in stream:
                if product_id in products:
                    there = [s for s in series if in_area(s.region, here)]
                    scores[product_id] = TrendScore(
                        product_id=product_id, calculated_at=now, assessment=score_series(there, now)
                    )
    return RegionalScores(here, platform, scores, {pid: products[pid] for pid in scores})


async def regional_trending_page(
    uow: UnitOfWork,
    clock: Clock,
    *,
    area: str,
    limit: int,
    skip: int = 0,
    status: TrendStatus | None = None,
    query: str | None = None,
    platform: Platform | None = None,
    min_confidence: float | None = None,
    category: str | None = None,
    order: TrendingOrder = TrendingOrder.SCORE,
    scored: RegionalScores | None = None,
) -> TrendingPage:
    """The trending list of one area ranked by the score each product earns there
    (:func:`regional_scores`, or ``scored`` when the caller holds them already: those of the
    same area and platform), filtered, ordered (:func:`trending_key`), counted and paged as
    :func:`trending_page` is; each item also carries the product's stored worldwide level."""
    here = normalise_area(area)
    if scored is None:
        scored = await regional_scores(uow, clock, area=here, platform=platform)
    elif (scored.area, scored.platform) != (here, platform):
        raise ValueError(f"scores of {scored.area}/{scored.platform} given for {here}/{platform}")
    keep = _trending_filter(status, query, None, min_confidence, category)
    products = scored.products
    kept = [score for pid, score in scored.scores.items() if keep.keeps(score, products[pid])]
    kept.sort(key=lambda s: trending_key(order, s, products[s.product_id]))
    shown = kept[skip : skip + limit]
    async with uow:
        levels = await uow.scores.latest_levels(s.product_id for s in shown)
    return TrendingPage(
        [TrendingItem(products[s.product_id], s, levels.get(s.product_id)) for s in shown], len(kept)
    )


async def categories(uow: UnitOfWork) -> list[str]:
    """The categories of the catalogue's products, each once, alphabetically: what a list can be
    filtered by."""
    async with uow:
        return await uow.products.categories()


async def score_history(
    uow: UnitOfWork, product_id: int, *, since: datetime | None = None
) -> list[TrendScore]:
    start = utc_instant("since", since) if since is not None else None
    async with uow:
        if await uow.products.get(product_id) is None:
            raise NotFound("product", product_id)
        return await uow.scores.history(product_id, since=start)


async def scan_hits(uow: UnitOfWork, now: datetime, window: timedelta = SCAN_WINDOW) -> list[ScanHit]:
    """Every ad the scan finds, strongest first, inside an open unit of work: every ad's gains,
    even when one product is wanted, because ads are judged against their peers."""
    gains = await uow.engagement.ad_gains(window_back(now, window), now)
    born = await uow.ads.first_seen_dates({g.ad_id for g in gains})
    return rank_gains(gains, now, window=window, born=born)


async def _scanned(
    uow: UnitOfWork,
    now: datetime,
    window: timedelta,
    *,
    product_id: int | None = None,
    platform: Platform | None = None,
    region: str | None = None,
) -> list[ScanHit]:
    """The scan's hits, strongest first, of one product, platform or area when given (an ad is in
    an area when it gained views there in the window), inside an open unit of work."""
    if product_id is not None and await uow.products.get(product_id) is None:
        raise NotFound("product", product_id)
    hits = [
        hit
        for hit in await scan_hits(uow, now, window)
        if (product_id is None or hit.product_id == product_id)
        and (platform is None or hit.platform == platform)
    ]
    if region is not None:
        area = normalise_area(region)
        there = {
            g.ad_id
            for g in await uow.engagement.window_gains(
                window_back(now, window), now, regions=regions_of(area)
            )
            if g.gained > 0 and in_area(g.region, area)
        }
        hits = [hit for hit in hits if hit.ad_id in there]
    return hits


async def _shown(uow: UnitOfWork, hits: list[ScanHit]) -> tuple[list[ViralAd], dict[int, Product]]:
    """The hits as ViralAds, with their products by id: only the ads shown are looked up."""
    ads = await uow.ads.get_many(hit.ad_id for hit in hits)
    products = await uow.products.get_many({hit.product_id for hit in hits})
    shown = [
        hit.viral(ads[hit.ad_id], products[hit.product_id].name if hit.product_id in products else "")
        for hit in hits
        if hit.ad_id in ads
    ]
    return shown, products


async def scan_ads(
    uow: UnitOfWork,
    clock: Clock,
    *,
    limit: int = 20,
    product_id: int | None = None,
    platform: Platform | None = None,
    window: timedelta = SCAN_WINDOW,
) -> list[ViralAd]:
    """The ads the scan finds, strongest first, of one product or platform when given; an
    unknown product is :class:`NotFound`, as everywhere an id names one."""
    now = clock.now()
    async with uow:
        hits = await _scanned(uow, now, window, product_id=product_id, platform=platform)
        shown, _ = await _shown(uow, hits[:limit])
        return shown


@dataclass(frozen=True, slots=True)
class Interactions:
    """An ad's latest running totals, its regions' added together."""

    views: int
    likes: int
    comments: int
    shares: int


@dataclass(frozen=True, slots=True)
class ScanPage:
    ads: list[ViralAd]
    total: int  # the ads the scan finds with the same filters, on every page
    interactions: dict[int, Interactions]  # by ad id: each shown ad's latest totals in the window
    user_products: frozenset[int]  # the shown ads' products that an account added (user data)


async def scan_page(
    uow: UnitOfWork,
    clock: Clock,
    *,
    skip: int,
    limit: int,
    platform: Platform | None = None,
    region: str | None = None,
    window: timedelta = SCAN_WINDOW,
) -> ScanPage:
    """A page of what :func:`scan_ads` finds, of one platform and one area (a country code,
    ``GLOBAL`` or a continent: :func:`normalise_area`) when given, with how many ads the scan
    finds and the shown ads' latest likes, comments and shares."""
    now = clock.now()
    async with uow:
        hits = await _scanned(uow, now, window, platform=platform, region=region)
        shown, products = await _shown(uow, hits[skip : skip + limit])
        readings = await uow.engagement.for_products(
            {v.ad.product_id for v in shown}, until=now, since=window_back(now, window)
        )
    wanted = {v.ad.id for v in shown}
    latest: dict[tuple[int, str], EngagementSnapshot] = {}
    for snapshots in readings.values():
        for snap in snapshots:  # oldest first: the last one read is the latest
            if snap.ad_id in wanted:
                latest[(snap.ad_id, snap.region)] = snap
    sums: dict[int, list[int]] = {}
    for (ad_id, _), snap in latest.items():
        total = sums.setdefault(ad_id, [0, 0, 0, 0])
        for i, count in enumerate((snap.views, snap.likes, snap.comments, snap.shares)):
            total[i] += count
    return ScanPage(
        shown,
        len(hits),
        {ad_id: Interactions(*counts) for ad_id, counts in sums.items()},
        frozenset(pid for pid, product in products.items() if product.added_by_user),
    )


@dataclass(frozen=True, slots=True)
class HeatMapRow:
    product: Product
    regions: dict[str, float]
    regional_views: int = 0  # the views gained in the map's regions (GLOBAL ones are on none)


async def regional_heat_map(
    uow: UnitOfWork,
    clock: Clock,
    *,
    product_ids: Sequence[int] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    level: Literal["continent", "country"] = "continent",
) -> list[HeatMapRow]:
    """Relative interest per region; by default for the top products by score, ``until`` now
    and ``since`` :data:`HEAT_MAP_WINDOW` before it (:func:`~marketscout.domain.instants.window_back`)."""
    end = utc_instant("until", until) if until is not None else clock.now()
    start = utc_instant("since", since) if since is not None else window_back(end, HEAT_MAP_WINDOW)
    if since is not None and start >= end:  # the default window is empty at 1970-01-01T00:00:00Z
        raise InvalidValue("since", "must be before until")
    async with uow:
        if product_ids:
            products = await uow.products.get_many(product_ids)
            missing = [pid for pid in product_ids if pid not in products]
            if missing:
                raise NotFound("product", missing[0])
            chosen = list(dict.fromkeys(product_ids))
        else:
            latest = await uow.scores.ranked(TrendingFilter(), limit=HEAT_MAP_DEFAULT_PRODUCTS)
            chosen = [s.product_id for s in latest]
            if not chosen:
                chosen = (await uow.engagement.products_with_engagement())[:HEAT_MAP_DEFAULT_PRODUCTS]
            products = await uow.products.get_many(chosen)
        # The chosen products' gains, and every region's activity summed by the store.
        gains = await uow.engagement.window_gains(start, end, product_ids=chosen)
        activity = await uow.engagement.regional_activity(start, end)
    maps = heat_map_from_activity(gains, activity, chosen, level=level)
    views = regional_views(gains, level=level)
    return [
        HeatMapRow(products[pid], maps.get(pid, {}), views.get(pid, 0)) for pid in chosen if pid in products
    ]


async def product_with_score(uow: UnitOfWork, product_id: int) -> tuple[Product, TrendScore | None]:
    async with uow:
        product = await uow.products.get(product_id)
        if product is None:
            raise NotFound("product", product_id)
        return product, await uow.scores.latest(product_id)


@dataclass(frozen=True, slots=True)
class SpreadReport:
    product_id: int
    calculated_at: datetime
    reached_regions: list[str]
    targets: list[SpreadAssessment]


async def spread(uow: UnitOfWork, clock: Clock, product_id: int, targets: Sequence[str]) -> SpreadReport:
    """Where next: the regions a product has reached and its chance of reaching each target (or,
    with no target, any region it has not reached yet), from its stored engagement."""
    now = clock.now()
    async with uow:
        if await uow.products.get(product_id) is None:
            raise NotFound("product", product_id)
        series = await uow.engagement.for_products([product_id], until=now, since=now - SCORING_HISTORY)
    snapshots = series.get(product_id, [])
    wanted: list[str | None] = [*dict.fromkeys(targets)] or [None]
    return SpreadReport(
        product_id=product_id,
        calculated_at=now,
        reached_regions=sorted({s.region for s in snapshots}),
        targets=[spread_score(snapshots, target, now) for target in wanted],
    )
