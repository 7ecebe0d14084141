"""The sources ``marketscout collect`` runs, and how often: a TOML file.

```toml
[[sources]]
name = "youtube"                 # shown in progress lines and summaries
kind = "youtube"                 # youtube | meta_ad_library | tiktok_research | feed
every = "1h"                     # seconds, or "30s", "15m", "1h", "1d"
regions = ["US", "GB"]           # where to search (countries for Meta, regions for TikTok)
max_pages = 2
keywords = { "sunset lamp" = 3, "mini projector" = 7 }   # keyword = product id
# base_url = "http://127.0.0.1:9000"   # a proxy or a local test server instead of the real API

[[sources]]
name = "partner feed"
kind = "feed"
url = "https://partner.example/engagement.ndjson"
format = "ndjson"
every = "15m"
```

Credentials never go in this file: they come from settings (``MARKETSCOUT_YOUTUBE_API_KEY``,
``MARKETSCOUT_META_ACCESS_TOKEN``, ``MARKETSCOUT_TIKTOK_CLIENT_KEY`` and
``MARKETSCOUT_TIKTOK_CLIENT_SECRET``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marketscout.adapters.signals.feed import HttpFeedSource
from marketscout.adapters.signals.http import ResilientHttp
from marketscout.adapters.signals.meta import MetaAdLibrarySource
from marketscout.adapters.signals.tiktok import TikTokResearchSource
from marketscout.adapters.signals.youtube import YouTubeSource
from marketscout.domain.ports import Clock
from marketscout.domain.signals import SignalSource
from marketscout.entrypoints.settings import Settings

KINDS = ("youtube", "meta_ad_library", "tiktok_research", "feed")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_KNOWN = {
    "youtube": {
        "regions",
        "max_pages",
        "keywords",
        "video_ids",
        "published_within_days",
        "quota_units",
        "base_url",
    },
    "meta_ad_library": {
        "regions",
        "max_pages",
        "keywords",
        "active_status",
        "ad_type",
        "api_version",
        "base_url",
    },
    "tiktok_research": {"regions", "max_pages", "keywords", "days", "base_url"},
    "feed": {"url", "format", "keywords"},
}


class SourcesError(ValueError):
    """The sources file is wrong; the message names the source and the key."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    name: str
    kind: str
    every: float  # seconds between runs
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def keywords(self) -> list[tuple[str, int]]:
        return list(self.options.get("keywords", {}).items())


def parse_interval(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(value))
    if match is None or float(match[1]) <= 0:
        raise ValueError('must be a positive number of seconds or like "30s", "15m", "1h", "1d"')
    return float(match[1]) * _UNITS[match[2]]


def _id_table(where: str, key: str, value: object) -> dict[str, int]:
    if not isinstance(value, dict) or not value:
        raise SourcesError(f'{where}: {key} must be a table like {{ "sunset lamp" = 3 }}')
    for name, product_id in value.items():
        if not isinstance(product_id, int) or isinstance(product_id, bool) or product_id < 1:
            raise SourcesError(f"{where}: {key}.{name} must be a product id (a positive integer)")
    return dict(value)


_TEXT_KEYS = ("active_status", "ad_type", "api_version")
_COUNT_KEYS = ("max_pages", "days", "quota_units", "published_within_days")
_TOML_TYPES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "an array"}


def _toml_type(value: object) -> str:
    """What a TOML value is, in TOML's words (a ``dict`` is a table)."""
    if isinstance(value, dict):
        return "a table"
    return _TOML_TYPES.get(type(value), "a date or time")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_http_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _entry(where: str, index: int, entry: dict[str, Any]) -> SourceSpec:
    raw_name = entry.get("name")
    if raw_name is not None and not isinstance(raw_name, str):
        raise SourcesError(f"{where}: source {index}: name must be text, not {_toml_type(raw_name)}")
    name = raw_name or f"source {index}"
    where = f"{where}: source {index} ({name})"
    kind = entry.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise SourcesError(f"{where}: kind must be one of {', '.join(KINDS)}")
    unknown = set(entry) - {"name", "kind", "every"} - _KNOWN[kind]
    if unknown:
        raise SourcesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} for kind {kind}")
    try:
        every = parse_interval(entry.get("every", "1h"))
    except ValueError as error:
        raise SourcesError(f"{where}: every {error}") from None
    options = {k: v for k, v in entry.items() if k not in ("name", "kind", "every")}
    if "keywords" in options or kind != "feed":
        options["keywords"] = _id_table(where, "keywords", options.get("keywords"))
    if "video_ids" in options:
        options["video_ids"] = _id_table(where, "video_ids", options["video_ids"])
    if kind == "feed":
        if not _is_http_url(options.get("url")):
            raise SourcesError(f"{where}: url must be an http(s) URL")
        if options.setdefault("format", "ndjson") not in ("json", "ndjson", "csv"):
            raise SourcesError(f"{where}: format must be json, ndjson or csv")
    for key in _COUNT_KEYS:
        if key in options and not _is_count(options[key]):
            raise SourcesError(f"{where}: {key} must be a positive integer")
    for key in _TEXT_KEYS:
        if key in options and (not isinstance(options[key], str) or not options[key].strip()):
            raise SourcesError(f"{where}: {key} must be text")
    if "base_url" in options and not _is_http_url(options["base_url"]):
        raise SourcesError(f"{where}: base_url must be an http(s) URL")
    if "regions" in options and (
        not isinstance(options["regions"], list)
        or not all(isinstance(r, str) and r for r in options["regions"])
    ):
        raise SourcesError(f"{where}: regions must be a list of region codes")
    return SourceSpec(name=name, kind=kind, every=every, options=options)


def parse_specs(document: object, origin: str = "sources") -> list[SourceSpec]:
    """The sources of a parsed TOML document; :class:`SourcesError` naming the source and the key
    when any level of it is not of the type it must be."""
    if not isinstance(document, dict):
        raise SourcesError(f"{origin}: must be a TOML document of [[sources]] tables")
    entries = document.get("sources")
    if entries is not None and not isinstance(entries, list):
        raise SourcesError(
            f"{origin}: sources must be an array of tables ([[sources]]), not {_toml_type(entries)}"
        )
    if not entries:
        raise SourcesError(f"{origin}: needs at least one [[sources]] table")
    specs: list[SourceSpec] = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise SourcesError(
                f"{origin}: source {index} must be a table ([[sources]]), not {_toml_type(entry)}"
            )
        specs.append(_entry(origin, index, entry))
    return specs


def load_specs(path: Path) -> list[SourceSpec]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SourcesError(f"{path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise SourcesError(f"{path}: not valid TOML ({error})") from None
    return parse_specs(document, str(path))


def _credential(settings: Settings, name: str, spec: SourceSpec) -> str:
    value = getattr(settings, name)
    if not value:
        raise SourcesError(f"source {spec.name!r} ({spec.kind}) needs MARKETSCOUT_{name.upper()}")
    return str(value)


def build_source(spec: SourceSpec, http: ResilientHttp, clock: Clock, settings: Settings) -> SignalSource:
    o = dict(spec.options)
    regions = o.pop("regions", None)
    if spec.kind == "youtube":
        return YouTubeSource(
            spec.name,
            http,
            clock,
            api_key=_credential(settings, "youtube_api_key", spec),
            keywords=list(o.pop("keywords").items()),
            video_ids=list(o.pop("video_ids", {}).items()),
            regions=regions or ["US"],
            **o,
        )
    if spec.kind == "meta_ad_library":
        return MetaAdLibrarySource(
            spec.name,
            http,
            clock,
            access_token=_credential(settings, "meta_access_token", spec),
            keywords=list(o.pop("keywords").items()),
            countries=regions or ["US"],
            **o,
        )
    if spec.kind == "tiktok_research":
        return TikTokResearchSource(
            spec.name,
            http,
            clock,
            client_key=_credential(settings, "tiktok_client_key", spec),
            client_secret=_credential(settings, "tiktok_client_secret", spec),
            keywords=list(o.pop("keywords").items()),
            regions=regions or ["US"],
            **o,
        )
    return HttpFeedSource(spec.name, o["url"], o["format"], http)
