"""Collecting from a source: map items to products, create missing ads, ingest the readings.

A source's text follows the catalogue's rules (``domain.text``, ``usecases.catalog``) as the
API's does. An item whose external id breaks one, or whose new ad's text, URL or advertiser
holds a refused character (a control character, or a bidirectional embedding, override or
isolate: ``text.stored_text``) (or whose URL is no http(s) URL), is skipped naming the field and the
rule; an ad's text and advertiser longer than their limits are cut, blank ones left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from marketscout.domain.errors import Conflict, DomainError, InvalidValue, NotFound
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.signals import CollectedItem, SignalSource, match_product
from marketscout.domain.text import MULTI_LINE, ONE_LINE, Characters, is_blank, stored_text, trimmed
from marketscout.domain.usecases.catalog import (
    AD_CONTENT_LENGTH,
    ADVERTISER_LENGTH,
    EXTERNAL_ID_LENGTH,
    NewAd,
    create_ad,
)
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


def _cut(field: str, value: str, max_length: int, characters: Characters) -> str | None:
    """Free text as ``text.stored_text`` takes it, cut to ``max_length``; None when blank;
    InvalidValue naming ``field`` when it holds a character that rule refuses."""
    text = stored_text(field, value, characters)[:max_length].rstrip()
    return None if is_blank(text) else text


def _new_ad(item: CollectedItem, external_id: str, product_id: int) -> NewAd:
    """The ad an item shows, its free text made to fit; InvalidValue when it cannot."""
    advertiser = item.advertiser
    return NewAd(
        product_id=product_id,
        platform=item.platform,
        ad_content=_cut("content", item.content, AD_CONTENT_LENGTH, MULTI_LINE) or external_id,
        external_id=external_id,
        url=item.url,
        advertiser=_cut("advertiser", advertiser, ADVERTISER_LENGTH, ONE_LINE)
        if advertiser is not None
        else None,
        first_seen_at=item.first_seen_at or item.observed_at,
    )


async def collect(
    uow: UnitOfWork, clock: Clock, source: SignalSource, keywords: Sequence[tuple[str, int]]
) -> CollectReport:
    """One collection run; idempotent (re-running stores nothing twice). An item that cannot be
    stored is skipped, named with its field and rule in the report; the others are stored."""
    report = CollectReport(source=source.name)
    fetched = await source.fetch()
    report.fetched = len(fetched.items)
    report.skipped.extend(fetched.skipped)
    items: list[SnapshotInput | Rejection] = []
    for item in fetched.items:
        try:
            external_id = trimmed("external_id", item.external_id, EXTERNAL_ID_LENGTH)
        except InvalidValue as error:
            # Written as a literal: the id may hold what a terminal or a log should not print.
            shown = item.external_id[:EXTERNAL_ID_LENGTH]
            report.skipped.append(f"{item.platform} {shown!r}: {error.field}: {error.rule}")
            continue
        named = f"{item.platform} {external_id}"
        product_id = match_product(item, keywords)
        if product_id is None:
            report.skipped.append(f"{named}: matches no product keyword")
            continue
        async with uow:
            ad = await uow.ads.get_by_external_id(item.platform, external_id)
        if ad is None:
            try:
                ad = await create_ad(uow, clock, _new_ad(item, external_id, product_id))
                report.ads_created += 1
            except InvalidValue as error:
                report.skipped.append(f"{named}: {error.field}: {error.rule}")
                continue
            except NotFound:
                report.skipped.append(f"{named}: product {product_id} does not exist")
                continue
            except Conflict:  # created meanwhile by another run
                async with uow:
                    ad = await uow.ads.get_by_external_id(item.platform, external_id)
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
