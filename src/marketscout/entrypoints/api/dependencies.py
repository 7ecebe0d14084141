"""Bridges from the container to Litestar's dependency injection.

Handlers take ports as parameters and never see the container.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import Provide

from marketscout.domain.model import User
from marketscout.domain.ports import Clock, PasswordHasher, TokenIssuer, UnitOfWork
from marketscout.entrypoints.api.cache import ReadCache
from marketscout.entrypoints.authentication import authenticate_once, bearer_token
from marketscout.entrypoints.container import Container


async def authenticate_request(container: Container, request: Request[Any, Any, Any]) -> User:
    """The signed-in user of an API request, its bearer's (the rule of ``served_token``), found
    once per request: the rate limiter or the app's request checks (before the body is read)
    look first, and the handler's ``user`` takes what they found."""
    user = await authenticate_once(
        request.scope, bearer_token(request.scope), container.token_issuer(), container.unit_of_work
    )
    request.scope.setdefault("state", {})["user_id"] = user.id
    return user


@dataclass(frozen=True, slots=True)
class Reads:
    """What the cached read endpoints need, as one dependency: Litestar resolves several
    dependencies of a handler in a task group, which costs more than these reads themselves."""

    uow: UnitOfWork
    clock: Clock
    cache: ReadCache


def build_dependencies(container: Container) -> dict[str, Provide]:
    def provide_uow() -> UnitOfWork:
        uow: UnitOfWork = container.unit_of_work()
        return uow

    def provide_clock() -> Clock:
        clock: Clock = container.clock()
        return clock

    def provide_hasher() -> PasswordHasher:
        hasher: PasswordHasher = container.password_hasher()
        return hasher

    def provide_tokens() -> TokenIssuer:
        tokens: TokenIssuer = container.token_issuer()
        return tokens

    def provide_cache() -> ReadCache:
        cache: ReadCache = container.read_cache()
        return cache

    def provide_reads() -> Reads:
        return Reads(uow=container.unit_of_work(), clock=container.clock(), cache=container.read_cache())

    async def provide_user(request: Request[Any, Any, Any]) -> User:
        return await authenticate_request(container, request)

    return {
        "uow": Provide(provide_uow, sync_to_thread=False),
        "clock": Provide(provide_clock, sync_to_thread=False),
        "hasher": Provide(provide_hasher, sync_to_thread=False),
        "tokens": Provide(provide_tokens, sync_to_thread=False),
        "user": Provide(provide_user),
        "cache": Provide(provide_cache, sync_to_thread=False),
        "reads": Provide(provide_reads, sync_to_thread=False),
    }
