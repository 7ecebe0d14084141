"""``marketscout db upgrade|current``: schema migrations."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from marketscout.entrypoints.cli_args import database_url
from marketscout.entrypoints.settings import Settings, SettingsError, database_problem, database_url_problem


def add_db_parser(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    db.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")


def run_db(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from marketscout.adapters.sql import migrate
    from marketscout.entrypoints.startup import require_database

    url = args.database_url or os.environ.get("MARKETSCOUT_DATABASE_URL") or Settings().database_url
    if problem := database_url_problem(url):  # --database-url was checked as it was parsed
        raise SettingsError(f"MARKETSCOUT_DATABASE_URL {problem}")
    if url.startswith("memory:"):
        print("marketscout: the in-memory store has no schema to migrate", file=sys.stderr)
        return 2
    try:
        if args.action == "upgrade":
            migrate.upgrade(url)
            print(f"{migrate.describe(url)}: at revision {migrate.current(url)} (head {migrate.head()})")
        else:
            # Only said of a database that exists: connecting would create a SQLite file.
            require_database(url)
            revision = migrate.current(url)
            state = "up to date" if revision == migrate.head() else f"behind head {migrate.head()}"
            print(f"{migrate.describe(url)}: revision {revision or 'none'} ({state})")
    except (SQLAlchemyError, OSError, ValueError) as error:
        print(f"marketscout: {database_problem(error)}", file=sys.stderr)
        return 1
    return 0
