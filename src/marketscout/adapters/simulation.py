"""A seeded, deterministic, SYNTHETIC market: products spreading across platforms and regions.

Nothing here is real data. It exists to give a fresh instance something to show
(``marketscout demo``) and to let tests measure how many days before its peak the engine flags
a product, which real data cannot tell us. Viral products follow Bass diffusion
(innovation ``p``, imitation ``q``) and reach platforms and regions one after another; decoys
imitate what fools naive trend tools: one ad spiking alone, bot-like bursts with hardly any
likes or comments, seasonal swings, and old products in decline.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from marketscout.domain.evaluation import ReplayItem
from marketscout.domain.model import SYNTHETIC_MARK, Platform
from marketscout.domain.scoring import ReadingSeries

KINDS = ("viral", "viral", "viral", "steady", "seasonal", "declining", "one_ad_spike", "bot_burst")
_PLATFORM_DELAY_DAYS = {
    Platform.TIKTOK: 0.0,
    Platform.INSTAGRAM: 1.5,
    Platform.YOUTUBE: 3.0,
    Platform.FACEBOOK: 4.0,
    Platform.TWITTER: 5.0,
}
_ENGAGEMENT = {
    Platform.TIKTOK: 0.09,
    Platform.INSTAGRAM: 0.06,
    Platform.FACEBOOK: 0.03,
    Platform.YOUTUBE: 0.045,
    Platform.TWITTER: 0.02,
}
# Regions in the order a product usually reaches them, with their relative audience size.
_REGIONS = (
    ("US", 1.0, 0.0),
    ("GB", 0.35, 1.0),
    ("CA", 0.25, 1.0),
    ("DE", 0.3, 2.0),
    ("FR", 0.3, 2.0),
    ("AU", 0.18, 2.5),
    ("BR", 0.4, 3.0),
    ("MX", 0.3, 3.0),
    ("JP", 0.35, 4.0),
    ("IN", 0.6, 4.5),
    ("NG", 0.15, 5.0),
    ("ZA", 0.1, 5.0),
)
_ADJECTIVES = (
    "Magnetic",
    "Portable",
    "Smart",
    "Foldable",
    "Wireless",
    "Self-Cleaning",
    "Mini",
    "Ergonomic",
    "LED",
    "Heated",
    "Cordless",
    "Reusable",
    "Collapsible",
    "Rechargeable",
    "Ultrasonic",
    "Aroma",
)
_NOUNS = (
    ("Phone Holder", "Accessories"),
    ("Neck Massager", "Health"),
    ("Sunset Lamp", "Home"),
    ("Posture Corrector", "Health"),
    ("Pet Hair Remover", "Pets"),
    ("Blender Bottle", "Kitchen"),
    ("Projector", "Electronics"),
    ("Ice Roller", "Beauty"),
    ("Car Vacuum", "Auto"),
    ("Plant Pot", "Garden"),
    ("Lunch Box", "Kitchen"),
    ("Hair Straightener", "Beauty"),
    ("Desk Organizer", "Office"),
    ("Water Flosser", "Health"),
    ("Jewelry Cleaner", "Beauty"),
    ("Cable Organizer", "Accessories"),
    ("Dog Toy", "Pets"),
    ("Star Projector", "Home"),
)
_ADVERTISERS = ("TrendNest", "Gadgetly", "ShopWave", "DailyFinds", "Nordgoods", "PrimeCart", "Lumo Store")


@dataclass(frozen=True, slots=True)
class SimulatedProduct:
    name: str
    description: str
    category: str
    keywords: tuple[str, ...]
    kind: str
    peak_at: datetime | None


@dataclass(frozen=True, slots=True)
class SimulatedAd:
    product_index: int
    platform: Platform
    external_id: str
    content: str
    advertiser: str
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class SimulatedSnapshot:
    ad_index: int
    region: str
    observed_at: datetime
    views: int
    likes: int
    comments: int
    shares: int


@dataclass(frozen=True, slots=True)
class SimulatedMarket:
    """Synthetic data: products, their ads, and cumulative snapshots (oldest first)."""

    products: tuple[SimulatedProduct, ...]
    ads: tuple[SimulatedAd, ...]
    snapshots: tuple[SimulatedSnapshot, ...]


def _bass(t_days: float, p: float, q: float) -> float:
    """Share of the eventual audience reached after ``t_days`` (0 before the start)."""
    if t_days <= 0:
        return 0.0
    e = math.exp(-(p + q) * t_days)
    return (1 - e) / (1 + (q / p) * e)


def _curve(kind: str, t: float, rng_phase: float, peak_day: float, days: float) -> float:
    """Cumulative audience share (roughly 0-1) of a product of this kind at day ``t``."""
    if kind == "viral":
        p, q = 0.004, 0.9
        # Bass peaks at ln(q/p)/(p+q) days after launch; launch so the peak lands on peak_day.
        launch = peak_day - math.log(q / p) / (p + q)
        return _bass(t - launch, p, q)
    if kind == "steady":
        return 0.2 + 0.01 * t
    if kind == "seasonal":
        return 0.2 + 0.008 * t + 0.03 * (1 - math.cos(2 * math.pi * (t + rng_phase) / 7)) * t / 7
    if kind == "declining":
        return 0.6 + 0.35 * (1 - math.exp(-(t + 20) / 8)) - 0.35 * (1 - math.exp(-20 / 8))
    if kind == "bot_burst":
        burst = days - 1.5
        return 0.1 + 0.002 * t + (0.3 if t >= burst else 0.0)
    return 0.15 + 0.005 * t  # one_ad_spike: the product is flat; one ad spikes (below)


def simulate_market(
    seed: int,
    *,
    start: datetime,
    days: int = 21,
    products: int = 30,
    step: timedelta = timedelta(hours=12),
) -> SimulatedMarket:
    """A reproducible synthetic market: the same seed gives the same market."""
    rng = random.Random(seed)
    names: set[str] = set()
    made_products: list[SimulatedProduct] = []
    ads: list[SimulatedAd] = []
    snapshots: list[SimulatedSnapshot] = []
    steps = int(timedelta(days=days) / step)
    for index in range(products):
        kind = KINDS[index % len(KINDS)]
        while True:
            adjective, (noun, category) = rng.choice(_ADJECTIVES), rng.choice(_NOUNS)
            name = f"{adjective} {noun}"
            if name not in names:
                names.add(name)
                break
        peak_day = rng.uniform(days - 9, days + 6)
        size = rng.lognormvariate(13.0, 0.8)  # eventual views, around half a million
        made_products.append(
            SimulatedProduct(
                name=name,
                description=f"{name} — a {category.lower()} product {SYNTHETIC_MARK}.",
                category=category,
                keywords=(noun.lower(), adjective.lower()),
                kind=kind,
                peak_at=start + timedelta(days=peak_day) if kind == "viral" else None,
            )
        )
        platforms = rng.sample(list(Platform), rng.randint(2, 4))
        phase = rng.uniform(0, 7)
        for platform in platforms:
            delay = _PLATFORM_DELAY_DAYS[platform] * rng.uniform(0.6, 1.4) if kind == "viral" else 0.0
            ad_index = len(ads)
            first_seen = start + timedelta(days=min(delay, days - 2))
            ads.append(
                SimulatedAd(
                    product_index=index,
                    platform=platform,
                    external_id=f"sim-{seed}-{ad_index}",
                    content=f"{name}: you need this! #{noun.replace(' ', '').lower()}",
                    advertiser=rng.choice(_ADVERTISERS),
                    first_seen_at=first_seen,
                )
            )
            spike = kind == "one_ad_spike" and platform == platforms[0]
            regions = _REGIONS[: rng.randint(3, len(_REGIONS))]
            share = rng.uniform(0.5, 1.5) / len(platforms)
            for region, weight, region_delay in regions:
                local = share * weight * rng.uniform(0.6, 1.4)
                lag = region_delay * rng.uniform(0.5, 1.5) if kind == "viral" else 0.0
                base = rng.uniform(50, 500)
                ratio = _ENGAGEMENT[platform] * rng.uniform(0.7, 1.3)
                previous = 0
                for k in range(steps + 1):
                    at = start + k * step
                    if at < first_seen:
                        continue
                    t = k * step / timedelta(days=1)
                    level = _curve(kind, t - delay - lag, phase, peak_day, days) * size * local
                    if spike and region == "US" and t >= days - 2:
                        level += size * 0.8 * min(1.0, (t - (days - 2)) / 1.0)
                    # Cumulative counters: a curve that dips (seasonal swings) holds its level.
                    views = previous = max(previous, int(base + max(level, 0.0)))
                    engaged = ratio * (0.1 if kind == "bot_burst" and t >= days - 1.5 else 1.0)
                    likes = int(views * engaged * 0.8)
                    snapshots.append(
                        SimulatedSnapshot(
                            ad_index=ad_index,
                            region=region,
                            observed_at=at,
                            views=views,
                            likes=likes,
                            comments=int(views * engaged * 0.12),
                            shares=int(views * engaged * 0.08),
                        )
                    )
    snapshots.sort(key=lambda s: (s.observed_at, s.ad_index, s.region))
    return SimulatedMarket(tuple(made_products), tuple(ads), tuple(snapshots))


def iter_bulk_snapshots(
    seed: int, *, ads: int, snapshots: int, start: datetime, step: timedelta = timedelta(hours=1)
) -> Iterator[tuple[int, str, datetime, int, int, int, int]]:
    """Cheap synthetic rows for benchmarks: ``(ad_index, region, observed_at, views, likes,
    comments, shares)``, ``snapshots`` of them spread over ``ads`` ads, cumulative per ad."""
    rng = random.Random(seed)
    regions = [r for r, _, _ in _REGIONS]
    per_ad = max(1, snapshots // ads)
    produced = 0
    for ad_index in range(ads):
        region = regions[ad_index % len(regions)]
        views = rng.randint(10, 1000)
        growth = rng.uniform(1.0, 1.3)
        for k in range(per_ad):
            if produced >= snapshots:
                return
            views = min(int(views * growth) + rng.randint(0, 50), 10**12)
            yield (ad_index, region, start + k * step, views, views // 20, views // 200, views // 400)
            produced += 1


def product_series(market: SimulatedMarket) -> list[list[ReadingSeries]]:
    """Each product's readings grouped per ad and region, as the engine scores them (ad ids are
    the ad's index + 1); products in the market's order."""
    grouped: list[dict[tuple[int, str], list[SimulatedSnapshot]]] = [{} for _ in market.products]
    for snap in market.snapshots:
        grouped[market.ads[snap.ad_index].product_index].setdefault((snap.ad_index, snap.region), []).append(
            snap
        )
    return [
        [
            ReadingSeries(
                ad_index + 1,
                market.ads[ad_index].platform,
                region,
                [s.observed_at.timestamp() for s in rows],
                [s.views for s in rows],
                [s.likes + s.comments + s.shares for s in rows],
            )
            for (ad_index, region), rows in sorted(groups.items())
        ]
        for groups in grouped
    ]


def replay_items(market: SimulatedMarket) -> list[ReplayItem]:
    """The market's products as items to replay for lead times: kind, peak and series."""
    return [
        ReplayItem(kind=product.kind, peak_at=product.peak_at, series=series)
        for product, series in zip(market.products, product_series(market), strict=True)
    ]
