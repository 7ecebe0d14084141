"""Scoring speed: N items x 30 daily snapshots through score_many, and the burst detector per value.

.venv/bin/python bench/bench_scoring.py [--items 100000] [--series 1] [--days 30] [--every-minutes 1440]

``--series S --days D --every-minutes M``: each item has S ads (regions in turn), each read
every M minutes for D days (``--items 2000 --days 61 --every-minutes 60``: what collectors polling
hourly leave within re-scoring's 61-day horizon). Also times the engine's core alone on the
same items already grouped per ad and region (``score_series``, what re-scoring runs on the
store's series).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from marketscout.domain.burst import BurstDetector
from marketscout.domain.model import EngagementSnapshot, Platform
from marketscout.domain.scoring import reading_series, score_many, score_series
from marketscout.entrypoints.settings import Settings, tune_gc

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def items(
    count: int, days: int = 30, *, series: int = 1, every_minutes: int = 1440
) -> dict[int, list[EngagementSnapshot]]:
    rng = random.Random(1)
    made: dict[int, list[EngagementSnapshot]] = {}
    readings = days * 1440 // every_minutes
    for item in range(count):
        rows = []
        for ad in range(series):
            views = rng.randint(100, 10_000)
            growth = rng.uniform(1.0, 1.4) ** (every_minutes / 1440)
            for step in range(readings):
                views = int(views * growth) + rng.randint(0, 100)
                rows.append(
                    EngagementSnapshot(
                        ad_id=item * series + ad,
                        product_id=item,
                        platform=Platform.TIKTOK,
                        region=("US", "GB", "DE", "FR", "JP")[ad % 5],
                        observed_at=AS_OF - timedelta(minutes=(readings - 1 - step) * every_minutes),
                        views=views,
                        likes=views // 20,
                    )
                )
        made[item] = rows
    return made


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--series", type=int, default=1, help="ads per item")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--every-minutes", type=int, default=1440, help="minutes between an ad's readings")
    args = parser.parse_args()
    # As the server does at start (MARKETSCOUT_GC_THRESHOLD; 0 measures Python's default).
    tune_gc(Settings.from_env().gc_threshold)
    data = items(args.items, args.days, series=args.series, every_minutes=args.every_minutes)
    shape = (
        f"{args.series} x {args.days * 1440 // args.every_minutes} readings every {args.every_minutes} min"
    )
    started = time.perf_counter()
    score_many(data, AS_OF)
    elapsed = time.perf_counter() - started
    print(
        f"scoring: {args.items} items x {shape} in {elapsed:.2f} s "
        f"= {args.items / elapsed:,.0f} items/s ({1e6 * elapsed / args.items:.0f} us/item)"
    )
    grouped = [reading_series(rows) for rows in data.values()]
    started = time.perf_counter()
    for found in grouped:
        score_series(found, AS_OF)
    elapsed = time.perf_counter() - started
    print(
        f"the core alone (score_series on grouped series): {elapsed:.2f} s ({1e6 * elapsed / args.items:.0f} us/item)"
    )
    detector = BurstDetector()
    values = [100 + (i % 288) for i in range(200_000)]
    started = time.perf_counter()
    for value in values:
        detector.update(value)
    per_value = (time.perf_counter() - started) / len(values)
    print(f"burst detector: {1e6 * per_value:.2f} us per value")
    print(f"command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
