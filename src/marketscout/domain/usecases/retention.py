"""Bounding what the store keeps: the score history, which every ingest grows (each score that
moved is stored) and whose size slows the storing of new scores (docs/performance.md)."""

from __future__ import annotations

from datetime import timedelta

from marketscout.domain.errors import InvalidValue
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases.alerts import HISTORY_WINDOW


async def prune_score_history(
    uow: UnitOfWork, clock: Clock, older_than: timedelta, *, dry_run: bool = False
) -> int:
    """Removes the stored scores calculated more than ``older_than`` ago, except each product's
    latest; how many (with ``dry_run``: how many would go, removing nothing). Alert rules read
    the last :data:`~marketscout.domain.usecases.alerts.HISTORY_WINDOW` of history, so a shorter
    window is refused."""
    if older_than < HISTORY_WINDOW:
        raise InvalidValue(
            "older_than", f"must be at least {HISTORY_WINDOW.days} days: alert rules read that much history"
        )
    async with uow:
        count = await uow.scores.prune(clock.now() - older_than, dry_run=dry_run)
        if not dry_run:
            await uow.commit()
    return count
