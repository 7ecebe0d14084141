"""Engagement ingestion: validate, resolve ads, store idempotently, report per item."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from marketscout.domain.errors import InvalidValue, RejectedBatch
from marketscout.domain.instants import past_instant
from marketscout.domain.model import Ad, EngagementSnapshot, Platform
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.regions import normalise_region
from marketscout.domain.text import trimmed
from marketscout.domain.usecases.catalog import EXTERNAL_ID_LENGTH


class SnapshotInput(NamedTuple):
    """One item of an ingest batch, as the edge parsed it (a plain tuple: a batch holds up to
    100,000 of them)."""

    observed_at: datetime
    region: str
    views: int
    likes: int = 0
    comments: int = 0
    shares: int = 0
    ad_id: int | None = None
    platform: Platform | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    field: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    received: int
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    product_ids: set[int] = field(default_factory=set)


def _typed_external(item: SnapshotInput) -> SnapshotInput:
    """``item`` with its external id as ads' external ids are stored (``catalog.create_ad``, by
    ``text.trimmed``): composed (NFC), so ``Cafe`` + U+0301 finds the ad stored as ``Café``, and
    without the blanks around it. An id that no ad could have is an InvalidValue naming
    ``external_id``, with the rule an ad's would break: blank once trimmed, longer than
    ``EXTERNAL_ID_LENGTH``, or holding a control character (never looked up with a NUL) or a
    bidirectional control."""
    if item.external_id is None:
        return item
    return item._replace(external_id=trimmed("external_id", item.external_id, EXTERNAL_ID_LENGTH))


def _external_key(item: SnapshotInput) -> tuple[Platform, str] | None:
    if item.ad_id is not None:
        return None
    if item.platform is not None and item.external_id:
        return (item.platform, item.external_id)
    raise InvalidValue("ad_id", "give ad_id, or platform and external_id")


def _check_same_ad(item: SnapshotInput, platform: Platform, named: Ad | None) -> None:
    """An item that names its ad by id and also by platform or external id must name one ad."""
    if item.platform is not None and item.platform != platform:
        raise InvalidValue("platform", f"ad {item.ad_id} is a {platform} ad, not {item.platform}")
    if item.external_id is not None and (named is None or named.id != item.ad_id):
        raise InvalidValue(
            "external_id", f"{platform} {item.external_id!r} is not ad {item.ad_id}; name one ad"
        )


async def _by_external(
    uow: UnitOfWork, found: dict[tuple[Platform, str], Ad | None], key: tuple[Platform, str]
) -> Ad | None:
    """The ad a platform's id (composed) names, looked up once per batch; an ad stored before
    external ids were composed, decomposed (NFD) as typed, is found too (the SQL stores' migration
    0019 composed those ids, but an in-memory or embedding store may hold one)."""
    if key not in found:
        ad = await uow.ads.get_by_external_id(*key)
        if ad is None and (typed := unicodedata.normalize("NFD", key[1])) != key[1]:
            ad = await uow.ads.get_by_external_id(key[0], typed)
        found[key] = ad
    return found[key]


async def ingest_engagement(
    uow: UnitOfWork,
    clock: Clock,
    items: Sequence[SnapshotInput | Rejection],
    *,
    all_or_nothing: bool = False,
    sender: int | None = None,
) -> IngestReport:
    """Stores the valid snapshots of a batch, as sent by the account ``sender`` (a user id; None
    for the operator's own collectors and commands).

    Items the edge could not parse arrive as :class:`Rejection` and are reported with
    the rest. With ``all_or_nothing`` any rejection stores nothing and raises
    :class:`RejectedBatch`.
    """
    report = IngestReport(received=len(items))
    now = clock.now()
    async with uow:
        # Only what a snapshot copies from its ad: its product and platform.
        owners = await uow.ads.owners(
            {i.ad_id for i in items if isinstance(i, SnapshotInput) and i.ad_id is not None}
        )
        ads_by_external: dict[tuple[Platform, str], Ad | None] = {}
        snapshots: list[EngagementSnapshot] = []
        for index, item in enumerate(items):
            if isinstance(item, Rejection):
                report.rejected.append(item)
                continue
            try:
                item = _typed_external(item)
                external = _external_key(item)
                if external is None:
                    owner = owners.get(item.ad_id or 0)
                    if owner is None or item.ad_id is None:
                        raise InvalidValue("ad_id", f"no ad {item.ad_id} is known; create it first")
                    ad_id, (product_id, platform) = item.ad_id, owner
                    if item.platform is not None or item.external_id is not None:
                        named = None
                        if item.external_id is not None:
                            named = await _by_external(uow, ads_by_external, (platform, item.external_id))
                        _check_same_ad(item, platform, named)
                else:
                    ad = await _by_external(uow, ads_by_external, external)
                    if ad is None or ad.id is None:
                        raise InvalidValue("external_id", f"no {external[0]} ad {external[1]!r} is known")
                    ad_id, product_id, platform = ad.id, ad.product_id, ad.platform
                observed_at = past_instant("observed_at", item.observed_at, now)
                snapshots.append(
                    EngagementSnapshot(
                        ad_id=ad_id,
                        product_id=product_id,
                        platform=platform,
                        region=normalise_region(item.region),
                        observed_at=observed_at,
                        views=item.views,
                        likes=item.likes,
                        comments=item.comments,
                        shares=item.shares,
                    )
                )
            except InvalidValue as error:
                report.rejected.append(Rejection(index, error.field, error.rule))
        if all_or_nothing and report.rejected:
            raise RejectedBatch([(r.index, r.field, r.reason) for r in report.rejected])
        # The same key twice inside one batch is a duplicate too.
        unique: dict[tuple[int, str, datetime], EngagementSnapshot] = {}
        for snapshot in snapshots:
            unique.setdefault(snapshot.key, snapshot)
        result = await uow.engagement.add_many(list(unique.values()), sender=sender)
        await uow.commit()
    report.stored = result.stored
    report.duplicates = result.duplicates + (len(snapshots) - len(unique))
    report.product_ids = {s.product_id for s in unique.values()}
    return report
