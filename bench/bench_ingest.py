"""Ingest rate into SQLite and PostgreSQL through SqlEngagementStore (the path POST /engagement uses).

.venv/bin/python bench/bench_ingest.py [--snapshots 1000000] [--products 10000] [--ads 200000]
    [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from marketscout.adapters.simulation import iter_bulk_snapshots
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql import tables as t
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.model import EngagementSnapshot, Platform

START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database migrated to the head, dropped afterwards; yields its URL."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def vacuum_analyze(url: str) -> None:
    """Fresh planner statistics, as autovacuum would give a database that has settled."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def dated_command() -> str:
    return (
        f"date: {datetime.now(UTC):%Y-%m-%d}; command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}"
    )


async def seed(url: str, products: int, ads: int) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            t.products.insert(),
            [
                {
                    "name": f"P{i}",
                    "name_key": f"p{i}",
                    "description": "d",
                    "keywords": [],
                    "created_at": START,
                }
                for i in range(products)
            ],
        )
        if not ads:
            return
        await connection.execute(
            t.ads.insert(),
            [
                {"product_id": 1 + i % products, "platform": "TikTok", "ad_content": "x", "created_at": START}
                for i in range(ads)
            ],
        )
    await engine.dispose()


async def ingest(url: str, products: int, ads: int, count: int) -> float:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    rows = iter_bulk_snapshots(7, ads=ads, snapshots=count, start=START)
    started = time.perf_counter()
    stored = 0
    batch: list[EngagementSnapshot] = []
    for ad_index, region, observed_at, views, likes, comments, shares in rows:
        batch.append(
            EngagementSnapshot(
                ad_id=ad_index + 1,
                product_id=1 + ad_index % products,
                platform=Platform.TIKTOK,
                region=region,
                observed_at=observed_at,
                views=views,
                likes=likes,
                comments=comments,
                shares=shares,
            )
        )
        if len(batch) == BATCH:
            async with uow:
                stored += (await uow.engagement.add_many(batch)).stored
                await uow.commit()
            batch = []
    if batch:
        async with uow:
            stored += (await uow.engagement.add_many(batch)).stored
            await uow.commit()
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return stored / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--ads", type=int, default=200_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        migrate.upgrade(sqlite_url)
        asyncio.run(seed(sqlite_url, args.products, args.ads))
        rate = asyncio.run(ingest(sqlite_url, args.products, args.ads, args.snapshots))
        print(f"SQLite: {rate:,.0f} snapshots/s ({args.snapshots:,} snapshots, {args.ads:,} ads)")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = args.postgres
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        asyncio.run(seed(url, args.products, args.ads))
        rate = asyncio.run(ingest(url, args.products, args.ads, args.snapshots))
        print(f"PostgreSQL: {rate:,.0f} snapshots/s ({args.snapshots:,} snapshots, {args.ads:,} ads)")
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    print(f"command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
