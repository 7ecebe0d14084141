"""ASGI middleware: request ids, structured access logs, security headers (HSTS over HTTPS),
refused CORS preflights."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from litestar.config.cors import CORSConfig
from litestar.constants import DEFAULT_ALLOWED_CORS_HEADERS
from litestar.enums import ScopeType
from litestar.routes import BaseRoute, HTTPRoute
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPScope, Message, Receive, Scope, Send

access_log = logging.getLogger("marketscout.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The id of the request being answered, for every log line written while answering it.
_current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# On HTTPS answers only (browsers ignore it over HTTP): a year, this host only, since the server
# cannot know whether every sibling subdomain serves HTTPS.
HSTS = b"max-age=31536000"
# Only the interactive API docs need an inline script (Swagger UI's start-up), and no CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the fields a log pipeline needs and nothing secret."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms", "client", "user_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Stamps each record written while a request is answered with that request's id, so the
    traceback of a 500 names it as the access line does."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current_request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def configure_logging(level: str) -> None:
    """One JSON object per line on stderr: MarketScout's own records at ``level``, and the
    libraries' (Alembic, Litestar, the server) warnings and errors through the root logger,
    where their INFO chatter ("Context impl SQLiteImpl.") stays out."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    ours = logging.getLogger("marketscout")
    ours.handlers = [handler]
    ours.setLevel(level.upper())
    ours.propagate = False
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(logging.WARNING, ours.level))


def _csp_for(path: str, content_type: bytes) -> str:
    if path.startswith(("/docs", "/schema")):
        return DOCS_CSP
    if content_type.startswith(b"text/html"):
        return HTML_CSP
    return API_CSP


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestContextMiddleware:
    """Gives every request an id, logs one line per answer, adds security headers, and calls
    ``on_write`` for every successful request that may have changed data (any method but GET,
    HEAD and OPTIONS answered below 400) as its answer starts — after the handler committed,
    before the client can ask again: the per-process read cache is cleared there."""

    def __init__(self, app: ASGIApp, on_write: Callable[[], None] | None = None) -> None:
        self.app = app
        self.on_write = on_write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        context = _current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        path = scope["path"]
        http_scope: HTTPScope = scope
        writes = self.on_write is not None and http_scope["method"] not in _READ_METHODS
        # The connection's scheme, or what a trusted proxy forwarded (ForwardedSchemeMiddleware).
        https = http_scope.get("scheme", "http") == "https"  # optional in ASGI, "http" by default

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if writes and status < 400 and self.on_write is not None:
                    self.on_write()
                headers = list(message.get("headers", []))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                present = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                    (b"content-security-policy", _csp_for(path, content_type).encode()),
                ]
                if https:
                    extra.append((b"strict-transport-security", HSTS))
                headers.extend((k, v) for k, v in extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            access_log.info(
                "%s %s %s",
                http_scope["method"],
                path,
                status,
                extra={
                    "request_id": request_id,
                    "method": http_scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": state.get("user_id"),
                },
            )
            _current_request_id.reset(context)


async def send_error(
    send: Send,
    scope: Scope,
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answers ``status`` in the one error shape from ASGI middleware, where Litestar's exception
    handlers do not reach; ``headers`` are added to its own."""
    body = json.dumps(
        {
            "status_code": status,
            "message": message,
            "details": details or [],
            "request_id": scope.get("state", {}).get("request_id"),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


class CorsPreflightChecks:
    """Answers a cross-origin preflight that ``config`` refuses in the one error shape, naming what
    is refused (the ``Origin``, the method or a header asked for); Litestar's CORS middleware,
    which answers every other preflight, would refuse it in plain text."""

    def __init__(self, app: ASGIApp, config: CORSConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = {key.lower(): value.decode("latin-1") for key, value in scope["headers"]}
        origin = headers.get(b"origin")
        details = self._refusals(origin, headers) if origin else []
        if not details:
            await self.app(scope, receive, send)
            return
        await send_error(send, scope, 400, "Cross-origin request refused", details)

    def _refusals(self, origin: str, headers: dict[bytes, str]) -> list[dict[str, Any]]:
        config = self.config
        refused: list[dict[str, Any]] = []
        if not config.is_origin_allowed(origin):
            refused.append({"field": "Origin", "rule": "must be an origin this server allows", "index": None})
        method = headers.get(b"access-control-request-method", "")
        if method and not config.is_allow_all_methods and method not in config.allow_methods:
            allowed = ", ".join(sorted(set(config.allow_methods)))
            refused.append(
                {"field": "Access-Control-Request-Method", "rule": f"must be one of {allowed}", "index": None}
            )
        if not config.is_allow_all_headers:
            allowed_headers = {
                name.lower() for name in (*config.allow_headers, *DEFAULT_ALLOWED_CORS_HEADERS)
            }
            asked = [name.strip() for name in headers.get(b"access-control-request-headers", "").split(",")]
            others = [name for name in asked if name and name.lower() not in allowed_headers]
            if others:
                refused.append(
                    {
                        "field": "Access-Control-Request-Headers",
                        "rule": f"may name only {', '.join(sorted(config.allow_headers))} "
                        f"and the simple headers, not {', '.join(others)}",
                        "index": None,
                    }
                )
        return refused


class HeadAsGet:
    """Answers HEAD wherever GET is answered, as GET answers (status and headers, the rate
    limit's included) without the body (RFC 9110 §9.3.2), and lists in every ``Allow`` header
    (OPTIONS, 405) each method the path answers, HEAD beside GET. Litestar 2 has neither: HEAD
    needs a handler of its own, and its OPTIONS answer on a path served by several handlers lists
    only those registered first (litestar-org/litestar#4169, fixed in 3.0)."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.methods: dict[str, set[str]] = {}  # by path template, as routing names it
        for route in routes:
            if isinstance(route, HTTPRoute):
                self.methods.setdefault(route.path_format, set()).update(route.methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        served: HTTPScope = {**scope, "method": "GET"} if head else scope

        async def send_answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if any(name.lower() == b"allow" for name, _ in headers):
                    message = {**message, "headers": self._allowing(headers, served)}
            elif head:  # the body, or a file to send (ASGI's pathsend): nothing of it
                nothing: HTTPResponseBodyEvent = {
                    "type": "http.response.body",
                    "body": b"",
                    "more_body": bool(message.get("more_body", False)),
                }
                message = nothing
            await send(message)

        await self.app(served, receive, send_answer)

    def _allowing(self, headers: list[tuple[bytes, bytes]], scope: HTTPScope) -> list[tuple[bytes, bytes]]:
        """``headers`` with ``Allow`` listing every method of the path routed to (a 405, routed
        nowhere, has them all already)."""
        methods = {
            method.strip()
            for name, value in headers
            if name.lower() == b"allow"
            for method in value.decode("latin-1").split(",")
        }
        methods |= self.methods.get(scope.get("path_template", ""), set())
        if "GET" in methods:
            methods.add("HEAD")
        allow = ", ".join(sorted(methods)).encode()
        return [*((k, v) for k, v in headers if k.lower() != b"allow"), (b"allow", allow)]
