"""A request's access token, authenticated once whoever asks first.

Three parts of a request want to know what its token is worth: the rate limiter (only a token
that authenticates is counted against its user's budget), the dashboard's
:class:`~marketscout.entrypoints.web.session.PageUserMiddleware` and the API's ``user``
dependency. Each asks :func:`authenticate_once`. The first to ask checks the token with
:func:`~marketscout.domain.usecases.accounts.authenticate` (signature and times, then one unit of
work: the account, the token's revocation, the account's last password change); the others reuse
the outcome, kept in the request's state by token, since a request may carry two (a bearer and a
session cookie).
"""

from __future__ import annotations

from litestar.types import Scope

from marketscout.domain.errors import DomainError
from marketscout.domain.model import User
from marketscout.domain.ports import TokenIssuer
from marketscout.domain.usecases import accounts
from marketscout.domain.usecases.accounts import UnitOfWorkFactory

CHECKED_TOKENS = "checked_tokens"


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
