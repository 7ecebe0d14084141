"""Engines for the user-facing database URLs, tuned so that a down database answers fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_MS = 10_000


def async_url(url: str) -> str:
    """``sqlite:///p`` → ``sqlite+aiosqlite:///p``; ``postgresql://`` → ``postgresql+psycopg://``."""
    parsed = make_url(url)
    if parsed.drivername in {"sqlite", "sqlite+aiosqlite"}:
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg"}:
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError("the database URL must start with sqlite:/// or postgresql://")


def sync_url(url: str) -> str:
    """The same database for synchronous tools (Alembic): sqlite3 or psycopg."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).drivername.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(
    url: str, *, echo: bool = False, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
) -> AsyncEngine:
    """An engine; on PostgreSQL every statement is cancelled after ``statement_timeout_ms``
    (the request then answers 503), and connecting gives up after 3 s."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(async_url(url), echo=echo, connect_args={"timeout": 5})
        event.listen(engine.sync_engine, "connect", set_sqlite_pragmas)
        return engine
    return create_async_engine(
        async_url(url),
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            # Sessions in UTC: psycopg then answers timestamps in ``datetime.UTC`` itself, which
            # the adapters keep as they are instead of converting every value read.
            "options": f"-c statement_timeout={int(statement_timeout_ms)} -c TimeZone=UTC",
        },
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
