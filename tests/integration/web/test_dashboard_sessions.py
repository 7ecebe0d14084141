"""The dashboard's cookies over HTTP (no browser): the signed one-shot note, and what deleting a
cookie sets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient

from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container
from tests.integration.web.support import HTML, Client, csrf

PASSWORD = "a long enough passphrase"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture(params=["http", "https"])
async def client(request: pytest.FixtureRequest, clock: MovableClock) -> AsyncIterator[Client]:
    app = create_app(build_container(api_settings(), clock))
    async with AsyncTestClient(app=app, base_url=f"{request.param}://127.0.0.1:8000") as test_client:
        yield test_client


async def signed_up(client: Client, username: str = "cookie_user") -> Response:
    form = {
        "csrf_token": await csrf(client),
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
    }
    response = await client.post("/ui/signup", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


async def created_product(client: Client, name: str) -> Response:
    """The redirect of the Data page's product form, not followed: it sets the note."""
    form = {"csrf_token": await csrf(client), "action": "product", "name": name, "description": "d"}
    made = await client.post("/ui/data", data=form, headers=HTML, follow_redirects=False)
    assert made.status_code == 303, made.text
    return made


def set_cookie(response: Response, name: str) -> dict[str, str]:
    """The attributes of the response's Set-Cookie for ``name`` (names in lower case; ``value``
    the cookie's value), which must be there once."""
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    first, *attributes = (part.strip() for part in found[0].split(";"))
    cookie = {"value": first.partition("=")[2].strip('"')}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        cookie[key.lower()] = value.lower()
    return cookie


def shape(cookie: dict[str, str]) -> dict[str, str]:
    """What a deletion must repeat of the cookie it deletes: all but the value and its lifetime."""
    return {k: v for k, v in cookie.items() if k not in {"value", "max-age", "expires"}}


async def test_a_note_the_server_did_not_sign_is_never_shown(client: Client) -> None:
    await signed_up(client)
    made = await created_product(client, "Real Lamp")
    product_id = re.search(r"#(\d+)", (await client.get("/ui/data", headers=HTML)).text)
    assert product_id, "the genuine note is shown"
    bait = "Call +1 555 0100 now to keep your account"
    for note, page, shown in (
        (f"ad:1:{bait}:{product_id.group(1)}", "/ui/data", bait),
        ("password", "/ui/account", "Password changed"),
        (f"product:{product_id.group(1)}", "/ui/data", "Created product"),
    ):
        client.cookies.set("ms_flash", quote(note), domain="127.0.0.1", path="/ui")
        answer = await client.get(page, headers=HTML)
        assert answer.status_code == 200
        assert shown not in answer.text, f"{note}: a planted note is shown"
    genuine = set_cookie(made, "ms_flash")["value"]
    tampered = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    client.cookies.set("ms_flash", tampered, domain="127.0.0.1", path="/ui")
    assert "Created product" not in (await client.get("/ui/data", headers=HTML)).text
    client.cookies.set("ms_flash", genuine, domain="127.0.0.1", path="/ui")
    assert "Created product “Real Lamp”" in (await client.get("/ui/data", headers=HTML)).text


async def test_a_note_sealed_for_another_account_is_not_shown(client: Client) -> None:
    """A genuine note is bound to the account it was made for: someone who names a product with a
    phishing text cannot plant the note of its creation on another user's page."""
    await signed_up(client, "attacker")
    bait = "Your account is locked: call +1 555 0100"
    made = await created_product(client, bait)
    client.cookies.clear()
    await signed_up(client, "victim")
    client.cookies.set("ms_flash", set_cookie(made, "ms_flash")["value"], domain="127.0.0.1", path="/ui")
    page = await client.get("/ui/data", headers=HTML)
    assert page.status_code == 200
    assert "Signed in as <strong>victim</strong>" in page.text
    assert bait not in page.text.split('<datalist id="product-suggestions">', 1)[0]


async def test_a_note_lasts_a_minute(client: Client, clock: MovableClock) -> None:
    await signed_up(client)
    made = await created_product(client, "Brief Lamp")
    assert set_cookie(made, "ms_flash")["max-age"] == "60"
    clock.advance(timedelta(seconds=59))
    assert "Created product “Brief Lamp”" in (await client.get("/ui/data", headers=HTML)).text
    await created_product(client, "Late Lamp")
    clock.advance(timedelta(seconds=61))
    late = await client.get("/ui/data", headers=HTML)
    assert late.status_code == 200
    assert "Created product" not in late.text, "a note read after its minute is not shown"


async def test_cookies_are_deleted_with_the_attributes_they_were_set_with(client: Client) -> None:
    signed = await signed_up(client)
    made = await created_product(client, "Shaped Lamp")
    read = await client.get("/ui/data", headers=HTML)
    assert "Created product" in read.text
    deleted_note = set_cookie(read, "ms_flash")
    assert deleted_note["max-age"] == "0"
    assert shape(deleted_note) == shape(set_cookie(made, "ms_flash"))

    out = await client.post(
        "/ui/logout", data={"csrf_token": await csrf(client)}, headers=HTML, follow_redirects=False
    )
    assert out.status_code == 303
    deleted_session = set_cookie(out, "ms_session")
    assert deleted_session["max-age"] == "0"
    assert shape(deleted_session) == shape(set_cookie(signed, "ms_session"))
    secure = str(client.base_url).startswith("https")
    for cookie in (deleted_note, deleted_session):
        assert "httponly" in cookie and cookie["samesite"] == "lax"
        assert ("secure" in cookie) is secure


async def test_a_session_ended_by_log_out_is_refused_when_copied_before(client: Client) -> None:
    """The session is an access token: a copy taken before log-out (the page's API calls, a
    stolen cookie) no longer works after it, on the pages or on the API."""
    await signed_up(client, "leaver")
    copied = client.cookies.get("ms_session")
    assert copied
    bearer = {"Authorization": f"Bearer {copied}"}
    assert (await client.get("/watchlists", headers=bearer)).status_code == 200
    out = await client.post(
        "/ui/logout", data={"csrf_token": await csrf(client)}, headers=HTML, follow_redirects=False
    )
    assert out.status_code == 303
    refused = await client.get("/watchlists", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["status_code"] == 401
    client.cookies.set("ms_session", copied, domain="127.0.0.1", path="/")
    page = await client.get("/ui/watchlist", headers=HTML, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login?")


async def test_a_password_changed_on_the_account_page_ends_every_other_session_but_this_one(
    client: Client, clock: MovableClock
) -> None:
    await signed_up(client, "mover")
    copied = client.cookies.get("ms_session")
    clock.advance(timedelta(milliseconds=250))
    form = {
        "csrf_token": await csrf(client),
        "current_password": PASSWORD,
        "new_password": "brand new passphrase",
    }
    done = await client.post("/ui/account/password", data=form, headers=HTML, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = await client.get("/ui/account", headers=HTML)
    assert "Password changed" in page.text
    assert "Signed in as <strong>mover</strong>" in page.text, "this browser stays signed in"
    assert client.cookies.get("ms_session") != copied
    refused = await client.get("/watchlists", headers={"Authorization": f"Bearer {copied}"})
    assert refused.status_code == 401, "the session from before the change has ended"


def _said(text: str) -> str:
    """A page's main text, without its tags, its white space folded."""
    main = text.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


@pytest.mark.parametrize("path", ["/ui/login", "/ui/signup"])
async def test_the_login_and_signup_pages_say_who_is_signed_in(client: Client, path: str) -> None:
    """Signed in, the header of the log-in and sign-up pages shows the account as every page
    does, and the page says that its form signs in as another account, next to a Log out."""
    await signed_up(client, "present")
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200
    header = page.text.split("<main", 1)[0]
    assert "Signed in as <strong>present</strong>" in header
    assert 'href="/ui/login">Log in</a>' not in header
    assert page.headers["cache-control"] == "no-store", "a signed-in page is never stored"
    said = _said(page.text)
    assert "You are signed in as present." in said
    other = "log in as another account" if path == "/ui/login" else "create another account"
    assert f"The form below will {other}, and sign you out of this one" in said
    main = page.text.split('<main id="main">', 1)[1]
    assert re.search(r'<form method="post" action="/ui/logout"[^>]*>.*?Log out</button>', main, re.S)
    # a refused form is answered as the signed-in account still
    if path == "/ui/login":
        form = {"csrf_token": await csrf(client), "username": "present", "password": "wrong one"}
    else:
        form = {"csrf_token": await csrf(client), "username": "x", "email": "e", "password": "p"}
    refused = await client.post(path, data=form, headers=HTML)
    assert refused.status_code in {401, 422}
    assert "Signed in as <strong>present</strong>" in refused.text
    assert "You are signed in as present." in _said(refused.text)


async def test_the_login_page_signed_out_says_nothing_of_an_account(client: Client) -> None:
    page = await client.get("/ui/login", headers=HTML)
    assert "You are signed in" not in page.text and 'href="/ui/login">Log in</a>' in page.text
