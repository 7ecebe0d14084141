"""What ``scores prune`` and ``readings prune`` share: the same options (``--older-than DAYS``,
``--dry-run``, ``--database-url``), a refused window said on stderr with exit 1, and one bulk
statement timeout. Each command brings its use case and its sentence."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from marketscout.domain.errors import InvalidValue
from marketscout.entrypoints.cli_args import database_url, whole_number
from marketscout.entrypoints.settings import BULK_STATEMENT_TIMEOUT_MS, run_command

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container

Pruned = TypeVar("Pruned")
MAX_DAYS = 36_500  # a century: the product keeps nothing older (its instants start in 1970)


def add_prune_command(
    commands: Any, *, help: str, keep: str, handler: Callable[[argparse.Namespace], int]
) -> None:
    """``prune --older-than DAYS [--dry-run] [--database-url URL]`` under ``commands``;
    ``keep`` says how many days at least."""
    prune = commands.add_parser("prune", help=help)
    prune.add_argument(
        "--older-than", type=whole_number(1, MAX_DAYS), required=True, metavar="DAYS", help=keep
    )
    prune.add_argument("--dry-run", action="store_true", help="say how many would go; remove nothing")
    prune.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    prune.set_defaults(handler=handler)


def run_prune(
    args: argparse.Namespace,
    prune: Callable[[Container, timedelta, bool], Awaitable[Pruned]],
    say: Callable[[Pruned, bool], str],
) -> int:
    """Runs ``prune(container, older_than, dry_run)`` and prints ``say(result, dry_run)``; a
    window the use case refuses (:class:`InvalidValue`) exits 1 with its rule."""
    older_than = timedelta(days=args.older_than)

    async def work(container: Container) -> int:
        try:
            pruned = await prune(container, older_than, args.dry_run)
        except InvalidValue as error:
            print(f"marketscout: --older-than {error.rule}", file=sys.stderr)
            return 1
        print(say(pruned, args.dry_run))
        return 0

    return run_command(args.database_url, work, statement_timeout_ms=BULK_STATEMENT_TIMEOUT_MS)
