"""Behind a reverse proxy that terminates TLS: ``X-Forwarded-Proto`` from a trusted proxy makes a
request HTTPS (Secure cookies, HSTS) as a direct HTTPS request is; from anyone else it is ignored.

The test client's peer is ``testclient``, listed in ``trusted_proxies`` where it plays the proxy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}
HSTS = "strict-transport-security"


@asynccontextmanager
async def serving(base_url: str = "http://testserver.local", **overrides: object) -> AsyncIterator[Client]:
    app = create_app(build_container(api_settings(**overrides), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url=base_url) as client:
        yield client


def set_cookie(response: Response, name: str) -> list[str]:
    """The Set-Cookie for ``name``: its value, then its attributes."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return [part.strip() for part in rest.split(";")]
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('set-cookie')}")


def cookie(response: Response, name: str) -> list[str]:
    """The attributes of the Set-Cookie for ``name``, lower-cased."""
    return [attribute.lower() for attribute in set_cookie(response, name)[1:]]


def looks_https(response: Response) -> bool:
    secure = "secure" in cookie(response, "ms_csrf")
    hsts = HSTS in response.headers
    assert secure == hsts, f"Secure cookie: {secure}, HSTS: {hsts} — both or neither"
    return secure


async def test_a_direct_https_request_gets_secure_cookies_and_hsts() -> None:
    async with serving("https://testserver.local") as client:
        response = await client.get("/ui/login", headers=HTML)
    assert response.status_code == 200
    assert "secure" in cookie(response, "ms_csrf")
    assert response.headers[HSTS] == "max-age=31536000"


async def test_a_plain_http_request_gets_neither() -> None:
    async with serving() as client:
        response = await client.get("/ui/login", headers=HTML)
    assert not looks_https(response)


async def test_https_forwarded_by_a_trusted_proxy_counts_as_https() -> None:
    async with serving(trusted_proxies=("testclient",)) as client:
        response = await client.get("/ui/login", headers={**HTML, "X-Forwarded-Proto": "https"})
        assert looks_https(response)
        assert (await client.get("/health", headers={"X-Forwarded-Proto": "https"})).headers[HSTS]
        # The session cookie of a sign-up through the proxy is Secure too (the client's cookie jar
        # sends no Secure cookie to an http:// URL, so the CSRF cookie is sent by hand).
        csrf = set_cookie(response, "ms_csrf")[0]
        signed_up = await client.post(
            "/ui/signup",
            data={
                "csrf_token": csrf,
                "username": "proxied",
                "email": "proxied@example.com",
                "password": "a long enough passphrase",
            },
            headers={**HTML, "X-Forwarded-Proto": "https", "Cookie": f"ms_csrf={csrf}"},
            follow_redirects=False,
        )
    assert signed_up.status_code == 303, signed_up.text
    assert "secure" in cookie(signed_up, "ms_session")
    assert HSTS in signed_up.headers


@pytest.mark.parametrize(
    "trusted",
    [(), ("192.0.2.10", "10.0.0.0/8")],
    ids=["no trusted proxies", "the peer is not one of them"],
)
async def test_forwarded_https_from_an_untrusted_peer_is_ignored(trusted: tuple[str, ...]) -> None:
    async with serving(trusted_proxies=trusted) as client:
        response = await client.get("/ui/login", headers={**HTML, "X-Forwarded-Proto": "https"})
    assert not looks_https(response)


@pytest.mark.parametrize(
    ("forwarded", "https"),
    [
        ("HTTPS", True),
        ("http, https", True),  # the right-most value is the one the trusted proxy added
        ("https, http", False),
        ("gopher", False),  # not a scheme a proxy forwards: ignored, the connection's stays
        ("", False),
    ],
)
async def test_the_proxys_own_value_decides(forwarded: str, https: bool) -> None:
    async with serving(trusted_proxies=("testclient",)) as client:
        response = await client.get("/ui/login", headers={**HTML, "X-Forwarded-Proto": forwarded})
    assert looks_https(response) is https


async def test_a_trusted_proxy_that_says_http_is_believed_over_a_direct_connection() -> None:
    async with serving("https://testserver.local", trusted_proxies=("testclient",)) as client:
        forwarded = await client.get("/ui/login", headers={**HTML, "X-Forwarded-Proto": "http"})
        client.cookies.clear()  # so that the CSRF cookie is set again
        direct = await client.get("/ui/login", headers=HTML)
    assert not looks_https(forwarded)
    assert looks_https(direct)
