"""The synthetic market simulator is deterministic and its viral products do peak."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from marketscout.adapters.simulation import iter_bulk_snapshots, simulate_market

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_same_seed_same_market_other_seed_other_market() -> None:
    assert simulate_market(3, start=START) == simulate_market(3, start=START)
    assert simulate_market(3, start=START) != simulate_market(4, start=START)


def test_counters_are_cumulative_and_kinds_are_labelled() -> None:
    market = simulate_market(5, start=START, days=10, products=16)
    last: dict[tuple[int, str], int] = {}
    for snap in market.snapshots:
        key = (snap.ad_index, snap.region)
        assert snap.views >= last.get(key, 0)
        last[key] = snap.views
    assert {p.kind for p in market.products} >= {"viral", "one_ad_spike", "bot_burst", "declining"}
    assert all("synthetic" in p.description for p in market.products)


def test_viral_products_gain_fastest_near_their_peak() -> None:
    market = simulate_market(11, start=START, days=30, products=8)
    for index, product in enumerate(market.products):
        if product.kind != "viral" or product.peak_at is None or product.peak_at > START + timedelta(days=27):
            continue
        ads = {i for i, a in enumerate(market.ads) if a.product_index == index}
        totals: dict[datetime, int] = defaultdict(int)
        for snap in market.snapshots:
            if snap.ad_index in ads:
                totals[snap.observed_at] += snap.views
        times = sorted(totals)
        gains = {times[i]: totals[times[i]] - totals[times[i - 1]] for i in range(1, len(times))}
        fastest = max(gains, key=lambda t: gains[t])
        assert abs((fastest - product.peak_at).total_seconds()) < 6 * 86400


def test_bulk_rows_are_cheap_and_bounded() -> None:
    rows = list(iter_bulk_snapshots(1, ads=10, snapshots=95, start=START))
    assert len(rows) == 90  # 9 per ad
    assert all(0 <= r[3] <= 10**12 for r in rows)
