"""The server's background refresh of the scores that time alone can still change."""

from __future__ import annotations

import asyncio
import logging

from marketscout.domain.usecases.pipeline import refresh_stale_scores
from marketscout.entrypoints.background import Wait, repeat_forever
from marketscout.entrypoints.container import Container

logger = logging.getLogger(__name__)

# Products re-scored per pass at most (about a second of work); the rest wait for the next pass.
REFRESH_BATCH = 5_000


async def refresh_once(container: Container) -> list[int]:
    """One pass: re-scores the stale scores and clears the read cache if any changed, as a
    write request does."""
    refreshed = await refresh_stale_scores(container.unit_of_work(), container.clock(), limit=REFRESH_BATCH)
    if refreshed:
        container.read_cache().invalidate()
    return refreshed


async def refresh_forever(container: Container, interval: float, *, sleep: Wait = asyncio.sleep) -> None:
    """One pass every ``interval`` seconds, which a failing pass (the database is down, or a
    bug) does not end (:func:`repeat_forever`)."""

    async def one_pass() -> None:
        refreshed = await refresh_once(container)
        if refreshed:
            logger.info("refreshed %d stale scores", len(refreshed))

    await repeat_forever(one_pass, interval, what="score refresh", logger=logger, sleep=sleep)
