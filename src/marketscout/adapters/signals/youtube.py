"""YouTube Data API v3: videos found by keyword, with their statistics.

Requests (https://developers.google.com/youtube/v3/docs):

- ``GET {base}/youtube/v3/search?part=id&type=video&q=…&regionCode=…&publishedAfter=…&order=viewCount&maxResults=50&key=…``
  pages with ``pageToken`` / ``nextPageToken``; **100 quota units** per call;
- ``GET {base}/youtube/v3/videos?part=snippet,statistics&id=ID,ID,…&key=…`` with at most 50 ids,
  **1 unit** per call. Counters come as strings; ``likeCount`` and ``commentCount`` are
  absent when the owner hides them (read as 0).

The default quota is 10,000 units a day, so each run spends at most ``quota_units`` (default
1,000: ten search pages). Statistics are worldwide, so readings are stored under the region
``GLOBAL``; ``regions`` only chooses where to search. Errors answer
``{"error": {"code", "message", "errors": [{"reason", "domain"}]}}``; ``quotaExceeded`` and
``rateLimitExceeded`` end the search for this run and keep what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from marketscout.adapters.signals.common import add_item, count, json_body
from marketscout.adapters.signals.http import ResilientHttp
from marketscout.domain.model import GLOBAL_REGION, Platform
from marketscout.domain.ports import Clock
from marketscout.domain.signals import CollectedItem, FetchResult, SignalSource, SourceUnavailable

BASE_URL = "https://www.googleapis.com"
SEARCH_COST, VIDEOS_COST = 100, 1


def _reason(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    reasons = [e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)]
    return f"{', '.join(r for r in reasons if r) or 'error'}: {error.get('message', '')}".strip()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class YouTubeSource(SignalSource):
    def __init__(
        self,
        name: str,
        http: ResilientHttp,
        clock: Clock,
        *,
        api_key: str,
        keywords: Sequence[tuple[str, int]] = (),
        video_ids: Sequence[tuple[str, int]] = (),
        regions: Sequence[str] = ("US",),
        max_pages: int = 1,
        published_within_days: int = 30,
        quota_units: int = 1000,
        base_url: str = BASE_URL,
    ) -> None:
        self.name = name
        self._http, self._clock = http, clock
        self._key = api_key
        self.keywords, self.video_ids, self.regions = list(keywords), list(video_ids), list(regions)
        self.max_pages, self.days, self.quota = max_pages, published_within_days, quota_units
        self._base = base_url.rstrip("/")
        self.units_spent = 0

    async def _call(self, endpoint: str, params: dict[str, str]) -> Any:
        response = await self._http.get(
            f"{self._base}/youtube/v3/{endpoint}", params={**params, "key": self._key}
        )
        return json_body(self.name, response, _reason)

    async def _search(self, now: datetime, result: FetchResult) -> dict[str, int]:
        found: dict[str, int] = {}
        after = (now - timedelta(days=self.days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for keyword, product_id in self.keywords:
            for region in self.regions:
                token: str | None = None
                for _ in range(self.max_pages):
                    if self.units_spent + SEARCH_COST > self.quota:
                        result.skipped.append(f"{self.name}: quota budget of {self.quota} units reached")
                        return found
                    params = {
                        "part": "id",
                        "type": "video",
                        "q": keyword,
                        "regionCode": region,
                        "publishedAfter": after,
                        "order": "viewCount",
                        "maxResults": "50",
                    }
                    if token:
                        params["pageToken"] = token
                    self.units_spent += SEARCH_COST
                    body = await self._call("search", params)
                    for item in body.get("items", []):
                        video_id = (item.get("id") or {}).get("videoId") if isinstance(item, dict) else None
                        if isinstance(video_id, str):
                            found.setdefault(video_id, product_id)
                    token = body.get("nextPageToken")
                    if not token:
                        break
        return found

    async def fetch(self) -> FetchResult:
        result = FetchResult()
        now = self._clock.now()
        self.units_spent = 0
        try:
            wanted = await self._search(now, result)
        except SourceUnavailable as error:
            if not self.video_ids:
                raise
            wanted = {}
            result.skipped.append(f"search stopped: {error.message}")
        for video_id, product_id in self.video_ids:
            wanted.setdefault(video_id, product_id)
        ids = list(wanted)
        returned: dict[str, Any] = {}
        for start in range(0, len(ids), 50):
            self.units_spent += VIDEOS_COST
            body = await self._call(
                "videos", {"part": "snippet,statistics", "id": ",".join(ids[start : start + 50])}
            )
            for item in body.get("items", []):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    returned[item["id"]] = item
        for video_id, product_id in wanted.items():
            video = returned.get(video_id)
            if video is None:
                result.skipped.append(f"{self.name} video {video_id}: not returned (private or deleted)")
                continue
            add_item(result, self.name, f"video {video_id}", partial(self._item, video, product_id, now))
        return result

    @staticmethod
    def _item(video: dict[str, Any], product_id: int, now: datetime) -> CollectedItem:
        snippet, stats = video["snippet"], video["statistics"]
        title, description = str(snippet.get("title", "")), str(snippet.get("description", ""))
        return CollectedItem(
            platform=Platform.YOUTUBE,
            external_id=str(video["id"]),
            content=f"{title}\n{description}".strip(),
            observed_at=now,
            region=GLOBAL_REGION,
            views=count(stats["viewCount"]),
            likes=count(stats.get("likeCount", 0)),
            comments=count(stats.get("commentCount", 0)),
            url=f"https://www.youtube.com/watch?v={video['id']}",
            advertiser=str(snippet["channelTitle"]) if snippet.get("channelTitle") else None,
            product_id=product_id,
            first_seen_at=_time(snippet["publishedAt"]) if snippet.get("publishedAt") else None,
        )
