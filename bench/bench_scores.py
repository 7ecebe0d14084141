"""Reads of the latest scores as the score history grows (PostgreSQL).

Every ingest re-scores the products it touched and stores the scores that moved, so the history
of scores grows without end. For each size, a fresh database with 10,000 products takes that
many stored scores per product (through ``ScoreRepository.add_many``, as re-scoring stores
them); then the cold reads built on the latest scores are timed, median of 5: ``/trending``
(``trends.trending``), the catalogue page (``catalog.list_products_with_scores``) and the
latest scores of 500 products (what re-scoring compares with).

    .venv/bin/python bench/bench_scores.py [--history 1,10,100] [--products 10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.model import TrendAssessment, TrendScore, TrendStatus
from marketscout.domain.usecases import catalog, trends

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import dated_command, scratch_database, seed, vacuum_analyze

START = datetime(2026, 1, 1, tzinfo=UTC)


async def fill(url: str, products: int, history: int) -> float:
    await seed(url, products, 0)
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    statuses = list(TrendStatus)
    started = time.perf_counter()
    for step in range(history):
        for first in range(0, products, 2_000):
            batch = [
                TrendScore(
                    product_id=pid,
                    calculated_at=START + timedelta(minutes=10 * step),
                    assessment=TrendAssessment(
                        score=float((pid * 37 + step * 11) % 100),
                        status=statuses[(pid + step) % len(statuses)],
                        confidence=0.5,
                        components={"momentum": 0.1},
                        growth={"24h": 0.1, "7d": 0.2, "30d": 0.3},
                        forecast=(1.0,) * 7,
                        reasons=("bench",),
                    ),
                )
                for pid in range(first + 1, min(first + 2_000, products) + 1)
            ]
            async with uow:
                await uow.scores.add_many(batch)
                await uow.commit()
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


async def reads(url: str, products: int) -> dict[str, float]:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    cases: dict[str, Callable[[], Awaitable[object]]] = {
        "trending": lambda: trends.trending(uow, limit=10),
        "products?limit=100": lambda: catalog.list_products_with_scores(uow, skip=0, limit=100),
        "latest of 500": lambda: _latest(uow, range(1, min(products, 500) + 1)),
    }
    found: dict[str, float] = {}
    for name, call in cases.items():
        await call()
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            await call()
            timings.append(time.perf_counter() - started)
        found[name] = statistics.median(timings) * 1000
    await engine.dispose()
    return found


async def _latest(uow: SqlUnitOfWork, ids: range) -> object:
    async with uow:
        return await uow.scores.latest_many(ids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", default="1,10,100", help="stored scores per product, comma-separated")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"{'scores':>12} {'trending':>10} {'products':>10} {'latest 500':>11}")
    for history in (int(h) for h in args.history.split(",")):
        with scratch_database(args.postgres) as url:
            asyncio.run(fill(url, args.products, history))
            vacuum_analyze(url)
            found = asyncio.run(reads(url, args.products))
            print(
                f"{history * args.products:>12,} {found['trending']:>7.1f} ms {found['products?limit=100']:>7.1f} ms "
                f"{found['latest of 500']:>8.1f} ms",
                flush=True,
            )
    print(dated_command())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
