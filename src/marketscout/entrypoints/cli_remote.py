"""``marketscout remote``: use a MarketScout server elsewhere through the Python client.

The server comes from ``--server`` or ``MARKETSCOUT_SERVER`` (default http://127.0.0.1:8000);
commands that need an account log in with ``--username`` (or ``MARKETSCOUT_USERNAME``) and the
password in ``MARKETSCOUT_PASSWORD``, or asked for on the terminal — never on the command line.
The access token of a login is kept in the user's cache folder (:mod:`token_cache`) and used by
the runs after it until shortly before it expires, so that they do not log in again (the log-in
is rate limited, 5 a minute); ``--no-token-cache`` or ``MARKETSCOUT_TOKEN_CACHE=off`` turn that
off, ``remote logout`` ends the token kept on the server (``POST /token/revoke``) and forgets it.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import csv
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from marketscout.adapters.csv_rows import column, header_problem, misfit
from marketscout.client import (
    IngestReport,
    MarketScoutClient,
    MarketScoutConnectionError,
    MarketScoutError,
    TrendingProduct,
)
from marketscout.domain.model import DeliveryStatus, Platform, TrendStatus
from marketscout.entrypoints.cli_args import http_url, whole_number
from marketscout.entrypoints.schemas import ENGAGEMENT_COLUMNS, ENGAGEMENT_COLUMNS_SAID
from marketscout.entrypoints.settings import SettingsError
from marketscout.entrypoints.token_cache import TokenCache, UnsafeCache, cache_folder

# Rows per request: each request re-scores the products it touched once, so bigger batches
# ingest faster (docs/performance.md: 13,579/s at 5,000, 20,223/s at 10,000, 35,369/s at 50,000).
# 50,000 typical rows are a few MB, well under the server's default body and item limits.
BATCH = 50_000
# Requests at once: while the database stores one batch, the server parses and checks the
# next (docs/performance.md: 35,791/s with one in flight, 59,682/s with two, at 50,000 a request).
IN_FLIGHT = 2
PUBLIC = {"trending", "scan-ads", "heat-map"}
TOKEN_CACHE_SETTING = "MARKETSCOUT_TOKEN_CACHE"  # noqa: S105 - a setting's name, not a secret
# The integer fields of an ingested snapshot (EngagementIn); every other CSV cell is text.
INTEGER_COLUMNS = frozenset({"ad_id", "views", "likes", "comments", "shares"})
# How GET /trending ranks the products a region keeps (its ``ranking``): by their stored
# worldwide score, or by the score each earns from the region's readings alone.
RANKINGS = ("worldwide", "regional")


SERVER_URL = http_url("https://scout.example.com")
DEFAULT_SERVER = "http://127.0.0.1:8000"


def server_url(env: Mapping[str, str]) -> str:
    """The server of ``MARKETSCOUT_SERVER`` (else :data:`DEFAULT_SERVER`), held to --server's
    rule; a value it breaks is refused naming the variable (:class:`SettingsError`)."""
    text = env.get("MARKETSCOUT_SERVER", DEFAULT_SERVER)
    try:
        return SERVER_URL(text)
    except argparse.ArgumentTypeError as error:
        raise SettingsError(f"MARKETSCOUT_SERVER {error}") from None


def add_remote_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("remote", help="talk to a MarketScout server through the Python client")
    parser.add_argument(
        "--server",
        type=SERVER_URL,
        # None: MARKETSCOUT_SERVER's, checked when the command runs (server_url), so that its
        # refusal names the variable, not an option that was not given.
        help="the server's http:// or https:// URL (default: MARKETSCOUT_SERVER, else http://127.0.0.1:8000)",
    )
    parser.add_argument("--username", default=os.environ.get("MARKETSCOUT_USERNAME"))
    parser.add_argument(
        "--no-token-cache",
        action="store_true",
        help="log in on this run, and keep no access token for the next (also "
        f"{TOKEN_CACHE_SETTING}=off); by default a login's access token is kept in "
        "$XDG_CACHE_HOME/marketscout/ (~/.cache/marketscout/) until shortly before it expires",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of text (export: ignored, it prints the CSV)"
    )
    commands = parser.add_subparsers(dest="remote_command", required=True)
    trending = commands.add_parser(
        "trending",
        help="products ranked by trend score, worldwide or in a region alone",
        epilog=(
            "--platform and --region keep the products with engagement there in the last 30 days, "
            "ranked by their worldwide score; with --ranking regional by the score each earns from "
            "the region's readings alone (every platform's; a continent's: its countries' together), "
            "which the text says in a first line ('scores in DE alone') and --json in each item's "
            "scored_in. The server refuses what it does not accept (--ranking regional without "
            "--region, an unknown region, a limit over 100), naming the option's field: exit 1."
        ),
    )
    trending.add_argument("--limit", type=int, default=10, help="at most this many, 1-100 (default 10)")
    trending.add_argument("--skip", type=int, default=0, help="leave out the first SKIP of the ranking")
    trending.add_argument(
        "--status", choices=[s.value for s in TrendStatus], help="only products of this status"
    )
    trending.add_argument("--query", help="only products whose name contains this (any case)")
    trending.add_argument("--category", help="only products of exactly this category, as stored")
    trending.add_argument(
        "--platform", choices=[p.value for p in Platform], help="only products active there"
    )
    trending.add_argument(
        "--region",
        help="only products active there: an ISO country code (DE), GLOBAL or a continent (Europe)",
    )
    trending.add_argument(
        "--ranking",
        choices=RANKINGS,
        default=RANKINGS[0],
        help="worldwide (default): by the stored worldwide score; regional (needs --region): by "
        "the score of the region's readings alone",
    )
    trending.add_argument(
        "--min-confidence",
        type=float,
        metavar="0-1",
        help="only products whose latest score is at least this confident",
    )
    scan = commands.add_parser("scan-ads", help="the viral-ad scan, strongest first")
    scan.add_argument("--limit", type=int, default=20)
    heat = commands.add_parser("heat-map", help="relative interest per continent")
    heat.add_argument("--product-id", type=int, action="append", default=[])
    ingest = commands.add_parser(
        "ingest",
        help="upload engagement snapshots from NDJSON or CSV",
        epilog=(
            "Prints the totals and the rejected rows (row number, field, rule; up to 20 a request), "
            "or with --json one JSON object: received, stored, duplicates, rejected and "
            "rejected_rows (every one, as row, field, rule). Exit status: 0 when every row was "
            "stored or already known, 1 when any row was rejected or the file, the log-in or the "
            "server failed, 2 for wrong arguments."
        ),
    )
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--all-or-nothing", action="store_true", help="refuse a batch with any bad row")
    ingest.add_argument(
        "--batch",
        type=whole_number(1, 1_000_000),
        default=BATCH,
        help=f"rows per request (default {BATCH:,}; at most the server's MARKETSCOUT_MAX_INGEST_ITEMS)",
    )
    ingest.add_argument(
        "--in-flight",
        type=whole_number(1, 64),
        default=IN_FLIGHT,
        help=f"requests at once, 1-64 (default {IN_FLIGHT})",
    )
    alerts = commands.add_parser("alerts", help="your alerts, newest first")
    alerts.add_argument("--unread", action="store_true")
    deliveries = commands.add_parser("deliveries", help="where your alerts were sent (dead letters too)")
    deliveries.add_argument("--status", choices=[s.value for s in DeliveryStatus])
    export = commands.add_parser("export", help="download a CSV export (printed as it is, --json or not)")
    export.add_argument("data_type", choices=["trends", "watchlist"])
    commands.add_parser(
        "logout",
        help="end the access token kept for --server and --username on the server, and delete it",
        epilog=(
            "The kept token is deleted from this machine even when the server cannot be told; "
            "then the command says so and exits 1, and the token stays valid until it expires "
            "(a password change ends it at once). Exit status 0 when the server ended the token, "
            "no longer accepted it (expired, ended already), or none was kept."
        ),
    )
    # --json after the command as well as before it; SUPPRESS keeps a command's parser from
    # resetting a --json given before the command.
    for name, command in commands.choices.items():
        command.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="ignored: the export is the CSV itself"
            if name == "export"
            else "print JSON instead of text",
        )
    parser.set_defaults(handler=run_remote)


class _Stop(Exception):
    """Why the command cannot go on, said in one line."""


def _check_readable(path: Path) -> None:
    """Reads the file once before logging in, so that a file that cannot be read or is not UTF-8,
    a CSV row with more or fewer cells than the header has columns, or an NDJSON line that is not
    a JSON object, stops the command before anything is sent, naming the line: a file is sent
    whole or not at all, as far as its syntax goes."""
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    raise _Stop(f"{path}: line {number} is not UTF-8") from None
        if path.suffix.lower() == ".csv":
            _check_cells(path)
        else:
            for _ in _rows(path):  # as the upload will read it
                pass
    except OSError as error:
        raise _Stop(f"{path}: cannot read it: {error.strerror or error}") from None


def _check_cells(path: Path) -> None:
    """The CSV file's header names each column once, each one the server reads (in any case), and
    every row has a cell for each of its columns, and no more (read as :func:`_rows` reads it)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            if problem := header_problem(header, ENGAGEMENT_COLUMNS, ENGAGEMENT_COLUMNS_SAID):
                raise _Stop(f"{path}: {problem}")
            for cells in reader:
                if cells and (problem := misfit(len(cells), len(header))):  # [] is a blank line
                    raise _Stop(f"{path}: line {reader.line_num} {problem}")
        except csv.Error as error:
            raise _Stop(f"{path}: line {reader.line_num} is not readable as CSV: {error}") from None


def _password(username: str) -> str:
    """MARKETSCOUT_PASSWORD, or asked for on the terminal. Without a terminal getpass would print
    a warning and its prompt and read stdin, which has no password either: say what to do."""
    password = os.environ.get("MARKETSCOUT_PASSWORD")
    if password:
        return password
    no_password = f"no password for {username}: set MARKETSCOUT_PASSWORD, or run this on a terminal"
    if os.name == "posix":
        try:
            Path("/dev/tty").open("rb").close()
        except OSError:
            raise _Stop(no_password) from None
    try:
        return getpass.getpass(f"password for {username}: ")
    except EOFError:
        raise _Stop(no_password) from None


def _token_cache(args: argparse.Namespace) -> TokenCache | None:
    """Where the access token for --server and --username is kept, or None when that is
    turned off or cannot be done safely (said on stderr)."""
    setting = os.environ.get(TOKEN_CACHE_SETTING, "").strip().lower()
    if setting not in {"", "on", "true", "yes", "1", "off", "false", "no", "0"}:
        raise SettingsError(f"{TOKEN_CACHE_SETTING} must be on or off")
    if args.no_token_cache or setting in {"off", "false", "no", "0"}:
        return None
    try:
        return TokenCache(cache_folder(os.environ), args.server, args.username)
    except UnsafeCache as unsafe:
        _not_kept(unsafe)
        return None


def _not_kept(unsafe: UnsafeCache) -> None:
    print(f"marketscout: not keeping the access token: {unsafe}", file=sys.stderr)


def _log_in(client: MarketScoutClient, args: argparse.Namespace) -> None:
    """Uses the access token kept by an earlier run if there is one (a refused one is dropped,
    and the run logs in once again), else logs in and keeps the new one."""
    cache = _token_cache(args)
    if cache is not None:
        try:
            kept = cache.load(time.time())
        except UnsafeCache as unsafe:
            _not_kept(unsafe)
            cache = None
        else:
            if kept is not None:

                def log_in_again() -> None:
                    with contextlib.suppress(UnsafeCache):
                        cache.forget()
                    _log_in_with_password(client, args, cache)

                client.use_access_token(kept, log_in_again=log_in_again)
                return
    _log_in_with_password(client, args, cache)


def _log_in_with_password(
    client: MarketScoutClient, args: argparse.Namespace, cache: TokenCache | None
) -> None:
    issued = client.log_in(args.username, _password(args.username))
    if cache is None or issued.expires_in is None:
        return
    try:
        cache.keep(issued.token, issued.expires_in, time.time())
    except UnsafeCache as unsafe:
        _not_kept(unsafe)


def _log_out(client: MarketScoutClient, args: argparse.Namespace) -> int:
    """Ends the access token kept for --server and --username on the server, then deletes it.
    It is deleted even when the server cannot be told: who logs out wants the secret gone from
    this machine (and could not reach the server with it anyway); then that is said on stderr
    and the exit status is 1, since the token stays valid until it expires."""
    try:
        cache = TokenCache(cache_folder(os.environ), args.server, args.username)
        kept = cache.load(time.time(), spare=0)  # worth ending until its very last second
    except UnsafeCache as unsafe:
        print(f"marketscout: cannot forget the access token: {unsafe}", file=sys.stderr)
        return 1
    whose = f"{args.username} at {cache.server}"
    ended: bool | None = None  # by the server: None when no token was kept
    said = why = ""
    if kept is not None:
        client.use_access_token(kept)  # never logs in just to log out
        try:
            ended_now = client.log_out()
        except MarketScoutConnectionError as error:
            ended, why = False, _unreachable(args.server, error)
        except MarketScoutError as error:
            ended, why = False, f"the server answered {error}"
        else:
            ended = True
            said = (
                f"ended the access token of {whose} on the server"
                if ended_now
                else f"the server no longer accepted the access token of {whose} (expired or ended already)"
            )
    try:
        forgotten = cache.forget()
    except UnsafeCache as unsafe:
        print(f"marketscout: cannot forget the access token: {unsafe}", file=sys.stderr)
        return 1
    if ended is False:
        print(
            f"marketscout: could not end the access token on the server: {why}; it stays valid until"
            " it expires (changing the account's password ends it at once)",
            file=sys.stderr,
        )
    lines = [said] if said else []
    lines.append(
        f"forgot the access token kept for {whose}" if forgotten else f"no access token kept for {whose}"
    )
    _print(
        args,
        {"server": cache.server, "username": args.username, "forgotten": forgotten, "ended_on_server": ended},
        lambda: lines,
    )
    return 1 if ended is False else 0


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    """Snapshots from NDJSON (one object a line; a line that is not one stops it, naming the
    line) or CSV (a header row, its names read in any case, whose rows :func:`_check_cells` found
    to fit it); the server
    validates the fields."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix.lower() == ".csv":
            for row in csv.DictReader(handle):
                yield {column(k): _cell(column(k), v) for k, v in row.items() if k and column(k) and v != ""}
            return
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    snapshot = json.loads(line)
                except ValueError:
                    raise _Stop(f"{path}:{number} is not JSON") from None
                if not isinstance(snapshot, dict):
                    raise _Stop(f"{path}:{number} is not a JSON object")
                yield snapshot


def _cell(column: str, value: str) -> int | str:
    """A count or id column as an integer, anything else as the text it is. A count that is not
    an integer is sent as written, so the server names the field and its rule."""
    if column in INTEGER_COLUMNS:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _print(args: argparse.Namespace, value: Any, text: Callable[[], list[str]]) -> None:
    if args.json:
        print(json.dumps(msgspec.to_builtins(value), indent=2))
    else:
        print("\n".join(text()))


def _trending_lines(args: argparse.Namespace, ranked: list[TrendingProduct]) -> list[str]:
    """A line a product, after one that names the region when the scores are its own."""
    lines = [
        f"{t.current_score:5.1f}  {t.status:<9}  {t.product.name} (#{t.product.id}): {t.reason}"
        for t in ranked
    ]
    if not lines:
        filtered = args.skip or any(
            value is not None
            for value in (
                args.status,
                args.query,
                args.category,
                args.platform,
                args.region,
                args.min_confidence,
            )
        )
        return ["no scored products match" if filtered else "no products scored yet"]
    regions = {t.scored_in for t in ranked} - {"worldwide"}
    return [f"scores in {region} alone" for region in sorted(regions)] + lines


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ingest(client: MarketScoutClient, args: argparse.Namespace) -> int:
    """Sends the file a batch a request, ``--in-flight`` requests at once (the client is safe to
    share between threads), and reports the answers in the file's order: 1 if any row was
    rejected, else 0."""
    totals: dict[str, Any] = {"received": 0, "stored": 0, "duplicates": 0, "rejected": 0}
    rejected_rows: list[dict[str, Any]] = []
    sent: collections.deque[tuple[int, int, concurrent.futures.Future[IngestReport]]] = collections.deque()

    def settle() -> None:
        first, count, answer = sent.popleft()
        report = answer.result()
        for key in ("received", "stored", "duplicates"):
            totals[key] += getattr(report, key)
        totals["rejected"] += len(report.rejected)
        for number, rejection in enumerate(report.rejected):
            row = first + int(rejection.get("index", 0)) + 1
            if args.json:
                rejected_rows.append(
                    {"row": row, "field": rejection.get("field"), "rule": rejection.get("rule")}
                )
            elif number < 20:
                print(f"  row {row}: {rejection.get('field')}: {rejection.get('rule')}")
        print(f"sent {first + count} rows …", file=sys.stderr, flush=True)

    offset = 0
    with concurrent.futures.ThreadPoolExecutor(args.in_flight) as pool:
        for batch in _batches(_rows(args.file), args.batch):
            if len(sent) == args.in_flight:
                settle()
            sent.append(
                (offset, len(batch), pool.submit(client.ingest, batch, all_or_nothing=args.all_or_nothing))
            )
            offset += len(batch)
        while sent:
            settle()
    _print(
        args,
        {**totals, "rejected_rows": rejected_rows},
        lambda: [", ".join(f"{k} {v}" for k, v in totals.items())],
    )
    return 1 if totals["rejected"] else 0


def run_remote(args: argparse.Namespace, client: MarketScoutClient | None = None) -> int:
    if args.server is None:
        args.server = server_url(os.environ)
    own = client is None
    client = client or MarketScoutClient(args.server)
    command = args.remote_command
    try:
        if command == "ingest":
            _check_readable(args.file)
        if command not in PUBLIC:
            if not args.username:
                raise SystemExit("marketscout: this command needs --username (or MARKETSCOUT_USERNAME)")
            if command == "logout":
                return _log_out(client, args)
            _log_in(client, args)
        if command == "trending":
            ranked = client.trending(
                args.limit,
                skip=args.skip,
                status=args.status,
                query=args.query,
                category=args.category,
                platform=args.platform,
                region=args.region,
                min_confidence=args.min_confidence,
                # the server's default left unsent, so a server older than ``ranking`` still answers
                ranking=args.ranking if args.ranking != RANKINGS[0] else None,
            )
            _print(args, ranked, lambda: _trending_lines(args, ranked))
        elif command == "scan-ads":
            viral = client.scan_ads(args.limit)
            _print(
                args,
                viral,
                lambda: (
                    [
                        f"{v.engagement_score:5.1f}  {v.platform:<9}  ad {v.ad_id} of {v.product_name}: {v.reason}"
                        for v in viral
                    ]
                    or ["no viral ads"]
                ),
            )
        elif command == "heat-map":
            heat = client.heat_map(args.product_id)
            _print(
                args,
                heat,
                lambda: [
                    f"{name}: " + ", ".join(f"{region} {value:g}" for region, value in regions.items())
                    for name, regions in heat.items()
                ],
            )
        elif command == "ingest":
            return _ingest(client, args)
        elif command == "alerts":
            found = client.alerts(unread_only=args.unread)
            _print(
                args,
                found,
                lambda: (
                    [f"{a.created_at:%Y-%m-%d %H:%M}  {'  ' if a.read else '* '}{a.message}" for a in found]
                    or ["no unread alerts" if args.unread else "no alerts"]
                ),
            )
        elif command == "deliveries":
            sent = client.deliveries(status=args.status)
            _print(
                args,
                sent,
                lambda: (
                    [
                        f"{d.created_at:%Y-%m-%d %H:%M}  {d.channel:<7}  {d.status:<9}  {d.attempts} attempt(s)  {d.target}"
                        + (f"  ({d.last_error})" if d.last_error else "")
                        for d in sent
                    ]
                    or [f"no deliveries with status {args.status}" if args.status else "no deliveries yet"]
                ),
            )
        else:
            sys.stdout.write(client.export(args.data_type))
    except _Stop as error:
        print(f"marketscout: {error}", file=sys.stderr)
        return 1
    except MarketScoutConnectionError as error:
        print(f"marketscout: {_unreachable(args.server, error)}", file=sys.stderr)
        return 1
    except MarketScoutError as error:
        print(f"marketscout: the server answered {error}", file=sys.stderr)
        return 1
    finally:
        if own:
            client.close()
    return 0


def _unreachable(server: str, error: MarketScoutConnectionError) -> str:
    """``cannot reach <server>: ConnectError``: the transport's failure, by name."""
    return f"cannot reach {server}: {type(error.__cause__ or error).__name__}"
