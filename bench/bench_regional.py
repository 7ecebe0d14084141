"""A region's trending list: the worldwide ranking filtered to it, against its own ranking.

On a database filled by ``bench/bench_rescore.py --fill`` (one ad per product, its readings all in
one country: US, GB, DE, FR, JP by product), times what ``GET /trending`` runs, cold (nothing is
cached here; the API keeps an answer 30 s), a few times each, median and min:

- ``worldwide, DE``: the stored worldwide scores, filtered to the products active in Germany
  (``trends.trending_page`` with ``among=active_products(region="DE")``, as ``/trending?region=DE``
  filters them; the API calls ``trending``, which does not count the list);
- ``regional, DE`` and ``regional, Europe``: ``trends.regional_trending_page``, which scores every
  product active in the area from the area's hourly series, computed for the answer.

Then the regional ranking's parts alone, on the same products: finding the active products
(``active_products``), reading their series (``scoring_series``) and scoring them
(``score_series``), with how many series were read and how many the area kept; the Python heap's
peak of each call (tracemalloc, on one untimed run of its own: tracing slows the timed ones) and
the process's peak resident size. ``--profile`` adds cProfile's top entries of one regional call.

    .venv/bin/python bench/bench_regional.py --database-url postgresql://postgres@127.0.0.1/bench_100k
        [--fill 100000] [--repeats 5] [--limit 10] [--profile]

``--fill N`` first fills a fresh database migrated to the head as ``bench_rescore.py --fill`` does
(a SQLite URL is migrated here); any URL the store takes works (``sqlite:///path``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import pstats
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.regions import in_area, normalise_area, regions_of
from marketscout.domain.scoring import score_series
from marketscout.domain.usecases import trends
from marketscout.entrypoints.settings import Settings, tune_gc

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import dated_command, vacuum_analyze
from bench_rescore import fill

# Europe holds three of the fill's five countries (GB, DE, FR).
AREAS = ("DE", "Europe")


async def _worldwide(uow: SqlUnitOfWork, clock: FixedClock, area: str, limit: int) -> trends.TrendingPage:
    among = await trends.active_products(uow, clock, region=area)
    return await trends.trending_page(uow, limit=limit, among=among)


def _cases(
    uow: SqlUnitOfWork, clock: FixedClock, limit: int
) -> dict[str, Callable[[], Awaitable[trends.TrendingPage]]]:
    cases: dict[str, Callable[[], Awaitable[trends.TrendingPage]]] = {
        "worldwide, DE": lambda: _worldwide(uow, clock, "DE", limit)
    }
    for area in AREAS:
        cases[f"regional, {area}"] = partial(
            trends.regional_trending_page, uow, clock, area=area, limit=limit
        )
    return cases


async def _timed(call: Callable[[], Awaitable[object]], repeats: int) -> list[float]:
    await call()  # warm: connections, compiled statements
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        timings.append(time.perf_counter() - started)
    return timings


async def _heap_peak(call: Callable[[], Awaitable[object]]) -> float:
    """The Python heap's peak during one call, above what it held before, in MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        await call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


class _Steps:
    """Each step's wall time and this process's CPU time (the rest is waiting, mostly for the
    database), in seconds, one list per step."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        self._mark = (time.perf_counter(), time.process_time())

    def lap(self, step: str) -> None:
        mark = (time.perf_counter(), time.process_time())
        self.wall.setdefault(step, []).append(mark[0] - self._mark[0])
        self.cpu.setdefault(step, []).append(mark[1] - self._mark[1])
        self._mark = mark

    def restart(self) -> None:
        self._mark = (time.perf_counter(), time.process_time())

    def line(self, step: str) -> str:
        wall, cpu = statistics.median(self.wall[step]), statistics.median(self.cpu[step])
        return f"{step} {wall:.2f} s (CPU here {cpu:.2f} s)"


async def _parts(uow: SqlUnitOfWork, clock: FixedClock, area: str, repeats: int) -> str:
    """The regional ranking's steps alone, as ``regional_trending_page`` takes them (reading and
    scoring apart here: the use case scores a product while the store reads the next), median of
    ``repeats``."""
    here = normalise_area(area)
    now = clock.now()
    steps = _Steps()
    for _ in range(repeats):
        steps.restart()
        async with uow:
            gains = await uow.engagement.window_gains(
                now - trends.ACTIVITY_WINDOW, now, regions=regions_of(here)
            )
        steps.lap("window gains")
        among = {g.product_id for g in gains if g.gained > 0 and in_area(g.region, here)}
        steps.lap("keeping the area's")
        series_read = series_kept = points = 0
        kept = []
        async with uow:
            await uow.products.get_many(among)
            steps.lap("products")
            async with contextlib.aclosing(
                uow.engagement.scoring_series(sorted(among), since=now - trends.SCORING_HISTORY, until=now)
            ) as stream:
                async for _, series in stream:
                    there = [s for s in series if in_area(s.region, here)]
                    series_read += len(series)
                    series_kept += len(there)
                    points += sum(len(s.epochs) for s in series)
                    kept.append(there)
        steps.lap("reading series")
        for there in kept:
            score_series(there, now)
        steps.lap("scoring")
    return (
        f"  {area}: {len(gains):,} window gains (the area's regions), {len(among):,} products active in "
        f"the area, {series_read:,} series read ({points:,} hourly points, {series_kept:,} in the "
        f"area); median of {repeats}:\n    " + ", ".join(steps.line(step) for step in steps.wall)
    )


async def run(url: str, repeats: int, limit: int, profile: bool) -> None:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    clock = FixedClock(datetime.now(UTC))
    cases = _cases(uow, clock, limit)
    print(f"{'case':<18} {'listed':>8} {'median':>9} {'min':>9} {'heap peak':>10}")
    for name, call in cases.items():
        timings = await _timed(call, repeats)
        page = await call()
        heap = await _heap_peak(call)
        print(
            f"{name:<18} {page.total:>8,} {statistics.median(timings):>7.2f} s {min(timings):>7.2f} s "
            f"{heap:>6.1f} MiB",
            flush=True,
        )
    print("regional ranking, each part alone:")
    for area in AREAS:
        print(await _parts(uow, clock, area, min(repeats, 3)), flush=True)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await cases[f"regional, {AREAS[0]}"]()
        profiler.disable()
        print(f"cProfile of one 'regional, {AREAS[0]}' call, top entries by own time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    await engine.dispose()
    # ru_maxrss is in KiB on Linux.
    print(
        f"peak resident size of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of each case")
    parser.add_argument("--limit", type=int, default=10, help="the page's size (the API's default)")
    parser.add_argument("--profile", action="store_true", help="cProfile one regional call")
    parser.add_argument("--fill", type=int, default=0, help="first fill an empty database: products")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    postgres = args.database_url.startswith("postgresql")
    if args.fill:
        if not postgres:
            migrate.upgrade(args.database_url)
        asyncio.run(fill(args.database_url, args.fill, args.days, datetime.now(UTC)))
        # The worldwide list ranks the stored scores: store every product's, as a first run does.
        asyncio.run(_score_all(args.database_url))
    if postgres:
        vacuum_analyze(args.database_url)
    tune_gc(Settings.from_env().gc_threshold)  # as the server does at start
    print(f"garbage-collector threshold: {gc.get_threshold()[0]:,}")
    asyncio.run(run(args.database_url, args.repeats, args.limit, args.profile))
    print(dated_command())
    return 0


async def _score_all(url: str) -> None:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    async with uow:
        ids = await uow.products.all_ids()
    await trends.rescore(uow, FixedClock(datetime.now(UTC)), ids, force=True)
    await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
