"""The YouTube, Meta Ad Library and TikTok Research adapters against a local server that
answers in each API's documented format, and ``marketscout collect --sources`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.adapters.signals.http import ResilientHttp, RetryPolicy
from marketscout.adapters.signals.meta import MetaAdLibrarySource
from marketscout.adapters.signals.tiktok import TikTokResearchSource
from marketscout.adapters.signals.youtube import YouTubeSource
from marketscout.adapters.sql import migrate
from marketscout.domain.model import Platform
from marketscout.domain.signals import CollectedItem, SourceUnavailable
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.collection import collect
from marketscout.entrypoints.settings import Settings
from marketscout.entrypoints.sources import SourcesError, build_source, parse_specs
from tests.databases import create_product_in
from tests.platforms import (
    META_TOKEN,
    TIKTOK_KEY,
    TIKTOK_SECRET,
    YOUTUBE_KEY,
    PlatformServer,
    platform_server,
)

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=1.0, timeout=5.0, failures_to_open=50)


@pytest.fixture
def server() -> Iterator[PlatformServer]:
    with platform_server() as running:
        yield running


@pytest.fixture
async def http() -> ResilientHttp:
    return ResilientHttp("test", FAST)


def _youtube(server: PlatformServer, http: ResilientHttp, **options: Any) -> YouTubeSource:
    options.setdefault("api_key", YOUTUBE_KEY)
    return YouTubeSource("yt", http, FixedClock(NOW), base_url=server.base, **options)


def _meta(server: PlatformServer, http: ResilientHttp, **options: Any) -> MetaAdLibrarySource:
    options.setdefault("access_token", META_TOKEN)
    return MetaAdLibrarySource("meta", http, FixedClock(NOW), base_url=server.base, **options)


def _tiktok(server: PlatformServer, http: ResilientHttp, **options: Any) -> TikTokResearchSource:
    options = {"client_key": TIKTOK_KEY, "client_secret": TIKTOK_SECRET, **options}
    return TikTokResearchSource(
        "tiktok", http, options.pop("clock", FixedClock(NOW)), base_url=server.base, **options
    )


def _by_id(items: list[CollectedItem]) -> dict[str, CollectedItem]:
    return {item.external_id: item for item in items}


async def test_youtube_searches_pages_then_reads_statistics(
    server: PlatformServer, http: ResilientHttp
) -> None:
    source = _youtube(server, http, keywords=[("sunset lamp", 4)], max_pages=3)
    result = await source.fetch()
    await http.aclose()
    items = _by_id(result.items)
    assert set(items) == {"Ks-_Mh1QhMc", "c0KYU2j0TM4"}
    first = items["Ks-_Mh1QhMc"]
    assert (first.platform, first.region, first.product_id, first.observed_at) == (
        Platform.YOUTUBE,
        "GLOBAL",
        4,
        NOW,
    )
    assert (first.views, first.likes, first.comments, first.shares) == (1534812, 84210, 2103, 0)
    assert first.first_seen_at == datetime(2026, 11, 20, 15, 0, 7, tzinfo=UTC)
    assert first.advertiser == "Room Glow"
    assert first.url == "https://www.youtube.com/watch?v=Ks-_Mh1QhMc"
    assert "sunset lamp changed my room" in first.content
    assert items["c0KYU2j0TM4"].likes == 0, "hidden like counts read as 0"
    assert any("eIho2S0ZahI" in s and "ValueError" in s for s in result.skipped), result.skipped
    assert any("gone0000000" in s and "not returned" in s for s in result.skipped), result.skipped
    searches = server.calls("/youtube/v3/search")
    assert len(searches) == 2, "the second page has no nextPageToken"
    assert searches[0]["query"]["regionCode"] == "US" and searches[0]["query"]["type"] == "video"
    assert searches[1]["query"]["pageToken"] == "CAUQAA"
    [videos] = server.calls("/youtube/v3/videos")
    assert set(videos["query"]["id"].split(",")) == {
        "Ks-_Mh1QhMc",
        "c0KYU2j0TM4",
        "eIho2S0ZahI",
        "gone0000000",
    }
    assert source.units_spent == 201, "two searches at 100 units and one videos.list at 1"


async def test_youtube_keeps_within_its_quota_budget(server: PlatformServer, http: ResilientHttp) -> None:
    source = _youtube(server, http, keywords=[("sunset lamp", 4)], max_pages=3, quota_units=150)
    result = await source.fetch()
    await http.aclose()
    assert len(server.calls("/youtube/v3/search")) == 1
    assert any("quota budget of 150 units" in s for s in result.skipped)
    assert {i.external_id for i in result.items} == {"Ks-_Mh1QhMc", "c0KYU2j0TM4"}


async def test_youtube_errors_name_the_reason_not_the_key(
    server: PlatformServer, http: ResilientHttp
) -> None:
    exhausted = _youtube(server, http, keywords=[("quota", 4)])
    with pytest.raises(SourceUnavailable, match="quotaExceeded"):
        await exhausted.fetch()
    tracked = _youtube(server, http, keywords=[("quota", 4)], video_ids=[("Ks-_Mh1QhMc", 4)])
    result = await tracked.fetch()
    assert [i.external_id for i in result.items] == ["Ks-_Mh1QhMc"], "tracked videos are still read"
    assert any("search stopped" in s and "quotaExceeded" in s for s in result.skipped)
    wrong = _youtube(server, http, api_key="leaked-key", keywords=[("x", 4)])
    with pytest.raises(SourceUnavailable) as raised:
        await wrong.fetch()
    await http.aclose()
    assert "API key not valid" in raised.value.message
    assert "leaked-key" not in raised.value.message


async def test_meta_ad_library_pages_and_maps_reach(server: PlatformServer, http: ResilientHttp) -> None:
    source = _meta(server, http, keywords=[("sunset lamp", 2)], countries=["DE"])
    result = await source.fetch()
    await http.aclose()
    items = _by_id(result.items)
    assert set(items) == {"1096283748291833", "874455001239941", "552100938812"}
    ranged = items["1096283748291833"]
    assert (ranged.platform, ranged.region, ranged.views, ranged.product_id) == (
        Platform.FACEBOOK,
        "DE",
        12499,
        2,
    )
    assert ranged.first_seen_at == datetime(2026, 11, 11, tzinfo=UTC)
    assert ranged.content.startswith("Sunset Lamp Pro")
    assert ranged.advertiser == "Glow Home"
    assert ranged.url == "https://www.facebook.com/ads/library/?id=1096283748291833"
    assert (items["874455001239941"].platform, items["874455001239941"].views) == (Platform.INSTAGRAM, 48211)
    assert items["552100938812"].views == 1_000_000, "an open-ended range counts its lower bound"
    assert any("3310088275516" in s and "no impressions" in s for s in result.skipped), result.skipped
    first, second = server.calls("/v21.0/ads_archive")
    assert json.loads(first["query"]["ad_reached_countries"]) == ["DE"]
    assert "impressions" in first["query"]["fields"] and first["query"]["limit"] == "100"
    assert second["query"]["after"] == "c2Vjb25k", "the next page follows paging.next"
    assert all(META_TOKEN not in (i.url or "") + i.content for i in result.items), "the token is never stored"


async def test_meta_rate_limits_and_bad_tokens(server: PlatformServer, http: ResilientHttp) -> None:
    limited = _meta(server, http, keywords=[("limited", 2)])
    with pytest.raises(SourceUnavailable, match=r"rate limited \(code 613\)"):
        await limited.fetch()
    expired = _meta(server, http, access_token="old", keywords=[("x", 2)])
    with pytest.raises(SourceUnavailable, match=r"invalid or expired token \(code 190\)"):
        await expired.fetch()
    await http.aclose()


async def test_tiktok_research_token_pages_and_mapping(server: PlatformServer, http: ResilientHttp) -> None:
    source = _tiktok(server, http, keywords=[("sunset lamp", 3)], regions=["US", "GB", "CA"], days=7)
    result = await source.fetch()
    await http.aclose()
    items = _by_id(result.items)
    assert set(items) == {"7301847563829018123", "7301847563829018456", "7301847563829018789"}
    top = items["7301847563829018123"]
    assert (top.platform, top.region, top.views, top.likes, top.comments, top.shares) == (
        Platform.TIKTOK,
        "US",
        2300411,
        301233,
        1290,
        8812,
    )
    assert top.url == "https://www.tiktok.com/@roomglow/video/7301847563829018123"
    assert top.first_seen_at == datetime.fromtimestamp(1763900000, UTC)
    assert items["7301847563829018456"].region == "GB", "region codes are upper-cased"
    assert any("7301847563829018999" in s and "KeyError" in s for s in result.skipped), result.skipped
    assert server.tokens_issued == 1, "one token serves every page"
    first, second = server.calls("/v2/research/video/query/")
    sent = json.loads(first["body"])
    assert sent["query"]["and"][0] == {
        "operation": "IN",
        "field_name": "region_code",
        "field_values": ["US", "GB", "CA"],
    }
    assert (sent["start_date"], sent["end_date"], sent["max_count"]) == ("20261119", "20261125", 100)
    follow = json.loads(second["body"])
    assert (follow["cursor"], follow["search_id"]) == (100, "7201388525814961198")


async def test_tiktok_renews_a_refused_token_once_and_stops_on_rate_limits(
    server: PlatformServer, http: ResilientHttp
) -> None:
    server.refuse_first_token = True
    source = _tiktok(server, http, keywords=[("sunset lamp", 3)])
    assert len((await source.fetch()).items) == 3
    assert server.tokens_issued == 2
    limited = _tiktok(server, http, keywords=[("limited", 3)])
    with pytest.raises(SourceUnavailable, match="429"):
        await limited.fetch()
    wrong = _tiktok(server, http, client_secret="nope", keywords=[("x", 3)])
    with pytest.raises(SourceUnavailable, match="invalid_client"):
        await wrong.fetch()
    await http.aclose()


async def test_collecting_twice_at_the_same_time_stores_nothing_twice(
    server: PlatformServer, http: ResilientHttp
) -> None:
    uow, clock = InMemoryUnitOfWork(InMemoryStore()), FixedClock(NOW)
    product = await catalog.create_product(
        uow, clock, catalog.NewProduct(name="Sunset Lamp", description="d"), created_by=None
    )
    source = _tiktok(server, http, keywords=[("sunset lamp", product.id)], clock=clock)
    first = await collect(uow, clock, source, [])
    again = await collect(uow, clock, source, [])
    await http.aclose()
    assert (first.stored, first.ads_created) == (3, 3)
    assert (again.stored, again.duplicates, again.ads_created) == (0, 3, 0)
    async with uow:
        ads = await uow.ads.list(skip=0, limit=10, product_id=product.id)
    assert {ad.first_seen_at for ad in ads} == {
        datetime.fromtimestamp(t, UTC) for t in (1763900000, 1763950000, 1763990000)
    }, "an ad starts when its video was created, not when we first saw it"


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"kind": "myspace"}, "kind must be one of"),
        ({"kind": "youtube", "keywords": {"lamp": 1}, "every": "soon"}, "every must be"),
        ({"kind": "youtube", "keywords": {"lamp": "one"}}, "keywords.lamp must be a product id"),
        ({"kind": "youtube"}, "keywords must be a table"),
        ({"kind": "tiktok_research", "keywords": {"lamp": 1}, "api_key": "x"}, "unknown key(s) api_key"),
        ({"kind": "feed", "url": "file:///etc/passwd"}, "url must be an http(s) URL"),
        (
            {"kind": "meta_ad_library", "keywords": {"lamp": 1}, "max_pages": 0},
            "max_pages must be a positive",
        ),
    ],
)
def test_bad_source_files_are_refused_naming_source_and_key(entry: dict[str, object], fragment: str) -> None:
    with pytest.raises(SourcesError, match="source 1") as raised:
        parse_specs({"sources": [entry]})
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"sources": ["a"]}, "sources: source 1 must be a table ([[sources]]), not a string"),
        (
            {"sources": {"name": "x"}},
            "sources: sources must be an array of tables ([[sources]]), not a table",
        ),
        ({"sources": "youtube"}, "sources: sources must be an array of tables ([[sources]]), not a string"),
        (["sources"], "sources: must be a TOML document of [[sources]] tables"),
        ({"sources": [{"kind": "feed", "url": "http://x", "name": 5}]}, "source 1: name must be text"),
        ({"sources": [{"kind": ["youtube"]}]}, "source 1 (source 1): kind must be one of"),
        (
            {"sources": [{"kind": "youtube", "keywords": {"lamp": 1}, "max_pages": True}]},
            "source 1 (source 1): max_pages must be a positive integer",
        ),
        (
            {"sources": [{"kind": "youtube", "keywords": {"lamp": 1}, "quota_units": 2.5}]},
            "quota_units must be a positive integer",
        ),
        (
            {"sources": [{"kind": "meta_ad_library", "keywords": {"lamp": 1}, "ad_type": 3}]},
            "ad_type must be text",
        ),
        (
            {"sources": [{"kind": "tiktok_research", "keywords": {"lamp": 1}, "base_url": ["x"]}]},
            "base_url must be an http(s) URL",
        ),
        ({"sources": [{"kind": "feed", "url": "http://x", "format": ["csv"]}]}, "format must be json"),
        ({"sources": [{"kind": "youtube", "keywords": ["lamp"]}]}, "keywords must be a table"),
    ],
)
def test_a_sources_file_of_the_wrong_shape_is_refused_naming_where(document: Any, fragment: str) -> None:
    with pytest.raises(SourcesError) as raised:
        parse_specs(document)
    assert fragment in str(raised.value)


def test_collect_refuses_a_sources_file_of_plain_strings_in_one_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('sources = ["a"]\n', encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "marketscout.entrypoints.cli",
        "collect",
        "--sources",
        str(sources),
        "--once",
        "--database-url",
        _fresh_instance(tmp_path),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=_credentials()
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr == f"marketscout: {sources}: source 1 must be a table ([[sources]]), not a string\n"


def test_a_missing_credential_names_its_setting() -> None:
    [spec] = parse_specs({"sources": [{"kind": "meta_ad_library", "keywords": {"lamp": 1}, "every": "15m"}]})
    assert spec.every == 900
    with pytest.raises(SourcesError, match="MARKETSCOUT_META_ACCESS_TOKEN"):
        build_source(spec, ResilientHttp("x"), FixedClock(NOW), Settings())


def _fresh_instance(tmp_path: Path) -> str:
    """A migrated SQLite database holding one product, Sunset Lamp (id 1)."""
    url = f"sqlite:///{tmp_path / 'collect.sqlite3'}"
    migrate.upgrade(url)
    create_product_in(url, "Sunset Lamp")
    return url


def _credentials() -> dict[str, str]:
    """The environment of a collect run: every platform's credential, quiet logs."""
    return {
        **os.environ,
        "MARKETSCOUT_YOUTUBE_API_KEY": YOUTUBE_KEY,
        "MARKETSCOUT_META_ACCESS_TOKEN": META_TOKEN,
        "MARKETSCOUT_TIKTOK_CLIENT_KEY": TIKTOK_KEY,
        "MARKETSCOUT_TIKTOK_CLIENT_SECRET": TIKTOK_SECRET,
        "MARKETSCOUT_LOG_LEVEL": "ERROR",
    }


def test_collect_fills_a_fresh_instance_from_every_platform(server: PlatformServer, tmp_path: Path) -> None:
    url = _fresh_instance(tmp_path)
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f"""
[[sources]]
name = "youtube"
kind = "youtube"
every = "1h"
keywords = {{ "sunset lamp" = 1 }}
max_pages = 2
base_url = "{server.base}"

[[sources]]
name = "meta"
kind = "meta_ad_library"
every = "6h"
regions = ["FR"]
keywords = {{ "sunset lamp" = 1 }}
base_url = "{server.base}"

[[sources]]
name = "tiktok"
kind = "tiktok_research"
every = "30m"
regions = ["US", "GB", "CA"]
keywords = {{ "sunset lamp" = 1 }}
base_url = "{server.base}"
""",
        encoding="utf-8",
    )
    env = _credentials()
    command = [
        sys.executable,
        "-m",
        "marketscout.entrypoints.cli",
        "collect",
        "--sources",
        str(sources),
        "--once",
        "--database-url",
        url,
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True, env=env)
    lines = first.stdout.splitlines()
    assert "youtube: fetched 2, stored 2, duplicates 0, new ads 2, skipped 2" in lines, first.stdout
    assert "meta: fetched 3, stored 3, duplicates 0, new ads 3, skipped 1" in lines, first.stdout
    assert "tiktok: fetched 3, stored 3, duplicates 0, new ads 3, skipped 1" in lines, first.stdout
    assert "[3/3] collecting tiktok" in first.stderr, "progress goes to the terminal"
    second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True, env=env)
    assert second.stdout.count("new ads 0") == 3, "a second run creates no ad twice"
    for secret in (YOUTUBE_KEY, META_TOKEN, TIKTOK_SECRET):
        assert secret not in first.stdout + first.stderr + second.stdout + second.stderr


def test_collect_runs_each_source_on_its_own_schedule(server: PlatformServer, tmp_path: Path) -> None:
    url = _fresh_instance(tmp_path)
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f"""
[[sources]]
name = "fast"
kind = "tiktok_research"
every = "1s"
keywords = {{ "sunset lamp" = 1 }}
base_url = "{server.base}"

[[sources]]
name = "slow"
kind = "tiktok_research"
every = "1h"
keywords = {{ "sunset lamp" = 1 }}
base_url = "{server.base}"
""",
        encoding="utf-8",
    )
    env = {**_credentials(), "MARKETSCOUT_SOURCES_FILE": str(sources)}
    command = [
        sys.executable,
        "-m",
        "marketscout.entrypoints.cli",
        "collect",
        "--runs",
        "3",
        "--database-url",
        url,
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True, env=env)
    lines = done.stdout.splitlines()
    assert sum(line.startswith("fast:") for line in lines) == 3, done.stdout
    assert sum(line.startswith("slow:") for line in lines) == 1, "not due again within the hour"
    assert time.monotonic() - started >= 2, "the second and third runs waited for their interval"
