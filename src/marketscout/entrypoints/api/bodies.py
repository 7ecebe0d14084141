"""JSON request bodies, checked before Litestar converts them.

Litestar reads a handler's body while it gathers the handler's arguments, before it resolves the
signed-in user, and converts the body leniently (``"1"`` for an integer, whatever the content
type). :class:`RequestChecks` runs first, as the app's ``before_request``: the bearer token of a
route that needs a signed-in user (401 before the body is read), the query string
(:class:`StrictQuery`), the content type (415), and the body decoded strictly into the handler's
schema (400 for bytes that are not UTF-8 or not JSON, 422 naming the field and the rule). A body
that passes converts to the same value under Litestar's lenient rules.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler

from marketscout.domain.model import AlertRuleKind, Channel, DeliveryStatus, Platform, TrendStatus, User
from marketscout.domain.text import BLANK_RULE, MULTI_LINE, ONE_LINE, WEB_URL_PATTERN, WEB_URL_RULE, at_most
from marketscout.domain.usecases.accounts import USERNAME_PATTERN, USERNAME_RULE
from marketscout.entrypoints.api.path_ids import badly_written_id, refused
from marketscout.entrypoints.openapi import StrictQuery, needs_user

_LOCATION = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_EXPECTED = re.compile(r"^Expected `(?P<wanted>[^`]+)`, got `(?P<got>[^`]+)`$")
_PATTERN = re.compile(r"^Expected `str` matching regex '(?P<pattern>.*)'$")
_LENGTH = re.compile(r"^Expected `(?P<kind>str|array)` of length (?P<bound>[<>])= (?P<n>\d+)$")
# Each pattern of a schema by the domain's rule it checks early (msgspec and Litestar quote a
# pattern with its backslashes doubled).
_PATTERN_RULES = {
    pattern.replace("\\", "\\\\"): rule
    for pattern, rule in (
        (ONE_LINE.pattern, ONE_LINE.rule),
        (MULTI_LINE.pattern, MULTI_LINE.rule),
        (USERNAME_PATTERN.pattern, USERNAME_RULE),
        (WEB_URL_PATTERN, WEB_URL_RULE),
    )
}
_KINDS = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
    "datetime": "an RFC 3339 time",
}


def _kind(name: str) -> str:
    return " or ".join(_KINDS.get(part, part) for part in name.split(" | "))


# A choice's error names the allowed values, so the client can correct itself.
_ALLOWED = {
    "platform": ", ".join(p.value for p in Platform),
    "kind": ", ".join(k.value for k in AlertRuleKind),
    "status": ", ".join(t.value for t in TrendStatus),
    "channels": ", ".join(c.value for c in Channel),
    "level": "continent, country",
}
# Where a route's field of the same name takes other values.
_ALLOWED_AT = {("/deliveries", "status"): ", ".join(d.value for d in DeliveryStatus)}
_INDEX = re.compile(r"\[\d+\]$")


def named(field: str, rule: str, path: str = "") -> tuple[str, str]:
    """A decoder's ``rule`` about ``field`` (at the route ``path``) in a client's words: a
    missing or unknown field by its own name, a choice with its allowed values (``channels[0]``:
    those of ``channels``)."""
    if found := _MISSING.match(rule):
        return _join("" if field in {"body", "data"} else field, found.group("name")), "is required"
    if found := _UNKNOWN.match(rule):
        return _join("" if field in {"body", "data"} else field, found.group("name")), "is not a known field"
    leaf = _INDEX.sub("", field.rsplit(".", 1)[-1])
    if rule.startswith("Invalid enum value") and (
        allowed := _ALLOWED_AT.get((path, leaf), _ALLOWED.get(leaf))
    ):
        return field, f"must be one of: {allowed}"
    return field, rule


def describe(error: msgspec.ValidationError) -> tuple[str, str]:
    """The field (a path such as ``alert_ids[0]``; ``body`` for the whole) and the rule that
    ``error`` reports, in words a client reads: which field is missing or unknown, which type
    was expected."""
    rule, path = str(error), ""
    located = _LOCATION.search(rule)
    if located:
        rule, path = rule[: located.start()], located.group("path").removeprefix(".")
    if _MISSING.match(rule) or _UNKNOWN.match(rule):
        return named(path, rule)
    if expected := _EXPECTED.match(rule):
        rule = f"expected {_kind(expected.group('wanted'))}, got {_kind(expected.group('got'))}"
    return named(path or "body", readable(rule))


def readable(rule: str) -> str:
    """A rule in words: a pattern by the domain's rule it checks rather than its regex, a length
    as the domain says it (``must be at most 200 characters``, ``must not be blank``)."""
    if (pattern := _PATTERN.match(rule)) and (meaning := _PATTERN_RULES.get(pattern.group("pattern"))):
        return meaning
    if length := _LENGTH.match(rule):
        n = int(length.group("n"))
        if length.group("kind") == "array":
            return f"must hold at {'most' if length.group('bound') == '<' else 'least'} {n} items"
        if length.group("bound") == "<":
            return at_most(n)
        return BLANK_RULE if n == 1 else f"must be at least {n} characters"
    return rule[:300]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def media_type(request: Request[Any, Any, Any]) -> str:
    """The declared content type without its parameters, lower case ('' when none is sent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


NOT_UTF8 = HTTPException(
    status_code=400,
    detail="The body is not valid UTF-8",
    extra=[{"key": "body", "message": "must be valid UTF-8"}],
)
NOT_JSON = HTTPException(
    status_code=400,
    detail="The body is not valid JSON",
    extra=[{"key": "body", "message": "must be well-formed JSON"}],
)


def unsupported(accepted: str) -> HTTPException:
    return HTTPException(status_code=415, detail=f"Send the body as {accepted}")


def _json_body_type(handler: HTTPRouteHandler) -> Any:
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None or data.kwarg_definition is None:
        return None
    if getattr(data.kwarg_definition, "media_type", None) != RequestEncodingType.JSON:
        return None
    return data.annotation


class RequestChecks:
    """The app's ``before_request``: who is asking, then the ids in the path, then the query, then
    the body's type and shape."""

    def __init__(self, authenticate: Callable[[Request[Any, Any, Any]], Awaitable[User]]) -> None:
        self._authenticate = authenticate
        self._query = StrictQuery()
        self._decoders: dict[int, msgspec.json.Decoder[Any] | None] = {}
        self._typed_paths: dict[str, str] | None = None

    def _badly_written_id(self, request: Request[Any, Any, Any]) -> str | None:
        # Routing leaves the matched route's path without its types (``/products/{product_id}``).
        if self._typed_paths is None:
            self._typed_paths = {route.path_format: route.path for route in request.app.routes}
        template = self._typed_paths.get(request.scope.get("path_template", ""), "")
        return badly_written_id(template, request.scope["path"]) if ":int}" in template else None

    def _decoder(self, handler: HTTPRouteHandler) -> msgspec.json.Decoder[Any] | None:
        key = id(handler)
        if key not in self._decoders:
            body_type = _json_body_type(handler)
            self._decoders[key] = msgspec.json.Decoder(body_type) if body_type is not None else None
        return self._decoders[key]

    async def __call__(self, request: Request[Any, Any, Any]) -> None:
        handler = request.route_handler
        if needs_user(handler):
            await self._authenticate(request)
        if name := self._badly_written_id(request):
            raise refused(name)
        await self._query(request)
        decoder = self._decoder(handler)
        if decoder is None:
            return
        body = await request.body()
        if not body:
            return  # the handler's own answer: the body is required
        if not is_json(media_type(request)):
            raise unsupported("application/json")
        try:
            body.decode()  # the decoder skips unknown fields unread: check every byte
        except UnicodeDecodeError:
            raise NOT_UTF8 from None
        try:
            decoder.decode(body)
        except msgspec.ValidationError as error:
            field, rule = describe(error)
            raise ValidationException(extra=[{"key": field, "message": rule}]) from None
        except msgspec.DecodeError:
            raise NOT_JSON from None
