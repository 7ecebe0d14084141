"""Migrations: they build exactly the declared schema, 0003, 0004 and 0011 fill the rollups
(views, interactions, then the first reading's views) from what was stored before them, 0019
composes the text stored before text was composed, and downgrades that take a column off the
accounts or the products keep every row referring to them, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, create_engine, insert, pool, text

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql import tables as t
from marketscout.adapters.sql.engine import create_engine as create_async_engine
from marketscout.adapters.sql.engine import session_factory, sync_url
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.gains import window_gains
from marketscout.domain.model import MAX_COUNT, EngagementSnapshot, Platform, TrendingFilter
from marketscout.domain.scoring import hourly_series
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.engagement import SnapshotInput, ingest_engagement
from tests.databases import fresh_postgres_database

T0 = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def _database_at(revision: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLite file or a PostgreSQL database (``request.param``) migrated to ``revision``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
        migrate.upgrade(url, revision)
        yield url
        return
    with fresh_postgres_database(revision) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database_at("0002", request, tmp_path)


def _old_rows(url: str) -> list[EngagementSnapshot]:
    """Writes, with plain SQL as the previous release did, a product, two ads and their readings."""
    rng = random.Random(3)
    readings: list[EngagementSnapshot] = []
    for ad_id, platform in ((1, Platform.TIKTOK), (2, Platform.INSTAGRAM)):
        views, moment = 0, T0 - timedelta(days=40)
        while moment < T0:
            moment += timedelta(minutes=rng.choice([13, 60, 300, 1440]))
            views += rng.randint(-5, 200)
            views = max(views, 0)
            readings.append(
                EngagementSnapshot(
                    ad_id=ad_id,
                    product_id=1,
                    platform=platform,
                    region="US",
                    observed_at=moment,
                    views=views,
                    likes=rng.randint(0, 50),
                    comments=rng.randint(0, 9),
                )
            )
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.begin() as connection:
        connection.execute(
            insert(t.users).values(
                id=1,
                username="a",
                username_key="a",
                email="a@x.io",
                email_key="a@x.io",
                password_hash="h",
                created_at=T0,
            )
        )
        connection.execute(
            insert(t.products).values(id=1, name="Große Lampe", description="", keywords=[], created_at=T0)
        )
        for ad_id, name in ((1, "TikTok"), (2, "Instagram")):
            connection.execute(
                insert(t.ads).values(id=ad_id, product_id=1, platform=name, ad_content="x", created_at=T0)
            )
        connection.execute(
            insert(t.engagement_snapshots),
            [
                {
                    "ad_id": r.ad_id,
                    "product_id": r.product_id,
                    "platform": r.platform.value,
                    "region": r.region,
                    "observed_at": r.observed_at,
                    "views": r.views,
                    "likes": r.likes,
                    "comments": r.comments,
                    "shares": 0,
                }
                for r in readings
            ],
        )
        # Three scores of the product, the last stored for the earliest moment.
        connection.execute(
            insert(t.trend_scores),
            [
                {
                    "product_id": 1,
                    "calculated_at": T0 - timedelta(hours=hours),
                    "score": score,
                    "status": "steady",
                    "confidence": 0.5,
                    "components": {},
                    "growth": {},
                    "forecast": [],
                    "reasons": [],
                }
                for hours, score in ((2, 20.0), (1, 40.0), (3, 80.0))
            ],
        )
    engine.dispose()
    return readings


async def test_upgrading_rolls_up_what_was_stored_before(database_at_0002: str) -> None:
    readings = _old_rows(database_at_0002)
    migrate.upgrade(database_at_0002)
    assert migrate.current(database_at_0002) == migrate.head()
    engine = create_async_engine(database_at_0002)
    uow = SqlUnitOfWork(session_factory(engine))
    try:
        async with uow:
            # 45 days: nothing before the window, so it starts from the first reading inside, whose
            # views 0011 filled in from the snapshots.
            for days in (1, 7, 30, 45):
                start = T0 - timedelta(days=days, minutes=7)
                assert await uow.engagement.window_gains(start, T0) == window_gains(readings, start, T0)
            # 0004 filled in the interactions: what re-scoring reads agrees with the readings.
            since = T0 - timedelta(days=61)
            points = [item async for item in uow.engagement.scoring_series([1], since=since, until=T0)]
            assert points == [(1, hourly_series(readings, since=since, until=T0))]
            # 0007 found each product's latest score: the newest moment, not the last stored.
            ranked = await uow.scores.ranked(TrendingFilter(), limit=5)
            assert [(s.product_id, s.score) for s in ranked] == [(1, 40.0)]
            # 0009 folded the names stored before it: search finds them as it finds new ones, in
            # the catalogue and in the trending list and its count.
            assert [p.id for p in await uow.products.list(skip=0, limit=5, query="GROSSE")] == [1]
            named = TrendingFilter(name="GROSSE")
            assert [s.product_id for s in await uow.scores.ranked(named, limit=5)] == [1]
            assert await uow.scores.count_ranked(named) == 1
    finally:
        await engine.dispose()


def test_the_migrations_build_exactly_the_declared_schema(database_at_0002: str) -> None:
    migrate.upgrade(database_at_0002)
    engine = create_engine(sync_url(database_at_0002), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), t.metadata)
            if connection.dialect.name == "postgresql":
                # Storage parameters, which autogenerate does not compare.
                for table in (t.engagement_hourly, t.engagement_daily):
                    options = connection.execute(
                        text("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE relname = :name"),
                        {"name": table.name},
                    ).scalar_one()
                    wanted = table.dialect_options["postgresql"]["with"]["fillfactor"]
                    assert (f"fillfactor={wanted}" in options) == (wanted != 100), (table.name, options)
    finally:
        engine.dispose()
    assert differences == []


@pytest.fixture(params=["sqlite", "postgres"])
def database_at_0009(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database_at("0009", request, tmp_path)


def test_stored_alert_keys_name_the_condition_after_0010(database_at_0009: str) -> None:
    """An event alerted before the upgrade keeps its alert and is not alerted again after it."""
    engine = create_engine(sync_url(database_at_0009), poolclass=pool.NullPool)
    legacy = {
        1: ("r0:p1:viral:ad5", "p1:viral:ad5"),
        2: ("r0:p1:rise:s3", "p1:rise10.0/24h:s3"),
        3: ("r7:p1:threshold:s4", "p1:threshold50.0:s4"),
        4: ("r7:p1:exploding:s4", "p1:exploding:s4"),
        5: ("r99:p1:threshold:s4", "r99:p1:threshold:s4"),  # its rule is gone: left as it was
        6: ("r8:p1:threshold:s4", "r8:p1:threshold:s4"),  # a duplicate rule's: the first keeps it
        7: ("r9:p1:rise:s6", "p1:rise12.5/48h:s6"),
    }
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(t.users).values(
                    id=1,
                    username="a",
                    username_key="a",
                    email="a@x.com",
                    email_key="a@x.com",
                    password_hash="h",
                    created_at=T0,
                )
            )
            connection.execute(
                insert(t.products).values(id=1, name="Lamp", description="d", keywords=[], created_at=T0)
            )
            for rule_id, kind, threshold, window in (
                (7, "score_threshold", 50.0, None),
                (8, "score_threshold", 50.0, None),
                (9, "score_rise", 12.5, 48),
            ):
                connection.execute(
                    insert(t.alert_rules).values(
                        id=rule_id,
                        user_id=1,
                        kind=kind,
                        threshold=threshold,
                        window_hours=window,
                        created_at=T0,
                        channels="",
                    )
                )
            for alert_id, (old, _) in legacy.items():
                connection.execute(
                    insert(t.alerts).values(
                        id=alert_id,
                        user_id=1,
                        rule_id=int(old[1 : old.index(":")]),
                        product_id=1,
                        kind="new_viral_ad",
                        event_key=old,
                        message="m",
                        created_at=T0,
                    )
                )
        migrate.upgrade(database_at_0009)
        with engine.connect() as connection:
            keys = {
                row.id: row.event_key for row in connection.execute(text("SELECT id, event_key FROM alerts"))
            }
    finally:
        engine.dispose()
    assert keys == {alert_id: new for alert_id, (_, new) in legacy.items()}


async def test_interactions_rolled_up_beyond_64_bits_count_as_the_maximum_after_0016(tmp_path: Path) -> None:
    """Before 0016, SQLite rolled up likes + comments + shares beyond 2^63 - 1 as a float, which
    re-scoring refused; after it, they are 2^63 - 1, as the engine counts them."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(url, "0014")
    top = MAX_COUNT
    reading = EngagementSnapshot(
        ad_id=1,
        product_id=1,
        platform=Platform.TIKTOK,
        region="US",
        observed_at=T0,
        views=5,
        likes=top,
        comments=top,
        shares=top,
    )
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(t.products).values(id=1, name="Lamp", description="d", keywords=[], created_at=T0)
            )
            connection.execute(
                insert(t.ads).values(id=1, product_id=1, platform="TikTok", ad_content="x", created_at=T0)
            )
            connection.execute(
                insert(t.engagement_snapshots).values(
                    ad_id=1,
                    product_id=1,
                    platform="TikTok",
                    region="US",
                    observed_at=T0,
                    views=5,
                    likes=top,
                    comments=top,
                    shares=top,
                )
            )
            for table, bucket in (
                (t.engagement_hourly, T0.replace(minute=0)),
                (t.engagement_daily, T0.replace(hour=0, minute=0)),
            ):
                connection.execute(
                    insert(table).values(
                        bucket=bucket,
                        ad_id=1,
                        region="US",
                        product_id=1,
                        platform="TikTok",
                        max_views=5,
                        min_views=5,
                        first_seen=T0,
                        last_seen=T0,
                        # What the rollups kept: SQLite's sum beyond 64 bits, a float.
                        max_interactions=text(f"{top} + {top} + {top}"),
                        first_views=5,
                    )
                )
            stored = connection.execute(
                text("SELECT typeof(max_interactions) FROM engagement_hourly")
            ).scalar()
            assert stored == "real"
    finally:
        engine.dispose()
    migrate.upgrade(url)
    async_engine = create_async_engine(url)
    uow = SqlUnitOfWork(session_factory(async_engine))
    since = T0 - timedelta(days=1)
    try:
        async with uow:
            points = [item async for item in uow.engagement.scoring_series([1], since=since, until=T0)]
    finally:
        await async_engine.dispose()
    assert points == [(1, hourly_series([reading], since=since, until=T0))]
    assert points[0][1][0].interactions == [top]


@pytest.fixture(params=["sqlite", "postgres"])
def database_at_0018(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database_at("0018", request, tmp_path)


# Text as releases before 2026-12-03 stored it: as typed, here with combining accents (NFD) or in
# a mix of both forms, which the store's fallback for wholly decomposed text does not find.
_MIXED_NAME = "Cafe\u0301 Cr\u00e8me"  # é decomposed, è composed
_NAME = "Caf\u00e9 Cr\u00e8me"
_MIXED_ID = "Cafe\u0301-cr\u00e8me-1"
_ID = "Caf\u00e9-cr\u00e8me-1"
# Composed, longer than its column's 200 characters: U+0344 composes to two characters.
_GROWING = "A" + "\u0344" * 199


def _old_text(url: str) -> None:
    """Writes, with plain SQL as the previous release did, products and ads with text not composed
    (keys and keywords case-folded as typed), beside products and ads stored composed since."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(t.products),
                [
                    {
                        "id": 1,
                        "name": _MIXED_NAME,
                        "name_key": _MIXED_NAME.casefold(),
                        "description": "Cre\u0300me bru\u0302le\u0301e",
                        "category": "Ku\u0308che",
                        "keywords": ["cafe\u0301", "caf\u00e9", "mug"],
                        "created_at": T0,
                    },
                    {
                        "id": 2,
                        "name": _NAME,
                        "name_key": _NAME.casefold(),
                        "description": "d",
                        "category": "K\u00fcche",
                        "keywords": [],
                        "created_at": T0,
                    },
                ],
            )
            ads = [
                # Found by its composed id after the upgrade.
                (1, "TikTok", _MIXED_ID, "Cre\u0300me", "Mai\u0308son"),
                # The same id stored decomposed, then composed (since ids are composed, POST /ads
                # no longer saw the older one): the composed one keeps it, the older one is left.
                (2, "Instagram", "Cafe\u0301-2", "Cre\u0300me", None),
                (3, "Instagram", "Caf\u00e9-2", "c", None),
                # Two forms of one id, neither composed: the older ad takes the composed id.
                (4, "YouTube", "Cafe\u0301-cr\u00e8me", "c", None),
                (5, "YouTube", "Caf\u00e9-cre\u0300me", "c", None),
                # Composed, its advertiser would not fit its column: left as it is.
                (6, "Facebook", "f-1", "c", _GROWING),
            ]
            connection.execute(
                insert(t.ads),
                [
                    {
                        "id": ad_id,
                        "product_id": 1,
                        "platform": platform,
                        "external_id": external_id,
                        "ad_content": content,
                        "advertiser": advertiser,
                        "created_at": T0,
                    }
                    for ad_id, platform, external_id, content, advertiser in ads
                ],
            )
    finally:
        engine.dispose()


def _ads(url: str) -> dict[int, tuple[str, str | None, str | None]]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, external_id, ad_content, advertiser FROM ads"))
            return {row.id: (row.external_id, row.ad_content, row.advertiser) for row in rows}
    finally:
        engine.dispose()


async def test_text_stored_before_it_was_composed_is_composed_by_0019(
    database_at_0018: str, caplog: pytest.LogCaptureFixture
) -> None:
    """0019 composes (NFC) the names, descriptions, categories, keywords, ad texts, ad ids and
    advertisers stored before text was composed, and the name keys with them: search, the
    namesake check and a reading naming an ad by its composed id find them. An id whose composed
    form another ad of the platform holds (or takes first) is left as it was, and said."""
    _old_text(database_at_0018)
    with caplog.at_level(logging.WARNING):
        migrate.upgrade(database_at_0018)
    assert migrate.current(database_at_0018) == migrate.head()
    engine = create_async_engine(database_at_0018)
    uow = SqlUnitOfWork(session_factory(engine))
    try:
        for typed in ("caf\u00e9 cr\u00e8me", "Cafe\u0301 Cre\u0300me", "cr\u00e8me"):
            found = await catalog.list_products(uow, skip=0, limit=10, query=typed)
            assert [p.id for p in found] == [1, 2], typed
        assert [p.id for p in await catalog.namesakes(uow, _NAME)] == [1, 2]
        old = await catalog.get_product(uow, 1)
        assert (old.name, old.description, old.category, old.keywords) == (
            _NAME,
            "Cr\u00e8me br\u00fbl\u00e9e",
            "K\u00fcche",
            ("caf\u00e9", "mug"),
        )
        async with uow:
            assert await uow.products.categories() == ["K\u00fcche"]
        reading = SnapshotInput(
            observed_at=T0, region="US", views=5, platform=Platform.TIKTOK, external_id=_ID
        )
        report = await ingest_engagement(uow, FixedClock(T0 + timedelta(hours=1)), [reading])
        assert (report.stored, report.rejected, report.product_ids) == (1, [], {1})
        async with uow:
            named = await uow.ads.get_by_external_id(Platform.TIKTOK, _ID)
            assert named is not None and named.id == 1
    finally:
        await engine.dispose()
    assert _ads(database_at_0018) == {
        1: (_ID, "Cr\u00e8me", "Ma\u00efson"),
        2: ("Cafe\u0301-2", "Cr\u00e8me", None),
        3: ("Caf\u00e9-2", "c", None),
        4: ("Caf\u00e9-cr\u00e8me", "c", None),
        5: ("Caf\u00e9-cre\u0300me", "c", None),
        6: ("f-1", "c", _GROWING),
    }
    said = "\n".join(record.getMessage() for record in caplog.records)
    assert "2 ads keep their external_id as stored" in said and "ads 2, 5" in said
    assert "ads.advertiser of 1 row" in said and "ad 6" in said


@pytest.fixture(params=["sqlite", "postgres"])
def database_at_head(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'head.sqlite3'}"
        migrate.upgrade(url)
        yield url
        return
    with fresh_postgres_database() as url:
        yield url


# Every table that refers to an account or a product, with the rows each holds: a downgrade that
# takes a column off ``users`` or ``products`` must leave them (SQLite rebuilt such a table by
# dropping it, which with foreign keys on deleted every row referring to it).
_ACCOUNT_ROWS: dict[Table, dict[str, Any]] = {
    t.products: {"id": 1, "name": "Lamp", "name_key": "lamp", "description": "d", "keywords": []},
    t.ads: {"id": 1, "product_id": 1, "platform": "TikTok", "ad_content": "x"},
    t.engagement_snapshots: {
        "id": 1,
        "ad_id": 1,
        "product_id": 1,
        "platform": "TikTok",
        "region": "US",
        "observed_at": T0,
        "views": 5,
        "likes": 1,
        "comments": 0,
        "shares": 0,
    },
    t.trend_scores: {
        "id": 1,
        "product_id": 1,
        "calculated_at": T0,
        "score": 40.0,
        "status": "steady",
        "confidence": 0.5,
        "components": {},
        "growth": {},
        "forecast": [],
        "reasons": [],
    },
    t.trend_scores_latest: {
        "product_id": 1,
        "score_id": 1,
        "calculated_at": T0,
        "score": 40.0,
        "status": "steady",
    },
    t.refresh_tokens: {
        "id": 1,
        "user_id": 1,
        "digest": "d" * 64,
        "family_id": "f",
        "issued_at": T0,
        "expires_at": T0 + timedelta(days=30),
        "revoked": False,
    },
    t.watchlist_entries: {"id": 1, "user_id": 1, "product_id": 1},
    t.alert_rules: {"id": 1, "user_id": 1, "kind": "score_threshold", "product_id": 1, "threshold": 50.0},
    t.alerts: {
        "id": 1,
        "user_id": 1,
        "rule_id": 1,
        "product_id": 1,
        "kind": "score_threshold",
        "event_key": "p1:threshold50.0:s1",
        "message": "m",
    },
    t.deliveries: {
        "id": 1,
        "alert_id": 1,
        "user_id": 1,
        "channel": "webhook",
        "target": "https://hooks.example.com/x",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": T0,
    },
}


def _stored(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row) for row in connection.execute(table.select().order_by(*table.primary_key))
                ]
                for table in _ACCOUNT_ROWS
            }
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "before",
    [
        # Every downgrade there is while the deliveries exist: those below, and any added later.
        pytest.param("0002", id="every"),
        pytest.param("0008", id="products.name_key"),
        pytest.param("0012", id="users.disabled_at"),
        pytest.param("0014", id="users.tokens_valid_after"),
        pytest.param("0016", id="alert_rules.changed_at"),
    ],
)
def test_downgrading_keeps_the_rows_referring_to_accounts_and_products(
    database_at_head: str, before: str
) -> None:
    """Downgrading past the migration that added a column to the accounts or the products (or
    past every migration down to 0002), then upgrading again, leaves the schema as declared and
    every row referring to them as it was: the account's refresh tokens, watchlist, alert rules,
    alerts and deliveries, the products it created (``created_by``), and each product's ads,
    readings and scores."""
    engine = create_engine(sync_url(database_at_head), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(t.users).values(
                    id=1,
                    username="a",
                    username_key="a",
                    email="a@x.io",
                    email_key="a@x.io",
                    password_hash="h",
                    created_at=T0,
                    disabled_at=T0 + timedelta(days=1),
                    tokens_valid_after=T0 + timedelta(hours=1),
                )
            )
            for table, row in _ACCOUNT_ROWS.items():
                created = {"created_at": T0} if "created_at" in table.c else {}
                owner = {"created_by": 1} if table is t.products else {}
                connection.execute(insert(table).values(**row, **created, **owner))
    finally:
        engine.dispose()
    stored = _stored(database_at_head)
    assert all(len(rows) == 1 for rows in stored.values())

    migrate.downgrade(database_at_head, before)
    migrate.upgrade(database_at_head)

    assert _stored(database_at_head) == stored
    engine = create_engine(sync_url(database_at_head), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT id, username FROM users")).all() == [(1, "a")]
            assert compare_metadata(MigrationContext.configure(connection), t.metadata) == []
    finally:
        engine.dispose()
