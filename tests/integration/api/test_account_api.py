"""Watchlists, alert rules, alerts and exports: each user sees only their own."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.model import Alert, AlertRuleKind, Channel, Delivery
from tests.integration.api.support import NOW, MovableClock, setup_ad, snap

Client = AsyncTestClient[Litestar]
MakeUser = Callable[[str], Awaitable[dict[str, str]]]


async def test_watchlist_add_twice_list_remove(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("watcher")
    product_id, _ = await setup_ad(client, headers)
    first = await client.post("/watchlists", json={"product_id": product_id}, headers=headers)
    assert first.status_code == 201
    again = await client.post("/watchlists", json={"product_id": product_id}, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    listing = (await client.get("/watchlists", headers=headers)).json()
    assert [e["product_id"] for e in listing] == [product_id]
    assert (await client.delete(f"/watchlists/{product_id}", headers=headers)).status_code == 204
    assert (await client.delete(f"/watchlists/{product_id}", headers=headers)).status_code == 404
    assert (await client.get("/watchlists", headers=headers)).json() == []


async def test_watching_an_unknown_product_is_404(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("watcher")
    response = await client.post("/watchlists", json={"product_id": 12345}, headers=headers)
    assert response.status_code == 404


async def test_users_never_see_each_other(client: Client, make_user: MakeUser) -> None:
    alice = await make_user("alice")
    bob = await make_user("bob")
    product_id, _ = await setup_ad(client, alice)
    await client.post("/watchlists", json={"product_id": product_id}, headers=alice)
    rule = await client.post("/alert-rules", json={"kind": "status_exploding"}, headers=alice)
    assert rule.status_code == 201
    assert (await client.get("/watchlists", headers=bob)).json() == []
    assert (await client.get("/alert-rules", headers=bob)).json() == []
    assert (await client.delete(f"/alert-rules/{rule.json()['id']}", headers=bob)).status_code == 404
    assert (await client.delete(f"/watchlists/{product_id}", headers=bob)).status_code == 404
    export = await client.get("/export/watchlist", headers=bob)
    assert export.text.strip() == "Product ID,Product Name,Description,Added Date"
    assert len((await client.get("/alert-rules", headers=alice)).json()) == 1


async def test_alert_rule_validation(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ruler")
    cases = [
        {"kind": "score_rise"},
        {"kind": "score_rise", "threshold": 10},
        {"kind": "score_threshold"},
        {"kind": "score_threshold", "threshold": 101},
        {"kind": "score_rise", "threshold": 10, "window_hours": 0},
        {"kind": "nonsense"},
    ]
    for payload in cases:
        response = await client.post("/alert-rules", json=payload, headers=headers)
        assert response.status_code == 422, payload
        assert response.json()["details"], payload
    assert (await client.get("/alert-rules", headers=headers)).json() == []


async def test_a_viral_ad_alerts_exactly_once(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("hunter")
    product_id, ad_id = await setup_ad(client, headers)
    peers: list[int] = []
    for i in range(6):
        _, peer = await setup_ad(client, headers, external_id=f"peer-{i}")
        peers.append(peer)
    await client.post("/watchlists", json={"product_id": product_id}, headers=headers)
    assert (
        await client.post("/alert-rules", json={"kind": "new_viral_ad"}, headers=headers)
    ).status_code == 201
    batch = []
    for hours in range(96, -1, -12):
        batch.append(snap(ad_id, hours, int(1000 * 1.9 ** ((96 - hours) / 12))))
        batch.extend(snap(peer, hours, 1000 + (96 - hours) * 5) for peer in peers)
    assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
    alerts = (await client.get("/alerts", headers=headers)).json()
    viral = [a for a in alerts if a["kind"] == "new_viral_ad"]
    assert len(viral) == 1, alerts
    check = (await client.get("/check-alerts", headers=headers)).json()
    assert check["alerts"] == [], "the same event must never alert twice"
    marked = (await client.post("/alerts/read", json={}, headers=headers)).json()
    assert marked["marked_read"] == len(alerts)
    assert (await client.get("/alerts", params={"unread": True}, headers=headers)).json() == []


async def test_exports_are_csv_with_headers_and_no_formulas(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("exporter")
    product = await client.post(
        "/products", json={"name": '=HYPERLINK("http://evil")', "description": "+1 great"}, headers=headers
    )
    product_id = product.json()["id"]
    await client.post("/watchlists", json={"product_id": product_id}, headers=headers)
    await client.post(f"/calculate-score/{product_id}", headers=headers)
    watchlist = await client.get("/export/watchlist", headers=headers)
    assert watchlist.status_code == 200
    assert watchlist.headers["content-type"] == "text/csv; charset=utf-8"
    assert watchlist.headers["content-disposition"] == "attachment; filename=watchlist_export.csv"
    rows = list(csv.reader(io.StringIO(watchlist.text)))
    assert rows[0] == ["Product ID", "Product Name", "Description", "Added Date"]
    assert rows[1][1] == '\'=HYPERLINK("http://evil")'
    assert rows[1][2] == "'+1 great"
    trends = await client.get("/export/trends", headers=headers)
    assert trends.headers["content-type"] == "text/csv; charset=utf-8"
    trend_rows = list(csv.reader(io.StringIO(trends.text)))
    assert trend_rows[0] == ["Product ID", "Product Name", "Trend Score", "Date"]
    assert len(trend_rows) == 2
    unknown = await client.get("/export/passwords", headers=headers)
    assert unknown.status_code == 400
    assert (await client.get("/export/watchlist")).status_code == 401


async def test_private_webhook_targets_are_refused_at_creation(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("hooker")
    for url in [
        "http://169.254.169.254/latest",
        "http://127.0.0.1:9/x",
        "http://[::1]/x",
        "http://localhost/x",
        "http://0x7f000001/x",
    ]:
        payload = {"kind": "status_exploding", "channels": ["webhook"], "webhook_url": url}
        response = await client.post("/alert-rules", json=payload, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert [d["field"] for d in response.json()["details"]] == ["webhook_url"], url
    assert (await client.get("/alert-rules", headers=headers)).json() == []


async def test_every_user_list_takes_skip_and_limit(client: Client, make_user: MakeUser) -> None:
    """/watchlists, /alert-rules, /alerts and /deliveries page like /products (skip, limit 1-100)."""
    headers = await make_user("pager")
    product_ids = []
    for number in range(7):
        product = await client.post(
            "/products", json={"name": f"Lamp {number}", "description": "d"}, headers=headers
        )
        product_ids.append(product.json()["id"])
        await client.post("/watchlists", json={"product_id": product.json()["id"]}, headers=headers)
        rule = {"kind": "score_threshold", "threshold": 10 + number}
        assert (await client.post("/alert-rules", json=rule, headers=headers)).status_code == 201
    user_id = (await client.get("/watchlists", headers=headers)).json()[0]["user_id"]
    uow = client.app.state.container.unit_of_work()
    async with uow:
        for number, product_id in enumerate(product_ids):
            alert = await uow.alerts.add_if_new(
                Alert(
                    user_id=user_id,
                    rule_id=0,
                    product_id=product_id,
                    kind=AlertRuleKind.NEW_VIRAL_AD,
                    event_key=f"seeded:{number}",
                    message=f"alert {number}",
                    created_at=NOW + timedelta(minutes=number),
                )
            )
            assert alert is not None
            await uow.deliveries.add(
                Delivery(
                    alert_id=alert.id,
                    user_id=user_id,
                    channel=Channel.EMAIL,
                    target="pager@example.com",
                    next_attempt_at=NOW,
                    created_at=NOW + timedelta(minutes=number),
                )
            )
        await uow.commit()
    for path in ("/watchlists", "/alert-rules", "/alerts", "/deliveries"):
        everything = (await client.get(path, headers=headers)).json()
        assert len(everything) == 7, path
        page = await client.get(path, params={"skip": 5, "limit": 5}, headers=headers)
        assert page.status_code == 200, path
        assert page.json() == everything[5:], path
        assert (await client.get(path, params={"limit": 1}, headers=headers)).json() == everything[:1], path
        assert (await client.get(path, params={"skip": 2, "limit": 3}, headers=headers)).json() == everything[
            2:5
        ], path
        for bad in ({"limit": 0}, {"limit": 101}, {"skip": -1}, {"limit": "x"}):
            refused = await client.get(path, params=bad, headers=headers)
            assert refused.status_code == 422, (path, bad)
            assert [d["field"] for d in refused.json()["details"]] == [next(iter(bad))], (path, bad)
    newest = (await client.get("/alerts", params={"limit": 5, "skip": 5}, headers=headers)).json()
    assert [a["message"] for a in newest] == ["alert 1", "alert 0"]


async def test_an_identical_rule_is_refused_with_409(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("twice")
    product_id, _ = await setup_ad(client, headers)
    rule = {"kind": "score_threshold", "threshold": 50, "product_id": product_id}
    first = await client.post("/alert-rules", json=rule, headers=headers)
    assert first.status_code == 201
    again = await client.post("/alert-rules", json={**rule, "threshold": 50.0}, headers=headers)
    assert again.status_code == 409, again.text
    assert again.json()["status_code"] == 409
    assert f"id {first.json()['id']}" in again.json()["message"]
    other_threshold = await client.post("/alert-rules", json={**rule, "threshold": 60}, headers=headers)
    whole_watchlist = await client.post(
        "/alert-rules", json={"kind": "score_threshold", "threshold": 50}, headers=headers
    )
    assert (other_threshold.status_code, whole_watchlist.status_code) == (201, 201)
    assert len((await client.get("/alert-rules", headers=headers)).json()) == 3
    someone_else = await make_user("someone")
    assert (await client.post("/alert-rules", json=rule, headers=someone_else)).status_code == 201


async def test_a_viral_ad_alerted_by_default_does_not_alert_again_under_an_explicit_rule(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("defaulted")
    product_id, ad_id = await setup_ad(client, headers)
    peers = [(await setup_ad(client, headers, external_id=f"peer-{i}"))[1] for i in range(6)]
    await client.post("/watchlists", json={"product_id": product_id}, headers=headers)
    batch = []
    for hours in range(96, -1, -12):
        batch.append(snap(ad_id, hours, int(1000 * 1.9 ** ((96 - hours) / 12))))
        batch.extend(snap(peer, hours, 1000 + (96 - hours) * 5) for peer in peers)
    assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
    viral = [a for a in (await client.get("/alerts", headers=headers)).json() if a["kind"] == "new_viral_ad"]
    # No rule of the user's found it: no id (0 would read as a rule that could be looked up).
    assert [a["rule_id"] for a in viral] == [None], "alerted under the default rule"
    explicit = await client.post(
        "/alert-rules", json={"kind": "new_viral_ad", "product_id": product_id}, headers=headers
    )
    assert explicit.status_code == 201
    assert (await client.get("/check-alerts", headers=headers)).json()["alerts"] == []
    assert (await client.delete(f"/alert-rules/{explicit.json()['id']}", headers=headers)).status_code == 204
    assert (await client.get("/check-alerts", headers=headers)).json()["alerts"] == [], (
        "and back to the defaults"
    )
    after = [a for a in (await client.get("/alerts", headers=headers)).json() if a["kind"] == "new_viral_ad"]
    assert after == viral
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["AlertOut"]
    rule_id = schema["properties"]["rule_id"]
    assert {"type": "null"} in rule_id["anyOf"], rule_id
    assert "default rule" in rule_id["description"], rule_id


async def test_a_rule_is_changed_in_place_keeping_its_secret_while_its_url_stays(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("editor")
    product_id, _ = await setup_ad(client, headers)
    hook = {"channels": ["webhook"], "webhook_url": "https://hooks.example.com/a"}
    made = await client.post(
        "/alert-rules", json={"kind": "score_threshold", "threshold": 70, **hook}, headers=headers
    )
    assert made.status_code == 201
    rule = made.json()
    secret = rule["webhook_secret"]
    # A new threshold and a product; the same URL: the same id and secret (not shown again).
    changed = await client.put(
        f"/alert-rules/{rule['id']}",
        json={"kind": "score_threshold", "threshold": 80, "product_id": product_id, **hook},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["id"], body["created_at"], body["threshold"], body["product_id"]) == (
        rule["id"],
        rule["created_at"],
        80,
        product_id,
    )
    assert body["webhook_secret"] is None, "the secret is shown only when it is new"
    listed = (await client.get("/alert-rules", headers=headers)).json()
    assert [(r["id"], r["threshold"]) for r in listed] == [(rule["id"], 80)]
    # A new URL: a new secret, shown once.
    moved = await client.put(
        f"/alert-rules/{rule['id']}",
        json={
            "kind": "score_threshold",
            "threshold": 80,
            "channels": ["webhook"],
            "webhook_url": "https://hooks.example.com/b",
        },
        headers=headers,
    )
    assert moved.status_code == 200
    assert moved.json()["webhook_secret"] not in (None, secret)
    # No webhook any more.
    plain = await client.put(f"/alert-rules/{rule['id']}", json={"kind": "status_exploding"}, headers=headers)
    assert plain.status_code == 200
    assert (plain.json()["kind"], plain.json()["webhook_url"], plain.json()["channels"]) == (
        "status_exploding",
        None,
        [],
    )


async def test_a_rule_says_when_its_question_last_changed(
    client: Client, make_user: MakeUser, clock: MovableClock
) -> None:
    """``changed_at``: null until what the rule asks changes (a change of delivery alone keeps
    it), then the moment of the change, in UTC, wherever the rule is answered; the OpenAPI
    document says it."""
    headers = await make_user("changed_at_user")
    made = await client.post(
        "/alert-rules", json={"kind": "score_threshold", "threshold": 70}, headers=headers
    )
    assert made.status_code == 201
    assert made.json()["changed_at"] is None
    path = f"/alert-rules/{made.json()['id']}"
    clock.advance(timedelta(minutes=1))
    hook = {"channels": ["webhook"], "webhook_url": "https://hooks.example.com/a"}
    delivery = await client.put(
        path, json={"kind": "score_threshold", "threshold": 70, **hook}, headers=headers
    )
    assert delivery.status_code == 200, delivery.text
    assert delivery.json()["changed_at"] is None, "a change of delivery alone is no new question"
    clock.advance(timedelta(minutes=1))
    asked = await client.put(path, json={"kind": "score_threshold", "threshold": 80, **hook}, headers=headers)
    assert asked.status_code == 200, asked.text
    changed_at = asked.json()["changed_at"]
    assert datetime.fromisoformat(changed_at) == NOW + timedelta(minutes=2)
    assert changed_at.endswith(("Z", "+00:00")), changed_at
    assert asked.json()["created_at"] == made.json()["created_at"]
    listed = (await client.get("/alert-rules", headers=headers)).json()
    assert [(r["id"], r["changed_at"]) for r in listed] == [(made.json()["id"], changed_at)]
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["AlertRuleOut"]
    assert "changed_at" in schema["required"], schema
    assert {"type": "string"} in schema["properties"]["changed_at"]["anyOf"], "as created_at is"
    assert {"type": "null"} in schema["properties"]["changed_at"]["anyOf"]


async def test_changing_a_rule_refuses_what_creating_one_refuses(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("careful")
    first = (
        await client.post("/alert-rules", json={"kind": "score_threshold", "threshold": 50}, headers=headers)
    ).json()
    second = (
        await client.post("/alert-rules", json={"kind": "score_threshold", "threshold": 60}, headers=headers)
    ).json()
    # Identical to another of the user's rules: 409 naming it; identical to itself: fine.
    same_as_first = await client.put(
        f"/alert-rules/{second['id']}", json={"kind": "score_threshold", "threshold": 50}, headers=headers
    )
    assert same_as_first.status_code == 409
    assert f"id {first['id']}" in same_as_first.json()["message"]
    unchanged = await client.put(
        f"/alert-rules/{second['id']}", json={"kind": "score_threshold", "threshold": 60}, headers=headers
    )
    assert unchanged.status_code == 200
    # A field breaking a rule: 422 naming it, the rule as it was.
    bad = await client.put(f"/alert-rules/{second['id']}", json={"kind": "score_rise"}, headers=headers)
    assert bad.status_code == 422
    assert "threshold" in bad.text
    unknown_product = await client.put(
        f"/alert-rules/{second['id']}",
        json={"kind": "score_threshold", "threshold": 60, "product_id": 999_999},
        headers=headers,
    )
    assert unknown_product.status_code == 404
    listed = (await client.get("/alert-rules", headers=headers)).json()
    assert [(r["id"], r["threshold"], r["product_id"]) for r in listed] == [
        (first["id"], 50, None),
        (second["id"], 60, None),
    ]
    # Someone else's rule, or none: 404, and theirs unchanged.
    other = await make_user("other_editor")
    assert (
        await client.put(f"/alert-rules/{first['id']}", json={"kind": "status_exploding"}, headers=other)
    ).status_code == 404
    assert (
        await client.put("/alert-rules/999999", json={"kind": "status_exploding"}, headers=headers)
    ).status_code == 404
    assert (await client.get("/alert-rules", headers=headers)).json() == listed
