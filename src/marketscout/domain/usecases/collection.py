"""Collecting from a source: map items to products, create missing ads, ingest the readings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from marketscout.domain.errors import Conflict, DomainError
from marketscout.domain.model import Ad
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.signals import SignalSource, match_product
from marketscout.domain.usecases.engagement import Rejection, SnapshotInput
from marketscout.domain.usecases.pipeline import ingest_and_refresh


@dataclass(slots=True)
class CollectReport:
    source: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    ads_created: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.source}: fetched {self.fetched}, stored {self.stored}, duplicates {self.duplicates}, "
            f"new ads {self.ads_created}, skipped {len(self.skipped)}"
        )


async def collect(
    uow: UnitOfWork, clock: Clock, source: SignalSource, keywords: Sequence[tuple[str, int]]
) -> CollectReport:
    """One collection run; idempotent (re-running stores nothing twice)."""
    report = CollectReport(source=source.name)
    fetched = await source.fetch()
    report.fetched = len(fetched.items)
    report.skipped.extend(fetched.skipped)
    items: list[SnapshotInput | Rejection] = []
    for item in fetched.items:
        product_id = match_product(item, keywords)
        if product_id is None:
            report.skipped.append(f"{item.platform} {item.external_id}: matches no product keyword")
            continue
        async with uow:
            ad = await uow.ads.get_by_external_id(item.platform, item.external_id)
            if ad is None:
                if await uow.products.get(product_id) is None:
                    report.skipped.append(
                        f"{item.platform} {item.external_id}: product {product_id} does not exist"
                    )
                    continue
                try:
                    ad = await uow.ads.add(
                        Ad(
                            product_id=product_id,
                            platform=item.platform,
                            ad_content=item.content[:2000] or item.external_id,
                            external_id=item.external_id,
                            url=item.url,
                            advertiser=item.advertiser,
                            first_seen_at=item.first_seen_at or item.observed_at,
                            created_at=clock.now(),
                        )
                    )
                    await uow.commit()
                    report.ads_created += 1
                except Conflict:
                    ad = await uow.ads.get_by_external_id(item.platform, item.external_id)
        if ad is None:
            continue
        items.append(
            SnapshotInput(
                ad_id=ad.id,
                region=item.region,
                observed_at=item.observed_at,
                views=item.views,
                likes=item.likes,
                comments=item.comments,
                shares=item.shares,
            )
        )
    if items:
        try:
            result = await ingest_and_refresh(uow, clock, items)
        except DomainError as error:
            report.skipped.append(f"batch refused: {error.message}")
            return report
        report.stored, report.duplicates = result.stored, result.duplicates
        report.skipped.extend(f"item {r.index}: {r.field} {r.reason}" for r in result.rejected)
    return report
