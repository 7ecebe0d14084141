"""The demo market: replayed day by day through the use cases, as a running server would."""

from __future__ import annotations

from datetime import timedelta

from marketscout.adapters.clock import FixedClock
from marketscout.domain.ports import UnitOfWork
from marketscout.domain.usecases.trends import rescore
from marketscout.entrypoints.demo import DEMO_DAYS, SCORED_DAYS, load_demo
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
