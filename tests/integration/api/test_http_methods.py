"""The methods each address answers, as HTTP says they must be answered: HEAD as GET without its
body (RFC 9110 §9.3.2), an ``Allow`` header that lists them all (OPTIONS, 405), and a
``Location`` for what a POST created (§15.3.2); and what an answer is, in the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.entrypoints.app import create_app
from tests.integration.api.support import MovableClock, api_settings, build_container, setup_ad, sign_up

Client = AsyncTestClient[Litestar]
MakeUser = Callable[[str], Awaitable[dict[str, str]]]
# Headers that differ between any two answers: the request's own id, the budget left.
_PER_REQUEST = {"x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset", "date", "set-cookie"}


@pytest.fixture
async def limited(database_url: str, clock: MovableClock) -> AsyncIterator[Client]:
    """A client of an app that counts requests, as in production (the API tests turn it off)."""
    settings = api_settings(
        database_url=database_url,
        rate_limit_enabled=True,
        rate_limit_default="1000/minute",
        rate_limit_heavy="1000/minute",
        rate_limit_auth="1000/minute",
    )
    async with AsyncTestClient(
        app=create_app(build_container(settings, clock)), base_url="http://127.0.0.1:8000"
    ) as test_client:
        yield test_client


def _lasting(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _PER_REQUEST}


async def test_head_answers_every_get_address_as_get_does_without_the_body(limited: Client) -> None:
    headers = await sign_up(limited, "header")
    product_id, _ = await setup_ad(limited, headers)
    await limited.post("/watchlists", json={"product_id": product_id}, headers=headers)
    document = (await limited.get("/openapi.json")).json()
    paths = [path for path, item in document["paths"].items() if "get" in item]
    assert len(paths) >= 15, paths
    filled = {"{product_id}": str(product_id), "{data_type}": "watchlist"}
    for path in [*paths, "/openapi.json", "/docs", "/"]:
        url = path
        for name, value in filled.items():
            url = url.replace(name, value)
        get = await limited.get(url, headers=headers)
        head = await limited.head(url, headers=headers)
        assert head.status_code == get.status_code, (url, head.status_code, head.text)
        assert head.content == b"", url
        assert _lasting(head.headers) == _lasting(get.headers), url
        assert "x-ratelimit-limit" in head.headers or path in {"/health", "/ready"}, url
    # An address without GET has no HEAD either: 405, naming what it answers.
    refused = await limited.head("/engagement", headers=headers)
    assert refused.status_code == 405
    assert refused.content == b""
    assert set(refused.headers["allow"].split(", ")) == {"OPTIONS", "POST"}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/products", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/alert-rules", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/alert-rules/1", {"DELETE", "OPTIONS", "PUT"}),
        ("/alerts", {"GET", "HEAD", "OPTIONS"}),
        ("/watchlists", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/watchlists/1", {"DELETE", "OPTIONS"}),
        ("/products/1", {"GET", "HEAD", "OPTIONS"}),
        ("/engagement", {"OPTIONS", "POST"}),
        ("/health", {"GET", "HEAD", "OPTIONS"}),
    ],
)
async def test_allow_lists_every_method_the_address_answers(
    client: Client, path: str, methods: set[str]
) -> None:
    """OPTIONS says them all, also where two controllers serve one path (GET /alert-rules in one
    place, POST in another); so does a 405, in the error shape."""
    options = await client.options(path)
    assert options.status_code == 204, options.text
    assert set(options.headers["allow"].split(", ")) == methods, path
    wrong = await client.patch(path)
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == methods, path
    assert wrong.json()["status_code"] == 405


async def test_a_created_product_is_answered_with_its_location(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("locator")
    created = await client.post("/products", json={"name": "Lamp", "description": "A lamp"}, headers=headers)
    assert created.status_code == 201
    location = created.headers["location"]
    assert location == f"/products/{created.json()['id']}"
    found = await client.get(location)
    assert found.status_code == 200
    assert found.json()["id"] == created.json()["id"]
    document = (await client.get("/openapi.json")).json()
    answer = document["paths"]["/products"]["post"]["responses"]["201"]
    assert answer["headers"]["Location"]["schema"] == {"type": "string"}
    assert "/products/{product_id}" in answer["headers"]["Location"]["description"]


async def test_the_document_describes_the_export_as_csv_of_its_allowed_types(client: Client) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/export/{data_type}"]["get"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "data_type"]
    assert parameter["in"] == "path"
    assert parameter["schema"]["enum"] == ["watchlist", "trends"]
    success = operation["responses"]["200"]
    assert success["content"] == {"text/csv": {"schema": {"type": "string"}}}
    for columns in (
        "Product ID,Product Name,Description,Added Date",
        "Product ID,Product Name,Trend Score,Date",
    ):
        assert columns in success["description"]
    assert "Content-Disposition" in success["headers"]


async def test_the_documented_error_answers_say_what_each_operation_can_get_wrong(
    client: Client, make_user: MakeUser
) -> None:
    """A GET has no body to be invalid JSON; the export's 400 is its unknown type, and it has no
    resource to miss (an unknown type is the 400, never a 404)."""
    document = (await client.get("/openapi.json")).json()
    export = document["paths"]["/export/{data_type}"]["get"]["responses"]
    assert "watchlist, trends" in export["400"]["description"]
    assert "404" not in export
    unknown = await client.get("/export/passwords", headers=await make_user("exporter"))
    assert unknown.status_code == 400
    for path, operation in (("/trending", "get"), ("/products/{product_id}", "get")):
        assert "JSON" not in document["paths"][path][operation]["responses"]["400"]["description"], path
    assert "JSON" in document["paths"]["/products"]["post"]["responses"]["400"]["description"]
