"""The server's background refresh of the scores that time alone can still change."""

from __future__ import annotations

import asyncio
import logging

from marketscout.domain.errors import DomainError
from marketscout.domain.usecases.pipeline import refresh_stale_scores
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


async def refresh_forever(container: Container, interval: float) -> None:
    """One pass every ``interval`` seconds; a failing pass (the database is down) is logged and
    the loop goes on."""
    while True:
        try:
            refreshed = await refresh_once(container)
            if refreshed:
                logger.info("refreshed %d stale scores", len(refreshed))
        except DomainError as error:
            logger.warning("score refresh failed: %s", error.message)
        await asyncio.sleep(interval)
