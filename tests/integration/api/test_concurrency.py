"""Requests at the same moment: the API's guarantees hold when requests race on one store,
through one server process or two sharing the database (httpx's ASGI transport runs requests
concurrently on one event loop, as a server does; each worker has its own engine and pool).

A race shows only in some interleavings, so each is run :data:`ATTEMPTS` times; the tests
assert on answers and on what is stored, never on timing."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx

from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.container import Container
from marketscout.entrypoints.notify import dispatch_once
from marketscout.entrypoints.settings import Settings
from tests.integration.api.support import Headers, MovableClock, build_container, setup_ad, snap
from tests.receivers import WebhookReceiver, webhook_receiver

ATTEMPTS = 6
PASSWORD = "correct horse battery"


@dataclasses.dataclass(frozen=True)
class Worker:
    client: httpx.AsyncClient
    container: Container


@contextlib.asynccontextmanager
async def two_workers(settings: Settings, clock: MovableClock) -> AsyncIterator[tuple[Worker, Worker]]:
    """Two server processes' apps on the same database, each with its own engine (one app
    serves both on the in-memory store, which lives in its process). Lifespans are entered and
    left in the test's own task."""
    configured = dataclasses.replace(settings, webhook_allow_private=True)
    shared = not configured.database_url.startswith(("sqlite", "postgresql"))
    async with contextlib.AsyncExitStack() as stack:
        workers: list[Worker] = []
        for _ in range(1 if shared else 2):
            container = build_container(configured, clock)
            app = create_app(container)
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
            await stack.enter_async_context(app.lifespan())
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
            )
            workers.append(Worker(client, container))
        yield workers[0], workers[-1]


async def at_once(*requests: Awaitable[httpx.Response]) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


async def sign_up(client: httpx.AsyncClient, username: str) -> Headers:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    assert (await client.post("/signup", json=body)).status_code == 201
    token = await client.post("/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def rising(ad_id: int, region: str = "US") -> list[dict[str, Any]]:
    """Two days of readings, every six hours, growing fast: enough for a score above 1."""
    return [snap(ad_id, 48 - 6 * i, int(1000 * 1.6**i), region) for i in range(9)]


async def test_a_refresh_token_used_twice_at_once_rotates_at_most_once(
    settings: Settings, clock: MovableClock
) -> None:
    async with two_workers(settings, clock) as (one, two):
        await sign_up(one.client, "rotator")
        for _ in range(ATTEMPTS):
            login = await one.client.post("/token", data={"username": "rotator", "password": PASSWORD})
            body = {"refresh_token": login.json()["refresh_token"]}
            answers = await at_once(
                one.client.post("/token/refresh", json=body), two.client.post("/token/refresh", json=body)
            )
            assert statuses(answers) in ([200, 401], [401, 401]), [a.text for a in answers]


async def test_two_identical_sign_ups_at_once_make_one_account_and_one_400(
    settings: Settings, clock: MovableClock
) -> None:
    async with two_workers(settings, clock) as (one, two):
        for attempt in range(ATTEMPTS):
            body = {"username": f"twin{attempt}", "email": f"twin{attempt}@example.com", "password": PASSWORD}
            answers = await at_once(
                one.client.post("/signup", json=body), two.client.post("/signup", json=body)
            )
            assert statuses(answers) == [201, 400], [a.text for a in answers]
            refused = next(a for a in answers if a.status_code == 400).json()
            assert refused["details"][0]["field"] in {"username", "email"}


async def test_one_external_id_posted_twice_at_once_is_one_ad_and_one_409(
    settings: Settings, clock: MovableClock
) -> None:
    async with two_workers(settings, clock) as (one, two):
        headers = await sign_up(one.client, "poster")
        product = await one.client.post("/products", json={"name": "P", "description": "d"}, headers=headers)
        for attempt in range(ATTEMPTS):
            body = {
                "product_id": product.json()["id"],
                "platform": "TikTok",
                "ad_content": "c",
                "external_id": f"x{attempt}",
            }
            answers = await at_once(
                one.client.post("/ads", json=body, headers=headers),
                two.client.post("/ads", json=body, headers=headers),
            )
            assert statuses(answers) == [201, 409], [a.text for a in answers]
        ads = (await one.client.get("/ads", params={"product_id": product.json()["id"]})).json()
        assert len(ads) == ATTEMPTS


async def test_two_checks_at_once_store_answer_and_deliver_each_alert_once(
    settings: Settings, clock: MovableClock
) -> None:
    """Two ``GET /check-alerts`` for one user at once, on two workers: each event is stored once,
    answered as new by one of them, has one delivery, and two dispatchers sending at once
    send it once."""
    receiver = WebhookReceiver(now=lambda: clock.now().timestamp())
    with webhook_receiver(receiver):
        async with two_workers(settings, clock) as (one, two):
            headers = await sign_up(one.client, "checker")
            rule = {
                "kind": "score_threshold",
                "threshold": 1,
                "channels": ["webhook"],
                "webhook_url": receiver.url,
            }
            created = await one.client.post("/alert-rules", json=rule, headers=headers)
            receiver.secret = created.json()["webhook_secret"]
            answered: list[int] = []
            for attempt in range(ATTEMPTS):
                product_id, ad_id = await setup_ad(one.client, headers, f"check-{attempt}")
                # Stored before the product is watched, so no rule covers it yet.
                assert (
                    await one.client.post("/engagement", json=rising(ad_id), headers=headers)
                ).status_code == 200
                watched = await one.client.post(
                    "/watchlists", json={"product_id": product_id}, headers=headers
                )
                assert watched.status_code == 201
                answers = await at_once(
                    one.client.get("/check-alerts", headers=headers),
                    two.client.get("/check-alerts", headers=headers),
                )
                assert statuses(answers) == [200, 200], [a.text for a in answers]
                answered.extend(alert["id"] for a in answers for alert in a.json()["new_alerts"])
            alerts = (await one.client.get("/alerts", headers=headers)).json()
            assert sorted(a["product_id"] for a in alerts) == sorted({a["product_id"] for a in alerts})
            assert len(alerts) == ATTEMPTS, alerts
            assert sorted(answered) == sorted(a["id"] for a in alerts), "each alert is answered as new once"
            deliveries = (await one.client.get("/deliveries", headers=headers)).json()
            assert sorted(d["alert_id"] for d in deliveries) == sorted(a["id"] for a in alerts)

            reports = await asyncio.gather(dispatch_once(one.container), dispatch_once(two.container))
            assert sum(r.delivered for r in reports) == ATTEMPTS
    sent = Counter(r["headers"]["webhook-id"] for r in receiver.requests)
    assert len(sent) == ATTEMPTS and set(sent.values()) == {1}, sent
    assert sorted(r["json"]["alert"]["id"] for r in receiver.accepted) == sorted(a["id"] for a in alerts)


async def test_a_check_racing_an_ingest_stores_each_alert_once(
    settings: Settings, clock: MovableClock
) -> None:
    """An ingest evaluates the rules of the products it touched while ``GET /check-alerts``
    evaluates the same user's: one alert per event, one delivery per alert, no error."""
    async with two_workers(settings, clock) as (one, two):
        headers = await sign_up(one.client, "racer")
        rule = {
            "kind": "score_threshold",
            "threshold": 1,
            "channels": ["webhook"],
            "webhook_url": "http://127.0.0.1:9/",
        }
        assert (await one.client.post("/alert-rules", json=rule, headers=headers)).status_code == 201
        for attempt in range(ATTEMPTS):
            product_id, ad_id = await setup_ad(one.client, headers, f"race-{attempt}")
            readings = rising(ad_id)
            assert (
                await one.client.post("/engagement", json=readings[:3], headers=headers)
            ).status_code == 200
            watched = await one.client.post("/watchlists", json={"product_id": product_id}, headers=headers)
            assert watched.status_code == 201
            answers = await at_once(
                one.client.post("/engagement", json=readings[3:], headers=headers),
                two.client.get("/check-alerts", headers=headers),
            )
            assert statuses(answers) == [200, 200], [a.text for a in answers]
        alerts = (await one.client.get("/alerts", headers=headers)).json()
        assert sorted(Counter(a["product_id"] for a in alerts).values()) == [1] * ATTEMPTS, alerts
        deliveries = (await one.client.get("/deliveries", headers=headers)).json()
        assert sorted(d["alert_id"] for d in deliveries) == sorted(a["id"] for a in alerts)


async def test_overlapping_ingests_at_once_store_each_reading_once(
    settings: Settings, clock: MovableClock
) -> None:
    """Two batches at once over the same ads, regions and hours, in opposite orders: both
    answer 200, each reading is stored by exactly one of them, and the scores are those of
    every reading (the same as scoring again from scratch)."""
    async with two_workers(settings, clock) as (one, two):
        headers = await sign_up(one.client, "feeder")
        ads = [await setup_ad(one.client, headers, f"feed-{i}") for i in range(3)]
        for attempt in range(ATTEMPTS):
            readings = [
                {
                    **r,
                    "views": r["views"] + 10 * attempt,
                    "observed_at": f"{r['observed_at'][:-6]}.{attempt:06d}+00:00",
                }
                for _, ad_id in ads
                for region in ("US", "DE")
                for r in rising(ad_id, region)
            ]
            first, second = readings[: 2 * len(readings) // 3], readings[len(readings) // 3 :]
            answers = await at_once(
                one.client.post("/engagement", json=first, headers=headers),
                two.client.post("/engagement", json=list(reversed(second)), headers=headers),
            )
            assert statuses(answers) == [200, 200], [a.text for a in answers]
            assert sum(a.json()["stored"] for a in answers) == len(readings)
            assert sum(a.json()["duplicates"] for a in answers) == len(first) + len(second) - len(readings)
        for product_id, _ in ads:
            kept = (await one.client.get(f"/trends/{product_id}")).json()["history"]
            fresh = (await one.client.post(f"/calculate-score/{product_id}", headers=headers)).json()
            assert kept[-1]["trend_score"] == fresh["trend_score"], "the last score counts every reading"


async def test_two_identical_watches_at_once_make_one_entry(settings: Settings, clock: MovableClock) -> None:
    """docs/api.md: a product already on the list answers 200 with the existing entry, also
    when the first adding has not committed yet."""
    async with two_workers(settings, clock) as (one, two):
        headers = await sign_up(one.client, "watcher")
        for attempt in range(ATTEMPTS):
            product = await one.client.post(
                "/products", json={"name": f"P{attempt}", "description": "d"}, headers=headers
            )
            body = {"product_id": product.json()["id"]}
            answers = await at_once(
                one.client.post("/watchlists", json=body, headers=headers),
                two.client.post("/watchlists", json=body, headers=headers),
            )
            assert statuses(answers) == [200, 201], [a.text for a in answers]
            assert answers[0].json() == answers[1].json()
        assert len((await one.client.get("/watchlists", headers=headers)).json()) == ATTEMPTS


async def test_identical_alert_rules_at_once_are_one_rule_and_one_409(
    settings: Settings, clock: MovableClock
) -> None:
    """docs/api.md: a rule identical to one the user has is a 409 naming it, also when both
    are written at the same moment: two identical POSTs, or two PUTs making two rules alike."""
    async with two_workers(settings, clock) as (one, two):
        headers = await sign_up(one.client, "ruler")
        for attempt in range(ATTEMPTS):
            body = {"kind": "score_threshold", "threshold": 10 + attempt}
            answers = await at_once(
                one.client.post("/alert-rules", json=body, headers=headers),
                two.client.post("/alert-rules", json=body, headers=headers),
            )
            assert statuses(answers) == [201, 409], [a.text for a in answers]
        for attempt in range(ATTEMPTS):
            ids = [
                (
                    await one.client.post(
                        "/alert-rules",
                        json={"kind": "score_rise", "threshold": t, "window_hours": 24},
                        headers=headers,
                    )
                ).json()["id"]
                for t in (50 + 2 * attempt, 51 + 2 * attempt)
            ]
            alike = {"kind": "score_threshold", "threshold": 90 + attempt}
            answers = await at_once(
                one.client.put(f"/alert-rules/{ids[0]}", json=alike, headers=headers),
                two.client.put(f"/alert-rules/{ids[1]}", json=alike, headers=headers),
            )
            assert statuses(answers) == [200, 409], [a.text for a in answers]
        rules = (await one.client.get("/alert-rules", headers=headers)).json()
        questions = [(r["kind"], r["product_id"], r["threshold"], r["window_hours"]) for r in rules]
        assert len(questions) == len(set(questions)) == 3 * ATTEMPTS, questions


async def test_marking_alerts_read_at_once_counts_each_alert_once(
    settings: Settings, clock: MovableClock
) -> None:
    async with two_workers(settings, clock) as (one, two):
        headers = await sign_up(one.client, "reader")
        rule = {"kind": "score_threshold", "threshold": 1}
        assert (await one.client.post("/alert-rules", json=rule, headers=headers)).status_code == 201
        for attempt in range(ATTEMPTS):
            product_id, ad_id = await setup_ad(one.client, headers, f"read-{attempt}")
            await one.client.post("/watchlists", json={"product_id": product_id}, headers=headers)
            assert (
                await one.client.post("/engagement", json=rising(ad_id), headers=headers)
            ).status_code == 200
            answers = await at_once(
                one.client.post("/alerts/read", json={}, headers=headers),
                two.client.post("/alerts/read", json={}, headers=headers),
            )
            assert statuses(answers) == [200, 200], [a.text for a in answers]
            assert sum(a.json()["marked_read"] for a in answers) == 1, [a.text for a in answers]
        assert (await one.client.get("/alerts", params={"unread": True}, headers=headers)).json() == []
