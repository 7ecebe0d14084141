"""``marketscout scores prune``: the operator bounds the stored score history, which every
ingest grows and whose size slows the storing of new scores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.model import Product, TrendAssessment, TrendScore, TrendStatus
from marketscout.entrypoints.cli import main


async def _history(url: str, now: datetime) -> int:
    """A product scored once a day for 90 days, up to half a day ago; its id."""
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    async with uow:
        product = await uow.products.add(Product(name="Lamp", description="d", created_at=now))
        for days in range(1, 91):
            await uow.scores.add(
                TrendScore(
                    product_id=product.id,
                    calculated_at=now - timedelta(days=days) + timedelta(hours=12),
                    assessment=TrendAssessment(score=float(days), status=TrendStatus.STEADY, confidence=0.5),
                )
            )
        await uow.commit()
    await engine.dispose()
    return product.id


async def _kept(url: str, product_id: int) -> list[float]:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    async with uow:
        history = await uow.scores.history(product_id)
    await engine.dispose()
    return [s.score for s in history]


async def test_scores_older_than_the_days_given_are_pruned_the_latest_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    migrate.upgrade(url)
    product_id = await _history(url, datetime.now(UTC))

    dry = ["scores", "prune", "--older-than", "60", "--dry-run", "--database-url", url]
    assert await asyncio.to_thread(main, dry) == 0
    out = capsys.readouterr().out
    assert "30 stored scores calculated more than 60 days ago would be removed" in out
    assert "nothing removed (dry run)" in out
    assert len(await _kept(url, product_id)) == 90

    prune = ["scores", "prune", "--older-than", "60", "--database-url", url]
    assert await asyncio.to_thread(main, prune) == 0
    assert "removed 30 stored scores calculated more than 60 days ago" in capsys.readouterr().out
    assert await _kept(url, product_id) == [float(days) for days in range(60, 0, -1)]

    assert await asyncio.to_thread(main, prune) == 0
    assert "removed 0 stored scores" in capsys.readouterr().out


def test_a_window_shorter_than_what_alert_rules_read_is_refused_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    migrate.upgrade(url)
    assert main(["scores", "prune", "--older-than", "7", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "at least 31 days" in err and "alert rules" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as refused:
        main(["scores", "prune", "--older-than", "many", "--database-url", url])
    assert refused.value.code == 2
    assert "argument --older-than: must be a whole number from 1 to 36500" in capsys.readouterr().err
