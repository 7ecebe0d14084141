"""The demo market: replayed day by day through the use cases, as a running server would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.memory import InMemoryUnitOfWork
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.ports import UnitOfWork
from marketscout.domain.usecases.trends import rescore
from marketscout.entrypoints.container import Container, store_kind
from marketscout.entrypoints.demo import DEMO_DAYS, SCORED_DAYS, load_demo, load_demo_if_empty
from marketscout.entrypoints.startup import release_store
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container


async def test_each_moment_of_the_demo_history_has_one_score_from_all_readings_up_to_it() -> None:
    """Readings taken exactly at a day's end are in that day's score: each product's history has
    one score per day-end (not two at the last one), each the score of every reading up to it."""
    container = build_container(api_settings(), MovableClock(NOW))
    await load_demo(container)
    end = NOW.replace(minute=0, second=0, microsecond=0)
    moments = [end - timedelta(days=d) for d in range(SCORED_DAYS - 1, -1, -1)]
    assert DEMO_DAYS > SCORED_DAYS
    uow: UnitOfWork = container.unit_of_work()
    async with uow:
        product_ids = [p.id for p in await uow.products.list(skip=0, limit=100)]
        histories = {pid: await uow.scores.history(pid) for pid in product_ids}
    assert product_ids
    for product_id, history in histories.items():
        assert [s.calculated_at for s in history] == moments, product_id
    # Scored again now, from everything stored, each moment gives the score it already has.
    for moment in (moments[0], moments[len(moments) // 2], moments[-1]):
        again = await rescore(container.unit_of_work(), FixedClock(moment), product_ids, force=True)
        for product_id in product_ids:
            stored = next(s for s in histories[product_id] if s.calculated_at == moment)
            assert again[product_id].assessment == stored.assessment, (product_id, moment)


class Interrupted(Exception):
    """The load's process ends here, as Ctrl-C would end it: this commit does not happen."""


def interrupt_at_commit(container: Container, monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """From now on the ``number``-th unit of work committed by anyone fails instead."""
    commits = 0

    def unit_of_work() -> UnitOfWork:
        uow: UnitOfWork = (
            InMemoryUnitOfWork(container.memory_store())
            if store_kind(container.settings()) == "memory"
            else SqlUnitOfWork(container.sql_sessions())
        )
        commit = uow.commit

        async def commit_unless_interrupted() -> None:
            nonlocal commits
            commits += 1
            if commits == number:
                raise Interrupted
            await commit()

        monkeypatch.setattr(uow, "commit", commit_unless_interrupted)
        return uow

    container.unit_of_work.override(providers.Callable(unit_of_work))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


async def demo_state(container: Container) -> dict[str, Any]:
    """What the demo stored, by the stable identities of its data (not ids): products by name,
    ads by external id, readings by ad, region and time, score moments by product."""
    uow: UnitOfWork = container.unit_of_work()
    async with uow:
        products = await uow.products.list(skip=0, limit=1000)
        names = {p.id: p.name for p in products}
        ads = [ad for p in products for ad in await uow.ads.list(skip=0, limit=1000, product_id=p.id)]
        external = {ad.id: ad.external_id for ad in ads}
        readings = await uow.engagement.for_products(names)
        histories = {names[pid]: await uow.scores.history(pid) for pid in names}
    return {
        "products": sorted((p.name, p.description, p.category, _utc(p.created_at)) for p in products),
        "ads": sorted(
            (str(ad.external_id), names[ad.product_id], ad.platform.value, _utc(ad.first_seen_at or NOW))
            for ad in ads
        ),
        "readings": sorted(
            (str(external[r.ad_id]), r.region, _utc(r.observed_at), r.views, r.likes, r.comments, r.shares)
            for snapshots in readings.values()
            for r in snapshots
        ),
        "score moments": {name: [_utc(s.calculated_at) for s in h] for name, h in histories.items()},
    }


async def uninterrupted_demo(now: datetime) -> dict[str, Any]:
    container = build_container(api_settings(), MovableClock(now))
    await load_demo(container)
    return await demo_state(container)


async def _again(container: Container) -> str:
    return await load_demo(container)


async def _at_start(container: Container) -> str:
    await load_demo_if_empty(container)
    return "loaded at start-up"


@pytest.mark.parametrize(
    ("commits", "resume"),
    [(1, _again), (3, _again), (20, _again), (35, _again), (3, _at_start), (20, _at_start)],
    ids=[
        "catalogue, demo again",
        "early, demo again",
        "while scoring, demo again",
        "last score, demo again",
        "early, server start-up",
        "while scoring, server start-up",
    ],
)
async def test_a_demo_load_interrupted_anywhere_is_completed_by_the_next_run(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    commits: int,
    resume: Callable[[Container], Awaitable[str]],
) -> None:
    """Whenever a load ends early (Ctrl-C), the next one (hours later, or a server starting)
    completes the same data set one uninterrupted load stores: nothing twice, nothing missing.
    Its days are those of the load that began it (the catalogue's first commit stores nothing:
    the next run is a fresh load, of its own days)."""
    later = timedelta(hours=3, minutes=20)
    expected = await uninterrupted_demo(NOW if commits > 1 else NOW + later)
    clock = MovableClock(NOW)
    container = build_container(api_settings(database_url=database_url), clock)
    try:
        interrupt_at_commit(container, monkeypatch, commits)
        with pytest.raises(Interrupted):
            await load_demo(container)
        container.unit_of_work.reset_override()
        clock.advance(later)
        said = await resume(container)
        assert "already loaded" not in said
        assert await demo_state(container) == expected
        assert await load_demo(container) == "the demo market of seed 7 is already loaded; nothing added"
        assert await demo_state(container) == expected
    finally:
        await release_store(container)
