"""A generic feed source: JSON, NDJSON or CSV served at a URL.

Each record names ``platform``, ``external_id``, ``observed_at``, ``region`` and ``views`` (and
optionally ``likes``, ``comments``, ``shares``, ``content``, ``url``, ``advertiser``,
``product_id``). A record that does not parse is logged with the source and skipped.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from marketscout.adapters.csv_rows import column, misfit
from marketscout.adapters.signals.http import ResilientHttp
from marketscout.domain.model import Platform
from marketscout.domain.signals import CollectedItem, FetchResult, SignalSource, SourceUnavailable

logger = logging.getLogger("marketscout.collect")
FeedFormat = Literal["json", "ndjson", "csv"]
_PLATFORMS = [p.value for p in Platform]


def _required(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None or str(value).strip() == "":
        raise ValueError(f"{name}: is required")
    return str(value)


def _optional(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    return None if value in (None, "") else str(value)


def _counter(record: dict[str, Any], name: str) -> int:
    value = record.get(name)
    if value in (None, ""):
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or isinstance(value, bool | float):
        raise ValueError(f"{name}: must be a whole number of at least 0")
    return number


def _instant(text: str) -> datetime:
    try:
        observed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        observed = None
    if observed is None or observed.utcoffset() is None:
        raise ValueError("observed_at: must be an ISO 8601 time with a UTC offset")
    return observed


def feed_item(record: dict[str, Any]) -> CollectedItem:
    """One feed record as a collected item; ``ValueError("field: rule")`` when it does not map."""
    observed = _instant(_required(record, "observed_at"))
    platform = _required(record, "platform")
    if platform not in _PLATFORMS:
        raise ValueError(f"platform: must be one of: {', '.join(_PLATFORMS)}")
    counters = {name: _counter(record, name) for name in ("views", "likes", "comments", "shares")}
    product = record.get("product_id")
    if product not in (None, "") and not str(product).isdigit():
        raise ValueError("product_id: must be a whole number")
    return CollectedItem(
        platform=Platform(platform),
        external_id=_required(record, "external_id"),
        content=str(record.get("content") or ""),
        observed_at=observed,
        region=_required(record, "region"),
        url=_optional(record, "url"),
        advertiser=_optional(record, "advertiser"),
        product_id=int(product) if product not in (None, "") else None,
        views=counters["views"],
        likes=counters["likes"],
        comments=counters["comments"],
        shares=counters["shares"],
    )


@dataclass(frozen=True, slots=True)
class _Unfit:
    """A CSV row that does not fit the header, and how."""

    problem: str


def _csv_records(text: str) -> list[dict[str, str] | _Unfit]:
    """The rows of CSV text by the header's columns (their names in any case); a row with more or
    fewer cells is unfit."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [column(name) for name in next(reader, [])]
    return [
        _Unfit(problem)
        if (problem := misfit(len(cells), len(header)))
        else dict(zip(header, cells, strict=True))
        for cells in reader
        if cells  # not a blank line
    ]


class HttpFeedSource(SignalSource):
    def __init__(self, name: str, url: str, feed_format: FeedFormat, http: ResilientHttp) -> None:
        self.name = name
        self.url = url
        self.format = feed_format
        self._http = http

    def _records(self, text: str) -> list[Any]:
        if self.format == "csv":
            return _csv_records(text)
        if self.format == "ndjson":
            records: list[Any] = []
            for line in text.splitlines():
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        records.append(None)
            return records
        body = json.loads(text)
        return list(body.get("items", [])) if isinstance(body, dict) else list(body)

    async def fetch(self) -> FetchResult:
        response = await self._http.get(self.url)
        if not response.is_success:
            # A 4xx (ResilientHttp has already retried 408, 429 and 5xx): its body is an error
            # page, not the feed, and the run is the source's failure, not a feed of bad records.
            status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
            logger.warning("source %s: %s", self.name, status)
            raise SourceUnavailable(f"{self.name}: {status}")
        result = FetchResult()
        try:
            records = self._records(response.text)
        except ValueError:
            result.skipped.append(f"{self.name}: the feed is not valid {self.format}")
            logger.warning("source %s served invalid %s", self.name, self.format)
            return result
        for index, record in enumerate(records):
            try:
                if isinstance(record, _Unfit):
                    raise ValueError(record.problem)
                if not isinstance(record, dict):
                    raise ValueError("is not an object")
                result.items.append(feed_item(record))
            except ValueError as error:
                reason = f"{self.name} record {index}: {error}"[:300]
                result.skipped.append(reason)
                logger.warning("skipped %s", reason)
        return result
