"""The dashboard's session and CSRF cookies, and the signed-in user of every page request.

Error pages are rendered by synchronous exception handlers, often before any page handler ran
(an unknown path, a refused path parameter, a body too large): :class:`PageUserMiddleware`
resolves the session's user first, so that every page the server renders shows who is signed in.

A session is two cookies: ``ms_session``, the login's access token (30 minutes by default), and
``ms_refresh``, its refresh token (14 days by default). While the user is active the session
stays alive: a page request whose access token has expired (expired only: not revoked, forged,
nor of a disabled account) is renewed from the refresh cookie by the use case the API's
``POST /token/refresh`` uses, so an ended login (log-out, revocation, a password change, a
disabled account, a replayed refresh token) is never renewed; the request is served as the user
(and spends the user's rate-limit budget), and its answer sets both new cookies, a 429 too. Tabs
renewing the same session at once are told apart from a replay by a short grace
(:data:`RENEWAL_GRACE`, see docs/security.md).
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketscout.domain.errors import AuthenticationFailed, DomainError, TokenExpired, Unavailable
from marketscout.domain.model import User
from marketscout.domain.ports import Clock, TokenIssuer
from marketscout.domain.usecases import accounts, alerts
from marketscout.domain.usecases.accounts import UnitOfWorkFactory
from marketscout.entrypoints.authentication import (
    SESSION_COOKIE,
    authenticate_once,
    is_page_path,
    served_token,
)

CSRF_COOKIE = "ms_csrf"
# The login's refresh token. Path "/": the dashboard's pages are "/" (Trending) and "/ui/...", and
# a cookie path cannot name both without every path; the API never reads it (served_token).
REFRESH_COOKIE = "ms_refresh"
PAGE_SESSION = "page_session"
RENEWAL_COOKIES = "renewal_cookies"
# The session cookie outlives its access token by this much, so that the next request can tell
# "expired" from "never logged in".
SESSION_GRACE = 12 * 3600
# A refresh token spent at most this long ago by another request of the same browser (a second
# tab sent with the same expired cookies) renews the session with an access token alone, instead
# of ending the login as a replay (docs/security.md).
RENEWAL_GRACE = timedelta(seconds=30)
UNREAD_ALERTS = "unread_alerts"


def secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def dashboard_cookie(
    request: Request[Any, Any, Any], key: str, value: str, *, path: str, max_age: int | None = None
) -> Cookie:
    """A cookie of the dashboard: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )


def gone_cookie(request: Request[Any, Any, Any], key: str, *, path: str) -> Cookie:
    """What deletes the dashboard's cookie ``key``: the attributes it was set with (a deletion
    that differs from the cookie may not replace it), no value, no lifetime."""
    gone = dashboard_cookie(request, key, "", path=path, max_age=0)
    gone.expires = 0
    return gone


def expire_cookie(response: Response[Any], request: Request[Any, Any, Any], key: str, *, path: str) -> None:
    """Deletes the dashboard's cookie ``key`` (in place of any the response sets)."""
    gone = gone_cookie(request, key, path=path)
    response.cookies = [c for c in response.cookies if c != gone]
    response.cookies.append(gone)


def session_cookies(
    request: Request[Any, Any, Any],
    access_token: str,
    expires_in: int,
    refresh_token: str | None,
    refresh_lifetime: int,
) -> list[Cookie]:
    """The session's cookies (HttpOnly, SameSite=Lax, Secure over HTTPS): the access token,
    outliving it by SESSION_GRACE, and the login's refresh token (when there is a new one), as
    long as it lives."""
    cookies = [
        dashboard_cookie(request, SESSION_COOKIE, access_token, path="/", max_age=expires_in + SESSION_GRACE)
    ]
    if refresh_token is not None:
        cookies.append(
            dashboard_cookie(request, REFRESH_COOKIE, refresh_token, path="/", max_age=refresh_lifetime)
        )
    return cookies


def with_session(
    response: Response[Any], request: Request[Any, Any, Any], pair: accounts.TokenPair, tokens: TokenIssuer
) -> Response[Any]:
    """The response, setting the cookies of the session of a new login (``pair``)."""
    for cookie in session_cookies(
        request, pair.access_token, pair.expires_in, pair.refresh_token, tokens.refresh_lifetime_seconds
    ):
        response.set_cookie(cookie)
    return response


def end_session(response: Response[Any], request: Request[Any, Any, Any]) -> None:
    """Deletes both of the session's cookies."""
    expire_cookie(response, request, SESSION_COOKIE, path="/")
    expire_cookie(response, request, REFRESH_COOKIE, path="/")


def same_secret(sent: str, kept: str) -> bool:
    """Whether two secret values are equal, compared in constant time as UTF-8 bytes:
    ``hmac.compare_digest`` raises TypeError for a str holding a non-ASCII character, which any
    value a client sends may hold (a lone surrogate is encoded, not refused)."""
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), kept.encode("utf-8", "surrogatepass"))


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The request's CSRF value: the cookie's, or a new one the response will set."""
    state = request.scope.setdefault("state", {})
    token: str | None = state.get("csrf") or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(32)
    state["csrf"] = token
    return token


def csrf_cookies(request: Request[Any, Any, Any]) -> list[Cookie]:
    """The CSRF cookie to set, when the request did not carry the value the page uses."""
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) == token:
        return []
    return [dashboard_cookie(request, CSRF_COOKIE, token, path="/")]


def page_user(request: Request[Any, Any, Any]) -> User | None:
    """The signed-in user :class:`PageUserMiddleware` found for this page request, if any."""
    outcome = page_session(request)
    return outcome if isinstance(outcome, User) else None


def page_session(request: Request[Any, Any, Any]) -> User | DomainError | None:
    """What :class:`PageUserMiddleware` made of this page request's session cookie: the user,
    the error that refused it (``AuthenticationFailed`` for an expired or forged token or a
    deleted user; ``Unavailable`` for a store that is down), or None for no session cookie."""
    outcome = request.scope.get("state", {}).get(PAGE_SESSION)
    return outcome if isinstance(outcome, User | DomainError) else None


def unread_alerts(request: Request[Any, Any, Any]) -> int | None:
    """How many unread alerts the signed-in user had when :class:`PageUserMiddleware` looked."""
    count = request.scope.get("state", {}).get(UNREAD_ALERTS)
    return count if isinstance(count, int) else None


class PageUserMiddleware:
    """For page requests with a session, authenticates it once and keeps the outcome in the
    request's state (``page_session``): the user, or the error that refused the token. Error
    pages show the user; page handlers also tell "expired" from "never logged in" from it. For a
    user, it also counts their unread alerts (one count query), which the navigation shows.

    A session whose access token has expired, or whose cookie the browser dropped, is renewed
    from its refresh cookie (:func:`~marketscout.domain.usecases.accounts.renew_session`): the
    request is served as the user, and counted against the user's rate-limit budget (the limiter
    asks :meth:`resolve` first), and the answer sets the new cookies
    (:class:`SessionCookiesMiddleware`), unless its handler sets cookies of the same names
    (log-in, log-out, a password change: theirs win). A refresh cookie that renews nothing (its
    login ended, forged) is deleted; the session counts as expired."""

    def __init__(
        self, app: ASGIApp, tokens: TokenIssuer, unit_of_work: UnitOfWorkFactory, clock: Clock
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.unit_of_work = unit_of_work  # a factory: a new UnitOfWork per request
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not is_page_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        outcome = await self.resolve(scope)
        if isinstance(outcome, User):
            # Without the count (a store that failed just now) the page still shows, unbadged.
            with contextlib.suppress(Unavailable):
                scope["state"][UNREAD_ALERTS] = await alerts.count_unread_alerts(
                    self.unit_of_work(), user_id=outcome.id
                )
        await self.app(scope, receive, send)

    async def resolve(self, scope: Scope) -> User | DomainError | None:
        """What the page request's session is worth (see :func:`page_session`), worked out once
        per request, renewing an expired session; the rate limiter asks first, to charge the
        user the request is served as. The renewal's cookies are kept in the request's state for
        :class:`SessionCookiesMiddleware`."""
        state = scope.setdefault("state", {})
        if PAGE_SESSION in state:
            outcome: User | DomainError | None = state[PAGE_SESSION]
            return outcome
        outcome = None
        # served_token is the rule the rate limiter charges by too: a page's is the session cookie.
        if token := served_token(scope):
            try:
                outcome = await authenticate_once(scope, token, self.tokens, self.unit_of_work)
            except DomainError as error:
                outcome = error
        if outcome is None or isinstance(outcome, TokenExpired):
            request: Request[Any, Any, Any] = Request(scope)
            if refresh := request.cookies.get(REFRESH_COOKIE):
                outcome, state[RENEWAL_COOKIES] = await self._renewed(request, refresh)
        state[PAGE_SESSION] = outcome
        return outcome

    async def _renewed(
        self, request: Request[Any, Any, Any], refresh: str
    ) -> tuple[User | DomainError, list[Cookie]]:
        """The session's user and its new cookies; or what refused the refresh cookie, and the
        deletion of that cookie when its login has ended (not when the store is down: the page
        says so, as for any request then)."""
        try:
            renewal = await accounts.renew_session(
                self.unit_of_work(), self.tokens, self.clock, refresh_token=refresh, grace=RENEWAL_GRACE
            )
        except AuthenticationFailed as error:
            return error, [gone_cookie(request, REFRESH_COOKIE, path="/")]
        except DomainError as error:
            return error, []
        cookies = session_cookies(
            request,
            renewal.access_token,
            renewal.expires_in,
            renewal.refresh_token,
            self.tokens.refresh_lifetime_seconds,
        )
        return renewal.user, cookies


class SessionCookiesMiddleware:
    """Sets the cookies of a session :class:`PageUserMiddleware` renewed on the request's answer,
    whoever gives it: the page, or the rate limiter's 429, which this runs outside of. The
    renewal rotated the refresh token: an answer without the new one would leave the browser
    the spent one, whose next use after the grace ends the login as a replay. An answer that
    sets cookies of the same names (log-in, log-out, a password change) keeps its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not is_page_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            cookies: list[Cookie] = scope.get("state", {}).get(RENEWAL_COOKIES, [])
            if message["type"] == "http.response.start" and cookies:
                headers = list(message.get("headers", ()))
                named = {
                    bytes(value).split(b"=", 1)[0].strip().decode("latin-1")
                    for key, value in headers
                    if bytes(key).lower() == b"set-cookie"
                }
                message["headers"] = [
                    *headers,
                    *(c.to_encoded_header() for c in cookies if c.key not in named),
                ]
            await send(message)

        await self.app(scope, receive, sending)
