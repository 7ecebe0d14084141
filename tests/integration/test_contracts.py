"""One contract per port, run against every adapter: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.memory import InMemoryUnitOfWork
from marketscout.adapters.simulation import simulate_market
from marketscout.adapters.sql import repositories
from marketscout.domain import scoring
from marketscout.domain.errors import Conflict
from marketscout.domain.gains import ad_gains, regional_activity, window_gains
from marketscout.domain.model import (
    MAX_COUNT,
    Ad,
    Alert,
    AlertRule,
    AlertRuleKind,
    Channel,
    Delivery,
    DeliveryStatus,
    EngagementSnapshot,
    Platform,
    Product,
    RefreshToken,
    ScoreLevel,
    TrendAssessment,
    TrendingFilter,
    TrendScore,
    TrendStatus,
    User,
    WatchlistEntry,
)
from marketscout.domain.ports import StoreResult, UnitOfWork
from marketscout.domain.scoring import hourly_series
from marketscout.domain.usecases import catalog, trends
from marketscout.domain.usecases.engagement import Rejection, SnapshotInput, ingest_engagement

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
UowFactory = Callable[[], UnitOfWork]


async def _seed(make: UowFactory) -> tuple[int, int, int]:
    uow = make()
    async with uow:
        user = await uow.users.add(
            User(username="Ana", email="ana@example.com", password_hash="h", created_at=T0)
        )
        product = await uow.products.add(
            Product(name="Sunset Lamp", description="d", keywords=("lamp",), created_at=T0)
        )
        ad = await uow.ads.add(
            Ad(
                product_id=product.id,
                platform=Platform.TIKTOK,
                ad_content="x",
                external_id="e1",
                created_at=T0,
            )
        )
        await uow.commit()
    return user.id, product.id, ad.id


def _snap(ad_id: int, product_id: int, hours: int, views: int, region: str = "US") -> EngagementSnapshot:
    return EngagementSnapshot(
        ad_id=ad_id,
        product_id=product_id,
        platform=Platform.TIKTOK,
        region=region,
        observed_at=T0 + timedelta(hours=hours),
        views=views,
        likes=1,
    )


async def _products_with_readings(make: UowFactory, count: int) -> list[int]:
    """``count`` products (the first from :func:`_seed`), each with an ad and three hourly readings."""
    _, product_id, ad_id = await _seed(make)
    uow = make()
    async with uow:
        products = [product_id]
        for number in range(1, count):
            product = await uow.products.add(Product(name=f"P{number}", description="d", created_at=T0))
            ad = await uow.ads.add(
                Ad(product_id=product.id, platform=Platform.TIKTOK, ad_content="c", created_at=T0)
            )
            products.append(product.id)
            await uow.engagement.add_many([_snap(ad.id, product.id, h, 100 * (h + 1)) for h in range(3)])
        await uow.engagement.add_many([_snap(ad_id, product_id, h, 100 * (h + 1)) for h in range(3)])
        await uow.commit()
    return products


async def test_unit_of_work_rolls_back_unless_committed(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    with pytest.raises(RuntimeError):
        async with uow:
            await uow.products.add(Product(name="Ghost", description="d", created_at=T0))
            raise RuntimeError("a use case failed half-way")
    async with uow:
        await uow.products.add(Product(name="Uncommitted", description="d", created_at=T0))
    async with uow:
        assert await uow.products.list(skip=0, limit=10) == []


async def test_users_are_unique_case_insensitively(uow_factory: UowFactory) -> None:
    await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        assert (await uow.users.get_by_username("ANA")) is not None
        by_mail = await uow.users.get_by_email("ANA@Example.COM")
        assert by_mail is not None and by_mail.username == "Ana"
        assert await uow.users.get_by_email("ana") is None
        assert await uow.users.username_or_email_taken("ana", "x@example.com") == "username"
        assert await uow.users.username_or_email_taken("bob", "ANA@EXAMPLE.COM") == "email"
        with pytest.raises(Conflict):
            await uow.users.add(User(username="aNa", email="z@example.com", password_hash="h", created_at=T0))


async def test_name_search_folds_case_beyond_ascii(uow_factory: UowFactory) -> None:
    """Search folds case as Python's str.casefold does, on every store: capitals outside ASCII
    (SQLite's lower() folds only ASCII) and foldings that change the length (ß is ss)."""
    uow = uow_factory()
    async with uow:
        ids = [
            (await uow.products.add(Product(name=name, description="", created_at=T0))).id
            for name in ("Ünicode 🚀 製品", "Große Lampe", "ΣΟΦΙΑ mug")
        ]
        await uow.commit()
    async with uow:
        for query, expected in (
            ("Ünicode", [ids[0]]),
            ("üNICODE", [ids[0]]),
            ("製品", [ids[0]]),
            ("GROSSE", [ids[1]]),
            ("große", [ids[1]]),
            ("σοφια", [ids[2]]),
            ("e", [ids[0], ids[1]]),
        ):
            assert [p.id for p in await uow.products.list(skip=0, limit=5, query=query)] == expected, query


async def test_a_product_is_found_by_its_whole_name_in_any_case(uow_factory: UowFactory) -> None:
    """What the dashboard's ad form resolves a typed name with: the whole name, folded as
    str.casefold does on every store, never a part of it."""
    uow = uow_factory()
    async with uow:
        ids = [
            (await uow.products.add(Product(name=name, description="", created_at=T0))).id
            for name in ("Große Lampe", "große lampe", "Große Lampe XL")
        ]
        await uow.commit()
    async with uow:
        assert [p.id for p in await uow.products.named("GROSSE LAMPE")] == ids[:2]
        assert [p.id for p in await uow.products.named("große lampe xl")] == ids[2:]
        assert await uow.products.named("Lampe") == []


async def test_products_and_ads(uow_factory: UowFactory) -> None:
    _, product_id, ad_id = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        product = await uow.products.get(product_id)
        assert product is not None
        assert product.keywords == ("lamp",)
        assert product.created_at == T0
        assert [p.id for p in await uow.products.list(skip=0, limit=5, query="SUNSET")] == [product_id]
        assert await uow.products.list(skip=0, limit=5, query="%") == []
        assert await uow.ads.get_by_external_id(Platform.TIKTOK, "e1") is not None
        assert await uow.ads.get_by_external_id(Platform.YOUTUBE, "e1") is None
        with pytest.raises(Conflict):
            await uow.ads.add(
                Ad(
                    product_id=product_id,
                    platform=Platform.TIKTOK,
                    ad_content="y",
                    external_id="e1",
                    created_at=T0,
                )
            )
        assert [a.id for a in await uow.ads.list(skip=0, limit=5, platform=Platform.TIKTOK)] == [ad_id]
        dated = await uow.ads.add(
            Ad(
                product_id=product_id,
                platform=Platform.YOUTUBE,
                ad_content="z",
                external_id="dated",
                first_seen_at=T0 - timedelta(days=9),
                created_at=T0,
            )
        )
        assert set(await uow.ads.get_many([ad_id, dated.id, 10**9])) == {ad_id, dated.id}
        # Only ads the platform dated, and only those asked for.
        assert await uow.ads.first_seen_dates([ad_id, dated.id, 10**9]) == {dated.id: T0 - timedelta(days=9)}
        assert await uow.ads.first_seen_dates([ad_id]) == {}
        assert await uow.ads.first_seen_dates([]) == {}
        with pytest.MonkeyPatch.context() as patch:  # asked for many ads: every dated ad read
            patch.setattr(repositories, "WHOLE_TABLE_IDS", 2)
            assert await uow.ads.first_seen_dates([ad_id, 10**9]) == {}
            assert await uow.ads.first_seen_dates([ad_id, dated.id]) == {dated.id: T0 - timedelta(days=9)}
        # What ingest copies from each ad that exists: its product and platform.
        assert await uow.ads.owners([ad_id, dated.id, 10**9]) == {
            ad_id: (product_id, Platform.TIKTOK),
            dated.id: (product_id, Platform.YOUTUBE),
        }
        assert await uow.ads.owners([]) == {}


async def test_the_store_says_whether_it_holds_synthetic_demo_products(uow_factory: UowFactory) -> None:
    """A product the demo market loaded (by the operator, its description marked synthetic) is
    told apart from a collected one, and from a user's whatever its description says."""
    demo = simulate_market(7, start=T0, days=3, products=1).products[0]
    uow = uow_factory()
    async with uow:
        assert not await uow.products.any_synthetic()
        await uow.products.add(Product(name="Sunset Lamp", description="collected", created_at=T0))
        user = await uow.users.add(
            User(username="Ana", email="ana@example.com", password_hash="h", created_at=T0)
        )
        mine = Product(name=demo.name, description=demo.description, created_by=user.id, created_at=T0)
        await uow.products.add(mine)
        assert not await uow.products.any_synthetic()
        await uow.products.add(Product(name=demo.name, description=demo.description, created_at=T0))
        assert await uow.products.any_synthetic()


async def test_engagement_is_idempotent_and_ordered(uow_factory: UowFactory) -> None:
    _, product_id, ad_id = await _seed(uow_factory)
    batch = [_snap(ad_id, product_id, h, v) for h, v in [(2, 300), (0, 100), (1, 50)]]
    uow = uow_factory()
    async with uow:
        first = await uow.engagement.add_many(batch)
        await uow.commit()
    async with uow:
        again = await uow.engagement.add_many([*batch, _snap(ad_id, product_id, 3, 400)])
        await uow.commit()
    assert (first.stored, first.duplicates) == (3, 0)
    assert (again.stored, again.duplicates) == (1, 3)
    async with uow:
        stored = (await uow.engagement.for_products([product_id]))[product_id]
        assert [s.views for s in stored] == [100, 50, 300, 400]
        assert stored[0].observed_at == T0
        until = (await uow.engagement.for_products([product_id], until=T0 + timedelta(hours=1)))[product_id]
        assert len(until) == 2
        since = (await uow.engagement.for_products([product_id], since=T0 + timedelta(hours=2)))[product_id]
        assert [s.views for s in since] == [300, 400]
        assert len(await uow.engagement.since(T0 + timedelta(hours=2))) == 2
        assert await uow.engagement.products_with_engagement() == [product_id]
        assert await uow.engagement.last_observed_at([ad_id]) == {ad_id: T0 + timedelta(hours=3)}


async def test_scores_history_and_latest(uow_factory: UowFactory) -> None:
    _, product_id, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        for hours, value in [(0, 10.0), (2, 30.0), (1, 20.0)]:
            await uow.scores.add(
                TrendScore(
                    product_id=product_id,
                    calculated_at=T0 + timedelta(hours=hours),
                    assessment=TrendAssessment(
                        score=value,
                        status=TrendStatus.EMERGING,
                        confidence=0.5,
                        components={"momentum": 1.5},
                        growth={"24h": 0.1},
                        forecast=(1.0, 2.0),
                        reasons=("why",),
                    ),
                )
            )
        await uow.commit()
    async with uow:
        history = await uow.scores.history(product_id)
        assert [s.score for s in history] == [10.0, 20.0, 30.0]
        latest = await uow.scores.latest(product_id)
        assert latest is not None
        assert latest.score == 30.0
        assert latest.assessment.components == {"momentum": 1.5}
        assert latest.assessment.forecast == (1.0, 2.0)
        assert [s.product_id for s in await uow.scores.latest_all()] == [product_id]
        assert await uow.scores.latest_levels([product_id, product_id + 50]) == {
            product_id: ScoreLevel(30.0, latest.status, latest.calculated_at)
        }
        assert await uow.scores.latest_levels([]) == {}
        assert await uow.scores.latest_many([product_id, product_id + 50]) == {product_id: latest}
        assert await uow.scores.latest_many([]) == {}
        # Many at once: stored in order, with ids, and the newest of them is the latest.
        later = [
            dataclasses.replace(
                latest,
                id=0,
                calculated_at=T0 + timedelta(hours=h),
                assessment=dataclasses.replace(latest.assessment, score=v),
            )
            for h, v in [(5, 55.0), (3, 33.0)]
        ]
        stored = await uow.scores.add_many(later)
        assert [s.score for s in stored] == [55.0, 33.0]
        assert len({s.id for s in stored} | {latest.id}) == 3 and all(s.id > 0 for s in stored)
        assert await uow.scores.add_many([]) == []
        await uow.commit()
    async with uow:
        assert (await uow.scores.latest_many([product_id]))[product_id] == stored[0]
        assert [s.score for s in await uow.scores.history(product_id)] == [10.0, 20.0, 30.0, 33.0, 55.0]


async def test_watchlists_rules_alerts_and_tokens(uow_factory: UowFactory) -> None:
    user_id, product_id, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        entry = WatchlistEntry(user_id=user_id, product_id=product_id, created_at=T0)
        added = await uow.watchlists.add_if_new(entry)
        assert added is not None and added.id
        assert await uow.watchlists.add_if_new(entry) is None
        assert await uow.watchlists.get(user_id, product_id) == added
    async with uow:
        assert await uow.watchlists.add_if_new(entry) is not None, "the first was rolled back"
        rule = await uow.alert_rules.add(
            AlertRule(user_id=user_id, kind=AlertRuleKind.SCORE_THRESHOLD, threshold=70, created_at=T0)
        )
        alert = Alert(
            user_id=user_id,
            rule_id=rule.id,
            product_id=product_id,
            kind=AlertRuleKind.SCORE_THRESHOLD,
            event_key="k1",
            message="m",
            created_at=T0,
        )
        assert await uow.alerts.add_if_new(alert) is not None
        assert await uow.alerts.add_if_new(alert) is None
        token = await uow.refresh_tokens.add(
            RefreshToken(
                digest="d1", family_id="f", user_id=user_id, issued_at=T0, expires_at=T0 + timedelta(days=1)
            )
        )
        await uow.commit()
    async with uow:
        assert len(await uow.watchlists.list(user_id)) == 1
        assert await uow.watchlists.users_watching([product_id, 999]) == {user_id}
        assert await uow.watchlists.users_watching([999]) == set()
        assert await uow.alerts.event_keys(user_id) == {"k1"}
        assert await uow.alerts.count_unread(user_id) == 1
        assert await uow.alerts.count_unread(user_id + 1) == 0
        assert await uow.alerts.mark_read(user_id, None, T0) == 1
        assert await uow.alerts.list(user_id, unread_only=True) == []
        assert await uow.alerts.count_unread(user_id) == 0
        assert await uow.refresh_tokens.mark_used(token.id, T0) is True
        assert await uow.refresh_tokens.mark_used(token.id, T0) is False
        await uow.refresh_tokens.revoke_family("f")
        revoked = await uow.refresh_tokens.get_by_digest("d1")
        assert revoked is not None
        assert revoked.revoked
        assert await uow.alert_rules.remove(user_id + 1, rule.id) is False
        assert await uow.alert_rules.remove(user_id, rule.id) is True
        assert await uow.watchlists.remove(user_id, product_id) is True
        await uow.commit()


async def test_access_tokens_end_by_time_for_a_user_and_by_id_when_revoked(uow_factory: UowFactory) -> None:
    """The instant before which a user's access tokens no longer count, kept to the microsecond
    (a token issued within the same second after it still counts); and the ids of access tokens
    ended early (log-out), kept until they expire, then pruned."""
    changed = T0 + timedelta(seconds=1, microseconds=250_001)
    uow = uow_factory()
    async with uow:
        user = await uow.users.add(
            User(username="Tok", email="tok@example.com", password_hash="h", created_at=T0)
        )
        await uow.commit()
    async with uow:
        stored = await uow.users.get(user.id)
        assert stored is not None and stored.tokens_valid_after is None
        await uow.users.set_tokens_valid_after(user.id, changed)
        await uow.revoked_access_tokens.add("jti-1", T0 + timedelta(minutes=30))
        await uow.revoked_access_tokens.add("jti-2", T0 + timedelta(minutes=5))
        await uow.commit()
    async with uow:
        await uow.revoked_access_tokens.add("jti-1", T0 + timedelta(minutes=30))  # again: no error
        await uow.commit()
    async with uow:
        for found in (await uow.users.get(user.id), await uow.users.get_by_username("tok")):
            assert found is not None and found.tokens_valid_after == changed
        assert await uow.revoked_access_tokens.is_revoked("jti-1")
        assert await uow.revoked_access_tokens.is_revoked("jti-2")
        assert not await uow.revoked_access_tokens.is_revoked("jti-3")
        assert await uow.revoked_access_tokens.prune(T0 + timedelta(minutes=10)) == 1
        await uow.commit()
    async with uow:
        assert not await uow.revoked_access_tokens.is_revoked("jti-2"), "expired: pruned"
        assert await uow.revoked_access_tokens.is_revoked("jti-1")


async def test_alerts_are_found_by_the_start_of_their_event_key(uow_factory: UowFactory) -> None:
    """``has_event``: whether the user has an alert whose key begins with the prefix (a product
    and a condition), exactly: no pattern characters, no other user's alerts, no other case."""
    user_id, product_id, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        other = await uow.users.add(
            User(username="Bo", email="bo@example.com", password_hash="h", created_at=T0)
        )
        for owner, key in [(user_id, f"p{product_id}:threshold50.0:s12"), (other.id, "p9:exploding:s3")]:
            await uow.alerts.add_if_new(
                Alert(
                    user_id=owner,
                    rule_id=0,
                    product_id=product_id,
                    kind=AlertRuleKind.SCORE_THRESHOLD,
                    event_key=key,
                    message="m",
                    created_at=T0,
                )
            )
        await uow.commit()
    async with uow:
        assert await uow.alerts.has_event(user_id, f"p{product_id}:threshold50.0:") is True
        assert await uow.alerts.has_event(user_id, f"p{product_id}:threshold50.0:s12") is True
        assert await uow.alerts.has_event(user_id, f"p{product_id}:threshold5") is True
        assert await uow.alerts.has_event(user_id, f"p{product_id}:threshold50.0:s120") is False
        assert await uow.alerts.has_event(user_id, f"p{product_id}:threshold80.0:") is False
        assert await uow.alerts.has_event(user_id, f"P{product_id}:THRESHOLD50.0:") is False
        assert await uow.alerts.has_event(user_id, f"p{product_id}:threshold5_.0:") is False
        assert await uow.alerts.has_event(user_id, f"p{product_id}:%") is False
        assert await uow.alerts.has_event(user_id, "p9:exploding:") is False
        assert await uow.alerts.has_event(other.id, "p9:exploding:") is True


async def test_a_rule_is_replaced_in_place_only_by_its_owner(uow_factory: UowFactory) -> None:
    user_id, product_id, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        rule = await uow.alert_rules.add(
            AlertRule(user_id=user_id, kind=AlertRuleKind.SCORE_THRESHOLD, threshold=70, created_at=T0)
        )
        await uow.commit()
    changed = dataclasses.replace(
        rule,
        kind=AlertRuleKind.SCORE_RISE,
        product_id=product_id,
        threshold=15,
        window_hours=48,
        channels=(Channel.WEBHOOK,),
        webhook_url="https://hooks.example.com/in",
        webhook_secret="whsec_x",
    )
    async with uow:
        assert await uow.alert_rules.replace(dataclasses.replace(changed, user_id=user_id + 1)) is False
        assert await uow.alert_rules.replace(dataclasses.replace(changed, id=rule.id + 100)) is False
        assert await uow.alert_rules.replace(changed) is True
        await uow.commit()
    async with uow:
        assert await uow.alert_rules.list(user_id) == [changed]
        assert await uow.alert_rules.list(user_id + 1) == []


async def test_window_gains_follow_the_domain_definition(uow_factory: UowFactory) -> None:
    _, product_id, ad_id = await _seed(uow_factory)
    readings = [
        _snap(ad_id, product_id, -40 * 24, 5),  # beyond the lookback: ignored
        _snap(ad_id, product_id, 0, 100),
        _snap(ad_id, product_id, 10, 400),
        _snap(ad_id, product_id, 20, 350),  # a correction: no negative growth
        _snap(ad_id, product_id, 30, 900),
        _snap(ad_id, product_id, 20, 70, region="FR"),  # starts inside the window
        _snap(ad_id, product_id, 30, 170, region="FR"),
        _snap(ad_id, product_id, 50, 10_000, region="DE"),  # after the window: ignored
    ]
    uow = uow_factory()
    async with uow:
        await uow.engagement.add_many(readings)
        await uow.commit()
    start, end = T0 + timedelta(hours=5), T0 + timedelta(hours=40)
    async with uow:
        gains = await uow.engagement.window_gains(start, end)
        only = await uow.engagement.window_gains(start, end, product_ids=[product_id + 1])
    assert only == []
    assert gains == window_gains(readings, start, end)
    async with uow:
        # Of some regions only: the same rows, the others left out (a region read nowhere: none).
        for regions in (["FR"], ["FR", "US", "JP"], ["JP"], []):
            of_some = await uow.engagement.window_gains(start, end, regions=regions)
            assert of_some == [g for g in gains if g.region in regions], regions
    by_region = {g.region: (g.base, g.gained) for g in gains}
    assert by_region == {"US": (100, 800), "FR": (70, 100)}
    async with uow:
        assert await uow.engagement.regional_activity(start, end) == {"US": 800, "FR": 100}
        per_ad = await uow.engagement.ad_gains(start, end)
    # One row per ad: its regions summed, its earliest and latest reading in the window.
    assert [(g.ad_id, g.base, g.gained, g.first_seen, g.last_seen) for g in per_ad] == [
        (ad_id, 170, 900, T0, T0 + timedelta(hours=30))
    ]
    assert per_ad == ad_gains(gains)


async def test_window_gains_of_counters_corrected_downwards(uow_factory: UowFactory) -> None:
    """Gained = the rise of the running maximum within the window, on every store: a counter
    that drops (a platform's correction) never counts as growth, whether it drops inside the
    window after a reading before it, with no reading before it (the first reading inside is the
    level it starts from, not the lowest), or across the window's start."""
    _, product_id, ad_id = await _seed(uow_factory)

    def at(minutes: int, views: int, region: str) -> EngagementSnapshot:
        return dataclasses.replace(
            _snap(ad_id, product_id, 0, views, region=region), observed_at=T0 + timedelta(minutes=minutes)
        )

    readings = [
        # No reading before the window: read from raw edges, hourly and daily rollups alike.
        *(at(m, v, "US") for m, v in [(70, 100_000), (75, 100_050), (3 * 1440 + 10, 100_100)]),
        *(at(m, v, "US") for m, v in [(3 * 1440 + 20, 100), (5 * 1440 + 601, 150)]),
        # A drop inside the window after readings before it.
        *(at(m, v, "DE") for m, v in [(-1440, 1_000), (90, 1_100), (2 * 1440, 50), (4 * 1440, 1_150)]),
        # A drop across the window's start.
        *(at(m, v, "FR") for m, v in [(-60, 5_000), (3 * 1440, 10), (5 * 1440, 20)]),
        # The first reading inside the window is also its lowest, then a drop and a new high.
        *(
            at(m, v, "JP")
            for m, v in [(1440 + 5, 40), (1440 + 30, 900), (2 * 1440, 300), (2 * 1440 + 1, 950)]
        ),
    ]
    uow = uow_factory()
    async with uow:
        await uow.engagement.add_many(readings[::-1])
        await uow.commit()
    expected = {"US": (100_000, 100), "DE": (1_000, 150), "FR": (5_000, 0), "JP": (40, 910)}
    start = T0 + timedelta(minutes=30)
    for end in (T0 + timedelta(days=5, hours=12), T0 + timedelta(days=6)):
        reference = window_gains(readings, start, end)
        assert {g.region: (g.base, g.gained) for g in reference} == expected
        async with uow:
            assert await uow.engagement.window_gains(start, end) == reference
            assert await uow.engagement.regional_activity(start, end) == regional_activity(reference)
            assert await uow.engagement.ad_gains(start, end) == ad_gains(reference)


async def test_window_gains_start_from_the_first_reading_whatever_order_it_arrives_in(
    uow_factory: UowFactory,
) -> None:
    """With nothing before the window, the level it starts from is the first reading inside it
    by time, not the first to arrive: a reading earlier than those stored in its hour or day
    (what the SQL rollups keep) arriving in a later batch becomes the first; a reading re-sent
    at the same time with other counters changes nothing (the stored one stands, as for the
    domain, which keeps the first of equal times)."""
    _, product_id, ad_id = await _seed(uow_factory)
    day = T0.replace(hour=0)

    def at(moment: datetime, views: int, region: str) -> EngagementSnapshot:
        return dataclasses.replace(_snap(ad_id, product_id, 0, views, region=region), observed_at=moment)

    hour = day + timedelta(hours=14)  # T0's day: hourly rollups, or its daily one
    later_day = day + timedelta(days=2)  # a whole day inside every window below
    batches = [
        [
            at(hour + timedelta(minutes=10), 500, "US"),
            at(later_day + timedelta(hours=3), 1_000, "DE"),
            at(day + timedelta(days=1, hours=10), 300, "JP"),
        ],
        [
            at(hour + timedelta(minutes=5), 700, "US"),  # earlier in the same hour, arriving later
            at(later_day + timedelta(hours=1, minutes=30), 2_000, "DE"),  # earlier in the same day
            at(day + timedelta(days=1, hours=10), 5_000, "JP"),  # the same time again: ignored
            at(day + timedelta(days=1, hours=9), 400, "JP"),
        ],
        [
            at(hour + timedelta(minutes=20), 600, "US"),
            at(hour + timedelta(minutes=40), 800, "US"),
            at(later_day + timedelta(hours=9), 2_100, "DE"),
            at(day + timedelta(days=1, hours=9), 9_000, "JP"),  # the first reading again: ignored
            at(day + timedelta(days=1, hours=11), 450, "JP"),
        ],
    ]
    uow = uow_factory()
    stored: dict[tuple[int, str, datetime], EngagementSnapshot] = {}
    for batch in batches:
        for reading in batch:
            stored.setdefault((reading.ad_id, reading.region, reading.observed_at), reading)
        async with uow:
            await uow.engagement.add_many(batch)
            await uow.commit()
    readings = list(stored.values())
    expected = {"US": (700, 100), "DE": (2_000, 100), "JP": (400, 50)}
    for start in (T0 + timedelta(minutes=30), T0 - timedelta(days=1)):
        for end in (day + timedelta(days=3, hours=5), day + timedelta(days=4)):
            reference = window_gains(readings, start, end)
            assert {g.region: (g.base, g.gained) for g in reference} == expected
            async with uow:
                assert await uow.engagement.window_gains(start, end) == reference, (start, end)
                assert await uow.engagement.regional_activity(start, end) == regional_activity(reference)
                assert await uow.engagement.ad_gains(start, end) == ad_gains(reference)


async def test_counts_at_the_maximum_add_up_exactly_on_every_store(uow_factory: UowFactory) -> None:
    """Counters at 2^63 - 1, the most a reading holds: gains and bases summed over ads (per
    region) and over regions (per ad) beyond 64 bits, exactly; the first reading's views kept
    exactly where no double holds them (2^62 + 1); likes + comments + shares beyond 2^63 - 1
    counted as 2^63 - 1 in re-scoring's points, also once an account's readings are removed and
    the rollups of their days made again from the readings kept."""
    user_id, product_id, first = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        second = (
            await uow.ads.add(
                Ad(product_id=product_id, platform=Platform.TIKTOK, ad_content="y", created_at=T0)
            )
        ).id
        await uow.commit()
    top, odd = MAX_COUNT, 2**62 + 1

    def at(
        ad_id: int, hours: int, views: int, region: str, talk: tuple[int, int, int] = (0, 0, 0)
    ) -> EngagementSnapshot:
        likes, comments, shares = talk
        return dataclasses.replace(
            _snap(ad_id, product_id, hours, views, region=region),
            likes=likes,
            comments=comments,
            shares=shares,
        )

    kept = [
        at(first, 0, 7, "US"),
        at(first, 48, top, "US", (top, top, top)),
        at(first, 24, odd, "FR", (top - 1, 1, 0)),  # exactly 2^63 - 1 interactions
        at(first, 72, top, "FR", (top, top, 0)),
        at(second, 1, 0, "US"),
        at(second, 72, top, "US"),
        at(second, 2, top, "FR"),
        at(second, 48, top, "FR", (top, 0, top)),
        at(second, 3, top, "DE"),
        at(second, 49, top, "DE"),
    ]
    # Sent by an account, in the same days as readings kept, then removed.
    sent = [at(first, 49, top, "US", (top, top, top)), at(second, 50, top, "DE", (top, 1, 1))]
    async with uow:
        await uow.engagement.add_many(kept)
        await uow.engagement.add_many(sent, sender=user_id)
        await uow.commit()
    start, end = T0 + timedelta(hours=5), T0 + timedelta(days=4, hours=7)
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=5)
    for readings, removed in ((kept + sent, len(sent)), (kept, 0)):
        reference = window_gains(readings, start, end)
        async with uow:
            assert await uow.engagement.window_gains(start, end) == reference
            assert await uow.engagement.regional_activity(start, end) == regional_activity(reference)
            assert await uow.engagement.ad_gains(start, end) == ad_gains(reference)
            points = [
                item async for item in uow.engagement.scoring_series([product_id], since=since, until=until)
            ]
        assert points == [(product_id, hourly_series(readings, since=since, until=until))]
        assert max(max(s.interactions) for _, series in points for s in series) == top
        async with uow:
            assert (await uow.engagement.remove_sent_by(user_id)).readings == removed
            await uow.commit()
    assert regional_activity(reference) == {"US": 2 * top - 7, "FR": top - odd, "DE": 0}
    assert [(g.ad_id, g.gained, g.base) for g in ad_gains(reference)] == [
        (first, 2 * top - 7 - odd, 7 + odd),
        (second, top, 2 * top),
    ]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_sql_stores_refuse_a_snapshot_that_is_not_its_ads(uow_factory: UowFactory) -> None:
    """The database itself holds each snapshot to its ad's product and platform (one composite
    foreign key), so a bug in a caller cannot file engagement under the wrong product; a batch
    with such a row stores nothing."""
    _, product_id, ad_id = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        other = await uow.products.add(Product(name="Other", description="d", created_at=T0))
        await uow.commit()
    good = _snap(ad_id, product_id, -48, 10)  # another day: no rollup row shared with the bad ones
    wrong = [
        _snap(ad_id, other.id, 1, 20),  # another product
        dataclasses.replace(_snap(ad_id, product_id, 2, 30), platform=Platform.YOUTUBE),  # another platform
        _snap(ad_id + 1000, product_id, 3, 40),  # no such ad
    ]
    for bad in wrong:
        with pytest.raises(Conflict) as caught:
            async with uow:
                await uow.engagement.add_many([good, bad])
                await uow.commit()
        assert "does not match a stored record" in str(caught.value)
    async with uow:
        assert await uow.engagement.for_products([product_id, other.id]) == {product_id: [], other.id: []}
        assert await uow.engagement.add_many([good]) == StoreResult(stored=1, duplicates=0)
        await uow.commit()


def _assessment(score: float) -> TrendAssessment:
    return TrendAssessment(
        score=score,
        status=TrendStatus.STEADY,
        confidence=0.5,
        components={"momentum": score / 10},
        growth={"24h": 0.0},
        forecast=(1.0,),
        reasons=("r",),
    )


async def test_pruning_scores_keeps_each_products_latest_and_everything_newer(
    uow_factory: UowFactory,
) -> None:
    """Scores calculated before the moment go, except each product's latest, whatever its age
    (what listings, alerts and re-scoring read); a dry run counts them and removes nothing."""
    _, first, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        second = (await uow.products.add(Product(name="B", description="d", created_at=T0))).id
        # ``first``: scored every 10 days from T0; ``second``: once, long ago.
        for days in (0, 10, 20, 30, 40):
            await uow.scores.add(
                TrendScore(
                    product_id=first, calculated_at=T0 + timedelta(days=days), assessment=_assessment(days)
                )
            )
        await uow.scores.add(TrendScore(product_id=second, calculated_at=T0, assessment=_assessment(7.0)))
        await uow.commit()
    cut = T0 + timedelta(days=25)
    async with uow:
        assert await uow.scores.prune(cut, dry_run=True) == 3
        await uow.commit()
    async with uow:
        assert len(await uow.scores.history(first)) == 5
        assert await uow.scores.prune(cut) == 3
        await uow.commit()
    async with uow:
        assert [s.score for s in await uow.scores.history(first)] == [30.0, 40.0]
        assert [s.score for s in await uow.scores.history(second)] == [7.0]  # its latest, kept
        latest = await uow.scores.latest_many([first, second])
        assert {pid: s.score for pid, s in latest.items()} == {first: 40.0, second: 7.0}
        assert await uow.scores.prune(cut) == 0
        # Later than every score: only the latest of each product stays.
        assert await uow.scores.prune(T0 + timedelta(days=400)) == 1
        await uow.commit()
    async with uow:
        assert [s.score for s in await uow.scores.history(first)] == [40.0]


async def test_pruning_readings_removes_those_before_the_moment_and_changes_no_read_after_it(
    uow_factory: UowFactory,
) -> None:
    """Readings observed before the moment go (a dry run counts them and removes nothing); every
    read of the last 61 days that re-scoring, the scan and the heat map make answers as before,
    readings sent by an account included."""
    user_id, product_id, ad_id = await _seed(uow_factory)
    readings = [
        _snap(ad_id, product_id, hours, 1_000 + 37 * (hours + 24 * 80) + (5 if region == "FR" else 0), region)
        for hours in range(-24 * 80, 1, 6)
        for region in ("US", "FR")
    ]
    uow = uow_factory()
    async with uow:
        await uow.engagement.add_many(readings[0::2])  # the US readings: the operator's
        await uow.engagement.add_many(readings[1::2], sender=user_id)  # FR: an account's
        await uow.commit()
    cut = T0 - timedelta(days=62, hours=12)  # midnight, 62 days before T0's day
    since = T0 - timedelta(days=61)

    async def reads() -> tuple[object, ...]:
        return (
            await uow.engagement.for_products([product_id], since=since),
            [item async for item in uow.engagement.scoring_series([product_id], since=since, until=T0)],
            await uow.engagement.window_gains(T0 - timedelta(days=30), T0),
            await uow.engagement.ad_gains(T0 - timedelta(days=1), T0),
            await uow.engagement.regional_activity(T0 - timedelta(days=30), T0),
            await uow.engagement.sent_by(user_id, since=since),
        )

    older = sum(r.observed_at < cut for r in readings)
    assert older == 2 * 70
    async with uow:
        before = await reads()
        assert await uow.engagement.prune(cut, dry_run=True) == older
        await uow.commit()
    async with uow:
        assert len((await uow.engagement.for_products([product_id]))[product_id]) == len(readings)
        assert await uow.engagement.prune(cut) == older
        await uow.commit()
    async with uow:
        kept = (await uow.engagement.for_products([product_id]))[product_id]
        assert sorted(kept, key=lambda r: (r.observed_at, r.region)) == sorted(
            (r for r in readings if r.observed_at >= cut), key=lambda r: (r.observed_at, r.region)
        )
        assert await reads() == before
        assert (await uow.engagement.sent_by(user_id)).readings == len(readings) // 2 - older // 2
        assert await uow.engagement.prune(cut) == 0


async def test_scores_stored_as_they_come_land_in_parts(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scores handed over one by one (as re-scoring makes them), more than a part's worth: all
    stored, in the order given, with ids, each product's latest the newest of its scores (one
    product scored in two parts); a failed write (a product that is not stored, on the stores
    that check references) fails the call with the store's error, nothing lands, and the unit
    of work serves the next call."""
    monkeypatch.setattr(repositories, "STORE_PART", 3)
    _, first, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        products = [first]
        for number in range(6):
            products.append(
                (await uow.products.add(Product(name=f"P{number}", description="d", created_at=T0))).id
            )
        await uow.commit()
    wanted = [
        TrendScore(product_id=p, calculated_at=T0 + timedelta(hours=1), assessment=_assessment(10.0 + i))
        for i, p in enumerate(products)
    ] + [TrendScore(product_id=first, calculated_at=T0 + timedelta(hours=2), assessment=_assessment(99.0))]

    async def one_by_one(scores: list[TrendScore]) -> AsyncIterator[TrendScore]:
        for score in scores:
            await asyncio.sleep(0)
            yield score

    async with uow:
        stored = await uow.scores.add_stream(one_by_one(wanted))
        await uow.commit()
    assert [dataclasses.replace(s, id=0) for s in stored] == wanted
    assert len({s.id for s in stored}) == len(wanted) and all(s.id for s in stored)
    async with uow:
        latest = await uow.scores.latest_levels(products)
        assert {p: level.score for p, level in latest.items()} == {
            **{p: 10.0 + i for i, p in enumerate(products)},
            first: 99.0,
        }
        assert [s.score for s in await uow.scores.history(first)] == [10.0, 99.0]
        assert await uow.scores.add_stream(one_by_one([])) == []
    if isinstance(uow, InMemoryUnitOfWork):
        return  # the in-memory store does not check references
    gone = products[-1] + 1_000
    broken = [dataclasses.replace(s, calculated_at=T0 + timedelta(hours=3)) for s in wanted[:4]]
    broken.insert(1, dataclasses.replace(broken[0], product_id=gone))
    async with uow:
        with pytest.raises(Conflict):
            await uow.scores.add_stream(one_by_one(broken))
    async with uow:
        assert {p: level.score for p, level in (await uow.scores.latest_levels(products)).items()} == {
            p: level.score for p, level in latest.items()
        }
        assert len(await uow.scores.history(first)) == 2


async def test_ranked_scores_are_the_latest_per_product_highest_first(uow_factory: UowFactory) -> None:
    _, first, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        second = (await uow.products.add(Product(name="B", description="d", created_at=T0))).id
        for product_id, hours, value, status in [
            (first, 0, 90.0, TrendStatus.EXPLODING),
            (first, 1, 40.0, TrendStatus.STEADY),
            (second, 0, 60.0, TrendStatus.EMERGING),
        ]:
            await uow.scores.add(
                TrendScore(
                    product_id=product_id,
                    calculated_at=T0 + timedelta(hours=hours),
                    assessment=TrendAssessment(score=value, status=status, confidence=0.5),
                )
            )
        await uow.commit()
    async with uow:
        every = TrendingFilter()
        assert [(s.product_id, s.score) for s in await uow.scores.ranked(every, limit=10)] == [
            (second, 60.0),
            (first, 40.0),
        ]
        assert [s.product_id for s in await uow.scores.ranked(every, limit=1)] == [second]
        steady = TrendingFilter(status=TrendStatus.STEADY)
        assert [s.product_id for s in await uow.scores.ranked(steady, limit=5)] == [first]


async def test_ranked_scores_are_counted_exactly_as_they_are_listed(uow_factory: UowFactory) -> None:
    """For every filter (status, a part of the name in any case, a set of products, a least
    confidence, all at once), ``count_ranked`` is how many products ``ranked`` lists across all its
    pages: each product's latest score only, highest first, ties by lower product id."""
    uow = uow_factory()
    # name: latest score, status and confidence
    market = {
        "Sunset Lamp": (80.0, TrendStatus.EXPLODING, 0.9),
        "Moon LAMP": (80.0, TrendStatus.EMERGING, 0.3),
        "Café Crème": (55.0, TrendStatus.STEADY, 0.6),
        "100% Cotton Tee": (40.0, TrendStatus.STEADY, 0.45),
        "a_b Mug": (30.0, TrendStatus.DECLINING, 0.8),
        "ab Mug": (20.0, TrendStatus.PEAKED, 0.1),
        "Kettle": (10.0, TrendStatus.EMERGING, 0.5),
    }
    async with uow:
        ids = {
            name: (await uow.products.add(Product(name=name, description="d", created_at=T0))).id
            for name in market
        }
        unscored = (await uow.products.add(Product(name="Unscored Lamp", description="d", created_at=T0))).id
        for name, (value, status, confidence) in market.items():
            await uow.scores.add(
                TrendScore(
                    product_id=ids[name],
                    calculated_at=T0 + timedelta(hours=1),
                    assessment=TrendAssessment(score=value, status=status, confidence=confidence),
                )
            )
        # An older score, stored late: neither listed nor counted.
        await uow.scores.add(
            TrendScore(
                product_id=ids["Kettle"],
                calculated_at=T0,
                assessment=TrendAssessment(score=99.0, status=TrendStatus.EXPLODING, confidence=1.0),
            )
        )
        await uow.commit()
    everyone = list(market)
    cases = [
        (TrendingFilter(), everyone),
        (TrendingFilter(status=TrendStatus.STEADY), ["Café Crème", "100% Cotton Tee"]),
        (TrendingFilter(status=TrendStatus.EXPLODING), ["Sunset Lamp"]),
        (TrendingFilter(name="lamp"), ["Sunset Lamp", "Moon LAMP"]),
        (TrendingFilter(name="CAFÉ"), ["Café Crème"]),
        (TrendingFilter(name="0%"), ["100% Cotton Tee"]),
        (TrendingFilter(name="_"), ["a_b Mug"]),
        (TrendingFilter(name="nothing like it"), []),
        (
            TrendingFilter(among=frozenset({ids["Kettle"], ids["ab Mug"], unscored, 10**9})),
            ["ab Mug", "Kettle"],
        ),
        (TrendingFilter(among=frozenset()), []),
        (TrendingFilter(among=frozenset(range(1, 20_001)) | frozenset(ids.values())), everyone),
        (TrendingFilter(min_confidence=0.6), ["Sunset Lamp", "Café Crème", "a_b Mug"]),
        (
            TrendingFilter(
                status=TrendStatus.DECLINING, name="MUG", among=frozenset(ids.values()), min_confidence=0.5
            ),
            ["a_b Mug"],
        ),
    ]
    async with uow:
        for keep, names in cases:
            wanted = [ids[name] for name in names]
            assert [s.product_id for s in await uow.scores.ranked(keep, limit=100)] == wanted, keep
            assert await uow.scores.count_ranked(keep) == len(wanted), keep
            pages = [await uow.scores.ranked(keep, skip=skip, limit=2) for skip in range(0, 10, 2)]
            assert [s.product_id for page in pages for s in page] == wanted, keep
    # The use case gives one page of the list with the count of the whole list.
    page = await trends.trending_page(uow_factory(), skip=1, limit=1, query=" lamp ")
    assert ([item.product.name for item in page.items], page.total) == (["Moon LAMP"], 2)


async def test_stale_scores_are_the_oldest_latest_ones_above_the_floor(uow_factory: UowFactory) -> None:
    """Only each product's latest score counts; the floor (0, steady) is never stale."""
    _, first, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        ids = [first] + [
            (await uow.products.add(Product(name=f"P{i}", description="d", created_at=T0))).id
            for i in range(4)
        ]

        def at(product_id: int, hours: int, value: float, status: TrendStatus) -> TrendScore:
            return TrendScore(
                product_id=product_id,
                calculated_at=T0 + timedelta(hours=hours),
                assessment=TrendAssessment(score=value, status=status, confidence=0.5),
            )

        await uow.scores.add_many(
            [
                at(ids[0], 5, 40.0, TrendStatus.EMERGING),
                at(ids[1], 1, 80.0, TrendStatus.EXPLODING),
                at(ids[1], 9, 30.0, TrendStatus.PEAKED),  # its latest is recent
                at(ids[2], 2, 0.0, TrendStatus.STEADY),  # the floor
                at(ids[3], 3, 0.0, TrendStatus.DECLINING),
                at(ids[4], 3, 10.0, TrendStatus.STEADY),
            ]
        )
        await uow.commit()
    async with uow:
        assert await uow.scores.stale(T0 + timedelta(hours=8), 10) == [ids[3], ids[4], ids[0]]
        assert await uow.scores.stale(T0 + timedelta(hours=8), 2) == [ids[3], ids[4]]
        assert await uow.scores.stale(T0 + timedelta(hours=3), 10) == []
        assert await uow.scores.stale(T0 + timedelta(hours=10), 10) == [ids[3], ids[4], ids[0], ids[1]]


async def test_scores_keep_any_text_and_number_exactly(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the engine writes comes back as it was, whatever characters the reasons hold
    (PostgreSQL stores scores with COPY, whose text format escapes tabs, newlines and
    backslashes, sent a part at a time) and whatever the floats."""
    monkeypatch.setattr(repositories, "COPY_PART", 2)
    _, product_id, _ = await _seed(uow_factory)
    reasons = ("tab\there", 'quote " and \\ backslash \\N', "new\nline\r", "naïve — ü ✓", "")
    assessment = TrendAssessment(
        score=33.333333333333336,
        status=TrendStatus.PEAKED,
        confidence=1e-06,
        components={"momentum": -0.1, "tiny": 5e-324, "big": 1.7976931348623157e308, "zero": 0.0},
        growth={"24h": -1.0, "7d": 12345.678},
        forecast=(0.0, 0.1, 2.5),
        reasons=reasons,
    )
    uow = uow_factory()
    async with uow:
        stored = await uow.scores.add_many(
            [
                TrendScore(
                    product_id=product_id,
                    calculated_at=T0 + timedelta(microseconds=micros),
                    assessment=dataclasses.replace(assessment, reasons=reasons[7 - micros :]),
                )
                for micros in (7, 6, 5, 4, 3)  # three parts of a COPY
            ]
        )
        await uow.commit()
    async with uow:
        latest = await uow.scores.latest(product_id)
        history = await uow.scores.history(product_id)
    assert latest == stored[0]
    assert latest.assessment == assessment and latest.calculated_at == T0 + timedelta(microseconds=7)
    assert sorted(history, key=lambda score: score.id) == stored


async def test_the_latest_score_is_the_newest_moment_whatever_the_order_stored(
    uow_factory: UowFactory,
) -> None:
    """Scores stored late for an earlier moment, in one batch or in several, never replace a
    newer one; every read of the latest (one, many, levels, all, ranked) agrees; the history
    keeps everything."""
    _, first, _ = await _seed(uow_factory)

    def at(product_id: int, hours: int, value: float, status: TrendStatus) -> TrendScore:
        return TrendScore(
            product_id=product_id,
            calculated_at=T0 + timedelta(hours=hours),
            assessment=TrendAssessment(score=value, status=status, confidence=0.5),
        )

    uow = uow_factory()
    async with uow:
        second = (await uow.products.add(Product(name="B", description="d", created_at=T0))).id
        await uow.scores.add_many(
            [at(first, 2, 30.0, TrendStatus.STEADY), at(first, 1, 95.0, TrendStatus.EXPLODING)]
        )
        await uow.scores.add(at(second, 5, 50.0, TrendStatus.EMERGING))
        await uow.commit()
    async with uow:
        await uow.scores.add(at(first, 0, 99.0, TrendStatus.EXPLODING))  # late, for an earlier moment
        await uow.commit()

    async def latest_reads() -> list[object]:
        async with uow:
            one = await uow.scores.latest(first)
            return [
                None if one is None else one.score,
                {pid: s.score for pid, s in (await uow.scores.latest_many([first, second])).items()},
                await uow.scores.latest_levels([first, second, second + 1]),
                sorted((s.product_id, s.score) for s in await uow.scores.latest_all()),
                [(s.product_id, s.score) for s in await uow.scores.ranked(TrendingFilter(), limit=10)],
            ]

    assert await latest_reads() == [
        30.0,
        {first: 30.0, second: 50.0},
        {
            first: ScoreLevel(30.0, TrendStatus.STEADY, T0 + timedelta(hours=2)),
            second: ScoreLevel(50.0, TrendStatus.EMERGING, T0 + timedelta(hours=5)),
        },
        [(first, 30.0), (second, 50.0)],
        [(second, 50.0), (first, 30.0)],
    ]
    async with uow:
        assert [s.score for s in await uow.scores.history(first)] == [99.0, 95.0, 30.0]
        await uow.scores.add(at(first, 3, 70.0, TrendStatus.EMERGING))  # newer: it takes over
        await uow.commit()
    reads = await latest_reads()
    assert reads[0] == 70.0
    assert reads[4] == [(first, 70.0), (second, 50.0)]


async def test_rule_channels_and_the_delivery_outbox(uow_factory: UowFactory) -> None:
    user_id, product_id, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        rule = await uow.alert_rules.add(
            AlertRule(
                user_id=user_id,
                kind=AlertRuleKind.NEW_VIRAL_AD,
                created_at=T0,
                channels=(Channel.WEBHOOK, Channel.EMAIL),
                webhook_url="https://hooks.example/x",
                webhook_secret="whsec_c2VjcmV0",
            )
        )
        alert = await uow.alerts.add_if_new(
            Alert(
                user_id=user_id,
                rule_id=rule.id,
                product_id=product_id,
                kind=rule.kind,
                event_key="viral:1",
                message="m",
                created_at=T0,
            )
        )
        assert alert is not None
        webhook = Delivery(
            alert_id=alert.id,
            user_id=user_id,
            channel=Channel.WEBHOOK,
            target="https://hooks.example/x",
            secret="whsec_c2VjcmV0",
            next_attempt_at=T0,
            created_at=T0,
        )
        first = await uow.deliveries.add(webhook)
        assert first is not None
        assert await uow.deliveries.add(webhook) is None  # one per alert and channel
        later = await uow.deliveries.add(
            Delivery(
                alert_id=alert.id,
                user_id=user_id,
                channel=Channel.EMAIL,
                target="ana@example.com",
                next_attempt_at=T0 + timedelta(hours=1),
                created_at=T0,
            )
        )
        assert later is not None
        await uow.commit()
    async with uow:
        stored_rule = (await uow.alert_rules.list(user_id))[0]
        assert stored_rule.channels == (Channel.WEBHOOK, Channel.EMAIL)
        assert stored_rule.webhook_url == "https://hooks.example/x"
        assert stored_rule.webhook_secret == "whsec_c2VjcmV0"
        assert await uow.alerts.get(alert.id) == alert
        assert await uow.alerts.get(alert.id + 99) is None
        assert [d.id for d in await uow.deliveries.due(T0, 10)] == [first.id]
        claimed = await uow.deliveries.claim(first.id, T0)
        assert claimed is not None
        assert (claimed.status, claimed.attempts, claimed.claimed_at) == (DeliveryStatus.SENDING, 1, T0)
        assert await uow.deliveries.claim(first.id, T0) is None  # the second claimer loses
        assert await uow.deliveries.due(T0 + timedelta(hours=2), 10) == [later]
        assert await uow.deliveries.stale(T0) == []
        assert await uow.deliveries.stale(T0 + timedelta(minutes=1)) == [claimed]
        await uow.deliveries.record(
            dataclasses.replace(claimed, status=DeliveryStatus.DELIVERED, delivered_at=T0)
        )
        await uow.commit()
    async with uow:
        delivered = await uow.deliveries.list(user_id, status=DeliveryStatus.DELIVERED)
        assert [(d.id, d.delivered_at, d.secret) for d in delivered] == [(first.id, T0, "whsec_c2VjcmV0")]
        assert {d.id for d in await uow.deliveries.list(user_id)} == {first.id, later.id}
        assert await uow.deliveries.list(user_id + 1) == []


async def test_cancelling_a_rules_pending_deliveries(uow_factory: UowFactory) -> None:
    """Only the rule's pending deliveries (of the channel asked, or all) are cancelled, with the
    reason; one already claimed, another rule's and another user's are left as they are."""
    user_id, product_id, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        rules = [
            await uow.alert_rules.add(
                AlertRule(user_id=user_id, kind=AlertRuleKind.NEW_VIRAL_AD, threshold=t, created_at=T0)
            )
            for t in (1.0, 2.0)
        ]
        deliveries = {}
        for name, rule, channel in (
            ("hook", rules[0], Channel.WEBHOOK),
            ("mail", rules[0], Channel.EMAIL),
            ("claimed", rules[0], Channel.WEBHOOK),
            ("other", rules[1], Channel.WEBHOOK),
        ):
            alert = await uow.alerts.add_if_new(
                Alert(
                    user_id=user_id,
                    rule_id=rule.id,
                    product_id=product_id,
                    kind=rule.kind,
                    event_key=f"viral:{name}",
                    message="m",
                    created_at=T0,
                )
            )
            assert alert is not None
            added = await uow.deliveries.add(
                Delivery(
                    alert_id=alert.id,
                    user_id=user_id,
                    channel=channel,
                    target="https://hooks.example/x" if channel == Channel.WEBHOOK else "ana@example.com",
                    next_attempt_at=T0,
                    created_at=T0,
                )
            )
            assert added is not None
            deliveries[name] = added.id
        assert await uow.deliveries.claim(deliveries["claimed"], T0) is not None
        await uow.commit()
    async with uow:
        assert await uow.deliveries.cancel(user_id + 1, rules[0].id, "not theirs") == 0
        assert await uow.deliveries.cancel(user_id, rules[0].id, "hook changed", channel=Channel.WEBHOOK) == 1
        await uow.commit()
    async with uow:
        assert await uow.deliveries.claim(deliveries["hook"], T0) is None, "a cancelled one is not sent"
        assert deliveries["hook"] not in {d.id for d in await uow.deliveries.due(T0, 10)}
        assert await uow.deliveries.cancel(user_id, rules[0].id, "rule deleted") == 1
        await uow.commit()
    async with uow:
        found = {d.id: (d.status, d.last_error) for d in await uow.deliveries.list(user_id)}
    assert found == {
        deliveries["hook"]: (DeliveryStatus.CANCELLED, "hook changed"),
        deliveries["mail"]: (DeliveryStatus.CANCELLED, "rule deleted"),
        deliveries["claimed"]: (DeliveryStatus.SENDING, None),
        deliveries["other"]: (DeliveryStatus.PENDING, None),
    }


async def test_scoring_series_stream_each_product_once_in_id_order(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several products whose readings interleave in time, over ads and regions: each product
    with readings comes once, in id order, with the points the domain defines, across the
    slices a store reads them in; a caller that stops early leaves the unit of work usable."""
    monkeypatch.setattr(repositories, "SCORING_READ_PRODUCTS", 2)
    _, first, _ = await _seed(uow_factory)
    uow = uow_factory()
    readings: list[EngagementSnapshot] = []
    async with uow:
        products = [first]
        for name in ("B", "C", "D"):
            products.append((await uow.products.add(Product(name=name, description="d", created_at=T0))).id)
        for index, product_id in enumerate(products[:3]):  # the last product has no readings
            for platform in (Platform.TIKTOK, Platform.YOUTUBE):
                ad = await uow.ads.add(
                    Ad(product_id=product_id, platform=platform, ad_content="x", created_at=T0)
                )
                for step in range(400):
                    readings.append(
                        dataclasses.replace(
                            _snap(ad.id, product_id, 0, 10 * step + index, region=("US", "DE")[step % 2]),
                            platform=platform,
                            observed_at=T0 + timedelta(minutes=37 * step + 11 * index),
                        )
                    )
        await uow.engagement.add_many(readings)
        await uow.commit()
    since, until = T0 - timedelta(hours=1), T0 + timedelta(days=12)
    expected = [
        (pid, hourly_series([r for r in readings if r.product_id == pid], since=since, until=until))
        for pid in sorted(products[:3])
    ]
    async with uow:
        streamed = [
            item async for item in uow.engagement.scoring_series(reversed(products), since=since, until=until)
        ]
        assert streamed == expected
        assert len({s.ad_id for _, series in streamed for s in series}) == 6
        assert sum(len(s.epochs) for _, series in streamed for s in series) > 2_000
        async with contextlib.aclosing(
            uow.engagement.scoring_series(products, since=since, until=until)
        ) as stream:
            async for _ in stream:
                break
        assert (await uow.scores.latest_levels(products)) == {}  # the connection is free again
        assert [item async for item in uow.engagement.scoring_series([], since=since, until=until)] == []


async def test_scoring_series_sees_the_unit_of_works_own_readings(uow_factory: UowFactory) -> None:
    """Readings added in the unit of work and not yet committed are what its stream reads
    (a store may read on a connection of its own only where the transaction wrote nothing)."""
    _, product_id, ad_id = await _seed(uow_factory)
    readings = [
        dataclasses.replace(_snap(ad_id, product_id, 0, 100 * step), observed_at=T0 + timedelta(hours=step))
        for step in range(30)
    ]
    since, until = T0 - timedelta(hours=1), T0 + timedelta(days=2)
    uow = uow_factory()
    async with uow:
        await uow.engagement.add_many(readings)
        streamed = [
            item async for item in uow.engagement.scoring_series([product_id], since=since, until=until)
        ]
        assert streamed == [(product_id, hourly_series(readings, since=since, until=until))]
    async with uow:  # rolled back: nothing was stored
        assert [
            item async for item in uow.engagement.scoring_series([product_id], since=since, until=until)
        ] == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_scoring_streams_closed_early_give_their_connections_back(
    database_url: str, uow_factory: UowFactory
) -> None:
    """More streams stopped after their first product than the pool holds connections (20):
    none keeps one, whichever connection it reads on."""
    _, product_id, ad_id = await _seed(uow_factory)
    uow = uow_factory()
    since, until = T0 - timedelta(hours=1), T0 + timedelta(days=2)
    async with uow:
        await uow.engagement.add_many(
            [
                dataclasses.replace(
                    _snap(ad_id, product_id, 0, 10 * step), observed_at=T0 + timedelta(hours=step)
                )
                for step in range(5)
            ]
        )
        await uow.commit()
    for _ in range(25):
        async with (
            uow,
            contextlib.aclosing(
                uow.engagement.scoring_series([product_id], since=since, until=until)
            ) as stream,
        ):
            async for _ in stream:
                break
    async with uow:
        assert [
            pid async for pid, _ in uow.engagement.scoring_series([product_id], since=since, until=until)
        ] == [product_id]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_rescore_whose_write_fails_midway_stores_nothing(
    database_url: str, uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A product deleted by another client while its score is being made: the write of its
    score fails (on PostgreSQL, while the engine scores the next product and the store reads
    the one after), the error comes out as the store's, nothing of the call is stored, and the
    same unit of work re-scores the remaining products at once."""
    monkeypatch.setattr(repositories, "SCORING_READ_PRODUCTS", 1)
    monkeypatch.setattr(repositories, "STORE_PART", 1)
    uow = uow_factory()
    products = await _products_with_readings(uow_factory, 6)
    gone = products[2]
    calls = 0
    real = scoring.score_series

    def deleting(series: Any, as_of: datetime) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first product is being scored: another client deletes the third
            with psycopg.connect(database_url, autocommit=True) as other:
                other.execute("DELETE FROM products WHERE id = %s", (gone,))
        return real(series, as_of)

    monkeypatch.setattr(trends, "score_series", deleting)
    clock = FixedClock(T0 + timedelta(hours=5))
    with pytest.raises(Conflict):
        await trends.rescore(uow, clock, products)
    async with uow:
        assert await uow.scores.latest_levels(products) == {}
    monkeypatch.setattr(trends, "score_series", real)
    remaining = [p for p in products if p != gone]
    stored = await trends.rescore(uow, clock, remaining)
    assert sorted(stored) == remaining


async def test_window_gains_match_the_definition_on_messy_data(uow_factory: UowFactory) -> None:
    """Weeks of readings at irregular times, sent out of order in overlapping batches, some
    re-sent with other counters (ignored: the first stored reading stands), some counters going
    down; windows at arbitrary, unaligned times. The store (rollups and raw edges on SQL) must
    agree with the reference definition over the readings actually stored."""
    _, product_id, first_ad = await _seed(uow_factory)
    rng = random.Random(20261125)
    uow = uow_factory()
    async with uow:
        ads = [first_ad]
        for number in range(5):
            ad = await uow.ads.add(
                Ad(
                    product_id=product_id,
                    platform=Platform.YOUTUBE,
                    ad_content="y",
                    external_id=f"m{number}",
                    created_at=T0,
                )
            )
            ads.append(ad.id)
        await uow.commit()
    stored: dict[tuple[int, str, datetime], EngagementSnapshot] = {}
    batches: list[list[EngagementSnapshot]] = []
    for ad_id in ads:
        for region in rng.sample(["US", "DE", "JP"], k=rng.randint(1, 3)):
            views, moment = rng.randint(0, 500), T0 - timedelta(days=45)
            series = []
            while moment < T0 + timedelta(days=20):
                # Times to the microsecond: re-scoring's reading times must agree to the last bit.
                moment += timedelta(
                    minutes=rng.choice([7, 40, 60, 95, 300, 1440, 2900]),
                    microseconds=rng.randint(0, 59_999_999),
                )
                views = max(0, views + rng.randint(-30, 400))  # sometimes a correction downwards
                series.append(_snap(ad_id, product_id, 0, views, region=region))
                series[-1] = dataclasses.replace(
                    series[-1],
                    platform=Platform.TIKTOK if ad_id == first_ad else Platform.YOUTUBE,
                    observed_at=moment,
                    likes=rng.randint(0, views // 10 + 1),
                    comments=rng.randint(0, 20),
                    shares=rng.randint(0, 5),
                )
            rng.shuffle(series)
            batches.extend(series[i : i + 97] for i in range(0, len(series), 97))
    rng.shuffle(batches)
    for batch in batches:
        resent = [
            dataclasses.replace(s, views=s.views + 1_000_000) for s in rng.sample(batch, k=min(5, len(batch)))
        ]
        for reading in batch:
            stored.setdefault((reading.ad_id, reading.region, reading.observed_at), reading)
        async with uow:
            await uow.engagement.add_many(batch)
            await uow.engagement.add_many(resent)  # the same keys again: nothing changes
            await uow.commit()
    readings = list(stored.values())
    windows = [(T0 + timedelta(hours=5), T0 + timedelta(hours=40))]
    for _ in range(25):
        start = T0 + timedelta(minutes=rng.randint(-30 * 1440, 15 * 1440))
        windows.append(
            (start, start + timedelta(minutes=rng.choice([30, 61, 1440, 7 * 1440, 30 * 1440 + 17])))
        )
    windows.append((T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=3)))  # aligned edges
    # Windows that end at or just before the latest reading: nothing stored later in that day
    # (its daily rollup then stands for the day's readings up to the end) or something is.
    latest = max(r.observed_at for r in readings)
    for end in (latest, latest + timedelta(minutes=5), latest - timedelta(minutes=1)):
        # A week, and the scan's last 24 hours (one midnight inside, no whole day).
        windows.append((end - timedelta(days=7, minutes=13), end))
        windows.append((end - timedelta(days=1), end))
    # Windows that start before the first reading of their day (nothing stored earlier that day:
    # the day's rollup then stands for the window's part of it), and just after it.
    first_of_day: dict[datetime, datetime] = {}
    for r in readings:
        day = r.observed_at.replace(hour=0, minute=0, second=0, microsecond=0)
        first_of_day[day] = min(first_of_day.get(day, r.observed_at), r.observed_at)
    late_starts = sorted(first for day, first in first_of_day.items() if first - day > timedelta(hours=2))
    assert late_starts, "the data has days whose first reading is late"
    for first in late_starts[:3]:
        day = first.replace(hour=0, minute=0, second=0, microsecond=0)
        fresh = day + (first - day) / 2
        for start in (fresh, first + timedelta(microseconds=1)):
            for length in (
                timedelta(minutes=30),
                timedelta(days=1),
                timedelta(days=1, hours=2),
                timedelta(days=7),
            ):
                windows.append((start, start + length))
        windows.append((fresh, day + timedelta(days=1)))  # ends exactly at the next midnight
        windows.append((fresh, day + timedelta(days=1, minutes=30)))  # ends in the next day's first hour
    async with uow:
        for start, end in windows:
            reference = window_gains(readings, start, end)
            assert await uow.engagement.window_gains(start, end) == reference, (start, end)
            assert await uow.engagement.regional_activity(start, end) == regional_activity(reference)
            assert await uow.engagement.ad_gains(start, end) == ad_gains(reference), (start, end)
        # What re-scoring reads: the hourly points, from the rollups on SQL.
        for since, until in [
            (T0 - timedelta(days=61), T0 + timedelta(days=20)),
            (T0 + timedelta(minutes=17), T0 + timedelta(days=3, minutes=5)),
        ]:
            points = [
                item
                async for item in uow.engagement.scoring_series(
                    [product_id + 1, product_id, product_id], since=since, until=until
                )
            ]
            # Only products with readings, each once, in id order.
            assert points == [(product_id, hourly_series(readings, since=since, until=until))], (since, until)


async def test_concurrent_batches_over_the_same_hours_all_land_once(uow_factory: UowFactory) -> None:
    """Collectors send at once: eight batches in eight units of work, overlapping each other
    and in shuffled orders, over the same ads, regions and hours. Every batch lands (no
    deadlock between the rollup upserts: each takes its rows in key order), every reading is
    stored once, and the rollups agree with the readings."""
    _, product_id, first_ad = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        ads = [first_ad] + [
            (
                await uow.ads.add(
                    Ad(product_id=product_id, platform=Platform.TIKTOK, ad_content="c", created_at=T0)
                )
            ).id
            for _ in range(11)
        ]
        await uow.commit()
    readings = [
        dataclasses.replace(
            _snap(ad_id, product_id, 0, 1_000 * ad_id + 7 * step, region=region),
            observed_at=T0 + timedelta(minutes=20 * step),
        )
        for ad_id in ads
        for region in ("US", "DE")
        for step in range(72)
    ]
    rng = random.Random(20261130)
    batches = [rng.sample(readings, k=rng.randint(len(readings) // 8, len(readings) // 2)) for _ in range(8)]

    async def send(batch: list[EngagementSnapshot]) -> int:
        writer = uow_factory()
        async with writer:
            result = await writer.engagement.add_many(batch)
            await writer.commit()
        return result.stored

    stored = await asyncio.gather(*(send(batch) for batch in batches))
    landed = {s.key for batch in batches for s in batch}
    assert sum(stored) == len(landed)
    async with uow:
        kept = (await uow.engagement.for_products([product_id]))[product_id]
        assert sorted(s.key for s in kept) == sorted(landed)
        end = T0 + timedelta(days=1)
        assert await uow.engagement.window_gains(T0, end) == window_gains(kept, T0, end)
        # Nothing before this one: it starts from the first reading, whichever batch brought it.
        start = T0 - timedelta(minutes=1)
        assert await uow.engagement.window_gains(start, end) == window_gains(kept, start, end)


async def test_a_rescore_that_fails_midway_leaves_nothing_in_flight(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine fails on the second product while the store has the next slice's statement
    and the first score's write in flight: the error comes out, nothing is stored, and the same
    unit of work serves the next use case at once."""
    monkeypatch.setattr(repositories, "SCORING_READ_PRODUCTS", 1)
    monkeypatch.setattr(repositories, "STORE_PART", 1)
    uow = uow_factory()
    products = await _products_with_readings(uow_factory, 3)
    calls = 0
    real = scoring.score_series

    def failing(series: Any, as_of: datetime) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the engine failed")
        return real(series, as_of)

    monkeypatch.setattr(trends, "score_series", failing)
    clock = FixedClock(T0 + timedelta(hours=5))
    with pytest.raises(RuntimeError, match="the engine failed"):
        await trends.rescore(uow, clock, products)
    monkeypatch.setattr(trends, "score_series", real)
    stored = await trends.rescore(uow, clock, products)
    assert sorted(stored) == sorted(products)
    async with uow:
        assert {p: level.score for p, level in (await uow.scores.latest_levels(products)).items()} == {
            p: score.score for p, score in stored.items()
        }


async def test_every_user_list_pages_with_skip_and_limit(uow_factory: UowFactory) -> None:
    """Watchlists, rules, alerts and deliveries page the same way as products, on every store:
    ``skip`` then ``limit``, in each list's own order, filters applied first."""
    user_id, first_product, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        products = [first_product]
        for number in range(1, 7):
            products.append(
                (await uow.products.add(Product(name=f"P{number}", description="d", created_at=T0))).id
            )
        for product_id in products:
            await uow.watchlists.add_if_new(
                WatchlistEntry(user_id=user_id, product_id=product_id, created_at=T0)
            )
            rule = await uow.alert_rules.add(
                AlertRule(
                    user_id=user_id,
                    kind=AlertRuleKind.SCORE_THRESHOLD,
                    product_id=product_id,
                    threshold=70,
                    created_at=T0,
                )
            )
            alert = await uow.alerts.add_if_new(
                Alert(
                    user_id=user_id,
                    rule_id=rule.id,
                    product_id=product_id,
                    kind=rule.kind,
                    event_key=f"k{product_id}",
                    message="m",
                    created_at=T0 + timedelta(minutes=product_id % 3),  # not in id order
                )
            )
            assert alert is not None
            await uow.deliveries.add(
                Delivery(
                    alert_id=alert.id,
                    user_id=user_id,
                    channel=Channel.EMAIL,
                    target="ana@example.com",
                    status=DeliveryStatus.DEAD if product_id % 2 else DeliveryStatus.PENDING,
                    next_attempt_at=T0,
                    created_at=T0 + timedelta(minutes=product_id % 3),
                )
            )
        await uow.commit()
    async with uow:
        watched = await uow.watchlists.list(user_id)
        rules = await uow.alert_rules.list(user_id)
        alerts = await uow.alerts.list(user_id)
        deliveries = await uow.deliveries.list(user_id)
        dead = await uow.deliveries.list(user_id, status=DeliveryStatus.DEAD)
        assert len(watched) == len(rules) == len(alerts) == len(deliveries) == 7
        assert [a.created_at for a in alerts] == sorted((a.created_at for a in alerts), reverse=True)
        assert await uow.watchlists.list(user_id, skip=2, limit=3) == watched[2:5]
        assert await uow.alert_rules.list(user_id, skip=2, limit=3) == rules[2:5]
        assert await uow.alerts.list(user_id, skip=2, limit=3) == alerts[2:5]
        assert await uow.deliveries.list(user_id, skip=2, limit=3) == deliveries[2:5]
        assert await uow.deliveries.list(user_id, status=DeliveryStatus.DEAD, skip=1, limit=2) == dead[1:3]
        assert await uow.alerts.mark_read(user_id, [alerts[0].id], T0) == 1
        assert await uow.alerts.list(user_id, unread_only=True, skip=1, limit=2) == alerts[2:4]
        for listed in (
            await uow.watchlists.list(user_id, skip=7, limit=5),
            await uow.alert_rules.list(user_id, skip=7, limit=5),
            await uow.alerts.list(user_id, skip=7, limit=5),
            await uow.deliveries.list(user_id, skip=7, limit=5),
        ):
            assert listed == []


async def test_an_accounts_readings_are_counted_and_removed_as_if_never_sent(
    uow_factory: UowFactory,
) -> None:
    """Each stored reading remembers the account that sent it (none for the operator's own
    collectors). An account's readings, from a time on or all of them, can be counted and
    removed; the store then answers every read (readings, window gains, re-scoring's points)
    as if they had never been stored, though they shared hours and days with the readings kept;
    and a removal not committed removes nothing."""
    user_a, product_id, first_ad = await _seed(uow_factory)
    rng = random.Random(20261201)
    uow = uow_factory()
    async with uow:
        user_b = (
            await uow.users.add(User(username="Bo", email="bo@example.com", password_hash="h", created_at=T0))
        ).id
        other = await uow.products.add(Product(name="Other", description="d", created_at=T0))
        other_ad = (
            await uow.ads.add(
                Ad(product_id=other.id, platform=Platform.TIKTOK, ad_content="o", created_at=T0)
            )
        ).id
        await uow.commit()
    senders: dict[tuple[int, str, datetime], int | None] = {}
    stored: dict[tuple[int, str, datetime], EngagementSnapshot] = {}
    for ad_id, owner in ((first_ad, product_id), (other_ad, other.id)):
        for region in ("US", "DE"):
            views, moment = rng.randint(0, 500), T0 - timedelta(days=20)
            while moment < T0 + timedelta(days=3):
                moment += timedelta(minutes=rng.choice([13, 40, 95, 300, 1440]), seconds=rng.randint(0, 59))
                views += rng.randint(0, 400)
                if ad_id == other_ad and rng.random() < 0.5:
                    continue
                reading = dataclasses.replace(
                    _snap(ad_id, owner, 0, views, region=region),
                    observed_at=moment,
                    likes=views // 9,
                    comments=rng.randint(0, 9),
                )
                # Everyone's readings mixed within the same hours and days.
                sender = rng.choice([user_a, user_a, user_b, None])
                async with uow:
                    await uow.engagement.add_many([reading], sender=sender)
                    # The same reading again from someone else: a duplicate, the first stands.
                    await uow.engagement.add_many(
                        [dataclasses.replace(reading, views=views + 9)], sender=user_b
                    )
                    await uow.commit()
                stored[reading.key] = reading
                senders[reading.key] = sender
    cut = T0 - timedelta(days=4, hours=5)
    of_a = [k for k, s in senders.items() if s == user_a]
    of_a_since = [k for k in of_a if k[2] >= cut]
    assert of_a_since and len(of_a_since) < len(of_a)
    async with uow:
        everything = await uow.engagement.sent_by(user_a)
        assert everything.readings == len(of_a)
        assert everything.product_ids == {stored[k].product_id for k in of_a}
        assert (await uow.engagement.sent_by(user_a, since=cut)).readings == len(of_a_since)
        assert (await uow.engagement.sent_by(user_b + 100)).readings == 0
        activity = {a.sender: a for a in await uow.engagement.senders()}
        assert set(activity) == {user_a, user_b}, "the operator's own readings have no sender"
        assert activity[user_a].readings == len(of_a)
        assert activity[user_a].products == len(everything.product_ids)
        assert activity[user_a].first_observed == min(k[2] for k in of_a)
        assert activity[user_a].last_observed == max(k[2] for k in of_a)
        # Not committed: nothing is removed.
        assert (await uow.engagement.remove_sent_by(user_a, since=cut)).readings == len(of_a_since)
    async with uow:
        assert (await uow.engagement.sent_by(user_a)).readings == len(of_a)
        removed = await uow.engagement.remove_sent_by(user_a, since=cut)
        await uow.commit()
    assert removed.readings == len(of_a_since)
    assert removed.product_ids == {stored[k].product_id for k in of_a_since}
    kept = [r for k, r in stored.items() if k not in set(of_a_since)]
    async with uow:
        assert (await uow.engagement.sent_by(user_a)).readings == len(of_a) - len(of_a_since)
        assert (await uow.engagement.sent_by(user_a, since=cut)).readings == 0
        assert (await uow.engagement.remove_sent_by(user_a, since=cut)).readings == 0
        found = await uow.engagement.for_products([product_id, other.id])
        assert sorted(s.key for v in found.values() for s in v) == sorted(r.key for r in kept)
        for start, end in [
            (T0 - timedelta(days=30), T0 + timedelta(days=5)),
            (cut - timedelta(hours=3), cut + timedelta(days=1, minutes=7)),
            (T0 - timedelta(days=1, minutes=13), T0 + timedelta(days=3)),
            (T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=2)),
        ]:
            reference = window_gains(kept, start, end)
            assert await uow.engagement.window_gains(start, end) == reference, (start, end)
            assert await uow.engagement.ad_gains(start, end) == ad_gains(reference)
            assert await uow.engagement.regional_activity(start, end) == regional_activity(reference)
        since, until = T0 - timedelta(days=61), T0 + timedelta(days=5)
        points = [
            item
            async for item in uow.engagement.scoring_series([product_id, other.id], since=since, until=until)
        ]
        expected = [
            (pid, hourly_series([r for r in kept if r.product_id == pid], since=since, until=until))
            for pid in sorted({product_id, other.id})
            if any(r.product_id == pid for r in kept)
        ]
        assert points == expected
        # Everything else of the account goes too.
        rest = await uow.engagement.remove_sent_by(user_a)
        await uow.commit()
    assert rest.readings == len(of_a) - len(of_a_since)
    async with uow:
        assert {a.sender for a in await uow.engagement.senders()} == {user_b}
        left = [r for k, r in stored.items() if senders[k] != user_a]
        end = T0 + timedelta(days=5)
        assert await uow.engagement.window_gains(T0 - timedelta(days=30), end) == window_gains(
            left, T0 - timedelta(days=30), end
        )


async def test_an_account_is_disabled_and_enabled_in_place(uow_factory: UowFactory) -> None:
    user_id, _, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        await uow.users.set_disabled(user_id, T0 + timedelta(hours=1))
        await uow.commit()
    async with uow:
        found = await uow.users.get(user_id)
        named = await uow.users.get_by_username("ana")
        assert found is not None and found.disabled_at == T0 + timedelta(hours=1)
        assert named == found
        await uow.users.set_disabled(user_id, None)
        await uow.commit()
    async with uow:
        found = await uow.users.get(user_id)
        assert found is not None and found.disabled_at is None
        # Every login of the account revoked at once (another user's stays).
        other = await uow.users.add(
            User(username="Bo", email="bo@example.com", password_hash="h", created_at=T0)
        )
        for owner, family in ((user_id, "f1"), (user_id, "f2"), (other.id, "f3")):
            await uow.refresh_tokens.add(
                RefreshToken(
                    digest=f"d-{family}",
                    family_id=family,
                    user_id=owner,
                    issued_at=T0,
                    expires_at=T0 + timedelta(days=1),
                )
            )
        await uow.refresh_tokens.revoke_user(user_id)
        await uow.commit()
    async with uow:
        states = {f: (await uow.refresh_tokens.get_by_digest(f"d-{f}")) for f in ("f1", "f2", "f3")}
        assert {f: token.revoked for f, token in states.items() if token is not None} == {
            "f1": True,
            "f2": True,
            "f3": False,
        }


def _refresh_token(digest: str, family: str, user_id: int) -> RefreshToken:
    return RefreshToken(
        digest=digest, family_id=family, user_id=user_id, issued_at=T0, expires_at=T0 + timedelta(days=1)
    )


async def test_a_revoked_login_refuses_its_tokens_even_one_a_refresh_adds_after(
    uow_factory: UowFactory,
) -> None:
    """A login (refresh-token family) is revoked as a whole: a token of it revoked can no longer
    be spent (a refresh that read it before the revocation loses), and a token a refresh adds to
    it afterwards (one that raced the revocation) belongs to a revoked login too."""
    user_id, _, _ = await _seed(uow_factory)
    uow = uow_factory()
    async with uow:
        read = await uow.refresh_tokens.add(_refresh_token("d1", "f", user_id))
        await uow.refresh_tokens.add(_refresh_token("d2", "g", user_id))
        await uow.commit()
    async with uow:
        assert await uow.refresh_tokens.family_revoked("f") is False
        await uow.refresh_tokens.revoke_family("f")
        await uow.commit()
    async with uow:
        assert await uow.refresh_tokens.mark_used(read.id, T0) is False, "revoked: not to be spent"
        late = await uow.refresh_tokens.add(_refresh_token("d3", "f", user_id))
        await uow.commit()
    async with uow:
        assert await uow.refresh_tokens.family_revoked("f") is True
        assert await uow.refresh_tokens.family_revoked("g") is False, "another login goes on"
        assert await uow.refresh_tokens.family_revoked("never-issued") is False
        spent = await uow.refresh_tokens.get_by_digest("d1")
        assert spent is not None and spent.used_at is None
        assert late.family_id == "f"
        await uow.refresh_tokens.revoke_user(user_id)
        await uow.commit()
    async with uow:
        assert await uow.refresh_tokens.family_revoked("g") is True, "every login of the account"


async def test_accounts_are_listed_by_id_a_page_at_a_time(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    async with uow:
        made = [
            await uow.users.add(
                User(username=f"user{n}", email=f"u{n}@example.com", password_hash="h", created_at=T0)
            )
            for n in range(5)
        ]
        await uow.users.set_disabled(made[3].id, T0)
        await uow.commit()
    async with uow:
        first = await uow.users.list(skip=0, limit=3)
        rest = await uow.users.list(skip=3, limit=3)
    assert [u.username for u in first + rest] == [f"user{n}" for n in range(5)]
    assert [u.disabled_at for u in rest] == [T0, None]


def _naming_cafe() -> list[SnapshotInput | Rejection]:
    """Two readings of TikTok's ad "Café-1", an hour apart: the id typed composed, then decomposed."""
    return [
        SnapshotInput(
            observed_at=T0 + timedelta(hours=h), region="US", views=h, platform=Platform.TIKTOK, external_id=e
        )
        for h, e in enumerate(["Caf\u00e9-1", "Cafe\u0301-1"])
    ]


async def test_readings_find_an_ad_by_its_external_id_typed_composed_or_not(uow_factory: UowFactory) -> None:
    """An ad's external id is stored composed (NFC): "Cafe" + U+0301 is kept as "Café"; a reading
    naming it either way, alone or beside the ad's id, finds that ad on every store."""
    _, product_id, _ = await _seed(uow_factory)
    clock = FixedClock(T0 + timedelta(hours=5))
    ad = await catalog.create_ad(
        uow_factory(),
        clock,
        catalog.NewAd(
            product_id=product_id, platform=Platform.TIKTOK, ad_content="c", external_id="Cafe\u0301-1"
        ),
    )
    assert ad.external_id == "Caf\u00e9-1"
    items = [
        *_naming_cafe(),
        SnapshotInput(
            observed_at=T0 + timedelta(hours=2), region="US", views=2, ad_id=ad.id, external_id="Cafe\u0301-1"
        ),
    ]
    report = await ingest_engagement(uow_factory(), clock, items)
    assert report.rejected == []
    assert report.stored == 3


async def test_an_ad_stored_before_external_ids_were_composed_is_found_either_way(
    uow_factory: UowFactory,
) -> None:
    """An ad whose external id was stored as typed, decomposed (Cafe + U+0301), before ads' ids
    were composed is still named by a reading typing it either way, without a migration."""
    _, product_id, _ = await _seed(uow_factory)
    clock = FixedClock(T0 + timedelta(hours=5))
    uow = uow_factory()
    async with uow:
        old = await uow.ads.add(
            Ad(
                product_id=product_id,
                platform=Platform.TIKTOK,
                ad_content="c",
                external_id="Cafe\u0301-1",
                created_at=T0,
            )
        )
        await uow.commit()
    report = await ingest_engagement(uow_factory(), clock, _naming_cafe())
    assert report.rejected == []
    assert report.stored == 2 and old.external_id == "Cafe\u0301-1"
