"""Trending, scores, history, the viral-ad scan and the heat map, from stored data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.api.support import MovableClock, setup_ad, snap

Client = AsyncTestClient[Litestar]
MakeUser = Callable[[str], Awaitable[dict[str, str]]]


async def _market(client: Client, headers: dict[str, str]) -> dict[str, int]:
    """Three products: one taking off in Europe, one flat in the US, one without data."""
    rising, rising_ad = await setup_ad(client, headers, "rise")
    flat, flat_ad = await setup_ad(client, headers, "flat")
    idle, _ = await setup_ad(client, headers, "idle")
    batch: list[dict[str, object]] = []
    for hours in range(240, -1, -12):
        step = (240 - hours) / 12
        batch.append(snap(rising_ad, hours, int(2000 * 1.35**step), region="FR"))
        batch.append(snap(rising_ad, hours, int(300 * 1.2**step), region="US"))
        batch.append(snap(flat_ad, hours, int(50_000 + 400 * step), region="US"))
    response = await client.post("/engagement", json=batch, headers=headers)
    assert response.status_code == 200
    assert response.json()["stored"] == len(batch)
    return {"rising": rising, "flat": flat, "idle": idle, "rising_ad": rising_ad, "flat_ad": flat_ad}


async def test_trending_ranks_scored_products_from_data(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    body = (await client.get("/trending", params={"limit": 10})).json()
    ranked = body["trending_products"]
    assert [item["product"]["id"] for item in ranked][:2] == [ids["rising"], ids["flat"]]
    assert len(ranked) == 2, "only products with a score are listed"
    for item in ranked:
        assert 0 <= item["current_score"] <= 100
        assert item["status"] in {"emerging", "exploding", "steady", "peaked", "declining"}
        assert item["reason"]
        assert item["last_updated"].endswith("Z")
    assert ranked[0]["current_score"] > ranked[1]["current_score"]
    # The same score as its history's last, forecast included (docs/api.md lists it for both).
    latest = (await client.get(f"/trends/{ids['rising']}")).json()["history"][-1]
    assert ranked[0]["forecast"] == latest["forecast"] and len(latest["forecast"]) == 7
    assert ranked[0]["current_score"] == latest["trend_score"]
    one = (await client.get("/trending", params={"limit": 1})).json()["trending_products"]
    assert len(one) == 1
    assert (await client.get("/trending", params={"limit": 0})).status_code == 422


async def test_trending_pages_with_skip_as_the_lists_do(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("pager")
    ids = await _market(client, headers)
    first = (await client.get("/trending", params={"limit": 1})).json()["trending_products"]
    second = (await client.get("/trending", params={"limit": 1, "skip": 1})).json()["trending_products"]
    assert [item["product"]["id"] for item in first + second] == [ids["rising"], ids["flat"]]
    # With a filter the page is taken after it, not before.
    paged = await client.get("/trending", params={"limit": 1, "skip": 1, "min_confidence": 0.5})
    assert [item["product"]["id"] for item in paged.json()["trending_products"]] == [ids["flat"]]
    assert (await client.get("/trending", params={"skip": 2})).json()["trending_products"] == []
    refused = await client.get("/trending", params={"skip": -1})
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "skip"


async def test_trending_can_leave_out_scores_on_too_little_data(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    # A product seen twice, a day apart, tripling: a high score on almost no data.
    thin, thin_ad = await setup_ad(client, headers, "thin")
    batch = [snap(thin_ad, 24, 1000), snap(thin_ad, 0, 3000)]
    assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
    everything = (await client.get("/trending")).json()["trending_products"]
    listed = {item["product"]["id"]: item["confidence"] for item in everything}
    assert listed[thin] < 0.1
    assert listed[ids["rising"]] > 0.9
    sure = (await client.get("/trending", params={"min_confidence": 0.5})).json()["trending_products"]
    assert [item["product"]["id"] for item in sure] == [ids["rising"], ids["flat"]]
    assert all(item["confidence"] >= 0.5 for item in sure)
    refused = await client.get("/trending", params={"min_confidence": 2})
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "min_confidence"


async def test_calculate_score_stores_history(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    before = (await client.get(f"/trends/{ids['rising']}")).json()["history"]
    response = await client.post(f"/calculate-score/{ids['rising']}", headers=headers)
    assert response.status_code == 200
    score = response.json()
    assert score["product_id"] == ids["rising"]
    assert 0 <= score["trend_score"] <= 100
    assert {"24h", "7d"} <= set(score["growth"])
    assert score["growth"]["30d"] is None, "10 days of readings: no earlier 30 days to compare with"
    assert score["components"]
    after = (await client.get(f"/trends/{ids['rising']}")).json()["history"]
    assert len(after) == len(before) + 1
    stamps = [h["calculated_at"] for h in after]
    assert stamps == sorted(stamps)
    assert (await client.post("/calculate-score/999", headers=headers)).status_code == 404
    assert (await client.post(f"/calculate-score/{ids['rising']}")).status_code == 401
    assert (await client.get("/trends/999")).status_code == 404
    product = (await client.get(f"/products/{ids['rising']}")).json()
    assert product["current_score"] == score["trend_score"]


async def test_scan_finds_the_fast_ad_not_the_big_one(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    body = (await client.get("/scan-ads")).json()
    found = body["viral_ads"]
    assert found, "the rising ad grows far faster than its peers"
    assert found[0]["ad_id"] == ids["rising_ad"]
    assert all(0 <= ad["engagement_score"] <= 100 for ad in found)
    assert ids["flat_ad"] not in [ad["ad_id"] for ad in found]
    assert found[0]["product_name"] == "Mini Projector"
    assert found[0]["platform"] == "TikTok"
    none_on_youtube = (await client.get("/scan-ads", params={"platform": "YouTube"})).json()
    assert none_on_youtube == {"viral_ads": []}
    assert (await client.get("/scan-ads", params={"limit": 101})).status_code == 422


async def test_scanning_an_unknown_product_is_a_404_as_reading_it_is(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    scanned = await client.get("/scan-ads", params={"product_id": 999})
    read = await client.get("/products/999")
    assert scanned.status_code == read.status_code == 404, scanned.text

    def shape(answer: Any) -> dict[str, Any]:
        return {k: v for k, v in answer.json().items() if k != "request_id"}

    assert (
        shape(scanned)
        == shape(read)
        == {"status_code": 404, "message": "product 999 not found", "details": []}
    )
    # A product that exists but has no viral ad is still an empty scan, not a 404.
    assert (await client.get("/scan-ads", params={"product_id": ids["idle"]})).json() == {"viral_ads": []}
    document = (await client.get("/openapi.json")).json()
    assert "404" in document["paths"]["/scan-ads"]["get"]["responses"]


async def test_a_counter_corrected_downwards_is_not_a_viral_ad(client: Client, make_user: MakeUser) -> None:
    """The platform corrects a new ad's counter from 100,100 down to 100: the scan counts the
    rise of the highest reading (100 views), never the fall, so the ad is nowhere near viral."""
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    product = await client.post("/products", json={"name": "Desk Fan", "description": "d"}, headers=headers)
    ad = await client.post(
        "/ads",
        json={
            "product_id": product.json()["id"],
            "platform": "YouTube",
            "ad_content": "c",
            "external_id": "yt",
        },
        headers=headers,
    )
    ad_id = ad.json()["id"]
    readings = [
        snap(ad_id, h, v) for h, v in [(30, 100_000), (20, 100_050), (10, 100_100), (5, 100), (1, 150)]
    ]
    assert (await client.post("/engagement", json=readings, headers=headers)).status_code == 200
    found = (await client.get("/scan-ads")).json()["viral_ads"]
    assert [item["ad_id"] for item in found] == [ids["rising_ad"]]
    assert (await client.get("/scan-ads", params={"platform": "YouTube"})).json() == {"viral_ads": []}


async def test_heat_map_is_relative_and_peaks_at_100(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    body = (await client.get("/heat-map", params={"product_id": [ids["rising"], ids["flat"]]})).json()
    assert set(body["heat_map"]) == {
        f"Mini Projector (#{ids['rising']})",
        f"Mini Projector (#{ids['flat']})",
    }
    by_id = {p["product_id"]: p["regions"] for p in body["products"]}
    rising = by_id[ids["rising"]]
    assert set(rising) == {"North America", "South America", "Europe", "Asia", "Africa", "Oceania"}
    assert max(rising.values()) == 100
    assert rising["Europe"] == 100, "normalised by regional activity, Europe is where it stands out"
    assert all(0 <= v <= 100 for v in rising.values())
    countries = (
        await client.get("/heat-map", params={"product_id": ids["rising"], "level": "country"})
    ).json()["products"][0]["regions"]
    assert countries["FR"] == 100
    assert (await client.get("/heat-map", params={"product_id": 999})).status_code == 404
    assert (await client.get("/heat-map", params={"since": "2026-01-01T00:00:00"})).status_code == 422


async def test_heat_map_says_how_many_regional_views_each_map_is_built_from(
    client: Client, make_user: MakeUser
) -> None:
    """Readings without a region (GLOBAL) draw no map: all zeros, like a product without views,
    which ``regional_views`` (the views gained in named regions) tells apart from a real map."""
    headers = await make_user("analyst")
    product_id, ad_id = await setup_ad(client, headers)
    batch = [
        snap(ad_id, 48, 1000),
        snap(ad_id, 1, 1600),
        snap(ad_id, 48, 5000, "GLOBAL"),
        snap(ad_id, 1, 9000, "GLOBAL"),
    ]
    assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
    other = await client.post("/products", json={"name": "Sunset Lamp", "description": "d"}, headers=headers)
    assert other.status_code == 201, other.text
    body = (await client.get("/heat-map", params={"product_id": [product_id, other.json()["id"]]})).json()
    entries = {p["product_id"]: p for p in body["products"]}
    assert entries[product_id]["regional_views"] == 600, "the US gain; the GLOBAL one is on no map"
    assert entries[product_id]["regions"]["North America"] == 100
    assert entries[other.json()["id"]]["regional_views"] == 0
    assert set(entries[other.json()["id"]]["regions"].values()) == {0.0}


async def test_heat_map_keys_one_entry_per_product_whatever_their_names(
    client: Client, make_user: MakeUser
) -> None:
    """Two products named alike are keyed ``Name (#id)``; a third may be named exactly so, and
    a fourth as that label's own label: every product keeps its own key, none is overwritten."""
    headers = await make_user("analyst")

    async def product(name: str) -> int:
        made = await client.post("/products", json={"name": name, "description": "d"}, headers=headers)
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    first, second = await product("Lamp"), await product("Lamp")
    taken = await product(f"Lamp (#{second})")
    again = await product(f"Lamp (#{second}) (#{taken})")
    ids = [first, second, taken, again]
    body = (await client.get("/heat-map", params={"product_id": ids})).json()
    assert [p["product_id"] for p in body["products"]] == ids
    assert len(body["heat_map"]) == len(ids), sorted(body["heat_map"])
    assert f"Lamp (#{first})" in body["heat_map"]


async def test_trending_filters_by_platform_and_region(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    in_france = (await client.get("/trending", params={"region": "fr"})).json()["trending_products"]
    assert [item["product"]["id"] for item in in_france] == [ids["rising"]]
    on_tiktok = (await client.get("/trending", params={"platform": "TikTok"})).json()["trending_products"]
    assert {item["product"]["id"] for item in on_tiktok} == {ids["rising"], ids["flat"]}
    assert (await client.get("/trending", params={"platform": "YouTube"})).json() == {"trending_products": []}
    refused = await client.get("/trending", params={"region": "XX"})
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "region"


async def test_trending_filters_by_a_continent_as_the_dashboard_does(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    for continent, listed in (
        ("Europe", {ids["rising"]}),
        ("europe", {ids["rising"]}),
        ("North  America", {ids["rising"], ids["flat"]}),
        ("Asia", set()),
    ):
        answer = await client.get("/trending", params={"region": continent})
        assert answer.status_code == 200, continent
        assert {item["product"]["id"] for item in answer.json()["trending_products"]} == listed, continent
    both = await client.get("/trending", params={"region": "Europe", "platform": "YouTube"})
    assert both.json() == {"trending_products": []}
    refused = await client.get("/trending", params={"region": "Atlantis"})
    assert refused.status_code == 422
    detail = refused.json()["details"][0]
    assert detail["field"] == "region"
    assert "country code" in detail["rule"] and "North America" in detail["rule"]


async def test_spread_says_where_a_product_goes_next(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("analyst")
    ids = await _market(client, headers)
    fresh, fresh_ad = await setup_ad(client, headers, "fresh")
    arrival = [snap(fresh_ad, 6, 400_000, region="GB"), snap(fresh_ad, 0, 900_000, region="GB")]
    assert (await client.post("/engagement", json=arrival, headers=headers)).status_code == 200

    body = (await client.get(f"/products/{ids['rising']}/spread", params={"region": ["DE", "fr"]})).json()
    assert body["product_id"] == ids["rising"]
    assert body["reached_regions"] == ["FR", "US"]
    de, fr = body["targets"]
    assert (de["region"], de["reached"]) == ("DE", False)
    assert (fr["region"], fr["reached"], fr["spread_score"]) == ("FR", True, 100.0)
    assert de["age_days"] == 10 and "past the window" in de["reason"]

    new = (await client.get(f"/products/{fresh}/spread")).json()
    assert new["reached_regions"] == ["GB"]
    (anywhere,) = new["targets"]
    assert anywhere["region"] is None and anywhere["views"] == 900_000
    assert anywhere["spread_score"] > de["spread_score"], "a fresh arrival is likelier to cross"
    assert "still fresh" in anywhere["reason"]

    idle = (await client.get(f"/products/{ids['idle']}/spread")).json()
    assert idle["reached_regions"] == [] and idle["targets"][0]["spread_score"] == 0

    assert (await client.get("/products/999/spread")).status_code == 404
    bad = await client.get(f"/products/{fresh}/spread", params={"region": "Atlantis"})
    assert bad.status_code in (400, 422) and "region" in bad.text


async def test_query_instants_out_of_range_are_422_naming_the_field(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("analyst")
    product_id, _ = await setup_ad(client, headers)
    for path in ("/heat-map", f"/trends/{product_id}"):
        for field in ("since", "until"):
            if path != "/heat-map" and field == "until":
                continue
            for instant in ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
                # /trends takes its product in the path: a product_id query there is unknown.
                query = {field: instant, **({"product_id": product_id} if path == "/heat-map" else {})}
                response = await client.get(path, params=query)
                assert response.status_code == 422, (path, field, instant, response.text)
                [detail] = response.json()["details"]
                assert detail["field"] == field
                assert "1970" in detail["rule"]


async def _two_markets(client: Client, headers: dict[str, str]) -> dict[str, int]:
    """Two products sold in Germany: one taking off there from a small base, one flat there but
    exploding in the United States on three ads, so that it leads the worldwide ranking."""
    local, local_ad = await setup_ad(client, headers, "local")
    big, big_ad = await setup_ad(client, headers, "big-de")
    batch: list[dict[str, object]] = []
    for hours in range(240, -1, -12):
        step = (240 - hours) / 12
        batch.append(snap(local_ad, hours, int(1000 * 1.25**step), region="DE"))
        batch.append(snap(big_ad, hours, int(80_000 + 100 * step), region="DE"))
    for n in range(3):
        ad = await client.post(
            "/ads",
            json={"product_id": big, "platform": "Instagram", "ad_content": "Look", "external_id": f"us-{n}"},
            headers=headers,
        )
        assert ad.status_code == 201, ad.text
        for hours in range(240, -1, -12):
            step = (240 - hours) / 12
            batch.append(snap(ad.json()["id"], hours, int(5000 * 1.4**step), region="US"))
    response = await client.post("/engagement", json=batch, headers=headers)
    assert response.status_code == 200 and response.json()["stored"] == len(batch), response.text
    return {"local": local, "big": big}


async def test_trending_ranks_by_the_score_in_a_region_when_asked(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("analyst")
    ids = await _two_markets(client, headers)

    def listed(body: dict[str, Any]) -> list[int]:
        return [item["product"]["id"] for item in body["trending_products"]]

    worldwide = (await client.get("/trending", params={"region": "DE"})).json()
    assert listed(worldwide) == [ids["big"], ids["local"]], "filtered, ranked by the worldwide score"
    assert {item["scored_in"] for item in worldwide["trending_products"]} == {"worldwide"}

    for region in ("DE", "de", "Europe"):
        regional = await client.get("/trending", params={"region": region, "ranking": "regional"})
        assert regional.status_code == 200, regional.text
        items = regional.json()["trending_products"]
        assert listed(regional.json()) == [ids["local"], ids["big"]], region
        assert {item["scored_in"] for item in items} == {"Europe" if region == "Europe" else "DE"}
        by_id = {item["product"]["id"]: item for item in items}
        in_world = {item["product"]["id"]: item for item in worldwide["trending_products"]}
        # Germany's flat readings alone: far below the worldwide score the US ads give it.
        assert by_id[ids["big"]]["current_score"] < in_world[ids["big"]]["current_score"] - 20
        assert by_id[ids["big"]]["status"] in {"steady", "peaked", "declining", "emerging"}
        assert by_id[ids["local"]]["reason"] and len(by_id[ids["local"]]["forecast"]) == 7
        for product_id, item in by_id.items():
            # The product itself keeps its stored worldwide score, as /products/{id} says it.
            shown = (await client.get(f"/products/{product_id}")).json()
            assert (
                (item["product"]["current_score"], item["product"]["status"])
                == (
                    shown["current_score"],
                    shown["status"],
                )
                == (in_world[product_id]["current_score"], in_world[product_id]["status"])
            )

    # Paged and filtered after the regional ranking, as the worldwide list is.
    second = await client.get(
        "/trending", params={"region": "DE", "ranking": "regional", "limit": 1, "skip": 1}
    )
    assert listed(second.json()) == [ids["big"]]
    status = by_id[ids["local"]]["status"]
    only = await client.get("/trending", params={"region": "DE", "ranking": "regional", "status": status})
    assert ids["local"] in listed(only.json()) and ids["big"] not in listed(only.json())
    # Nothing is stored: the worldwide history is unchanged.
    history = (await client.get(f"/trends/{ids['big']}")).json()["history"]
    assert history[-1]["trend_score"] == in_world[ids["big"]]["current_score"]
    # The US list, ranked there, holds only the product the US ads sell.
    assert listed((await client.get("/trending", params={"region": "US", "ranking": "regional"})).json()) == [
        ids["big"]
    ]

    refused = await client.get("/trending", params={"ranking": "regional"})
    assert refused.status_code == 422
    detail = refused.json()["details"][0]
    assert detail["field"] == "ranking" and "region" in detail["rule"]
    wrong = await client.get("/trending", params={"region": "DE", "ranking": "local"})
    assert wrong.status_code in (400, 422) and wrong.json()["details"][0]["field"] == "ranking"


async def test_trending_filters_by_category_as_the_dashboard_does(
    client: Client, make_user: MakeUser
) -> None:
    """``category`` keeps the products of exactly that category, as stored (the dashboard's
    filter), under either ranking, and each category is its own answer in the read cache."""
    headers = await make_user("analyst")
    ids: dict[str, int] = {}
    batch: list[dict[str, object]] = []
    for name, category in (("Desk Fan", "Home & Garden"), ("Neck Fan", "Gadgets"), ("Loose Fan", None)):
        product = await client.post(
            "/products",
            json={"name": name, "description": "d"} | ({"category": category} if category else {}),
            headers=headers,
        )
        assert product.status_code == 201, product.text
        ids[name] = product.json()["id"]
        ad = await client.post(
            "/ads",
            json={"product_id": ids[name], "platform": "TikTok", "ad_content": "Look", "external_id": name},
            headers=headers,
        )
        assert ad.status_code == 201, ad.text
        for hours in range(240, -1, -12):
            batch.append(snap(ad.json()["id"], hours, int(1000 * 1.2 ** ((240 - hours) / 12)), region="DE"))
    assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200

    async def listed(**params: str) -> set[int]:
        answer = await client.get("/trending", params=params)
        assert answer.status_code == 200, (params, answer.text)
        return {item["product"]["id"] for item in answer.json()["trending_products"]}

    assert await listed() == set(ids.values())
    assert await listed(category="Gadgets") == {ids["Neck Fan"]}
    assert await listed(category="Home & Garden") == {ids["Desk Fan"]}
    assert await listed(category="gadgets") == set(), "exactly as stored"
    assert await listed(category="Toys") == set()
    assert await listed(category="") == set(ids.values()), "empty: every category, as the dashboard's"
    assert await listed(category="Gadgets", region="DE") == {ids["Neck Fan"]}
    assert await listed(category="Gadgets", region="Europe", ranking="regional") == {ids["Neck Fan"]}
    assert await listed(category="Toys", region="DE", ranking="regional") == set()
    too_long = await client.get("/trending", params={"category": "x" * 101})
    assert too_long.status_code == 422
    assert too_long.json()["details"] == [
        {"field": "category", "rule": "must be at most 100 characters long", "index": None}
    ]


async def test_heat_map_echoes_a_default_since_it_takes_back(client: Client, make_user: MakeUser) -> None:
    """The default ``since``, 30 days before ``until``, starts no earlier than the earliest
    instant the API takes (1970-01-01T00:00:00Z): the window it echoes is one a client can send
    again. ``until`` at that very instant leaves an empty window, not a refusal."""
    headers = await make_user("analyst")
    product_id, _ = await setup_ad(client, headers)
    for until, since in (
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("1970-01-15T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("1970-01-31T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("1970-02-15T00:00:00Z", "1970-01-16T00:00:00Z"),
    ):
        query: dict[str, Any] = {"until": until, "product_id": product_id}
        response = await client.get("/heat-map", params=query)
        assert response.status_code == 200, (until, response.text)
        body = response.json()
        assert (body["since"], body["until"]) == (since, until)
        assert body["products"][0]["regional_views"] == 0
        again = await client.get("/heat-map", params={"since": body["since"], "product_id": product_id})
        assert again.status_code == 200, (until, again.text)


async def test_windows_back_from_the_clock_start_no_earlier_than_1970(
    client: Client, make_user: MakeUser, clock: MovableClock
) -> None:
    """With the clock days after 1970-01-01 (the earliest instant taken), each read whose window
    reaches back from it (30 days of regional activity, the scan's day, the spread's weeks)
    starts then rather than refusing a "start" the client never sent."""
    headers = await make_user("analyst")
    product_id, ad_id = await setup_ad(client, headers)
    first = datetime(1970, 1, 1, 6, tzinfo=UTC)
    readings = [
        {
            "ad_id": ad_id,
            "region": region,
            "observed_at": (first + timedelta(hours=12 * step)).isoformat(),
            "views": int(1000 * 1.3**step),
        }
        for step in range(18)
        for region in ("DE", "US")
    ]
    stored = await client.post("/engagement", json=readings, headers=headers)
    assert stored.json()["stored"] == len(readings), stored.text
    clock.current = datetime(1970, 1, 10, 12, tzinfo=UTC)
    for path, query in (
        ("/trending", {"region": "DE"}),
        ("/trending", {"region": "DE", "ranking": "regional"}),
        ("/trending", {"region": "Europe", "ranking": "regional"}),
        ("/scan-ads", {}),
        (f"/products/{product_id}/spread", {}),
        (f"/trends/{product_id}", {}),
        ("/heat-map", {}),
        ("/", {"region": "DE"}),
    ):
        answer = await client.get(path, params=query, headers={"Accept": "text/html"} if path == "/" else {})
        assert answer.status_code == 200, (path, query, answer.text[:300])
