"""Products that share a name, told apart wherever the dashboard names them: ``Name (#id)``, as
the heat map labels them, when another product the page names has the same name."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from httpx import Response

from marketscout.domain.model import (
    Ad,
    Alert,
    AlertRuleKind,
    EngagementSnapshot,
    Platform,
    Product,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    User,
)
from tests.integration.api.support import NOW
from tests.integration.web.support import HTML, Client, csrf
from tests.integration.web.test_dashboard_forms import client, signed_up

__all__ = ["client"]  # the fixture, shared with the forms' tests

TWIN = "Mini Waffle Maker"


async def _market(client: Client) -> tuple[int, int, int]:
    """Two scored products named TWIN and one "Desk Lamp", each with a TikTok ad whose views
    double every 6 hours for two days (viral); by id: the twins, then the lamp."""
    uow = client.app.state.container.unit_of_work()
    ids = []
    async with uow:
        for name, score in ((TWIN, 80.0), (TWIN, 70.0), ("Desk Lamp", 60.0)):
            product = await uow.products.add(
                Product(name=name, description="d", created_at=NOW - timedelta(days=9))
            )
            ids.append(product.id)
            assessment = TrendAssessment(score=score, status=TrendStatus.EXPLODING, confidence=0.5)
            await uow.scores.add(TrendScore(product_id=product.id, calculated_at=NOW, assessment=assessment))
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
                        region="US",
                        observed_at=NOW - timedelta(hours=6 * k),
                        views=1000 * 2 ** (8 - k),
                        likes=10,
                    )
                    for k in range(9)
                ]
            )
        await uow.commit()
    return ids[0], ids[1], ids[2]


async def _watched(client: Client, *product_ids: int) -> None:
    for product_id in product_ids:
        form = {"csrf_token": await csrf(client), "action": "add"}
        sent = await client.post(f"/ui/watchlist/{product_id}", data=form, follow_redirects=False)
        assert sent.status_code == 303


async def _exploding_rule(client: Client, product_id: int) -> Response:
    form = {
        "csrf_token": await csrf(client),
        "action": "add-rule",
        "kind": "status_exploding",
        "product_id": str(product_id),
    }
    return await client.post("/ui/alerts", data=form, headers=HTML, follow_redirects=False)


async def _alerted(client: Client, username: str, *product_ids: int) -> None:
    """An alert "💥 <name> is exploding" for each product, as a check of the rules would store it."""
    async with client.app.state.container.unit_of_work() as uow:
        user: User | None = await uow.users.get_by_username(username)
        assert user is not None
        for product_id in product_ids:
            product = await uow.products.get(product_id)
            assert product is not None
            stored = await uow.alerts.add_if_new(
                Alert(
                    user_id=user.id,
                    rule_id=1,
                    product_id=product_id,
                    kind=AlertRuleKind.STATUS_EXPLODING,
                    event_key=f"test:{product_id}",
                    message=f"💥 {product.name} is exploding",
                    created_at=NOW,
                )
            )
            assert stored is not None
        await uow.commit()


async def test_the_watchlist_page_tells_namesakes_apart_by_their_numbers(client: Client) -> None:
    first, second, lamp = await _market(client)
    await signed_up(client, "twins")
    await _watched(client, first, second, lamp)
    for product_id in (first, second):
        assert (await _exploding_rule(client, product_id)).status_code == 303
    await _alerted(client, "twins", first, second)
    page = html.unescape((await client.get("/ui/watchlist", headers=HTML)).text)

    select = re.search(r'<select id="product_id" name="product_id"[^>]*>(.*?)</select>', page, re.S)
    assert select
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select.group(1))
    assert options == [
        (str(first), f"{TWIN} (#{first})"),
        (str(second), f"{TWIN} (#{second})"),
        (str(lamp), "Desk Lamp"),
    ], "a name no other product on the page has stays bare"

    for product_id in (first, second):
        said = f"Status becomes exploding · product “{TWIN} (#{product_id})”"
        assert re.search(rf'<li id="rule-\d+">{re.escape(said)}\s', page), said
        assert f'aria-label="Edit rule: {said}"' in page
        assert f'aria-label="Delete rule: {said}"' in page
        # the watchlist's rows and their Remove buttons
        assert f'<a href="/ui/products/{product_id}">{TWIN} (#{product_id})</a></td>' in page
        assert f'aria-label="Remove {TWIN} (#{product_id}) from the watchlist"' in page
        # the alerts: their stored text as it was, and the product's number beside it
        alert = re.search(
            rf'<a href="/ui/products/{product_id}">💥 {TWIN} is exploding</a> <small>\(product #{product_id}\)</small>',
            page,
        )
        assert alert, f"alert of #{product_id}"
        assert f'aria-label="Mark read: 💥 {TWIN} is exploding (product #{product_id})"' in page
    assert f'<a href="/ui/products/{lamp}">Desk Lamp</a></td>' in page


async def test_a_deleted_rule_is_named_as_the_list_named_it(client: Client) -> None:
    first, second, _ = await _market(client)
    await signed_up(client, "twins")
    await _watched(client, first, second)
    assert (await _exploding_rule(client, second)).status_code == 303
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    rule_id = re.findall(r"\?edit=(\d+)#", page)[0]
    again = await _exploding_rule(client, second)
    assert again.status_code == 409
    assert f"product “{TWIN} (#{second})”" in html.unescape(again.text), "the same rule, named"
    gone = {"csrf_token": await csrf(client), "action": "delete-rule", "rule_id": rule_id}
    assert (await client.post("/ui/alerts", data=gone, follow_redirects=False)).status_code == 303
    after = html.unescape((await client.get("/ui/watchlist", headers=HTML)).text)
    assert f"Deleted the rule “Status becomes exploding · product “{TWIN} (#{second})””." in after


async def test_the_trending_and_viral_lists_tell_namesakes_apart(client: Client) -> None:
    first, second, lamp = await _market(client)
    trending = html.unescape((await client.get("/", headers=HTML)).text)
    listed = re.findall(r'<a href="/ui/products/(\d+)">([^<]*)</a>', trending)
    assert listed == [
        (str(first), f"{TWIN} (#{first})"),
        (str(second), f"{TWIN} (#{second})"),
        (str(lamp), "Desk Lamp"),
    ]
    assert f'aria-label="Score history of {TWIN} (#{second})"' in trending
    viral = html.unescape((await client.get("/ui/viral", headers=HTML)).text)
    named = set(re.findall(r'data-label="Product"><a href="/ui/products/(\d+)">([^<]*)</a>', viral))
    assert named == {
        (str(first), f"{TWIN} (#{first})"),
        (str(second), f"{TWIN} (#{second})"),
        (str(lamp), "Desk Lamp"),
    }
