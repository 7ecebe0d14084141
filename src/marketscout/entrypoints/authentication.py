"""A request's access token, authenticated once whoever asks first.

Three parts of a request want to know what its token is worth: the rate limiter (only a token
that authenticates is counted against its user's budget), the dashboard's
:class:`~marketscout.entrypoints.web.session.PageUserMiddleware` and the API's ``user``
dependency. Each asks :func:`authenticate_once`. The first to ask checks the token with
:func:`~marketscout.domain.usecases.accounts.authenticate` (signature and times, then one unit of
work: the account, the token's revocation, the account's last password change); the others reuse
the outcome, kept in the request's state by token, since a request may carry two (a bearer and a
session cookie).

Which of the two a request is served as is :func:`served_token`'s rule, and the rate limiter
charges by the same one: on the dashboard's pages the session cookie (what
:class:`~marketscout.entrypoints.web.session.PageUserMiddleware` authenticates), on every other
path the bearer (:func:`bearer_token`, what the API's ``user`` authenticates). A limiter that
picked otherwise charged one identity while the request was served as another: a junk bearer
sent with a signed-in page spent nobody's budget.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.types import Scope

from marketscout.domain.errors import AuthenticationFailed, DomainError
from marketscout.domain.model import User
from marketscout.domain.ports import TokenIssuer
from marketscout.domain.usecases import accounts
from marketscout.domain.usecases.accounts import UnitOfWorkFactory

CHECKED_TOKENS = "checked_tokens"
SESSION_COOKIE = "ms_session"


def is_page_path(path: str) -> bool:
    """Whether ``path`` is the dashboard's: served as the session cookie's user, never a bearer's."""
    return path == "/" or path.startswith("/ui/")


def bearer_token(scope: Scope) -> str:
    """The token of the request's ``Authorization: Bearer <token>`` header (the first one, as
    Litestar reads a repeated header); raises AuthenticationFailed for none or another scheme."""
    header = ASGIConnection[Any, Any, Any, Any](scope).headers.get("authorization")
    if not header:
        raise AuthenticationFailed("Not authenticated")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Authorization header must be: Bearer <token>")
    return token.strip()


def served_token(scope: Scope) -> str | None:
    """The token the request is served as, if it carries one: on the dashboard's pages the session
    cookie (whatever Authorization header comes with it), elsewhere the bearer (whatever cookie)."""
    if is_page_path(scope["path"]):
        # Litestar's own parser, so that this is the cookie a page handler would see.
        return ASGIConnection[Any, Any, Any, Any](scope).cookies.get(SESSION_COOKIE) or None
    try:
        return bearer_token(scope)
    except AuthenticationFailed:
        return None


async def authenticate_once(
    scope: Scope, token: str, tokens: TokenIssuer, unit_of_work: UnitOfWorkFactory
) -> User:
    """The user ``token`` speaks for, checked at most once per request; raises the DomainError
    that refused it (``AuthenticationFailed``, or ``Unavailable`` for a store that is down)."""
    checked: dict[str, User | DomainError] = scope.setdefault("state", {}).setdefault(CHECKED_TOKENS, {})
    outcome = checked.get(token)
    if outcome is None:
        try:
            outcome = await accounts.authenticate(unit_of_work(), tokens, token)
        except DomainError as error:
            outcome = error
        checked[token] = outcome
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome
