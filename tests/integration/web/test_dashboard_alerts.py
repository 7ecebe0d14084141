"""The Watchlist page's alerts and alert-rule form over HTTP: what a user sees and is answered."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient

from marketscout.domain.model import Alert, AlertRuleKind
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.web import pages
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container
from tests.integration.web.support import HTML, Client, csrf, signed_up


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app(build_container(api_settings(), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


async def _product(client: Client, name: str, *, watched: bool = True) -> int:
    form = {"csrf_token": await csrf(client), "action": "product", "name": name, "description": "d"}
    assert (await client.post("/ui/data", data=form, follow_redirects=False)).status_code == 303
    found = [p["id"] for p in (await client.get("/products")).json() if p["name"] == name]
    product_id = int(found[0])
    if watched:
        watch = {"csrf_token": await csrf(client), "action": "add"}
        sent = await client.post(f"/ui/watchlist/{product_id}", data=watch, follow_redirects=False)
        assert sent.status_code == 303
    return product_id


async def _rule(client: Client, **fields: str) -> Response:
    form = {"csrf_token": await csrf(client), "action": "add-rule", **fields}
    return await client.post("/ui/alerts", data=form, headers=HTML, follow_redirects=False)


def _refusal(text: str) -> str:
    found = re.findall(r'<p class="error" role="alert" id="rule-error">(.*?)</p>', text, re.S)
    assert len(found) == 1, text
    return html.unescape(re.sub(r"<[^>]+>", "", found[0]))


def _tag(text: str, element_id: str) -> str:
    found = re.search(rf'<(?:input|select)[^>]*\bid="{element_id}"[^>]*>', text)
    assert found, f"no #{element_id}"
    return found.group(0)


async def _alerts(client: Client, product_id: int, messages: list[str]) -> list[int]:
    """Stores alerts for the signed-in user, as a check of their rules would."""
    ids = []
    async with client.app.state.container.unit_of_work() as uow:
        user = await uow.users.get_by_username("alerts_user")
        assert user is not None
        user_id = user.id
        for n, message in enumerate(messages):
            stored = await uow.alerts.add_if_new(
                Alert(
                    user_id=user_id,
                    rule_id=1,
                    product_id=product_id,
                    kind=AlertRuleKind.STATUS_EXPLODING,
                    event_key=f"test:{n}",
                    message=message,
                    created_at=NOW,
                )
            )
            assert stored is not None
            ids.append(stored.id)
        await uow.commit()
    return ids


# 1. A rule for one product


async def test_the_rule_form_offers_the_watched_products_with_all_of_them_the_default(client: Client) -> None:
    await signed_up(client, "alerts_user")
    lamp = await _product(client, "Desk Lamp")
    await _product(client, "Unwatched Mug", watched=False)
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    select = re.search(r'<select id="product_id" name="product_id">(.*?)</select>', page, re.S)
    assert select, "the form has a product choice"
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1))
    assert options == [("", " selected", "All watched products"), (str(lamp), "", "Desk Lamp")]
    assert '<label for="product_id">Product</label>' in page, "labelled as its refusal names it"

    added = await _rule(client, kind="status_exploding", product_id=str(lamp))
    assert added.status_code == 303
    listed = (await client.get("/ui/watchlist", headers=HTML)).text
    assert "Status becomes exploding · product “Desk Lamp”" in html.unescape(listed)
    rules = (
        await client.get("/alert-rules", headers={"Authorization": f"Bearer {client.cookies['ms_session']}"})
    ).json()
    assert [r["product_id"] for r in rules] == [lamp]
    rule_id = re.findall(r"\?edit=(\d+)#", listed)[0]
    editing = (await client.get(f"/ui/watchlist?edit={rule_id}", headers=HTML)).text
    assert f'<option value="{lamp}" selected>Desk Lamp</option>' in editing, "editing keeps the product"


@pytest.mark.parametrize("typed", ["unwatched", "999999", "abc", "0"])
async def test_a_product_not_on_the_watchlist_is_refused_on_the_form(client: Client, typed: str) -> None:
    await signed_up(client, "alerts_user")
    await _product(client, "Desk Lamp")
    mug = await _product(client, "Unwatched Mug", watched=False)
    sent = await _rule(
        client, kind="status_exploding", product_id=str(mug) if typed == "unwatched" else typed
    )
    assert sent.status_code == 422
    assert _refusal(sent.text) == (
        "The rule was not added: Product must be one of your watched products, or “All watched products”."
    )
    tag = _tag(sent.text, "product_id")
    assert 'aria-invalid="true"' in tag and 'aria-describedby="rule-error"' in tag and "autofocus" in tag


# 2. Fields that do not apply to the chosen kind


async def test_a_threshold_that_does_not_apply_is_ignored_from_the_form_not_refused(client: Client) -> None:
    await signed_up(client, "alerts_user")
    assert (await _rule(client, kind="score_rise", threshold="10", window_hours="24")).status_code == 303
    listed = (await client.get("/ui/watchlist", headers=HTML)).text
    rule_id = re.findall(r"\?edit=(\d+)#", listed)[0]
    switched = await client.post(
        "/ui/alerts",
        data={
            "csrf_token": await csrf(client),
            "action": "replace-rule",
            "rule_id": rule_id,
            "kind": "status_exploding",
            "threshold": "10.0",
            "window_hours": "24",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert switched.status_code == 303, switched.text
    shown = html.unescape((await client.get("/ui/watchlist", headers=HTML)).text)
    assert "Rule saved." in shown
    assert "Status becomes exploding · all watched products" in shown
    assert "threshold 10.0" not in shown
    # The API keeps to its contract: a threshold a status rule cannot have is a 422.
    bearer = {"Authorization": f"Bearer {client.cookies['ms_session']}"}
    refused = await client.post(
        "/alert-rules", json={"kind": "status_exploding", "threshold": 5}, headers=bearer
    )
    assert refused.status_code == 422


async def test_the_form_says_which_kinds_each_field_is_for(client: Client) -> None:
    await signed_up(client, "alerts_user")
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    assert '<label for="threshold">Threshold (score rules only)</label>' in page
    assert (
        '<label for="window_hours">Window in hours (“Score rises by a number of points” rules only)</label>'
        in page
    )
    assert re.search(r'data-kinds="score_rise score_threshold"[^>]*>\s*<label for="threshold">', page)
    assert re.search(r'data-kinds="score_rise"[^>]*>\s*<label for="window_hours">', page)


# 3. Alerts: their product, how many are unread, read one by one


async def test_each_alert_links_to_its_product_and_the_navigation_counts_the_unread(client: Client) -> None:
    await signed_up(client, "alerts_user")
    lamp = await _product(client, "Desk Lamp")
    before = (await client.get("/", headers=HTML)).text
    assert 'class="badge"' not in before, "no count while nothing is unread"
    first, _second = await _alerts(client, lamp, ["Desk Lamp is exploding", "Desk Lamp is exploding again"])
    trending = (await client.get("/", headers=HTML)).text
    assert re.search(
        r'<a href="/ui/watchlist"[^>]*>Watchlist &amp; alerts <span class="badge">2 unread</span></a>',
        trending,
    ), "the navigation says how many alerts are unread"
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    assert page.count(f'<a href="/ui/products/{lamp}">Desk Lamp is exploding') == 2, (
        "each alert links to its product"
    )
    marks = re.findall(
        r'<form method="post" action="/ui/alerts#alerts" class="inline">(.*?)</form>', page, re.S
    )
    one = [m for m in marks if f'name="alert_id" value="{first}"' in m]
    assert len(one) == 1 and 'name="action" value="read"' in one[0]
    assert 'aria-label="Mark read: Desk Lamp is exploding"' in one[0] and ">Mark read</button>" in one[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', one[0]))
    sent = await client.post("/ui/alerts", data=fields, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/watchlist"
    after = (await client.get("/ui/watchlist", headers=HTML)).text
    assert '<span class="badge">1 unread</span>' in after
    assert f'name="alert_id" value="{first}"' not in after, "a read alert has no Mark read"
    unforged = {**fields, "csrf_token": "forged"}
    assert (await client.post("/ui/alerts", data=unforged, follow_redirects=False)).status_code == 403


async def test_the_alerts_are_listed_a_page_at_a_time_keeping_the_pages_other_state(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The navigation counts every unread alert: the list says which of them it shows, and
    pages to the others; its links keep the rule being edited, and the alert forms the page."""
    monkeypatch.setattr(pages, "ALERTS_PAGE", 2)
    await signed_up(client, "alerts_user")
    lamp = await _product(client, "Desk Lamp")
    await _alerts(client, lamp, [f"alert {n}" for n in range(5)])
    assert (await _rule(client, kind="score_threshold", threshold="95")).status_code == 303
    first = html.unescape((await client.get("/ui/watchlist", headers=HTML)).text)
    rule_id = re.findall(r"\?edit=(\d+)#", first)[0]

    def listed(text: str) -> list[str]:
        return re.findall(r'<a href="/ui/products/\d+">(alert \d)</a>', text)

    assert listed(first) == ["alert 4", "alert 3"], "newest first"
    assert "Alerts 1–2 of your alerts, newest first; 5 unread in all." in first
    older = re.findall(r'<a href="([^"]+)" rel="next">Older alerts</a>', first)
    assert older == ["/ui/watchlist?alerts_page=2#alerts"]
    assert 'rel="prev"' not in first

    editing = f"/ui/watchlist?edit={rule_id}&alerts_page=2"
    second = html.unescape((await client.get(editing, headers=HTML)).text)
    assert listed(second) == ["alert 2", "alert 1"]
    assert "Alerts 3–4 of your alerts" in second
    assert f'<a href="/ui/watchlist?edit={rule_id}#alerts" rel="prev">Newer alerts</a>' in second
    assert (
        f'<a href="/ui/watchlist?edit={rule_id}&alerts_page=3#alerts" rel="next">Older alerts</a>' in second
    )
    assert f"Changing rule #{rule_id}" in second, "the rule being edited stays in the form"
    assert f'href="/ui/watchlist?delete={rule_id}&alerts_page=2#rule-{rule_id}"' in second, (
        "the rules' links keep the alerts' page"
    )
    marks = re.findall(
        r'<form method="post" action="/ui/alerts#alerts" class="inline">(.*?)</form>', second, re.S
    )
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', marks[-1]))
    assert fields["action"] == "read" and fields["alerts_page"] == "2"
    sent = await client.post("/ui/alerts", data=fields, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/watchlist?alerts_page=2"

    last = html.unescape((await client.get("/ui/watchlist?alerts_page=3", headers=HTML)).text)
    assert listed(last) == ["alert 0"] and 'rel="next"' not in last
    assert "Alert 5 of your alerts, newest first; 4 unread in all." in last
    beyond = html.unescape((await client.get("/ui/watchlist?alerts_page=9", headers=HTML)).text)
    assert listed(beyond) == []
    assert "Page 9 of your alerts is past the end of the list." in beyond
    assert '<a href="/ui/watchlist#alerts">the newest alerts</a>' in beyond
    wrong = html.unescape((await client.get("/ui/watchlist?alerts_page=x", headers=HTML)).text)
    assert listed(wrong) == ["alert 4", "alert 3"], "a page that is not a number is the first"


# 4. Deleting a rule


async def test_deleting_a_rule_asks_first_and_then_says_which_rule_went(client: Client) -> None:
    await signed_up(client, "alerts_user")
    assert (await _rule(client, kind="score_threshold", threshold="95")).status_code == 303
    page = (await client.get("/ui/watchlist", headers=HTML)).text
    summary = "Score reaches a level · threshold 95.0 · all watched products"
    rule_id = re.findall(r"\?edit=(\d+)#", page)[0]
    assert f'aria-label="Edit rule: {summary}"' in page
    ask = re.search(
        r'<a href="(/ui/watchlist\?delete=\d+#rule-\d+)" aria-label="Delete rule: ([^"]*)">Delete</a>', page
    )
    assert ask and ask.group(2) == summary, "Delete asks first, naming the rule"
    confirming = (await client.get(ask.group(1), headers=HTML)).text
    assert "Delete this rule?" in confirming
    form = re.search(r'<form method="post" action="/ui/alerts#rules"[^>]*>(.*?)</form>', confirming, re.S)
    assert form and 'value="delete-rule"' in form.group(1)
    assert f'aria-label="Delete rule: {summary}">Yes, delete</button>' in form.group(1)
    assert '<a href="/ui/watchlist#rules">Keep it</a>' in confirming
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))
    assert fields["rule_id"] == rule_id
    sent = await client.post("/ui/alerts", data=fields, follow_redirects=False)
    assert sent.status_code == 303
    after = html.unescape((await client.get("/ui/watchlist", headers=HTML)).text)
    assert f"Deleted the rule “{summary}”." in after
    assert "?edit=" not in after
    again = html.unescape((await client.get("/ui/watchlist", headers=HTML)).text)
    assert "Deleted the rule" not in again, "the note is said once"


# 5 and 6. A refusal points at its field, and is a 422


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ({"kind": "score_rise", "threshold": "ten", "window_hours": "12"}, "threshold"),
        ({"kind": "score_rise", "threshold": "5", "window_hours": "9999"}, "window_hours"),
        ({"kind": "score_sometimes"}, "kind"),
        (
            {"kind": "status_exploding", "notify_webhook": "on", "webhook_url": "https://127.0.0.1/in"},
            "webhook_url",
        ),
    ],
)
async def test_a_refused_rule_is_a_422_pointing_at_the_field(
    client: Client, typed: dict[str, str], field: str
) -> None:
    await signed_up(client, "alerts_user")
    sent = await _rule(client, **typed)
    assert sent.status_code == 422
    tag = _tag(sent.text, field)
    assert 'aria-invalid="true"' in tag and 'aria-describedby="rule-error"' in tag and "autofocus" in tag
    assert sent.text.count('aria-invalid="true"') == 1 and sent.text.count("autofocus") == 1


async def test_a_rule_the_same_as_another_is_a_409(client: Client) -> None:
    await signed_up(client, "alerts_user")
    assert (await _rule(client, kind="status_exploding")).status_code == 303
    again = await _rule(client, kind="status_exploding")
    assert again.status_code == 409
    assert "you already have this rule" in _refusal(again.text)
    assert 'aria-invalid="true"' not in again.text
