"""Collection from a local HTTP feed: mapping, idempotency, bad records, retries, 429, circuit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.adapters.signals.feed import HttpFeedSource, feed_item
from marketscout.adapters.signals.http import ResilientHttp, RetryPolicy
from marketscout.adapters.sql import migrate
from marketscout.domain.signals import SourceUnavailable
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.collection import collect
from tests.databases import create_product_in

NOW = datetime.now(UTC).replace(microsecond=0)
FAST = RetryPolicy(
    attempts=3, base_delay=0.01, max_delay=1.0, timeout=2.0, failures_to_open=2, open_seconds=60
)


def records() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for hours in (48, 24, 0):
        rows.append(
            {
                "platform": "TikTok",
                "external_id": "tt-9",
                "content": "This sunset lamp is everywhere",
                "observed_at": (NOW - timedelta(hours=hours)).isoformat(),
                "region": "US",
                "views": 1000 * (49 - hours),
                "likes": 10,
            }
        )
    rows.append(
        {
            "platform": "TikTok",
            "external_id": "tt-10",
            "content": "Unrelated cat video",
            "observed_at": NOW.isoformat(),
            "region": "US",
            "views": 5,
        }
    )
    rows.append(
        {
            "platform": "Myspace",
            "external_id": "x",
            "observed_at": NOW.isoformat(),
            "region": "US",
            "views": 1,
        }
    )
    return rows


CSV_FEED = (
    "platform,external_id,observed_at,region,views,likes\n"
    f"TikTok,tt-9,{NOW.isoformat()},US,1000,10\n"
    f"TikTok,tt-9,{(NOW - timedelta(hours=1)).isoformat()},US,900\n"
    f"TikTok,tt-9,{(NOW - timedelta(hours=2)).isoformat()},US,800,8,extra\n"
)


class Feed(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}

    def do_GET(self) -> None:
        count = Feed.calls.get(self.path, 0) + 1
        Feed.calls[self.path] = count
        if self.path == "/down" or (self.path == "/flaky" and count <= 2):
            self.send_response(503)
            self.end_headers()
            return
        if self.path == "/limited" and count == 1:
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        body = "\n".join(json.dumps(r) for r in records()).encode()
        kind = "application/x-ndjson"
        if self.path == "/csv":
            body, kind = CSV_FEED.encode(), "text/csv"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture(scope="module")
def feed_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def _world() -> tuple[InMemoryUnitOfWork, FixedClock, int]:
    uow, clock = InMemoryUnitOfWork(InMemoryStore()), FixedClock(NOW)
    product = await catalog.create_product(
        uow, clock, catalog.NewProduct(name="Sunset Lamp", description="d"), created_by=None
    )
    return uow, clock, product.id


async def test_collects_maps_and_is_idempotent(feed_url: str) -> None:
    uow, clock, product_id = await _world()
    http = ResilientHttp("feed", FAST)
    source = HttpFeedSource("feed", f"{feed_url}/feed", "ndjson", http)
    first = await collect(uow, clock, source, [("sunset lamp", product_id)])
    again = await collect(uow, clock, source, [("sunset lamp", product_id)])
    await http.aclose()
    assert (first.fetched, first.stored, first.ads_created) == (4, 3, 1)
    assert any("matches no product" in reason for reason in first.skipped)
    assert (
        "feed record 4: platform: must be one of: TikTok, Facebook, Instagram, YouTube, Twitter"
        in first.skipped
    )
    assert (again.stored, again.duplicates, again.ads_created) == (0, 3, 0)
    async with uow:
        scored = await uow.scores.latest(product_id)
    assert scored is not None, "collected engagement is scored like any other"


async def test_a_csv_record_whose_cells_do_not_match_the_header_is_skipped_saying_so(feed_url: str) -> None:
    http = ResilientHttp("feed", FAST)
    fetched = await HttpFeedSource("feed", f"{feed_url}/csv", "csv", http).fetch()
    await http.aclose()
    assert [(item.views, item.likes) for item in fetched.items] == [(1000, 10)]
    assert fetched.skipped == [
        "feed record 1: has 5 cells, the header 6 columns",
        "feed record 2: has 7 cells, the header 6 columns",
    ]


async def test_retries_server_errors_and_honours_429(feed_url: str) -> None:
    http = ResilientHttp("feed", FAST)
    assert (await http.get(f"{feed_url}/flaky")).status_code == 200
    assert (await http.get(f"{feed_url}/limited")).status_code == 200
    await http.aclose()


async def test_a_failing_source_opens_the_circuit(feed_url: str) -> None:
    http = ResilientHttp("down", FAST)
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            await http.get(f"{feed_url}/down")
    calls = Feed.calls["/down"]
    with pytest.raises(SourceUnavailable, match="paused"):
        await http.get(f"{feed_url}/down")
    assert Feed.calls["/down"] == calls, "an open circuit sends nothing"
    await http.aclose()


def test_the_collect_command_end_to_end(feed_url: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'collect.sqlite3'}"
    migrate.upgrade(url)
    create_product_in(url, "Sunset Lamp")
    command = [
        sys.executable,
        "-m",
        "marketscout.entrypoints.cli",
        "collect",
        "--feed",
        f"{feed_url}/feed",
        "--keyword",
        "sunset lamp=1",
        "--database-url",
        url,
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert "stored 3" in first.stdout and "new ads 1" in first.stdout
    assert "stored 0, duplicates 3" in second.stdout


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"views": "many"}, "views: must be a whole number of at least 0"),
        ({"likes": -3}, "likes: must be a whole number of at least 0"),
        ({"region": None}, "region: is required"),
        ({"observed_at": "yesterday"}, "observed_at: must be an ISO 8601 time with a UTC offset"),
        ({"observed_at": "2026-03-01T10:00:00"}, "observed_at: must be an ISO 8601 time with a UTC offset"),
        ({"product_id": "seven"}, "product_id: must be a whole number"),
    ],
)
def test_a_feed_record_that_does_not_map_names_its_field_and_rule(
    change: dict[str, object], reason: str
) -> None:
    record = {**records()[0], **change}
    record = {k: v for k, v in record.items() if v is not None}
    with pytest.raises(ValueError, match="^" + re.escape(reason) + "$"):
        feed_item(record)
