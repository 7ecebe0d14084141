"""What happens when engagement arrives: store it, re-score what changed, alert; and what
happens when it stops arriving: scores that time alone can still change are refreshed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from marketscout.domain.model import TrendScore
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases.alerts import evaluate_alerts
from marketscout.domain.usecases.engagement import IngestReport, Rejection, SnapshotInput, ingest_engagement
from marketscout.domain.usecases.trends import calculate_score, rescore


async def ingest_and_refresh(
    uow: UnitOfWork,
    clock: Clock,
    items: Sequence[SnapshotInput | Rejection],
    *,
    all_or_nothing: bool = False,
    sender: int | None = None,
) -> IngestReport:
    """Ingests a batch (as sent by the account ``sender``), then re-scores the products it
    touched and evaluates the alert rules that cover them. Each step is its own unit of work:
    stored engagement stays stored even if scoring later fails, and scoring can be re-run at
    any time."""
    report = await ingest_engagement(uow, clock, items, all_or_nothing=all_or_nothing, sender=sender)
    if report.stored:
        await rescore_and_alert(uow, clock, report.product_ids)
    return report


async def rescore_and_alert(uow: UnitOfWork, clock: Clock, product_ids: Collection[int]) -> None:
    """What follows any change to stored engagement: the products' scores, then the alert rules
    that cover them."""
    await rescore(uow, clock, product_ids)
    await evaluate_alerts(uow, clock, product_ids=product_ids)


async def calculate_score_and_alert(uow: UnitOfWork, clock: Clock, product_id: int) -> TrendScore:
    """What ``POST /calculate-score`` does: scores the product now and stores the score (even
    unchanged), then evaluates the alert rules that cover it, as ingest does, so a crossing the
    new score shows alerts at once rather than at the next refresh. One unit of work a step, as
    in :func:`rescore_and_alert`: the stored score stays if the rules fail."""
    score = await calculate_score(uow, clock, product_id)
    await evaluate_alerts(uow, clock, product_ids=[product_id])
    return score


# A score that time alone can still change is refreshed once it is this old: without new
# engagement, a product's status moves on a scale of days (peaked, declining, then steady).
SCORE_STALE_AFTER = timedelta(hours=6)


async def refresh_stale_scores(uow: UnitOfWork, clock: Clock, *, limit: int) -> list[int]:
    """Re-scores the products whose latest score is older than :data:`SCORE_STALE_AFTER` and
    not yet the floor (0, steady), oldest first and at most ``limit``, then evaluates the alert
    rules that cover them; returns those products.

    Ingest re-scores what it touched; a product whose engagement stopped arriving would keep
    its last score and status (``exploding``, say) for good. Refreshed, its score falls and its
    status moves on until it reaches the floor, where time changes nothing and it drops out."""
    async with uow:
        stale = await uow.scores.stale(clock.now() - SCORE_STALE_AFTER, limit)
    if stale:
        await rescore_and_alert(uow, clock, stale)
    return stale
