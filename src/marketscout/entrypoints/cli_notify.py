"""``marketscout notify``: deliver pending alert notifications from the command line."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from marketscout.entrypoints.notify import close_notifiers, dispatch_forever, dispatch_once
from marketscout.entrypoints.settings import command_settings


def add_notify_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "notify", help="deliver pending alert notifications (webhooks and e-mail) and exit"
    )
    parser.add_argument("--database-url", help="overrides MARKETSCOUT_DATABASE_URL")
    parser.add_argument("--watch", type=float, default=0, help="keep going, one pass every this many seconds")
    parser.set_defaults(handler=run_notify)


def run_notify(args: argparse.Namespace) -> int:
    """``marketscout notify``: for deployments that run delivery apart from the web workers
    (set ``MARKETSCOUT_NOTIFY_INTERVAL=0`` on those)."""
    settings = command_settings(args.database_url)

    async def run() -> int:
        from marketscout.entrypoints.startup import command_container

        async with command_container(settings) as container:
            try:
                if args.watch > 0:
                    await dispatch_forever(container, args.watch)
                report = await dispatch_once(container)
                print(report.summary())
                for error in report.errors:
                    print(f"  dead letter: {error}")
                return 0
            finally:
                await close_notifiers(container.notifiers())

    return asyncio.run(run())
