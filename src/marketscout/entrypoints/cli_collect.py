"""``marketscout collect``: run the configured sources (and ad-hoc feeds) once or on their
schedules, map what they bring to products, store what is new, and say what happened."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dependency_injector import providers

from marketscout.adapters.signals.feed import HttpFeedSource
from marketscout.adapters.signals.http import ResilientHttp
from marketscout.domain.errors import DomainError
from marketscout.domain.signals import SignalSource, SourceUnavailable
from marketscout.domain.usecases.collection import collect
from marketscout.entrypoints.cli_args import database_url, http_url, seconds, whole_number
from marketscout.entrypoints.settings import Settings, command_settings
from marketscout.entrypoints.sources import SourcesError, build_source, load_specs

logger = logging.getLogger("marketscout.collect")


def add_collect_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "collect", help="collect engagement from the configured sources and from feeds at URLs"
    )
    parser.add_argument(
        "--sources", help="TOML file of sources (default: MARKETSCOUT_SOURCES_FILE); see docs/collection.md"
    )
    parser.add_argument(
        "--feed",
        type=http_url("https://partner.example/engagement.ndjson"),
        action="append",
        default=[],
        help="a feed URL, http:// or https:// (repeatable)",
    )
    parser.add_argument("--format", choices=["json", "ndjson", "csv"], default="ndjson", help="of --feed")
    parser.add_argument(
        "--keyword",
        action="append",
        default=[],
        help="KEYWORD=PRODUCT_ID for --feed: items whose text has it go to the product",
    )
    parser.add_argument(
        "--interval", type=seconds(86_400), default=0, help="seconds between --feed runs; 0 runs once"
    )
    parser.add_argument("--once", action="store_true", help="run every source once, ignoring schedules")
    parser.add_argument(
        "--runs", type=whole_number(0, 1_000_000), default=0, help="stop after this many rounds (0: no limit)"
    )
    parser.add_argument("--database-url", type=database_url, help="overrides MARKETSCOUT_DATABASE_URL")


def _keywords(pairs: list[str]) -> list[tuple[str, int]]:
    parsed = []
    for pair in pairs:
        keyword, _, product = pair.rpartition("=")
        if not keyword or not product.isdigit():
            raise SystemExit(f"marketscout: --keyword takes KEYWORD=PRODUCT_ID, not {pair!r}")
        parsed.append((keyword, int(product)))
    return parsed


@dataclass(slots=True)
class _Scheduled:
    source: SignalSource
    keywords: list[tuple[str, int]]
    every: float  # seconds; inf: once
    http: ResilientHttp
    due: float = 0.0


def run_collect(args: argparse.Namespace) -> int:
    settings = command_settings(args.database_url)
    sources_file = args.sources or settings.sources_file
    if not sources_file and not args.feed:
        raise SystemExit(
            "marketscout: collect needs --sources FILE (or MARKETSCOUT_SOURCES_FILE) or --feed URL"
        )
    try:
        specs = load_specs(Path(sources_file)) if sources_file else []
    except SourcesError as error:
        raise SystemExit(f"marketscout: {error}") from None
    return asyncio.run(_run(args, settings, specs))


async def _run(args: argparse.Namespace, settings: Settings, specs: list[Any]) -> int:
    from marketscout.entrypoints.container import Container
    from marketscout.entrypoints.startup import prepare_store, release_store

    container = Container()
    container.settings.override(providers.Object(settings))
    clock = container.clock()
    scheduled: list[_Scheduled] = []
    try:
        for spec in specs:
            http = ResilientHttp(spec.name)
            scheduled.append(
                _Scheduled(build_source(spec, http, clock, settings), spec.keywords, spec.every, http)
            )
        keywords = _keywords(args.keyword)
        for number, url in enumerate(args.feed, start=1):
            http = ResilientHttp(f"feed {number}")
            every = args.interval if args.interval > 0 else math.inf
            scheduled.append(
                _Scheduled(
                    HttpFeedSource(f"feed {number} ({url})", url, args.format, http), keywords, every, http
                )
            )
    except SourcesError as error:
        for entry in scheduled:
            await entry.http.aclose()
        raise SystemExit(f"marketscout: {error}") from None
    await prepare_store(container)
    loop = asyncio.get_running_loop()
    attempted = failed = rounds = 0
    try:
        while True:
            rounds += 1
            now = loop.time()
            due = [entry for entry in scheduled if entry.due <= now]
            for number, entry in enumerate(due, start=1):
                print(f"[{number}/{len(due)}] collecting {entry.source.name} …", file=sys.stderr, flush=True)
                attempted += 1
                try:
                    report = await collect(container.unit_of_work(), clock, entry.source, entry.keywords)
                except SourceUnavailable as error:
                    failed += 1
                    print(f"{entry.source.name}: unavailable: {error.message}", flush=True)
                except DomainError:
                    raise  # the store failing: said by the command, which ends
                except Exception as error:
                    # A bug, or an answer no adapter expected: one source's, so the others go on.
                    failed += 1
                    logger.exception("%s: the collection failed unexpectedly", entry.source.name)
                    kind = type(error).__name__
                    print(f"{entry.source.name}: failed unexpectedly ({kind}): see the log", flush=True)
                else:
                    print(report.summary(), flush=True)
                    for reason in report.skipped[:20]:
                        print(f"  skipped: {reason}", flush=True)
                    if len(report.skipped) > 20:
                        print(f"  … and {len(report.skipped) - 20} more skipped", flush=True)
                entry.due = math.inf if args.once else loop.time() + entry.every
            if (args.runs and rounds >= args.runs) or all(math.isinf(e.due) for e in scheduled):
                break
            await asyncio.sleep(max(0.0, min(e.due for e in scheduled) - loop.time()))
    finally:
        for entry in scheduled:
            await entry.http.aclose()
        await release_store(container)
    return 1 if attempted and failed == attempted else 0
