"""Re-scoring through the store: read each product's recent snapshots, score, store what changed.

Times ``rescore`` (the use case every ingest runs for the products it touched; it reads one point
per ad, region and hour from the hourly rollup) over every product
of a database filled by ``bench/bench_http.py``, in chunks as the ingest path sees them, with
the split between reading, scoring and storing. ``--force`` stores every score (as a first run
does); without it only scores that moved are stored.

    .venv/bin/python bench/bench_rescore.py --database-url postgresql://postgres@127.0.0.1/bench_1m
        [--chunk 500] [--force]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from datetime import UTC, datetime

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.scoring import score_many
from marketscout.domain.usecases.trends import SCORING_HISTORY, rescore
from marketscout.entrypoints.settings import Settings, tune_gc


async def run(url: str, chunk: int, force: bool) -> None:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    clock = FixedClock(datetime.now(UTC))
    async with uow:
        ids = await uow.products.all_ids()
    started = time.perf_counter()
    snapshots = 0
    for start in range(0, len(ids), chunk):
        await rescore(uow, clock, ids[start : start + chunk], force=force)
    total = time.perf_counter() - started
    # The split, on the same chunks: reading the snapshots, and scoring them.
    reading = scoring = 0.0
    now = clock.now()
    for start in range(0, len(ids), chunk):
        began = time.perf_counter()
        async with uow:
            series = await uow.engagement.scoring_points(
                ids[start : start + chunk], since=now - SCORING_HISTORY, until=now
            )
        read = time.perf_counter()
        score_many(series, now)
        reading += read - began
        scoring += time.perf_counter() - read
        snapshots += sum(len(v) for v in series.values())
    await engine.dispose()
    print(
        f"re-scored {len(ids):,} products ({snapshots:,} hourly points) in {total:.2f} s "
        f"= {len(ids) / total:,.0f} products/s; of which reading ~{reading:.2f} s, scoring ~{scoring:.2f} s, "
        f"storing and the rest ~{max(total - reading - scoring, 0):.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    # As the server does at start (MARKETSCOUT_GC_THRESHOLD; 0 measures Python's default).
    threshold = Settings.from_env().gc_threshold
    tune_gc(threshold)
    print(f"garbage-collector threshold: {gc.get_threshold()[0]:,}")
    asyncio.run(run(args.database_url, args.chunk, args.force))
    print(f"command: {' '.join(['python', *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
