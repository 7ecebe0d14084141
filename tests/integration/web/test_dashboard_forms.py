"""The dashboard's forms over HTTP (no browser): uploads, redirects, cookies, headers."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.errors import Busy
from marketscout.domain.model import Product, TrendAssessment, TrendScore, TrendStatus, User
from marketscout.domain.usecases import accounts, alerts, catalog
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.demo import load_demo
from marketscout.entrypoints.web import flash, pages
from tests.integration.api.support import NOW, SECRET, MovableClock, api_settings, build_container
from tests.integration.api.support import sign_up as api_sign_up
from tests.integration.web.support import HTML, Client, csrf
from tests.integration.web.support import signed_up as sign_up_by_form


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app(build_container(api_settings(), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


async def signed_up(client: Client, username: str = "web_user") -> Client:
    await sign_up_by_form(client, username)
    return client


async def upload(client: Client, name: str, raw: bytes) -> str:
    response = await client.post(
        "/ui/data/upload",
        data={"csrf_token": await csrf(client)},
        files={"file": (name, raw, "text/csv")},
        headers=HTML,
    )
    assert response.status_code < 500, response.text
    return response.text


HEADER = "ad_id,observed_at,region,views,likes,comments,shares"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
async def test_csv_lines_may_end_in_cr_lf_or_both(client: Client, ending: str) -> None:
    await signed_up(client)
    rows = [HEADER, "999,2026-03-01T10:00:00Z,US,5,0,0,0", "999,2026-03-01T11:00:00Z,US,9,0,0,0"]
    text = await upload(client, "mac.csv", (ending.join(rows) + ending).encode())
    assert "2 rows:" in text, "both rows are read (and rejected: ad 999 does not exist)"


async def test_a_binary_file_named_csv_gets_a_message_not_a_500(client: Client) -> None:
    await signed_up(client)
    text = await upload(client, "binary.csv", bytes(range(256)) * 4)
    assert 'class="error"' in text
    assert "file:" in text and "line" in text


@pytest.mark.parametrize("raw", [b"", HEADER.encode() + b"\n"])
async def test_a_file_without_rows_says_so(client: Client, raw: bytes) -> None:
    await signed_up(client)
    text = await upload(client, "empty.csv", raw)
    assert "the file has no rows" in text
    assert "0 stored" not in text


async def test_malformed_json_upload_gets_a_message(client: Client) -> None:
    await signed_up(client)
    text = await upload(client, "broken.json", b"[{")
    assert 'class="error"' in text and "JSON" in text


def login_redirect(response: object) -> dict[str, list[str]]:
    location = response.headers["location"]  # type: ignore[attr-defined]
    parts = urlsplit(location)
    assert parts.path == "/ui/login", location
    return parse_qs(parts.query)


async def test_a_form_sent_after_the_session_lapsed_returns_to_the_page_that_held_it(client: Client) -> None:
    token = await csrf(client)
    client.cookies.set("ms_session", "expired.or.forged")
    sent = await client.post(
        "/ui/alerts",
        data={"csrf_token": token, "action": "add-rule", "kind": "score_threshold", "threshold": "55"},
        headers={**HTML, "Referer": "http://127.0.0.1:8000/ui/watchlist?tab=rules"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert login_redirect(sent) == {"message": ["expired"], "next": ["/ui/watchlist?tab=rules"]}
    page = await client.get(sent.headers["location"], headers=HTML)
    assert "Your session has expired" in page.text
    assert 'name="next" value="/ui/watchlist?tab=rules"' in page.text


@pytest.mark.parametrize(
    ("path", "referer", "back"),
    [
        ("/ui/alerts", None, "/ui/watchlist"),
        ("/ui/alerts", "https://evil.example/ui/data", "/ui/watchlist"),
        ("/ui/watchlist/6", None, "/ui/products/6"),
        ("/ui/data", None, "/ui/data"),
        ("/ui/logout", None, "/"),
    ],
)
async def test_next_is_always_a_page_that_answers_get(
    client: Client, path: str, referer: str | None, back: str
) -> None:
    token = await csrf(client)
    client.cookies.set("ms_session", "expired.or.forged")
    headers = {**HTML, **({"Referer": referer} if referer else {})}
    sent = await client.post(path, data={"csrf_token": token}, headers=headers, follow_redirects=False)
    if path == "/ui/logout":
        assert sent.headers["location"] == "/ui/login"
        page = await client.get("/ui/login?next=/ui/logout", headers=HTML)
    else:
        assert login_redirect(sent)["next"] == [back]
        page = await client.get(f"/ui/login?next={path}", headers=HTML)
    assert f'name="next" value="{back}"' in page.text
    assert (await client.get(back, headers=HTML)).status_code != 405


async def test_private_pages_are_never_stored(client: Client) -> None:
    await signed_up(client)
    for path in ("/ui/watchlist", "/ui/data", "/ui/export/watchlist", "/"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store", path
    await client.post("/ui/logout", data={"csrf_token": await csrf(client)}, headers=HTML)
    assert "no-store" not in (await client.get("/", headers=HTML)).headers.get("cache-control", "")


async def test_adding_a_rule_redirects_so_a_reload_does_not_add_it_twice(client: Client) -> None:
    await signed_up(client)
    form = {
        "csrf_token": await csrf(client),
        "action": "add-rule",
        "kind": "status_exploding",
        "notify_webhook": "on",
        "webhook_url": "https://hooks.example.com/in",
    }
    sent = await client.post("/ui/alerts", data=form, headers=HTML, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/ui/watchlist#rules", "where the rule added is said"
    shown = await client.get("/ui/watchlist", headers=HTML)
    assert 'id="new-secret"' in shown.text and "whsec_" in shown.text, "the secret is shown once"
    reloaded = await client.get("/ui/watchlist", headers=HTML)
    assert 'id="new-secret"' not in reloaded.text
    assert reloaded.text.count("hooks.example.com/in") == 1, "one rule"


async def test_a_rule_is_edited_from_its_own_form(client: Client) -> None:
    await signed_up(client)
    form = {
        "csrf_token": await csrf(client),
        "action": "add-rule",
        "kind": "score_threshold",
        "threshold": "70",
    }
    assert (
        await client.post("/ui/alerts", data=form, headers=HTML, follow_redirects=False)
    ).status_code == 303
    listed = await client.get("/ui/watchlist", headers=HTML)
    found = re.search(r'href="/ui/watchlist\?edit=(\d+)#rule-form"', listed.text)
    assert found, "each rule has an Edit link"
    rule_id = found.group(1)
    editing = await client.get(f"/ui/watchlist?edit={rule_id}", headers=HTML)
    assert 'value="replace-rule"' in editing.text and f'name="rule_id" value="{rule_id}"' in editing.text
    assert 'value="70.0"' in editing.text, "the form holds the rule's values"
    assert "Save rule" in editing.text
    saved = await client.post(
        "/ui/alerts",
        data={**form, "action": "replace-rule", "rule_id": rule_id, "threshold": "85"},
        headers=HTML,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = await client.get("/ui/watchlist", headers=HTML)
    assert "Rule saved." in shown.text
    assert "threshold 85.0" in shown.text and "threshold 70.0" not in shown.text
    assert shown.text.count("?edit=") == 1, "still one rule"
    # An edit that breaks a rule shows the edit form again with the typed values.
    refused = await client.post(
        "/ui/alerts",
        data={**form, "action": "replace-rule", "rule_id": rule_id, "threshold": "500"},
        headers=HTML,
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert 'id="rule-error"' in refused.text and 'value="500"' in refused.text
    assert 'value="replace-rule"' in refused.text


async def test_a_refused_rule_shows_the_form_again_with_the_typed_values(client: Client) -> None:
    await signed_up(client)
    form = {
        "csrf_token": await csrf(client),
        "action": "add-rule",
        "kind": "score_rise",
        "threshold": "ten",
        "window_hours": "12",
        "notify_webhook": "on",
        "webhook_url": "https://hooks.example.com/typed",
    }
    sent = await client.post("/ui/alerts", data=form, headers=HTML, follow_redirects=False)
    assert sent.status_code == 422
    assert 'id="rule-error"' in sent.text
    assert '<option value="score_rise" selected>' in sent.text
    assert 'value="ten"' in sent.text and 'value="12"' in sent.text
    assert 'name="notify_webhook" checked' in sent.text
    assert 'value="https://hooks.example.com/typed"' in sent.text


_RISE = "“Score rises by a number of points”"
_HOOK = {"notify_webhook": "on", "webhook_url": "https://hooks.example.com/typed"}


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ({"kind": "score_rise", "window_hours": "24"}, f"Threshold is required for {_RISE} rules."),
        ({"kind": "score_rise", "threshold": "ten", "window_hours": "24"}, "Threshold must be a number."),
        ({"kind": "score_rise", "threshold": "5"}, f"Window in hours is required for {_RISE} rules."),
        (
            {"kind": "score_rise", "threshold": "5", "window_hours": "1.5"},
            "Window in hours must be a whole number.",
        ),
        (
            {"kind": "score_rise", "threshold": "5", "window_hours": "9999"},
            "Window in hours must be between 1 and 720.",
        ),
        (
            {"kind": "score_threshold", "threshold": "500"},
            "Threshold must be greater than 0 and at most 100.",
        ),
        (
            {"kind": "new_viral_ad", "notify_webhook": "on"},
            "Webhook URL is required when “to a webhook” is ticked.",
        ),
        (
            {"kind": "new_viral_ad", "webhook_url": "https://hooks.example.com/typed"},
            "Webhook URL applies only when “to a webhook” is ticked.",
        ),
        (
            {**_HOOK, "kind": "status_exploding", "webhook_url": "https://127.0.0.1/in"},
            "Webhook URL must name a public host (not this machine or a private network).",
        ),
        ({"kind": "score_sometimes", "threshold": "5"}, "Rule must be one of the listed kinds."),
    ],
)
async def test_a_refused_rule_names_the_field_as_the_form_labels_it(
    client: Client, typed: dict[str, str], said: str
) -> None:
    await signed_up(client)
    form = {"csrf_token": await csrf(client), "action": "add-rule", **typed}
    sent = await client.post("/ui/alerts", data=form, headers=HTML, follow_redirects=False)
    assert sent.status_code == 422
    error = re.findall(r'<p class="error" role="alert" id="rule-error">(.*?)</p>', sent.text, re.S)
    assert [html.unescape(e) for e in error] == [f"The rule was not added: {said}"]
    for internal in ("window_hours", "webhook_url", "threshold:", "channels", "score_", "_ad", "status_"):
        assert internal not in html.unescape(error[0])
    if typed["kind"] != "score_sometimes":
        assert f'<option value="{typed["kind"]}" selected>' in sent.text, "the chosen kind is kept"
    for name in ("threshold", "window_hours", "webhook_url"):
        if typed.get(name):
            assert f'value="{typed[name]}"' in sent.text, f"the typed {name} is kept"
    assert ('name="notify_webhook" checked' in sent.text) == ("notify_webhook" in typed)


async def test_a_rule_like_one_already_listed_is_refused_pointing_at_that_one(client: Client) -> None:
    """The refusal names the rule as the list says it, and the list marks it (an anchor the
    message links to): the list shows no ids."""
    await signed_up(client, "twice_ruled")
    form = {
        "csrf_token": await csrf(client),
        "action": "add-rule",
        "kind": "score_threshold",
        "threshold": "70",
    }
    assert (await client.post("/ui/alerts", data=form, follow_redirects=False)).status_code == 303
    other = {**form, "threshold": "80"}
    assert (await client.post("/ui/alerts", data=other, follow_redirects=False)).status_code == 303
    listed = (await client.get("/ui/watchlist", headers=HTML)).text
    first, second = (int(i) for i in re.findall(r"\?edit=(\d+)#", listed))

    def refusal(text: str) -> str:
        found = re.findall(r'<p class="error" role="alert" id="rule-error">(.*?)</p>', text, re.S)
        assert len(found) == 1, text
        return html.unescape(found[0])

    def marked(text: str) -> list[str]:
        return re.findall(r'<li id="rule-(\d+)" class="same-rule">', text)

    again = await client.post("/ui/alerts", data=form, headers=HTML, follow_redirects=False)
    assert again.status_code == 409
    said = refusal(again.text)
    assert said.startswith(
        "The rule was not added: you already have this rule: "
        "“Score reaches a level · threshold 70.0 · all watched products” (marked below); "
        "to change how its alerts are delivered, edit that one."
    ), said
    assert "(id " not in said
    assert f'<a href="#rule-{first}">' in said, "the message links to the rule"
    assert marked(again.text) == [str(first)]
    assert f'<li id="rule-{second}">' in again.text, "every listed rule can be pointed at"

    edited = await client.post(
        "/ui/alerts",
        data={**form, "action": "replace-rule", "rule_id": str(second)},
        headers=HTML,
        follow_redirects=False,
    )
    assert edited.status_code == 409
    said = refusal(edited.text)
    assert said.startswith(
        "The rule was not saved: it would be the same as your rule "
        "“Score reaches a level · threshold 70.0 · all watched products” (marked below)."
    ), said
    assert marked(edited.text) == [str(first)]


async def test_creating_a_product_or_ad_redirects_with_the_message(client: Client) -> None:
    await signed_up(client)
    form = {"csrf_token": await csrf(client), "action": "product", "name": "Reload Lamp", "description": "d"}
    sent = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/ui/data#product", "the note is in the form's section"
    shown = await client.get("/ui/data", headers=HTML)
    assert "Created product “Reload Lamp”" in shown.text
    assert "Created product" not in (await client.get("/ui/data", headers=HTML)).text
    product_id = (await client.get("/products")).json()
    assert [p["name"] for p in product_id] == ["Reload Lamp"]
    ad = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": str(product_id[0]["id"]),
        "platform": "TikTok",
        "ad_content": "look",
    }
    sent = await client.post("/ui/data", data=ad, headers=HTML, follow_redirects=False)
    assert (sent.status_code, sent.headers["location"]) == (303, "/ui/data#ad")
    assert "Created TikTok ad #" in (await client.get("/ui/data", headers=HTML)).text


async def test_the_heat_map_selects_the_product_it_draws(client: Client) -> None:
    await signed_up(client)
    for name in ("First Lamp", "Second Lamp"):
        form = {"csrf_token": await csrf(client), "action": "product", "name": name, "description": "d"}
        await client.post("/ui/data", data=form, headers=HTML)
    ids = [p["id"] for p in (await client.get("/products")).json()]
    chosen = ids[-1]
    page = (await client.get(f"/ui/heat-map?product_id={chosen}", headers=HTML)).text
    selected = re.findall(r'<option value="(\d+)" selected>', page)
    assert selected == [str(chosen)], "not among the trending products, yet selected"
    assert "No views gained in the last 30 days for <strong>Second Lamp</strong> in any country" in page


async def test_the_heat_map_finds_any_product_by_name(client: Client) -> None:
    await signed_up(client)
    await _scored_product(client, "Trending Lamp", [100, 200, 400])
    quiet = await _create_product(client, "Quiet Kettle")
    other = await _create_product(client, "Quiet Kettle Lid")
    start = (await client.get("/ui/heat-map", headers=HTML)).text
    assert "Interest in <strong>Trending Lamp</strong>" in start, "the top trending product first"
    assert re.search(r'<input[^>]* name="q"', start), "a search for any product by name"
    found = (await client.get("/ui/heat-map", params={"q": "kettle"}, headers=HTML)).text
    for product_id, name in ((quiet, "Quiet Kettle"), (other, "Quiet Kettle Lid")):
        assert f'href="/ui/heat-map?product_id={product_id}&amp;q=kettle">{name}</a>' in found
    assert "Trending Lamp</a>" not in found, "only the products whose name matches"
    assert "No views gained in the last 30 days for <strong>Quiet Kettle</strong> in any country" in found, (
        "the first match is shown"
    )
    assert 'class="map"' not in found
    picked = (await client.get(f"/ui/heat-map?product_id={other}&q=kettle", headers=HTML)).text
    assert (
        "No views gained in the last 30 days for <strong>Quiet Kettle Lid</strong> in any country" in picked
    )
    assert re.findall(r'<option value="(\d+)" selected>', picked) == [str(other)]
    assert 'value="kettle"' in picked, "the search stays"
    nothing = (await client.get("/ui/heat-map", params={"q": "nothing like it"}, headers=HTML)).text
    assert "No product’s name contains “nothing like it”" in nothing
    assert "Interest in <strong>Trending Lamp</strong>" not in nothing, "no other product's map"


async def test_a_heat_map_search_lists_five_matches_and_folds_the_rest_under_more(client: Client) -> None:
    await signed_up(client, "heat_many")
    ids = [await _create_product(client, f"Desk Lamp {n:02d}") for n in range(1, 13)]

    def linked(text: str) -> list[int]:
        return [int(i) for i in re.findall(r'href="/ui/heat-map\?product_id=(\d+)&amp;q=desk%20lamp"', text)]

    found = (await client.get("/ui/heat-map", params={"q": "desk lamp"}, headers=HTML)).text
    listed, folded = found.split("<details", 1)
    assert linked(listed) == ids[:5], "the first five matches are listed"
    assert linked(folded) == ids[5:], "the other seven are one click away, without JavaScript"
    assert re.search(r"<details>\s*<summary>7 more matches</summary>", found), "folded, saying how many"
    picked = (await client.get(f"/ui/heat-map?product_id={ids[9]}&q=desk%20lamp", headers=HTML)).text
    assert re.search(r"<details open>\s*<summary>7 more matches</summary>", picked), "the map's product shows"
    assert (
        f'aria-current="page" href="/ui/heat-map?product_id={ids[9]}&amp;' in picked.split("<details", 1)[1]
    )


@pytest.mark.parametrize("asked", ["99999", "0", str(2**63)])
async def test_the_heat_map_of_an_unknown_product_is_not_another_products(client: Client, asked: str) -> None:
    await signed_up(client, "heat_unknown")
    await _scored_product(client, "Known Lamp", [100, 200, 400])
    answer = await client.get(f"/ui/heat-map?product_id={asked}", headers=HTML)
    assert answer.status_code == 404
    assert "Known Lamp" not in answer.text


async def _readings(client: Client, name: str, readings: list[tuple[float, str, int]]) -> int:
    """A product with one TikTok ad and its ``(days ago, region, views)`` readings."""
    product_id = await _create_product(client, name)
    ad_id = await _ad(client, product_id, "TikTok", "look")
    rows = [HEADER] + [
        f"{ad_id},{(NOW - timedelta(days=days)).isoformat()},{region},{views},0,0,0"
        for days, region, views in readings
    ]
    assert f"{len(readings)} stored" in await upload(client, "views.csv", "\n".join(rows).encode())
    return product_id


def _plain(page: str) -> str:
    """A page's text, tags dropped and blanks folded: what a reader sees."""
    inline = re.sub(r"</?(a|strong|time)\b[^>]*>", "", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


async def test_the_heat_map_says_its_window_and_offers_the_others(client: Client) -> None:
    await signed_up(client, "heat_window")
    # Views gained 12 to 10 days ago, none since: in the last 30 days, not in the last 7.
    product_id = await _readings(client, "Window Lamp", [(12, "US", 100), (11, "US", 400), (10, "US", 900)])
    shown = (await client.get(f"/ui/heat-map?product_id={product_id}", headers=HTML)).text
    said = _plain(shown)
    assert "Views gained in the last 30 days (2026-01-31 12:00 UTC to 2026-03-02 12:00 UTC)" in said
    for days in (7, 30, 90):
        link = f'href="/ui/heat-map?product_id={product_id}&amp;days={days}"'
        assert link in shown, days
    assert re.search(r'<a aria-current="page" href="[^"]*days=30">', shown), "the window shown is marked"
    assert 'class="map"' in shown
    week = (await client.get(f"/ui/heat-map?product_id={product_id}&days=7", headers=HTML)).text
    assert "No views gained in the last 7 days for Window Lamp in any country" in _plain(week)
    assert 'class="map"' not in week and '<td class="num">' not in week, "no empty map or table"
    assert re.search(r'<a aria-current="page" href="[^"]*days=7">', week)
    assert 'name="days" value="7"' in week, "choosing another product keeps the window"
    season = _plain((await client.get(f"/ui/heat-map?product_id={product_id}&days=90", headers=HTML)).text)
    assert "Views gained in the last 90 days (2025-12-02 12:00 UTC to 2026-03-02 12:00 UTC)" in season
    for asked in ("5", "abc", "", "007"):
        odd = await client.get(f"/ui/heat-map?product_id={product_id}&days={asked}", headers=HTML)
        assert odd.status_code == 200, asked
        problems = re.findall(r'<p class="error" role="alert">(.*?)</p>', html.unescape(odd.text), re.S)
        assert problems == [f"Days “{asked}” is not one of 7, 30, 90; showing the last 30 days."], asked
        assert "Views gained in the last 30 days" in _plain(odd.text)


async def test_the_heat_map_window_starts_no_earlier_than_1970(client: Client) -> None:
    """A clock a few days after 1970-01-01 (the earliest instant the product takes): the window
    back from it starts then, rather than the page (or the product's page, which maps its last 30
    days) failing on a time before it."""
    await signed_up(client, "heat_epoch")
    product_id = await _create_product(client, "Epoch Lamp")
    clock = client.app.state.container.clock()
    assert isinstance(clock, MovableClock)
    clock.current = datetime(1970, 1, 10, 12, tzinfo=UTC)
    for days in (7, 30, 90):
        answer = await client.get(f"/ui/heat-map?product_id={product_id}&days={days}", headers=HTML)
        assert answer.status_code == 200, (days, answer.text[:300])
        said = _plain(answer.text)
        start = "1970-01-03 12:00" if days == 7 else "1970-01-01 00:00"
        assert f"Views gained in the last {days} days ({start} UTC to 1970-01-10 12:00 UTC)" in said, days
    product_page = await client.get(f"/ui/products/{product_id}", headers=HTML)
    assert product_page.status_code == 200, product_page.text[:300]


async def test_the_heat_map_says_how_regions_without_a_continent_and_global_readings_count(
    client: Client,
) -> None:
    await signed_up(client, "heat_polar")
    polar = await _readings(client, "Polar Lamp", [(3, "AQ", 100), (1, "AQ", 900)])
    page = (await client.get(f"/ui/heat-map?product_id={polar}", headers=HTML)).text
    said = _plain(page)
    assert "No views gained" not in said, "its views are on the map, by country"
    assert re.search(r'<th scope="row">AQ</th><td class="num">100.0</td>', page)
    assert (
        "Antarctica (AQ), Bouvet Island (BV) and French Southern Territories (TF) belong to no "
        "continent: their views count in the table by country only." in said
    )
    worldwide = await _readings(client, "Worldwide Lamp", [(3, "GLOBAL", 100), (1, "GLOBAL", 900)])
    said = _plain((await client.get(f"/ui/heat-map?product_id={worldwide}", headers=HTML)).text)
    assert "No views gained in the last 30 days for Worldwide Lamp in any country" in said
    assert (
        "Readings sent as GLOBAL (without a country, such as YouTube's worldwide counts) are on "
        "neither map nor table, and are left out of every region's total; they still count in the "
        "product's score." in said
    )


async def test_product_charts_have_axes_labels_and_a_description(client: Client) -> None:
    await signed_up(client)
    product_id = await _scored_product(client, "Chart Lamp", [100, 200, 400, 800])
    page = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    assert f'href="/ui/heat-map?product_id={product_id}"' in page
    for chart in ("views-chart", "score-chart"):
        assert f'aria-labelledby="{chart}-title"' in page
        assert f'<title id="{chart}-title">' in page
    assert '<span class="y-max">100</span>' in page, "scores: 0 to 100"
    assert "Views gained per day, Feb 10 to Mar 02" in page


async def test_the_api_docs_load_nothing_from_another_host(client: Client) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/static/favicon.svg" in docs.text
    assert not re.findall(r"""(?:href|src)=['"]?(?:https?:)?//""", docs.text), "no CDN"


async def test_a_refused_product_or_ad_keeps_what_was_typed(client: Client) -> None:
    await signed_up(client)
    form = {"csrf_token": await csrf(client), "action": "product", "name": "Typed Lamp", "description": ""}
    refused = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 200 and 'class="error"' in refused.text
    assert 'value="Typed Lamp"' in refused.text
    ad = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": "#999",
        "platform": "YouTube",
        "ad_content": "typed words",
        "external_id": "yt-typed",
    }
    refused = await client.post("/ui/data", data=ad, headers=HTML, follow_redirects=False)
    assert refused.status_code == 200 and 'class="error"' in refused.text
    assert "<option selected>YouTube</option>" in refused.text
    assert ">typed words</textarea>" in refused.text and 'value="yt-typed"' in refused.text


def _control(page: str, control_id: str) -> str:
    """The opening tag of the form control with this id."""
    found = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{control_id}"[^>]*>', page)
    assert found, control_id
    return found.group(0)


@pytest.mark.parametrize(
    ("typed", "control"),
    [
        ({"action": "product", "name": "   ", "description": "d"}, "name"),
        ({"action": "product", "name": "Bidi\u202eLamp", "description": "d"}, "name"),
        (
            {"action": "ad", "product": "No such product", "platform": "TikTok", "ad_content": "c"},
            "ad-product",
        ),
        (
            {
                "action": "ad",
                "product": "Focus Lamp",
                "platform": "TikTok",
                "ad_content": "c",
                "external_id": "tt-1",
            },
            "external_id",
        ),
    ],
)
async def test_a_refused_product_or_ad_marks_and_focuses_the_field_it_names(
    client: Client, typed: dict[str, str], control: str
) -> None:
    """As the rule form: the field named is aria-invalid, described by the message (in the form)
    and autofocused; the forms post without a fragment, which would keep autofocus from working."""
    await signed_up(client, "data_focus")
    product_id = await _create_product(client, "Focus Lamp")
    await client.get("/ui/data", headers=HTML)  # the note of the product made, read
    made = {"csrf_token": await csrf(client), "action": "ad", "product": f"#{product_id}"}
    made |= {"platform": "TikTok", "ad_content": "c", "external_id": "tt-1"}
    assert (await client.post("/ui/data", data=made, headers=HTML, follow_redirects=False)).status_code == 303
    await client.get("/ui/data", headers=HTML)
    form = {"csrf_token": await csrf(client)} | typed
    refused = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    marked = _control(refused.text, control)
    assert 'aria-invalid="true"' in marked and " autofocus" in marked, marked
    described = re.search(r'aria-describedby="([^"]*)"', marked)
    assert described, marked
    section = "product" if typed["action"] == "product" else "ad"
    form_html = re.search(
        rf'<form method="post" action="/ui/data"[^>]*>(?:(?!</form>).)*?name="action" value="{section}".*?</form>',
        refused.text,
        re.S,
    )
    assert form_html, f"the {section} form posts to /ui/data, without a fragment"
    assert f'id="{described.group(1).split()[-1]}"' in form_html.group(0), "the message is in the form"
    others = [m for m in re.findall(r"<(?:input|select|textarea)[^>]*>", refused.text) if "autofocus" in m]
    assert others == [marked], "one field is focused"


@pytest.mark.parametrize(
    ("platform", "said"),
    [
        ("MySpace", "Platform “MySpace” is not one we know: TikTok, Facebook, Instagram, YouTube, Twitter."),
        ("", "Platform is missing: choose one of TikTok, Facebook, Instagram, YouTube, Twitter."),
    ],
)
async def test_an_ad_of_an_unknown_platform_is_refused_naming_the_platforms(
    client: Client, platform: str, said: str
) -> None:
    await signed_up(client, "ad_platform")
    product_id = await _create_product(client, "Platform Lamp")
    ad = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": f"#{product_id}",
        "platform": platform,
        "ad_content": "typed words",
    }
    refused = await client.post("/ui/data", data=ad, headers=HTML, follow_redirects=False)
    assert refused.status_code == 200
    errors = [html.unescape(e) for e in re.findall(r'class="error"[^>]*>([^<]*)<', refused.text)]
    assert errors == [said]
    assert ">typed words</textarea>" in refused.text, "what was typed is kept"


async def _create_product(client: Client, name: str) -> int:
    form = {"csrf_token": await csrf(client), "action": "product", "name": name, "description": "d"}
    sent = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    found = [p["id"] for p in (await client.get("/products")).json() if p["name"] == name]
    assert len(found) == 1
    return int(found[0])


async def test_a_new_product_is_linked_from_the_message_and_found_by_a_search(client: Client) -> None:
    await signed_up(client)
    product_id = await _create_product(client, "Café 🚀 Ünïcödé")
    shown = (await client.get("/ui/data", headers=HTML)).text
    assert f'<a href="/ui/products/{product_id}">' in shown, "the success message links to the product"
    for needle in ("Caf", "caf", "ÜNÏ"):
        found = (await client.get("/", params={"q": needle}, headers=HTML)).text
        assert "No scored product matches" not in found
        assert "Not scored yet:" in found
        assert f'href="/ui/products/{product_id}">Café 🚀 Ünïcödé</a>' in found
    other = (await client.get("/", params={"q": "nothing like it"}, headers=HTML)).text
    assert "No scored product matches" in other and "Not scored yet" not in other


async def test_an_empty_trending_list_says_what_to_do_next(client: Client) -> None:
    fresh = (await client.get("/", headers=HTML)).text
    assert 'No product is scored yet: upload engagement data on the <a href="/ui/data">Data page</a>' in fresh
    assert "filters" not in fresh.split("<main", 1)[1].split("</form>", 1)[1], "no filter to clear"
    await signed_up(client, "empty_trending")
    await _scored_product(client, "Listed Lamp", [100, 200, 400])
    for query in ("q=nothing+like+it", "status=declining", "region=JP"):
        filtered = (await client.get(f"/?{query}", headers=HTML)).text
        assert 'No scored product matches these filters. <a href="/">Clear the filters</a>' in filtered, query


async def test_a_product_without_ads_says_where_to_add_one(client: Client) -> None:
    await signed_up(client, "no_ads")
    product_id = await _create_product(client, "Adless Lamp")
    page = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    ads = page.split('id="ads-h"', 1)[1]
    assert f'No ads yet: create one on the <a href="/ui/data?product={product_id}#ad">Data page</a>' in ads
    assert "<table" not in ads, "no empty table under the heading"


async def _ad(client: Client, product_id: int, platform: str, content: str) -> str:
    """An ad of the product, created through the data page; its id."""
    ad = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": f"#{product_id}",
        "platform": platform,
        "ad_content": content,
    }
    assert (await client.post("/ui/data", data=ad, headers=HTML, follow_redirects=False)).status_code == 303
    found: str = re.findall(
        rf"Created {platform} ad #(\d+)", (await client.get("/ui/data", headers=HTML)).text
    )[0]
    return found


async def _scored_product(client: Client, name: str, views: list[int], *, liked: bool = False) -> int:
    """A product with one TikTok ad and a reading a day (oldest first) ending at NOW; no likes,
    comments or shares (never exploding, then), or, ``liked``, a like for every 10 views."""
    product_id = await _create_product(client, name)
    ad_id = await _ad(client, product_id, "TikTok", "look")
    rows = [HEADER] + [
        f"{ad_id},{(NOW - timedelta(days=len(views) - 1 - day)).isoformat()},US,{count},"
        f"{count // 10 if liked else 0},0,0"
        for day, count in enumerate(views)
    ]
    assert f"{len(views)} stored" in await upload(client, "views.csv", "\n".join(rows).encode())
    return product_id


async def test_growth_columns_say_what_they_measure_and_the_product_page_reads_the_same(
    client: Client,
) -> None:
    await signed_up(client)
    product_id = await _scored_product(client, "Growth Lamp", [1000, 2000, 3000, 30000, 4000_000])
    listed = (await client.get("/", headers=HTML)).text
    assert ">24 h</th>" not in listed
    assert (
        'title="Views gained in the last 24 h, as a change on the views gained in the 24 h before' in listed
    )
    assert ">Views gained in 24 h vs the 24 h before</th>" in listed
    assert "over +999%" in listed
    product = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    assert ">Views gained in 24 h vs the 24 h before</dt><dd>over +999%</dd>" in product, (
        "capped as in the list"
    )
    # The list says how much data each score rests on, as the product page does.
    listed_confidence = re.findall(r'data-label="Confidence">(\d+)%</td>', listed)
    assert listed_confidence == re.findall(r"confidence (\d+)%", product)
    assert "<dt>views gained in 24 h</dt><dd>3,970,000</dd>" in product
    assert "e+" not in product


async def test_the_two_24_hour_figures_say_which_views_they_compare(client: Client) -> None:
    """The demo's top product showed "Daily gains vs day before +148%" beside "total views
    +157.3% in the last 24 h": two 24-hour growths, nothing saying that one compares the day's
    gain with the day before's and the other all views so far with those a day ago."""
    await signed_up(client)
    product_id = await _scored_product(client, "Two Figures Lamp", [1_000, 1_100, 1_300, 1_800, 3_000])
    listed = (await client.get("/", headers=HTML)).text
    assert "total views +66.6% in the last 24 h" in listed
    assert ">Views gained in 24 h vs the 24 h before</th>" in listed
    title = re.findall(
        r'<th scope="col" title="([^"]*)">Views gained in 24 h vs the 24 h before</th>', listed
    )[0]
    assert "not the rise of the total views" in html.unescape(title)
    product = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    assert "<dd>+140%</dd>" in product, "1,200 views against 500"
    assert "<dt>rise of total views in 24 h</dt><dd>+66.6%</dd>" in product
    note = re.findall(r'<p class="note" id="growth-note">([^<]*)</p>', product)
    assert note and "all views so far" in note[0] and "the day before" in note[0]


async def test_a_window_before_that_gained_nothing_reads_from_none_not_n_a(client: Client) -> None:
    """The demo's three fastest risers, flat at their first counts for two weeks and then
    gaining tens of thousands a day, showed weekly growth "n/a", as a product tracked for three
    days does, while products that gained a handful of views the week before showed "over
    +999%". A window before that was read and gained nothing is "from none"; n/a stays for a
    window the readings do not reach back to."""
    await signed_up(client)
    riser = await _scored_product(client, "Riser Lamp", [5_000] * 14 + [5_000 + 300 * d for d in range(1, 8)])
    young = await _scored_product(client, "Young Lamp", [1_000, 2_000, 3_000, 4_000])
    listed = (await client.get("/", headers=HTML)).text
    cells = dict(
        re.findall(
            r'>(Riser Lamp|Young Lamp)</a>.*?data-label="Views gained in 7 days vs the 7 before">([^<]*)</td>',
            listed,
            re.S,
        )
    )
    assert cells == {"Riser Lamp": "from none", "Young Lamp": "n/a"}
    riser_page = (await client.get(f"/ui/products/{riser}", headers=HTML)).text
    assert ">Views gained in 7 days vs the 7 before</dt><dd>from none</dd>" in riser_page
    young_page = (await client.get(f"/ui/products/{young}", headers=HTML)).text
    assert ">Views gained in 7 days vs the 7 before</dt><dd>n/a</dd>" in young_page
    title = re.findall(r'<dt title="([^"]*)">Views gained in 7 days vs the 7 before</dt>', young_page)[0]
    assert "from none: the 7 days before were read and gained nothing" in html.unescape(title)


async def test_an_ad_without_a_reading_in_what_scoring_reads_shows_no_views_not_zero(client: Client) -> None:
    """The product page's views per ad come from each ad's last reading in the 61 days the engine
    reads (what `readings prune` always keeps): an ad read only before that shows a dash, never
    a count of 0, and the page reads no older readings."""
    await signed_up(client)
    product_id = await _scored_product(client, "Two Ads Lamp", [1_000, 2_000, 4_000])
    old_ad = await _ad(client, product_id, "YouTube", "old one")
    rows = [HEADER] + [
        f"{old_ad},{(NOW - timedelta(days=days)).isoformat()},US,{views},0,0,0"
        for days, views in ((70, 500), (65, 900))
    ]
    assert "2 stored" in await upload(client, "old.csv", "\n".join(rows).encode())
    product = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    cells = re.findall(r'<td class="num" data-label="Views"([^>]*)>([^<]*)</td>', product)
    assert [text for _, text in cells] == ["4,000", "—"]
    assert "no reading in the last 61 days" in cells[1][0]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ui/no-such-page", 404),
        ("GET", "/ui/products/999", 404),
        ("GET", "/ui/products/0", 422),
        ("POST", "/ui/alerts", 403),
    ],
)
async def test_error_pages_show_the_signed_in_state(
    client: Client, method: str, path: str, status: int
) -> None:
    await signed_up(client, "err_user")
    answer = await client.request(
        method, path, headers=HTML, data={"csrf_token": "wrong"} if method == "POST" else None
    )
    assert answer.status_code == status
    assert "Signed in as <strong>err_user</strong>" in answer.text
    assert "Sign up</a>" not in answer.text
    assert f'name="csrf_token" value="{client.cookies.get("ms_csrf")}"' in answer.text, "Log out works"


@pytest.mark.parametrize(
    ("method", "path", "title"),
    [
        ("GET", "/ui/no-such-page", "Page not found"),
        ("GET", "/ui/products/999", "Page not found"),
        ("GET", "/ui/products/0", "Validation failed"),
        ("POST", "/ui/alerts", "That form could not be accepted"),
    ],
)
async def test_an_error_pages_tab_says_what_went_wrong(
    client: Client, method: str, path: str, title: str
) -> None:
    answer = await client.request(
        method, path, headers=HTML, data={"csrf_token": "wrong"} if method == "POST" else None
    )
    assert f"<title>{title} · MarketScout</title>" in answer.text, "the tab and history name the problem"
    assert f"<h1>{title}</h1>" in answer.text


async def test_a_session_beside_a_cookie_the_standard_library_refuses_is_still_recognised(
    client: Client,
) -> None:
    await signed_up(client, "odd_cookie")
    session = client.cookies.get("ms_session")
    client.cookies.clear()
    # Another app on the host set a cookie whose value http.cookies cannot parse (a space).
    headers = {**HTML, "Cookie": f"other=a b; ms_session={session}"}
    for path in ("/", "/ui/no-such-page"):
        answer = await client.get(path, headers=headers)
        assert "Signed in as <strong>odd_cookie</strong>" in answer.text, path


async def test_an_invalid_id_in_a_page_path_says_what_was_wrong(client: Client) -> None:
    for path in ("/ui/products/0", "/ui/products/-3", f"/ui/products/{2**63}"):
        answer = await client.get(path, headers=HTML)
        assert answer.status_code in {404, 422}
        if answer.status_code == 422:
            assert "product id must be a positive integer" in answer.text, path


@pytest.fixture
async def stored_client(database_url: str) -> AsyncIterator[Client]:
    """The dashboard on each store (in memory, SQLite, PostgreSQL): ids typed in forms reach it."""
    app = create_app(build_container(api_settings(database_url=database_url), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


def _miswritten(real: int) -> list[str]:
    """Ids written as the API's path ids refuse them: beyond 2^63 - 1 (a store's largest
    integer), in digits of other scripts (``int`` reads "١" as 1), or ``real`` with a sign or a
    leading zero."""
    return [str(2**63), "9" * 23, "²", "١", f"+{real}", f"0{real}"]


async def test_an_id_in_a_form_query_or_note_is_read_as_path_ids_are_and_never_a_500(
    stored_client: Client,
) -> None:
    """Every id the dashboard reads from a form, a query or its one-shot note (not the path) is
    held to the path ids' rule: another one names nothing, as a word does (no store is asked)."""
    client = await signed_up(stored_client, "big_ids")
    session = client.cookies.get("ms_session")
    assert session
    account = int(jwt.decode(session, options={"verify_signature": False})["sub"])  # whose notes
    rule = {
        "csrf_token": await csrf(client),
        "action": "add-rule",
        "kind": "score_threshold",
        "threshold": "70",
    }
    assert (await client.post("/ui/alerts", data=rule, follow_redirects=False)).status_code == 303
    found = re.search(r"\?edit=(\d+)#", (await client.get("/ui/watchlist", headers=HTML)).text)
    assert found
    rule_id = int(found.group(1))
    product_id = await _create_product(client, "Id Lamp")
    await client.get("/ui/data", headers=HTML)  # the note of the product made, read

    for written in _miswritten(rule_id):
        deleted = await client.post(
            "/ui/alerts",
            data={"csrf_token": await csrf(client), "action": "delete-rule", "rule_id": written},
            headers=HTML,
            follow_redirects=False,
        )
        assert deleted.status_code == 303, f"{written}: {deleted.status_code}"
        assert deleted.headers["location"] == "/ui/watchlist"
        replaced = await client.post(
            "/ui/alerts",
            data={**rule, "action": "replace-rule", "rule_id": written, "threshold": "80"},
            headers=HTML,
            follow_redirects=False,
        )
        assert replaced.status_code == 404, f"{written}: {replaced.status_code}"  # as the API's PUT
        assert 'id="rule-error"' in replaced.text and "not found" in replaced.text
        listed = (await client.get("/ui/watchlist", headers=HTML)).text
        assert f"?edit={rule_id}#" in listed and "threshold 70.0" in listed, f"{written}: rule kept as it was"
        editing = await client.get("/ui/watchlist", params={"edit": written}, headers=HTML)
        assert editing.status_code == 200, f"{written}: {editing.status_code}"
        assert 'value="replace-rule"' not in editing.text, f"{written}: no rule is edited"

    for written in _miswritten(product_id):
        chosen = await client.get("/ui/data", params={"product": written}, headers=HTML)
        assert chosen.status_code == 200, f"{written}: {chosen.status_code}"
        assert "Id Lamp (#" not in chosen.text.split('<datalist id="product-suggestions">', 1)[0]
        for note, page in (
            (f"product:{written}", "/ui/data"),
            (f"ad:7:TikTok:{written}", "/ui/data"),
            (f"unwatched:{written}", "/ui/watchlist"),
        ):
            sealed = flash.seal(flash.note_key(SECRET), note, NOW, account)  # as the server seals its own
            client.cookies.set("ms_flash", sealed, domain="127.0.0.1", path="/ui")
            shown = await client.get(page, headers=HTML)
            assert shown.status_code == 200, f"{note}: {shown.status_code}"
            assert "Created " not in shown.text and "Removed “" not in shown.text, note


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"region": "ZZ"}, "region"),
        ({"status": "booming"}, "status"),
        ({"platform": "MySpace"}, "platform"),
    ],
)
async def test_an_invalid_filter_is_named_with_what_is_accepted(
    client: Client, query: dict[str, str], named: str
) -> None:
    page = (await client.get("/", params=query, headers=HTML)).text
    value = next(iter(query.values()))
    assert 'class="error"' in page
    problem = re.findall(r'<p class="error" role="alert">(.*?)</p>', page, re.S)[0]
    assert named in problem.lower() and value in problem
    accepted = {"region": "country code", "status": "emerging", "platform": "TikTok"}[named]
    assert accepted in problem
    if named == "region":
        assert 'value="ZZ"' in page, "the field keeps what was typed"


async def test_a_continent_filters_trending_by_its_countries(client: Client) -> None:
    await signed_up(client)
    product_id = await _scored_product(client, "Continent Lamp", [100, 200, 400, 800])
    for region, listed in (("North America", True), ("north america", True), ("Europe", False), ("US", True)):
        page = (await client.get("/", params={"region": region}, headers=HTML)).text
        assert 'class="error"' not in page, region
        assert (f'href="/ui/products/{product_id}">Continent Lamp</a>' in page) is listed, region


async def test_the_product_page_shows_the_forecast_with_how_often_it_was_right(client: Client) -> None:
    """The score's forecast (views expected on each of the next 7 days), dated from when it was
    computed, with what the backtest measured of it; none where nothing was gained lately."""
    await signed_up(client)
    product_id = await _scored_product(client, "Forecast Lamp", [100, 200, 400, 800])  # +400 last day
    page = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    section = page.split('id="forecast-h"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<th scope="row">([A-Z][a-z]{2} \d{2})</th><td class="num">([\d,]+)</td>', section)
    assert rows == [
        ("Mar 03", "240"),
        ("Mar 04", "144"),
        ("Mar 05", "86"),
        ("Mar 06", "52"),
        ("Mar 07", "31"),
        ("Mar 08", "19"),
        ("Mar 09", "11"),
    ]
    assert "within a factor of two" in section and "docs/scoring.md" not in section
    flat_id = await _scored_product(client, "Flat Lamp", [500, 500, 500])
    flat = (await client.get(f"/ui/products/{flat_id}", headers=HTML)).text
    assert "Nothing gained in the last day, so no gains are forecast." in flat
    assert '<th scope="row">Mar 03</th>' not in flat


async def test_an_exploding_products_page_says_how_its_status_and_its_forecast_fit(client: Client) -> None:
    """The demo's top product was "exploding" beside a forecast falling from 25,942 to 1,210
    views a day, and nothing said how the two fit: the status is about the last days (gains
    rising fast), the forecast assumes the gains fall from the last day's, as those of trending
    items called exploding did on real data; a product in its first rise can beat it."""
    await signed_up(client)
    rising = await _scored_product(
        client, "Rising Lamp", [1_000, 1_050, 1_100, 1_200, 2_000, 6_000, 20_000], liked=True
    )
    page = (await client.get(f"/ui/products/{rising}", headers=HTML)).text
    score = page.split('id="score-h"', 1)[1].split("</section>", 1)[0]
    assert '<span class="badge exploding">exploding</span>' in score
    said = html.unescape(re.sub(r"<[^>]+>", "", score))
    assert "Exploding describes the last days" in said
    assert "the forecast below does not extend the rise" in said
    forecast = html.unescape(page.split('id="forecast-h"', 1)[1].split("</section>", 1)[0])
    assert "8,400" in forecast, "the last day's 14,000 views, falling by 40 %"
    assert "does not extend that rise" in forecast
    assert "items called exploding" in forecast and "a median 0.7 of the last" in forecast
    assert "can gain more than forecast for some days, until its gains peak" in forecast
    # A product past its peak: the forecast's fall is what its status says; no such words.
    peaked = await _scored_product(client, "Peaked Lamp", [100, 5_000, 9_000, 10_000, 10_500], liked=True)
    past = (await client.get(f"/ui/products/{peaked}", headers=HTML)).text
    assert '<span class="badge peaked">peaked</span>' in past
    assert "Exploding describes" not in past and "does not extend that rise" not in past
    assert "as the gains of most trending items fall after such a day" in html.unescape(past)


async def test_the_viral_page_says_what_the_scan_judges_and_how_often_it_was_right(client: Client) -> None:
    await signed_up(client)
    await _scored_product(client, "Viral Lamp", [100, 200, 400, 800])  # +400 views, doubling
    page = (await client.get("/ui/viral", headers=HTML)).text
    assert ">Viral Lamp</a>" in page
    assert "views over the last 24 hours against ads of the same platform and age" in page
    assert "38 to 56 % of the ads this scan picked grew into the top tenth" in page


async def test_the_viral_page_names_a_platform_it_does_not_know_and_shows_every_platform(
    client: Client,
) -> None:
    await signed_up(client, "viral_filter")
    await _scored_product(client, "Viral Lamp", [100, 200, 400, 800])  # a TikTok ad
    page = html.unescape((await client.get("/ui/viral", params={"platform": "MySpace"}, headers=HTML)).text)
    problems = re.findall(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert problems == [
        "Platform “MySpace” is not one of TikTok, Facebook, Instagram, YouTube, Twitter; showing every platform."
    ]
    assert ">Viral Lamp</a>" in page, "the scan of every platform"
    other = (await client.get("/ui/viral", params={"platform": "YouTube"}, headers=HTML)).text
    assert 'class="error"' not in other and ">Viral Lamp</a>" not in other
    assert '<option value="YouTube" selected>' in other


async def test_a_product_without_data_shows_empty_states_not_zeros(client: Client) -> None:
    await signed_up(client)
    product_id = await _create_product(client, "Quiet Lamp")
    product = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    assert "Peak day: 0 views" not in product
    assert 'id="views-chart"' not in product and 'id="score-chart"' not in product, "no flat lines"
    assert "No engagement recorded yet" in product
    assert '<td class="num">0.0</td>' not in product
    heat = (await client.get(f"/ui/heat-map?product_id={product_id}", headers=HTML)).text
    assert "Interest in <strong>Quiet Lamp</strong>" not in heat
    assert "No views gained in the last 30 days for <strong>Quiet Lamp</strong> in any country" in heat
    assert '<td class="num">0.0</td>' not in heat and 'class="map"' not in heat
    busy_id = await _scored_product(client, "Busy Lamp", [100, 200, 400, 800])
    busy = (await client.get(f"/ui/products/{busy_id}", headers=HTML)).text
    assert 'id="views-chart"' in busy and "Peak day:" in busy and "No engagement recorded yet" not in busy
    assert 'class="map"' in (await client.get(f"/ui/heat-map?product_id={busy_id}", headers=HTML)).text


async def test_a_watched_product_can_be_removed_from_the_watchlist_page(client: Client) -> None:
    await signed_up(client)
    product_id = await _create_product(client, "Watched Lamp")
    watch = {"csrf_token": await csrf(client), "action": "add"}
    assert (
        await client.post(f"/ui/watchlist/{product_id}", data=watch, follow_redirects=False)
    ).status_code == 303
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    form = re.findall(rf'<form method="post" action="/ui/watchlist/{product_id}".*?</form>', page, re.S)
    assert form and 'name="action" value="remove"' in form[0] and "Remove" in form[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[0]))
    sent = await client.post(f"/ui/watchlist/{product_id}", data=fields, headers=HTML, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/watchlist"
    after = (await client.get("/ui/watchlist", headers=HTML)).text
    assert f'Removed “<a href="/ui/products/{product_id}">Watched Lamp</a>” from your watchlist' in after
    assert "Products you watch" not in after
    assert "Add to watchlist" in (await client.get(f"/ui/products/{product_id}", headers=HTML)).text


async def test_rule_kinds_have_readable_names(client: Client) -> None:
    await signed_up(client)
    rule = {
        "csrf_token": await csrf(client),
        "action": "add-rule",
        "kind": "score_rise",
        "threshold": "5",
        "window_hours": "24",
    }
    assert (await client.post("/ui/alerts", data=rule, follow_redirects=False)).status_code == 303
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    assert '<option value="score_rise">Score rises by a number of points</option>' in page
    assert re.search(r'<li id="rule-\d+">Score rises by a number of points · threshold 5.0', page)


async def test_sign_up_names_every_wrong_field_at_once(client: Client) -> None:
    form = {"csrf_token": await csrf(client), "username": "", "email": "", "password": ""}
    refused = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 422
    for field, label in (
        ("username", "The username"),
        ("email", "The e-mail address"),
        ("password", "The password"),
    ):
        assert re.search(rf'<p class="error" id="{field}-error"[^>]*>{label} [^<]*\.</p>', refused.text), (
            field
        )
        assert f'aria-describedby="{field}-error"' in refused.text
    partly = {"csrf_token": await csrf(client), "username": "fine_name", "email": "x", "password": "short"}
    refused = await client.post("/ui/signup", data=partly, headers=HTML, follow_redirects=False)
    assert 'id="username-error"' not in refused.text and 'value="fine_name"' in refused.text
    assert 'id="email-error"' in refused.text and 'id="password-error"' in refused.text


@pytest.mark.parametrize("email", ["x<postmaster>@example.com", "root,me123@example.com"])
async def test_sign_up_refuses_an_address_mail_would_read_as_other_recipients(
    client: Client, email: str
) -> None:
    form = {
        "csrf_token": await csrf(client),
        "username": "fine_name",
        "email": email,
        "password": "a long one",
    }
    refused = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 422
    assert re.search(
        r'<p class="error" id="email-error"[^>]*>The e-mail address must have only letters, digits and [^<]*'
        r"before the @\.</p>",
        refused.text,
    ), refused.text
    assert (
        await client.post("/token", data={"username": "fine_name", "password": "a long one"})
    ).status_code == 401


async def test_sign_up_says_in_words_that_a_name_is_taken(client: Client) -> None:
    await signed_up(client, "taken_name")
    client.cookies.delete("ms_session")
    form = {
        "csrf_token": await csrf(client),
        "username": "Taken_Name",
        "email": "other@example.com",
        "password": "a long enough passphrase",
    }
    refused = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 400
    assert re.search(r'id="username-error"[^>]*>The username is already registered[^<]*\.</p>', refused.text)


async def _log_in(client: Client, username: str, password: str, next_page: str = "/") -> Response:
    form = {"csrf_token": await csrf(client), "username": username, "password": password, "next": next_page}
    return await client.post("/ui/login", data=form, headers=HTML, follow_redirects=False)


async def test_a_wrong_password_at_login_keeps_the_username(client: Client) -> None:
    await signed_up(client, "keeps_me")
    client.cookies.delete("ms_session")
    refused = await _log_in(client, "keeps_me", "not the passphrase")
    assert refused.status_code == 401
    assert 'name="username" value="keeps_me"' in refused.text
    assert "Incorrect username or password" in refused.text


async def test_login_by_email_address(client: Client) -> None:
    await signed_up(client, "by_mail")
    client.cookies.delete("ms_session")
    page = (await client.get("/ui/login", headers=HTML)).text
    assert "Username or e-mail" in page
    accepted = await _log_in(client, "By_Mail@Example.com", "a long enough passphrase", "/ui/watchlist")
    assert accepted.status_code == 303, accepted.text
    assert accepted.headers["location"] == "/ui/watchlist"
    assert "by_mail" in (await client.get("/ui/watchlist", headers=HTML)).text


async def test_times_say_they_are_utc(client: Client) -> None:
    await signed_up(client)
    product_id = await _create_product(client, "Timed Lamp")
    watch = {"csrf_token": await csrf(client), "action": "add"}
    await client.post(f"/ui/watchlist/{product_id}", data=watch, follow_redirects=False)
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    assert f'<time datetime="{NOW.isoformat()}">{NOW:%Y-%m-%d %H:%M} UTC</time>' in page
    product = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    assert "(last 21 days, UTC)" in product


def test_every_template_prints_times_through_the_utc_filter() -> None:
    templates = Path(pages.__file__).with_name("templates")
    for template in templates.glob("*.html"):
        assert "strftime" not in template.read_text(encoding="utf-8"), template.name


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "999,not-a-date,US,5,0,0,0",
            "observed_at must be a date and time with a time zone, like 2026-11-30T21:00:00Z",
        ),
        ("999,2026-03-01T10:00:00,US,5,0,0,0", "observed_at must be a date and time with a time zone, like"),
        (
            "999,2026-03-01T10:00:00Z,US,-5,0,0,0",
            "views must be a whole number from 0 to 9,223,372,036,854,775,807",
        ),
        # Too big is said with its bound, not as 'of at least 0'.
        (
            "999,2026-03-01T10:00:00Z,US,99999999999999999999999,0,0,0",
            "views must be a whole number from 0 to 9,223,372,036,854,775,807",
        ),
        ("999,2026-03-01T10:00:00Z,US,many,0,0,0", "views must be a whole number"),
        ("999,2026-03-01T10:00:00Z,US,,0,0,0", "views is missing"),
        ("999,2026-03-01T10:00:00Z,U,5,0,0,0", "region must be a country code such as US, or GLOBAL"),
        ("999,2026-03-01T10:00:00Z,US,5,0,0,0", "ad_id: no ad 999 is known; create it first"),
    ],
)
async def test_a_rejected_row_is_named_by_its_line_and_said_in_words(
    client: Client, row: str, problem: str
) -> None:
    await signed_up(client)
    good = "999,2026-03-01T09:00:00Z,US,1,0,0,0"
    text = html.unescape(await upload(client, "rows.csv", f"{HEADER}\n{good}\n{row}\n".encode()))
    assert '<th scope="col">Line</th>' in text
    assert re.search(rf'<td data-label="Line">3</td><td data-label="Problem">{re.escape(problem)}', text), (
        text[text.find("Rejected") :][:600]
    )
    assert "Expected `" not in text and "RFC3339" not in text


async def test_an_unknown_column_refuses_the_file_once_naming_the_columns_that_are_read(
    client: Client,
) -> None:
    """A header names the columns of every row: a column MarketScout does not read is said once,
    as the file's problem, not once a row."""
    await signed_up(client)
    rows = "".join(f"999,2026-03-01T1{hour}:00:00Z,US,5,0,0,0,red\n" for hour in range(5))
    answer = await _upload_answer(client, "rows.csv", f"{HEADER},Colour\n{rows}".encode())
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert 'class="error"' in text
    assert text.count("is not a column MarketScout reads") == 1
    assert "the header names Colour, which is not a column MarketScout reads (it reads ad_id" in text
    assert '<td data-label="Line">' not in text


async def test_header_names_are_read_in_any_case_and_with_blanks_around_them(client: Client) -> None:
    await signed_up(client, "capital_header")
    product_id = await _create_product(client, "Capital Lamp")
    ad_id = await _ad(client, product_id, "TikTok", "capitals")
    raw = (
        " AD_ID ,Observed_At,REGION,Views,Likes,COMMENTS,shares\n"
        f"{ad_id},{NOW.isoformat()},US,5,1,0,0\n"
        f"{ad_id},{(NOW - timedelta(hours=1)).isoformat()},US,4,1,0,0\n"
    ).encode()
    answer = await _upload_answer(client, "readings.csv", raw)
    assert answer.status_code == 200
    assert "2 rows: 2 stored, 0 duplicates, 0 rejected." in answer.text


async def test_a_semicolon_separated_file_is_told_to_use_commas(client: Client) -> None:
    await signed_up(client)
    text = html.unescape(
        await upload(client, "excel.csv", b"ad_id;observed_at;region;views\n5;2026-11-30T21:00:00Z;US;100\n")
    )
    assert "the file's columns are separated by semicolons: use commas" in text
    assert "unknown field" not in text


async def test_ndjson_rejections_count_lines_of_the_file_blank_ones_too(client: Client) -> None:
    await signed_up(client)
    raw = b'{"ad_id":999,"observed_at":"2026-03-01T10:00:00Z","region":"US","views":1}\n\n{"ad_id":999,"observed_at":"2026-03-01T10:00:00Z","region":"US","views":-1}\n'
    text = html.unescape(await upload(client, "rows.ndjson", raw))
    assert (
        '<td data-label="Line">3</td><td data-label="Problem">views must be a whole number from 0 to 9,223,372,036,854,775,807</td>'
        in text
    )


async def test_a_closed_sign_up_says_so_and_offers_no_link() -> None:
    app = create_app(build_container(api_settings(signup_open=False), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        login = await client.get("/ui/login", headers=HTML)
        assert 'href="/ui/signup"' not in login.text, "neither the menu nor the login page links to it"
        shown = await client.get("/ui/signup", headers=HTML)
        assert shown.status_code == 403
        assert "Sign-up is closed on this instance" in shown.text
        assert "<form" not in shown.text.split("<main", 1)[-1]
        form = {
            "csrf_token": await csrf(client),
            "username": "newcomer",
            "email": "new@example.com",
            "password": "a long enough passphrase",
        }
        posted = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
        assert posted.status_code == 403
        assert "Sign-up is closed on this instance" in posted.text
        assert not client.cookies.get("ms_session"), "no session was opened"


async def test_an_upload_records_the_account_that_sent_its_readings(client: Client) -> None:
    await signed_up(client, "uploader")
    await _scored_product(client, "Sent Lamp", [10, 20, 30])
    uow = client.app.state.container.unit_of_work()
    async with uow:
        user = await uow.users.get_by_username("uploader")
        assert user is not None and user.id is not None
        assert (await uow.engagement.sent_by(user.id)).readings == 3


async def test_an_upload_goes_through_its_own_door_only(client: Client) -> None:
    """Uploads are rate-limited as ingests (heavy); the Data page's other forms (products, ads)
    are not: an upload posted to their door stores nothing."""
    await signed_up(client, "door_user")
    product_id = await _create_product(client, "Door Lamp")
    ad_id = await _ad(client, product_id, "TikTok", "x")
    raw = f"{HEADER}\n{ad_id},{NOW.isoformat()},US,5,0,0,0\n".encode()
    response = await client.post(
        "/ui/data",
        data={"csrf_token": await csrf(client), "action": "upload"},
        files={"file": ("r.csv", raw, "text/csv")},
        headers=HTML,
    )
    assert response.status_code == 200 and 'class="error"' in response.text
    assert "rows:" not in response.text
    # Nothing was stored by it: the same row through the upload's door is new, not a duplicate.
    assert "1 row: 1 stored" in await upload(client, "r.csv", raw)
    page = (await client.get("/ui/data", headers=HTML)).text
    assert 'action="/ui/data/upload"' in page


async def test_a_disabled_account_is_signed_out_and_told_why_when_it_logs_in(client: Client) -> None:
    await signed_up(client, "soon_disabled")
    assert (await client.get("/ui/watchlist", headers=HTML)).status_code == 200
    container = client.app.state.container
    await accounts.set_disabled(container.unit_of_work(), container.clock(), "soon_disabled", disabled=True)
    page = await client.get("/ui/watchlist", headers=HTML)
    assert "Your session has expired" in page.text, "its session no longer works"
    form = {
        "csrf_token": await csrf(client),
        "username": "soon_disabled",
        "password": "a long enough passphrase",
    }
    refused = await client.post("/ui/login", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 401
    assert "This account is disabled: ask the instance" in refused.text


async def test_the_account_page_changes_the_password(client: Client) -> None:
    await signed_up(client, "changer")
    page = await client.get("/ui/account", headers=HTML)
    assert page.status_code == 200 and 'action="/ui/account/password"' in page.text
    assert 'href="/ui/account"' in page.text, "the signed-in name links to the account page"
    form = {
        "csrf_token": await csrf(client),
        "current_password": "wrong one here",
        "new_password": "brand new passphrase",
    }
    refused = await client.post("/ui/account/password", data=form, headers=HTML)
    assert refused.status_code == 200 and 'class="error"' in refused.text
    assert 'role="alert">The current password is wrong.<' in refused.text, "said in words"
    form["current_password"] = "a long enough passphrase"
    done = await client.post("/ui/account/password", data=form, headers=HTML, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/ui/account"
    assert "Password changed" in (await client.get("/ui/account", headers=HTML)).text
    login = {"csrf_token": await csrf(client), "username": "changer", "password": "brand new passphrase"}
    assert (
        await client.post("/ui/login", data=login, headers=HTML, follow_redirects=False)
    ).status_code == 303


async def _upload_answer(client: Client, name: str, raw: bytes) -> Any:
    return await client.post(
        "/ui/data/upload",
        data={"csrf_token": await csrf(client)},
        files={"file": (name, raw, "text/csv")},
        headers=HTML,
    )


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "the file has no rows"),
        (b"ad_id,ad_id,observed_at,region,views\n4,5,2026-03-01T10:00:00Z,US,5\n", "names ad_id twice"),
        (b"ad_id,views,observed_at,region, VIEWS\n4,5,2026-03-01T10:00:00Z,US,5\n", "names views twice"),
        ("ad_id,observed_at,region,views\n1,2026-03-01T10:00:00Z,US,5\n".encode("utf-16"), "not UTF-8"),
        (b"ad_id,observed_at,region,views\n1,2026-03-01T10:00:00Z,\xe9U,5\n", "not UTF-8 text (line 2)"),
    ],
)
async def test_a_file_refused_whole_is_a_422_saying_why(client: Client, raw: bytes, said: str) -> None:
    await signed_up(client, "refused_files")
    answer = await _upload_answer(client, "readings.csv", raw)
    assert answer.status_code == 422
    assert 'class="error"' in answer.text and said in answer.text


async def test_a_row_with_more_cells_than_the_header_is_rejected_not_cut(client: Client) -> None:
    await signed_up(client, "extra_cells")
    product_id = await _create_product(client, "Cells Lamp")
    ad_id = await _ad(client, product_id, "TikTok", "cells")
    raw = (
        f"ad_id,observed_at,region,views\n{ad_id},{NOW.isoformat()},US,5,99\n"
        f"{ad_id},{(NOW - timedelta(hours=1)).isoformat()},US,4\n"
    ).encode()
    answer = await _upload_answer(client, "readings.csv", raw)
    assert answer.status_code == 200
    assert "2 rows: 1 stored, 0 duplicates, 1 rejected." in answer.text
    assert "row: has 5 cells, the header 4 columns" in answer.text


async def test_a_row_with_fewer_cells_than_the_header_is_rejected_not_padded(client: Client) -> None:
    await signed_up(client, "missing_cells")
    product_id = await _create_product(client, "Short Lamp")
    ad_id = await _ad(client, product_id, "TikTok", "short")
    raw = (
        f"{HEADER}\n{ad_id},{(NOW - timedelta(hours=2)).isoformat()},US,4,0,0,0\n"
        f"{ad_id},{NOW.isoformat()},US,5,0,0\n"
        "lonely\n"
    ).encode()
    answer = await _upload_answer(client, "readings.csv", raw)
    assert answer.status_code == 200
    text = html.unescape(answer.text)
    assert "3 rows: 1 stored, 0 duplicates, 2 rejected." in text
    assert (
        '<td data-label="Line">3</td><td data-label="Problem">row: has 6 cells, the header 7 columns<' in text
    )
    assert (
        '<td data-label="Line">4</td><td data-label="Problem">row: has 1 cell, the header 7 columns<' in text
    )
    # The short row was not stored: sent again with its shares, it is new.
    again = f"{HEADER}\n{ad_id},{NOW.isoformat()},US,5,0,0,3\n".encode()
    assert "1 row: 1 stored" in await upload(client, "again.csv", again)


async def _ad_named(client: Client, username: str, external_id: str) -> None:
    """Signs ``username`` up, and creates a product and its TikTok ad ``external_id`` through
    the API (as a client that uploads readings would have made it)."""
    await signed_up(client, username)
    product_id = await _create_product(client, f"{username} Lamp")
    token = await client.post("/token", data={"username": username, "password": "a long enough passphrase"})
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    ad = {"product_id": product_id, "platform": "TikTok", "ad_content": "Look", "external_id": external_id}
    assert (await client.post("/ads", json=ad, headers=bearer)).status_code == 201


async def test_an_upload_reads_the_platform_in_any_case(client: Client) -> None:
    await _ad_named(client, "platform_case", "case-1")
    raw = f"platform,external_id,observed_at,region,views\ntiktok,case-1,{NOW.isoformat()},gb,5\n".encode()
    answer = await _upload_answer(client, "readings.csv", raw)
    assert "1 row: 1 stored, 0 duplicates, 0 rejected." in answer.text


async def test_an_upload_takes_an_external_id_trimmed_and_refuses_a_blank_one(client: Client) -> None:
    """A CSV cell's external_id is taken without the blanks around it, as POST /ads stores an
    ad's; one of only characters that show nothing is the row's rejection naming external_id."""
    await _ad_named(client, "trimmed_ids", "trim-1")
    raw = (
        "platform,external_id,observed_at,region,views\n"
        f"TikTok,\u3000trim-1\u00a0,{NOW.isoformat()},GB,5\n"
        f"TikTok,\u200b\u3164,{(NOW - timedelta(hours=1)).isoformat()},GB,4\n"
    ).encode()
    text = html.unescape((await _upload_answer(client, "readings.csv", raw)).text)
    assert "2 rows: 1 stored, 0 duplicates, 1 rejected." in text
    assert '<td data-label="Line">3</td><td data-label="Problem">external_id: must not be blank<' in text


async def test_a_product_read_without_gains_says_so_not_that_nothing_was_read(client: Client) -> None:
    await signed_up(client, "flat_views")
    product_id = await _scored_product(client, "Flat Lamp", [2208, 2208, 2208])
    page = (await client.get(f"/ui/products/{product_id}", headers=HTML)).text
    assert "No views gained in the last 21 days: its ads were read" in page
    assert "No engagement recorded yet in the last 21 days" not in page
    assert ">2,208</td>" in page  # the ad's views, in the ads' table


async def _ad_for(client: Client, product: str, content: str) -> Response:
    """The Data page's "Create an ad" form sent with ``product`` typed in its Product field."""
    form = {
        "csrf_token": await csrf(client),
        "action": "ad",
        "product": product,
        "platform": "TikTok",
        "ad_content": content,
    }
    return await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)


async def test_an_ad_is_made_for_any_product_of_a_large_catalogue(client: Client) -> None:
    """The Product field takes any product of the catalogue (beyond the first 100): its name in any
    case, its number, a suggestion ("Name (#12)") or a part of its name only it has; a name of no
    product, or of several, is refused in the form, naming the field and keeping what was typed."""
    await signed_up(client, "big_catalogue")
    container = client.app.state.container

    async def product(name: str) -> int:
        new = catalog.NewProduct(name=name, description="d")
        made = await catalog.create_product(container.unit_of_work(), container.clock(), new, created_by=None)
        assert made.id is not None
        return made.id

    ids = [await product(f"Catalogue Lamp {number:03d}") for number in range(1, 121)]
    twins = [await product("Twin Kettle") for _ in range(2)]

    async def ads_of(product_id: int) -> list[str]:
        listed = await catalog.list_ads(container.unit_of_work(), skip=0, limit=10, product_id=product_id)
        return [ad.ad_content for ad in listed]

    for typed, product_id in (
        ("catalogue lamp 120", ids[119]),
        (f"#{ids[110]}", ids[110]),
        (str(ids[108]), ids[108]),
        (f"Catalogue Lamp 105 (#{ids[104]})", ids[104]),
        ("Lamp 117", ids[116]),
    ):
        sent = await _ad_for(client, typed, f"ad typed as {typed}")
        assert sent.status_code == 303, f"{typed}: {sent.text[:300]}"
        assert await ads_of(product_id) == [f"ad typed as {typed}"], typed
        shown = html.unescape((await client.get("/ui/data", headers=HTML)).text)
        name = f"Catalogue Lamp {ids.index(product_id) + 1:03d}"
        assert re.search(rf"Created TikTok ad #\d+ for “{name}”", shown), "the report names the product"

    for typed, said in (
        ("Twin Kettle", f"Product “Twin Kettle” is the name of 2 products (#{twins[0]}, #{twins[1]})"),
        ("Catalogue Lamp", "Product “Catalogue Lamp” is part of the names of several products"),
        ("Nothing like it", "Product “Nothing like it” matches no product’s name or number"),
        ("#999999", "Product #999999 is not the number of any product"),
    ):
        refused = await _ad_for(client, typed, "kept words")
        assert refused.status_code == 200
        errors = [html.unescape(e) for e in re.findall(r'class="error"[^>]*>([^<]*)<', refused.text)]
        assert len(errors) == 1 and said in errors[0], errors
        assert f'value="{html.escape(typed)}"' in refused.text, "the typed product is kept"
        assert ">kept words</textarea>" in refused.text
    assert await ads_of(twins[0]) == [] and await ads_of(twins[1]) == []

    page = (await client.get("/ui/data", headers=HTML)).text
    field = re.search(r"<input[^>]*\bname=\"product\"[^>]*>", page)
    assert field and 'list="product-suggestions"' in field.group(0), "a text field with suggestions"
    suggestions = page.split('<datalist id="product-suggestions">', 1)[1].split("</datalist>", 1)[0]
    assert f'value="Twin Kettle (#{twins[1]})"' in suggestions, "the newest products are suggested"

    product_page = (await client.get(f"/ui/products/{ids[119]}", headers=HTML)).text
    assert f'href="/ui/data?product={ids[119]}#ad"' in product_page, "a product page links to the form"
    chosen = (await client.get(f"/ui/data?product={ids[119]}", headers=HTML)).text
    assert f'value="Catalogue Lamp 120 (#{ids[119]})"' in chosen, "the linked form holds the product"


async def test_trending_lists_ten_products_a_page_with_links_that_keep_the_filters(client: Client) -> None:
    """A long Trending list comes ten products a page, ranked across pages; the next and previous
    pages are links that keep the filters; a page past the end says so and links to the last
    page; a page that is no number says so."""
    await signed_up(client, "pager")
    names = [f"Paging Lamp {n:02d}" for n in range(12)]
    for n, name in enumerate(names):
        await _scored_product(client, name, [100, 200 + 50 * n, 400 + 100 * n])
    await _scored_product(client, "Filtered Out Kettle", [100, 200, 400])

    def listed(text: str) -> list[tuple[str, str]]:
        return re.findall(
            r'<td data-label="#">(\d+)</td>\s*<td data-label="Product"><a [^>]*>([^<]*)</a>', text
        )

    def link(text: str, attributes: str) -> dict[str, list[str]] | None:
        found = re.search(rf'<a href="(/[^"]*)"{attributes}>', text)
        return parse_qs(urlsplit(html.unescape(found.group(1))).query) if found else None

    filters = {"q": ["paging lamp"], "region": ["US"]}
    first = (await client.get("/", params={"q": "paging lamp", "region": "us"}, headers=HTML)).text
    assert [rank for rank, _ in listed(first)] == [str(rank) for rank in range(1, 11)]
    assert link(first, ' rel="prev"') is None
    assert link(first, ' rel="next"') == {**filters, "page": ["2"]}, "the next page keeps the filters"
    second = (await client.get("/", params={**filters, "page": "2"}, headers=HTML)).text
    assert [rank for rank, _ in listed(second)] == ["11", "12"], "ranks go on from the first page"
    assert sorted(name for _, name in listed(first) + listed(second)) == names, "each product once"
    assert link(second, ' rel="next"') is None
    assert link(second, ' rel="prev"') == filters, "back to the first page, filters kept"

    beyond = (await client.get("/", params={**filters, "page": "5"}, headers=HTML)).text
    assert listed(beyond) == []
    assert "Page 5 is past the end of the list, which has 2 pages." in beyond
    assert link(beyond, ">the last page</a") == {**filters, "page": ["2"]}
    wrong = (await client.get("/", params={**filters, "page": "two"}, headers=HTML)).text
    assert "Page “two” is not a page number; showing the first page." in html.unescape(wrong)
    assert [rank for rank, _ in listed(wrong)] == [str(rank) for rank in range(1, 11)]


LAMPS, KETTLES = 1_030, 7


@pytest.fixture
async def counted_market(client: Client) -> Client:
    """LAMPS products named "Counted Lamp NNNN" and KETTLES named "Counted Kettle N", each with one
    score (the same for all: they rank by id), stored straight into the client's store."""
    uow = client.app.state.container.unit_of_work()
    async with uow:
        for number in range(LAMPS + KETTLES):
            name = f"Counted Lamp {number:04d}" if number < LAMPS else f"Counted Kettle {number - LAMPS}"
            product = await uow.products.add(Product(name=name, description="d", created_at=NOW))
            assessment = TrendAssessment(score=50.0, status=TrendStatus.EMERGING, confidence=0.5)
            await uow.scores.add(TrendScore(product_id=product.id, calculated_at=NOW, assessment=assessment))
        await uow.commit()
    return client


def _ranks(text: str) -> list[int]:
    return [int(rank) for rank in re.findall(r'<td data-label="#">(\d+)</td>', text)]


def _link(text: str, attributes: str) -> dict[str, list[str]] | None:
    """The query of the first link with these attributes after its address."""
    found = re.search(rf'<a href="(/[^"]*)"{attributes}>', text)
    return parse_qs(urlsplit(html.unescape(found.group(1))).query) if found else None


def _sizes(text: str) -> dict[str, dict[str, list[str]] | None]:
    """The page-size choices: each size with the query of its link (None: the size shown)."""
    nav = text.split('aria-label="Products a page"', 1)[1].split("</nav>", 1)[0]
    choices: dict[str, dict[str, list[str]] | None] = {}
    for address, size in re.findall(r'<a href="([^"]*)">(\d+)</a>', nav):
        choices[size] = parse_qs(urlsplit(html.unescape(address)).query)
    for size in re.findall(r'<strong aria-current="true">(\d+)</strong>', nav):
        choices[size] = None
    return choices


async def test_trending_says_how_many_products_the_filters_keep(counted_market: Client) -> None:
    """The list says which of how many products it shows, counted with the filters it lists with."""
    client = counted_market
    for query, said in (
        ({}, "Products 1–10 of 1,037"),
        ({"q": "lamp", "page": "2"}, "Products 11–20 of 1,030"),
        ({"q": "KETTLE"}, "Products 1–7 of 7"),
        ({"q": "counted kettle 3"}, "Product 1 of 1"),
        ({"status": "emerging", "page": "104"}, "Products 1,031–1,037 of 1,037"),
    ):
        text = (await client.get("/", params=query, headers=HTML)).text
        assert said in text, query
    kettles = (await client.get("/", params={"q": "kettle"}, headers=HTML)).text
    assert _ranks(kettles) == list(range(1, 8)) and _link(kettles, ' rel="next"') is None
    none = (await client.get("/", params={"status": "declining"}, headers=HTML)).text
    assert "No scored product matches these filters." in none and "Products " not in none


async def test_trending_shows_the_page_size_chosen_and_keeps_it_in_its_links(counted_market: Client) -> None:
    """``?size=`` is 10, 25, 50 or 100 products a page; the next and previous pages keep it with
    the filters, each other size starts again from the first page, and the filter form keeps it."""
    client = counted_market
    text = (await client.get("/", params={"q": "lamp", "size": "25", "page": "2"}, headers=HTML)).text
    assert _ranks(text) == list(range(26, 51))
    assert "Products 26–50 of 1,030" in text
    assert _link(text, ' rel="next"') == {"q": ["lamp"], "size": ["25"], "page": ["3"]}
    assert _link(text, ' rel="prev"') == {"q": ["lamp"], "size": ["25"]}
    assert "Next 25" in text and "Page 2 of 42" in text
    assert _sizes(text) == {
        "10": {"q": ["lamp"]},
        "25": None,
        "50": {"q": ["lamp"], "size": ["50"]},
        "100": {"q": ["lamp"], "size": ["100"]},
    }
    form = text.split('<form method="get" action="/"', 1)[1].split("</form>", 1)[0]
    assert '<input type="hidden" name="size" value="25">' in form, "a new filter keeps the size"

    hundred = (await client.get("/", params={"size": "100", "page": "11"}, headers=HTML)).text
    assert _ranks(hundred) == list(range(1001, 1038)) and "Products 1,001–1,037 of 1,037" in hundred
    default = (await client.get("/", params={"q": "lamp"}, headers=HTML)).text
    assert _ranks(default) == list(range(1, 11))
    assert _link(default, ' rel="next"') == {"q": ["lamp"], "page": ["2"]}, "the default size is not written"
    assert 'name="size"' not in default.split('<form method="get" action="/"', 1)[1].split("</form>", 1)[0]
    assert _sizes(default)["10"] is None


@pytest.mark.parametrize("size", ["7", "ten", "1000", "25.0"])
async def test_a_page_size_not_offered_shows_the_first_page_at_ten_and_says_so(
    counted_market: Client, size: str
) -> None:
    text = (await counted_market.get("/", params={"q": "lamp", "size": size, "page": "3"}, headers=HTML)).text
    problems = [html.unescape(p) for p in re.findall(r'<p class="error" role="alert">(.*?)</p>', text, re.S)]
    assert problems == [
        f"Page size “{size}” is not one of 10, 25, 50 or 100; showing the first page, 10 a page."
    ]
    assert _ranks(text) == list(range(1, 11))
    assert "Products 1–10 of 1,030" in text
    assert _link(text, ' rel="next"') == {"q": ["lamp"], "page": ["2"]}


async def test_a_page_past_the_end_links_to_the_last_page_at_the_size_chosen(counted_market: Client) -> None:
    text = (
        await counted_market.get("/", params={"q": "lamp", "size": "100", "page": "12"}, headers=HTML)
    ).text
    assert _ranks(text) == []
    assert "Page 12 is past the end of the list, which has 11 pages." in text
    assert _link(text, ">the last page</a") == {"q": ["lamp"], "size": ["100"], "page": ["11"]}
    last = (
        await counted_market.get("/", params={"q": "lamp", "size": "100", "page": "11"}, headers=HTML)
    ).text
    assert _ranks(last) == list(range(1001, 1031)) and "Products 1,001–1,030 of 1,030" in last


@pytest.mark.parametrize("action", ["delete-rule", "read-all", "check"])
async def test_a_busy_or_absent_store_is_said_not_swallowed_by_the_alerts_form(
    client: Client, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """The alerts form redirected back as if done when the store was busy or down, so the user
    believed a rule deleted that was still there; it answers as every page does then (503)."""

    async def busy(*args: object, **kwargs: object) -> None:
        raise Busy("database busy")

    for name in ("delete_rule", "mark_alerts_read", "check_alerts"):
        monkeypatch.setattr(alerts, name, busy)
    await signed_up(client, "busy_alerts")
    answered = await client.post(
        "/ui/alerts",
        data={"csrf_token": await csrf(client), "action": action, "rule_id": "1"},
        headers=HTML,
        follow_redirects=False,
    )
    assert answered.status_code == 503, answered.status_code
    assert answered.headers["retry-after"] == "1"
    assert "busy" in answered.text


@pytest.fixture
async def client_on_every_store(database_url: str) -> AsyncIterator[Client]:
    """The dashboard on the in-memory store, SQLite and PostgreSQL (which cannot store a NUL)."""
    app = create_app(build_container(api_settings(database_url=database_url), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


def _problems(page: str) -> list[str]:
    return [html.unescape(p) for p in re.findall(r'<p class="error"[^>]*>(.*?)</p>', page, re.S)]


async def test_a_search_with_a_control_character_is_said_and_shows_everything(
    client_on_every_store: Client,
) -> None:
    client = await signed_up(client_on_every_store)
    await _create_product(client, "Desk Lamp")
    for path in ("/", "/ui/heat-map"):
        for typed in ("a\x00b", "lamp\x01"):
            page = await client.get(path, params={"q": typed}, headers=HTML)
            assert page.status_code == 200, page.text
            assert "The name search must not hold control characters" in " ".join(_problems(page.text)), path
            assert "\x00" not in page.text and "\x01" not in page.text


async def test_forms_refuse_control_characters_and_invisible_text_by_name_on_every_store(
    client_on_every_store: Client,
) -> None:
    client = client_on_every_store
    login = {"csrf_token": await csrf(client), "username": "a\x00b", "password": "a long enough passphrase"}
    refused = await client.post("/ui/login", data=login, headers=HTML, follow_redirects=False)
    assert refused.status_code == 422, refused.text
    assert "The username must not hold control characters." in _problems(refused.text)
    for email in ("a\x00b@example.com", "a\x01b@ex\x7fample.com"):
        form = {
            "csrf_token": await csrf(client),
            "username": "web_user",
            "email": email,
            "password": "a long enough passphrase",
        }
        refused = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
        assert refused.status_code == 422, refused.text
        assert re.search(r'id="email-error"[^>]*>The e-mail address must', refused.text), email
    await signed_up(client)
    product_id = await _create_product(client, "Desk Lamp")
    for fields, said in (
        (
            {"action": "product", "name": "a\x00b", "description": "d"},
            "Name must not hold control characters.",
        ),
        (
            {"action": "product", "name": "a\x01b", "description": "d"},
            "Name must not hold control characters.",
        ),
        ({"action": "product", "name": "\u200b", "description": "d"}, "Name must not be blank."),
        (
            {"action": "product", "name": "Lamp", "description": "a\x00b"},
            "Description must not hold control characters other than tabs and line breaks.",
        ),
        (
            {"action": "ad", "product": "Desk\x00Lamp", "platform": "TikTok", "ad_content": "look"},
            "Product must not hold control characters.",
        ),
        (
            {"action": "ad", "product": str(product_id), "platform": "TikTok", "ad_content": "lo\x00ok"},
            "Content must not hold control characters other than tabs and line breaks.",
        ),
        (
            {
                "action": "ad",
                "product": str(product_id),
                "platform": "TikTok",
                "ad_content": "look",
                "external_id": "tt\x00",
            },
            "Platform id must not hold control characters.",
        ),
    ):
        sent = await client.post(
            "/ui/data",
            data={"csrf_token": await csrf(client), **fields},
            headers=HTML,
            follow_redirects=False,
        )
        assert sent.status_code == 200, sent.text
        assert said in _problems(sent.text), (fields, _problems(sent.text))
    assert [p["name"] for p in (await client.get("/products")).json()] == ["Desk Lamp"]
    assert (await client.get("/ads")).json() == []


async def test_sign_up_refuses_an_unusable_email_or_a_weak_password_in_words(client: Client) -> None:
    form = {
        "csrf_token": await csrf(client),
        "username": "web_user_name",
        "email": "\u200b@\u200b.\u200b",
        "password": "a long enough passphrase",
    }
    refused = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
    assert refused.status_code == 422, refused.text
    assert re.search(r'id="email-error"[^>]*>The e-mail address must hold visible characters', refused.text)
    for password, said in (
        (" " * 12, "The password must not be blank."),
        ("Web_User_Name", "The password must not be the username or the e-mail address."),
        ("web_user_name@example.com", "The password must not be the username or the e-mail address."),
    ):
        form = {
            "csrf_token": await csrf(client),
            "username": "web_user_name",
            "email": "web_user_name@example.com",
            "password": password,
        }
        refused = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
        assert refused.status_code == 422, refused.text
        assert re.search(rf'id="password-error"[^>]*>{re.escape(said)}</p>', refused.text), password


@pytest.mark.parametrize(
    ("sent", "cookie"),
    [
        ("jeton-volé", "ascii-token"),  # a non-ASCII form value
        ("ascii-token", "jeton-volé"),  # a non-ASCII cookie
        ("ünïcödé", "ünïcödé-other"),
        ("ascii-token", "ascii-other"),
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
async def test_a_csrf_value_that_does_not_match_is_403_whatever_its_characters(
    client: Client, sent: str, cookie: str, accept: str
) -> None:
    # The cookie header as a client may send it: raw UTF-8 bytes (the server reads them as Latin-1).
    headers = {
        b"Accept": accept.encode(),
        b"Cookie": f"ms_csrf={cookie}".encode(),
        b"Content-Type": b"application/x-www-form-urlencoded",
    }
    form = f"csrf_token={quote(sent)}&action=read-all".encode()
    answer = await client.post("/ui/alerts", content=form, headers=headers)
    assert answer.status_code == 403, answer.text
    if accept == "text/html":
        assert "<h1>That form could not be accepted</h1>" in answer.text
    else:
        assert answer.json()["status_code"] == 403
        assert answer.json()["message"].startswith("The form has expired")


async def test_an_upload_over_the_body_limit_is_said_on_the_data_page_naming_the_limit() -> None:
    """A file larger than MARKETSCOUT_MAX_BODY_BYTES is refused as other whole files are: the Data
    page again, its error naming the limit in MB; the API's 413 keeps its JSON shape."""
    app = create_app(build_container(api_settings(max_body_bytes=1024 * 1024), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        await signed_up(client)
        big = (HEADER + "\n" + "1,2026-03-01T10:00:00Z,US,5,0,0,0\n" * 40_000).encode()
        response = await client.post(
            "/ui/data/upload",
            data={"csrf_token": await csrf(client)},
            files={"file": ("big.csv", big, "text/csv")},
            headers=HTML,
        )
        assert response.status_code == 413
        assert "<h1>Data in and out</h1>" in response.text, "the Data page, not a bare error page"
        assert re.search(r'class="error">file: [^<]*at most 1 MB', response.text), response.text
        bearer = await api_sign_up(client, "bulky_api")
        api = await client.post(
            "/products",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={**bearer, "Content-Type": "application/json"},
        )
        assert api.status_code == 413
        assert api.json()["status_code"] == 413 and api.json()["message"] == "Request Entity Too Large"


async def test_the_account_page_says_when_the_account_was_created_not_signed_in_since(
    client: Client,
) -> None:
    await signed_up(client, "account_words")
    text = (await client.get("/ui/account", headers=HTML)).text
    assert "since" not in text.split("<h1>Account</h1>")[1].split("</p>")[0]
    assert re.search(r"Account created <time", text), text


async def _footer_says_synthetic(app: Litestar) -> bool:
    """Whether every page's footer (an error page's too) calls the data synthetic."""
    said = set()
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        for path in ("/ui/login", "/ui/no-such-page"):
            text = (await client.get(path, headers=HTML)).text
            assert '<footer class="foot">' in text
            said.add("Demo data is synthetic" in text)
    assert len(said) == 1, "every page says the same"
    return said.pop()


@pytest.mark.parametrize("demo", [True, False])
async def test_an_empty_database_started_with_demo_data_on_is_filled_and_says_so(demo: bool) -> None:
    app = create_app(build_container(api_settings(demo_data=demo), MovableClock(NOW)))
    assert await _footer_says_synthetic(app) is demo


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_a_database_holding_the_demo_says_so_with_demo_data_off(database_url: str) -> None:
    """Filled with the demo (``marketscout demo``), then served with MARKETSCOUT_DEMO_DATA=false:
    what is stored is synthetic, and the footer says so."""
    container = build_container(api_settings(database_url=database_url, demo_data=False), MovableClock(NOW))
    await load_demo(container)
    assert await _footer_says_synthetic(create_app(container))


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_a_database_of_real_data_says_nothing_with_demo_data_on(database_url: str) -> None:
    """A database of collected products and a user's (even one whose description says synthetic
    demo data) served with the default setting: the demo is not loaded (it is not empty), and
    the footer does not call the data synthetic."""
    container = build_container(api_settings(database_url=database_url, demo_data=True), MovableClock(NOW))
    clock = container.clock()
    collected = catalog.NewProduct(name="Sunset Lamp", description="Seen on TikTok")
    await catalog.create_product(container.unit_of_work(), clock, collected, created_by=None)
    uow = container.unit_of_work()
    async with uow:
        user = await uow.users.add(
            User(username="maker", email="maker@example.com", password_hash="h", created_at=NOW)
        )
        await uow.commit()
    copied = catalog.NewProduct(name="My Lamp", description="My Lamp — a home product (synthetic demo data).")
    await catalog.create_product(container.unit_of_work(), clock, copied, created_by=user.id)
    assert not await _footer_says_synthetic(create_app(container))
    listed = await catalog.list_products(container.unit_of_work(), skip=0, limit=10)
    assert [p.name for p in listed] == ["Sunset Lamp", "My Lamp"], "no demo loaded"
    await container.sql_engine().dispose()
