"""Re-scoring through the store: read each product's recent snapshots, score, store what changed.

Times ``rescore`` (the use case every ingest runs for the products it touched; it reads one point
per ad, region and hour from the hourly rollup) over every product
of a database filled by ``bench/bench_http.py``, in one call as an ingest batch that touched them
all makes it (``--chunk N``: calls of N products), with
the split between reading, scoring and storing. ``--force`` stores every score (as a first run
does); without it only scores that moved are stored.

    .venv/bin/python bench/bench_rescore.py --database-url postgresql://postgres@127.0.0.1/bench_1m
        [--chunk N] [--force] [--touched N]

The issue's shape (100,000 products with 30 daily readings each, one ad per product) is made by
``--fill 100000``, into a fresh database migrated to the head (``--database-url`` names it);
``--days 61 --every-hours 1`` fills a long hourly history instead (what collectors polling every
hour leave after two months).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.model import EngagementSnapshot, Platform
from marketscout.domain.scoring import score_series
from marketscout.domain.usecases.trends import SCORING_HISTORY, rescore
from marketscout.entrypoints.settings import Settings, tune_gc

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import seed, vacuum_analyze


async def fill(url: str, products: int, days: int, now: datetime, every_hours: int = 24) -> None:
    """``products`` products with one ad each and one reading every ``every_hours`` hours (a
    day by default) for ``days`` days up to ``now``, growing at a steady rate per product (as in
    ``bench_scoring.py``), through the store."""
    await seed(url, products, products)  # ad i belongs to product i
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    rng = random.Random(1)
    batch: list[EngagementSnapshot] = []
    for item in range(products):
        views, growth = rng.randint(100, 10_000), rng.uniform(1.0, 1.2) ** (every_hours / 24)
        readings = days * 24 // every_hours
        for step in range(readings):
            views = int(views * growth) + rng.randint(0, 100)
            batch.append(
                EngagementSnapshot(
                    ad_id=item + 1,
                    product_id=item + 1,
                    platform=Platform.TIKTOK,
                    region=("US", "GB", "DE", "FR", "JP")[item % 5],
                    observed_at=now - timedelta(hours=(readings - 1 - step) * every_hours, minutes=1),
                    views=views,
                    likes=views // 20,
                )
            )
        if len(batch) >= 10_000 or item == products - 1:
            async with uow:
                await uow.engagement.add_many(batch)
                await uow.commit()
            batch = []
    await engine.dispose()


async def run(url: str, chunk: int, force: bool, touched: int) -> None:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    clock = FixedClock(datetime.now(UTC))
    async with uow:
        ids = await uow.products.all_ids()
    chunk = chunk or len(ids)
    if touched:
        # What an ingest batch that touched ``touched`` products re-scores: only those, spread
        # over the catalogue, in one call as the ingest path makes it.
        ids = ids[:: max(1, len(ids) // touched)][:touched]
        chunk = len(ids)
    started = time.perf_counter()
    for start in range(0, len(ids), chunk):
        await rescore(uow, clock, ids[start : start + chunk], force=force)
    total = time.perf_counter() - started
    # Each part alone, on the same chunks: reading the series (re-scoring overlaps it with
    # scoring: the store streams them), and scoring them.
    reading = scoring = 0.0
    points = 0
    now = clock.now()
    for start in range(0, len(ids), chunk):
        began = time.perf_counter()
        async with uow:
            series = {
                product_id: found
                async for product_id, found in uow.engagement.scoring_series(
                    ids[start : start + chunk], since=now - SCORING_HISTORY, until=now
                )
            }
        read = time.perf_counter()
        for found in series.values():
            score_series(found, now)
        reading += read - began
        scoring += time.perf_counter() - read
        points += sum(len(s.epochs) for v in series.values() for s in v)
    await engine.dispose()
    print(
        f"re-scored {len(ids):,} products ({points:,} hourly points) in {total:.2f} s "
        f"= {len(ids) / total:,.0f} products/s; each part alone: reading {reading:.2f} s, "
        f"scoring {scoring:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--chunk", type=int, default=0, help="products per call (default: all in one)")
    parser.add_argument("--force", action="store_true")
    parser.add_argument(
        "--touched", type=int, default=0, help="re-score only this many products, in one call"
    )
    parser.add_argument("--fill", type=int, default=0, help="first fill an empty database: products")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--every-hours", type=int, default=24, help="with --fill: hours between a product's readings"
    )
    args = parser.parse_args()
    if args.fill:
        started = time.perf_counter()
        asyncio.run(fill(args.database_url, args.fill, args.days, datetime.now(UTC), args.every_hours))
        vacuum_analyze(args.database_url)
        print(f"filled {args.fill:,} products x {args.days} days in {time.perf_counter() - started:.0f} s")
    # As the server does at start (MARKETSCOUT_GC_THRESHOLD; 0 measures Python's default).
    threshold = Settings.from_env().gc_threshold
    tune_gc(threshold)
    print(f"garbage-collector threshold: {gc.get_threshold()[0]:,}")
    asyncio.run(run(args.database_url, args.chunk, args.force, args.touched))
    print(f"command: {' '.join(['python', *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
