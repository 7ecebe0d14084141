"""The ``marketscout`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from marketscout.domain.errors import DomainError
from marketscout.entrypoints.backtest_cli import add_backtest_parser, run_backtest
from marketscout.entrypoints.cli_args import database_url, listen_address, whole_number
from marketscout.entrypoints.cli_collect import add_collect_parser, run_collect
from marketscout.entrypoints.cli_db import add_db_parser, run_db
from marketscout.entrypoints.cli_notify import add_notify_parser
from marketscout.entrypoints.cli_readings import add_readings_parser
from marketscout.entrypoints.cli_refresh import add_refresh_parser
from marketscout.entrypoints.cli_remote import add_remote_parser
from marketscout.entrypoints.cli_scores import add_scores_parser
from marketscout.entrypoints.cli_users import add_users_parser
from marketscout.entrypoints.settings import SettingsError, StartupError

APP_FACTORY = "marketscout.entrypoints.app:create_app"


def _serve(args: argparse.Namespace) -> int:
    if args.database_url:
        os.environ["MARKETSCOUT_DATABASE_URL"] = args.database_url
    if args.no_demo:
        os.environ["MARKETSCOUT_DEMO_DATA"] = "false"
    from marketscout.entrypoints.settings import Settings

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"marketscout: {error}", file=sys.stderr)
        return 2
    from marketscout.entrypoints.startup import check_store

    # A store that cannot be opened is said in words here (main prints it), not as the ASGI
    # server's traceback of the failed start.
    asyncio.run(check_store(settings))
    if args.workers > 1:
        # Built once here and dropped (nothing connects until a lifespan starts): uvicorn's
        # supervisor stops on a worker whose lifespan failed, but restarts forever one whose
        # app factory raised, so what would fail there fails here, once, before any worker.
        from marketscout.entrypoints import app

        app.create_app()
    if args.server == "granian":
        # Measured side by side (docs/performance.md): 11-29 % more requests a second than
        # uvicorn and a lower p99, but a supervisor process besides the worker (about 40 MB more
        # resident memory), which takes the 1M data set over the 300 MB goal; so uvicorn stays
        # the default and granian is an optional extra.
        try:
            from granian import Granian
            from granian.constants import Interfaces, Loops
            from granian.log import LogLevels
        except ImportError:
            print(
                "marketscout: --server granian needs granian: pip install 'marketscout[granian]'",
                file=sys.stderr,
            )
            return 2

        Granian(
            APP_FACTORY,
            address=args.host,
            port=args.port,
            interface=Interfaces.ASGI,
            workers=args.workers,
            factory=True,
            loop=Loops.uvloop,
            log_level=LogLevels.warning,
            log_access=False,
        ).serve()
        return 0
    import uvicorn

    uvicorn.run(
        APP_FACTORY,
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
    serve.add_argument(
        "--host",
        type=listen_address,
        default="127.0.0.1",
        help="the address to listen on: 127.0.0.1 (default), 0.0.0.0 for every interface, or a name",
    )
    serve.add_argument(
        "--port", type=whole_number(0, 65535), default=8000, help="0: any free port (default 8000)"
    )
    serve.add_argument(
        "--workers",
        type=whole_number(1, 64),
        default=1,
        help="worker processes (use Redis rate limits for >1)",
    )
    serve.add_argument(
        "--server",
        choices=["uvicorn", "granian"],
        default="uvicorn",
        help="the ASGI server: uvicorn with uvloop and httptools, or granian (the optional extra)",
    )
    serve.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    serve.add_argument("--no-demo", action="store_true", help="do not fill an empty database with demo data")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", help="fill the database with the synthetic demo market")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    demo.set_defaults(handler=_demo)

    add_db_parser(commands)
    commands.choices["db"].set_defaults(handler=run_db)
    add_collect_parser(commands)
    commands.choices["collect"].set_defaults(handler=run_collect)
    add_notify_parser(commands)
    add_refresh_parser(commands)
    add_remote_parser(commands)
    add_users_parser(commands)
    add_readings_parser(commands)
    add_scores_parser(commands)
    add_backtest_parser(commands)
    commands.choices["backtest"].set_defaults(handler=run_backtest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except SettingsError as error:
        # An environment variable the command cannot use: the message names it.
        print(f"marketscout: {error}", file=sys.stderr)
        return 2
    except StartupError as error:
        # The store cannot be opened or is not ready: what to do, in one line.
        print(f"marketscout: {error}", file=sys.stderr)
        return 1
    except DomainError as error:
        # What a command did not handle itself: the store failing once opened (the database went
        # away, a statement past its timeout), said in the store's words.
        print(f"marketscout: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C: how a watching command (notify, refresh, collect) is meant to stop. Its clean-up
        # has run (asyncio.run cancels the work, whose finally blocks close the store); 130 is
        # the shell's code for a command ended by SIGINT. The server handles SIGINT itself.
        print("marketscout: stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left early (``marketscout backtest ... | head``): not an error of ours. What
        # is left to print goes nowhere, so Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
