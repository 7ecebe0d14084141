"""``marketscout users``: the operator adds an account (the way in on an instance whose sign-up
is closed, ``MARKETSCOUT_SIGNUP_OPEN=false``), by the sign-up's own rules; and disables an
account (an abusive one: it can no longer log in nor use its tokens) or enables it again; and
sets the password of an account whose user forgot it."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from marketscout.domain.errors import Conflict, InvalidValue, NotFound
from marketscout.domain.usecases import accounts
from marketscout.entrypoints.cli_args import database_url
from marketscout.entrypoints.cli_table import print_table
from marketscout.entrypoints.settings import run_command

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container


def add_users_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "users",
        help="accounts: list them, add one (as when sign-up is closed), set a password, disable or enable one",
    )
    commands = parser.add_subparsers(dest="users_command", required=True)
    add = commands.add_parser("add", help="add an account by the sign-up's rules")
    add.add_argument("username", help="3-50 letters, digits or _")
    add.add_argument("--email", required=True, help="the account's e-mail address")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (otherwise it is asked for)",
    )
    add.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    add.set_defaults(handler=run_users_add)
    listing = commands.add_parser("list", help="every account: id, name, e-mail, created, disabled")
    listing.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    listing.set_defaults(handler=run_users_list)
    password = commands.add_parser(
        "password", help="set an account's password (its user forgot it); its logins end"
    )
    password.add_argument("username")
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (otherwise it is asked for)",
    )
    password.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
    password.set_defaults(handler=run_users_password)
    for name, disabled, what in (
        ("disable", True, "stop an account logging in and using its tokens (its readings stay)"),
        ("enable", False, "let a disabled account log in again"),
    ):
        command = commands.add_parser(name, help=what)
        command.add_argument("username")
        command.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")
        command.set_defaults(handler=run_users_disable, disabled=disabled)


def _password(from_stdin: bool) -> str | None:
    """The password: standard input's first line, or typed twice at a terminal; None, said on
    stderr, when there is none (an empty first line is none) or the two typed differ."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            print(
                "marketscout: --password-stdin: no password on standard input (its first line is the password)",
                file=sys.stderr,
            )
            return None
        return line
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") == first:
            return first
    print(
        "marketscout: password: type it at a terminal (twice, the same), or give it on standard "
        "input with --password-stdin",
        file=sys.stderr,
    )
    return None


def run_users_add(args: argparse.Namespace) -> int:
    password = _password(args.password_stdin)
    if password is None:
        return 2
    # Every rule the account breaks, named, before anything is opened or stored.
    if problems := accounts.sign_up_problems(args.username, args.email, password):
        for problem in problems:
            print(f"marketscout: {problem.message}", file=sys.stderr)
        return 2

    async def work(container: Container) -> int:
        try:
            user = await accounts.sign_up(
                container.unit_of_work(),
                container.password_hasher(),
                container.clock(),
                username=args.username,
                email=args.email,
                password=password,
            )
        except Conflict as error:
            print(f"marketscout: {error.message}", file=sys.stderr)
            return 1
        print(f"added user {user.username} (id {user.id})")
        return 0

    return run_command(args.database_url, work, creates=True)


def run_users_disable(args: argparse.Namespace) -> int:
    async def work(container: Container) -> int:
        try:
            user = await accounts.set_disabled(
                container.unit_of_work(), container.clock(), args.username, disabled=args.disabled
            )
        except NotFound:
            print(f"marketscout: no user {args.username!r}", file=sys.stderr)
            return 1
        if user.disabled_at is None:
            print(f"enabled user {user.username} (id {user.id})")
        else:
            print(
                f"disabled user {user.username} (id {user.id}) since {user.disabled_at.isoformat(timespec='seconds')}: "
                "it can no longer log in nor use its tokens; its readings stay "
                f"(marketscout readings remove {user.username})"
            )
        return 0

    return run_command(args.database_url, work)


def run_users_password(args: argparse.Namespace) -> int:
    password = _password(args.password_stdin)
    if password is None:
        return 2

    async def work(container: Container) -> int:
        try:
            user = await accounts.reset_password(
                container.unit_of_work(),
                container.password_hasher(),
                container.clock(),
                args.username,
                password,
            )
        except InvalidValue as error:
            print(f"marketscout: {error.message}", file=sys.stderr)
            return 2
        except NotFound:
            print(f"marketscout: no user {args.username!r}", file=sys.stderr)
            return 1
        print(f"set the password of {user.username} (id {user.id}); every login it had has ended")
        return 0

    return run_command(args.database_url, work)


# Accounts are read a page at a time (each query bounded).
_LIST_PAGE = 1000


def run_users_list(args: argparse.Namespace) -> int:
    async def work(container: Container) -> int:
        rows: list[tuple[str, ...]] = [("id", "account", "e-mail", "created", "disabled")]
        skip = 0
        while page := await accounts.list_accounts(container.unit_of_work(), skip=skip, limit=_LIST_PAGE):
            for user in page:
                disabled = user.disabled_at.isoformat(timespec="seconds") if user.disabled_at else ""
                created = user.created_at.isoformat(timespec="seconds")
                rows.append((str(user.id), user.username, user.email, created, disabled))
            skip += len(page)
        if len(rows) == 1:
            print("no accounts yet")
            return 0
        print_table(rows)
        return 0

    return run_command(args.database_url, work)
