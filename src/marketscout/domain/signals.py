"""Signals from outside: what a collector brings in, and the port every source implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from marketscout.domain.errors import DomainError
from marketscout.domain.model import Platform
from marketscout.domain.text import folded


class SourceUnavailable(DomainError):
    """A source could not be reached or kept failing; the others carry on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectedItem:
    """One reading of one ad or post, as a source reports it."""

    platform: Platform
    external_id: str
    content: str
    observed_at: datetime
    region: str
    views: int
    likes: int = 0
    comments: int = 0
    shares: int = 0
    url: str | None = None
    advertiser: str | None = None
    product_id: int | None = None
    first_seen_at: datetime | None = None  # when the ad or post started (published, delivery start)


@dataclass(slots=True)
class FetchResult:
    items: list[CollectedItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@runtime_checkable
class SignalSource(Protocol):
    """Fetches the current readings of one source; raises SourceUnavailable when it cannot."""

    name: str

    async def fetch(self) -> FetchResult: ...


def match_product(item: CollectedItem, keywords: Sequence[tuple[str, int]]) -> int | None:
    """The product an item is about: its explicit id, else the first keyword found in its text
    (both compared by ``text.folded``: in any case and Unicode form)."""
    if item.product_id is not None:
        return item.product_id
    text = folded(item.content)
    return next((product_id for keyword, product_id in keywords if folded(keyword) in text), None)
