"""Bounding what the store keeps: the score history, which every ingest grows (each score that
moved is stored) and whose size slows the storing of new scores (docs/performance.md); and the
raw readings, the largest table by far (collectors poll every 15 minutes to an hour), of which
re-scoring reads the last :data:`~marketscout.domain.usecases.trends.SCORING_HISTORY`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from marketscout.domain.errors import InvalidValue
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases.alerts import HISTORY_WINDOW
from marketscout.domain.usecases.trends import SCORING_HISTORY

# The shortest retention of raw readings: what re-scoring reads, and the day it starts in.
READINGS_KEPT_AT_LEAST = SCORING_HISTORY + timedelta(days=1)


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


@dataclass(frozen=True, slots=True)
class PrunedReadings:
    """How many raw readings were (or, in a dry run, would be) removed: those observed before
    ``before``."""

    count: int
    before: datetime


async def prune_readings(
    uow: UnitOfWork, clock: Clock, older_than: timedelta, *, dry_run: bool = False
) -> PrunedReadings:
    """Removes the raw readings observed before midnight (UTC) of the day ``older_than`` ago,
    and their hours; each day's totals stay (a heat map over those days reads
    them). Whole days, so that remaking a day's rollups from the readings kept (removing one
    account's readings) never meets a day half pruned. Re-scoring reads the last
    :data:`~marketscout.domain.usecases.trends.SCORING_HISTORY` of readings, so fewer than
    :data:`READINGS_KEPT_AT_LEAST` days is refused: no score can move."""
    if older_than < READINGS_KEPT_AT_LEAST:
        raise InvalidValue(
            "older_than",
            f"must be at least {READINGS_KEPT_AT_LEAST.days} days: "
            f"the engine scores from the last {SCORING_HISTORY.days} days of readings",
        )
    before = datetime.combine((clock.now() - older_than).astimezone(UTC).date(), time(), tzinfo=UTC)
    async with uow:
        count = await uow.engagement.prune(before, dry_run=dry_run)
        if not dry_run:
            await uow.commit()
    return PrunedReadings(count, before)
