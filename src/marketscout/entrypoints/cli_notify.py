"""``marketscout notify``: deliver pending alert notifications from the command line."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from marketscout.entrypoints.cli_args import database_url, seconds
from marketscout.entrypoints.notify import dispatch_forever, dispatch_once
from marketscout.entrypoints.settings import run_command

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container


def add_notify_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "notify", help="deliver pending alert notifications (webhooks and e-mail) and exit"
    )
    parser.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    parser.add_argument(
        "--watch", type=seconds(86_400), default=0, help="keep going, one pass every this many seconds"
    )
    parser.set_defaults(handler=run_notify)


def run_notify(args: argparse.Namespace) -> int:
    """``marketscout notify``: for deployments that run delivery apart from the web workers
    (set ``MARKETSCOUT_NOTIFY_INTERVAL=0`` on those)."""

    async def work(container: Container) -> int:
        if args.watch > 0:
            await dispatch_forever(container, args.watch)
        report = await dispatch_once(container)
        print(report.summary())
        for error in report.errors:
            print(f"  dead letter: {error}")
        return 0

    return run_command(args.database_url, work, creates=True)
