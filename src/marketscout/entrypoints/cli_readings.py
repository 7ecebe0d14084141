"""``marketscout readings``: which accounts sent the stored readings, and removing one
account's readings (a faked trend, a broken collector), after which the products they were of
are re-scored from the readings kept. The operator's tool: the API lets no account remove
another's readings. ``readings prune`` bounds the raw readings (the largest table) to the last
days, each day's totals kept."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from marketscout.domain.errors import InvalidValue, NotFound
from marketscout.domain.instants import utc_instant
from marketscout.domain.usecases import moderation
from marketscout.domain.usecases.retention import READINGS_KEPT_AT_LEAST, PrunedReadings, prune_readings
from marketscout.entrypoints import cli_prune
from marketscout.entrypoints.cli_args import database_url
from marketscout.entrypoints.cli_table import plural, print_table
from marketscout.entrypoints.settings import BULK_STATEMENT_TIMEOUT_MS, run_command

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container


def _instant(raw: str) -> datetime:
    """An ISO 8601 time with its offset (``2026-11-30T18:00:00Z``): a time without one could be
    any of a day's worth of instants. It lies in 1970-2100, as every entry point's times do
    (:func:`utc_instant`)."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {raw!r}") from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"give the time with its offset, as 2026-11-30T18:00:00Z or +01:00 (got {raw!r})"
        )
    try:
        return utc_instant("since", moment)
    except InvalidValue as error:
        raise argparse.ArgumentTypeError(error.rule) from None


def add_readings_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "readings", help="the accounts that sent readings; remove one account's readings"
    )
    commands = parser.add_subparsers(dest="readings_command", required=True)
    senders = commands.add_parser("senders", help="every account with stored readings, and what it sent")
    senders.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    senders.set_defaults(handler=run_senders)
    remove = commands.add_parser(
        "remove", help="remove one account's readings and re-score the products they were of"
    )
    # The name as the users commands take it; --user, its first spelling, still works.
    account = remove.add_mutually_exclusive_group(required=True)
    account.add_argument("username", nargs="?", metavar="NAME", help="the account's username")
    account.add_argument("--user", metavar="NAME", help="the same, as an option (not both)")
    remove.add_argument(
        "--since",
        type=_instant,
        help="only the readings observed at or after this time (ISO 8601 with offset, in 1970-2100)",
    )
    remove.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    remove.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    remove.set_defaults(handler=run_remove)
    cli_prune.add_prune_command(
        commands,
        help="remove the raw readings older than some days (whole UTC days; each day's totals kept)",
        keep=f"days of raw readings to keep (at least {READINGS_KEPT_AT_LEAST.days}: re-scoring reads them)",
        handler=run_prune,
    )


def run_senders(args: argparse.Namespace) -> int:
    async def work(container: Container) -> int:
        senders = await moderation.reading_senders(container.unit_of_work())
        if not senders:
            print("no stored reading was sent by an account (the operator's own collectors send as nobody)")
            return 0
        rows = [("account", "id", "readings", "products", "first observed", "last observed", "disabled")]
        for sender in senders:
            a = sender.activity
            name = sender.user.username if sender.user is not None else "(unknown)"
            rows.append(
                (
                    name,
                    str(a.sender),
                    f"{a.readings:,}",
                    f"{a.products:,}",
                    a.first_observed.isoformat(timespec="seconds"),
                    a.last_observed.isoformat(timespec="seconds"),
                    sender.user.disabled_at.isoformat(timespec="seconds")
                    if sender.user is not None and sender.user.disabled_at is not None
                    else "",
                )
            )
        print_table(rows)
        return 0

    return run_command(args.database_url, work)


def run_remove(args: argparse.Namespace) -> int:
    username = args.user if args.username is None else args.username

    async def work(container: Container) -> int:
        uow, since = container.unit_of_work(), args.since
        try:
            if args.dry_run:
                user, sent = await moderation.readings_sent_by(uow, username, since=since)
                print(
                    f"{user.username} sent {plural(sent.readings, 'stored reading')} of "
                    f"{plural(len(sent.product_ids), 'product')}; nothing removed (dry run)"
                )
                return 0
            user, removed = await moderation.remove_readings_sent_by(
                uow, container.clock(), username, since=since
            )
        except NotFound:
            print(f"marketscout: no user {username!r}", file=sys.stderr)
            return 1
        products = len(removed.product_ids)
        print(
            f"removed {plural(removed.readings, 'reading')} {user.username} sent, of "
            f"{plural(products, 'product')}; re-scored {plural(products, 'product')}"
        )
        return 0

    return run_command(args.database_url, work, statement_timeout_ms=BULK_STATEMENT_TIMEOUT_MS)


def run_prune(args: argparse.Namespace) -> int:
    async def prune(container: Container, older_than: timedelta, dry_run: bool) -> PrunedReadings:
        return await prune_readings(container.unit_of_work(), container.clock(), older_than, dry_run=dry_run)

    def say(pruned: PrunedReadings, dry_run: bool) -> str:
        readings = f"{plural(pruned.count, 'reading')} observed before {pruned.before:%Y-%m-%d %H:%M} UTC"
        if dry_run:
            return f"{readings} would be removed, each day's totals kept; nothing removed (dry run)"
        return f"removed {readings}; each day's totals kept (what a heat map over those days reads)"

    return cli_prune.run_prune(args, prune, say)
