"""Rate limits through the real app: headers, 429, moving window, keys, proxies, Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import ClassVar, Self

import httpx
import jwt
import pytest
import redis
from dependency_injector import providers
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from marketscout.adapters.memory import InMemoryUnitOfWork
from marketscout.domain.usecases import accounts
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.authentication import is_page_path
from marketscout.entrypoints.container import Container
from marketscout.entrypoints.openapi import needs_user
from marketscout.entrypoints.ratelimit import classify
from tests.databases import need
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container, sign_up
from tests.integration.web.test_dashboard_renewal import EXPIRED
from tests.integration.web.test_dashboard_sessions import set_cookie, signed_up

Client = AsyncTestClient[Litestar]


def _client(**overrides: object) -> Client:
    settings = api_settings(rate_limit_enabled=True, **overrides)
    return AsyncTestClient(app=create_app(build_container(settings, MovableClock(NOW))))


@pytest.fixture
async def limited() -> AsyncIterator[Client]:
    async with _client(rate_limit_default="3/minute", rate_limit_auth="100/minute") as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/token", "auth"),
        ("POST", "/Token/", "auth"),
        ("POST", "//signup", "auth"),
        ("POST", "/ui/login", "auth"),
        ("POST", "/UI/Signup/", "auth"),
        ("GET", "/ui/login", "default"),
        ("POST", "/calculate-score/1", "heavy"),
        ("POST", "/CALCULATE-SCORE/1/", "heavy"),
        ("POST", "/engagement", "heavy"),
        ("GET", "/export/watchlist", "heavy"),
        ("GET", "/Export/Trends/", "heavy"),
        ("POST", "/ui/data/upload", "heavy"),
        ("GET", "/ui/export/watchlist", "heavy"),
        ("POST", "/ui/data", "default"),
        ("POST", "/me/password", "auth"),
        ("POST", "/token/revoke", "auth"),
        ("POST", "/Token/Revoke/", "auth"),
        ("POST", "/ui/account/password", "auth"),
        ("GET", "/products", "default"),
        ("GET", "/health", None),
        ("GET", "/static/css/app.css", None),
        ("GET", "/Static/js/app.js", "default"),  # not the files' route: limited like any other
        ("GET", "/staticfile", "default"),
    ],
)
def test_paths_are_classified_after_normalisation(method: str, path: str, expected: str | None) -> None:
    assert classify(method, path) == expected


async def test_headers_on_every_answer_and_429_after_the_limit(limited: Client) -> None:
    seen = []
    for _ in range(3):
        response = await limited.get("/products")
        assert response.status_code == 200
        seen.append(int(response.headers["x-ratelimit-remaining"]))
        assert response.headers["x-ratelimit-limit"] == "3"
        assert int(response.headers["x-ratelimit-reset"]) >= int(time.time())
    assert seen == [2, 1, 0]
    refused = await limited.get("/products")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = refused.json()
    assert body["status_code"] == 429
    assert "Rate limit" in body["message"]
    assert refused.headers["x-ratelimit-remaining"] == "0"
    missing = await limited.get("/no/such/page")
    assert missing.status_code == 429, "unknown routes count too; no free probing"


async def test_case_and_slash_variants_share_one_bucket() -> None:
    async with _client(rate_limit_heavy="2/minute") as client:
        headers = await sign_up(client, "heavyuser")
        statuses = [
            (await client.get(path, headers=headers)).status_code
            for path in ("/export/watchlist", "/Export/watchlist", "/export/watchlist/")
        ]
        # Routes are case-sensitive (the variant is a 404) but every variant spends the same bucket.
        assert statuses == [200, 404, 429]


async def test_a_user_is_limited_across_addresses() -> None:
    async with _client(rate_limit_heavy="2/minute", trusted_proxies=("127.0.0.1", "testclient")) as client:
        headers = await sign_up(client, "roamer")
        for index in range(2):
            response = await client.get(
                "/export/watchlist", headers={**headers, "X-Forwarded-For": f"203.0.113.{index}"}
            )
            assert response.status_code == 200
        other_address = await client.get(
            "/export/watchlist", headers={**headers, "X-Forwarded-For": "203.0.113.99"}
        )
        assert other_address.status_code == 429


async def test_forwarded_for_is_ignored_from_untrusted_peers(limited: Client) -> None:
    for index in range(3):
        assert (
            await limited.get("/products", headers={"X-Forwarded-For": f"198.51.100.{index}"})
        ).status_code == 200
    spoofed = await limited.get("/products", headers={"X-Forwarded-For": "198.51.100.200"})
    assert spoofed.status_code == 429


async def test_forwarded_for_is_honoured_from_a_trusted_proxy() -> None:
    async with _client(
        rate_limit_default="2/minute", trusted_proxies=("testclient", "127.0.0.0/8")
    ) as client:
        for _ in range(2):
            assert (
                await client.get("/products", headers={"X-Forwarded-For": "192.0.2.1"})
            ).status_code == 200
        assert (await client.get("/products", headers={"X-Forwarded-For": "192.0.2.1"})).status_code == 429
        assert (await client.get("/products", headers={"X-Forwarded-For": "192.0.2.2"})).status_code == 200


async def test_health_is_never_limited(limited: Client) -> None:
    for _ in range(10):
        assert (await limited.get("/health")).status_code == 200


async def test_a_pages_style_and_script_spend_no_budget() -> None:
    # A page and its stylesheet, script and icon: once the style and script were refused with a
    # JSON 429, and the page (the 429 page too) showed unstyled, its script dead.
    async with _client(rate_limit_default="2/minute") as client:
        for _ in range(2):
            assert (await client.get("/ui/login", headers={"Accept": "text/html"})).status_code == 200
            for path in (
                "/static/css/app.css",
                "/static/js/app.js",
                "/static/favicon.svg",
            ):
                answer = await client.get(path)
                assert answer.status_code == 200, path
                assert "x-ratelimit-limit" not in answer.headers
        assert (await client.get("/ui/login", headers={"Accept": "text/html"})).status_code == 429
        assert (await client.get("/static/css/app.css")).status_code == 200


def _redis_up() -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


async def test_limits_are_shared_through_redis() -> None:
    if not _redis_up():
        need("Redis is not reachable at 127.0.0.1:6379")
    db_url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(db_url).flushdb()
    async with (
        _client(rate_limit_default="2/minute", rate_limit_storage=db_url) as first,
        _client(rate_limit_default="2/minute", rate_limit_storage=db_url) as second,
    ):
        assert (await first.get("/products")).status_code == 200
        assert (await second.get("/products")).status_code == 200
        assert (await first.get("/products")).status_code == 429, "two apps, one shared window"
    redis.Redis.from_url(db_url).flushdb()


async def test_a_down_redis_fails_open_without_a_500() -> None:
    async with _client(rate_limit_storage="redis://127.0.0.1:1/0") as client:
        response = await asyncio.wait_for(client.get("/products"), timeout=15)
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers


async def test_dashboard_pages_answer_429_as_a_page() -> None:
    async with _client(rate_limit_default="1/minute") as client:
        assert (await client.get("/ui/login", headers={"Accept": "text/html"})).status_code == 200
        refused = await client.get("/ui/login", headers={"Accept": "text/html"})
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert "Too many requests" in refused.text
        assert refused.headers["retry-after"]


async def test_dashboard_login_shares_the_api_login_budget() -> None:
    """Five guesses a minute per address, whether through POST /token or the dashboard's form."""
    async with _client(rate_limit_auth="5/minute") as client:
        page = await client.get("/ui/login", headers={"Accept": "text/html"})
        assert page.status_code == 200
        csrf = client.cookies.get("ms_csrf")
        assert csrf
        answers = []
        for attempt in range(6):
            if attempt % 2:
                response = await client.post("/token", data={"username": "someone", "password": "wrong"})
            else:
                response = await client.post(
                    "/ui/login",
                    data={"csrf_token": csrf, "username": "someone", "password": "wrong"},
                    headers={"Accept": "text/html"},
                )
            answers.append((response.status_code, response.headers["x-ratelimit-limit"]))
        assert answers[:5] == [(401, "5")] * 5
        assert answers[5] == (429, "5"), "the sixth guess is refused, whichever door it uses"
        signup = await client.post("/ui/signup", data={"csrf_token": csrf}, headers={"Accept": "text/html"})
        assert signup.status_code == 429


async def test_dashboard_uploads_and_exports_spend_the_signed_in_users_heavy_budget() -> None:
    """The dashboard's upload and export are the API's ingest and export by other doors: the
    same heavy class, counted for the signed-in user (the session cookie's token) as for a
    bearer, so that neither another door nor another address gives more."""
    async with _client(rate_limit_heavy="2/minute", trusted_proxies=("127.0.0.1", "testclient")) as client:
        page = await client.get("/ui/signup", headers={"Accept": "text/html"})
        assert page.status_code == 200
        csrf = client.cookies.get("ms_csrf")
        form = {
            "csrf_token": csrf,
            "username": "dash_user",
            "email": "d@example.com",
            "password": "a long enough passphrase",
        }
        signed = await client.post(
            "/ui/signup", data=form, headers={"Accept": "text/html"}, follow_redirects=False
        )
        assert signed.status_code == 303 and client.cookies.get("ms_session")
        token = await client.post(
            "/token", data={"username": "dash_user", "password": "a long enough passphrase"}
        )
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        first = await client.get("/export/watchlist", headers={**bearer, "X-Forwarded-For": "203.0.113.1"})
        assert first.status_code == 200
        second = await client.get("/ui/export/watchlist", headers={"X-Forwarded-For": "203.0.113.2"})
        assert second.status_code == 200 and second.headers["x-ratelimit-limit"] == "2"
        third = await client.post(
            "/ui/data/upload",
            data={"csrf_token": csrf},
            files={"file": ("r.csv", b"ad_id,observed_at,region,views\n", "text/csv")},
            headers={"Accept": "text/html", "X-Forwarded-For": "203.0.113.3"},
        )
        assert third.status_code == 429, "the user's third heavy request, by a third door and address"
        assert "Too many requests" in third.text


async def _revoke(client: Client, container: Container, token: str, how: str) -> str:
    """Ends ``token`` as its user would: by logging out of the dashboard session it is, or by
    changing the password; or as the operator would, by disabling the account (enabled again
    only once the stolen token has been tried); the password the user has then."""
    if how == "account disabled":
        await accounts.set_disabled(container.unit_of_work(), container.clock(), "victim", disabled=True)
        return "correct horse battery"
    if how == "log-out":
        client.cookies.set("ms_session", token, domain="testserver.local", path="/")
        page = await client.get("/ui/login", headers={"Accept": "text/html"})
        assert page.status_code == 200
        out = await client.post(
            "/ui/logout",
            data={"csrf_token": client.cookies.get("ms_csrf")},
            headers={"Accept": "text/html"},
            follow_redirects=False,
        )
        assert out.status_code == 303
        assert not client.cookies.get("ms_session")
        return "correct horse battery"
    changed = await client.post(
        "/me/password",
        json={"current_password": "correct horse battery", "new_password": "another long passphrase"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert changed.status_code == 204, changed.text
    return "another long passphrase"


async def _stolen_token_cannot_spend_the_victims_budget(
    client: Client,
    stolen: str,
    door: str,
    password: str = "correct horse battery",
    before_the_victim: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Sent three times from 1.2.3.4 (heavy limit 3), ``stolen`` spends that address's budget
    (the fourth is 429) and none of the victim's: their own token from 5.6.7.8 has the whole."""
    path, headers = (
        ("/export/watchlist", {"Authorization": f"Bearer {stolen}"})
        if door == "bearer"
        else ("/ui/export/watchlist", {"Cookie": f"ms_session={stolen}", "Accept": "text/html"})
    )
    answers = [
        (await client.get(path, headers={**headers, "X-Forwarded-For": "1.2.3.4"}, follow_redirects=False))
        for _ in range(4)
    ]
    assert [a.status_code == 200 for a in answers[:3]] == [False] * 3, "the token must not work"
    assert [a.status_code for a in answers] == [answers[0].status_code] * 3 + [429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    if before_the_victim is not None:
        await before_the_victim()
    fresh = await client.post("/token", data={"username": "victim", "password": password})
    assert fresh.status_code == 200, fresh.text
    own = await client.get(
        "/export/watchlist",
        headers={"Authorization": f"Bearer {fresh.json()['access_token']}", "X-Forwarded-For": "5.6.7.8"},
    )
    assert own.status_code == 200, f"the victim is locked out: {own.text}"
    assert own.headers["x-ratelimit-remaining"] == "2", "the stolen token spent the victim's budget"


@pytest.mark.parametrize("door", ["bearer", "cookie"])
@pytest.mark.parametrize("how", ["log-out", "password change", "account disabled"])
async def test_a_revoked_token_spends_its_address_budget_not_its_users(
    database_url: str, how: str, door: str
) -> None:
    """A token its user ended (logged out, or issued before a password change), or of an account
    disabled, is refused, and it is counted as an anonymous request of the address it comes from:
    whoever stole it cannot lock the user out of their account by spending the user's budget from
    other addresses."""
    clock = MovableClock(NOW)
    settings = api_settings(
        database_url=database_url,
        rate_limit_enabled=True,
        rate_limit_auth="100/minute",
        rate_limit_heavy="3/minute",
        trusted_proxies=("testclient",),
    )
    container = build_container(settings, clock)
    async with AsyncTestClient(app=create_app(container)) as client:
        await sign_up(client, "victim")
        token = await client.post("/token", data={"username": "victim", "password": "correct horse battery"})
        stolen = token.json()["access_token"]
        clock.advance(timedelta(seconds=1))
        password = await _revoke(client, container, stolen, how)

        async def enable() -> object:
            return await accounts.set_disabled(
                container.unit_of_work(), container.clock(), "victim", disabled=False
            )

        await _stolen_token_cannot_spend_the_victims_budget(
            client, stolen, door, password, enable if how == "account disabled" else None
        )


@pytest.mark.parametrize("door", ["bearer", "cookie"])
@pytest.mark.parametrize("flaw", ["expired", "signed with another key"])
async def test_a_token_that_does_not_authenticate_spends_its_address_budget(flaw: str, door: str) -> None:
    """An expired token, or one naming the user but not signed with the server's key, is counted
    as an anonymous request of its address, never against the user it names."""
    clock = MovableClock(NOW)
    settings = api_settings(
        rate_limit_enabled=True,
        rate_limit_auth="100/minute",
        rate_limit_heavy="3/minute",
        trusted_proxies=("testclient",),
    )
    async with AsyncTestClient(app=create_app(build_container(settings, clock))) as client:
        await sign_up(client, "victim")
        token = await client.post("/token", data={"username": "victim", "password": "correct horse battery"})
        bad = token.json()["access_token"]
        if flaw == "expired":
            clock.advance(timedelta(seconds=settings.access_token_ttl + 60))
        else:
            claims = jwt.decode(bad, options={"verify_signature": False})
            bad = jwt.encode(claims, "another-secret-of-at-least-thirty-two-bytes!!", algorithm="HS256")
        await _stolen_token_cannot_spend_the_victims_budget(client, bad, door)


class _CountingUnitOfWork(InMemoryUnitOfWork):
    """Counts the units of work opened: each is one round trip to a real store."""

    opened: ClassVar[list[str]] = []

    async def __aenter__(self) -> Self:
        self.opened.append("uow")
        return await super().__aenter__()


async def _units_per_request(rate_limit_enabled: bool) -> list[int]:
    """Units of work opened by an API request with a bearer, a page request with a session cookie,
    and a request with a revoked bearer."""
    container = build_container(api_settings(rate_limit_enabled=rate_limit_enabled), MovableClock(NOW))
    container.unit_of_work.override(providers.Factory(_CountingUnitOfWork, store=container.memory_store))
    async with AsyncTestClient(app=create_app(container)) as client:
        headers = await sign_up(client, "counted")
        session = headers["Authorization"].removeprefix("Bearer ")
        ended = await client.post("/token", data={"username": "counted", "password": "correct horse battery"})
        revoked = ended.json()["access_token"]
        client.cookies.set("ms_session", revoked, domain="testserver.local", path="/")
        await client.get("/ui/login", headers={"Accept": "text/html"})
        out = await client.post(
            "/ui/logout", data={"csrf_token": client.cookies.get("ms_csrf")}, follow_redirects=False
        )
        assert out.status_code == 303
        counts = []
        for path, sent in (
            ("/watchlists", headers),
            ("/ui/watchlist", {"Cookie": f"ms_session={session}", "Accept": "text/html"}),
            ("/watchlists", {"Authorization": f"Bearer {revoked}"}),
        ):
            _CountingUnitOfWork.opened.clear()
            answer = await client.get(path, headers=sent)
            assert answer.status_code == (401 if sent.get("Authorization", "").endswith(revoked) else 200)
            counts.append(len(_CountingUnitOfWork.opened))
        return counts


async def test_the_limiter_checks_a_token_once_with_the_handler() -> None:
    """Whether a token is revoked takes a query; the limiter's is the one the request's own
    authentication then reuses, so an authenticated request opens no more units of work with the
    limiter than without it."""
    assert await _units_per_request(rate_limit_enabled=True) == await _units_per_request(
        rate_limit_enabled=False
    )


def _limited_heavy(database_url: str, clock: MovableClock | None = None) -> Client:
    """Heavy requests limited to 3 a minute per key; every request's address from X-Forwarded-For."""
    settings = api_settings(
        database_url=database_url,
        rate_limit_enabled=True,
        rate_limit_auth="100/minute",
        rate_limit_heavy="3/minute",
        trusted_proxies=("testclient",),
    )
    return AsyncTestClient(app=create_app(build_container(settings, clock or MovableClock(NOW))))


async def _heavy_budget_left(client: Client, bearer: dict[str, str]) -> str:
    """What is left of the heavy budget of ``bearer``'s user, seen from an address of its own."""
    own = await client.get("/export/watchlist", headers={**bearer, "X-Forwarded-For": "198.51.100.77"})
    assert own.status_code == 200, own.text
    return own.headers["x-ratelimit-remaining"]


@pytest.mark.parametrize("bearer", ["junk", "another account's"])
async def test_a_page_spends_its_session_users_budget_whatever_bearer_comes_with_it(
    database_url: str, bearer: str
) -> None:
    """A dashboard page is served as the session cookie's user, whatever Authorization header
    comes with it, so it is that user's budget the page spends: a bearer that does not
    authenticate, sent from new addresses, gave a signed-in user unlimited exports; another
    account's bearer spent the other account's budget instead of the cookie's."""
    async with _limited_heavy(database_url) as client:
        session = (await sign_up(client, "cookie_user"))["Authorization"].removeprefix("Bearer ")
        other = await sign_up(client, "bearer_user")
        sent = other if bearer == "another account's" else {"Authorization": "Bearer junk"}
        answers = [
            await client.get(
                "/ui/export/watchlist",
                headers={
                    **sent,
                    "Cookie": f"ms_session={session}",
                    "Accept": "text/html",
                    "X-Forwarded-For": f"203.0.113.{index}",
                },
                follow_redirects=False,
            )
            for index in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429], "served signed in, then refused"
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        if bearer == "another account's":
            assert await _heavy_budget_left(client, other) == "2", "the bearer's user was charged"


@pytest.mark.parametrize("session", ["expired", "dropped"])
async def test_a_page_renewed_from_its_refresh_cookie_spends_its_users_budget(
    database_url: str, session: str
) -> None:
    """A page whose session is renewed from the refresh cookie (its access token expired, or the
    browser dropped the session cookie) is served as the user, so it spends the user's budget:
    it spent its address's alone, and a client that sent the refresh cookie without a live
    session cookie, from a new address each time, was served as the user past the user's
    limit. The refusal sets the renewed cookies: the renewal rotated the refresh token, and a
    browser left holding the spent one would end its own login at its next renewal."""
    clock = MovableClock(NOW)
    async with _limited_heavy(database_url, clock) as client:
        await signed_up(client)
        answers = []
        for index in range(4):
            if session == "expired":
                clock.advance(EXPIRED)
            else:
                client.cookies.delete("ms_session")
            answers.append(
                await client.get(
                    "/ui/export/watchlist",
                    headers={"Accept": "text/html", "X-Forwarded-For": f"203.0.113.{index}"},
                    follow_redirects=False,
                )
            )
        assert [a.status_code for a in answers] == [200, 200, 200, 429], "served signed in, then refused"
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        rotated = set_cookie(answers[-1], "ms_refresh")["value"]
        assert rotated, "the refusal hands out the rotated refresh token"
        later = await client.post("/token/refresh", json={"refresh_token": rotated})
        assert later.status_code == 200, "the login goes on"


@pytest.mark.parametrize("sent", ["no bearer", "a junk bearer"])
async def test_an_api_request_with_a_session_cookie_spends_its_address_budget(
    database_url: str, sent: str
) -> None:
    """The API serves a request as its bearer's user and never as the session cookie's: a valid
    cookie with no bearer or a junk one is refused (401), and counted against its address alone,
    never against the cookie's user."""
    async with _limited_heavy(database_url) as client:
        headers = await sign_up(client, "cookie_user")
        session = headers["Authorization"].removeprefix("Bearer ")
        extra = {"Authorization": "Bearer junk"} if sent == "a junk bearer" else {}
        answers = [
            await client.get(
                "/export/watchlist",
                headers={**extra, "Cookie": f"ms_session={session}", "X-Forwarded-For": "203.0.113.9"},
            )
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert await _heavy_budget_left(client, headers) == "2", "the cookie's user was charged"


async def test_an_api_request_with_two_bearers_spends_the_budget_of_the_one_it_is_served_as(
    database_url: str,
) -> None:
    """Of two Authorization headers, the API serves the request as the first one's user, so the
    limiter charges that user: it took the last one (a junk bearer), and gave the user a fresh
    budget at every address. (Litestar's test client joins repeated headers into one; a server
    passes them on one by one, as httpx's ASGI transport does.)"""
    async with _limited_heavy(database_url) as client:
        headers = await sign_up(client, "two_bearers")
        transport = httpx.ASGITransport(app=client.app, client=("testclient", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as raw:
            answers = [
                await raw.get(
                    "/export/watchlist",
                    headers=[
                        ("Authorization", headers["Authorization"]),
                        ("Authorization", "Bearer junk"),
                        ("X-Forwarded-For", f"203.0.113.{index}"),
                    ],
                )
                for index in range(4)
            ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]


def test_every_route_that_takes_a_bearers_user_is_off_the_pages() -> None:
    """``served_token`` (the limiter's rule) takes a page's session cookie and any other path's
    bearer: it is the rule the handlers follow only while no page route takes the API's ``user``
    (the bearer's) and every route that does is outside the pages."""
    app = create_app(build_container(api_settings(), MovableClock(NOW)))
    takers = [
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if needs_user(handler)
    ]
    assert takers, "the API has routes for signed-in users"
    assert [path for path in takers if is_page_path(path)] == []
