"""``marketscout scores prune``: the operator bounds the stored score history (each product's
latest score always stays). The history feeds the score charts, the trends CSV export and alert
rules (which read its last 31 days); older scores are only a longer chart."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from marketscout.domain.errors import InvalidValue
from marketscout.domain.usecases.retention import prune_score_history
from marketscout.entrypoints.cli_table import plural
from marketscout.entrypoints.settings import BULK_STATEMENT_TIMEOUT_MS, run_command

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container


def add_scores_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("scores", help="the stored score history: prune the old part")
    commands = parser.add_subparsers(dest="scores_command", required=True)
    prune = commands.add_parser(
        "prune", help="remove the scores older than some days (each product's latest stays)"
    )
    prune.add_argument(
        "--older-than", type=int, required=True, metavar="DAYS", help="days of history to keep (at least 31)"
    )
    prune.add_argument("--dry-run", action="store_true", help="say how many would go; remove nothing")
    prune.add_argument("--database-url", help="overrides MARKETSCOUT_DATABASE_URL")
    prune.set_defaults(handler=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    days: int = args.older_than

    async def work(container: Container) -> int:
        try:
            count = await prune_score_history(
                container.unit_of_work(), container.clock(), timedelta(days=days), dry_run=args.dry_run
            )
        except InvalidValue as error:
            print(f"marketscout: --older-than {error.rule}", file=sys.stderr)
            return 1
        scores = f"{plural(count, 'stored score')} calculated more than {plural(days, 'day')} ago"
        if args.dry_run:
            print(f"{scores} would be removed (each product's latest kept); nothing removed (dry run)")
        else:
            print(f"removed {scores} (each product's latest kept)")
        return 0

    return run_command(args.database_url, work, statement_timeout_ms=BULK_STATEMENT_TIMEOUT_MS)
