"""Collection from a local HTTP feed: mapping, idempotency, bad records, retries, 429, circuit."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

import pytest

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.adapters.signals.feed import HttpFeedSource, feed_item
from marketscout.adapters.signals.http import ResilientHttp, RetryPolicy
from marketscout.adapters.sql import migrate
from marketscout.domain.model import Ad
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.signals import SignalSource, SourceUnavailable
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.collection import CollectReport, collect
from marketscout.entrypoints import cli, cli_collect
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


# Its header in other capitals, with a blank: column names are read in any case.
CSV_FEED = (
    "Platform,EXTERNAL_ID,observed_at, Region,Views,likes\n"
    f"TikTok,tt-9,{NOW.isoformat()},US,1000,10\n"
    f"TikTok,tt-9,{(NOW - timedelta(hours=1)).isoformat()},US,900\n"
    f"TikTok,tt-9,{(NOW - timedelta(hours=2)).isoformat()},US,800,8,extra\n"
)


class Feed(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}
    served: dict[str, list[dict[str, object]]] = {}  # a test's own JSON feed at a path

    def do_GET(self) -> None:
        count = Feed.calls.get(self.path, 0) + 1
        Feed.calls[self.path] = count
        if self.path in Feed.served:
            self._answer(json.dumps(Feed.served[self.path]).encode(), "application/json")
            return
        if self.path == "/down" or (self.path == "/flaky" and count <= 2):
            self.send_response(503)
            self.end_headers()
            return
        if self.path.startswith(("/missing", "/gone")):
            status = 404 if self.path.startswith("/missing") else 410
            self._answer(b"<html>\n<body>\n<h1>Not here</h1>\n</body>\n</html>\n", "text/html", status)
            return
        if self.path == "/slow" and count == 1:
            self.send_response(408)
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
        self._answer(body, kind)

    def _answer(self, body: bytes, kind: str, status: int = 200) -> None:
        self.send_response(status)
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


@pytest.mark.parametrize("feed_format", ["ndjson", "json", "csv"])
@pytest.mark.parametrize(("path", "status"), [("/missing", "HTTP 404 Not Found"), ("/gone", "HTTP 410 Gone")])
async def test_a_feed_that_answers_4xx_is_unavailable_at_once_naming_the_status(
    feed_url: str, feed_format: Literal["ndjson", "json", "csv"], path: str, status: str
) -> None:
    http = ResilientHttp("feed", FAST)
    path = f"{path}-{feed_format}.{feed_format}"
    with pytest.raises(SourceUnavailable) as raised:
        await HttpFeedSource("feed", f"{feed_url}{path}", feed_format, http).fetch()
    await http.aclose()
    assert raised.value.message == f"feed: {status}"
    assert Feed.calls[path] == 1, "a 4xx answer is not asked again"


async def test_a_feed_that_answers_408_is_asked_again(feed_url: str) -> None:
    http = ResilientHttp("feed", FAST)
    fetched = await HttpFeedSource("feed", f"{feed_url}/slow", "ndjson", http).fetch()
    await http.aclose()
    assert len(fetched.items) == 4
    assert Feed.calls["/slow"] == 2


async def test_a_feed_that_answers_5xx_is_unavailable_after_the_retries(feed_url: str) -> None:
    http = ResilientHttp("feed", FAST)
    with pytest.raises(SourceUnavailable, match="503 after 3 attempts"):
        await HttpFeedSource("feed", f"{feed_url}/down", "ndjson", http).fetch()
    await http.aclose()


@pytest.mark.parametrize("feed_format", ["ndjson", "json"])
def test_the_collect_command_exits_1_when_its_only_feed_answers_404(
    feed_url: str, tmp_path: Path, feed_format: str
) -> None:
    url = f"sqlite:///{tmp_path / 'collect.sqlite3'}"
    migrate.upgrade(url)
    missing = f"{feed_url}/missing.{feed_format}"
    command = [
        sys.executable,
        "-m",
        "marketscout.entrypoints.cli",
        "collect",
        "--feed",
        missing,
        "--format",
        feed_format,
        "--database-url",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout
    assert done.stdout == f"feed 1 ({missing}): unavailable: feed 1 ({missing}): HTTP 404 Not Found\n"


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


def _record(name: str, product_id: int, **change: object) -> dict[str, object]:
    """A feed record of ad ``name`` (its external id unless ``change`` says another)."""
    record: dict[str, object] = {
        "platform": "TikTok",
        "external_id": name,
        "content": "This sunset lamp is everywhere",
        "observed_at": NOW.isoformat(),
        "region": "US",
        "views": 100,
        "url": f"https://www.tiktok.com/@lamps/video/{name}",
        "advertiser": "Lamps & Co",
        "product_id": product_id,
    }
    return {**record, **change}


async def _ads(uow: UnitOfWork, product_id: int) -> dict[str | None, Ad]:
    async with uow:
        return {ad.external_id: ad for ad in await uow.ads.list(skip=0, limit=10, product_id=product_id)}


# A record of the batch whose text breaks a rule of the domain's (domain.text): skipped, naming
# its field and rule, while the record before it and the one after it are stored.
BROKEN_TEXT = [
    pytest.param(
        {"external_id": "tt-\x00"},
        "TikTok 'tt-\\x00': external_id: must not hold control characters",
        id="external_id-nul",
    ),
    pytest.param(
        {"external_id": "tt-\x85"},
        "TikTok 'tt-\\x85': external_id: must not hold control characters",
        id="external_id-c1",
    ),
    pytest.param(
        {"external_id": "\u200b"}, "TikTok '\\u200b': external_id: must not be blank", id="external_id-blank"
    ),
    pytest.param(
        {"external_id": "t" * 201},
        f"TikTok '{'t' * 200}': external_id: must be at most 200 characters",
        id="external_id-long",
    ),
    pytest.param(
        {"content": "sunset lamp\x00"},
        "TikTok tt-bad: content: must not hold control characters other than tabs and line breaks",
        id="content-nul",
    ),
    pytest.param(
        {"content": "sunset\x1blamp"},
        "TikTok tt-bad: content: must not hold control characters other than tabs and line breaks",
        id="content-escape",
    ),
    pytest.param(
        {"url": "https://www.tiktok.com/\x00"},
        "TikTok tt-bad: url: must be an absolute http or https URL without spaces or control characters",
        id="url-nul",
    ),
    pytest.param(
        {"url": "javascript:alert(1)"},
        "TikTok tt-bad: url: must be an absolute http or https URL without spaces or control characters",
        id="url-scheme",
    ),
    pytest.param(
        {"advertiser": "Lamps\x00Co"},
        "TikTok tt-bad: advertiser: must not hold control characters",
        id="advertiser-nul",
    ),
    pytest.param(
        {"advertiser": "Lamps\u2028Co"},
        "TikTok tt-bad: advertiser: must not hold control characters",
        id="advertiser-separator",
    ),
]


@pytest.mark.parametrize(("change", "reason"), BROKEN_TEXT)
async def test_a_record_whose_text_breaks_a_rule_is_skipped_saying_so_and_the_rest_stored(
    feed_url: str, uow_factory: Callable[[], UnitOfWork], change: dict[str, object], reason: str
) -> None:
    uow, clock = uow_factory(), FixedClock(NOW)
    product = await catalog.create_product(
        uow, clock, catalog.NewProduct(name="Sunset Lamp", description="d"), created_by=None
    )
    path = f"/broken-{len(Feed.served)}"
    Feed.served[path] = [
        _record("tt-1", product.id),
        _record("tt-bad", product.id, **change),
        _record("tt-2", product.id),
    ]
    http = ResilientHttp("feed", FAST)
    report = await collect(uow, clock, HttpFeedSource("feed", f"{feed_url}{path}", "json", http), [])
    await http.aclose()
    assert report.skipped == [reason]
    assert (report.fetched, report.stored, report.ads_created) == (3, 2, 2)
    assert set(await _ads(uow, product.id)) == {"tt-1", "tt-2"}


async def test_a_region_with_a_control_character_is_refused_with_the_reading(
    feed_url: str, uow_factory: Callable[[], UnitOfWork]
) -> None:
    uow, clock = uow_factory(), FixedClock(NOW)
    product = await catalog.create_product(
        uow, clock, catalog.NewProduct(name="Sunset Lamp", description="d"), created_by=None
    )
    path = f"/region-{len(Feed.served)}"
    Feed.served[path] = [_record("tt-1", product.id, region="U\x00S"), _record("tt-2", product.id)]
    http = ResilientHttp("feed", FAST)
    report = await collect(uow, clock, HttpFeedSource("feed", f"{feed_url}{path}", "json", http), [])
    await http.aclose()
    assert report.skipped == ["item 0: region must be an ISO 3166-1 alpha-2 country code or GLOBAL"]
    assert report.stored == 1


async def test_free_text_is_trimmed_cut_to_its_limit_and_blank_is_absent(
    feed_url: str, uow_factory: Callable[[], UnitOfWork]
) -> None:
    uow, clock = uow_factory(), FixedClock(NOW)
    product = await catalog.create_product(
        uow, clock, catalog.NewProduct(name="Sunset Lamp", description="d"), created_by=None
    )
    path = f"/free-text-{len(Feed.served)}"
    Feed.served[path] = [
        _record(
            " tt-1 ",
            product.id,
            content="  " + "x" * 2500,
            advertiser="A" * 250,
            url="https://www.tiktok.com/@lamps/video/tt-1",
        ),
        _record("tt-2", product.id, content="\u200b \u200b", advertiser=" \u200b ", url=None),
        _record("tt-3", product.id, content="line one\n\tline two"),
    ]
    http = ResilientHttp("feed", FAST)
    report = await collect(uow, clock, HttpFeedSource("feed", f"{feed_url}{path}", "json", http), [])
    await http.aclose()
    assert report.skipped == []
    ads = await _ads(uow, product.id)
    assert set(ads) == {"tt-1", "tt-2", "tt-3"}, "an external id is trimmed as the API trims it"
    assert (ads["tt-1"].ad_content, ads["tt-1"].advertiser) == ("x" * 2000, "A" * 200)
    assert (ads["tt-2"].ad_content, ads["tt-2"].advertiser) == ("tt-2", None)
    assert ads["tt-3"].ad_content == "line one\n\tline two"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_collect_command_skips_a_record_with_a_nul_and_stores_the_rest(
    feed_url: str, database_url: str
) -> None:
    create_product_in(database_url, "Sunset Lamp")
    Feed.served["/nul"] = [
        _record("tt-1", 1),
        _record("tt-\x00", 1),
        _record("tt-2", 1, content="sunset lamp\x00", advertiser="Lamps\x00Co"),
        _record("tt-3", 1),
    ]
    command = [
        sys.executable,
        "-m",
        "marketscout.entrypoints.cli",
        "collect",
        "--feed",
        f"{feed_url}/nul",
        "--format",
        "json",
        "--database-url",
        database_url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "fetched 4, stored 2, duplicates 0, new ads 2, skipped 2" in done.stdout
    assert "skipped: TikTok 'tt-\\x00': external_id: must not hold control characters" in done.stdout
    assert "skipped: TikTok tt-2: content: must not hold control characters other than tabs" in done.stdout


def test_a_feed_records_url_and_advertiser_are_text_whatever_json_type_they_come_as() -> None:
    item = feed_item({**records()[0], "url": 5, "advertiser": 7})
    assert (item.url, item.advertiser) == ("5", "7")


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)  # a stored product
def test_a_source_that_fails_unexpectedly_is_logged_and_the_others_are_collected(
    feed_url: str,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a source's run raises that no adapter translated (a bug, an answer of a shape it did
    not expect) is logged at ERROR with its traceback and counted as a failed source; the other
    sources are still collected (and, watching, the next rounds come as planned)."""
    create_product_in(database_url, "Sunset Lamp")

    async def first_feed_has_a_bug(
        uow: UnitOfWork, clock: Clock, source: SignalSource, keywords: list[tuple[str, int]]
    ) -> CollectReport:
        if source.name.startswith("feed 1 "):
            raise KeyError("items")
        return await collect(uow, clock, source, keywords)

    monkeypatch.setattr(cli_collect, "collect", first_feed_has_a_bug)
    ours = logging.getLogger("marketscout")
    monkeypatch.setattr(ours, "handlers", [*ours.handlers, caplog.handler])
    caplog.set_level(logging.ERROR, logger="marketscout")
    code = cli.main(
        [
            "collect",
            *("--feed", f"{feed_url}/feed", "--feed", f"{feed_url}/feed"),
            *("--keyword", "sunset lamp=1", "--database-url", database_url),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, "one of the two sources was collected"
    assert f"feed 1 ({feed_url}/feed): failed unexpectedly (KeyError): see the log" in out
    assert "stored 3" in out
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors, "logged"
    assert all(r.exc_info is not None and r.exc_info[0] is KeyError for r in errors)
    assert errors[0].getMessage() == f"feed 1 ({feed_url}/feed): the collection failed unexpectedly"
