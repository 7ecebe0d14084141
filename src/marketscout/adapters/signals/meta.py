"""The Meta Ad Library API (``ads_archive``): ads by search term and country, with their
delivery dates, platforms and impression ranges.

Request (https://www.facebook.com/ads/library/api/, Graph API):
``GET {base}/{version}/ads_archive?search_terms=…&ad_reached_countries=["US"]&ad_active_status=ALL
&ad_type=ALL&fields=…&limit=100&access_token=…``; pages follow ``paging.next`` (a full URL).

Each ad answers ``id``, ``ad_creation_time``, ``ad_creative_bodies``, ``ad_creative_link_titles``,
``ad_delivery_start_time``, ``ad_delivery_stop_time``, ``page_name``, ``publisher_platforms``
(facebook, instagram, messenger, audience_network), and — for political or issue ads and ads
delivered in the EU only — ``impressions`` as a range ``{"lower_bound", "upper_bound"}`` or
``eu_total_reach``. The reading's views are the middle of the range (the lower bound when open
ended) or the EU reach; an ad with neither is skipped with that reason, never stored as 0.

One query per country, so each reading belongs to the country it was reached in. Errors answer
``{"error": {"message", "type", "code", "fbtrace_id"}}``; codes 4, 17, 32, 613 and 80004 are rate
limits, 190 an invalid or expired token. The ``ad_snapshot_url`` carries the access token, so it
is never stored: the ad's URL is its public Ad Library page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from marketscout.adapters.signals.common import add_item, count, json_body
from marketscout.adapters.signals.http import ResilientHttp
from marketscout.domain.model import Platform
from marketscout.domain.ports import Clock
from marketscout.domain.signals import CollectedItem, FetchResult, SignalSource

BASE_URL = "https://graph.facebook.com"
API_VERSION = "v21.0"
FIELDS = (
    "id,ad_creation_time,ad_creative_bodies,ad_creative_link_titles,ad_delivery_start_time,"
    "ad_delivery_stop_time,page_name,publisher_platforms,impressions,eu_total_reach"
)
RATE_LIMIT_CODES = {4, 17, 32, 613, 80004}


def _reason(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    kind = (
        "rate limited"
        if code in RATE_LIMIT_CODES
        else "invalid or expired token"
        if code == 190
        else "refused"
    )
    return f"{kind} (code {code}): {error.get('message', '')}"


def _date(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=UTC)


def _views(ad: dict[str, Any]) -> int:
    impressions = ad.get("impressions")
    if isinstance(impressions, dict) and "lower_bound" in impressions:
        lower = count(impressions["lower_bound"])
        upper = impressions.get("upper_bound")
        return lower if upper in (None, "") else (lower + count(upper)) // 2
    if ad.get("eu_total_reach") is not None:
        return count(ad["eu_total_reach"])
    raise ValueError("no impressions or EU reach (Meta publishes them for EU and political ads only)")


def _platform(names: Sequence[str]) -> Platform:
    if "instagram" in names and "facebook" not in names:
        return Platform.INSTAGRAM
    return Platform.FACEBOOK


class MetaAdLibrarySource(SignalSource):
    def __init__(
        self,
        name: str,
        http: ResilientHttp,
        clock: Clock,
        *,
        access_token: str,
        keywords: Sequence[tuple[str, int]],
        countries: Sequence[str] = ("US",),
        max_pages: int = 3,
        active_status: str = "ALL",
        ad_type: str = "ALL",
        api_version: str = API_VERSION,
        base_url: str = BASE_URL,
    ) -> None:
        self.name = name
        self._http, self._clock = http, clock
        self._token = access_token
        self.keywords, self.countries = list(keywords), list(countries)
        self.max_pages, self.active_status, self.ad_type = max_pages, active_status, ad_type
        self._url = f"{base_url.rstrip('/')}/{api_version}/ads_archive"

    async def fetch(self) -> FetchResult:
        result = FetchResult()
        now = self._clock.now()
        seen: set[tuple[str, str]] = set()
        for keyword, product_id in self.keywords:
            for country in self.countries:
                url: str | None = self._url
                params: dict[str, str] | None = {
                    "search_terms": keyword,
                    "ad_reached_countries": json.dumps([country]),
                    "ad_active_status": self.active_status,
                    "ad_type": self.ad_type,
                    "fields": FIELDS,
                    "limit": "100",
                    "access_token": self._token,
                }
                for _ in range(self.max_pages):
                    if url is None:
                        break
                    body = json_body(self.name, await self._http.get(url, params=params), _reason)
                    for ad in body.get("data", []):
                        ad_id = str(ad.get("id")) if isinstance(ad, dict) else "?"
                        if (ad_id, country) in seen:
                            continue
                        seen.add((ad_id, country))
                        add_item(
                            result,
                            self.name,
                            f"ad {ad_id} ({country})",
                            partial(self._item, ad, country, product_id, now),
                        )
                    # ``next`` is a complete URL, access token included.
                    url, params = (body.get("paging") or {}).get("next"), None
        return result

    @staticmethod
    def _item(ad: dict[str, Any], country: str, product_id: int, now: datetime) -> CollectedItem:
        texts = [*ad.get("ad_creative_link_titles", []), *ad.get("ad_creative_bodies", [])]
        started = ad.get("ad_delivery_start_time") or ad.get("ad_creation_time")
        return CollectedItem(
            platform=_platform(ad.get("publisher_platforms") or ["facebook"]),
            external_id=str(ad["id"]),
            content="\n".join(str(t) for t in texts if t),
            observed_at=now,
            region=country,
            views=_views(ad),
            url=f"https://www.facebook.com/ads/library/?id={ad['id']}",
            advertiser=str(ad["page_name"]) if ad.get("page_name") else None,
            product_id=product_id,
            first_seen_at=_date(started) if started else None,
        )
