"""The dashboard's session and CSRF cookies, and the signed-in user of every page request.

Error pages are rendered by synchronous exception handlers, often before any page handler ran
(an unknown path, a refused path parameter, a body too large): :class:`PageUserMiddleware`
resolves the session's user first, so that every page the server renders shows who is signed in.
"""

from __future__ import annotations

import secrets
from http.cookies import CookieError, SimpleCookie
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from marketscout.domain.errors import DomainError
from marketscout.domain.model import User
from marketscout.domain.ports import TokenIssuer, UnitOfWork

SESSION_COOKIE = "ms_session"
CSRF_COOKIE = "ms_csrf"
PAGE_USER = "page_user"


def is_page_path(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


def secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


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
    return [
        Cookie(key=CSRF_COOKIE, value=token, httponly=True, samesite="lax", secure=secure(request), path="/")
    ]


def page_user(request: Request[Any, Any, Any]) -> User | None:
    """The signed-in user :class:`PageUserMiddleware` found for this page request, if any."""
    user = request.scope.get("state", {}).get(PAGE_USER)
    return user if isinstance(user, User) else None


class PageUserMiddleware:
    """For page requests with a session cookie, looks the user up once and keeps it in the
    request's state (``page_user``); a token that is invalid or expired, or a store that is down,
    leaves it unset (the page handlers then tell "expired" from "never logged in")."""

    def __init__(self, app: ASGIApp, tokens: TokenIssuer, unit_of_work: Any) -> None:
        self.app = app
        self.tokens = tokens
        self.unit_of_work = unit_of_work  # a factory: a new UnitOfWork per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and is_page_path(scope["path"]):
            token = _session_token(scope)
            if token:
                user = await self._user(token)
                if user is not None:
                    scope.setdefault("state", {})[PAGE_USER] = user
        await self.app(scope, receive, send)

    async def _user(self, token: str) -> User | None:
        try:
            user_id = self.tokens.user_id_from_access(token)
            uow: UnitOfWork = self.unit_of_work()
            async with uow:
                return await uow.users.get(user_id)
        except DomainError:
            return None


def _session_token(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:  # a malformed cookie header is no session
                return None
            morsel = jar.get(SESSION_COOKIE)
            if morsel is not None and morsel.value:
                return morsel.value
    return None
