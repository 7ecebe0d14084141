"""What the dashboard tests share: asking for HTML, and the CSRF token a form must carry."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]
HTML = {"Accept": "text/html"}


async def csrf(client: Client) -> str:
    """The client's CSRF token (the ``ms_csrf`` cookie), fetched with the login page if unset."""
    if not client.cookies.get("ms_csrf"):
        assert (await client.get("/ui/login", headers=HTML)).status_code == 200
    token = client.cookies.get("ms_csrf")
    assert token
    return token


async def signed_up(client: Client, username: str) -> None:
    """Signs ``username`` up through the dashboard's form, which signs the client in."""
    form = {
        "csrf_token": await csrf(client),
        "username": username,
        "email": f"{username}@example.com",
        "password": "a long enough passphrase",
    }
    response = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 303, response.text
