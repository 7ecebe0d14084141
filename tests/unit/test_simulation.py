"""The synthetic market simulator is deterministic and its viral products do peak; replayed
moment by moment, the engine calls them exploding days before their peak, and its decoys not."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from marketscout.adapters.simulation import iter_bulk_snapshots, replay_items, simulate_market
from marketscout.domain.evaluation import lead_times
from marketscout.domain.model import TrendStatus
from marketscout.domain.scoring import score_series

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


def test_viral_products_are_flagged_days_before_their_peak_and_decoys_are_not() -> None:
    # A 40-day market scored every 12 hours from day 2, each moment from the readings up to it.
    market = simulate_market(1, start=START, days=40, products=24)
    moments = [START + timedelta(hours=12 * k) for k in range(4, 81)]
    found = lead_times(replay_items(market), moments)
    # Every viral product that peaked within the 40 days was called exploding before its peak,
    # by a median of more than three days.
    assert len(found.lead_days) >= 5
    assert found.flagged_before_peak == len(found.lead_days)
    assert found.median_lead_days is not None and found.median_lead_days > 3
    # Decoys: a product tracked from the middle of its life, a declining one, one ad spiking
    # alone in one region, and bot-like views are never called exploding; a seasonal product
    # only in its first ten days, before three days of the week before its last are known
    # (docs/scoring.md: lead times).
    assert set(found.decoys) == {"steady", "seasonal", "declining", "one_ad_spike", "bot_burst"}
    for kind in ("steady", "declining", "one_ad_spike", "bot_burst"):
        assert found.decoys[kind][0] == 0, kind
    assert found.decoys["seasonal"][2] < 0.07
    for item in replay_items(market):
        if item.kind == "seasonal":
            tracked = datetime.fromtimestamp(min(s.epochs[0] for s in item.series), UTC)
            for moment in moments:
                if moment >= tracked + timedelta(days=10):
                    assert score_series(item.series, moment).status != TrendStatus.EXPLODING, moment


def test_product_series_hold_every_reading_of_the_market() -> None:
    market = simulate_market(2, start=START, days=5, products=8)
    items = replay_items(market)
    assert [item.kind for item in items] == [p.kind for p in market.products]
    assert sum(len(s.epochs) for item in items for s in item.series) == len(market.snapshots)
    for item in items:
        for s in item.series:
            assert s.epochs == sorted(s.epochs)
            assert s.views == sorted(s.views)  # cumulative counters
