"""What happens when engagement arrives: store it, re-score what changed, alert."""

from __future__ import annotations

from collections.abc import Sequence

from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases.alerts import evaluate_alerts
from marketscout.domain.usecases.engagement import IngestReport, Rejection, SnapshotInput, ingest_engagement
from marketscout.domain.usecases.trends import rescore


async def ingest_and_refresh(
    uow: UnitOfWork,
    clock: Clock,
    items: Sequence[SnapshotInput | Rejection],
    *,
    all_or_nothing: bool = False,
) -> IngestReport:
    """Ingests a batch, then re-scores the products it touched and evaluates the alert
    rules that cover them. Each step is its own unit of work: stored engagement stays
    stored even if scoring later fails, and scoring can be re-run at any time."""
    report = await ingest_engagement(uow, clock, items, all_or_nothing=all_or_nothing)
    if report.stored:
        await rescore(uow, clock, report.product_ids)
        await evaluate_alerts(uow, clock, product_ids=report.product_ids)
    return report
