"""A local stand-in for the YouTube, Meta Ad Library and TikTok Research APIs.

It serves the recorded answers in ``tests/fixtures/platforms`` and checks what the adapters
send the way the real APIs do: the credential, the documented parameters, the page tokens.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.receivers import serve_in_thread

FIXTURES = Path(__file__).parent / "fixtures" / "platforms"
YOUTUBE_KEY, META_TOKEN = "yt-key", "meta-token"
TIKTOK_KEY, TIKTOK_SECRET = "tt-key", "tt-secret"


@dataclass
class PlatformServer:
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    refuse_first_token: bool = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fixture(self, name: str) -> Any:
        return json.loads((FIXTURES / name).read_text().replace("{base}", self.base))

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        self.requests.append(
            {"method": method, "path": path, "query": query, "headers": headers, "body": body}
        )
        if path == "/youtube/v3/search" and method == "GET":
            if query.get("key") != YOUTUBE_KEY:
                return 400, self.fixture("youtube_bad_key.json")
            if query.get("q") == "quota":
                return 403, self.fixture("youtube_quota_exceeded.json")
            page = (
                "youtube_search_page2.json"
                if query.get("pageToken") == "CAUQAA"
                else "youtube_search_page1.json"
            )
            return 200, self.fixture(page)
        if path == "/youtube/v3/videos" and method == "GET":
            if query.get("key") != YOUTUBE_KEY:
                return 400, self.fixture("youtube_bad_key.json")
            wanted = set(query.get("id", "").split(","))
            listing = self.fixture("youtube_videos.json")
            listing["items"] = [v for v in listing["items"] if v["id"] in wanted]
            return 200, listing
        if path == "/v21.0/ads_archive" and method == "GET":
            if query.get("access_token") != META_TOKEN:
                return 400, self.fixture("meta_bad_token.json")
            if query.get("search_terms") == "limited":
                return 400, self.fixture("meta_rate_limited.json")
            return 200, self.fixture("meta_ads_page2.json" if query.get("after") else "meta_ads_page1.json")
        if path == "/v2/oauth/token/" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if (form.get("client_key"), form.get("client_secret"), form.get("grant_type")) != (
                TIKTOK_KEY,
                TIKTOK_SECRET,
                "client_credentials",
            ):
                return 401, {
                    "error": "invalid_client",
                    "error_description": "Client key or secret is incorrect.",
                }
            self.tokens_issued += 1
            token = self.fixture("tiktok_token.json")
            token["access_token"] = f"clt.token-{self.tokens_issued}"
            return 200, token
        if path == "/v2/research/video/query/" and method == "POST":
            valid = f"Bearer clt.token-{self.tokens_issued}"
            if headers.get("authorization") != valid or (self.refuse_first_token and self.tokens_issued == 1):
                return 401, self.fixture("tiktok_invalid_token.json")
            if "fields" not in query:
                return 400, {"data": {}, "error": {"code": "invalid_params", "message": "fields is required"}}
            request = json.loads(body)
            keyword = request["query"]["and"][1]["field_values"][0]
            if keyword == "limited":
                return 429, self.fixture("tiktok_rate_limited.json")
            return 200, self.fixture(
                "tiktok_query_page2.json" if request.get("cursor") else "tiktok_query_page1.json"
            )
        return 404, {"error": {"message": f"no route {method} {path}"}}


@contextmanager
def platform_server() -> Iterator[PlatformServer]:
    state = PlatformServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = self.rfile.read(int(self.headers.get("content-length", "0") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload = state.answer(self.command, parts.path, query, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            if status == 429:
                self.send_header("retry-after", "0")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        state.port = port
        yield state
