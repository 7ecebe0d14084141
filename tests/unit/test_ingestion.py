"""Ingestion use case: idempotent, order-independent, all-or-nothing on request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.domain.errors import RejectedBatch
from marketscout.domain.model import Platform, Product
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.engagement import Rejection, SnapshotInput, ingest_engagement
from tests.unit.fakes import START, FakeClock

NOW = START + timedelta(days=30)


async def _world() -> tuple[InMemoryUnitOfWork, FakeClock, int]:
    uow, clock = InMemoryUnitOfWork(InMemoryStore()), FakeClock(NOW)
    product = await catalog.create_product(
        uow, clock, catalog.NewProduct(name="Lamp", description="A lamp"), created_by=None
    )
    ad = await catalog.create_ad(
        uow,
        clock,
        catalog.NewAd(product_id=product.id, platform=Platform.TIKTOK, ad_content="x", external_id="e1"),
    )
    return uow, clock, ad.id


items_strategy = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from(["US", "FR", "GLOBAL"]), st.integers(0, 10**9)),
    min_size=1,
    max_size=30,
)


def _inputs(ad_id: int, raw: list[tuple[int, str, int]]) -> list[SnapshotInput | Rejection]:
    return [
        SnapshotInput(ad_id=ad_id, region=region, observed_at=START + timedelta(hours=h), views=views)
        for h, region, views in raw
    ]


@settings(max_examples=40, deadline=None)
@given(raw=items_strategy, data=st.data())
async def test_any_order_stores_the_same_and_resending_stores_nothing(
    raw: list[tuple[int, str, int]], data: st.DataObject
) -> None:
    uow_a, clock_a, ad_a = await _world()
    uow_b, clock_b, ad_b = await _world()
    shuffled = data.draw(st.permutations(raw))
    report_a = await ingest_engagement(uow_a, clock_a, _inputs(ad_a, raw))
    report_b = await ingest_engagement(uow_b, clock_b, _inputs(ad_b, list(shuffled)))
    unique_keys = {(h, r) for h, r, _ in raw}
    assert report_a.stored == report_b.stored == len(unique_keys)
    assert report_a.stored + report_a.duplicates == len(raw)
    again = await ingest_engagement(uow_a, clock_a, _inputs(ad_a, raw))
    assert (again.stored, again.duplicates) == (0, len(raw))


async def test_all_or_nothing_leaves_nothing_behind() -> None:
    uow, clock, ad_id = await _world()
    batch: list[SnapshotInput | Rejection] = [
        SnapshotInput(ad_id=ad_id, region="US", observed_at=START, views=1),
        SnapshotInput(ad_id=ad_id, region="ZZ", observed_at=START, views=1),
    ]
    with pytest.raises(RejectedBatch) as error:
        await ingest_engagement(uow, clock, batch, all_or_nothing=True)
    assert error.value.rejections == [(1, "region", "must be an ISO 3166-1 alpha-2 country code or GLOBAL")]
    async with uow:
        assert await uow.engagement.products_with_engagement() == []


async def test_external_ids_resolve_and_unknown_ones_are_rejected() -> None:
    uow, clock, _ = await _world()
    report = await ingest_engagement(
        uow,
        clock,
        [
            SnapshotInput(
                platform=Platform.TIKTOK, external_id="e1", region="us", observed_at=START, views=3
            ),
            SnapshotInput(
                platform=Platform.YOUTUBE, external_id="e1", region="US", observed_at=START, views=3
            ),
            SnapshotInput(region="US", observed_at=START, views=3),
        ],
    )
    assert report.stored == 1
    assert [(r.index, r.field) for r in report.rejected] == [(1, "external_id"), (2, "ad_id")]


async def test_unit_of_work_rolls_back_without_commit() -> None:
    uow, clock, _ = await _world()
    with pytest.raises(RuntimeError):
        async with uow:
            await uow.products.add(Product(name="Ghost", description="never", created_at=clock.now()))
            raise RuntimeError("boom")
    async with uow:
        assert [p.name for p in await uow.products.list(skip=0, limit=10)] == ["Lamp"]
