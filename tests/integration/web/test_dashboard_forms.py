"""The dashboard's forms over HTTP (no browser): uploads, redirects, cookies, headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app(build_container(api_settings(), MovableClock(NOW)))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


async def csrf(client: Client) -> str:
    if not client.cookies.get("ms_csrf"):
        assert (await client.get("/ui/login", headers=HTML)).status_code == 200
    token = client.cookies.get("ms_csrf")
    assert token
    return token


async def signed_up(client: Client, username: str = "web_user") -> Client:
    form = {
        "csrf_token": await csrf(client),
        "username": username,
        "email": f"{username}@example.com",
        "password": "a long enough passphrase",
    }
    response = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


async def upload(client: Client, name: str, raw: bytes) -> str:
    response = await client.post(
        "/ui/data",
        data={"csrf_token": await csrf(client), "action": "upload"},
        files={"file": (name, raw, "text/csv")},
        headers=HTML,
    )
    assert response.status_code < 500, response.text
    return response.text


HEADER = "ad_id,observed_at,region,views,likes,comments,shares"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
async def test_csv_lines_may_end_in_cr_lf_or_both(client: Client, ending: str) -> None:
    await signed_up(client)
    rows = [HEADER, "999,2026-03-01T10:00:00Z,US,5,0,0,0", "999,2026-03-01T11:00:00Z,US,9,0,0,0"]
    text = await upload(client, "mac.csv", (ending.join(rows) + ending).encode())
    assert "2 rows:" in text, "both rows are read (and rejected: ad 999 does not exist)"


async def test_a_binary_file_named_csv_gets_a_message_not_a_500(client: Client) -> None:
    await signed_up(client)
    text = await upload(client, "binary.csv", bytes(range(256)) * 4)
    assert 'class="error"' in text
    assert "file:" in text and "line" in text


@pytest.mark.parametrize("raw", [b"", HEADER.encode() + b"\n"])
async def test_a_file_without_rows_says_so(client: Client, raw: bytes) -> None:
    await signed_up(client)
    text = await upload(client, "empty.csv", raw)
    assert "the file has no rows" in text
    assert "0 stored" not in text


async def test_malformed_json_upload_gets_a_message(client: Client) -> None:
    await signed_up(client)
    text = await upload(client, "broken.json", b"[{")
    assert 'class="error"' in text and "JSON" in text
