"""``marketscout readings``: the operator sees which accounts sent readings and removes one
account's, after which its products are re-scored from the readings kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.model import Ad, EngagementSnapshot, Platform, Product, TrendStatus, User
from marketscout.domain.scoring import ReadingSeries, score_item
from marketscout.domain.usecases.engagement import SnapshotInput
from marketscout.domain.usecases.pipeline import ingest_and_refresh
from marketscout.entrypoints.cli import main


async def _market(url: str, now: datetime) -> tuple[int, int, list[EngagementSnapshot]]:
    """A product an honest collector has followed for two weeks (steady growth), and a burst of
    readings another account sent about it in three regions over the last day, through the same
    ingest path the API takes; the product's id and the honest readings."""
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    async with uow:
        honest = await uow.users.add(
            User(username="honest", email="h@example.com", password_hash="x", created_at=now)
        )
        faker = await uow.users.add(
            User(username="faker", email="f@example.com", password_hash="x", created_at=now)
        )
        product = await uow.products.add(Product(name="Lamp", description="d", created_at=now))
        ad = await uow.ads.add(
            Ad(product_id=product.id, platform=Platform.TIKTOK, ad_content="x", created_at=now)
        )
        await uow.commit()
    clock = FixedClock(now)
    steady = [
        SnapshotInput(
            observed_at=now - timedelta(days=14 - day, minutes=5),
            region="US",
            views=10_000 + 800 * day,
            likes=(10_000 + 800 * day) // 15,
            ad_id=ad.id,
        )
        for day in range(15)
    ]
    burst = [
        SnapshotInput(
            observed_at=now - timedelta(hours=hours),
            region=region,
            views=views,
            likes=views // 12,
            ad_id=ad.id,
        )
        for region in ("DE", "FR", "GB")
        for hours, views in ((23, 1_000), (12, 90_000), (1, 2_500_000))
    ]
    await ingest_and_refresh(uow, clock, steady, sender=honest.id)
    await ingest_and_refresh(uow, clock, burst, sender=faker.id)
    async with uow:
        kept = (await uow.engagement.for_products([product.id]))[product.id]
        latest = await uow.scores.latest(product.id)
    await engine.dispose()
    assert latest is not None and latest.status == TrendStatus.EXPLODING, "the burst made it exploding"
    return product.id, faker.id, [s for s in kept if s.region == "US"]


async def test_an_accounts_readings_are_removed_and_its_products_rescored_without_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    migrate.upgrade(url)
    now = datetime.now(UTC)
    product_id, faker_id, honest_readings = await _market(url, now)

    assert await asyncio.to_thread(main, ["readings", "senders", "--database-url", url]) == 0
    listing = capsys.readouterr().out
    assert "honest" in listing and "faker" in listing
    faker_line = next(line for line in listing.splitlines() if "faker" in line)
    assert " 9 " in f" {faker_line} ", "nine readings, of one product"
    assert listing.splitlines()[0].split()[-1] == "disabled"
    # A disabled sender is marked as such (the operator's other lever).
    assert await asyncio.to_thread(main, ["users", "disable", "faker", "--database-url", url]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["readings", "senders", "--database-url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    faker_cells = next(line for line in lines if line.startswith("faker")).split()
    honest_cells = next(line for line in lines if line.startswith("honest")).split()
    assert len(faker_cells) == len(honest_cells) + 1 and faker_cells[-1].startswith(str(now.year))

    # A dry run says what would go and removes nothing.
    dry = ["readings", "remove", "--user", "faker", "--dry-run", "--database-url", url]
    assert await asyncio.to_thread(main, dry) == 0
    assert "faker sent 9 stored readings of 1 product; nothing removed (dry run)" in capsys.readouterr().out

    # From a time on: only the readings observed since then.
    since = (now - timedelta(hours=6)).isoformat()
    part = ["readings", "remove", "faker", "--since", since, "--database-url", url]
    assert await asyncio.to_thread(main, part) == 0
    assert "removed 3 readings faker sent, of 1 product; re-scored 1 product" in capsys.readouterr().out

    assert (
        await asyncio.to_thread(main, ["readings", "remove", "--user", "faker", "--database-url", url]) == 0
    )
    assert "removed 6 readings faker sent, of 1 product; re-scored 1 product" in capsys.readouterr().out

    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    async with uow:
        kept = (await uow.engagement.for_products([product_id]))[product_id]
        latest = await uow.scores.latest(product_id)
        assert (await uow.engagement.sent_by(faker_id)).readings == 0
    await engine.dispose()
    assert sorted(s.key for s in kept) == sorted(s.key for s in honest_readings), (
        "the honest readings all stay"
    )
    # The product's latest score is the engine's on the readings kept, at the moment it was made.
    assert latest is not None and latest.calculated_at > now
    reference = score_item(honest_readings, latest.calculated_at)
    assert (latest.score, latest.status) == (reference.score, reference.status)
    assert latest.status != TrendStatus.EXPLODING

    # Nothing left of that account: said, and nothing re-scored.
    assert (
        await asyncio.to_thread(main, ["readings", "remove", "--user", "faker", "--database-url", url]) == 0
    )
    assert "removed 0 readings faker sent, of 0 products; re-scored 0 products" in capsys.readouterr().out


def test_an_unknown_account_or_a_time_without_offset_is_refused_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    migrate.upgrade(url)
    assert main(["readings", "remove", "--user", "nobody", "--database-url", url]) == 1
    assert "marketscout: no user 'nobody'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["readings", "remove", "--user", "x", "--since", "2026-11-30T10:00:00", "--database-url", url])
    assert exit_.value.code == 2
    assert "--since: give the time with its offset" in capsys.readouterr().err


async def _history(url: str, now: datetime) -> tuple[int, list[EngagementSnapshot]]:
    """A product followed every 6 hours for 100 days, in two regions; its id and readings."""
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    async with uow:
        product = await uow.products.add(Product(name="Lamp", description="d", created_at=now))
        ad = await uow.ads.add(
            Ad(product_id=product.id, platform=Platform.TIKTOK, ad_content="x", created_at=now)
        )
        readings = [
            EngagementSnapshot(
                ad_id=ad.id,
                product_id=product.id,
                platform=Platform.TIKTOK,
                region=region,
                observed_at=now - timedelta(hours=6 * steps),
                views=1_000_000 - 900 * steps - (7 if region == "DE" else 0),
                likes=10_000,
            )
            for steps in range(400)
            for region in ("US", "DE")
        ]
        await uow.engagement.add_many(readings)
        await uow.commit()
    await engine.dispose()
    return product.id, readings


async def _reads(
    url: str, product_id: int, now: datetime
) -> tuple[list[tuple[int, list[ReadingSeries]]], dict[str, int], tuple[int, int, int]]:
    """What re-scoring and the long heat-map window read, and the rollup rows kept."""
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    midnight = datetime.combine((now - timedelta(days=90)).date(), datetime.min.time(), tzinfo=UTC)
    async with uow:
        series = [
            s
            async for s in uow.engagement.scoring_series(
                [product_id], since=now - timedelta(days=61), until=now
            )
        ]
        activity = await uow.engagement.regional_activity(midnight, now)
    async with engine.connect() as connection:
        counts = [
            (await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in ("engagement_snapshots", "engagement_hourly", "engagement_daily")
        ]
    await engine.dispose()
    raw, hourly, daily = (int(count) for count in counts)
    return series, activity, (raw, hourly, daily)


async def test_readings_older_than_the_days_given_are_pruned_and_nothing_read_since_moves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The raw readings and their hours go from midnight (UTC) 62 days ago back; what
    re-scoring reads (61 days) is untouched, and the days' totals stay, so a heat map over 90
    days still counts the days pruned."""
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    migrate.upgrade(url)
    now = datetime.now(UTC)
    product_id, readings = await _history(url, now)
    cutoff = datetime.combine((now - timedelta(days=62)).date(), datetime.min.time(), tzinfo=UTC)
    older = sum(r.observed_at < cutoff for r in readings)
    series, activity, (raw, hourly, daily) = await _reads(url, product_id, now)
    assert raw == len(readings) and older > 100

    dry = ["readings", "prune", "--older-than", "62", "--dry-run", "--database-url", url]
    assert await asyncio.to_thread(main, dry) == 0
    out = capsys.readouterr().out
    assert f"{older:,} readings observed before {cutoff:%Y-%m-%d} 00:00 UTC would be removed" in out
    assert "nothing removed (dry run)" in out
    assert (await _reads(url, product_id, now))[2] == (raw, hourly, daily)

    prune = ["readings", "prune", "--older-than", "62", "--database-url", url]
    assert await asyncio.to_thread(main, prune) == 0
    assert (
        f"removed {older:,} readings observed before {cutoff:%Y-%m-%d} 00:00 UTC" in capsys.readouterr().out
    )
    after_series, after_activity, (after_raw, after_hourly, after_daily) = await _reads(url, product_id, now)
    assert after_series == series
    assert after_activity == activity
    assert after_raw == raw - older
    assert after_hourly < hourly and after_daily == daily

    assert await asyncio.to_thread(main, prune) == 0
    assert "removed 0 readings" in capsys.readouterr().out


def test_a_retention_shorter_than_what_scoring_reads_is_refused_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    migrate.upgrade(url)
    assert main(["readings", "prune", "--older-than", "61", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "at least 62 days" in err and "61 days" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as refused:
        main(["readings", "prune", "--older-than", "soon", "--database-url", url])
    assert refused.value.code == 2


def test_the_account_is_named_as_users_commands_name_it_or_by_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``readings remove NAME``, as ``users disable NAME``; ``--user NAME`` still works; both at
    once (or neither) is refused, exit 2, naming them."""
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    migrate.upgrade(url)
    for named in (["nobody"], ["--user", "nobody"]):
        assert main(["readings", "remove", *named, "--dry-run", "--database-url", url]) == 1
        assert "marketscout: no user 'nobody'" in capsys.readouterr().err
    for argv, said in (
        (["nobody", "--user", "nobody"], "argument --user: not allowed with argument NAME"),
        (["--user", "nobody", "other"], "argument NAME: not allowed with argument --user"),
        (["--dry-run"], "one of the arguments NAME --user is required"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["readings", "remove", *argv, "--database-url", url])
        assert exit_.value.code == 2
        assert said in capsys.readouterr().err, argv
