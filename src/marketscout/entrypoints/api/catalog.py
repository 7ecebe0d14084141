"""Products and ads."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from marketscout.domain.instants import past_instant
from marketscout.domain.model import Platform, User
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases import catalog, trends
from marketscout.entrypoints.api.dependencies import Reads
from marketscout.entrypoints.api.params import Limit, NameQuery, OptionalId, PathId, Skip
from marketscout.entrypoints.openapi import sent_header
from marketscout.entrypoints.schemas import AdIn, AdOut, ProductIn, ProductOut


class ProductController(Controller):
    path = "/products"
    tags = ["products"]

    @get("/", summary="List products")
    async def list_products(
        self,
        reads: NamedDependency[Reads],
        skip: Skip = 0,
        limit: Limit = 100,
        q: NameQuery = None,
    ) -> list[ProductOut]:
        """Each product carries its latest ``current_score`` and ``status`` (null until scored).
        Answers come from the per-process read cache, cleared by every write in the process."""

        async def compute() -> list[ProductOut]:
            listed = await catalog.list_products_with_scores(reads.uow, skip=skip, limit=limit, query=q)
            return [ProductOut.listed(product, level) for product, level in listed]

        return await reads.cache.get_or_compute(("products", skip, limit, q), compute)

    @post(
        "/",
        status_code=201,
        summary="Create a product",
        response_headers=[sent_header("Location", "The new product's address, /products/{product_id}")],
    )
    async def create_product(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ProductIn],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
    ) -> Response[ProductOut]:
        product = await catalog.create_product(
            uow,
            clock,
            catalog.NewProduct(
                name=data.name,
                description=data.description,
                category=data.category,
                keywords=tuple(data.keywords),
            ),
            created_by=user.id,
        )
        location = request.app.route_reverse("product", product_id=product.id)
        return Response(ProductOut.of(product), status_code=201, headers={"Location": location})

    @get("/{product_id:int}", name="product", summary="Get a product with its current score")
    async def get_product(self, product_id: PathId, uow: NamedDependency[UnitOfWork]) -> ProductOut:
        product, score = await trends.product_with_score(uow, product_id)
        return ProductOut.of(product, score)


class AdController(Controller):
    path = "/ads"
    tags = ["ads"]

    @get("/", summary="List ads")
    async def list_ads(
        self,
        uow: NamedDependency[UnitOfWork],
        skip: Skip = 0,
        limit: Limit = 100,
        product_id: OptionalId = None,
        platform: FromQuery[Platform | None] = None,
    ) -> list[AdOut]:
        ads = await catalog.list_ads(uow, skip=skip, limit=limit, product_id=product_id, platform=platform)
        return [AdOut.of(a) for a in ads]

    @post("/", status_code=201, summary="Create an ad or post about a product")
    async def create_ad(
        self,
        data: JSONBody[AdIn],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
    ) -> AdOut:
        """404 for an unknown product_id; 409 for a duplicate external_id on the platform;
        422 for a ``first_seen_at`` outside 1970..2100 or in the future (five minutes' grace, as
        the engagement ingest allows)."""
        if data.first_seen_at is not None:
            past_instant("first_seen_at", data.first_seen_at, clock.now())
        ad = await catalog.create_ad(
            uow,
            clock,
            catalog.NewAd(
                product_id=data.product_id,
                platform=data.platform,
                ad_content=data.ad_content,
                external_id=data.external_id,
                url=data.url,
                advertiser=data.advertiser,
                first_seen_at=data.first_seen_at,
            ),
        )
        return AdOut.of(ad)
