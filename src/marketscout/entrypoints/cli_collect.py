"""``marketscout collect``: fetch feeds, map them to products, store what is new."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from marketscout.adapters.signals.feed import HttpFeedSource
from marketscout.adapters.signals.http import ResilientHttp
from marketscout.domain.signals import SourceUnavailable
from marketscout.domain.usecases.collection import collect


def add_collect_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "collect", help="collect engagement from feeds (JSON, NDJSON or CSV at a URL)"
    )
    parser.add_argument("--feed", action="append", required=True, help="a feed URL (repeatable)")
    parser.add_argument("--format", choices=["json", "ndjson", "csv"], default="ndjson")
    parser.add_argument(
        "--keyword",
        action="append",
        default=[],
        help="KEYWORD=PRODUCT_ID: items whose text has it go to the product",
    )
    parser.add_argument("--interval", type=float, default=0, help="seconds between runs; 0 runs once")
    parser.add_argument("--runs", type=int, default=0, help="stop after this many runs (0: no limit)")
    parser.add_argument("--database-url", help="overrides MARKETSCOUT_DATABASE_URL")


def _keywords(pairs: list[str]) -> list[tuple[str, int]]:
    parsed = []
    for pair in pairs:
        keyword, _, product = pair.rpartition("=")
        if not keyword or not product.isdigit():
            raise SystemExit(f"marketscout: --keyword takes KEYWORD=PRODUCT_ID, not {pair!r}")
        parsed.append((keyword, int(product)))
    return parsed


def run_collect(args: argparse.Namespace) -> int:
    if args.database_url:
        os.environ["MARKETSCOUT_DATABASE_URL"] = args.database_url
    os.environ.setdefault("MARKETSCOUT_DEMO_DATA", "false")
    keywords = _keywords(args.keyword)
    return asyncio.run(_run(args, keywords))


async def _run(args: argparse.Namespace, keywords: list[tuple[str, int]]) -> int:
    from marketscout.entrypoints.container import Container
    from marketscout.entrypoints.startup import prepare_store, release_store

    container = Container()
    await prepare_store(container)
    clients = [ResilientHttp(f"feed {i + 1}") for i in range(len(args.feed))]
    sources = [
        HttpFeedSource(f"feed {i + 1} ({url})", url, args.format, clients[i])
        for i, url in enumerate(args.feed)
    ]
    failures = 0
    runs = 0
    try:
        while True:
            runs += 1
            for number, source in enumerate(sources, start=1):
                print(f"[{number}/{len(sources)}] collecting {source.name} …", file=sys.stderr)
                try:
                    report = await collect(container.unit_of_work(), container.clock(), source, keywords)
                except SourceUnavailable as error:
                    failures += 1
                    print(f"{source.name}: unavailable: {error.message}")
                    continue
                print(report.summary())
                for reason in report.skipped[:20]:
                    print(f"  skipped: {reason}")
            if args.interval <= 0 or (args.runs and runs >= args.runs):
                break
            await asyncio.sleep(args.interval)
    finally:
        for client in clients:
            await client.aclose()
        await release_store(container)
    return 1 if failures and failures == len(sources) * runs else 0
