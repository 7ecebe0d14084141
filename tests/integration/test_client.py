"""The Python client against the real application."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

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
    assert api.trending(5, skip=1) == []  # the next page
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


@pytest.mark.parametrize(
    ("snapshots", "said"),
    [
        ([5], r"item 0 is not a mapping of a snapshot's fields \(got int\)"),
        ([{"ad_id": 1}, "x"], r"item 1 is not a mapping of a snapshot's fields \(got str\)"),
        ([None], r"item 0 is not a mapping of a snapshot's fields \(got NoneType\)"),
        (
            {"ad_id": 1, "views": 5},
            r"snapshots must be a list of mappings, not a dict \(give one as \[snapshot\]\)",
        ),
        ("ad_id", r"snapshots must be a list of mappings, not a str"),
    ],
)
async def test_ingest_refuses_what_is_not_a_list_of_snapshots_naming_it(
    clock: MovableClock, snapshots: object, said: str
) -> None:
    """Refused before anything is sent (no log-in needed to see it), by both clients alike."""
    app = create_app(build_container(api_settings(), clock))
    with (
        TestClient(app=app) as http,
        MarketScoutClient(http=http) as client,
        pytest.raises(TypeError, match=said),
    ):
        client.ingest(snapshots)  # type: ignore[arg-type]  # what a caller without a type checker may pass
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http_async,
        AsyncMarketScoutClient(http=http_async) as async_client,
    ):
        with pytest.raises(TypeError, match=said):
            await async_client.ingest(snapshots)  # type: ignore[arg-type]  # as above


def test_every_result_type_is_exported() -> None:
    structs = {
        name
        for name, value in vars(client_module).items()
        if isinstance(value, type) and issubclass(value, msgspec.Struct)
    }
    assert structs <= set(client_module.__all__)
    assert {"Alert", "AlertRule", "Delivery", "Spread", "SpreadTarget"} <= structs


def _readings(rising_ad: int, steady_ad: int) -> list[dict[str, object]]:
    """Ten days of readings: one ad taking off in France (and slower in the US), one flat in the US."""
    batch: list[dict[str, object]] = []
    for hours in range(240, -1, -12):
        step = (240 - hours) / 12
        observed_at = NOW - timedelta(hours=hours)
        batch.append(
            {"ad_id": rising_ad, "region": "FR", "observed_at": observed_at, "views": int(2000 * 1.35**step)}
        )
        batch.append(
            {"ad_id": rising_ad, "region": "US", "observed_at": observed_at, "views": int(300 * 1.2**step)}
        )
        batch.append(
            {
                "ad_id": steady_ad,
                "region": "US",
                "observed_at": observed_at,
                "views": int(50_000 + 400 * step),
            }
        )
    return batch


def _market(api: MarketScoutClient, username: str) -> tuple[int, int]:
    """Signs up and logs in; the ids of two scored products: "Rising Fan" and "Steady Fan"."""
    api.sign_up(username, f"{username}@example.com", "a long passphrase")
    api.log_in(username, "a long passphrase")
    rising = api.create_product("Rising Fan", "d")
    steady = api.create_product("Steady Fan", "d")
    rising_ad = api.create_ad(rising.id, "TikTok", "cool", external_id="rise")
    steady_ad = api.create_ad(steady.id, "TikTok", "calm", external_id="steady")
    assert api.ingest(_readings(rising_ad.id, steady_ad.id)).rejected == []
    return rising.id, steady.id


def test_a_product_its_history_and_where_it_goes_next(api: MarketScoutClient, clock: MovableClock) -> None:
    rising, _ = _market(api, "explorer")
    product = api.product(rising)
    [top, _] = api.trending()
    assert (product.id, product.name, product.status) == (rising, "Rising Fan", "emerging")
    assert product.current_score == top.current_score
    with pytest.raises(MarketScoutError) as unknown:
        api.product(999)
    assert unknown.value.status_code == 404

    [scored] = api.score_history(rising)  # the ingest scored it
    assert (scored.product_id, scored.trend_score, scored.forecast) == (
        rising,
        top.current_score,
        top.forecast,
    )
    clock.advance(timedelta(hours=1))
    again = api.calculate_score(rising)
    assert [s.calculated_at for s in api.score_history(rising)] == [NOW, again.calculated_at]
    assert [s.calculated_at for s in api.score_history(rising, since=NOW + timedelta(minutes=30))] == [
        again.calculated_at
    ]
    with pytest.raises(ValueError, match="since has no time zone"):
        api.score_history(rising, since=NOW.replace(tzinfo=None))

    spread = api.spread(rising, ["DE", "fr"])
    assert (spread.product_id, spread.reached_regions) == (rising, ["FR", "US"])
    assert [(t.region, t.reached) for t in spread.targets] == [("DE", False), ("FR", True)]
    assert spread.targets[1].spread_score == 100
    [anywhere] = api.spread(rising).targets
    assert (anywhere.region, anywhere.reached) == (None, False)


def test_trending_takes_the_apis_filters(api: MarketScoutClient) -> None:
    rising, steady = _market(api, "filterer")
    assert [t.product.id for t in api.trending()] == [rising, steady]
    assert [(t.product.id, t.status) for t in api.trending(status="emerging")] == [(rising, "emerging")]
    assert [(t.product.id, t.status) for t in api.trending(status="steady")] == [(steady, "steady")]
    assert [t.product.id for t in api.trending(query="steady")] == [steady]
    assert [t.product.id for t in api.trending(region="fr")] == [rising]
    assert [t.product.id for t in api.trending(region="North America")] == [rising, steady]
    worldwide = {t.product.id: t for t in api.trending(region="US")}
    in_us = api.trending(region="us", ranking="regional")
    assert [(t.product.id, t.scored_in) for t in in_us] == [(rising, "US"), (steady, "US")]
    assert {t.scored_in for t in worldwide.values()} == {"worldwide"}
    # Its slower US readings alone score the rising fan lower than France and the US together.
    assert in_us[0].current_score < worldwide[rising].current_score
    assert api.trending(platform="YouTube") == []
    assert [t.product.id for t in api.trending(platform="TikTok", region="Europe")] == [rising]
    confident = api.trending(min_confidence=0.9)
    assert [t.product.id for t in confident] == [rising]
    assert all(t.confidence is not None and t.confidence >= 0.9 for t in confident)
    with pytest.raises(MarketScoutError) as refused:
        api.trending(region="Atlantis")
    assert (refused.value.status_code, refused.value.details[0]["field"]) == (422, "region")


async def test_both_clients_send_trendings_category() -> None:
    """``category`` reaches /trending as it is given, from the sync and the async client alike."""
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return httpx.Response(200, json={"trending_products": []})

    with httpx.Client(transport=httpx.MockTransport(answer), base_url="http://testserver") as http:
        assert MarketScoutClient(http=http).trending(category="Home & Garden", region="DE") == []
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://testserver"
    ) as async_http:
        assert await AsyncMarketScoutClient(http=async_http).trending(category="Home & Garden") == []
    assert [(url.path, url.params.get("category")) for url in asked] == [
        ("/trending", "Home & Garden"),
        ("/trending", "Home & Garden"),
    ]
    assert asked[0].params.get("region") == "DE"


def test_heat_map_takes_a_window_and_a_level(api: MarketScoutClient) -> None:
    rising, _ = _market(api, "mapper")
    [countries] = api.heat_map([rising], level="country").values()
    assert set(countries) == {"FR", "US"}
    assert countries["FR"] == 100
    [continents] = api.heat_map([rising]).values()
    assert continents["Europe"] == 100
    [before_any_reading] = api.heat_map([rising], until=NOW - timedelta(days=20)).values()
    assert set(before_any_reading.values()) == {0}
    [last_day] = api.heat_map([rising], since=NOW - timedelta(days=1), until=NOW, level="country").values()
    assert last_day["FR"] == 100
    with pytest.raises(ValueError, match="until has no time zone"):
        api.heat_map([rising], until=NOW.replace(tzinfo=None))


def test_alert_rules_are_replaced_and_products_unwatched(api: MarketScoutClient, clock: MovableClock) -> None:
    api.sign_up("changer", "changer@example.com", "a long passphrase")
    api.log_in("changer", "a long passphrase")
    product = api.create_product("Glow Lamp", "d")
    rule = api.create_alert_rule("score_threshold", product_id=product.id, threshold=80)
    other = api.create_alert_rule("status_exploding", product_id=product.id)
    assert rule.changed_at is None
    clock.advance(timedelta(hours=3))
    changed = api.replace_alert_rule(
        rule.id, "score_rise", product_id=product.id, threshold=15, window_hours=48
    )
    assert (changed.id, changed.created_at) == (rule.id, rule.created_at)
    assert changed.changed_at == NOW + timedelta(hours=3), "the moment its question changed"
    assert [(r.id, r.kind, r.threshold, r.window_hours, r.changed_at) for r in api.alert_rules()] == [
        (rule.id, "score_rise", 15, 48, NOW + timedelta(hours=3)),
        (other.id, "status_exploding", None, None, None),
    ]
    with pytest.raises(MarketScoutError) as identical:
        api.replace_alert_rule(rule.id, "status_exploding", product_id=product.id)
    assert identical.value.status_code == 409
    with pytest.raises(MarketScoutError) as unknown:
        api.replace_alert_rule(999, "status_exploding")
    assert unknown.value.status_code == 404

    api.watch(product.id)
    api.unwatch(product.id)
    assert api.watchlist() == []
    with pytest.raises(MarketScoutError) as not_watched:
        api.unwatch(product.id)
    assert not_watched.value.status_code == 404


def test_a_password_is_changed(api: MarketScoutClient) -> None:
    api.sign_up("keeper", "keeper@example.com", "a long passphrase")
    api.log_in("keeper", "a long passphrase")
    with pytest.raises(MarketScoutError) as wrong:
        api.change_password("not the password", "another long passphrase")
    assert (wrong.value.status_code, wrong.value.details[0]["field"]) == (422, "current_password")
    api.change_password("a long passphrase", "another long passphrase")
    api.log_in("keeper", "another long passphrase")
    with pytest.raises(MarketScoutError) as old:
        api.log_in("keeper", "a long passphrase")
    assert old.value.status_code == 401


async def test_the_async_client_covers_the_same_calls(clock: MovableClock) -> None:
    app = create_app(build_container(api_settings(), clock))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        AsyncMarketScoutClient(http=http) as client,
    ):
        await client.sign_up("asyncer", "asyncer@example.com", "a long passphrase")
        await client.log_in("asyncer", "a long passphrase")
        rising = await client.create_product("Rising Fan", "d")
        steady = await client.create_product("Steady Fan", "d")
        rising_ad = await client.create_ad(rising.id, "TikTok", "cool")
        steady_ad = await client.create_ad(steady.id, "TikTok", "calm")
        assert (await client.ingest(_readings(rising_ad.id, steady_ad.id))).rejected == []

        assert (await client.product(rising.id)).status == "emerging"
        assert [s.product_id for s in await client.score_history(rising.id, since=NOW)] == [rising.id]
        spread = await client.spread(rising.id, ["DE"])
        assert [(t.region, t.reached) for t in spread.targets] == [("DE", False)]
        assert [t.product.id for t in await client.trending(status="steady")] == [steady.id]
        assert [t.product.id for t in await client.trending(region="FR", min_confidence=0.5)] == [rising.id]
        [countries] = (
            await client.heat_map([rising.id], since=NOW - timedelta(days=1), level="country")
        ).values()
        assert set(countries) == {"FR", "US"}
        with pytest.raises(ValueError, match="since has no time zone"):
            await client.heat_map(since=NOW.replace(tzinfo=None))

        rule = await client.create_alert_rule("score_threshold", product_id=rising.id, threshold=80)
        changed = await client.replace_alert_rule(
            rule.id, "score_threshold", product_id=rising.id, threshold=90
        )
        assert [(r.id, r.threshold) for r in await client.alert_rules()] == [(changed.id, 90)]
        await client.watch(rising.id)
        await client.unwatch(rising.id)
        assert await client.watchlist() == []

        await client.change_password("a long passphrase", "another long passphrase")
        await client.log_in("asyncer", "another long passphrase")
        with pytest.raises(MarketScoutError) as old:
            await client.log_in("asyncer", "a long passphrase")
        assert old.value.status_code == 401


def test_both_clients_offer_the_same_calls() -> None:
    def calls(kind: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(value)
            for name, value in vars(kind).items()
            if callable(value) and not name.startswith("_") and name not in {"close", "aclose"}
        }

    sync, asynchronous = calls(MarketScoutClient), calls(AsyncMarketScoutClient)
    assert set(sync) == set(asynchronous)
    for name, signature in sync.items():
        ours, theirs = list(signature.parameters.values()), list(asynchronous[name].parameters.values())
        if name == "use_access_token":  # sends nothing; the async client awaits its log_in_again
            assert [(p.name, p.kind, p.default) for p in ours] == [
                (p.name, p.kind, p.default) for p in theirs
            ]
            assert not inspect.iscoroutinefunction(getattr(AsyncMarketScoutClient, name))
            continue
        assert ours == theirs, name
        if name != "iter_products":  # an async iterator, not a coroutine
            assert inspect.iscoroutinefunction(getattr(AsyncMarketScoutClient, name)), name
    assert {"product", "score_history", "spread", "unwatch", "replace_alert_rule", "change_password"} <= set(
        sync
    )


def test_an_access_token_kept_from_an_earlier_login_is_used_and_renewed_by_logging_in_once(
    clock: MovableClock,
) -> None:
    """What ``marketscout remote`` does between runs: a login's access token kept, used later by
    another client without logging in; once refused, ``log_in_again`` is called once."""
    app = create_app(build_container(api_settings(), clock))
    with (
        TestClient(app=app) as http,
        MarketScoutClient(http=http) as first,
        MarketScoutClient(http=http) as later,
    ):
        first.sign_up("keeper", "keeper@example.com", "a long passphrase")
        issued = first.log_in("keeper", "a long passphrase")
        assert issued.expires_in == 1800
        later.use_access_token(issued.token)
        assert later.watchlist() == []
        clock.advance(timedelta(minutes=31))
        with pytest.raises(MarketScoutError) as refused:
            later.watchlist()
        assert refused.value.status_code == 401, "no refresh token, no way to log in again"
        logins: list[str] = []

        def log_in_again() -> None:
            logins.append(later.log_in("keeper", "a long passphrase").token)

        later.use_access_token(issued.token, log_in_again=log_in_again)
        assert later.watchlist() == [] and len(logins) == 1
        clock.advance(timedelta(minutes=31))
        assert later.watchlist() == [], "a new login's token is refreshed as usual"
        assert len(logins) == 1
        later.use_access_token("not-a-token", log_in_again=lambda: None)
        with pytest.raises(MarketScoutError) as again:
            later.watchlist()
        assert again.value.status_code == 401, "tried once: a hook that logs nobody in ends in the 401"


async def test_the_async_client_uses_a_kept_access_token_too(clock: MovableClock) -> None:
    app = create_app(build_container(api_settings(), clock))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        AsyncMarketScoutClient(http=http) as client,
    ):
        await client.sign_up("keeper", "keeper@example.com", "a long passphrase")
        issued = await client.log_in("keeper", "a long passphrase")
        clock.advance(timedelta(minutes=31))
        logins: list[str] = []

        async def log_in_again() -> None:
            logins.append((await client.log_in("keeper", "a long passphrase")).token)

        client.use_access_token(issued.token, log_in_again=log_in_again)
        # Calls at once that find it refused: one login for all of them.
        watched = await asyncio.gather(*(client.watchlist() for _ in range(4)))
        assert watched == [[]] * 4 and len(logins) == 1


def test_log_out_ends_the_login_on_the_server(clock: MovableClock) -> None:
    """``log_out`` sends POST /token/revoke with the access token and the refresh token the
    client holds: both end on the server, the client forgets them, another login goes on."""
    app = create_app(build_container(api_settings(), clock))
    with (
        TestClient(app=app) as http,
        MarketScoutClient(http=http) as client,
        MarketScoutClient(http=http) as other,
    ):
        sent: list[httpx.Request] = []
        http.event_hooks["request"].append(sent.append)
        client.sign_up("leaver", "leaver@example.com", "a long passphrase")
        issued = client.log_in("leaver", "a long passphrase")
        other.log_in("leaver", "a long passphrase")
        assert client.log_out() is True
        [revoke] = [request for request in sent if request.url.path == "/token/revoke"]
        refresh_token = msgspec.json.decode(revoke.content)["refresh_token"]
        assert http.post("/token/refresh", json={"refresh_token": refresh_token}).status_code == 401
        with MarketScoutClient(http=http) as copy:
            copy.use_access_token(issued.token)
            with pytest.raises(MarketScoutError) as ended:
                copy.watchlist()
        assert ended.value.status_code == 401
        with pytest.raises(MarketScoutError) as forgotten:
            client.watchlist()
        assert forgotten.value.status_code == 401, "the client sends no token after logging out"
        sent.clear()
        assert client.log_out() is False, "nothing left to end"
        assert sent == [], "and nothing is sent"
        assert other.watchlist() == []


def test_log_out_with_a_token_that_no_longer_works_says_so(clock: MovableClock) -> None:
    """An access token the server refuses (expired, ended already): nothing to end, False; the
    client does not log in again just to log out."""
    app = create_app(build_container(api_settings(), clock))
    with TestClient(app=app) as http, MarketScoutClient(http=http) as client:
        client.sign_up("late", "late@example.com", "a long passphrase")
        issued = client.log_in("late", "a long passphrase")
        clock.advance(timedelta(minutes=31))
        logins: list[object] = []
        with MarketScoutClient(http=http) as later:
            later.use_access_token(issued.token, log_in_again=lambda: logins.append(1))
            assert later.log_out() is False
        assert logins == []
        # Expired, but its refresh token still good: refreshed, then the new pair ends too.
        assert client.log_out() is True
        with pytest.raises(MarketScoutError) as ended:
            client.watchlist()
        assert ended.value.status_code == 401


async def test_the_async_client_logs_out_too(clock: MovableClock) -> None:
    app = create_app(build_container(api_settings(), clock))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        AsyncMarketScoutClient(http=http) as client,
    ):
        await client.sign_up("async_leaver", "async_leaver@example.com", "a long passphrase")
        issued = await client.log_in("async_leaver", "a long passphrase")
        assert await client.log_out() is True
        answer = await http.get("/watchlists", headers={"Authorization": f"Bearer {issued.token}"})
        assert answer.status_code == 401
        assert await client.log_out() is False


@pytest.mark.parametrize("retry_after", ["inf", "1e400", "nan", "-inf"])
async def test_a_retry_after_that_is_no_usable_wait_gives_up_saying_so(
    retry_after: str, waits: list[float]
) -> None:
    """Retry-After: inf (or 1e400) was an OverflowError from math.ceil, in both clients."""
    transport = _rate_limited_once(retry_after, [])
    with (
        httpx.Client(transport=transport, base_url="http://testserver") as http,
        pytest.raises(MarketScoutError) as error,
    ):
        MarketScoutClient(http=http).trending()
    async with httpx.AsyncClient(
        transport=_rate_limited_once(retry_after, []), base_url="http://testserver"
    ) as a:
        with pytest.raises(MarketScoutError) as async_error:
            await AsyncMarketScoutClient(http=a).trending()
    for raised in (error.value, async_error.value):
        assert raised.status_code == 429
        assert raised.message == (
            f"Rate limit exceeded: 2/minute; the server asks for a wait the client cannot make "
            f"(Retry-After: {retry_after})"
        )
    assert waits == []


def _failing(failure: Exception) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        raise failure

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")], ids=type
)
async def test_a_server_that_cannot_be_reached_is_a_client_error(failure: Exception) -> None:
    """A transport failure was httpx's own error (ConnectError, ReadTimeout), which the client
    does not document: it is a MarketScoutConnectionError (a MarketScoutError without a status
    code), httpx's error its cause."""
    transport = _failing(failure)
    with (
        httpx.Client(transport=transport, base_url="http://testserver") as http,
        pytest.raises(MarketScoutError) as error,
    ):
        MarketScoutClient(http=http).trending()
    async with httpx.AsyncClient(transport=_failing(failure), base_url="http://testserver") as a:
        with pytest.raises(MarketScoutError) as async_error:
            await AsyncMarketScoutClient(http=a).trending()
    for raised in (error.value, async_error.value):
        assert isinstance(raised, client_module.MarketScoutConnectionError)
        assert raised.status_code is None
        assert raised.__cause__ is failure
        assert str(raised) == f"no answer from http://testserver: {type(failure).__name__} ({failure})"


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (("trending",), {}),
        (("trending",), []),
        (("trending",), {"trending_products": [{"product": 5}]}),
        (("product", 1), {}),
        (("log_in", "ana", "pw"), {}),
        (("log_in", "ana", "pw"), {"access_token": "a"}),
        (("scan_ads",), {"viral_ads": {}}),
        (("score_history", 1), {"history": [1]}),
        (("heat_map",), {"heat_map": [1, 2]}),
        (("check_alerts",), {"alerts": 5}),
        (("mark_alerts_read",), {"marked_read": "all"}),
        (("sign_up", "ana", "ana@example.com", "pw"), [1]),
    ],
    ids=str,
)
async def test_an_answer_of_the_wrong_shape_is_a_client_error(call: tuple[Any, ...], body: object) -> None:
    """A 200 whose JSON is not what the API answers was a KeyError ({} from trending), a
    TypeError or msgspec's ValidationError, or was handed on as it came: a MarketScoutError with
    the answer's status code, the decoding error its cause where there is one."""
    name, *args = call
    with _answering(httpx.Response(200, json=body)) as http, pytest.raises(MarketScoutError) as error:
        getattr(MarketScoutClient(http=http), name)(*args)
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=body))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as a:
        with pytest.raises(MarketScoutError) as async_error:
            await getattr(AsyncMarketScoutClient(http=a), name)(*args)
    for raised in (error.value, async_error.value):
        assert raised.status_code == 200
        assert raised.message.startswith("the server's answer is not what the API answers: "), raised.message
