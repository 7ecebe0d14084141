"""What Litestar leaves out of the generated OpenAPI document, written into it: the error answers
each operation can give, and the body of a handler that reads its body by hand; and the query
strings held to the document (:class:`StrictQuery`).

Litestar documents a handler's success answer and a generic 400. Every error here answers with
``ErrorBody``, and which errors an operation can give follows from what it is: a body or query to
validate (422, 400 for unparseable JSON, 413 for an oversized body; and 422 for every operation
but the probes, which :class:`StrictQuery` holds to the parameters it documents), an id in the
path (404), a signed-in user (401, and the bearer scheme), a write that may collide (409), and,
for every operation, rate limits (429) and an unavailable database (503). Schemathesis checks the answers
against this document (``tests/integration/api/test_schemathesis.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

import msgspec
from litestar import Litestar, Request
from litestar.datastructures import ResponseHeader
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.openapi.spec import (
    Parameter as OpenAPIParameter,
)
from litestar.routes import HTTPRoute

from marketscout.entrypoints.api.params import INSTANT_RULE, WRITTEN
from marketscout.entrypoints.api.rules import span
from marketscout.entrypoints.ratelimit import EXEMPT_PATHS

ERRORS = {
    "400": "The body is not valid JSON, or the request is malformed",
    "401": "Not signed in: the bearer token is missing, expired or invalid",
    "403": "Refused: sign-up is closed on this instance (MARKETSCOUT_SIGNUP_OPEN=false), or the refresh"
    " token sent to /token/revoke is another account's (nothing was revoked)",
    "404": "No such resource (or not yours)",
    "409": "Conflicts with what is stored (a duplicate, or a limit reached)",
    "413": "The body is larger than the server accepts",
    "415": "The body's content type is not accepted, or it has a Content-Encoding other than identity"
    " (compressed bodies are not accepted)",
    "422": "A field breaks a rule; ``details`` names each field and its rule",
    "429": "Too many requests; Retry-After says when to try again",
    "503": "The database is unavailable or too slow; try again shortly",
}
# The routes that answer 409: a duplicate or a per-user limit (a taken username or e-mail at
# /signup is the contract's 400).
CONFLICTS = {
    ("POST", "/ads"),
    ("POST", "/watchlists"),
    ("POST", "/alert-rules"),
    ("PUT", "/alert-rules/{rule_id}"),
}
# Routes that name a product or rule in their query or body: 404 when it does not exist.
REFERENCES = {
    ("POST", "/ads"),
    ("POST", "/watchlists"),
    ("POST", "/alert-rules"),
    ("GET", "/heat-map"),
    ("GET", "/scan-ads"),
}
# Routes that check credentials themselves (a wrong password or refresh token: 401).
CREDENTIALS = {("POST", "/token"), ("POST", "/token/refresh")}
# Routes that refuse with 403: one an operator's setting can close, and the revocation of a
# refresh token of another account.
REFUSING = {("POST", "/signup"), ("POST", "/token/revoke")}
# Routes that never touch the database.
NO_DATABASE = {("GET", "/health")}
# An operation without a body can only be malformed in its address.
NO_BODY_400 = "The request is malformed"
# An operation that takes neither parameters nor a body can only be given a query it does not take.
NO_PARAMETERS_422 = "A query parameter this operation does not take; ``details`` names it"
# Answers an operation gives for its own reason, said in its words; None: never given (a path
# parameter that names no stored resource).
OWN_ERRORS: dict[tuple[str, str], dict[str, str | None]] = {
    ("GET", "/export/{data_type}"): {"400": "data_type is not one of: watchlist, trends", "404": None},
    ("POST", "/token/refresh"): {
        "401": "The refresh token is not one that may be rotated: unknown, expired, spent, of an ended "
        "login or a disabled account, or no token at all (blank, over 512 characters); one message",
        "422": "The body is not an object holding a refresh_token string (missing, not a string, an "
        "unknown field); ``details`` names the field",
    },
}


def needs_user(handler: HTTPRouteHandler) -> bool:
    """Whether the handler takes the signed-in ``user``."""
    return "user" in handler.parsed_fn_signature.parameters


def body_is_optional(handler: HTTPRouteHandler) -> bool:
    """Whether the handler's body may be left out (its ``data`` has a default); Litestar
    documents every body as required."""
    data = handler.parsed_fn_signature.parameters.get("data")
    return data is not None and data.has_default


def document_errors(app: Litestar) -> None:
    """Adds the error answers and the bearer requirement to every operation of ``app``'s schema,
    and says which bodies may be left out."""
    schema = app.openapi_schema
    signed_in: set[tuple[str, str]] = set()
    optional_body: set[tuple[str, str]] = set()
    any_query: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.opt.get(ANY_QUERY):
                    any_query.update((method, route.path_format) for method in handler.http_methods)
                if needs_user(handler):
                    signed_in.update((method, route.path_format) for method in handler.http_methods)
                if body_is_optional(handler):
                    optional_body.update((method, route.path_format) for method in handler.http_methods)
    error = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/ErrorBody"))
    for path, item in (schema.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            key = (method.upper(), path)
            if key in optional_body and isinstance(operation.request_body, RequestBody):
                operation.request_body.required = False
            codes = set() if path in EXEMPT_PATHS else {"429"}
            if key not in NO_DATABASE:
                codes.add("503")
            if operation.parameters or operation.request_body or method in ("post", "put", "patch"):
                codes |= {"400", "422"}
            if key not in any_query:
                codes.add("422")  # StrictQuery refuses a query parameter the operation does not take
            if method in ("post", "put", "patch"):
                codes |= {"413", "415"}
            if "{" in path or key in REFERENCES:
                codes.add("404")
            if key in CREDENTIALS:
                codes.add("401")
            if key in signed_in:
                codes.add("401")
                operation.security = [{"BearerToken": []}]
            if key in CONFLICTS:
                codes.add("409")
            if key in REFUSING:
                codes.add("403")
            said: dict[str, str | None] = {code: ERRORS[code] for code in codes}
            if "400" in said and not operation.request_body:
                said["400"] = NO_BODY_400
            if "422" in said and not operation.parameters and not operation.request_body:
                said["422"] = NO_PARAMETERS_422
            said.update(OWN_ERRORS.get(key, {}))
            responses = dict(operation.responses or {})
            for code in sorted(said):
                if (description := said[code]) is not None:
                    responses[code] = OpenAPIResponse(
                        description=description, content={"application/json": error}
                    )
            operation.responses = responses


def sent_header(name: str, description: str) -> ResponseHeader:
    """A header the handler sets on every success answer, for the document: a string, always
    there (``value`` only gives its type; the handler's own value is sent)."""
    return ResponseHeader(
        name=name, value=description, documentation_only=True, required=True, description=description
    )


def document_body(
    app: Litestar, method: str, path: str, content: Mapping[str, Any], description: str
) -> None:
    """Documents the body of the operation ``method path``, whose handler reads its body by hand
    (Litestar documents only a ``data`` parameter): ``content`` maps each media type accepted to
    the type its body is decoded into. The schemas are msgspec's, written from the very types the
    handler decodes with, constraints included; a component Litestar wrote already (an enum such
    as ``Platform``) is kept."""
    schemas, components = msgspec.json.schema_components(
        list(content.values()), ref_template="#/components/schemas/{name}"
    )
    document = app.openapi_schema
    for name, component in components.items():
        if isinstance(converted := _spec(component), Schema):  # a component is a schema, never a reference
            document.components.schemas.setdefault(name, converted)
    operation: Operation = getattr((document.paths or {})[path], method.lower())
    operation.request_body = RequestBody(
        content={
            media: OpenAPIMediaType(schema=_spec(schema))
            for media, schema in zip(content, schemas, strict=True)
        },
        description=description,
        required=True,
    )


def document_structs(app: Litestar) -> None:
    """Writes every body's schema (a handler's ``data`` and what it answers) as msgspec writes
    it from the Struct it is decoded into or encoded from, so that the document holds the rules
    the server checks, exactly: Litestar's own rendering drops some (the rules of a list's items,
    an exclusive minimum on an optional number) and writes an integer bound as a float (2^63 - 1
    as 9.223372036854776e18, out of range). Enums keep Litestar's components."""
    found: set[type[msgspec.Struct]] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                signature = handler.parsed_fn_signature
                data = signature.parameters.get("data")
                for annotation in (data.annotation if data else None, signature.return_type.annotation):
                    found |= _structs(annotation)
    _, components = msgspec.json.schema_components(
        sorted(found, key=lambda kind: kind.__name__), ref_template="#/components/schemas/{name}"
    )
    schemas = app.openapi_schema.components.schemas
    for name, component in components.items():
        if isinstance(converted := _spec(component), Schema):  # a component is a schema, never a reference
            if "properties" in component:
                schemas[name] = converted
            else:
                schemas.setdefault(name, converted)


# The largest id: Litestar writes it as a float, which rounds it to 2^63, one past it.
_LARGEST = 2**63 - 1


def document_integer_bounds(app: Litestar) -> None:
    """Writes the bounds of the parameters' integer schemas as integers: Litestar writes each
    bound as a float (1.0; 2^63 - 1 as 9.223372036854776e18, which is 2^63), so a client
    generated from the document could send one past the largest id. A float bound beyond
    2^53 can only be the 64-bit ids' 2^63 - 1, the one such bound this API has."""
    for item in (app.openapi_schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method)
            for parameter in (operation.parameters or []) if operation else []:
                if isinstance(parameter, OpenAPIParameter) and isinstance(parameter.schema, Schema):
                    _whole_bounds(parameter.schema)


def _whole_bounds(schema: Schema) -> None:
    if schema.type == OpenAPIType.INTEGER:
        for name in ("minimum", "maximum"):
            bound = getattr(schema, name)
            if isinstance(bound, float):
                setattr(schema, name, _LARGEST if bound >= _LARGEST else int(bound))
    for choice in (*(schema.one_of or ()), *(schema.any_of or ()), schema.items):
        if isinstance(choice, Schema):
            _whole_bounds(choice)


def _structs(annotation: Any) -> set[type[msgspec.Struct]]:
    """The Structs in a type: itself, or its arguments' (``Response[A | B]``, ``list[A]``)."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return {annotation}
    return {kind for argument in get_args(annotation) for kind in _structs(argument)}


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _spec(node: dict[str, Any]) -> Schema | Reference:
    """A JSON Schema, as msgspec writes it, in Litestar's spec objects."""
    if "$ref" in node:
        return Reference(ref=node["$ref"])
    fields: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            value = {name: _spec(field) for name, field in value.items()}
        elif key in {"anyOf", "oneOf", "allOf"}:
            value = [_spec(choice) for choice in value]
        elif key in {"items", "additionalProperties"} and isinstance(value, dict):
            value = _spec(value)
        elif key == "type":
            value = OpenAPIType(value)
        elif key == "format":
            value = OpenAPIFormat(value)
        fields[_CAMEL.sub("_", key).lower()] = value
    return Schema(**fields)


# A whole number is written one way, as in a path id and in JSON: 010 is refused rather than
# guessed at (ten, or octal eight).
_WHOLE = re.compile(r"0|[1-9][0-9]*")
# JSON's grammar for a number (no nan or inf), as the parser reads it.
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# What Litestar reads as a boolean, in any case.
_BOOLEANS = {"true", "false", "1", "0"}


@dataclass(frozen=True, slots=True)
class _QueryRule:
    """What a documented query parameter takes, and its rule in words."""

    takes: Callable[[str], bool]
    rule: str
    most: int | None = 1  # times it may be given; None: any number


def _within(low: float | None, high: float | None) -> Callable[[float], bool]:
    return lambda n: (low is None or n >= low) and (high is None or n <= high)


def _whole(low: float | None, high: float | None) -> _QueryRule:
    within = _within(low, high)
    # Past 20 digits a number is beyond the 64 bits the parser takes (and, past thousands,
    # beyond what int() reads).
    return _QueryRule(
        lambda v: bool(_WHOLE.fullmatch(v)) and len(v) <= 20 and within(int(v)),
        f"must be a whole number{span(ge=low, le=high)}, {WRITTEN}",
    )


def _number(low: float | None, high: float | None) -> _QueryRule:
    within = _within(low, high)
    example = ", such as 0.5" if within(0.5) else ""
    return _QueryRule(
        lambda v: bool(_NUMBER.fullmatch(v)) and within(float(v)),
        f"must be a number{span(ge=low, le=high)}{example}",
    )


def _text(low: int | None, high: int | None, instant: bool) -> _QueryRule:
    """Text of a documented length; a time's rule is the time's (the handler reads the rest)."""
    within = _within(low, high)
    if instant:
        return _QueryRule(lambda v: within(len(v)), INSTANT_RULE)
    if low is not None and high is not None:
        rule = f"must be from {low} to {high} characters long"
    elif low is not None:
        rule = f"must be at least {low} characters long"
    else:
        rule = f"must be at most {high} characters long"  # or any length: never refused
    return _QueryRule(lambda v: within(len(v)), rule)


def _rule(schema: dict[str, Any], components: dict[str, Any]) -> _QueryRule:
    """The rule of a parameter's ``schema``; Litestar writes a bound either beside ``oneOf`` or
    in its choice, and a repeatable parameter's rule is its items'."""
    choices = [s for s in schema.get("oneOf", [schema]) if s.get("type") != "null"]
    if len(choices) != 1:
        return _QueryRule(lambda v: True, "", most=None)  # not a shape used here: Litestar judges it
    (choice,) = choices
    merged = {**{k: v for k, v in schema.items() if k != "oneOf"}, **choice}
    scalar = (
        {**schema.get("items", {}), **choice.get("items", {})} if choice.get("type") == "array" else merged
    )
    if ref := scalar.get("$ref"):
        scalar = components[ref.removeprefix("#/components/schemas/")]
    if "enum" in scalar:
        values = [str(v) for v in scalar["enum"]]
        rule = _QueryRule(values.__contains__, f"must be one of: {', '.join(values)}")
    elif scalar.get("type") == "integer":
        rule = _whole(scalar.get("minimum"), scalar.get("maximum"))
    elif scalar.get("type") == "number":
        rule = _number(scalar.get("minimum"), scalar.get("maximum"))
    elif scalar.get("type") == "boolean":
        rule = _QueryRule(lambda v: v.lower() in _BOOLEANS, "must be true or false (or 1 or 0)")
    else:
        instant = scalar.get("format") == "date-time"
        rule = _text(scalar.get("minLength"), scalar.get("maxLength"), instant)
    if choice.get("type") == "array":
        return _QueryRule(rule.takes, rule.rule, merged.get("maxItems"))
    return rule


def _query_rules(app: Litestar) -> dict[tuple[str, str], dict[str, _QueryRule]]:
    document = app.openapi_schema.to_schema()
    components = document.get("components", {}).get("schemas", {})
    rules: dict[tuple[str, str], dict[str, _QueryRule]] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            rules[(method.upper(), path)] = {
                parameter["name"]: _rule(parameter.get("schema", {}), components)
                for parameter in operation.get("parameters", [])
                if parameter.get("in") == "query"
            }
    return rules


# A route handler's ``opt`` key: the route takes query parameters it does not document (the
# probes, which monitors call with cache-busters of their own).
ANY_QUERY = "any_query"


def _unknown(documented: dict[str, _QueryRule]) -> str:
    takes = f": {', '.join(documented)}" if documented else " none"
    return f"is not a known parameter; this route takes{takes}"


class StrictQuery:
    """Holds query strings to what the OpenAPI document says, before Litestar's parser (which is
    lenient, and says what it wanted in Python's types): each documented parameter is refused
    by its name and its rule in words, the same whatever is wrong with the value (``010``,
    ``abc`` or ``0`` for a limit), a parameter given more often than it may be, and one the
    operation does not document, by its name and the ones it takes."""

    def __init__(self) -> None:
        self._rules: dict[tuple[str, str], dict[str, _QueryRule]] | None = None
        self._paths: dict[int, str] = {}

    def _setup(self, app: Litestar) -> dict[tuple[str, str], dict[str, _QueryRule]]:
        if self._rules is None:
            for route in app.routes:
                if isinstance(route, HTTPRoute):
                    for handler in route.route_handlers:
                        self._paths[id(handler)] = route.path_format
            self._rules = _query_rules(app)
        return self._rules

    async def __call__(self, request: Request[Any, Any, Any]) -> None:
        rules = self._setup(request.app)
        path = self._paths.get(id(request.route_handler))
        documented = rules.get((request.method, path)) if path is not None else None
        if documented is None or request.route_handler.opt.get(ANY_QUERY):
            return  # not the JSON API (pages, docs, static files), or a probe
        problems: list[dict[str, str]] = []
        query = request.query_params
        # In the order the query gives them (``MultiDict.dict()`` iterates a set).
        for name in dict.fromkeys(query.keys()):
            values = query.getall(name)
            rule = documented.get(name)
            if rule is None:
                # A misspelt parameter ignored would answer another question than the one asked.
                problems.append({"key": name, "message": _unknown(documented)})
                continue
            if rule.most is not None and len(values) > rule.most:
                times = "once" if rule.most == 1 else f"{rule.most} times"
                problems.append({"key": name, "message": f"must be given at most {times}"})
            elif not all(rule.takes(v) for v in values):
                problems.append({"key": name, "message": rule.rule})
        if problems:
            raise ValidationException(extra=problems)
