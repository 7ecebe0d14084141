"""What the Trending and Viral ads lists tell a seller: what the region filter does, which
products users added, and the lists as CSV downloads."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from marketscout.domain.model import (
    Ad,
    EngagementSnapshot,
    Platform,
    Product,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    User,
)
from marketscout.domain.usecases import trends
from marketscout.entrypoints.web import pages
from tests.integration.api.support import NOW
from tests.integration.web.support import HTML, Client
from tests.integration.web.test_dashboard_forms import client, signed_up

__all__ = ["client"]  # the fixture, shared with the forms' tests


async def _regional_market(client: Client, *, added_by: int | None = None) -> dict[str, int]:
    """Three scored products: "Global Lamp" (score 90) gaining views in the US, "Brazil Fan"
    (score 40, added by the account ``added_by`` when given) gaining views in Brazil, and
    "Quiet Mug" (score 60) gaining nothing. By product name, their ids."""
    uow = client.app.state.container.unit_of_work()
    ids: dict[str, int] = {}
    async with uow:
        for name, score, region in (
            ("Global Lamp", 90.0, "US"),
            ("Brazil Fan", 40.0, "BR"),
            ("Quiet Mug", 60.0, None),
        ):
            product = await uow.products.add(
                Product(
                    name=name,
                    description="d",
                    created_by=added_by if name == "Brazil Fan" else None,
                    created_at=NOW - timedelta(days=9),
                )
            )
            ids[name] = product.id
            assessment = TrendAssessment(score=score, status=TrendStatus.STEADY, confidence=0.5)
            await uow.scores.add(TrendScore(product_id=product.id, calculated_at=NOW, assessment=assessment))
            if region is None:
                continue
            ad = await uow.ads.add(
                Ad(
                    product_id=product.id,
                    platform=Platform.TIKTOK,
                    ad_content="clip",
                    created_at=NOW - timedelta(days=3),
                )
            )
            await uow.engagement.add_many(
                [
                    EngagementSnapshot(
                        ad_id=ad.id,
                        product_id=product.id,
                        platform=Platform.TIKTOK,
                        region=region,
                        observed_at=NOW - timedelta(hours=6 * k),
                        views=1000 * 2 ** (8 - k),
                        likes=10,
                    )
                    for k in range(9)
                ]
            )
        await uow.commit()
    return ids


async def _seller(client: Client) -> int:
    """The id of the account "seller", signed up (and in) through the dashboard's form."""
    await signed_up(client, "seller")
    uow = client.app.state.container.unit_of_work()
    async with uow:
        seller: User | None = await uow.users.get_by_username("seller")
    assert seller is not None
    return seller.id


def _listed(text: str) -> list[str]:
    return re.findall(r'<a href="/ui/products/\d+">([A-Za-z ]+)</a>', text)


async def test_the_region_filter_says_it_keeps_products_active_there_and_ranks_them_worldwide(
    client: Client,
) -> None:
    """MarketScout scores a product once, over every region: the filter keeps the products that
    gained engagement in the region, and the page says that the order and the score stay worldwide."""
    await _regional_market(client)
    everywhere = html.unescape((await client.get("/", headers=HTML)).text)
    assert _listed(everywhere) == ["Global Lamp", "Quiet Mug", "Brazil Fan"]
    assert 'aria-describedby="region-hint"' in everywhere, "the region field says what it does"
    hint = re.search(r'<p class="hint" id="region-hint">(.*?)</p>', everywhere, re.S)
    assert hint and "gained engagement there in the last 30 days" in hint.group(1)
    assert "worldwide" in hint.group(1)
    brazil = html.unescape((await client.get("/?region=br", headers=HTML)).text)
    assert _listed(brazil) == ["Brazil Fan"]
    caption = re.search(r"<caption>(.*?)</caption>", brazil, re.S)
    assert caption, brazil[:2000]
    assert "of those that gained engagement in BR in the last 30 days" in caption.group(1)
    assert "worldwide score" in caption.group(1)
    south_america = html.unescape((await client.get("/?region=south+america", headers=HTML)).text)
    assert _listed(south_america) == ["Brazil Fan"]
    assert "gained engagement in South America" in south_america


async def _slow_cap(client: Client) -> int:
    """The product "Slow Cap": a stored worldwide score of 95, its US readings nearly flat for eight days."""
    uow = client.app.state.container.unit_of_work()
    async with uow:
        product: Product = await uow.products.add(
            Product(name="Slow Cap", description="d", created_at=NOW - timedelta(days=9))
        )
        assessment = TrendAssessment(score=95.0, status=TrendStatus.STEADY, confidence=0.5)
        await uow.scores.add(TrendScore(product_id=product.id, calculated_at=NOW, assessment=assessment))
        ad = await uow.ads.add(
            Ad(
                product_id=product.id,
                platform=Platform.TIKTOK,
                ad_content="cap",
                created_at=NOW - timedelta(days=8),
            )
        )
        await uow.engagement.add_many(
            [
                EngagementSnapshot(
                    ad_id=ad.id,
                    product_id=product.id,
                    platform=Platform.TIKTOK,
                    region="US",
                    observed_at=NOW - timedelta(hours=12 * k),
                    views=500_000 + 100 * (16 - k),
                    likes=5000,
                )
                for k in range(17)
            ]
        )
        await uow.commit()
    return product.id


async def test_the_trending_list_ranks_by_the_score_in_the_region_when_asked(client: Client) -> None:
    """The list of a region can be ranked by the score each product earns from its readings in
    that region alone: a product whose worldwide score is high but whose views there are flat
    falls below one taking off there. The page says which score it shows, the links and the
    download keep the choice, and a choice without a region is said and left out."""
    await _regional_market(client)
    await _slow_cap(client)
    worldwide = html.unescape((await client.get("/?region=US", headers=HTML)).text)
    assert _listed(worldwide) == ["Slow Cap", "Global Lamp"]
    hint = re.search(r'<p class="hint" id="region-hint">(.*?)</p>', worldwide, re.S)
    assert hint and "in the region alone" in hint.group(1)

    regional = html.unescape((await client.get("/?region=us&rank=regional", headers=HTML)).text)
    assert _listed(regional) == ["Global Lamp", "Slow Cap"]
    assert re.search(r'<option value="regional"\s+selected>', regional), "the choice stays shown"
    caption = re.search(r"<caption>(.*?)</caption>", regional, re.S)
    assert caption and "scored on their readings in US alone" in caption.group(1)
    assert "worldwide score" not in caption.group(1)
    assert '<th scope="col">Score in US</th>' in regional
    scores = [
        float(x) for x in re.findall(r'<td class="num" data-label="Score in US">([\d.]+)</td>', regional)
    ]
    assert len(scores) == 2 and scores[0] > scores[1] and scores[1] < 95, scores
    assert _download_link(regional, "/ui/export/trending-list") == {"region": ["US"], "rank": ["regional"]}
    rows = _rows((await client.get("/ui/export/trending-list?region=US&rank=regional", headers=HTML)).text)
    assert [(row[2], row[5]) for row in rows[1:]] == [("Global Lamp", "US"), ("Slow Cap", "US")]
    assert float(rows[2][4]) == scores[1]

    alone = html.unescape((await client.get("/?rank=regional", headers=HTML)).text)
    assert _listed(alone) == ["Slow Cap", "Global Lamp", "Quiet Mug", "Brazil Fan"]
    assert "needs a region" in alone and 'role="alert"' in alone


USER_DATA = re.compile(r'<span class="badge user-data" title="([^"]+)">user data</span>')


async def test_products_users_added_are_labelled_user_data_on_trending_viral_ads_and_their_page(
    client: Client,
) -> None:
    """A product made by an account (the Data page's form, POST /products) carries a "user data"
    label, explained in its title; those MarketScout collected or the demo loaded do not."""
    ids = await _regional_market(client, added_by=await _seller(client))
    trending = html.unescape((await client.get("/", headers=HTML)).text)
    rows = {name: row for row in re.findall(r"<tr>.*?</tr>", trending, re.S) for name in _listed(row)}
    assert USER_DATA.search(rows["Brazil Fan"]), rows["Brazil Fan"]
    title = USER_DATA.search(rows["Brazil Fan"]).group(1)  # type: ignore[union-attr]
    assert "added by a MarketScout user" in title and "not collected by MarketScout" in title
    assert not USER_DATA.search(rows["Global Lamp"]) and not USER_DATA.search(rows["Quiet Mug"])
    viral = html.unescape((await client.get("/ui/viral", headers=HTML)).text)
    viral_rows = re.findall(r'<tr id="ad-\d+">.*?</tr>', viral, re.S)
    by_product = {name: row for row in viral_rows for name in _listed(row)}
    assert set(by_product) == {"Brazil Fan", "Global Lamp"}, viral_rows
    assert USER_DATA.search(by_product["Brazil Fan"]) and not USER_DATA.search(by_product["Global Lamp"])
    own = html.unescape((await client.get(f"/ui/products/{ids['Brazil Fan']}", headers=HTML)).text)
    assert USER_DATA.search(own)
    other = html.unescape((await client.get(f"/ui/products/{ids['Global Lamp']}", headers=HTML)).text)
    assert not USER_DATA.search(other)


TRENDING_HEADER = [
    "Rank",
    "Product ID",
    "Product Name",
    "Category",
    "Trend Score",
    "Scored In",
    "Status",
    "Confidence (%)",
    "Views Growth 24h (%)",
    "Views Growth 7d (%)",
    "Scored At",
    "Reason",
    "User Data",
]
VIRAL_HEADER = [
    "Rank",
    "Ad ID",
    "Platform",
    "Ad URL",
    "Advertiser",
    "Product ID",
    "Product Name",
    "Viral Score",
    "Views Gained 24h",
    "Likes",
    "Comments",
    "Shares",
    "First Seen",
    "Reason",
    "User Data",
]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _download_link(page: str, path: str) -> dict[str, list[str]]:
    """The query of the page's link to ``path``, which must be there once."""
    links = re.findall(rf'<a href="({re.escape(path)}[^"]*)"[^>]*>', html.unescape(page))
    assert len(links) == 1, links
    return parse_qs(urlsplit(links[0]).query)


async def test_the_trending_list_downloads_as_csv_with_the_pages_filters_and_order(client: Client) -> None:
    seller = await _seller(client)
    uow = client.app.state.container.unit_of_work()
    async with uow:
        sneaky = await uow.products.add(
            Product(name='=HYPERLINK("http://evil")', description="d", category="-Home", created_at=NOW)
        )
        growth = {"24h": -0.25, "7d": None}
        assessment = TrendAssessment(
            score=75.25, status=TrendStatus.EXPLODING, confidence=0.456, growth=growth, reasons=("+2 a day",)
        )
        await uow.scores.add(TrendScore(product_id=sneaky.id, calculated_at=NOW, assessment=assessment))
        await uow.commit()
    ids = await _regional_market(client, added_by=seller)
    page = (await client.get("/?region=BR&sort=newest", headers=HTML)).text
    assert _download_link(page, "/ui/export/trending-list") == {"region": ["BR"], "sort": ["newest"]}
    everything = await client.get("/ui/export/trending-list", headers=HTML)
    assert everything.status_code == 200, everything.text[:500]
    assert everything.headers["content-type"] == "text/csv; charset=utf-8"
    assert everything.headers["content-disposition"] == "attachment; filename=trending_list.csv"
    rows = _rows(everything.text)
    assert rows[0] == TRENDING_HEADER
    assert [row[2] for row in rows[1:]] == [
        "Global Lamp",
        '\'=HYPERLINK("http://evil")',
        "Quiet Mug",
        "Brazil Fan",
    ], "by score, every product, a formula-like cell quoted"
    assert rows[2] == [
        "2",
        str(sneaky.id),
        '\'=HYPERLINK("http://evil")',
        "'-Home",
        "75.2",
        "worldwide",
        "exploding",
        "46",
        "-25.0",
        "",
        NOW.isoformat(),
        "'+2 a day",
        "no",
    ], "numbers stay numbers, negative ones too"
    assert rows[4][0:3] == ["4", str(ids["Brazil Fan"]), "Brazil Fan"] and rows[4][-1] == "yes"
    brazil = _rows((await client.get("/ui/export/trending-list?region=BR&sort=newest", headers=HTML)).text)
    assert [row[2] for row in brazil[1:]] == ["Brazil Fan"]
    homes = _rows((await client.get("/ui/export/trending-list?category=-Home", headers=HTML)).text)
    assert [row[1] for row in homes[1:]] == [str(sneaky.id)]


async def test_the_trending_download_holds_every_page_up_to_its_cap(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _regional_market(client)
    monkeypatch.setattr(pages, "TRENDING_PAGE", 1)
    first_page = (await client.get("/", headers=HTML)).text
    assert _listed(first_page) == ["Global Lamp"]
    rows = _rows((await client.get("/ui/export/trending-list", headers=HTML)).text)
    assert [row[2] for row in rows[1:]] == ["Global Lamp", "Quiet Mug", "Brazil Fan"]
    monkeypatch.setattr(pages, "LIST_EXPORT_ROWS", 2)
    capped = _rows((await client.get("/ui/export/trending-list", headers=HTML)).text)
    assert [row[2] for row in capped[1:]] == ["Global Lamp", "Quiet Mug"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/ui/export/trending-list?region=Atlantis", "region"),
        ("/ui/export/trending-list?sort=loudest", "sort"),
        ("/ui/export/trending-list?status=booming", "status"),
        ("/ui/export/trending-list?category=Toys", "category"),
        ("/ui/export/trending-list?platform=MySpace", "platform"),
        ("/ui/export/trending-list?region=US&rank=local", "rank"),
        ("/ui/export/trending-list?rank=regional", "rank"),
        ("/ui/export/viral-ads?region=Atlantis", "region"),
        ("/ui/export/viral-ads?platform=MySpace", "platform"),
    ],
)
async def test_a_download_with_a_filter_it_cannot_read_is_refused_naming_the_filter(
    client: Client, path: str, field: str
) -> None:
    await _regional_market(client)
    refused = await client.get(path, headers={"Accept": "application/json"})
    assert refused.status_code == 422, refused.text[:300]
    assert [d["field"] for d in refused.json()["details"]] == [field]


async def test_the_viral_ads_download_as_csv_with_the_pages_region(client: Client) -> None:
    ids = await _regional_market(client, added_by=await _seller(client))
    page = (await client.get("/ui/viral?region=br&platform=TikTok", headers=HTML)).text
    assert _download_link(page, "/ui/export/viral-ads") == {"region": ["BR"], "platform": ["TikTok"]}
    everywhere = await client.get("/ui/export/viral-ads", headers=HTML)
    assert everywhere.status_code == 200, everywhere.text[:500]
    assert everywhere.headers["content-type"] == "text/csv; charset=utf-8"
    assert everywhere.headers["content-disposition"] == "attachment; filename=viral_ads.csv"
    rows = _rows(everywhere.text)
    assert rows[0] == VIRAL_HEADER
    assert sorted(row[6] for row in rows[1:]) == ["Brazil Fan", "Global Lamp"]
    brazil = _rows((await client.get("/ui/export/viral-ads?region=BR&platform=TikTok", headers=HTML)).text)
    assert len(brazil) == 2
    row = dict(zip(VIRAL_HEADER, brazil[1], strict=True))
    assert row["Product ID"] == str(ids["Brazil Fan"]) and row["Platform"] == "TikTok"
    assert row["Views Gained 24h"] == "240000" and row["Likes"] == "10" and row["Shares"] == "0"
    # an ad the platform did not date: its first reading, as the scan ages it (stored a day before)
    assert row["First Seen"] == (NOW - timedelta(days=2)).isoformat()
    assert row["User Data"] == "yes" and row["Rank"] == "1"


async def test_a_regions_own_scores_are_computed_once_for_its_pages_orders_and_download(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring a region's products is the costly part of its list (docs/performance.md): the read
    cache keeps the scores, so the list's other pages, orders and filters and its download read
    them, and a write (new readings) clears them."""
    await _regional_market(client)
    await _slow_cap(client)
    computed: list[str] = []
    real = trends.regional_scores

    async def counted(*args: Any, **kwargs: Any) -> trends.RegionalScores:
        computed.append(kwargs["area"])
        return await real(*args, **kwargs)

    monkeypatch.setattr(trends, "regional_scores", counted)
    first = html.unescape((await client.get("/?region=US&rank=regional", headers=HTML)).text)
    assert _listed(first) == ["Global Lamp", "Slow Cap"]
    for path in (
        "/?region=US&rank=regional&sort=newest",
        "/?region=us&rank=regional&q=cap",
        "/ui/export/trending-list?region=US&rank=regional",
    ):
        assert (await client.get(path, headers=HTML)).status_code == 200, path
    api = await client.get("/trending", params={"region": "US", "ranking": "regional"})
    assert [item["product"]["name"] for item in api.json()["trending_products"]] == [
        "Global Lamp",
        "Slow Cap",
    ]
    assert computed == ["US"], "once for the pages, orders, filters, download and the API"
    assert _listed(html.unescape((await client.get("/?region=GB&rank=regional", headers=HTML)).text)) == []
    assert computed == ["US", "GB"], "another region is scored on its own"
    await signed_up(client, "writer")  # a write in this process: the cache is cleared
    await client.get("/?region=US&rank=regional", headers=HTML)
    assert computed == ["US", "GB", "US"]
