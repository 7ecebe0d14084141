"""Counters at or near the largest a reading may hold (2^63 - 1): every read that adds them up
answers 200, with the same figures on every store, the domain's reference definitions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.gains import ad_gains, window_gains
from marketscout.domain.heatmap import heat_map
from marketscout.domain.model import MAX_COUNT, EngagementSnapshot, Platform
from marketscout.domain.scan import SCAN_WINDOW, rank_gains
from marketscout.domain.scoring import hourly_series, score_series
from marketscout.domain.spread import spread_score
from marketscout.domain.usecases.trends import HEAT_MAP_WINDOW, SCORING_HISTORY
from tests.integration.api.support import NOW

Client = AsyncTestClient[Litestar]
MakeUser = Callable[[str], Awaitable[dict[str, str]]]


def _reading(
    ad_id: int, hours_ago: float, views: int, region: str = "US", interactions: int = 0
) -> dict[str, Any]:
    """A reading whose likes, comments and shares are each ``interactions``."""
    return {
        "ad_id": ad_id,
        "region": region,
        "observed_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "views": views,
        "likes": interactions,
        "comments": interactions,
        "shares": interactions,
    }


async def _ad(client: Client, headers: dict[str, str], product_id: int, platform: str, name: str) -> int:
    ad = await client.post(
        "/ads",
        json={"product_id": product_id, "platform": platform, "ad_content": "c", "external_id": name},
        headers=headers,
    )
    assert ad.status_code == 201, ad.text
    ad_id: int = ad.json()["id"]
    return ad_id


async def test_reads_over_counters_at_the_maximum_answer_the_reference_figures(
    client: Client, make_user: MakeUser
) -> None:
    """Two ads each at 2^63 - 1 views in one region (and one of them in another: its gains over
    both overflow 64 bits), an ad whose base over two regions does, a first reading no double
    holds exactly (2^62 + 1), and readings with likes, comments and shares each 2^63 - 1."""
    headers = await make_user("analyst")
    product = await client.post("/products", json={"name": "Huge", "description": "d"}, headers=headers)
    assert product.status_code == 201, product.text
    product_id = product.json()["id"]
    big = await _ad(client, headers, product_id, "TikTok", "big")
    late = await _ad(client, headers, product_id, "TikTok", "late")
    chatty = await _ad(client, headers, product_id, "YouTube", "chatty")
    flat = await _ad(client, headers, product_id, "TikTok", "flat")
    batch = [
        _reading(big, 100, 0),
        _reading(big, 30, 5),
        _reading(big, 1, MAX_COUNT),
        _reading(big, 30, 0, "FR"),
        _reading(big, 2, MAX_COUNT, "FR"),
        _reading(late, 50, 2**62 + 1),
        _reading(late, 1, MAX_COUNT),
        _reading(chatty, 30, 0, "DE"),
        _reading(chatty, 3, 10, "DE", interactions=MAX_COUNT),
        _reading(chatty, 2, 20, "DE", interactions=MAX_COUNT),
        _reading(flat, 48, MAX_COUNT),
        _reading(flat, 1, MAX_COUNT),
        _reading(flat, 48, MAX_COUNT, "FR"),
        _reading(flat, 1, MAX_COUNT, "FR", interactions=MAX_COUNT),
    ]
    stored = await client.post("/engagement", json=batch, headers=headers)
    assert stored.status_code == 200, stored.text
    assert stored.json()["stored"] == len(batch)

    platforms = {big: Platform.TIKTOK, late: Platform.TIKTOK, chatty: Platform.YOUTUBE, flat: Platform.TIKTOK}
    readings = [
        EngagementSnapshot(
            ad_id=r["ad_id"],
            product_id=product_id,
            platform=platforms[r["ad_id"]],
            region=r["region"],
            observed_at=datetime.fromisoformat(r["observed_at"]),
            views=r["views"],
            likes=r["likes"],
            comments=r["comments"],
            shares=r["shares"],
        )
        for r in batch
    ]

    # The scan: per ad, gains and bases summed over regions beyond 64 bits.
    scan = await client.get("/scan-ads")
    assert scan.status_code == 200, scan.text
    hits = rank_gains(ad_gains(window_gains(readings, NOW - SCAN_WINDOW, NOW)), NOW)
    assert [(ad["ad_id"], ad["views_gained"], ad["engagement_score"]) for ad in scan.json()["viral_ads"]] == [
        (hit.ad_id, hit.views_gained, round(hit.engagement_score, 1)) for hit in hits
    ]
    assert big in {hit.ad_id for hit in hits}

    # The heat map: every region's activity summed beyond 64 bits; the late ad's base is its first
    # reading, exactly.
    for level in ("continent", "country"):
        answer = await client.get("/heat-map", params={"product_id": product_id, "level": level})
        assert answer.status_code == 200, answer.text
        expected = heat_map(readings, [product_id], since=NOW - HEAT_MAP_WINDOW, until=NOW, level=level)
        assert answer.json()["products"][0]["regions"] == expected[product_id], level

    # Scores: interactions of 3 x (2^63 - 1) count as 2^63 - 1.
    score = await client.post(f"/calculate-score/{product_id}", headers=headers)
    assert score.status_code == 200, score.text
    reference = score_series(hourly_series(readings, since=NOW - SCORING_HISTORY, until=NOW), NOW)
    assert score.json()["trend_score"] == round(reference.score, 1)
    assert score.json()["components"] == {k: round(v, 4) for k, v in reference.components.items()}

    # Alerts: the user's watchlist re-scored, the scan run for the new viral ads.
    watched = await client.post("/watchlists", json={"product_id": product_id}, headers=headers)
    assert watched.status_code == 201, watched.text
    alerts = await client.get("/check-alerts", headers=headers)
    assert alerts.status_code == 200, alerts.text
    alerted = {alert["product_id"] for alert in alerts.json()["new_alerts"]}
    assert alerted == {product_id}

    spread = await client.get(f"/products/{product_id}/spread")
    assert spread.status_code == 200, spread.text
    assert spread.json()["targets"][0]["views"] == spread_score(readings, None, NOW).views

    for path in (
        "/trending",
        f"/products/{product_id}",
        f"/trends/{product_id}",
        "/ui/viral",
        f"/ui/products/{product_id}",
        f"/ui/heat-map?product_id={product_id}",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
    exported = await client.get("/export/trends", headers=headers)
    assert exported.status_code == 200, exported.text
    assert f"{reference.score:.1f}" in exported.text
