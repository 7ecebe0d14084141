"""Trend intelligence: scores, trending, the viral-ad scan and the heat map."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromQuery, QueryParameter
from msgspec import Meta

from marketscout.domain.instants import utc_instant, window_back
from marketscout.domain.model import Platform, TrendStatus, User
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.regions import CONTINENTS, normalise_area, normalise_region
from marketscout.domain.usecases import pipeline, trends
from marketscout.domain.usecases.catalog import CATEGORY_LENGTH
from marketscout.entrypoints.api.cache import ReadCache
from marketscout.entrypoints.api.dependencies import Reads
from marketscout.entrypoints.api.params import (
    INSTANT_RULE,
    MAX_ID,
    MAX_REPEATS,
    Instant,
    NameQuery,
    OptionalId,
    PathId,
    Skip,
)
from marketscout.entrypoints.schemas import (
    HeatMapOut,
    HeatMapProductOut,
    ProductOut,
    ScanOut,
    ScoreOut,
    SpreadOut,
    TrendHistoryOut,
    TrendingOut,
    TrendingProductOut,
    ViralAdOut,
)

# How /trending ranks the products a region keeps: by their worldwide score, or by the region's own.
Ranking = Literal["worldwide", "regional"]

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})")


def parse_instant(field: str, value: str | None) -> datetime | None:
    """A query instant: RFC 3339 with a UTC offset (a naive time, or a bare number, is ambiguous),
    between 1970 and 2100 (``domain.instants``: outside, a window back from it cannot be counted)."""
    if value is None:
        return None
    text = value.strip()
    try:
        if not RFC3339.fullmatch(text):
            raise ValueError(text)
        return utc_instant(field, datetime.fromisoformat(text.replace("z", "Z")))
    except ValueError:
        raise ValidationException(extra=[{"key": field, "message": INSTANT_RULE}]) from None


def heat_map_labels(products: Sequence[tuple[int, str]]) -> list[str]:
    """The ``heat_map`` key of each ``(id, name)``, one per product: the contract keys the map by
    name, and two products may share one, so those are keyed ``Name (#id)``; a product whose
    own name is such a key (``Lamp (#2)`` beside two ``Lamp``) is keyed by its id too. Keys with
    an id never clash (ids are unique), so a name left bare only ever yields to one."""
    counts = Counter(name for _, name in products)
    with_id = {i for i, (_, name) in enumerate(products) if counts[name] > 1}
    while True:
        labels = [f"{name} (#{pid})" if i in with_id else name for i, (pid, name) in enumerate(products)]
        taken = Counter(labels)
        clashing = {i for i, label in enumerate(labels) if taken[label] > 1} - with_id
        if not clashing:
            return labels
        with_id |= clashing


async def regional_scores(
    cache: ReadCache, uow: UnitOfWork, clock: Clock, area: str, platform: Platform | None
) -> trends.RegionalScores:
    """A region's own scores (``area`` canonical), kept by the read cache like the answers: every
    page, filter and order of that area's list, in the API and the dashboard alike, reads them
    until the next write or the cache's TTL."""
    return await cache.get_or_compute(
        ("regional-scores", area, platform),
        lambda: trends.regional_scores(uow, clock, area=area, platform=platform),
    )


async def _trending(
    cache: ReadCache,
    uow: UnitOfWork,
    clock: Clock,
    limit: int,
    skip: int,
    status: TrendStatus | None,
    q: str | None,
    platform: Platform | None,
    region: str | None,
    min_confidence: float | None = None,
    ranking: Ranking = "worldwide",
    category: str | None = None,
) -> TrendingOut:
    if ranking == "regional" and region is not None:
        page = await trends.regional_trending_page(
            uow,
            clock,
            area=region,
            limit=limit,
            skip=skip,
            status=status,
            query=q,
            platform=platform,
            min_confidence=min_confidence,
            category=category,
            scored=await regional_scores(cache, uow, clock, region, platform),
        )
        items, scored_in = page.items, region
    else:
        among = (
            await trends.active_products(uow, clock, platform=platform, region=region)
            if platform is not None or region is not None
            else None
        )
        items = await trends.trending(
            uow,
            limit=limit,
            skip=skip,
            status=status,
            query=q,
            among=among,
            min_confidence=min_confidence,
            category=category,
        )
        scored_in = "worldwide"
    return TrendingOut(
        trending_products=[
            TrendingProductOut(
                # the product as /products/{id} shows it: with its stored worldwide score
                product=ProductOut.of(item.product, item.score)
                if scored_in == "worldwide"
                else ProductOut.listed(item.product, item.worldwide),
                current_score=scored.trend_score,
                status=scored.status,
                last_updated=scored.calculated_at,
                growth=scored.growth,
                components=scored.components,
                confidence=scored.confidence,
                forecast=scored.forecast,
                reason=scored.reason,
                scored_in=scored_in,
            )
            for item in items
            for scored in (ScoreOut.of(item.score),)
        ]
    )


async def _heat_map(
    uow: UnitOfWork,
    clock: Clock,
    ids: list[int],
    since: datetime | None,
    until: datetime | None,
    level: Literal["continent", "country"],
) -> HeatMapOut:
    end = until or clock.now()
    rows = await trends.regional_heat_map(uow, clock, product_ids=ids, since=since, until=until, level=level)
    labels = heat_map_labels([(r.product.id, r.product.name) for r in rows])
    return HeatMapOut(
        heat_map={label: r.regions for label, r in zip(labels, rows, strict=True)},
        products=[
            HeatMapProductOut(
                product_id=r.product.id,
                product_name=r.product.name,
                regions=r.regions,
                regional_views=r.regional_views,
            )
            for r in rows
        ],
        level=level,
        since=since or window_back(end, trends.HEAT_MAP_WINDOW),
        until=end,
    )


class IntelligenceController(Controller):
    tags = ["trend intelligence"]

    @get("/trending", summary="Products ranked by trend score")
    async def trending(
        self,
        reads: NamedDependency[Reads],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
        skip: Skip = 0,
        status: FromQuery[TrendStatus | None] = None,
        q: NameQuery = None,
        platform: FromQuery[Platform | None] = None,
        region: Annotated[
            str | None,
            # No length bounds: a bound would be a second rule; every wrong region is told the
            # one rule ``normalise_area`` gives.
            QueryParameter(
                description="ISO country code, GLOBAL, or a continent (" + ", ".join(CONTINENTS) + ")",
            ),
        ] = None,
        category: Annotated[
            str | None,
            QueryParameter(
                max_length=CATEGORY_LENGTH,
                description="Only products of exactly this category, as stored (the dashboard's "
                "category filter); empty: every category",
            ),
        ] = None,
        min_confidence: Annotated[
            float | None,
            QueryParameter(
                ge=0,
                le=1,
                schema_extra={"minimum": 0},  # Litestar leaves a bound of 0 out of the document
                description="Only products whose latest score has at least this confidence (0-1; "
                "it grows with the readings and the days they span: about 0.45 after a week of daily "
                "readings, 0.9 after a month)",
            ),
        ] = None,
        ranking: Annotated[
            Ranking,
            QueryParameter(
                description="worldwide (default): the products ``region`` keeps, ranked by their stored "
                "worldwide score; regional (needs ``region``): ranked by the score each earns from that "
                "region's readings alone, computed for the answer (``scored_in`` names the region)",
            ),
        ] = "worldwide",
    ) -> TrendingOut:
        """Distinct products, highest score first: exactly min(limit, products with a score after
        the first ``skip``) items.
        ``platform`` and ``region`` keep products with engagement there in the last 30 days (a
        continent: in any of its countries); ``category`` those of exactly that category;
        ``min_confidence`` those whose latest score is at least that confident."""
        code = normalise_area(region) if region is not None else None
        if ranking == "regional" and code is None:
            raise ValidationException(
                extra=[
                    {
                        "key": "ranking",
                        "message": "must be worldwide unless region is given (regional ranks by a region's own score)",
                    }
                ]
            )
        chosen = category or None  # empty, as the dashboard's "every category"
        key = ("trending", limit, skip, status, q, platform, code, chosen, min_confidence, ranking)
        return await reads.cache.get_or_compute(
            key,
            lambda: _trending(
                reads.cache,
                reads.uow,
                reads.clock,
                limit,
                skip,
                status,
                q,
                platform,
                code,
                min_confidence,
                ranking,
                chosen,
            ),
        )

    @post("/calculate-score/{product_id:int}", status_code=200, summary="Score a product now and store it")
    async def calculate_score(
        self,
        product_id: PathId,
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
    ) -> ScoreOut:
        # Then the alert rules, as ingest does; the middleware clears the read cache.
        score = await pipeline.calculate_score_and_alert(uow, clock, product_id)
        return ScoreOut.of(score)

    @get("/trends/{product_id:int}", summary="A product's score history, oldest first")
    async def history(
        self, product_id: PathId, uow: NamedDependency[UnitOfWork], since: Instant = None
    ) -> TrendHistoryOut:
        scores = await trends.score_history(uow, product_id, since=parse_instant("since", since))
        return TrendHistoryOut(product_id=product_id, history=[ScoreOut.of(s) for s in scores])

    @get("/products/{product_id:int}/spread", summary="Where next: the chance a product reaches new regions")
    async def spread(
        self,
        product_id: PathId,
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        region: Annotated[
            list[str] | None,
            QueryParameter(
                description=f"Repeatable target region (ISO country code), at most {MAX_REPEATS} times; "
                "default: any new region",
                max_items=MAX_REPEATS,  # StrictQuery refuses more, naming ``region``
            ),
        ] = None,
    ) -> SpreadOut:
        """The regions the product has reached, and for each target its spread score (0-100,
        100 = already there): fresh arrivals with a large reach cross most often
        (``docs/scoring.md``, E2)."""
        codes = [normalise_region(code) for code in region or []]
        return SpreadOut.of(await trends.spread(uow, clock, product_id, codes))

    @get("/scan-ads", summary="Ads growing unusually fast for their platform and age")
    async def scan_ads(
        self,
        reads: NamedDependency[Reads],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        product_id: OptionalId = None,
        platform: FromQuery[Platform | None] = None,
    ) -> ScanOut:
        """Ads whose views grew unusually fast over the last 24 hours for their platform and age,
        strongest first (``docs/scoring.md``, the viral-ad scan); empty when none qualify; 404 for a
        ``product_id`` that names no product."""

        async def compute() -> ScanOut:
            found = await trends.scan_ads(
                reads.uow, reads.clock, limit=limit, product_id=product_id, platform=platform
            )
            return ScanOut(viral_ads=[ViralAdOut.of(v) for v in found])

        return await reads.cache.get_or_compute(("scan", limit, product_id, platform), compute)

    @get("/heat-map", summary="Relative interest per region (100 = the product's strongest region)")
    async def heat_map(
        self,
        reads: NamedDependency[Reads],
        product_id: Annotated[
            list[Annotated[int, Meta(ge=1, le=MAX_ID)]] | None,
            QueryParameter(
                description=f"Repeatable, at most {MAX_REPEATS} times; default: top products",
                max_items=MAX_REPEATS,
                # Litestar leaves the items' bounds out of the document.
                schema_extra={"items": Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_ID)},
            ),
        ] = None,
        since: Instant = None,
        until: Instant = None,
        level: FromQuery[Literal["continent", "country"]] = "continent",
    ) -> HeatMapOut:
        start, end = parse_instant("since", since), parse_instant("until", until)
        ids = product_id or []
        key = ("heat-map", tuple(ids), start, end, level)
        return await reads.cache.get_or_compute(
            key, lambda: _heat_map(reads.uow, reads.clock, ids, start, end, level)
        )
