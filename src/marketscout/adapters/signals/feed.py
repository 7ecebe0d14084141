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
from datetime import datetime
from typing import Any, Literal

from marketscout.adapters.signals.http import ResilientHttp
from marketscout.domain.model import Platform
from marketscout.domain.signals import CollectedItem, FetchResult, SignalSource

logger = logging.getLogger("marketscout.collect")
FeedFormat = Literal["json", "ndjson", "csv"]


def _item(record: dict[str, Any]) -> CollectedItem:
    observed = datetime.fromisoformat(str(record["observed_at"]).replace("Z", "+00:00"))
    if observed.utcoffset() is None:
        raise ValueError("observed_at needs a UTC offset")
    counters = {name: int(record.get(name) or 0) for name in ("views", "likes", "comments", "shares")}
    if any(value < 0 for value in counters.values()):
        raise ValueError("counters must not be negative")
    product = record.get("product_id")
    return CollectedItem(
        platform=Platform(str(record["platform"])),
        external_id=str(record["external_id"]),
        content=str(record.get("content") or ""),
        observed_at=observed,
        region=str(record["region"]),
        url=record.get("url") or None,
        advertiser=record.get("advertiser") or None,
        product_id=int(product) if product not in (None, "") else None,
        views=counters["views"],
        likes=counters["likes"],
        comments=counters["comments"],
        shares=counters["shares"],
    )


class HttpFeedSource(SignalSource):
    def __init__(self, name: str, url: str, feed_format: FeedFormat, http: ResilientHttp) -> None:
        self.name = name
        self.url = url
        self.format = feed_format
        self._http = http

    def _records(self, text: str) -> list[Any]:
        if self.format == "csv":
            return list(csv.DictReader(io.StringIO(text)))
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
        result = FetchResult()
        try:
            records = self._records(response.text)
        except ValueError:
            result.skipped.append(f"{self.name}: the feed is not valid {self.format}")
            logger.warning("source %s served invalid %s", self.name, self.format)
            return result
        for index, record in enumerate(records):
            try:
                if not isinstance(record, dict):
                    raise TypeError("not an object")
                result.items.append(_item(record))
            except (KeyError, ValueError, TypeError) as error:
                reason = f"{self.name} record {index}: {type(error).__name__} {error}"[:300]
                result.skipped.append(reason)
                logger.warning("skipped %s", reason)
        return result
