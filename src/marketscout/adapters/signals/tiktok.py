"""TikTok Research API: public videos by keyword and region, with their counters.

Requests (https://developers.tiktok.com/doc/research-api-specs-query-videos):

- a client token: ``POST {base}/v2/oauth/token/`` (form: ``client_key``, ``client_secret``,
  ``grant_type=client_credentials``) answers ``{"access_token", "expires_in", "token_type"}``;
  it is reused until a minute before it expires, and renewed once when a query answers 401;
- ``POST {base}/v2/research/video/query/?fields=id,video_description,create_time,region_code,
  view_count,like_count,comment_count,share_count,username`` with a JSON body
  ``{"query": {"and": [{"operation": "IN", "field_name": "region_code", "field_values": [...]},
  {"operation": "EQ", "field_name": "keyword", "field_values": ["…"]}]},
  "start_date": "YYYYMMDD", "end_date": "YYYYMMDD", "max_count": 100, "cursor": N, "search_id": "…"}``
  (the range is at most 30 days). Pages continue while ``data.has_more``, passing back
  ``data.cursor`` and ``data.search_id``.

Every answer has ``error: {"code", "message", "log_id"}``; ``code`` is ``"ok"`` on success.
``rate_limit_exceeded`` (HTTP 429, 1,000 requests a day) and ``daily_quota_limit_exceeded``
end the run for this source and keep what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from marketscout.adapters.signals.common import add_item, count, json_body
from marketscout.adapters.signals.http import ResilientHttp
from marketscout.domain.model import Platform
from marketscout.domain.ports import Clock
from marketscout.domain.signals import CollectedItem, FetchResult, SignalSource, SourceUnavailable

BASE_URL = "https://open.tiktokapis.com"
FIELDS = (
    "id,video_description,create_time,region_code,view_count,like_count,comment_count,share_count,username"
)
MAX_DAYS = 30


def _reason(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', 'error')}: {error.get('message', '')}"
    if isinstance(body, dict) and "error_description" in body:  # the OAuth endpoint's shape
        return f"{body.get('error', 'error')}: {body['error_description']}"
    return None


class TikTokResearchSource(SignalSource):
    def __init__(
        self,
        name: str,
        http: ResilientHttp,
        clock: Clock,
        *,
        client_key: str,
        client_secret: str,
        keywords: Sequence[tuple[str, int]],
        regions: Sequence[str] = ("US",),
        days: int = 7,
        max_pages: int = 5,
        base_url: str = BASE_URL,
    ) -> None:
        self.name = name
        self._http, self._clock = http, clock
        self._client = {"client_key": client_key, "client_secret": client_secret}
        self.keywords, self.regions = list(keywords), list(regions)
        self.days = max(1, min(MAX_DAYS, days))
        self.max_pages = max_pages
        self._base = base_url.rstrip("/")
        self._token: str | None = None
        self._token_expires = datetime.min.replace(tzinfo=UTC)

    async def _access_token(self, *, renew: bool = False) -> str:
        now = self._clock.now()
        if self._token is None or renew or now >= self._token_expires:
            response = await self._http.request(
                "POST",
                f"{self._base}/v2/oauth/token/",
                data={**self._client, "grant_type": "client_credentials"},
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            body = json_body(self.name, response, _reason)
            if not isinstance(body, dict) or not body.get("access_token"):
                raise SourceUnavailable(f"{self.name}: the token answer has no access_token")
            self._token = str(body["access_token"])
            lifetime = int(body.get("expires_in", 7200))
            self._token_expires = now + timedelta(seconds=max(0, lifetime - 60))
        return self._token

    async def _query(self, payload: dict[str, Any]) -> dict[str, Any]:
        for renew in (False, True):
            token = await self._access_token(renew=renew)
            response = await self._http.request(
                "POST",
                f"{self._base}/v2/research/video/query/",
                params={"fields": FIELDS},
                headers={"authorization": f"Bearer {token}"},
                json=payload,
            )
            if response.status_code == 401 and not renew:
                continue  # the token expired early: renew it once
            body = json_body(self.name, response, _reason)
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict) and error.get("code", "ok") != "ok":
                raise SourceUnavailable(f"{self.name}: {_reason(body)}")
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise SourceUnavailable(f"{self.name}: the answer has no data object")
            return data
        raise SourceUnavailable(f"{self.name}: the access token was refused twice")

    async def fetch(self) -> FetchResult:
        result = FetchResult()
        now = self._clock.now()
        start = (now - timedelta(days=self.days - 1)).strftime("%Y%m%d")
        for keyword, product_id in self.keywords:
            payload: dict[str, Any] = {
                "query": {
                    "and": [
                        {"operation": "IN", "field_name": "region_code", "field_values": self.regions},
                        {"operation": "EQ", "field_name": "keyword", "field_values": [keyword]},
                    ]
                },
                "start_date": start,
                "end_date": now.strftime("%Y%m%d"),
                "max_count": 100,
                "cursor": 0,
            }
            for _ in range(self.max_pages):
                try:
                    data = await self._query(payload)
                except SourceUnavailable as error:
                    if not result.items:
                        raise
                    result.skipped.append(f"stopped early, keeping what was found: {error.message}")
                    return result
                for video in data.get("videos", []):
                    video_id = str(video.get("id")) if isinstance(video, dict) else "?"
                    add_item(
                        result, self.name, f"video {video_id}", partial(self._item, video, product_id, now)
                    )
                if not data.get("has_more"):
                    break
                payload = {**payload, "cursor": data.get("cursor", 0), "search_id": data.get("search_id", "")}
        return result

    @staticmethod
    def _item(video: dict[str, Any], product_id: int, now: datetime) -> CollectedItem:
        created = video.get("create_time")
        username = video.get("username")
        return CollectedItem(
            platform=Platform.TIKTOK,
            external_id=str(video["id"]),
            content=str(video.get("video_description") or ""),
            observed_at=now,
            region=str(video["region_code"]).upper(),
            views=count(video["view_count"]),
            likes=count(video.get("like_count", 0)),
            comments=count(video.get("comment_count", 0)),
            shares=count(video.get("share_count", 0)),
            url=f"https://www.tiktok.com/@{username}/video/{video['id']}" if username else None,
            advertiser=str(username) if username else None,
            product_id=product_id,
            first_seen_at=datetime.fromtimestamp(int(created), UTC) if created is not None else None,
        )
