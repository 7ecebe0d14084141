"""The composition root: the one place that chooses and wires adapters."""

from __future__ import annotations

import logging
from typing import Any

from dependency_injector import containers, providers

from marketscout.adapters.clock import SystemClock
from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.adapters.security import Argon2PasswordHasher, JwtTokenIssuer, generate_secret
from marketscout.entrypoints.api.cache import ReadCache
from marketscout.entrypoints.ratelimit import RateLimitConfig, RateLimiter
from marketscout.entrypoints.settings import Settings

logger = logging.getLogger("marketscout")


def store_kind(settings: Settings) -> str:
    """Which store a database URL selects: ``memory`` or ``sql``."""
    return "memory" if settings.database_url.startswith("memory:") else "sql"


def instance_secret(settings: Settings) -> str:
    """The instance's secret (``MARKETSCOUT_JWT_SECRET``), or one generated for this process:
    what signs access tokens and, through a key derived from it, the dashboard's one-shot note."""
    secret = settings.jwt_secret
    if secret is None:
        secret = generate_secret()
        logger.warning(
            "MARKETSCOUT_JWT_SECRET is not set: generated a secret for this process; "
            "tokens will not survive a restart or work across workers"
        )
    return secret


def build_token_issuer(settings: Settings, secret: str, clock: SystemClock) -> JwtTokenIssuer:
    return JwtTokenIssuer(
        secret=secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl_seconds=settings.access_token_ttl,
        refresh_ttl_seconds=settings.refresh_token_ttl,
        clock=clock,
    )


def _sql_engine(settings: Settings) -> Any:
    from marketscout.adapters.sql.engine import create_engine

    return create_engine(settings.database_url, statement_timeout_ms=settings.db_statement_timeout_ms)


def _sql_session_factory(engine: Any) -> Any:
    from marketscout.adapters.sql.engine import session_factory

    return session_factory(engine)


def _sql_unit_of_work(sessions: Any) -> Any:
    from marketscout.adapters.sql.uow import SqlUnitOfWork

    return SqlUnitOfWork(sessions)


def _sql_health(engine: Any) -> Any:
    from marketscout.adapters.sql.uow import SqlHealthProbe

    return SqlHealthProbe(engine)


def _notifiers(settings: Settings, clock: SystemClock) -> Any:
    from marketscout.entrypoints.notify import build_notifiers

    return build_notifiers(settings, clock)


def build_rate_limiter(settings: Settings) -> RateLimiter:
    return RateLimiter(
        RateLimitConfig(
            auth=settings.rate_limit_auth,
            heavy=settings.rate_limit_heavy,
            default=settings.rate_limit_default,
            storage_url=settings.rate_limit_storage,
            trusted_proxies=settings.trusted_proxies,
        )
    )


class Container(containers.DeclarativeContainer):
    """Singletons for what is shared (settings, engine, hasher, issuer); a fresh unit of
    work per use."""

    settings = providers.Singleton(Settings.from_env)
    clock = providers.Singleton(SystemClock)
    password_hasher = providers.Singleton(
        Argon2PasswordHasher,
        memory_cost=settings.provided.argon2_memory_kib,
        time_cost=settings.provided.argon2_time_cost,
        parallelism=settings.provided.argon2_parallelism,
    )
    secret = providers.Singleton(instance_secret, settings)
    token_issuer = providers.Singleton(build_token_issuer, settings=settings, secret=secret, clock=clock)

    rate_limiter = providers.Singleton(build_rate_limiter, settings)
    notifiers = providers.Singleton(_notifiers, settings, clock)
    read_cache = providers.Singleton(ReadCache, ttl_seconds=settings.provided.read_cache_seconds)
    memory_store = providers.Singleton(InMemoryStore)
    sql_engine = providers.Singleton(_sql_engine, settings)
    sql_sessions = providers.Singleton(_sql_session_factory, sql_engine)

    unit_of_work = providers.Selector(
        providers.Callable(store_kind, settings),
        memory=providers.Factory(InMemoryUnitOfWork, store=memory_store),
        sql=providers.Factory(_sql_unit_of_work, sql_sessions),
    )
    health_probe = providers.Selector(
        providers.Callable(store_kind, settings),
        memory=memory_store,
        sql=providers.Singleton(_sql_health, sql_engine),
    )
