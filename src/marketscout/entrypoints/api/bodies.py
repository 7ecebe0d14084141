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

import json
import re
import typing
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

import msgspec
import msgspec.inspect as types
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler

from marketscout.domain.model import AlertRuleKind, Channel, DeliveryStatus, Platform, TrendStatus, User
from marketscout.domain.text import BLANK_RULE, MULTI_LINE, ONE_LINE, WEB_URL_PATTERN, WEB_URL_RULE, at_most
from marketscout.domain.usecases.accounts import USERNAME_PATTERN, USERNAME_RULE
from marketscout.entrypoints.api.params import INSTANT_RULE
from marketscout.entrypoints.api.path_ids import badly_written_id, refused
from marketscout.entrypoints.api.rules import items, span
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
# A value of the wrong kind or out of its bounds, or a time that is not one.
_BOUND = re.compile(r"^Expected `(?P<kind>int|float)` (?P<op>>=|>|<=|<) (?P<n>-?[\d.e+]+)$")
# A number JSON allows and no float holds (1e999).
_NO_FLOAT = "Number out of range"
_TIME = re.compile(r"^(Invalid RFC3339 encoded datetime|Expected `datetime` with (a|no) timezone component)$")
# Each kind msgspec names, as what a value must be.
_KINDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "array": "an array",
    "object": "an object",
}


def _wanted(kinds: str) -> str:
    """What msgspec's ``Expected `int | null``` asks for, as a rule (null is how a field is left out)."""
    wanted = [kind for kind in kinds.split(" | ") if kind != "null"]
    if wanted == ["datetime"]:
        return INSTANT_RULE
    return "must be " + " or ".join(_KINDS.get(kind, kind) for kind in wanted or ["null"])


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


def describe(error: msgspec.ValidationError, of: Any = None) -> tuple[str, str]:
    """The field (a path such as ``alert_ids[0]``; ``body`` for the whole) and the rule that
    ``error`` reports, in words a client reads: which field is missing or unknown, and what a
    value must be. Given the type ``of`` the value decoded into, a value of the wrong kind or out
    of its bounds is told the field's whole rule (``must be a whole number from 1 to 720``),
    whatever is wrong with it."""
    rule, path = str(error), ""
    located = _LOCATION.search(rule)
    if located:
        rule, path = rule[: located.start()], located.group("path").removeprefix(".")
    if _MISSING.match(rule) or _UNKNOWN.match(rule):
        return named(path, rule)
    if of is not None and (
        _EXPECTED.match(rule) or _BOUND.match(rule) or _TIME.match(rule) or rule == _NO_FLOAT
    ):
        rule = rule_of(_type_at(_info(of), path)) or rule
    return named(path or "body", readable(rule))


def every_problem(raw: bytes, of: Any) -> list[tuple[str, str]]:
    """Each field of ``raw``, a JSON object decoded into the struct type ``of``, that breaks its
    rule (the first problem within it), as :func:`describe` says it: the decoder stops at the
    first. Empty when that cannot be told field by field (not an object, a rule across fields)."""
    options = [option for option in _choices(_info(of)) if isinstance(option, types.StructType)]
    try:
        document = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return []
    if len(options) != 1 or not isinstance(document, dict):
        return []
    (struct,) = options
    fields = {field.encode_name: field for field in struct.fields}
    hints = _hints(struct.cls)
    problems: list[tuple[str, str]] = []
    for name, value in document.items():
        field = fields.get(name)
        if field is None:
            problems.append(describe(msgspec.ValidationError(f"Object contains unknown field `{name}`"), of))
            continue
        try:
            msgspec.convert(value, hints[field.name])
        except msgspec.ValidationError as error:
            rule, located = str(error), ""
            if found := _LOCATION.search(rule):
                rule, located = rule[: found.start()], found.group("path")
            problems.append(describe(msgspec.ValidationError(f"{rule} - at `$.{name}{located}`"), of))
    problems.extend(
        (field.encode_name, "is required")
        for field in struct.fields
        if field.required and field.encode_name not in document
    )
    return problems


@lru_cache(maxsize=64)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def readable(rule: str) -> str:
    """A rule in words: a pattern by the domain's rule it checks rather than its regex, a length
    as the domain says it (``must be at most 200 characters``, ``must not be blank``), a kind
    or a bound as what a value must be (``must be a whole number of at least 1``)."""
    if (pattern := _PATTERN.match(rule)) and (meaning := _PATTERN_RULES.get(pattern.group("pattern"))):
        return meaning
    if length := _LENGTH.match(rule):
        n = int(length.group("n"))
        if length.group("kind") == "array":
            return f"must hold at {'most' if length.group('bound') == '<' else 'least'} {n} items"
        if length.group("bound") == "<":
            return at_most(n)
        return BLANK_RULE if n == 1 else f"must be at least {n} characters"
    if found := _BOUND.match(rule):
        limit = {">=": "ge", ">": "gt", "<=": "le", "<": "lt"}[found.group("op")]
        return f"must be {_KINDS[found.group('kind')]}{span(**{limit: float(found.group('n'))})}"
    if expected := _EXPECTED.match(rule):
        return _wanted(expected.group("wanted"))
    if _TIME.match(rule):
        return INSTANT_RULE
    return rule[:300]


@lru_cache(maxsize=64)
def _info(of: Any) -> types.Type:
    return types.type_info(of)


def _choices(info: types.Type) -> list[types.Type]:
    """The types a value may have (a union's, without null), constraints kept."""
    while isinstance(info, types.Metadata):
        info = info.type
    if isinstance(info, types.UnionType):
        return [choice for option in info.types for choice in _choices(option)]
    return [] if isinstance(info, types.NoneType) else [info]


def _type_at(info: types.Type, path: str) -> types.Type | None:
    """The type of the value at ``path`` (``alert_ids[0]``) in a value of type ``info``."""
    current: types.Type | None = info
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        options = _choices(current) if current is not None else []
        current = None
        for option in options:
            if index and isinstance(option, types.ListType | types.SetType | types.VarTupleType):
                current = option.item_type
            elif name and isinstance(option, types.StructType):
                current = next((f.type for f in option.fields if f.encode_name == name), None)
            elif name and isinstance(option, types.DictType):
                current = option.value_type
            if current is not None:
                break
    return current


def rule_of(info: types.Type | None) -> str | None:
    """What a value of type ``info`` must be, bounds stated; None when it may be one of several
    kinds (the decoder's own words say which)."""
    options = _choices(info) if info is not None else []
    if len(options) != 1:
        return None
    (option,) = options
    if isinstance(option, types.IntType):
        # A whole number greater than 0 is one from 1.
        low = option.ge if option.gt is None else option.gt + 1
        high = option.le if option.lt is None else option.lt - 1
        return f"must be a whole number{span(ge=low, le=high)}"
    if isinstance(option, types.FloatType):
        return f"must be a number{span(ge=option.ge, gt=option.gt, le=option.le, lt=option.lt)}"
    if isinstance(option, types.BoolType):
        return "must be true or false"
    if isinstance(option, types.StrType):
        return "must be a string"
    if isinstance(option, types.DateTimeType):
        return INSTANT_RULE
    if isinstance(option, types.EnumType):
        return f"must be one of: {', '.join(str(member.value) for member in option.cls)}"
    if isinstance(option, types.LiteralType):
        return f"must be one of: {', '.join(str(value) for value in option.values)}"
    if isinstance(option, types.StructType | types.DictType | types.TypedDictType | types.DataclassType):
        return "must be an object"
    if isinstance(option, types.ListType | types.SetType | types.VarTupleType):
        return f"must be an array{items(option.min_length, option.max_length)}"
    return None


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


# A body with a content coding (RFC 9110 §8.4) is refused, not decoded: a few kilobytes of gzip
# can inflate to gigabytes. 415 is RFC 9110 §15.5.16's answer, with the codings accepted (§12.5.3).
CODED = HTTPException(
    status_code=415,
    detail="Send the body uncompressed (Content-Encoding: identity)",
    headers={"Accept-Encoding": "identity"},
    extra=[
        {"key": "Content-Encoding", "message": "must be identity: compressed request bodies are not accepted"}
    ],
)
# The methods whose body a handler reads (the OpenAPI document lists their 415).
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _coded(request: Request[Any, Any, Any]) -> bool:
    """Whether the request's ``Content-Encoding`` names a coding other than ``identity``."""
    codings = (
        c.strip().lower()
        for value in request.headers.getall("content-encoding", [])
        for c in value.split(",")
    )
    return any(coding not in {"", "identity"} for coding in codings)


# A name given twice in an object: JSON leaves it to the reader (RFC 8259), msgspec keeps the last.
GIVEN_TWICE = "must be given at most once"


class _Pairs(dict[str, Any]):
    """An object as :func:`read_pairs` reads it, with the first name it gives twice."""

    repeated: str | None = None


def _pairs(items: list[tuple[str, Any]]) -> _Pairs:
    found = _Pairs(items)
    if len(found) < len(items):
        seen: set[str] = set()
        for name, _ in items:
            if name in seen:
                found.repeated = name
                break
            seen.add(name)
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_pairs(raw: bytes) -> Any:
    """``raw`` read by the standard library (slowly), each object a :class:`_Pairs`; None when it
    is not JSON (the caller's decoder says why). As strict as msgspec but for lone surrogates: UTF-8
    only (bytes would be sniffed for UTF-16 and a byte order mark), no NaN or Infinity."""
    try:
        return json.loads(raw.decode(), object_pairs_hook=_pairs, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None


def repeated(document: Any) -> str | None:
    """The name an object read by :func:`read_pairs` gives twice (its own, not its values')."""
    return document.repeated if isinstance(document, _Pairs) else None


# JSON's grammar allows an escaped lone surrogate (``"\ud800"``, RFC 8259 §8.2), which no UTF-8
# text holds; msgspec refuses it as malformed, the standard library reads it.
SURROGATE_RULE = "must be valid Unicode text (no lone surrogates)"


def lone_surrogate(raw: bytes) -> str | None:
    """The field (a path such as ``channels[0]``; ``body`` for the whole, or a name that holds
    one) of the first string in ``raw`` holding a lone surrogate; None when none does or ``raw``
    is not JSON (cut short, say). Read only once msgspec has refused the body as malformed: it
    says so of a lone surrogate in words that do not always name one (a high surrogate closing
    the last string is "Input data was truncated")."""
    if b"\\u" not in raw:
        return None  # no escape, no surrogate: spare reading a malformed body again
    return surrogate_field(read_pairs(raw))


def surrogate_field(document: Any) -> str | None:
    """:func:`lone_surrogate` of a document :func:`read_pairs` has read."""
    try:
        return _surrogate_in(document, "")
    except RecursionError:
        return None


def _surrogate_in(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return (path or "body") if _is_broken(value) else None
    found: str | None = None
    if isinstance(value, dict):
        for name, item in value.items():
            if _is_broken(name):
                return path or "body"
            if found := _surrogate_in(item, _join(path, name)):
                break
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := _surrogate_in(item, f"{path}[{index}]"):
                break
    return found


def _is_broken(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def unsupported(accepted: str) -> HTTPException:
    return HTTPException(status_code=415, detail=f"Send the body as {accepted}")


def _json_body_type(handler: HTTPRouteHandler) -> Any:
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None or data.kwarg_definition is None:
        return None
    if getattr(data.kwarg_definition, "media_type", None) != RequestEncodingType.JSON:
        return None
    return data.annotation


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _takes_form(handler: HTTPRouteHandler) -> bool:
    """Whether the handler's body is form data (``POST /token``, the dashboard's forms)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None or data.kwarg_definition is None:
        return False
    return getattr(data.kwarg_definition, "media_type", None) in (
        RequestEncodingType.URL_ENCODED,
        RequestEncodingType.MULTI_PART,
    )


async def _check_form(request: Request[Any, Any, Any]) -> None:
    """A form body: of a form's type (a form's fields read from JSON would all be "missing": 415
    saying what to send), each field given once (RFC 6749 §3.1; the decoder would be told a
    list, and answer that the field must be a string)."""
    if media_type(request) not in _FORMS:
        if await request.body():
            raise unsupported(" or ".join(_FORMS))
        return
    form = await request.form()
    if name := next((name for name in dict.fromkeys(form.keys()) if len(form.getall(name)) > 1), None):
        raise ValidationException(extra=[{"key": name, "message": GIVEN_TWICE}])


# A handler's body decoder, the type it decodes into, and its fields' names in quotes.
_Decoding = tuple[msgspec.json.Decoder[Any], Any, tuple[bytes, ...]]


def _quoted_names(body_type: Any) -> tuple[bytes, ...]:
    return tuple(
        msgspec.json.encode(field.encode_name)
        for option in _choices(_info(body_type))
        if isinstance(option, types.StructType)
        for field in option.fields
    )


class RequestChecks:
    """The app's ``before_request``: who is asking, then the ids in the path, then the query, then
    the body's type and shape."""

    def __init__(self, authenticate: Callable[[Request[Any, Any, Any]], Awaitable[User]]) -> None:
        self._authenticate = authenticate
        self._query = StrictQuery()
        self._decoders: dict[int, _Decoding | None] = {}
        self._typed_paths: dict[str, str] | None = None

    def _badly_written_id(self, request: Request[Any, Any, Any]) -> str | None:
        # Routing leaves the matched route's path without its types (``/products/{product_id}``).
        if self._typed_paths is None:
            self._typed_paths = {route.path_format: route.path for route in request.app.routes}
        template = self._typed_paths.get(request.scope.get("path_template", ""), "")
        return badly_written_id(template, request.scope["path"]) if ":int}" in template else None

    def _decoder(self, handler: HTTPRouteHandler) -> _Decoding | None:
        """The handler's body decoder, the type it decodes into, and its fields' quoted names."""
        key = id(handler)
        if key not in self._decoders:
            body_type = _json_body_type(handler)
            self._decoders[key] = (
                (msgspec.json.Decoder(body_type), body_type, _quoted_names(body_type))
                if body_type is not None
                else None
            )
        return self._decoders[key]

    async def __call__(self, request: Request[Any, Any, Any]) -> None:
        handler = request.route_handler
        if needs_user(handler):
            await self._authenticate(request)
        if name := self._badly_written_id(request):
            raise refused(name)
        await self._query(request)
        if request.method in _BODY_METHODS and _coded(request) and await request.body():
            raise CODED
        decoding = self._decoder(handler)
        if decoding is None:
            if _takes_form(handler):
                await _check_form(request)
            return
        decoder, body_type, names = decoding
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
            problems = every_problem(body, body_type) or [describe(error, body_type)]
            raise ValidationException(extra=[{"key": f, "message": r} for f, r in problems]) from None
        except msgspec.DecodeError:
            if field := lone_surrogate(body):
                raise ValidationException(extra=[{"key": field, "message": SURROGATE_RULE}]) from None
            raise NOT_JSON from None
        # Only a body holding a field's name twice (or an escape, which may spell one) is read again.
        if (b"\\" in body or any(body.count(name) > 1 for name in names)) and (
            name := repeated(read_pairs(body))
        ):
            raise ValidationException(extra=[{"key": name, "message": GIVEN_TWICE}])
