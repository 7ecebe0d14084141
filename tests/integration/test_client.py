"""The Python client against the real application."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import msgspec
import pytest
from litestar.testing import TestClient

import marketscout.client as client_module
from marketscout.client import AsyncMarketScoutClient, MarketScoutClient, MarketScoutError
from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def api(clock: MovableClock) -> Iterator[MarketScoutClient]:
    app = create_app(build_container(api_settings(), clock))
    with TestClient(app=app) as http, MarketScoutClient(http=http) as client:
        yield client


def test_a_session_through_the_client(api: MarketScoutClient, clock: MovableClock) -> None:
    api.sign_up("client_user", "client@example.com", "a long passphrase")
    api.log_in("client_user", "a long passphrase")
    product = api.create_product("Neck Fan", "Wearable fan", keywords=["fan"])
    ad = api.create_ad(product.id, "TikTok", "Stay cool", external_id="nf-1")
    snapshots = [
        {
            "ad_id": ad.id,
            "region": "US",
            "observed_at": (NOW - timedelta(hours=h)).isoformat(),
            "views": 1000 * 2 ** (5 - h // 12),
        }
        for h in range(0, 72, 12)
    ]
    report = api.ingest(snapshots)
    assert (report.stored, report.duplicates, report.rejected) == (6, 0, [])
    assert api.ingest(snapshots).duplicates == 6
    ranked = api.trending(5)
    assert [t.product.id for t in ranked] == [product.id]
    assert 0 <= api.calculate_score(product.id).trend_score <= 100
    assert api.watch(product.id).product_id == product.id
    assert [e.product_id for e in api.watchlist()] == [product.id]
    assert api.export("watchlist").splitlines()[0] == "Product ID,Product Name,Description,Added Date"
    assert set(next(iter(api.heat_map([product.id]).values()))) >= {"North America", "Europe"}

    clock.advance(timedelta(minutes=45))  # the access token expired: the client refreshes once
    assert [e.product_id for e in api.watchlist()] == [product.id]


def test_errors_carry_the_api_shape(api: MarketScoutClient) -> None:
    with pytest.raises(MarketScoutError) as error:
        api.create_product("x", "y")
    assert error.value.status_code == 401
    api.sign_up("erring", "erring@example.com", "a long passphrase")
    api.log_in("erring", "a long passphrase")
    with pytest.raises(MarketScoutError) as invalid:
        api.create_product("   ", "y")
    assert invalid.value.status_code == 422
    assert invalid.value.details[0]["field"] == "name"
    rule = invalid.value.details[0]["rule"]
    assert str(invalid.value) == f"422: {invalid.value.message} (name: {rule})", "the details are said"


def test_pagination_walks_every_page(api: MarketScoutClient) -> None:
    api.sign_up("pager", "pager@example.com", "a long passphrase")
    api.log_in("pager", "a long passphrase")
    for index in range(130):
        api.create_product(f"Item {index}", "d")
    names = [p.name for p in api.iter_products()]
    assert len(names) == 130
    assert len(set(names)) == 130


def test_rate_limits_are_waited_for_or_reported(clock: MovableClock) -> None:
    app = create_app(
        build_container(api_settings(rate_limit_enabled=True, rate_limit_default="2/minute"), clock)
    )
    with TestClient(app=app) as http, MarketScoutClient(http=http, max_retry_wait=0.5) as client:
        client.trending()
        client.trending()
        with pytest.raises(MarketScoutError) as error:
            client.trending()
    assert error.value.status_code == 429


async def test_the_async_client(clock: MovableClock) -> None:
    app = create_app(build_container(api_settings(), clock))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        AsyncMarketScoutClient(http=http) as client,
    ):
        await http.post(
            "/signup", json={"username": "asyncer", "email": "a@example.com", "password": "a long passphrase"}
        )
        await client.log_in("asyncer", "a long passphrase")
        made = await client.create_product("Async Lamp", "d")
        assert [p.id async for p in client.iter_products()] == [made.id]
        assert await client.trending() == []
        assert await client.watchlist() == []
        ad = await client.create_ad(made.id, "TikTok", "glow", external_id="as-1")
        assert ad.product_id == made.id
        assert (await client.watch(made.id)).product_id == made.id
        rule = await client.create_alert_rule("score_threshold", product_id=made.id, threshold=80)
        assert [r.id for r in await client.alert_rules()] == [rule.id]
        assert await client.check_alerts() == []
        assert await client.alerts(unread_only=True) == []
        await client.delete_alert_rule(rule.id)
        assert await client.alert_rules() == []
        assert (await client.export("watchlist")).startswith("Product ID,")

        # Calls at once after the access token expired: one refresh for all of them (a refresh
        # token is good for one refresh; replaying it would revoke the login).
        clock.advance(timedelta(minutes=45))
        watched = await asyncio.gather(*(client.watchlist() for _ in range(4)))
        assert [[e.product_id for e in entries] for entries in watched] == [[made.id]] * 4
        assert [e.product_id for e in await client.watchlist()] == [made.id]


def test_alert_rules_alerts_and_deliveries_through_the_client(api: MarketScoutClient) -> None:
    api.sign_up("ruler", "ruler@example.com", "a long passphrase")
    api.log_in("ruler", "a long passphrase")
    product = api.create_product("Glow Lamp", "d")
    rule = api.create_alert_rule(
        "status_exploding",
        product_id=product.id,
        channels=["webhook"],
        webhook_url="https://hooks.example.com/marketscout",
    )
    assert rule.channels == ["webhook"]
    assert rule.webhook_secret is not None and rule.webhook_secret.startswith("whsec_")
    [listed] = api.alert_rules()
    assert (listed.id, listed.webhook_url, listed.webhook_secret) == (
        rule.id,
        "https://hooks.example.com/marketscout",
        None,
    )
    with pytest.raises(MarketScoutError) as refused:
        api.create_alert_rule("status_exploding", channels=["webhook"])
    assert refused.value.status_code == 422
    assert refused.value.details[0]["field"] == "webhook_url"
    assert api.alerts() == []
    assert api.mark_alerts_read() == 0
    assert api.deliveries(status="dead") == []
    api.delete_alert_rule(rule.id)
    assert api.alert_rules() == []


def test_a_list_shorter_than_a_page_takes_one_request(clock: MovableClock) -> None:
    app = create_app(build_container(api_settings(), clock))
    sent: list[str] = []
    with TestClient(app=app) as http, MarketScoutClient(http=http) as client:
        client.sign_up("counter", "counter@example.com", "a long passphrase")
        client.log_in("counter", "a long passphrase")
        made = [client.create_product(f"Item {index}", "d") for index in range(101)]
        client.watch(made[0].id)
        client.create_alert_rule("status_exploding", product_id=made[0].id)
        http.event_hooks["request"].append(lambda request: sent.append(request.url.path))
        assert len(list(client.iter_products())) == 101
        assert sent == ["/products", "/products"], "a full page, then a short one"
        sent.clear()
        assert [e.product_id for e in client.watchlist()] == [made[0].id]
        assert [r.product_id for r in client.alert_rules()] == [made[0].id]
        assert sent == ["/watchlists", "/alert-rules"]


async def test_a_list_shorter_than_a_page_takes_one_request_async(clock: MovableClock) -> None:
    app = create_app(build_container(api_settings(), clock))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
    sent: list[str] = []

    async def note(request: httpx.Request) -> None:
        sent.append(request.url.path)

    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        AsyncMarketScoutClient(http=http) as client,
    ):
        await client.sign_up("counter", "counter@example.com", "a long passphrase")
        await client.log_in("counter", "a long passphrase")
        made = await client.create_product("Async Item", "d")
        await client.watch(made.id)
        await client.create_alert_rule("status_exploding", product_id=made.id)
        http.event_hooks["request"].append(note)
        assert [p.id async for p in client.iter_products()] == [made.id]
        assert [e.product_id for e in await client.watchlist()] == [made.id]
        assert [r.product_id for r in await client.alert_rules()] == [made.id]
        assert sent == ["/products", "/watchlists", "/alert-rules"]


def _rate_limited_once(retry_after: str, answers: list[str]) -> httpx.MockTransport:
    """A server that answers the first request 429 with ``retry_after`` and the rest 200."""

    def answer(request: httpx.Request) -> httpx.Response:
        answers.append(request.url.path)
        if len(answers) == 1:
            body = {"status_code": 429, "message": "Rate limit exceeded: 2/minute", "details": []}
            return httpx.Response(429, json=body, headers={"Retry-After": retry_after})
        return httpx.Response(200, json={"trending_products": []})

    return httpx.MockTransport(answer)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's sleeps, recorded instead of slept; a negative one fails as time.sleep's does."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        slept.append(seconds)

    monkeypatch.setattr("marketscout.client.time.sleep", sleep)
    return slept


@pytest.mark.parametrize(
    "retry_after",
    ["-5", format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)],
    ids=["negative", "a date past"],
)
def test_a_retry_after_already_over_retries_at_once(retry_after: str, waits: list[float]) -> None:
    answers: list[str] = []
    transport = _rate_limited_once(retry_after, answers)
    with httpx.Client(transport=transport, base_url="http://testserver") as http:
        assert MarketScoutClient(http=http).trending() == []
    assert answers == ["/trending", "/trending"]
    assert waits == [0]


def test_a_retry_after_date_too_far_gives_up_saying_how_long(waits: list[float]) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    with httpx.Client(transport=_rate_limited_once(later, []), base_url="http://testserver") as http:
        client = MarketScoutClient(http=http, max_retry_wait=30)
        with pytest.raises(MarketScoutError) as error:
            client.trending()
    assert error.value.status_code == 429
    assert "the server asks to wait 7" in str(error.value)
    assert "more than max_retry_wait 30 s" in str(error.value)
    assert waits == []


def test_a_retry_after_over_the_cap_gives_up_saying_how_long(waits: list[float]) -> None:
    with httpx.Client(transport=_rate_limited_once("40", []), base_url="http://testserver") as http:
        client = MarketScoutClient(http=http, max_retry_wait=30)
        with pytest.raises(MarketScoutError) as error:
            client.trending()
    assert error.value.status_code == 429
    assert error.value.message == (
        "Rate limit exceeded: 2/minute; the server asks to wait 40 s, more than max_retry_wait 30 s"
    )
    assert waits == []


def _answering(response: httpx.Response) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda _: response), base_url="http://testserver")


def test_an_answer_that_is_not_json_is_a_client_error() -> None:
    page = httpx.Response(
        200, text="<html>a proxy's login page</html>", headers={"content-type": "text/html"}
    )
    with _answering(page) as http, pytest.raises(MarketScoutError) as error:
        MarketScoutClient(http=http).trending()
    assert "not JSON" in str(error.value)


def test_error_details_that_are_not_a_list_are_kept_whole() -> None:
    body = {"status_code": 400, "message": "Bad request", "details": "limit must be a number"}
    with _answering(httpx.Response(400, json=body)) as http, pytest.raises(MarketScoutError) as error:
        MarketScoutClient(http=http).trending()
    assert error.value.details == [{"rule": "limit must be a number"}]
    assert str(error.value) == "400: Bad request (limit must be a number)"


def test_ingest_takes_datetimes_with_a_zone(api: MarketScoutClient) -> None:
    api.sign_up("timely", "timely@example.com", "a long passphrase")
    api.log_in("timely", "a long passphrase")
    product = api.create_product("Clock Lamp", "d")
    ad = api.create_ad(product.id, "TikTok", "tick")
    report = api.ingest([{"ad_id": ad.id, "region": "US", "observed_at": NOW, "views": 10}])
    assert (report.stored, report.rejected) == (1, [])
    with pytest.raises(ValueError, match=r"item 0: observed_at .* no time zone"):
        api.ingest([{"ad_id": ad.id, "region": "US", "observed_at": NOW.replace(tzinfo=None), "views": 10}])


def test_every_result_type_is_exported() -> None:
    structs = {
        name
        for name, value in vars(client_module).items()
        if isinstance(value, type) and issubclass(value, msgspec.Struct)
    }
    assert structs <= set(client_module.__all__)
    assert {"Alert", "AlertRule", "Delivery"} <= structs
