"""Behaviour every answer shares: the error shape, headers, limits, the OpenAPI document."""

from __future__ import annotations

import gzip
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from marketscout.domain.errors import Busy, DomainError, Unavailable
from marketscout.domain.regions import AREA_RULE
from marketscout.entrypoints.api.bodies import describe
from marketscout.entrypoints.api.errors import handle_domain_error
from marketscout.entrypoints.middleware import RequestContextMiddleware
from marketscout.entrypoints.settings import Settings
from tests.integration.api.support import assert_in_words, setup_ad

Client = AsyncTestClient[Litestar]
MakeUser = Callable[[str], Awaitable[dict[str, str]]]


async def test_unknown_route_and_method_use_the_error_shape(client: Client) -> None:
    missing = await client.get("/no/such/thing")
    assert missing.status_code == 404
    assert missing.json()["status_code"] == 404
    assert missing.json()["message"]
    wrong_method = await client.put("/products")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status_code"] == 405


async def test_too_large_body_is_413(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("bulky")
    response = await client.post(
        "/products",
        content=b"{" + b" " * (17 * 1024 * 1024) + b"}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["status_code"] == 413


async def test_security_headers_and_request_id(client: Client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src" in response.headers["content-security-policy"]
    assert len(response.headers["x-request-id"]) >= 16
    echoed = await client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    hostile = await client.get("/health", headers={"X-Request-ID": "<script>"})
    assert hostile.headers["x-request-id"] != "<script>"


async def test_ready_answers_when_the_store_does(client: Client) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_cors_allows_only_listed_origins(client: Client) -> None:
    allowed = await client.options(
        "/products", headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "GET"}
    )
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:8000"
    foreign = await client.options(
        "/products", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert foreign.headers.get("access-control-allow-origin") not in {"*", "https://evil.example"}


async def test_a_page_on_an_allowed_origin_may_send_every_method_the_api_has(client: Client) -> None:
    # PUT /alert-rules/{id} is the API's one PUT: a browser asks for it in a preflight first.
    for method in ("GET", "POST", "PUT", "DELETE"):
        answer = await client.options(
            "/alert-rules/1",
            headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": method},
        )
        assert answer.status_code == 204, (method, answer.text)
        assert answer.headers.get("access-control-allow-origin") == "http://localhost:8000"
        assert method in answer.headers["access-control-allow-methods"]


async def test_a_refused_preflight_answers_in_the_error_shape_naming_what_is_refused(client: Client) -> None:
    foreign = await client.options(
        "/products", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert foreign.status_code == 400
    assert foreign.headers["content-type"].startswith("application/json")
    body = foreign.json()
    assert body["status_code"] == 400
    assert body["request_id"] == foreign.headers["x-request-id"]
    assert [detail["field"] for detail in body["details"]] == ["Origin"]
    assert "access-control-allow-origin" not in foreign.headers

    method = await client.options(
        "/products", headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "PATCH"}
    )
    assert method.status_code == 400
    (detail,) = method.json()["details"]
    assert detail["field"] == "Access-Control-Request-Method"
    assert "PUT" in detail["rule"]

    header = await client.options(
        "/products",
        headers={
            "Origin": "http://localhost:8000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, X-Secret-Thing",
        },
    )
    assert header.status_code == 400
    (detail,) = header.json()["details"]
    assert detail["field"] == "Access-Control-Request-Headers"
    assert "X-Secret-Thing" in detail["rule"]


async def test_openapi_lists_every_endpoint_with_constraints(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = set(document["paths"])
    expected = {
        "/signup",
        "/token",
        "/token/refresh",
        "/token/revoke",
        "/products",
        "/products/{product_id}",
        "/ads",
        "/engagement",
        "/scan-ads",
        "/heat-map",
        "/trending",
        "/calculate-score/{product_id}",
        "/trends/{product_id}",
        "/watchlists",
        "/watchlists/{product_id}",
        "/check-alerts",
        "/alerts",
        "/alert-rules",
        "/export/{data_type}",
        "/health",
        "/ready",
    }
    assert expected <= paths, expected - paths
    product_in = document["components"]["schemas"]["ProductIn"]["properties"]["name"]
    assert product_in["minLength"] == 1
    # Names are trimmed (the contract), so their length is a rule of the trimmed name.
    assert "maxLength" not in product_in
    assert "at most 200 characters once trimmed" in product_in["description"]
    # What a score's numbers mean is in the document, where clients read it.
    score = document["components"]["schemas"]["ScoreOut"]["properties"]
    assert "relative change of views gained" in score["growth"]["description"]
    assert "views expected on each of the next 7 days" in score["forecast"]["description"]
    assert "last 24 hours" in document["paths"]["/scan-ads"]["get"]["description"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


# The one write that reads no body: it scores the readings already stored.
BODYLESS_WRITES = {("post", "/calculate-score/{product_id}")}
# Writes whose body may be left out: the revocation's refresh token is optional.
OPTIONAL_BODIES = {("post", "/token/revoke")}


def references(node: Any) -> list[str]:
    """Every ``$ref`` in a JSON document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


async def test_every_operation_that_takes_a_body_documents_it(client: Client, settings: Settings) -> None:
    """Client generators build a call from the request schema: every write documents its body,
    the ingest (which reads its body by hand, to take NDJSON too) included, and every reference
    in the document leads somewhere."""
    document = (await client.get("/openapi.json")).json()
    for ref in references(document):
        resolve(document, ref)
    undocumented = set()
    for path, item in document["paths"].items():
        for method in ("post", "put", "patch"):
            if method not in item:
                continue
            body = item[method].get("requestBody")
            if body is None:
                undocumented.add((method, path))
                continue
            assert body["required"] is ((method, path) not in OPTIONAL_BODIES), (method, path)
            assert body["content"], (method, path)
            for media, content in body["content"].items():
                assert content["schema"], (method, path, media)
    assert undocumented == BODYLESS_WRITES

    ingest = document["paths"]["/engagement"]["post"]["requestBody"]["content"]
    assert set(ingest) == {"application/json", "application/x-ndjson"}
    one_or_many = ingest["application/json"]["schema"]
    shapes = one_or_many.get("oneOf") or one_or_many["anyOf"]
    assert len(shapes) == 2
    assert {"$ref": "#/components/schemas/EngagementIn"} in shapes
    (many,) = [shape for shape in shapes if shape.get("type") == "array"]
    assert many["items"] == {"$ref": "#/components/schemas/EngagementIn"}
    assert (many["minItems"], many["maxItems"]) == (1, settings.max_ingest_items)
    lines = ingest["application/x-ndjson"]["schema"]
    assert lines["items"] == {"$ref": "#/components/schemas/EngagementIn"}
    assert (lines["minItems"], lines["maxItems"]) == (1, settings.max_ingest_items)
    snapshot = resolve(document, "#/components/schemas/EngagementIn")
    assert set(snapshot["required"]) == {"observed_at", "region", "views"}
    fields = snapshot["properties"]
    assert (fields["region"]["minLength"], fields["region"]["maxLength"]) == (2, 6)
    assert fields["views"]["minimum"] == 0
    assert fields["observed_at"]["format"] == "date-time"
    assert snapshot["additionalProperties"] is False


RULES = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"}
RULES |= {"pattern", "minItems", "maxItems", "format"}


def rules(node: Any, path: str = "") -> set[tuple[str, str, str]]:
    """Every rule a schema sets, by where it sets it (a property, its items), written as JSON so
    that 9223372036854775807 and its float rounding differ."""
    found: set[tuple[str, str, str]] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in RULES:
                found.add((path, key, msgspec.json.encode(value).decode()))
            elif key in {"anyOf", "oneOf"}:
                found |= rules(value, path)
            else:
                found |= rules(value, f"{path}/{key}")
    elif isinstance(node, list):
        for value in node:
            found |= rules(value, path)
    return found


def structs(kind: type[msgspec.Struct] = msgspec.Struct) -> set[type[msgspec.Struct]]:
    """The API's bodies: every Struct the entrypoints' modules define (not Litestar's models of
    handler signatures, made at run time)."""
    found = set()
    for sub in kind.__subclasses__():
        module = sys.modules.get(sub.__module__)
        if (
            sub.__module__.startswith("marketscout.entrypoints")
            and getattr(module, sub.__name__, None) is sub
        ):
            found.add(sub)
        found |= structs(sub)
    return found


async def test_the_document_says_every_rule_the_decoder_holds(client: Client) -> None:
    """A client generated from the document sends what the server takes: each body's schema
    holds the rules msgspec checks it by, a keyword's length and pattern, a threshold's lower
    bound and an id's, exactly (an id's maximum 2^63 - 1 as a whole number, not rounded to a
    float that is out of range)."""
    document = (await client.get("/openapi.json")).json()["components"]["schemas"]
    _, decoder = msgspec.json.schema_components(sorted(structs(), key=lambda t: t.__name__))
    compared = 0
    for name, schema in decoder.items():
        if "properties" in schema and name in document:
            compared += 1
            assert rules(document[name]) == rules(schema), name
    assert compared >= 20


def integer_bounds(node: Any) -> list[Any]:
    """The bounds of every integer schema in a JSON document."""
    if isinstance(node, list):
        return [bound for value in node for bound in integer_bounds(value)]
    if not isinstance(node, dict):
        return []
    own = [node[key] for key in ("minimum", "maximum") if node.get("type") == "integer" and key in node]
    return own + [bound for value in node.values() for bound in integer_bounds(value)]


async def test_the_document_writes_integer_bounds_as_integers(client: Client) -> None:
    """A path or query id is documented up to 2^63 - 1 exactly: written as a float it rounds to
    2^63, one past what the server takes, and a generated client would send it."""
    document = (await client.get("/openapi.json")).json()
    bounds = integer_bounds(document)
    assert bounds
    assert all(type(bound) is int for bound in bounds), sorted({repr(b) for b in bounds})
    (product_id,) = document["paths"]["/products/{product_id}"]["get"]["parameters"]
    assert product_id["schema"]["maximum"] == 2**63 - 1
    response = await client.get(f"/products/{2**63 - 1}")
    assert response.status_code in {401, 404}


async def test_injection_strings_are_stored_as_text(client: Client, make_user: object) -> None:
    assert callable(make_user)
    headers = await make_user("mallory")
    hostile = "Robert'); DROP TABLE products;-- <script>alert(1)</script>"
    created = await client.post("/products", json={"name": hostile, "description": hostile}, headers=headers)
    assert created.status_code == 201
    listing = await client.get("/products", params={"q": "'); DROP"})
    assert [p["name"] for p in listing.json()] == [hostile]


async def test_passwords_and_tokens_never_reach_the_logs(
    client: Client, make_user: object, caplog: pytest.LogCaptureFixture
) -> None:
    assert callable(make_user)
    caplog.set_level(logging.DEBUG, logger="marketscout")
    headers = await make_user("quiet_user")
    token = headers["Authorization"].removeprefix("Bearer ")
    await client.get("/watchlists", headers=headers)
    await client.post("/token", data={"username": "quiet_user", "password": "wrong but secret-ish"})
    pair = (
        await client.post("/token", data={"username": "quiet_user", "password": "correct horse battery"})
    ).json()
    revoked = await client.post(
        "/token/revoke",
        json={"refresh_token": pair["refresh_token"]},
        headers={"Authorization": f"Bearer {pair['access_token']}"},
    )
    assert revoked.status_code == 204
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "/watchlists" in logged, "requests are logged"
    assert "/token/revoke" in logged
    assert "correct horse battery" not in logged
    assert "wrong but secret-ish" not in logged
    for secret in (token, pair["access_token"], pair["refresh_token"]):
        assert secret not in logged


async def test_a_missing_body_is_named(client: Client, make_user: object) -> None:
    assert callable(make_user)
    headers = await make_user("bodiless")
    response = await client.post("/products", headers=headers)
    assert response.status_code == 422
    assert response.json()["details"] == [{"field": "body", "rule": "is required", "index": None}]


async def test_only_successful_writes_clear_the_read_cache() -> None:
    cleared: list[str] = []
    answers = {"GET": 200, "POST": 201, "PUT": 422, "DELETE": 204, "HEAD": 200}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": answers[scope["method"]], "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        return None

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    middleware = RequestContextMiddleware(app, on_write=lambda: cleared.append("x"))
    for method in answers:
        scope = {"type": "http", "method": method, "path": "/products", "headers": []}
        await middleware(scope, receive, send)  # type: ignore[arg-type]
        answers_seen = len(cleared)
        expected = {"GET": 0, "POST": 1, "PUT": 1, "DELETE": 2, "HEAD": 2}[method]
        assert answers_seen == expected, method


async def test_a_listing_never_hides_a_product_just_created(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("cacher")
    assert (await client.get("/products")).json() == []  # now cached
    created = await client.post("/products", json={"name": "Fresh Lamp", "description": "d"}, headers=headers)
    assert created.status_code == 201
    assert [p["name"] for p in (await client.get("/products")).json()] == ["Fresh Lamp"]


WRITTEN = "in the digits 0-9 without sign, spaces or leading zeros"
ID_RULE = f"must be a whole number from 1 to 2^63 - 1, {WRITTEN}"
LIMIT_RULE = f"must be a whole number from 1 to 100, {WRITTEN}"
SPREAD_REGION_RULE = "must be an ISO 3166-1 alpha-2 country code or GLOBAL"
SKIP_RULE = f"must be a whole number from 0 to 2^31 - 1, {WRITTEN}"
BOOLEAN_RULE = "must be true or false (or 1 or 0)"
PLATFORMS = "must be one of: TikTok, Facebook, Instagram, YouTube, Twitter"


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ("/ads?product_id=1.0", "product_id", ID_RULE),
        ("/ads?skip=1&skip=2", "skip", "must be given at most once"),
        ("/ads?platform=null", "platform", PLATFORMS),
        ("/heat-map?level=null", "level", "must be one of: continent, country"),
        (
            "/heat-map?until=0.5",
            "until",
            "must be an RFC 3339 time with a UTC offset, e.g. 2025-07-12T00:00:00Z",
        ),
        (
            "/trends/1?since=2025-07-12T00:00:00",
            "since",
            "must be an RFC 3339 time with a UTC offset, e.g. 2025-07-12T00:00:00Z",
        ),
    ],
)
async def test_query_strings_are_held_to_the_documented_schema(
    client: Client, query: str, field: str, rule: str
) -> None:
    """The query parser is lenient where the OpenAPI document is not; the document wins."""
    answer = await client.get(query)
    assert answer.status_code == 422
    assert answer.json()["details"] == [{"field": field, "rule": rule, "index": None}]


@pytest.mark.parametrize(
    ("method", "query", "field", "rule"),
    [
        # 010 is refused, as in a path id and in JSON: one way to write each number, and no
        # guessing whether a leading zero means octal.
        *[
            ("GET", f"/{path}?limit={v}", "limit", LIMIT_RULE)
            for path in ("products", "ads", "trending", "scan-ads")
            for v in ("010", "abc", "0", "101", "-1", "1e2", "")
        ],
        ("GET", "/products?skip=-1", "skip", SKIP_RULE),
        ("GET", "/alerts?skip=2147483648", "skip", SKIP_RULE),
        ("GET", "/ads?product_id=9223372036854775808", "product_id", ID_RULE),
        ("GET", "/heat-map?product_id=010", "product_id", ID_RULE),
        ("GET", "/heat-map?product_id=0", "product_id", ID_RULE),
        (
            "GET",
            "/heat-map?" + "&".join(f"product_id={n}" for n in range(1, 52)),
            "product_id",
            "must be given at most 50 times",
        ),
        (
            "GET",
            "/trending?min_confidence=abc",
            "min_confidence",
            "must be a number from 0 to 1, such as 0.5",
        ),
        (
            "GET",
            "/trending?min_confidence=-0.5",
            "min_confidence",
            "must be a number from 0 to 1, such as 0.5",
        ),
        (
            "GET",
            "/trending?min_confidence=nan",
            "min_confidence",
            "must be a number from 0 to 1, such as 0.5",
        ),
        ("GET", "/trending?min_confidence=", "min_confidence", "must be a number from 0 to 1, such as 0.5"),
        ("GET", "/alerts?unread=", "unread", BOOLEAN_RULE),
        ("GET", "/alerts?unread=yes", "unread", BOOLEAN_RULE),
        ("POST", "/engagement?all_or_nothing=yes", "all_or_nothing", BOOLEAN_RULE),
        (
            "GET",
            "/deliveries?status=null",
            "status",
            "must be one of: pending, sending, delivered, dead, cancelled",
        ),
        ("GET", "/products?q=" + "x" * 201, "q", "must be at most 200 characters long"),
        # One rule for a region, whatever is wrong with it: too short, too long or unknown.
        *[
            ("GET", f"/trending?region={v}", "region", AREA_RULE)
            for v in ("x", "zzz", "", "x" * 41, "Europa", "1.5")
        ],
        *[
            ("GET", f"/products/1/spread?region={v}", "region", SPREAD_REGION_RULE)
            for v in ("x", "zzz", "", "x" * 41)
        ],
        (
            "GET",
            "/heat-map?since=" + "2025" * 11,
            "since",
            "must be an RFC 3339 time with a UTC offset, e.g. 2025-07-12T00:00:00Z",
        ),
    ],
)
async def test_a_query_parameter_of_the_wrong_type_is_refused_by_its_rule(
    client: Client, make_user: MakeUser, method: str, query: str, field: str, rule: str
) -> None:
    """Each parameter has one rule, said the same way whatever is wrong with the value."""
    headers = await make_user("querier")
    answer = await client.request(method, query, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"] == [{"field": field, "rule": rule, "index": None}]


def wrong_values(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """Values a query parameter of ``schema`` does not take: of the wrong type, or outside the
    documented bounds."""
    choices = [s for s in schema.get("oneOf", [schema]) if s.get("type") != "null"]
    assert len(choices) == 1, schema
    (choice,) = choices
    scalar = choice.get("items", choice) if choice.get("type") == "array" else choice
    if "$ref" in scalar:
        scalar = resolve(document, scalar["$ref"])
    bounds = {**schema, **scalar}
    if "enum" in scalar:
        return ["nope", "", "null", "1"]
    match scalar["type"]:
        case "integer":
            return [
                "abc",
                "1.5",
                "",
                "010",
                "-1",
                "1e3",
                "+1",
                " 1",
                "\u0661",
                "9" * 30,
                "9" * 5000,
                "null",
                "true",
            ]
        case "number":
            return ["abc", "", "nan", "inf", "1,5", "-1", "2", "null", "true", "0x1"]
        case "boolean":
            return ["yes", "", "2", "null", "on", "-1"]
        case "string":
            values = ["x" * (bounds["maxLength"] + 1)] if "maxLength" in bounds else []
            if bounds.get("minLength", 0) > 1:
                values.append("x")
            if bounds.get("format") == "date-time":
                values += ["yesterday", "1.5", "2025-07-12T00:00:00"]
            return values or ["1.5", "null"]  # no documented bound: the handler's own rule
    raise AssertionError(schema)


PYTHON_TYPES = re.compile(
    r"Expected `|`(int|float|str|bool|None)|\b(int|float|str|bool|NoneType|None|dict|list)\b"
)


async def test_every_query_parameter_refuses_a_wrong_value_by_name_and_rule(
    client: Client, make_user: MakeUser
) -> None:
    """Walks the OpenAPI document: every query parameter of every operation, given a value it
    does not take, is a 422 naming the parameter and its rule in words, not in Python's types."""
    headers = await make_user("walker")
    document = (await client.get("/openapi.json")).json()
    tried: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                name = parameter["name"]
                for value in wrong_values(parameter["schema"], document):
                    url = path.replace("{product_id}", "1").replace("{rule_id}", "1")
                    answer = await client.request(method.upper(), url, params={name: value}, headers=headers)
                    where = (method, path, name, value, answer.text)
                    assert answer.status_code == 422, where
                    details = answer.json()["details"]
                    assert [d["field"] for d in details] == [name], where
                    assert not PYTHON_TYPES.search(details[0]["rule"]), where
                tried.add(f"{method.upper()} {path} {name}")
    assert {
        "GET /products limit",
        "GET /trending min_confidence",
        "GET /alerts unread",
        "POST /engagement all_or_nothing",
        "GET /heat-map product_id",
        "GET /deliveries status",
    } <= tried
    assert len(tried) >= 30


TRENDING_TAKES = "limit, skip, status, q, platform, region, category, min_confidence, ranking"


@pytest.mark.parametrize(
    ("query", "details"),
    [
        ("/trending?limt=5", [("limt", f"is not a known parameter; this route takes: {TRENDING_TAKES}")]),
        (
            "/trending?sort_by=x&limit=0",
            [
                ("sort_by", f"is not a known parameter; this route takes: {TRENDING_TAKES}"),
                ("limit", LIMIT_RULE),
            ],
        ),
        ("/products/1?verbose=1", [("verbose", "is not a known parameter; this route takes none")]),
        (
            "/alerts?Unread=true",
            [("Unread", "is not a known parameter; this route takes: unread, skip, limit")],
        ),
    ],
)
async def test_an_unknown_query_parameter_is_refused_naming_it_and_the_known_ones(
    client: Client, make_user: MakeUser, query: str, details: list[tuple[str, str]]
) -> None:
    """A misspelt parameter would otherwise be ignored and the client left with an answer to
    another question (ten products where it asked for five)."""
    headers = await make_user("typist")
    answer = await client.get(query, headers=headers)
    assert answer.status_code == 422, answer.text
    assert [(d["field"], d["rule"]) for d in answer.json()["details"]] == details
    for detail in details:
        assert_in_words(detail[1])


async def test_every_documented_operation_refuses_an_unknown_query_parameter(
    client: Client, make_user: MakeUser
) -> None:
    """Walks the OpenAPI document: every operation but the probes refuses a parameter it does not
    document, before it does anything (no product 1 exists, yet the answer is the 422), and
    lists that 422 among its answers, as every answer an operation can give is listed."""
    headers = await make_user("unknown_params")
    document = (await client.get("/openapi.json")).json()
    tried = 0
    undocumented: list[str] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            url = path.replace("{product_id}", "1").replace("{rule_id}", "1").replace("{data_type}", "trends")
            answer = await client.request(method.upper(), url, params={"limt": "5"}, headers=headers)
            where = (method, path, answer.text)
            if path in {"/health", "/ready"}:
                assert answer.status_code == 200, where
                continue
            assert answer.status_code == 422, where
            assert [d["field"] for d in answer.json()["details"]] == ["limt"], where
            if "422" not in operation["responses"]:
                undocumented.append(f"{method.upper()} {path}")
            tried += 1
    assert tried >= 25
    assert undocumented == []


async def test_pages_probes_and_the_docs_take_any_query_parameter(client: Client) -> None:
    """The dashboard's pages, the probes, the API docs and the static files are not the JSON API:
    a monitor's or a browser's cache-buster (``?_=1``) reaches them unrefused."""
    for url in ("/health", "/ready", "/openapi.json", "/docs", "/static/favicon.svg", "/", "/ui/heat-map"):
        answer = await client.get(url, params={"_": "1"}, headers={"Accept": "text/html"})
        assert answer.status_code == 200, (url, answer.text[:200])


async def test_documented_repeats_and_plain_strings_still_pass(client: Client) -> None:
    assert (await client.get("/products", params={"q": "null"})).status_code == 200
    assert (
        await client.get("/ads", params={"skip": "3", "limit": "5", "platform": "TikTok"})
    ).status_code == 200
    answer = await client.get("/heat-map?product_id=998&product_id=999")
    assert answer.status_code == 404, "repeatable, so it reaches the handler"


# Every route that takes a JSON body, with a body that is valid but for one thing.
JSON_POSTS = {
    "/signup": b'{"username":"\xff","email":"a@b.co","password":"correct horse battery"}',
    "/token/refresh": b'{"refresh_token":"\xff"}',
    "/products": b'{"name":"\xff","description":"y"}',
    "/ads": b'{"product_id":1,"platform":"TikTok","ad_content":"\xff"}',
    "/watchlists": b'{"product_id":1,"x":"\xff"}',
    "/alert-rules": b'{"kind":"\xff"}',
    "/alerts/read": b'{"alert_ids":[],"x":"\xff"}',
    "/engagement": b'{"ad_id":1,"region":"\xff","observed_at":"2026-03-01T00:00:00Z","views":1}',
    "/token/revoke": b'{"refresh_token":"\xff"}',
}
OPEN = {"/signup", "/token/refresh"}


@pytest.mark.parametrize(
    ("path", "body", "details"),
    [
        (
            "/products",
            {"name": "", "description": 5, "colour": "red"},
            [
                ("name", "must not be blank"),
                ("description", "must be a string"),
                ("colour", "is not a known field"),
            ],
        ),
        (
            "/alert-rules",
            {"kind": "nope", "threshold": "x", "window_hours": 0},
            [
                ("kind", "must be one of: score_rise, score_threshold, status_exploding, new_viral_ad"),
                ("threshold", "must be a number greater than 0 and at most 100"),
                ("window_hours", "must be a whole number from 1 to 720"),
            ],
        ),
        (
            "/signup",
            {"username": "a b"},
            [
                ("username", "must be 3-50 characters of letters, digits and underscore"),
                ("email", "is required"),
                ("password", "is required"),
            ],
        ),
        (
            "/alerts/read",
            {"alert_ids": [1, 0, "2"]},
            [("alert_ids[1]", "must be a whole number from 1 to 2^63 - 1")],
        ),
    ],
)
async def test_a_body_is_told_every_field_it_gets_wrong(
    client: Client, make_user: MakeUser, path: str, body: dict[str, Any], details: list[tuple[str, str]]
) -> None:
    """One answer names each field to correct, not only the first the decoder met."""
    headers = await make_user("many_wrongs")
    answer = await client.post(path, json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert [(d["field"], d["rule"]) for d in answer.json()["details"]] == details


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind": "score_threshold", "threshold": 10, "threshold": 90}',
        b'{"kind": "score_threshold", "threshold": 10, "thr\\u0065shold": 90}',
        b'{"threshold": 10, "kind": "score_threshold", "threshold": 10}',
    ],
)
async def test_a_field_given_twice_in_a_body_is_refused_naming_it(
    client: Client, make_user: MakeUser, body: bytes
) -> None:
    """JSON leaves a repeated name to the reader (RFC 8259: names SHOULD be unique); taking the
    last, as most do, would act on a value the client may not have meant."""
    headers = await make_user("repeater")
    answer = await client.post(
        "/alert-rules", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"] == [
        {"field": "threshold", "rule": "must be given at most once", "index": None}
    ]
    assert (await client.get("/alert-rules", headers=headers)).json() == []


SURROGATE = "must be valid Unicode text (no lone surrogates)"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/products", b'{"name": "\\ud800", "description": "x"}', "name"),
        ("/products", b'{"name": "Lamp", "description": "a \\udc00 b"}', "description"),
        ("/products", b'{"name": "Lamp\\ud83d", "description": "x"}', "name"),
        (
            "/alert-rules",
            b'{"kind": "score_threshold", "threshold": 10, "channels": ["\\udfff"]}',
            "channels[0]",
        ),
        # A high surrogate closing the body's last string: msgspec says only that the input was
        # truncated, without the word "surrogate".
        ("/products", b'{"name":"Lamp","description":"\\ud83d"}', "description"),
        ("/products", b'{"description":"x","name":"\\ud83d"}', "name"),
        ("/products", b'{"name":"Lamp","description":"\\ud83d"}  ', "description"),
        ("/ads", b'{"product_id":1,"platform":"TikTok","ad_content":"Watch \\ud83d"}', "ad_content"),
        (
            "/alert-rules",
            b'{"kind":"score_threshold","threshold":10,"webhook_url":"https://x.example/\\ud83d"}',
            "webhook_url",
        ),
        ("/signup", b'{"username":"u_sur","email":"a@b.co","password":"correct horse \\ud83d"}', "password"),
        ("/token/refresh", b'{"refresh_token":"\\ud83d"}', "refresh_token"),
    ],
)
async def test_a_lone_surrogate_in_a_string_is_a_422_naming_the_field(
    client: Client, make_user: MakeUser, path: str, body: bytes, field: str
) -> None:
    """JSON's grammar allows an escaped lone surrogate (RFC 8259 §8.2), which no UTF-8 text
    holds: the field is told its text must be valid, rather than the body that it is malformed."""
    headers = await make_user("surrogate")
    answer = await client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"] == [{"field": field, "rule": SURROGATE, "index": None}]


@pytest.mark.parametrize(
    "body",
    [
        b'{"name":"Lamp","description":"\\ud83d',
        b'{"name":"Lamp","description":"\\ud8',
        b'{"name":"Lamp","description":"\\ud83d"',
        b'{"name":"Lamp","description":"\\ud83d"}}',
        b'{"name":"Lamp","description":"\\ud83d"} x',
        b'{"name":"Lamp","description":"\\ud83d","n":NaN}',
        b'{"name":NaN,"description":"\\ud83d"}',
        b'\xef\xbb\xbf{"name":"Lamp","description":"\\ud83d"}',
    ],
)
async def test_a_malformed_body_holding_a_lone_surrogate_is_still_400(
    client: Client, make_user: MakeUser, body: bytes
) -> None:
    """A body that is not JSON (cut short, trailing text, a NaN JSON has no word for, a byte
    order mark) is the body's problem, whatever surrogate it holds."""
    headers = await make_user("malformed")
    answer = await client.post(
        "/products", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["details"] == [{"field": "body", "rule": "must be well-formed JSON", "index": None}]


async def test_an_escaped_surrogate_pair_is_text(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("pair")
    answer = await client.post(
        "/products",
        content=b'{"name": "Lamp \\ud83d\\ude00", "description": "x"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "Lamp \U0001f600"


async def test_a_value_that_reads_as_a_field_name_is_no_repeat(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("namesake")
    for body in (
        b'{"name": "name", "description": "the name\\n"}',
        b'{"name": "Lamp \\"name\\"", "description": "name"}',
    ):
        answer = await client.post(
            "/products", content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 201, (body, answer.text)


async def test_a_body_that_is_not_utf8_is_400(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("latin1")
    for path, body in JSON_POSTS.items():
        response = await client.post(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["details"] == [{"field": "body", "rule": "must be valid UTF-8", "index": None}]


async def test_a_protected_route_answers_401_before_reading_the_body(client: Client) -> None:
    for path, body in JSON_POSTS.items():
        if path in OPEN:
            continue
        for content in (body, b'{"name":', b"{" + b" " * (17 * 1024 * 1024) + b"}"):
            response = await client.post(path, content=content, headers={"Content-Type": "application/json"})
            assert response.status_code == 401, (path, response.text[:200])
            assert response.headers["www-authenticate"] == "Bearer"


async def test_the_log_in_form_refuses_a_json_body_with_415(client: Client, make_user: MakeUser) -> None:
    """POST /token takes form data (the OAuth2 password flow): a JSON body holding the username
    and the password is told to send a form, not that the username it holds is missing."""
    await make_user("former")
    body = b'{"username": "former", "password": "correct horse battery"}'
    for content_type in ("application/json", "text/plain"):
        response = await client.post("/token", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 415, (content_type, response.text)
        assert "application/x-www-form-urlencoded" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("username=former&password=x&password=y", "password"),
        ("username=former&password=correct+horse+battery&password=correct+horse+battery", "password"),
        ("username=former&username=former&password=correct+horse+battery", "username"),
        (
            "grant_type=password&grant_type=password&username=former&password=correct+horse+battery",
            "grant_type",
        ),
    ],
)
async def test_a_log_in_form_field_given_twice_is_refused_naming_it(
    client: Client, make_user: MakeUser, body: str, field: str
) -> None:
    """RFC 6749 §3.1: a parameter is not given twice; which one counts is not guessed at, and
    the answer says so rather than that the field must be a string."""
    await make_user("former")
    urlencoded = await client.post(
        "/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    pairs = [tuple(pair.split("=")) for pair in body.replace("+", " ").split("&")]
    multipart = await client.post("/token", files=[(name, (None, value)) for name, value in pairs])
    for answer in (urlencoded, multipart):
        assert answer.status_code == 422, answer.text
        assert answer.json()["details"] == [
            {"field": field, "rule": "must be given at most once", "index": None}
        ]


CODED = "must be identity: compressed request bodies are not accepted"


@pytest.mark.parametrize("coding", ["gzip", "GZIP", "br", "deflate", "identity, gzip", "x-gzip"])
async def test_a_body_with_a_content_coding_is_refused_with_415_naming_the_header(
    client: Client, make_user: MakeUser, coding: str
) -> None:
    """RFC 9110 §15.5.16: a content coding the server does not support is a 415. Bodies are not
    decompressed (a small gzip can inflate to gigabytes), and one merely labelled compressed is
    not read as if it were not: either way the client is told what to send."""
    headers = await make_user("squeezer")
    product = b'{"name":"Lamp","description":"A lamp"}'
    batch = b'{"ad_id":1,"region":"US","observed_at":"2026-03-01T00:00:00Z","views":1}'
    for path, body, content_type in (
        ("/products", gzip.compress(product), "application/json"),
        ("/products", product, "application/json"),
        ("/engagement", gzip.compress(batch), "application/x-ndjson"),
        ("/token", b"username=squeezer&password=correct+horse+battery", "application/x-www-form-urlencoded"),
    ):
        answer = await client.post(
            path,
            content=body,
            headers={**headers, "Content-Type": content_type, "Content-Encoding": coding},
        )
        where = (path, coding, answer.text)
        assert answer.status_code == 415, where
        assert answer.json()["status_code"] == 415, where
        assert answer.json()["details"] == [{"field": "Content-Encoding", "rule": CODED, "index": None}], (
            where
        )
        assert answer.headers["accept-encoding"] == "identity", where
    assert (await client.get("/products", headers=headers)).json() == []


async def test_a_body_labelled_identity_is_read_as_it_is(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("plain")
    for coding in ("identity", "Identity", " identity "):
        answer = await client.post(
            "/products",
            json={"name": f"Lamp {coding.strip()}", "description": "A lamp"},
            headers={**headers, "Content-Encoding": coding},
        )
        assert answer.status_code == 201, (coding, answer.text)


async def test_json_routes_refuse_other_content_types_with_415(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("typist")
    product = b'{"name":"Lamp","description":"A lamp"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None):
        sent = {**headers, "Content-Type": content_type} if content_type else headers
        for path in JSON_POSTS:
            response = await client.post(path, content=product, headers=sent)
            assert response.status_code == 415, (path, content_type, response.text)
            assert response.json()["status_code"] == 415
    for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
        accepted = await client.post(
            "/products", content=product, headers={**headers, "Content-Type": content_type}
        )
        assert accepted.status_code == 201, (content_type, accepted.text)


ID_IN_BODY = "must be a whole number from 1 to 2^63 - 1"
COUNTER = "must be a whole number from 0 to 2^63 - 1"


@pytest.mark.parametrize(
    ("path", "body", "field", "rule"),
    [
        ("/watchlists", {"product_id": "1"}, "product_id", ID_IN_BODY),
        ("/watchlists", {"product_id": 0}, "product_id", ID_IN_BODY),
        ("/watchlists", {"product_id": 2**63}, "product_id", ID_IN_BODY),
        ("/watchlists", {"product_id": True}, "product_id", ID_IN_BODY),
        ("/watchlists", [{"product_id": 1}], "body", "must be an object"),
        ("/ads", {"product_id": "1", "platform": "TikTok", "ad_content": "x"}, "product_id", ID_IN_BODY),
        ("/ads", {"product_id": 1.0, "platform": "TikTok", "ad_content": "x"}, "product_id", ID_IN_BODY),
        ("/ads", {"product_id": 1, "platform": 1, "ad_content": "x"}, "platform", PLATFORMS),
        (
            "/ads",
            {
                "product_id": 1,
                "platform": "TikTok",
                "ad_content": "x",
                "first_seen_at": "2026-03-01T00:00:00",
            },
            "first_seen_at",
            "must be an RFC 3339 time with a UTC offset, e.g. 2025-07-12T00:00:00Z",
        ),
        (
            "/alert-rules",
            {"kind": "score_threshold", "threshold": "50"},
            "threshold",
            "must be a number greater than 0 and at most 100",
        ),
        (
            "/alert-rules",
            {"kind": "score_threshold", "threshold": 0},
            "threshold",
            "must be a number greater than 0 and at most 100",
        ),
        (
            "/alert-rules",
            {"kind": "score_threshold", "threshold": 100.5},
            "threshold",
            "must be a number greater than 0 and at most 100",
        ),
        (
            "/alert-rules",
            {"kind": "score_rise", "window_hours": 0},
            "window_hours",
            "must be a whole number from 1 to 720",
        ),
        (
            "/alert-rules",
            {"kind": "score_rise", "window_hours": 721},
            "window_hours",
            "must be a whole number from 1 to 720",
        ),
        (
            "/alert-rules",
            {"kind": "score_rise", "channels": "email"},
            "channels",
            "must be an array of at most 2 items",
        ),
        ("/alerts/read", {"alert_ids": ["1"]}, "alert_ids[0]", ID_IN_BODY),
        ("/alerts/read", {"alert_ids": [0]}, "alert_ids[0]", ID_IN_BODY),
        ("/alerts/read", {"alert_ids": [1] * 1001}, "alert_ids", "must hold at most 1000 items"),
        ("/alerts/read", {"alert_ids": {}}, "alert_ids", "must be an array of at most 1000 items"),
        (
            "/products",
            {"name": "x", "description": "y", "keywords": "a"},
            "keywords",
            "must be an array of at most 50 items",
        ),
        ("/products", {"name": 1, "description": "y"}, "name", "must be a string"),
        ("/products", {"name": "x"}, "description", "is required"),
    ],
)
async def test_json_bodies_are_strict_about_types(
    client: Client, make_user: MakeUser, path: str, body: dict[str, Any], field: str, rule: str
) -> None:
    headers = await make_user("strict")
    await client.post("/products", json={"name": "Lamp", "description": "A lamp"}, headers=headers)
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["details"] == [{"field": field, "rule": rule, "index": None}]


@pytest.mark.parametrize(
    ("path", "body", "field", "rule"),
    [
        ("/watchlists", '{"product_id": 1e999}', "product_id", ID_IN_BODY),
        ("/watchlists", '{"product_id": -1e999}', "product_id", ID_IN_BODY),
        (
            "/alert-rules",
            '{"kind": "score_threshold", "threshold": 1e999}',
            "threshold",
            "must be a number greater than 0 and at most 100",
        ),
        (
            "/alert-rules",
            '{"kind": "score_rise", "window_hours": 1e999}',
            "window_hours",
            "must be a whole number from 1 to 720",
        ),
        ("/alerts/read", '{"alert_ids": [1e999]}', "alert_ids[0]", ID_IN_BODY),
    ],
)
async def test_a_number_beyond_any_float_is_told_the_fields_rule(
    client: Client, make_user: MakeUser, path: str, body: str, field: str, rule: str
) -> None:
    """JSON allows 1e999, which no float holds: msgspec says "Number out of range"; the client
    is told the field's whole rule, as for any other value out of its bounds."""
    headers = await make_user("overflow")
    response = await client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["details"] == [{"field": field, "rule": rule, "index": None}]


def _said(bound: float) -> str:
    """A bound as a rule says it (the document writes 2^63 - 1 as a float, so near enough)."""
    if abs(bound - (2**63 - 1)) < 2**11:
        return "2^63 - 1"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _property(schema: dict[str, Any]) -> dict[str, Any]:
    """A body property's schema without its null choice (Litestar writes the bounds beside
    ``oneOf`` or in the choice)."""
    choices = [s for s in schema.get("oneOf", schema.get("anyOf", [schema])) if s.get("type") != "null"]
    assert len(choices) == 1, schema
    return {**{k: v for k, v in schema.items() if k not in {"oneOf", "anyOf"}}, **choices[0]}


def _a_valid(schema: dict[str, Any], document: dict[str, Any]) -> object:
    if "$ref" in schema:
        schema = resolve(document, schema["$ref"])
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": int(schema.get("minimum", 1)), "number": 1.0, "boolean": True}.get(schema["type"], "x")


def wrong_body_values(
    schema: dict[str, Any], document: dict[str, Any]
) -> list[tuple[object, str, list[str]]]:
    """Values a number, boolean, object or array property of a body does not take, each with
    where the answer names it (after the property's name) and the bounds its rule must state."""
    bounds = [
        _said(schema[k])
        for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        if k in schema
    ]
    values: list[tuple[object, str, list[str]]] = []
    match schema.get("type"):
        case "integer" | "number" as kind:
            values += [("1", "", bounds), (True, "", bounds), ([1], "", bounds), ({}, "", bounds)]
            if kind == "integer":
                values.append((1.5, "", bounds))
            if "minimum" in schema:
                values.append((int(schema["minimum"]) - 1, "", bounds))
            if "maximum" in schema:
                values.append((int(schema["maximum"]) + 1, "", bounds))
            for key in ("exclusiveMinimum", "exclusiveMaximum"):
                if key in schema:
                    values.append((schema[key], "", bounds))
        case "boolean":
            values += [(1, "", []), ("true", "", []), (None, "", [])]
        case "object":
            values += [([], "", []), ("x", "", []), (1, "", [])]
        case "array":
            most = [str(schema["maxItems"])] if "maxItems" in schema else []
            values += [({}, "", most), ("x", "", most), (1, "", most)]
            item = schema.get("items", {})
            if most:
                values.append(([_a_valid(item, document)] * (schema["maxItems"] + 1), "", most))
            if item.get("type") in {"integer", "number", "boolean", "object", "array"}:
                values += [([v], f"[0]{at}", said) for v, at, said in wrong_body_values(item, document)]
    return values


def _components(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(ref := node.get("$ref"), str):
            yield ref.removeprefix("#/components/schemas/")
        for value in node.values():
            yield from _components(value)
    elif isinstance(node, list):
        for item in node:
            yield from _components(item)


async def test_every_body_field_refuses_a_wrong_value_by_name_and_rule(
    client: Client, make_user: MakeUser
) -> None:
    """Walks the OpenAPI document: every number, boolean, object or array property of every JSON
    request body, given a value of the wrong type or out of its bounds, is refused in the error
    shape naming the field (and an ingested item's index) with its rule in words, bounds stated,
    never in Python's or the decoder's types."""
    headers = await make_user("body_walker")
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    tried: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            url = path.replace("{product_id}", "1").replace("{rule_id}", "1")
            batch = path == "/engagement"  # one item among others, each checked on its own

            async def refused(
                body: object, *, url: str = url, method: str = method, batch: bool = batch
            ) -> list[Any]:
                answer = await client.request(
                    method.upper(),
                    url,
                    json=[{}, body] if batch else body,
                    params={"all_or_nothing": "true"} if batch else None,
                    headers=headers,
                )
                assert 400 <= answer.status_code < 500, answer.text
                error = answer.json()
                assert error["status_code"] == answer.status_code and error["message"], error
                for detail in error["details"]:
                    assert set(detail) == {"field", "rule", "index"}, error
                    assert_in_words(detail["rule"])
                    assert not PYTHON_TYPES.search(detail["rule"]), error
                return [d for d in error["details"] if not batch or d["index"] == 1]

            whole = await refused([] if not batch else 5)
            assert [(d["field"], d["rule"]) for d in whole] == [
                ("item" if batch else "body", "must be an object")
            ]
            for name in dict.fromkeys(_components(content["schema"])):
                component = schemas[name]
                for field, property_schema in component.get("properties", {}).items():
                    schema = _property(property_schema)
                    for value, at, bounds in wrong_body_values(schema, document):
                        # The body's other required fields are missing, and named after it.
                        details = await refused({field: value})
                        where = (method, path, field, value)
                        assert [d["field"] for d in details if d["rule"] != "is required"] == [field + at], (
                            where,
                            details,
                        )
                        assert details[0]["field"] == field + at, (where, details)
                        for bound in bounds:
                            assert bound in details[0]["rule"], (where, bound, details)
                        tried.add(f"{method.upper()} {path} {field}")
    assert {
        "POST /watchlists product_id",
        "POST /ads product_id",
        "POST /alert-rules window_hours",
        "POST /alert-rules threshold",
        "PUT /alert-rules/{rule_id} channels",
        "POST /alerts/read alert_ids",
        "POST /engagement views",
        "POST /engagement ad_id",
        "POST /products keywords",
    } <= tried
    views = await client.post(
        "/engagement", params={"all_or_nothing": "true"}, json=[{}, {"views": -1}], headers=headers
    )
    assert {"field": "views", "rule": COUNTER, "index": 1} in views.json()["details"]


async def test_missing_and_unknown_fields_are_named(client: Client) -> None:
    missing = await client.post("/signup", json={"username": "named", "email": "named@example.com"})
    assert missing.status_code == 422
    assert missing.json()["details"] == [{"field": "password", "rule": "is required", "index": None}]
    unknown = await client.post(
        "/signup",
        json={
            "username": "named",
            "email": "named@example.com",
            "password": "correct horse battery",
            "admin": 1,
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["details"] == [{"field": "admin", "rule": "is not a known field", "index": None}]


async def test_nul_characters_are_refused_everywhere_text_reaches_the_store(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("nul_user")
    _, ad_id = await setup_ad(client, headers)
    nul = "a\u0000b"
    answers = [
        await client.post(
            "/signup", json={"username": "nul_two", "email": f"{nul}@x.io", "password": "long enough pw"}
        ),
        await client.post("/token", data={"username": nul, "password": nul}),
        await client.post("/token/refresh", json={"refresh_token": nul}),
        await client.get("/products", params={"q": nul}),
        await client.get("/trending", params={"q": nul}),
        await client.post(
            "/engagement",
            json={
                "platform": "TikTok",
                "external_id": nul,
                "region": "US",
                "observed_at": "2026-03-01T00:00:00Z",
                "views": 1,
            },
            headers=headers,
        ),
        await client.post(
            "/engagement",
            json={"ad_id": ad_id, "region": nul, "observed_at": "2026-03-01T00:00:00Z", "views": 1},
            headers=headers,
        ),
    ]
    assert [a.status_code for a in answers][:5] == [422, 422, 401, 422, 422], [a.text for a in answers]
    for answer in answers[5:]:
        assert answer.status_code == 200
        assert answer.json()["stored"] == 0
        assert answer.json()["rejected"][0]["field"] in {"external_id", "region"}


@pytest.mark.parametrize(
    "written",
    ["1%0A", "%201", "1%20", "+1", "01", "1_0", "%D9%A1", "%EF%BC%91", "abc", "1.5", "0", "9" * 20],
)
async def test_an_id_in_the_path_is_plain_digits_or_a_422_naming_it(
    client: Client, make_user: MakeUser, written: str
) -> None:
    headers = await make_user("path_ids")
    for n in range(10):
        await client.post("/products", json={"name": f"P{n}", "description": "d"}, headers=headers)
    rule = await client.post("/alert-rules", json={"kind": "status_exploding"}, headers=headers)
    assert rule.json()["id"] == 1

    for method, path in [
        ("GET", f"/products/{written}"),
        ("GET", f"/trends/{written}"),
        ("POST", f"/calculate-score/{written}"),
        ("DELETE", f"/alert-rules/{written}"),
    ]:
        answer = await client.request(method, path, headers=headers)
        assert answer.status_code == 422, (method, path, answer.text)
        field = "rule_id" if "alert-rules" in path else "product_id"
        assert answer.json()["details"] == [{"field": field, "rule": ID_RULE, "index": None}]
    # "1%0A" once deleted rule 1 and "1_0" read product 10: nothing was acted on.
    assert [r["id"] for r in (await client.get("/alert-rules", headers=headers)).json()] == [1]
    page = await client.get(f"/ui/products/{written}", headers={"Accept": "text/html"})
    assert page.status_code == 422
    assert "product id must be a positive integer" in page.text


async def test_an_id_is_refused_in_the_same_words_in_the_path_as_in_a_query(client: Client) -> None:
    for written in ("0", "abc", "01", str(2**63)):
        in_path = await client.get(f"/products/{written}")
        in_query = await client.get("/scan-ads", params={"product_id": written})
        assert in_path.status_code == in_query.status_code == 422, written
        assert in_path.json()["details"] == in_query.json()["details"], written


async def test_every_repeatable_query_parameter_takes_at_most_50_values(
    client: Client, make_user: MakeUser
) -> None:
    """Walks the OpenAPI document: every query parameter that takes a list says it takes at most
    50 items, and a 51st is refused by the parameter's name, before any of them is looked at."""
    headers = await make_user("many_values")
    product_id, _ = await setup_ad(client, headers)
    valid = {"product_id": str(product_id), "region": "US"}
    document = (await client.get("/openapi.json")).json()
    lists: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if parameter["in"] != "query" or "array" not in {
                    choice.get("type") for choice in [schema, *schema.get("oneOf", [])]
                }:
                    continue
                name = parameter["name"]
                lists.add(f"{method.upper()} {path} {name}")
                assert schema.get("maxItems") == 50, (path, name, schema)
                url = path.replace("{product_id}", str(product_id))
                for count, status in ((50, 200), (51, 422)):
                    answer = await client.request(
                        method.upper(), url, params=[(name, valid[name])] * count, headers=headers
                    )
                    assert answer.status_code == status, (path, name, count, answer.text)
                answer_details = answer.json()["details"]
                assert answer_details == [
                    {"field": name, "rule": "must be given at most 50 times", "index": None}
                ], (path, name)
    assert lists == {"GET /heat-map product_id", "GET /products/{product_id}/spread region"}


async def test_every_refusal_names_its_field_and_rule(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("named_rules")

    def details(answer: Any) -> list[tuple[str, str]]:
        return [(d["field"], d["rule"]) for d in answer.json()["details"]]

    # The log-in form, as the JSON bodies: the missing field by name.
    no_password = await client.post("/token", data={"username": "named_rules"})
    assert no_password.status_code == 422
    assert details(no_password) == [("password", "is required")]
    # Taken: which field, still the contract's 400.
    taken = await client.post(
        "/signup",
        json={"username": "NAMED_RULES", "email": "other@example.com", "password": "long enough pw"},
    )
    assert taken.status_code == 400
    assert details(taken) == [("username", "is already registered (case-insensitively)")]
    # An unknown export type names the path parameter and the allowed values.
    other = await client.get("/export/other", headers=headers)
    assert other.status_code == 400
    assert details(other) == [("data_type", "must be one of: watchlist, trends")]
    # A choice, wherever it sits (a list's item, a batch's item), lists the allowed values.
    sms = await client.post(
        "/alert-rules", json={"kind": "status_exploding", "channels": ["sms"]}, headers=headers
    )
    assert sms.status_code == 422
    assert details(sms) == [("channels[0]", "must be one of: webhook, email")]
    myspace = await client.post(
        "/engagement",
        json=[
            {
                "platform": "MySpace",
                "external_id": "x",
                "region": "US",
                "observed_at": "2026-03-01T00:00:00Z",
                "views": 1,
            }
        ],
        headers=headers,
    )
    assert myspace.status_code == 200
    assert [(r["field"], r["rule"]) for r in myspace.json()["rejected"]] == [
        ("platform", "must be one of: TikTok, Facebook, Instagram, YouTube, Twitter")
    ]


def _patterns(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


async def test_every_pattern_a_request_is_held_to_is_said_in_words(client: Client) -> None:
    """Each pattern the OpenAPI document gives a body field, a form field or a query parameter:
    a value that breaks it (a NUL breaks them all) is refused with a sentence, not the regex."""
    patterns = set(_patterns((await client.get("/openapi.json")).json()))
    assert len(patterns) >= 3, patterns
    for pattern in patterns:
        with pytest.raises(msgspec.ValidationError) as error:
            msgspec.convert("a\u0000b", Annotated[str, msgspec.Meta(pattern=pattern)])
        _, rule = describe(error.value)
        assert_in_words(rule)


async def test_a_busy_database_answers_503_to_try_again_in_a_second() -> None:
    @get("/contended", sync_to_thread=False)
    def contended() -> None:
        raise Busy("the database was busy with another request")

    @get("/down", sync_to_thread=False)
    def down() -> None:
        raise Unavailable("the database is unavailable")

    # logging_config=None: Litestar's default would take over the process's "litestar" logger.
    app = Litestar(
        [contended, down], exception_handlers={DomainError: handle_domain_error}, logging_config=None
    )
    async with AsyncTestClient(app) as client:
        busy = await client.get("/contended")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["message"] == "The database was busy with another request; try again"
        outage = await client.get("/down")
        assert outage.status_code == 503
        assert outage.json()["message"] == "The database is unavailable; try again shortly"
