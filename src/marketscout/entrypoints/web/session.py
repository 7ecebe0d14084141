"""The dashboard's session and CSRF cookies, and the signed-in user of every page request.

Error pages are rendered by synchronous exception handlers, often before any page handler ran
(an unknown path, a refused path parameter, a body too large): :class:`PageUserMiddleware`
resolves the session's user first, so that every page the server renders shows who is signed in.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from marketscout.domain.errors import DomainError
from marketscout.domain.model import User
from marketscout.domain.ports import TokenIssuer
from marketscout.domain.usecases.accounts import UnitOfWorkFactory
from marketscout.entrypoints.authentication import authenticate_once, is_page_path, served_token

CSRF_COOKIE = "ms_csrf"
PAGE_SESSION = "page_session"


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


def expire_cookie(response: Response[Any], request: Request[Any, Any, Any], key: str, *, path: str) -> None:
    """Deletes the dashboard's cookie ``key`` (in place of any the response sets), with the
    attributes it was set with: a deletion that differs from the cookie may not replace it."""
    gone = dashboard_cookie(request, key, "", path=path, max_age=0)
    gone.expires = 0
    response.cookies = [c for c in response.cookies if c != gone]
    response.cookies.append(gone)


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


class PageUserMiddleware:
    """For page requests with a session cookie, authenticates it once and keeps the outcome in
    the request's state (``page_session``): the user, or the error that refused the token. Error
    pages show the user; page handlers also tell "expired" from "never logged in" from it."""

    def __init__(self, app: ASGIApp, tokens: TokenIssuer, unit_of_work: UnitOfWorkFactory) -> None:
        self.app = app
        self.tokens = tokens
        self.unit_of_work = unit_of_work  # a factory: a new UnitOfWork per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # served_token is the rule the rate limiter charges by too: a page's is the session cookie.
        if scope["type"] == ScopeType.HTTP and is_page_path(scope["path"]) and (token := served_token(scope)):
            outcome: User | DomainError
            try:
                # Once per request: the rate limiter has often checked this token already.
                outcome = await authenticate_once(scope, token, self.tokens, self.unit_of_work)
            except DomainError as error:
                outcome = error
            scope.setdefault("state", {})[PAGE_SESSION] = outcome
        await self.app(scope, receive, send)
