"""Scoring speed: N items x 30 daily snapshots through score_many, and the burst detector per value.

.venv/bin/python bench/bench_scoring.py [--items 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from marketscout.domain.burst import BurstDetector
from marketscout.domain.model import EngagementSnapshot, Platform
from marketscout.domain.scoring import score_many

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def items(count: int, days: int = 30) -> dict[int, list[EngagementSnapshot]]:
    rng = random.Random(1)
    made: dict[int, list[EngagementSnapshot]] = {}
    for item in range(count):
        views, growth = rng.randint(100, 10_000), rng.uniform(1.0, 1.4)
        rows = []
        for day in range(days):
            views = int(views * growth) + rng.randint(0, 100)
            rows.append(
                EngagementSnapshot(
                    ad_id=item,
                    product_id=item,
                    platform=Platform.TIKTOK,
                    region="US",
                    observed_at=AS_OF - timedelta(days=days - 1 - day),
                    views=views,
                    likes=views // 20,
                )
            )
        made[item] = rows
    return made


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    data = items(args.items)
    started = time.perf_counter()
    score_many(data, AS_OF)
    elapsed = time.perf_counter() - started
    print(
        f"scoring: {args.items} items x 30 daily snapshots in {elapsed:.2f} s "
        f"= {args.items / elapsed:,.0f} items/s ({1e6 * elapsed / args.items:.0f} us/item)"
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
