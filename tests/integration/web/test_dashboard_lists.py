"""What the Trending and Viral ads lists tell a seller: what the region filter does, which
products users added, and the lists as CSV downloads."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from marketscout.domain.model import (
    Ad,
    EngagementSnapshot,
    Platform,
    Product,
    TrendAssessment,
    TrendScore,
    TrendStatus,
)
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


USER_DATA = re.compile(r'<span class="badge user-data" title="([^"]+)">user data</span>')


async def test_products_users_added_are_labelled_user_data_on_trending_viral_ads_and_their_page(
    client: Client,
) -> None:
    """A product made by an account (the Data page's form, POST /products) carries a "user data"
    label, explained in its title; those MarketScout collected or the demo loaded do not."""
    await signed_up(client, "seller")
    uow = client.app.state.container.unit_of_work()
    async with uow:
        seller = await uow.users.get_by_username("seller")
    assert seller is not None
    ids = await _regional_market(client, added_by=seller.id)
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
