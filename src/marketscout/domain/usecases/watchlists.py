"""Watchlists: each user's own list of products to follow."""

from __future__ import annotations

from dataclasses import dataclass

from marketscout.domain.errors import Conflict, NotFound
from marketscout.domain.model import WatchlistEntry
from marketscout.domain.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class WatchResult:
    entry: WatchlistEntry
    created: bool


async def watch(uow: UnitOfWork, clock: Clock, *, user_id: int, product_id: int) -> WatchResult:
    """Adds a product; adding it again returns the existing entry (created=False), also when
    the two addings race."""
    async with uow:
        if await uow.products.get(product_id) is None:
            raise NotFound("product", product_id)
        existing = await uow.watchlists.get(user_id, product_id)
        if existing is not None:
            return WatchResult(existing, created=False)
        entry = await uow.watchlists.add_if_new(
            WatchlistEntry(user_id=user_id, product_id=product_id, created_at=clock.now())
        )
        if entry is None:
            # Another request added it since the look-up above, and committed.
            existing = await uow.watchlists.get(user_id, product_id)
            if existing is None:  # and removed it again at once
                raise Conflict("the watchlist changed meanwhile; try again", field="product_id")
            return WatchResult(existing, created=False)
        await uow.commit()
    return WatchResult(entry, created=True)


async def list_watchlist(
    uow: UnitOfWork, *, user_id: int, skip: int = 0, limit: int | None = None
) -> list[WatchlistEntry]:
    async with uow:
        return await uow.watchlists.list(user_id, skip=skip, limit=limit)


async def unwatch(uow: UnitOfWork, *, user_id: int, product_id: int) -> None:
    async with uow:
        if not await uow.watchlists.remove(user_id, product_id):
            raise NotFound("watchlist entry for product", product_id)
        await uow.commit()
