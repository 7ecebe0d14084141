"""Rate limits per client IP and per user, by endpoint class, with a moving window.

Storage is in-process memory by default (one process) or Redis (shared by every worker).
If the storage fails (Redis down), requests are let through and a warning is logged: the
limiter fails open, so an outage of the cache never becomes an outage of the API.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from marketscout.entrypoints.middleware import send_error
from marketscout.entrypoints.proxies import TrustedProxies

logger = logging.getLogger("marketscout.ratelimit")

EndpointClass = Literal["auth", "heavy", "default"]
EXEMPT_PATHS = frozenset({"/health", "/ready"})
# The dashboard's stylesheet, script and icon (the route is case-sensitive, so is this): a page
# fetches three of them, and a budget spent on them answered them with a JSON 429, leaving the
# page (the 429 page too) unstyled and its script dead. They are files read from memory.
STATIC_PREFIX = "/static/"
# The dashboard's log-in and sign-up POSTs share the API's budget and key (class "auth", per IP):
# alternating between them does not double the guesses. Changing a password takes the current
# one, so it is a guess too. Revoking tokens is kept with the token endpoints it ends.
_AUTH_PATHS = frozenset(
    {
        "/signup",
        "/token",
        "/token/refresh",
        "/token/revoke",
        "/ui/login",
        "/ui/signup",
        "/me/password",
        "/ui/account/password",
    }
)
_SLASHES = re.compile(r"/{2,}")


def _is_page(path: str, accept: str) -> bool:
    return (path == "/" or path.startswith("/ui/")) and "text/html" in accept


# The dashboard's look without a template engine: the limiter answers before the app runs. The
# navigation is the pages' own, without the account corner (the session is not read here).
_TOO_MANY_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<title>Too many requests · MarketScout</title><link rel="stylesheet" href="/static/css/app.css"></head>'
    '<body><a class="skip" href="#main">Skip to content</a><header class="top">'
    '<a class="brand" href="/">MarketScout</a><nav aria-label="Main"><a href="/">Trending</a>'
    '<a href="/ui/heat-map">Heat map</a><a href="/ui/viral">Viral ads</a>'
    '<a href="/ui/watchlist">Watchlist &amp; alerts</a><a href="/ui/data">Data</a>'
    '<a href="/docs">API</a></nav></header><main id="main">'
    "<h1>Too many requests</h1><p>You are going a little fast. Try again in {seconds} seconds.</p>"
    '<p><a href="/">Back to trending products</a></p></main></body></html>'
)


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    auth: str = "5/minute"
    heavy: str = "10/minute"
    default: str = "60/minute"
    storage_url: str = "memory://"
    trusted_proxies: tuple[str, ...] = field(default=())


def classify(method: str, path: str) -> EndpointClass | None:
    """The class of a request, from a normalised path so that case, doubled or trailing
    slashes do not open a separate bucket. None for paths that are never limited."""
    normal = _SLASHES.sub("/", path).rstrip("/").lower() or "/"
    if normal in EXEMPT_PATHS or path.startswith(STATIC_PREFIX):
        return None
    if method == "POST" and normal in _AUTH_PATHS:
        return "auth"
    # Ingest, scoring on demand and exports, whichever door: the dashboard's upload and export
    # are the API's by another route.
    if (
        method == "POST"
        and (normal.startswith("/calculate-score/") or normal in {"/engagement", "/ui/data/upload"})
    ) or (method == "GET" and normal.startswith(("/export/", "/ui/export/"))):
        return "heavy"
    return "default"


# (allowed, remaining, reset epoch) of one key's moving window, or of the key that decides.
Window = tuple[bool, int, float]


def deciding(windows: list[Window]) -> Window:
    """The window that decides a request counted under several keys: the one that refused it
    (longest wait), else the tightest."""
    denied = [w for w in windows if not w[0]]
    decides = max(denied, key=lambda w: w[2]) if denied else min(windows, key=lambda w: w[1])
    return not denied, max(decides[1], 0), decides[2]


def _storage_url(url: str) -> str:
    if url.startswith("memory://"):
        return "async+memory://"
    if url.startswith(("redis://", "rediss://")):
        return "async+" + url
    raise ValueError("the rate-limit storage must be memory:// or redis://")


class RateLimiter:
    """Counts hits per key in a moving window."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config
        self.items: dict[EndpointClass, RateLimitItem] = {
            "auth": parse(config.auth),
            "heavy": parse(config.heavy),
            "default": parse(config.default),
        }
        url = _storage_url(config.storage_url)
        options: dict[str, float | str | bool] = {}
        if url.startswith("async+redis"):
            # redis-py (already a dependency) instead of limits' default coredis client; short
            # timeouts so that a Redis outage fails open quickly instead of stalling requests.
            options = {"implementation": "redispy", "socket_timeout": 1, "socket_connect_timeout": 1}
        storage = storage_from_string(url, **options)
        if not isinstance(storage, Storage):
            raise TypeError("expected an asynchronous rate-limit storage")
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(self._storage)
        self.proxies = TrustedProxies(config.trusted_proxies)

    async def hit(self, endpoint: EndpointClass, keys: list[str]) -> Window | None:
        """The deciding window of ``keys`` after counting this hit in each; None if storage failed."""
        item = self.items[endpoint]
        try:
            results: list[Window] = []
            for key in keys:
                allowed = await self._strategy.hit(item, endpoint, key)
                stats = await self._strategy.get_window_stats(item, endpoint, key)
                results.append((allowed, stats.remaining, stats.reset_time))
        except Exception as error:
            logger.warning(
                "rate-limit storage unavailable, letting the request through: %s", type(error).__name__
            )
            return None
        return deciding(results)

    async def reset(self) -> None:
        await self._storage.reset()

    async def close(self) -> None:
        """Closes the Redis connection pool, if any (memory storage has nothing to close)."""
        bridge = getattr(self._storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            try:
                await client.aclose()
            except Exception as error:  # closing a broken connection may fail too
                logger.debug("closing the rate-limit storage failed: %s", type(error).__name__)


class RateLimitMiddleware:
    """ASGI middleware adding X-RateLimit-* to every answer and answering 429 past the limit."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        identify_user: Callable[[Scope], Awaitable[int | None]],
    ) -> None:
        """``identify_user(scope)``: the id of the user the request is served as, if its token
        (``authentication.served_token``'s) authenticates (signature, times, not revoked, not ended by a
        password change, account enabled), or, on a page, if its session is renewed from the
        refresh cookie; else None. The app keeps its outcome in the request's state for the
        handler to reuse."""
        self.app = app
        self.limiter = limiter
        self.identify_user = identify_user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        http: HTTPScope = scope
        endpoint = classify(http["method"], http["path"])
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in http["headers"]}
        client = http.get("client")
        peer = client[0] if client else "unknown"
        ip = self.limiter.proxies.client_ip(peer, headers.get("x-forwarded-for"))
        outcome = await self.limiter.hit(endpoint, [f"ip:{ip}"])
        # The user's own key too, of the identity the request is served as (served_token): on
        # the dashboard's pages the session cookie's, whatever bearer comes with it; elsewhere the
        # bearer's, never the cookie's. The API and the dashboard spend one budget per user, and
        # no header the request is not served by picks another key (a junk bearer on a signed-in
        # page, or a second Authorization header, was counted as an anonymous request).
        # Only for a token that authenticates: one that is revoked, expired or forged is anyone's
        # anonymous request, counted against its address alone, or whoever holds a stolen token
        # its user revoked could still spend that user's budget from anywhere and lock them out.
        # A page whose access token expired (or whose session cookie the browser dropped) is
        # renewed from its refresh cookie, and served as its user: it is the renewal that names
        # the user, here, before the app runs (an expired token's subject is not used: whoever
        # kept an old token would spend its user's budget). Counted against the address alone,
        # a client sending the refresh cookie without the session cookie, from address after
        # address, was served as the user past the user's budget.
        # Checked only once the address's budget let the request through: a request refused by
        # its address costs no query, and the check is the one the handler then reuses.
        if outcome is not None and outcome[0]:
            user_id = await self.identify_user(scope)
            if user_id is not None:
                user = await self.limiter.hit(endpoint, [f"user:{user_id}"])
                outcome = None if user is None else deciding([outcome, user])
        if outcome is None:
            await self.app(scope, receive, send)
            return
        allowed, remaining, reset = outcome
        limit = self.limiter.items[endpoint]
        extra = [
            (b"x-ratelimit-limit", str(limit.amount).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", str(math.ceil(reset)).encode()),
        ]
        if not allowed:
            retry_after = max(1, math.ceil(reset - time.time()))
            if _is_page(http["path"], headers.get("accept", "")):
                page = _TOO_MANY_PAGE.format(seconds=retry_after).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 429,
                        "headers": [
                            (b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(page)).encode()),
                            (b"retry-after", str(retry_after).encode()),
                            *extra,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": page, "more_body": False})
                return
            retry = [(b"retry-after", str(retry_after).encode()), *extra]
            await send_error(send, http, 429, f"Rate limit exceeded: {limit}", headers=retry)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
