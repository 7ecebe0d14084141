"""``marketscout refresh``: re-score the products whose scores time alone still changes."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from marketscout.entrypoints.cli_args import database_url, seconds
from marketscout.entrypoints.refresh import REFRESH_BATCH, refresh_forever, refresh_once
from marketscout.entrypoints.settings import run_command

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container


def add_refresh_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "refresh",
        help="re-score the products whose engagement stopped arriving (scores over 6 h old) and exit",
    )
    parser.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    parser.add_argument(
        "--watch", type=seconds(86_400), default=0, help="keep going, one pass every this many seconds"
    )
    parser.set_defaults(handler=run_refresh)


def run_refresh(args: argparse.Namespace) -> int:
    """``marketscout refresh``: for deployments that refresh scores apart from the web workers
    (set ``MARKETSCOUT_SCORE_REFRESH_INTERVAL=0`` on those). Without ``--watch``, passes until no
    stale score is left."""

    async def work(container: Container) -> int:
        if args.watch > 0:
            await refresh_forever(container, args.watch)
        total = 0
        while True:
            refreshed = await refresh_once(container)
            total += len(refreshed)
            if len(refreshed) < REFRESH_BATCH:
                break
        print(f"refreshed {total} stale scores")
        return 0

    return run_command(args.database_url, work, creates=True)
