"""How ingest and reads change as the engagement history grows (PostgreSQL).

For each size, a fresh database with a fixed catalogue (2,000 products, 10,000 ads) takes that
many hourly snapshots through SqlEngagementStore (COPY plus the rollups) in the order a
collector delivers them — hour after hour, every ad's reading of that hour in the same batch —
or, with ``--order ad``, one ad's whole history after another (the worst case for reading a
time range, since each hour's rows end up spread over the whole table). Then it times the read
model behind /scan-ads, /heat-map and /trending's activity filter — views gained per ad and
region over the last 7 days — read from the rollups, next to the same aggregate over raw rows
(what the store did before the rollups). More snapshots mean a longer history per ad.

.venv/bin/python bench/bench_growth.py [--sizes 100000,1000000,10000000] [--order time|ad] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import case, func, select

from marketscout.adapters.sql import tables as t
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.repositories import SqlEngagementStore
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.gains import LOOKBACK
from marketscout.domain.model import EngagementSnapshot, Platform

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import START, dated_command, ingest, scratch_database, seed, vacuum_analyze

PRODUCTS, ADS, REPEATS = 2_000, 10_000, 5


async def ingest_by_time(url: str, count: int) -> float:
    """Hour after hour, each hour's reading of every ad in one batch of 10,000."""
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    rng = random.Random(7)
    views = [rng.randint(10, 1000) for _ in range(ADS)]
    growth = [rng.uniform(1.0, 1.02) for _ in range(ADS)]
    regions = ("US", "DE", "GB", "JP", "BR", "IN", "FR", "AU")
    started = time.perf_counter()
    stored = 0
    for hour in range(max(1, count // ADS)):
        batch = []
        for ad in range(ADS):
            # Capped: 2,000 hours of up to 2 % an hour would overflow a 64-bit counter.
            views[ad] = min(int(views[ad] * growth[ad]) + rng.randint(0, 50), 10**12)
            batch.append(
                EngagementSnapshot(
                    ad_id=ad + 1,
                    product_id=1 + ad % PRODUCTS,
                    platform=Platform.TIKTOK,
                    region=regions[ad % len(regions)],
                    observed_at=START + timedelta(hours=hour),
                    views=views[ad],
                    likes=views[ad] // 20,
                )
            )
        async with uow:
            stored += (await uow.engagement.add_many(batch)).stored
            await uow.commit()
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return stored / elapsed


async def _timed(call: object, repeats: int = REPEATS) -> tuple[float, int]:
    timings, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        size = len(await call())  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000, size


async def reads(url: str, snapshots: int) -> tuple[float, float, float, int]:
    """Median milliseconds: the whole store call (rollups), its SQL alone, and the same
    aggregate over raw rows alone (what the store ran before the rollups)."""
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    end = START + timedelta(hours=max(1, snapshots // ADS))
    start = end - timedelta(days=7)
    e = t.engagement_snapshots.c
    inside = e.observed_at > start
    raw = (
        select(
            e.ad_id,
            e.region,
            e.product_id,
            e.platform,
            func.max(case((~inside, e.views))),
            func.max(case((inside, e.views))),
            func.min(case((inside, e.views))),
            func.min(e.observed_at),
            func.max(e.observed_at),
        )
        .where(e.observed_at > start - LOOKBACK, e.observed_at <= end)
        .group_by(e.ad_id, e.region, e.product_id, e.platform)
        .having(func.max(e.observed_at) > start)
    )
    async with uow:
        session = uow._session
        # The statement the store runs, with its probe for a complete last day.
        complete = await uow.engagement._day_complete(end)  # type: ignore[attr-defined]
        rolled = SqlEngagementStore.gains_statement(start, end, None, day_complete=complete)

        async def rows(statement: object) -> list[object]:
            return list(await session.execute(statement))  # type: ignore[call-overload]

        call_ms, found = await _timed(lambda: uow.engagement.window_gains(start, end))
        rolled_ms, _ = await _timed(lambda: rows(rolled))
        raw_ms, raw_found = await _timed(lambda: rows(raw))
    await engine.dispose()
    assert found == raw_found, (found, raw_found)
    return call_ms, rolled_ms, raw_ms, found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sizes", default="100000,1000000", help="add 10000000 for the full series (about 15 min)"
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--order", choices=["time", "ad"], default="time")
    args = parser.parse_args()
    print(
        f"{'snapshots':>12} {'ingest/s':>10} {'store call':>11} {'SQL rollups':>12} {'SQL raw rows':>13} "
        f"{'ad-regions':>11}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        with scratch_database(args.postgres) as url:
            asyncio.run(seed(url, PRODUCTS, ADS))
            if args.order == "time":
                rate = asyncio.run(ingest_by_time(url, size))
            else:
                rate = asyncio.run(ingest(url, PRODUCTS, ADS, size))
            vacuum_analyze(url)
            call, rolled, raw, found = asyncio.run(reads(url, size))
            print(
                f"{size:>12,} {rate:>10,.0f} {call:>8,.0f} ms {rolled:>9,.0f} ms {raw:>10,.0f} ms {found:>11,}",
                flush=True,
            )
    print(dated_command())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
