"""What the dashboard's pages give a user: pages reached by a form can be reloaded and revisited,
a product's name is not taken twice by mistake, error pages keep the navigation."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from marketscout.adapters.memory import InMemoryProductRepository
from marketscout.domain.model import (
    Ad,
    EngagementSnapshot,
    Platform,
    Product,
    TrendAssessment,
    TrendScore,
    TrendStatus,
)
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.web import pages
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container
from tests.integration.web.support import HTML, Client, csrf
from tests.integration.web.test_dashboard_forms import client, signed_up

__all__ = ["client"]  # the fixture, shared with the forms' tests

HEADER = "ad_id,observed_at,region,views,likes,comments,shares"
NAV = ('href="/ui/heat-map"', 'href="/ui/viral"', 'href="/ui/watchlist"', 'href="/ui/data"')


async def product_and_ad(client: Client, name: str) -> tuple[int, int]:
    form = {"csrf_token": await csrf(client), "action": "product", "name": name, "description": "d"}
    assert (await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)).status_code == 303
    product_id = max(p["id"] for p in (await client.get("/products")).json() if p["name"] == name)
    ad = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": f"#{product_id}",
        "platform": "TikTok",
        "ad_content": "look",
    }
    assert (await client.post("/ui/data", data=ad, headers=HTML, follow_redirects=False)).status_code == 303
    made = re.findall(r"Created TikTok ad #(\d+)", (await client.get("/ui/data", headers=HTML)).text)
    return product_id, int(made[0])


async def post_upload(client: Client, raw: bytes, name: str = "rows.csv") -> tuple[int, str | None]:
    response = await client.post(
        "/ui/data/upload",
        data={"csrf_token": await csrf(client)},
        files={"file": (name, raw, "text/csv")},
        headers=HTML,
        follow_redirects=False,
    )
    return response.status_code, response.headers.get("location")


async def test_an_upload_redirects_to_the_data_page_which_says_once_what_was_stored(client: Client) -> None:
    await signed_up(client)
    _, ad_id = await product_and_ad(client, "Upload Lamp")
    rows = [
        HEADER,
        f"{ad_id},2026-03-01T09:00:00Z,US,10,1,0,0",
        f"{ad_id},2026-03-01T10:00:00Z,US,20,1,0,0",
        f"{ad_id},2026-03-01T11:00:00Z,U,30,1,0,0",
    ]
    status, location = await post_upload(client, "\n".join(rows).encode())
    assert (status, location) == (303, "/ui/data")
    shown = html.unescape((await client.get("/ui/data", headers=HTML)).text)
    assert "3 rows: 2 stored, 0 duplicates, 1 rejected." in shown
    assert re.search(
        r'<td data-label="Line">4</td><td data-label="Problem">region must be a country code such as US',
        shown,
    )
    again = (await client.get("/ui/data", headers=HTML)).text
    assert "2 stored" not in again, "a reload shows the page, not the upload again"


async def test_an_upload_with_many_rejected_rows_lists_the_first_and_counts_the_rest(client: Client) -> None:
    await signed_up(client)
    rows = [HEADER] + [f"{900 + n},2026-03-01T09:00:00Z,US,abc,0,0,0" for n in range(40)]
    status, location = await post_upload(client, "\n".join(rows).encode())
    assert (status, location) == (303, "/ui/data")
    shown = html.unescape((await client.get("/ui/data", headers=HTML)).text)
    assert "40 rows: 0 stored, 0 duplicates, 40 rejected." in shown
    listed = re.findall(r'<td data-label="Line">(\d+)</td>', shown)
    assert listed and listed == [str(n) for n in range(2, 2 + len(listed))] and len(listed) < 40
    assert f"and {40 - len(listed)} more rejected rows" in shown


async def test_a_refused_upload_is_answered_on_the_page_without_a_redirect(client: Client) -> None:
    await signed_up(client)
    status, location = await post_upload(client, b"", "empty.csv")
    assert status == 422 and location is None


@pytest.mark.parametrize(
    ("path", "form_page"),
    [
        ("/ui/data/upload", "/ui/data"),
        ("/ui/alerts", "/ui/watchlist"),
        ("/ui/account/password", "/ui/account"),
        ("/ui/watchlist/7", "/ui/products/7"),
        ("/ui/logout", "/"),
    ],
)
async def test_opening_a_form_only_address_goes_to_its_form_page(
    client: Client, path: str, form_page: str
) -> None:
    await signed_up(client)
    response = await client.get(path, headers=HTML, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == form_page


async def test_the_api_still_answers_405_to_a_wrong_method(client: Client) -> None:
    response = await client.delete("/ui/data/upload", headers=HTML, follow_redirects=False)
    assert response.status_code == 405


async def test_a_product_named_like_an_existing_one_is_created_only_when_asked_again(client: Client) -> None:
    await signed_up(client)
    first, _ = await product_and_ad(client, "Twin Lamp")
    form = {"csrf_token": await csrf(client), "action": "product", "name": "twin lamp", "description": "d"}
    warned = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert warned.status_code == 200
    text = html.unescape(warned.text)
    assert "already" in text and f'<a href="/ui/products/{first}">' in text
    anyway = re.findall(
        r'<button type="submit" name="create_anyway" value="([^"]*)">Create anyway</button>', text
    )
    assert anyway == ["twin lamp"]
    renamed = {**form, "name": "Twin Lamp 2", "create_anyway": "twin lamp"}
    made = await client.post("/ui/data", data=renamed, headers=HTML, follow_redirects=False)
    assert made.status_code == 303, "another name needs no asking"
    assert 'value="twin lamp"' in text, "the typed name is kept"
    assert sorted(p["name"] for p in (await client.get("/products")).json()) == ["Twin Lamp", "Twin Lamp 2"]
    made = await client.post(
        "/ui/data", data={**form, "create_anyway": anyway[0]}, headers=HTML, follow_redirects=False
    )
    assert made.status_code == 303
    names = sorted(p["name"] for p in (await client.get("/products")).json())
    assert names == ["Twin Lamp", "Twin Lamp 2", "twin lamp"]


async def test_the_product_suggestions_run_newest_first(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store may give a batch of products in its own order (PostgreSQL's, by id): the page orders them."""
    by_id = InMemoryProductRepository.get_many

    async def in_store_order(self: InMemoryProductRepository, ids: Iterable[int]) -> dict[int, Product]:
        return dict(sorted((await by_id(self, ids)).items()))

    monkeypatch.setattr(InMemoryProductRepository, "get_many", in_store_order)
    await signed_up(client)
    for name in ("Oldest Mug", "Middle Mug", "Newest Mug"):
        form = {"csrf_token": await csrf(client), "action": "product", "name": name, "description": "d"}
        assert (await client.post("/ui/data", data=form, headers=HTML)).status_code == 200
    page = (await client.get("/ui/data", headers=HTML)).text
    assert "the list suggests the newest products" in page
    suggested = re.findall(r'<option value="([A-Za-z ]+) \(#\d+\)">', page)
    assert suggested == ["Newest Mug", "Middle Mug", "Oldest Mug"]


async def test_the_429_page_keeps_the_navigation() -> None:
    settings = api_settings(rate_limit_enabled=True, rate_limit_default="1/minute")
    async with AsyncTestClient(app=create_app(build_container(settings, MovableClock(NOW)))) as limited:
        assert (await limited.get("/ui/viral", headers=HTML)).status_code == 200
        refused = await limited.get("/ui/viral", headers=HTML)
        assert refused.status_code == 429
        for link in NAV:
            assert link in refused.text, link
        assert "Try again in" in refused.text


@pytest.mark.parametrize("path", ["/ui/no-such-page", "/ui/products/999999"])
async def test_a_not_found_page_keeps_the_navigation(client: Client, path: str) -> None:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 404
    for link in NAV:
        assert link in response.text, link


async def _scored_market(client: Client) -> None:
    """Twelve scored products: even ones "Home", odd ones "Garden"; the later, the faster growing
    over 24 hours and the lower scored."""
    uow = client.app.state.container.unit_of_work()
    async with uow:
        for n in range(12):
            product = await uow.products.add(
                Product(
                    name=f"Item {n:02}",
                    description="d",
                    category="Home" if n % 2 == 0 else "Garden",
                    created_at=NOW - timedelta(days=30 - n),
                )
            )
            assessment = TrendAssessment(
                score=90.0 - n, status=TrendStatus.STEADY, confidence=0.5, growth={"24h": n / 10, "7d": 1.0}
            )
            await uow.scores.add(TrendScore(product_id=product.id, calculated_at=NOW, assessment=assessment))
        await uow.commit()


def _listed(text: str) -> list[str]:
    return re.findall(r'<a href="/ui/products/\d+">(Item \d\d)</a>', text)


async def test_trending_sorts_and_filters_by_category_kept_in_the_form_and_the_page_links(
    client: Client,
) -> None:
    await _scored_market(client)
    page = await client.get("/?sort=growth_24h&category=Home", headers=HTML)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert _listed(text) == ["Item 10", "Item 08", "Item 06", "Item 04", "Item 02", "Item 00"]
    assert re.search(r'<option value="growth_24h" selected>', text)
    assert re.search(r'<option value="Home" selected>Home</option>', text)
    assert '<option value="Garden">Garden</option>' in text
    assert "<caption>Products by views gained in 24 h vs the 24 h before, fastest first" in text, (
        "the caption says the order"
    )
    assert 'fastest first ("from none" first, "n/a" last)' in text, (
        "and where each growth without a figure goes"
    )
    assert _listed((await client.get("/?sort=newest", headers=HTML)).text)[:2] == ["Item 11", "Item 10"]
    assert _listed((await client.get("/?sort=growth_7d", headers=HTML)).text)[:2] == ["Item 00", "Item 01"]
    assert _listed((await client.get("/", headers=HTML)).text)[:2] == ["Item 00", "Item 01"]
    first = html.unescape((await client.get("/?sort=newest&category=Garden&size=25", headers=HTML)).text)
    assert _listed(first) == ["Item 11", "Item 09", "Item 07", "Item 05", "Item 03", "Item 01"]
    paged = html.unescape((await client.get("/?sort=newest", headers=HTML)).text)
    nxt = re.findall(r'<a href="([^"]+)" rel="next">', paged)
    assert nxt and "sort=newest" in nxt[0] and "page=2" in nxt[0]
    assert _listed((await client.get(nxt[0], headers=HTML)).text) == ["Item 01", "Item 00"]


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("sort=loudest", "Sort “loudest” is not one of"),
        ("category=Toys", "Category “Toys” is not one of"),
    ],
)
async def test_an_unknown_sort_or_category_is_said_and_the_default_shown(
    client: Client, query: str, said: str
) -> None:
    await _scored_market(client)
    page = await client.get(f"/?{query}", headers=HTML)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert said in text
    assert _listed(text)[:2] == ["Item 00", "Item 01"], "by score, every category"


async def _viral_market(client: Client) -> list[int]:
    """Three TikTok ads of one product, each read every 6 hours for two days, the later the faster
    growing: the first in the US, with a link and a first-seen date, the others in Germany."""
    uow = client.app.state.container.unit_of_work()
    ids: list[int] = []
    async with uow:
        product = await uow.products.add(
            Product(name="Viral Mug", description="d", created_at=NOW - timedelta(days=9))
        )
        for n in range(3):
            ad = await uow.ads.add(
                Ad(
                    product_id=product.id,
                    platform=Platform.TIKTOK,
                    ad_content=f"clip {n}",
                    url="https://www.tiktok.com/@shop/video/7" if n == 0 else None,
                    first_seen_at=NOW - timedelta(days=3) if n == 0 else None,
                    created_at=NOW - timedelta(days=3),
                )
            )
            ids.append(ad.id)
            readings = [
                EngagementSnapshot(
                    ad_id=ad.id,
                    product_id=product.id,
                    platform=Platform.TIKTOK,
                    region="US" if n == 0 else "DE",
                    observed_at=NOW - timedelta(hours=6 * k),
                    views=1000 * (n + 1) * 2 ** (8 - k),
                    likes=100 + n - k,
                    comments=10 + n,
                    shares=5 + n,
                )
                for k in range(9)
            ]
            await uow.engagement.add_many(readings)
        await uow.commit()
    return ids


async def test_the_viral_page_shows_each_ads_link_age_and_interactions(client: Client) -> None:
    ids = await _viral_market(client)
    page = html.unescape((await client.get("/ui/viral", headers=HTML)).text)
    assert (
        '<a href="https://www.tiktok.com/@shop/video/7" rel="noopener noreferrer nofollow" target="_blank">'
        in page
    )
    seen = f"{NOW - timedelta(days=3):%Y-%m-%d %H:%M} UTC"
    assert re.search(
        rf'id="ad-{ids[0]}".*?data-label="First seen"><time datetime="[^"]+">{seen}</time>', page, re.S
    )
    assert re.search(
        rf'id="ad-{ids[0]}".*?data-label="Likes">100<.*?data-label="Comments">10<.*?data-label="Shares">5<',
        page,
        re.S,
    )
    assert "3 days" in page, "the ad's age"


async def test_the_viral_page_filters_by_region_and_pages(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _viral_market(client)
    everyone = html.unescape((await client.get("/ui/viral", headers=HTML)).text)
    shown = [int(i) for i in re.findall(r'id="ad-(\d+)"', everyone)]
    assert sorted(shown) == sorted(ids)
    us = html.unescape((await client.get("/ui/viral?region=US", headers=HTML)).text)
    assert [int(i) for i in re.findall(r'id="ad-(\d+)"', us)] == [ids[0]]
    europe = html.unescape((await client.get("/ui/viral?region=Europe", headers=HTML)).text)
    assert sorted(int(i) for i in re.findall(r'id="ad-(\d+)"', europe)) == sorted(ids[1:])
    unknown = html.unescape((await client.get("/ui/viral?region=Atlantis", headers=HTML)).text)
    assert "Region “Atlantis”" in unknown and len(re.findall(r'id="ad-(\d+)"', unknown)) == 3
    monkeypatch.setattr(pages, "VIRAL_PAGE", 2)
    first = html.unescape((await client.get("/ui/viral?platform=TikTok", headers=HTML)).text)
    nxt = re.findall(r'<a href="([^"]+)" rel="next">', first)
    assert re.findall(r'id="ad-(\d+)"', first) == [str(i) for i in shown[:2]]
    assert nxt and "page=2" in nxt[0]
    second = html.unescape((await client.get(nxt[0], headers=HTML)).text)
    assert re.findall(r'id="ad-(\d+)"', second) == [str(shown[2])]


async def test_a_refused_region_is_left_out_of_what_the_viral_page_says(client: Client) -> None:
    """A region it cannot read is said, and every region shown: the caption and the empty list's
    message do not speak of it as a filter, as the Trending list does not."""
    quiet = html.unescape((await client.get("/ui/viral?region=Atlantis", headers=HTML)).text)
    assert "Region “Atlantis”" in quiet
    assert "No ad is growing unusually fast right now." in quiet, "no filter was applied"
    await _viral_market(client)
    listed = html.unescape((await client.get("/ui/viral?region=Atlantis", headers=HTML)).text)
    caption = re.search(r"<caption>(.*?)</caption>", listed, re.S)
    assert caption and "Atlantis" not in caption.group(1), caption.group(1) if caption else listed
    assert 'id="region" name="region" value="Atlantis"' in listed, "what was typed stays in its field"
    us = html.unescape((await client.get("/ui/viral?region=us", headers=HTML)).text)
    assert "of those that gained views in US" in us


async def test_an_ad_without_a_first_seen_date_is_aged_from_its_first_reading_as_the_scan_ages_it(
    client: Client,
) -> None:
    """An ad made on the Data page has no first-seen date: the scan counts its age from its first
    reading, and so do the page's First seen and Age and the list's download."""
    uow = client.app.state.container.unit_of_work()
    async with uow:
        product = await uow.products.add(Product(name="Late Lamp", description="d", created_at=NOW))
        ad = await uow.ads.add(
            Ad(product_id=product.id, platform=Platform.TIKTOK, ad_content="clip", created_at=NOW)
        )
        await uow.engagement.add_many(
            [
                EngagementSnapshot(
                    ad_id=ad.id,
                    product_id=product.id,
                    platform=Platform.TIKTOK,
                    region="US",
                    observed_at=NOW - timedelta(hours=12 * k),
                    views=1000 * 2 ** (20 - k),
                    likes=10,
                )
                for k in range(21)
            ]
        )
        await uow.commit()
    page = html.unescape((await client.get("/ui/viral", headers=HTML)).text)
    seen = f"{NOW - timedelta(days=10):%Y-%m-%d %H:%M} UTC"
    row = re.search(rf'<tr id="ad-{ad.id}">(.*?)</tr>', page, re.S)
    assert row, page
    assert re.search(rf'data-label="First seen"><time datetime="[^"]+">{seen}</time>', row.group(1))
    assert 'data-label="Age">10 days<' in row.group(1)
    download = (await client.get("/ui/export/viral-ads")).text.splitlines()
    header, first = download[0].split(","), download[1].split(",")
    assert first[header.index("First Seen")] == (NOW - timedelta(days=10)).isoformat()


async def test_the_product_pages_ads_show_their_link_and_when_they_were_first_seen(client: Client) -> None:
    ids = await _viral_market(client)
    product_id = (await client.get("/products")).json()[0]["id"]
    page = html.unescape((await client.get(f"/ui/products/{product_id}", headers=HTML)).text)
    seen = f"{NOW - timedelta(days=3):%Y-%m-%d %H:%M} UTC"
    assert re.search(
        rf'<tr id="ad-{ids[0]}"><td data-label="Ad"><a href="https://www.tiktok.com/@shop/video/7" '
        rf'rel="noopener noreferrer nofollow" target="_blank">TikTok ad #{ids[0]}</a>.*?'
        rf'data-label="First seen"><time datetime="[^"]+">{seen}</time>',
        page,
        re.S,
    )


@pytest.mark.parametrize(
    ("existing", "warning"),
    [
        (
            1,
            "A product already has this name: Twin Lamp (#{0}). To add ads to it, open it, or name it "
            "in the ad form below. If yours is another product, create it anyway: both will be listed, "
            "told apart by their numbers.",
        ),
        (
            2,
            "2 products already have this name: Twin Lamp (#{0}), Twin Lamp (#{1}). To add ads to one "
            "of them, open it, or name it in the ad form below. If yours is another product, create it "
            "anyway: all 3 will be listed, told apart by their numbers.",
        ),
    ],
)
async def test_the_namesake_warning_counts_the_products_of_that_name(
    client: Client, existing: int, warning: str
) -> None:
    await signed_up(client)
    uow = client.app.state.container.unit_of_work()
    async with uow:
        made = [
            await uow.products.add(Product(name="Twin Lamp", description="d", created_at=NOW))
            for _ in range(existing)
        ]
        await uow.commit()
    form = {"csrf_token": await csrf(client), "action": "product", "name": "Twin Lamp", "description": "d"}
    warned = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert warned.status_code == 200
    found = re.search(r'<div class="report" role="alert">(.*?)</div>', warned.text, re.S)
    assert found, warned.text
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())
    assert said == warning.format(*(p.id for p in made))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("2026-02-20T09:30", "2026-02-20T09:30:00+00:00"),  # a browser's datetime-local: UTC
        ("2026-02-20T10:30:00+01:00", "2026-02-20T09:30:00+00:00"),
        ("", None),
    ],
)
async def test_the_ad_form_takes_an_optional_first_seen_date_in_utc(
    client: Client, typed: str, stored: str | None
) -> None:
    """When the platform first showed the ad: what the Viral ads list ages it from."""
    await signed_up(client)
    product_id, _ = await product_and_ad(client, "Dated Lamp")
    page = (await client.get("/ui/data", headers=HTML)).text
    assert re.search(r'<label for="first_seen_at">First seen \(optional, UTC\)</label>', page)
    assert re.search(r'<input id="first_seen_at" name="first_seen_at" type="datetime-local"', page)
    form = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": f"#{product_id}",
        "platform": "TikTok",
        "ad_content": "dated",
        "first_seen_at": typed,
    }
    made = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert made.status_code == 303, made.text
    ads = (await client.get(f"/ads?product_id={product_id}")).json()
    assert [a["first_seen_at"] for a in ads if a["ad_content"] == "dated"] == [
        stored and stored.replace("+00:00", "Z")
    ]


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("yesterday", "First seen must be a date and time, like 2026-11-30T21:00 (UTC)."),
        ("2026-03-03T12:00", "First seen must not be in the future."),
    ],
)
async def test_a_first_seen_date_the_form_cannot_take_is_said_at_its_field(
    client: Client, typed: str, said: str
) -> None:
    await signed_up(client)
    product_id, _ = await product_and_ad(client, "Dated Lamp")
    form = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": f"#{product_id}",
        "platform": "TikTok",
        "ad_content": "dated",
        "first_seen_at": typed,
    }
    refused = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 200
    assert said in html.unescape(refused.text)
    field = re.search(r'<input id="first_seen_at"[^>]*>', refused.text)
    assert field and 'aria-invalid="true"' in field.group(0) and f'value="{typed}"' in field.group(0)
