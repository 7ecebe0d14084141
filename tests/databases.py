"""Databases for the tests: a temporary SQLite file, or a throw-away PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.tables import metadata

ADMIN_URL = os.environ.get("MARKETSCOUT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(reason: str) -> None:
    """Skips with the reason outside CI; in CI a missing service is a failure."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: services must be running)")
    pytest.skip(reason)


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_postgres_database(revision: str = "head") -> Iterator[str]:
    """A new PostgreSQL database migrated to ``revision``, dropped afterwards."""
    if not postgres_reachable():
        need(f"PostgreSQL is not reachable at {ADMIN_URL}")
    name = f"marketscout_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url, revision)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def truncate_postgres(url: str) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(names)))


def create_product_in(url: str, name: str) -> None:
    """Creates a product in a migrated database through the domain, in a separate process
    (as another client of the same database would)."""
    script = (
        "import asyncio, sys;"
        "from marketscout.adapters.clock import SystemClock;"
        "from marketscout.adapters.sql.engine import create_engine, session_factory;"
        "from marketscout.adapters.sql.uow import SqlUnitOfWork;"
        "from marketscout.domain.usecases import catalog;"
        "e = create_engine(sys.argv[1]);"
        "asyncio.run(catalog.create_product(SqlUnitOfWork(session_factory(e)), SystemClock(),"
        " catalog.NewProduct(name=sys.argv[2], description='d'), created_by=None))"
    )
    subprocess.run([sys.executable, "-c", script, url, name], check=True, timeout=60)
