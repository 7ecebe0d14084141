"""The ``marketscout`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from marketscout.entrypoints.backtest_cli import add_backtest_parser, run_backtest
from marketscout.entrypoints.cli_collect import add_collect_parser, run_collect
from marketscout.entrypoints.cli_db import add_db_parser, run_db
from marketscout.entrypoints.cli_notify import add_notify_parser
from marketscout.entrypoints.cli_remote import add_remote_parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.database_url:
        os.environ["MARKETSCOUT_DATABASE_URL"] = args.database_url
    if args.no_demo:
        os.environ["MARKETSCOUT_DEMO_DATA"] = "false"
    from marketscout.entrypoints.settings import Settings, SettingsError

    try:
        Settings.from_env()
    except SettingsError as error:
        print(f"marketscout: {error}", file=sys.stderr)
        return 2
    uvicorn.run(
        "marketscout.entrypoints.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.database_url:
        os.environ["MARKETSCOUT_DATABASE_URL"] = args.database_url
    from marketscout.entrypoints.container import Container
    from marketscout.entrypoints.demo import load_demo
    from marketscout.entrypoints.startup import prepare_store, release_store

    async def run() -> int:
        os.environ["MARKETSCOUT_DEMO_DATA"] = "false"
        container = Container()
        await prepare_store(container)
        try:
            summary = await load_demo(container, seed=args.seed)
        finally:
            await release_store(container)
        print(summary)
        return 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marketscout", description="MarketScout: find products before they peak."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API and dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (use Redis rate limits for >1)"
    )
    serve.add_argument("--database-url", help="overrides MARKETSCOUT_DATABASE_URL")
    serve.add_argument("--no-demo", action="store_true", help="do not fill an empty database with demo data")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", help="fill the database with the synthetic demo market")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--database-url", help="overrides MARKETSCOUT_DATABASE_URL")
    demo.set_defaults(handler=_demo)

    add_db_parser(commands)
    commands.choices["db"].set_defaults(handler=run_db)
    add_collect_parser(commands)
    commands.choices["collect"].set_defaults(handler=run_collect)
    add_notify_parser(commands)
    add_remote_parser(commands)
    add_backtest_parser(commands)
    commands.choices["backtest"].set_defaults(handler=run_backtest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
