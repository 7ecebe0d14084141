"""Cold reads: each read use case timed with no cache in front of it, as after every ingest.

The server caches its read answers and clears that cache on every write, so the first
/trending, /heat-map and /scan-ads after an ingest pay the full price measured here. Point it at a
database filled by ``bench/bench_http.py`` (1 million snapshots: ``--snapshots 1000000 --products
10000 --ads 200000``); ``--profile NAME`` prints a cProfile of one use case instead.

    .venv/bin/python bench/bench_cold.py --database-url postgresql://postgres@127.0.0.1/bench_1m
        [--repeat 3] [--profile scan-ads]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.usecases import catalog, trends
from marketscout.entrypoints.settings import Settings, tune_gc


def cases(uow: SqlUnitOfWork, clock: FixedClock) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "products?limit=100": lambda: catalog.list_products_with_scores(uow, skip=0, limit=100),
        "trending": lambda: trends.trending(uow, limit=10),
        "heat-map": lambda: trends.regional_heat_map(uow, clock),
        "scan-ads": lambda: trends.scan_ads(uow, clock),
    }


async def run(url: str, repeat: int, profile: str | None) -> None:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    clock = FixedClock(datetime.now(UTC))
    try:
        for name, call in cases(uow, clock).items():
            if profile is not None and name != profile:
                continue
            await call()  # connections and statement caches warm, answers not cached
            if profile is not None:
                profiler = cProfile.Profile()
                profiler.enable()
                await call()
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
                continue
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                await call()
                timings.append(time.perf_counter() - started)
            print(
                f"{name:20} median {1000 * statistics.median(timings):9.1f} ms   max {1000 * max(timings):9.1f} ms"
            )
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile")
    args = parser.parse_args()
    # As the server does at start (MARKETSCOUT_GC_THRESHOLD; 0 measures Python's default).
    threshold = Settings.from_env().gc_threshold
    tune_gc(threshold)
    print(f"garbage-collector threshold: {gc.get_threshold()[0]:,}")
    asyncio.run(run(args.database_url, args.repeat, args.profile))
    print(f"command: {' '.join(['python', *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
