"""Hostile input never produces a 5xx or a stack trace: random bodies and queries on every route."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.api.support import sign_up

Client = AsyncTestClient[Litestar]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=6)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "name",
        "description",
        "product_id",
        "platform",
        "ad_content",
        "external_id",
        "views",
        "region",
        "observed_at",
        "username",
        "email",
        "password",
        "kind",
        "threshold",
        "window_hours",
        "alert_ids",
        "refresh_token",
        "ad_id",
        "keywords",
        "first_seen_at",
        "url",
    ]
)
bodies = st.one_of(json_values, st.dictionaries(field_names, json_values, max_size=8))
POSTS = [
    "/signup",
    "/token/refresh",
    "/products",
    "/ads",
    "/engagement",
    "/watchlists",
    "/alert-rules",
    "/alerts/read",
    "/calculate-score/1",
]
GETS = [
    "/products",
    "/ads",
    "/trending",
    "/scan-ads",
    "/heat-map",
    "/trends/1",
    "/alerts",
    "/export/watchlist",
]
query_values = st.one_of(st.text(max_size=40), st.integers(-(2**70), 2**70).map(str))


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if (
        response.headers.get("content-type", "").startswith("application/json")
        and response.status_code >= 400
    ):
        body = response.json()
        assert body["status_code"] == response.status_code
        assert "Traceback" not in response.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(POSTS), body=bodies)
async def test_random_json_bodies(client: Client, path: str, body: object) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    _check(
        await client.post(
            path, content=json.dumps(body).encode(), headers={**headers, "Content-Type": "application/json"}
        )
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(GETS),
    params=st.dictionaries(
        st.sampled_from(
            ["skip", "limit", "q", "product_id", "platform", "status", "since", "until", "level", "unread"]
        ),
        query_values,
        max_size=4,
    ),
)
async def test_random_query_strings(client: Client, path: str, params: dict[str, str]) -> None:
    _check(await client.get(path, params=params))


async def test_authenticated_garbage_is_refused_cleanly(client: Client) -> None:
    headers = await sign_up(client, "fuzzer")
    for path in POSTS[2:]:
        for raw in (b"", b"null", b"[]", b'{"a":', b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"1e999999"):
            _check(
                await client.post(path, content=raw, headers={**headers, "Content-Type": "application/json"})
            )
    _check(
        await client.post(
            "/token",
            content=b"username=%ZZ&password",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    _check(await client.get("/products/99999999999999999999999"))
    _check(await client.delete("/watchlists/-1", headers=headers))
