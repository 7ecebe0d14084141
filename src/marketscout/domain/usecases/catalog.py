"""Products and ads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from marketscout.domain.errors import InvalidValue, NotFound
from marketscout.domain.instants import utc_instant
from marketscout.domain.model import Ad, Platform, Product, ScoreLevel
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.text import (
    MULTI_LINE,
    ONE_LINE,
    composed,
    folded,
    is_blank,
    search_text,
    trimmed,
    web_url,
)

# The longest each text may be once trimmed.
NAME_LENGTH = 200
DESCRIPTION_LENGTH = 1000
CATEGORY_LENGTH = 100
KEYWORD_LENGTH = 100
AD_CONTENT_LENGTH = 2000
EXTERNAL_ID_LENGTH = 200
ADVERTISER_LENGTH = 200
MAX_AD_URL_LENGTH = 2048


@dataclass(frozen=True, slots=True, kw_only=True)
class NewProduct:
    name: str
    description: str
    category: str | None = None
    keywords: tuple[str, ...] = ()


def _product(new: NewProduct, *, created_by: int | None, now: datetime) -> Product:
    """The product ``new`` describes, its text checked and trimmed (InvalidValue otherwise)."""
    keywords = tuple(dict.fromkeys(folded(trimmed("keywords", k, KEYWORD_LENGTH)) for k in new.keywords))
    return Product(
        name=trimmed("name", new.name, NAME_LENGTH),
        description=trimmed("description", new.description, DESCRIPTION_LENGTH, MULTI_LINE),
        category=trimmed("category", new.category, CATEGORY_LENGTH) if new.category is not None else None,
        keywords=keywords,
        created_by=created_by,
        created_at=now,
    )


async def create_product(
    uow: UnitOfWork, clock: Clock, new: NewProduct, *, created_by: int | None
) -> Product:
    product = _product(new, created_by=created_by, now=clock.now())
    async with uow:
        stored = await uow.products.add(product)
        await uow.commit()
    return stored


async def namesakes(uow: UnitOfWork, name: str) -> list[Product]:
    """The products already named ``name`` (trimmed, in any case and Unicode form), oldest first: the namesakes a
    new product of that name would have. None for a name no product could have (blank, too
    long), which :func:`create_product` refuses anyway."""
    try:
        text = trimmed("name", name, NAME_LENGTH)
    except InvalidValue:
        return []
    async with uow:
        return await uow.products.named(text)


async def get_product(uow: UnitOfWork, product_id: int) -> Product:
    async with uow:
        product = await uow.products.get(product_id)
    if product is None:
        raise NotFound("product", product_id)
    return product


async def list_products(uow: UnitOfWork, *, skip: int, limit: int, query: str | None = None) -> list[Product]:
    """A page of products; ``query``, a part of their names (the search ``q``)."""
    query = search_text("q", query)
    async with uow:
        return await uow.products.list(skip=skip, limit=limit, query=query)


async def holds_synthetic_products(uow: UnitOfWork) -> bool:
    """Whether the store holds products of the synthetic demo market (:attr:`Product.synthetic`)."""
    async with uow:
        return await uow.products.any_synthetic()


# "Desk Lamp (#12)", "#12" or "12": a product named with its number, as people (and the
# dashboard's suggestions) write it.
_NUMBERED = re.compile(r"^(?:.*\(#(?P<suffix>\d{1,19})\)|#?(?P<bare>\d{1,19}))$", re.DOTALL)
_LISTED = 5  # products named in a refusal that several match


def product_reference(product: Product) -> str:
    """The product as a person names it without ambiguity, ``Desk Lamp (#12)``: what
    :func:`find_product` reads back."""
    return f"{product.name} (#{product.id})"


async def find_product(uow: UnitOfWork, typed: str, *, field: str = "product") -> Product:
    """The one product ``typed`` names: its whole name in any case, else its number (``12``,
    ``#12``, or after its name as :func:`product_reference` writes it), else a part of its name
    that no other product's name has. InvalidValue naming ``field`` when it names none, or
    several (they are listed, with their numbers)."""
    text = composed(ONE_LINE.check(field, typed)).strip()
    if is_blank(text):
        raise InvalidValue(field, "is missing: type the product's name or number")
    async with uow:
        named = await uow.products.named(text)
        if len(named) > 1:
            numbers = ", ".join(f"#{p.id}" for p in named[:_LISTED]) + (", …" if len(named) > _LISTED else "")
            raise InvalidValue(
                field,
                f"“{text}” is the name of {len(named)} products ({numbers}): "
                "choose one from the suggestions, or type its number",
            )
        if named:
            return named[0]
        if numbered := _NUMBERED.match(text):
            number = int(numbered.group("suffix") or numbered.group("bare"))
            found = await uow.products.get(number) if number < 2**63 else None
            if found is None:
                raise InvalidValue(field, f"#{number} is not the number of any product")
            return found
        matches = await uow.products.list(skip=0, limit=_LISTED + 1, query=text)
    if not matches:
        raise InvalidValue(field, f"“{text}” matches no product’s name or number")
    if len(matches) > 1:
        listed = ", ".join(product_reference(p) for p in matches[:_LISTED])
        more = ", …" if len(matches) > _LISTED else ""
        raise InvalidValue(
            field,
            f"“{text}” is part of the names of several products: {listed}{more}. "
            "Type more of the name, or its number",
        )
    return matches[0]


async def list_products_with_scores(
    uow: UnitOfWork, *, skip: int, limit: int, query: str | None = None
) -> list[tuple[Product, ScoreLevel | None]]:
    """A page of products, each with its latest score and status (None until first scored)."""
    query = search_text("q", query)
    async with uow:
        products = await uow.products.list(skip=skip, limit=limit, query=query)
        levels = await uow.scores.latest_levels(p.id for p in products)
    return [(product, levels.get(product.id)) for product in products]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAd:
    product_id: int
    platform: Platform
    ad_content: str
    external_id: str | None = None
    url: str | None = None
    advertiser: str | None = None
    first_seen_at: datetime | None = None


async def create_ad(uow: UnitOfWork, clock: Clock, new: NewAd) -> Ad:
    """Creates an ad; an unknown product is NotFound (404), a duplicate external id Conflict (409).
    ``first_seen_at`` lies in 1970..2100 (``domain.instants``). It may be ahead of ``clock``: the demo
    replays a market whose ads appear as its clock runs; the HTTP API refuses a future one."""
    ad = _ad(new, new.product_id, now=clock.now())
    async with uow:
        if await uow.products.get(new.product_id) is None:
            raise NotFound("product", new.product_id)
        stored = await uow.ads.add(ad)
        await uow.commit()
    return stored


def _ad(new: NewAd, product_id: int, *, now: datetime) -> Ad:
    """The ad ``new`` describes, of product ``product_id``, checked and trimmed."""
    if new.url is not None:
        web_url("url", new.url, MAX_AD_URL_LENGTH)
    return Ad(
        product_id=product_id,
        platform=new.platform,
        ad_content=trimmed("ad_content", new.ad_content, AD_CONTENT_LENGTH, MULTI_LINE),
        external_id=trimmed("external_id", new.external_id, EXTERNAL_ID_LENGTH)
        if new.external_id is not None
        else None,
        url=new.url,
        advertiser=trimmed("advertiser", new.advertiser, ADVERTISER_LENGTH)
        if new.advertiser is not None
        else None,
        first_seen_at=utc_instant("first_seen_at", new.first_seen_at)
        if new.first_seen_at is not None
        else None,
        created_at=now,
    )


@dataclass(frozen=True, slots=True)
class SyntheticListing:
    """A synthetic demo product with its ads, each ad with its own external id (the ads'
    ``product_id`` is not read: it is the product's)."""

    product: NewProduct
    ads: tuple[NewAd, ...]


@dataclass(frozen=True, slots=True)
class CompletedListings:
    product_ids: list[int]  # in the listings' order
    ad_ids: list[int]  # every listing's ads, in order
    created: int  # how many products and ads were missing and are now stored


async def _unfinished_namesake(uow: UnitOfWork, new: NewProduct, claimed: set[int]) -> Product | None:
    """A stored synthetic product that is ``new`` and has no ads yet: one whose load stopped
    before its ads were stored."""
    description = trimmed("description", new.description, DESCRIPTION_LENGTH, MULTI_LINE)
    for product in await uow.products.named(trimmed("name", new.name, NAME_LENGTH)):
        if (
            product.synthetic
            and product.description == description
            and product.id not in claimed
            and not await uow.ads.list(skip=0, limit=1, product_id=product.id)
        ):
            return product
    return None


async def complete_synthetic_listings(
    uow: UnitOfWork, clock: Clock, listings: Sequence[SyntheticListing], *, only_if_begun: bool = False
) -> CompletedListings | None:
    """Stores, in one unit of work, the products and ads of ``listings`` that are not stored yet,
    so that a load stopped anywhere is completed and never stored twice: an ad is found by its
    external id, a product by its ads, or else as a synthetic namesake without ads. With
    ``only_if_begun``, stores nothing (and returns None) when none of them is stored yet."""
    now = clock.now()
    product_ids: list[int] = []
    ad_ids: list[int] = []
    created = 0
    begun = False
    async with uow:
        for listing in listings:
            ads = [_ad(new, 0, now=now) for new in listing.ads]  # their product: below
            found = [
                await uow.ads.get_by_external_id(ad.platform, ad.external_id) if ad.external_id else None
                for ad in ads
            ]
            product_id = next((ad.product_id for ad in found if ad is not None), None)
            if product_id is None:
                namesake = await _unfinished_namesake(uow, listing.product, set(product_ids))
                product_id = namesake.id if namesake is not None else None
            if product_id is None:
                product = _product(listing.product, created_by=None, now=now)
                product_id = (await uow.products.add(product)).id
                created += 1
            else:
                begun = True
            product_ids.append(product_id)
            for ad, stored in zip(ads, found, strict=True):
                if stored is None:
                    stored = await uow.ads.add(replace(ad, product_id=product_id))
                    created += 1
                ad_ids.append(stored.id)
        if only_if_begun and not begun:
            return None
        await uow.commit()
    return CompletedListings(product_ids=product_ids, ad_ids=ad_ids, created=created)


async def list_ads(
    uow: UnitOfWork,
    *,
    skip: int,
    limit: int,
    product_id: int | None = None,
    platform: Platform | None = None,
) -> list[Ad]:
    async with uow:
        return await uow.ads.list(skip=skip, limit=limit, product_id=product_id, platform=platform)
