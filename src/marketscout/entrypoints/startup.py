"""What the server does when it starts and stops: migrate, fill demo data, close."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dependency_injector import providers
from sqlalchemy.exc import DBAPIError

from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import is_sqlite, sqlite_path
from marketscout.entrypoints.container import Container, store_kind
from marketscout.entrypoints.settings import Settings, StartupError, database_problem

logger = logging.getLogger("marketscout")

__all__ = [
    "StartupError",
    "check_store",
    "command_container",
    "prepare_store",
    "release_store",
    "require_database",
]


def require_database(url: str) -> None:
    """Refuses (:class:`StartupError`) a SQLite database whose file does not exist, before
    anything would create it: for a command that reads or changes what is stored, a mistyped
    path would otherwise be a new, empty database, and "nothing found" its answer. A PostgreSQL
    database that does not exist is refused by PostgreSQL itself."""
    if url.startswith("memory:") or not is_sqlite(url):
        return
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise StartupError(f"no database at {path.resolve()} (`marketscout db upgrade` creates it)")


async def prepare_store(container: Container) -> None:
    settings = container.settings()
    if store_kind(settings) == "sql":
        url = settings.database_url
        try:
            if url.startswith("sqlite"):
                await asyncio.to_thread(migrate.upgrade, url)
                logger.info("SQLite database at %s is migrated to %s", migrate.describe(url), migrate.head())
            elif not await asyncio.to_thread(migrate.is_up_to_date, url):
                raise StartupError(
                    "The PostgreSQL schema is not up to date; run: marketscout db upgrade "
                    "(with the same MARKETSCOUT_DATABASE_URL)"
                )
        except (DBAPIError, OSError) as error:
            # PostgreSQL refused the connection, or SQLite's file cannot be made.
            raise StartupError(database_problem(error)) from error
    else:
        logger.info("Using the in-memory store: data lasts as long as this process")
    if settings.demo_data:
        from marketscout.entrypoints.demo import load_demo_if_empty

        await load_demo_if_empty(container)


async def release_store(container: Container) -> None:
    if store_kind(container.settings()) == "sql":
        await container.sql_engine().dispose()


@asynccontextmanager
async def command_container(settings: Settings) -> AsyncIterator[Container]:
    """The container of a command that is not the server (notify, refresh): its store prepared
    as the server's is, and released afterwards."""
    container = Container()
    container.settings.override(providers.Object(settings))
    await prepare_store(container)
    try:
        yield container
    finally:
        await release_store(container)


async def check_store(settings: Settings) -> None:
    """Opens the store as the server will and closes it again (no demo data), so that a store
    that cannot be opened is said before the server starts (:class:`StartupError`)."""
    async with command_container(dataclasses.replace(settings, demo_data=False)):
        pass
