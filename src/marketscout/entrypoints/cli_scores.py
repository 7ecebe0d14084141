"""``marketscout scores prune``: the operator bounds the stored score history (each product's
latest score always stays). The history feeds the score charts, the trends CSV export and alert
rules (which read its last 31 days); older scores are only a longer chart."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from marketscout.domain.usecases.retention import prune_score_history
from marketscout.entrypoints import cli_prune
from marketscout.entrypoints.cli_table import plural

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container


def add_scores_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("scores", help="the stored score history: prune the old part")
    commands = parser.add_subparsers(dest="scores_command", required=True)
    cli_prune.add_prune_command(
        commands,
        help="remove the scores older than some days (each product's latest stays)",
        keep="days of history to keep (at least 31)",
        handler=run_prune,
    )


def run_prune(args: argparse.Namespace) -> int:
    days: int = args.older_than

    async def prune(container: Container, older_than: timedelta, dry_run: bool) -> int:
        return await prune_score_history(
            container.unit_of_work(), container.clock(), older_than, dry_run=dry_run
        )

    def say(count: int, dry_run: bool) -> str:
        scores = f"{plural(count, 'stored score')} calculated more than {plural(days, 'day')} ago"
        if dry_run:
            return f"{scores} would be removed (each product's latest kept); nothing removed (dry run)"
        return f"removed {scores} (each product's latest kept)"

    return cli_prune.run_prune(args, prune, say)
