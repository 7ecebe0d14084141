"""The dashboard's session stays alive while its user is active: a page or form sent after the
session's access token expired is served as the user, renewed from the login's refresh token
(the ``ms_refresh`` cookie), and the answer sets both new cookies. Logins that ended (log-out, a
revoked login, a password change, a disabled account) and forged cookies are never renewed.
Time moves by the app's Clock; every test runs on each store (in-memory, SQLite, PostgreSQL: the
conftest's ``database_url``), since renewal is a store's work: spending a refresh token once,
telling a second tab within the grace from a replay, ending a login's whole family."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.usecases import accounts
from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container
from tests.integration.web.support import HTML, Client, csrf
from tests.integration.web.test_dashboard_sessions import PASSWORD, set_cookie, shape, signed_up

ACCESS_LIFETIME = timedelta(seconds=1800)  # the default access-token lifetime
EXPIRED = ACCESS_LIFETIME + timedelta(seconds=60)  # past it, and past the issuer's leeway
REFRESH_LIFETIME = 14 * 24 * 3600  # the default refresh-token lifetime, seconds


@dataclass
class Dashboard:
    client: Client
    app: Litestar
    clock: MovableClock


@pytest.fixture(params=["http", "https"])
async def dash(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Dashboard]:
    clock = MovableClock(NOW)
    app = create_app(build_container(api_settings(database_url=database_url), clock))
    async with AsyncTestClient(app=app, base_url=f"{request.param}://127.0.0.1:8000") as client:
        yield Dashboard(client, app, clock)


def cookie_header(client: Client) -> str:
    """The client's cookies as one ``Cookie`` header, to send the very same ones again later."""
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def page_with(client: Client, cookies: str, path: str = "/ui/watchlist") -> Response:
    """A page GET sent with exactly ``cookies`` (a Cookie header wins over the client's jar)."""
    return await client.get(path, headers={**HTML, "Cookie": cookies}, follow_redirects=False)


def hands_out(response: Response, name: str) -> bool:
    """Whether the answer sets cookie ``name`` to a value (not deletes it)."""
    return any(
        h.startswith(f"{name}=") and not h.startswith((f"{name}=;", f'{name}="";'))
        for h in response.headers.get_list("set-cookie")
    )


def is_signed_in(page: Response, username: str = "cookie_user") -> bool:
    return page.status_code == 200 and f"Signed in as <strong>{username}</strong>" in page.text


def login_redirect(response: Response) -> dict[str, list[str]]:
    assert response.status_code == 303, response.text
    parts = urlsplit(response.headers["location"])
    assert parts.path == "/ui/login", response.headers["location"]
    return parse_qs(parts.query)


async def product(dash: Dashboard, name: str) -> int:
    form = {"csrf_token": await csrf(dash.client), "action": "product", "name": name, "description": "d"}
    made = await dash.client.post("/ui/data", data=form, headers=HTML)
    found = re.search(r"#(\d+)", made.text)
    assert found, made.text
    return int(found.group(1))


async def test_log_in_sets_a_refresh_cookie_as_narrow_and_long_as_the_refresh_token(dash: Dashboard) -> None:
    signed = await signed_up(dash.client)
    refresh = set_cookie(signed, "ms_refresh")
    assert refresh["value"] and refresh["value"] != set_cookie(signed, "ms_session")["value"]
    assert refresh["max-age"] == str(REFRESH_LIFETIME)
    assert refresh["path"] == "/"
    assert "httponly" in refresh and refresh["samesite"] == "lax"
    assert ("secure" in refresh) is str(dash.client.base_url).startswith("https")


async def test_an_expired_session_is_renewed_on_a_page_and_sets_both_new_cookies(dash: Dashboard) -> None:
    signed = await signed_up(dash.client)
    dash.clock.advance(EXPIRED)
    page = await dash.client.get("/ui/watchlist", headers=HTML, follow_redirects=False)
    assert is_signed_in(page), page.headers.get("location")
    session, refresh = set_cookie(page, "ms_session"), set_cookie(page, "ms_refresh")
    assert session["value"] != set_cookie(signed, "ms_session")["value"]
    assert refresh["value"] != set_cookie(signed, "ms_refresh")["value"], "the refresh token is rotated"
    assert shape(session) == shape(set_cookie(signed, "ms_session"))
    assert shape(refresh) == shape(set_cookie(signed, "ms_refresh"))
    # Active for longer than one access token lives, and longer than the old cookie says:
    for _ in range(3):
        dash.clock.advance(EXPIRED)
        assert is_signed_in(await dash.client.get("/", headers=HTML, follow_redirects=False))
    bearer = {"Authorization": f"Bearer {dash.client.cookies.get('ms_session')}"}
    assert (await dash.client.get("/watchlists", headers=bearer)).status_code == 200


async def test_a_form_sent_with_an_expired_session_is_done(dash: Dashboard) -> None:
    await signed_up(dash.client)
    product_id = await product(dash, "Renewed Lamp")
    dash.clock.advance(EXPIRED)
    added = await dash.client.post(
        f"/ui/watchlist/{product_id}",
        data={"csrf_token": await csrf(dash.client)},
        headers=HTML,
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"/ui/products/{product_id}", "not sent to log in"
    assert set_cookie(added, "ms_session")["value"] and set_cookie(added, "ms_refresh")["value"]
    listed = await dash.client.get("/ui/watchlist", headers=HTML)
    assert is_signed_in(listed) and "Renewed Lamp" in listed.text, "the product was added"


async def ended_by_log_out(dash: Dashboard) -> None:
    out = await dash.client.post("/ui/logout", data={"csrf_token": await csrf(dash.client)}, headers=HTML)
    assert out.status_code == 200


async def ended_by_revoking_the_login(dash: Dashboard) -> None:
    """As an API client (or the user's other device) ending this login with its refresh token."""
    api = (await dash.client.post("/token", data={"username": "cookie_user", "password": PASSWORD})).json()
    revoked = await dash.client.post(
        "/token/revoke",
        json={"refresh_token": dash.client.cookies.get("ms_refresh")},
        headers={"Authorization": f"Bearer {api['access_token']}"},
    )
    assert revoked.status_code == 204, revoked.text


async def ended_by_a_password_change_elsewhere(dash: Dashboard) -> None:
    api = (await dash.client.post("/token", data={"username": "cookie_user", "password": PASSWORD})).json()
    changed = await dash.client.post(
        "/me/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers={"Authorization": f"Bearer {api['access_token']}"},
    )
    assert changed.status_code == 204, changed.text


async def ended_by_disabling_the_account(dash: Dashboard) -> None:
    container = dash.app.state.container
    await accounts.set_disabled(container.unit_of_work(), dash.clock, "cookie_user", disabled=True)


async def ended_by_tampering_with_the_refresh_cookie(dash: Dashboard) -> None:
    genuine = dash.client.cookies.get("ms_refresh")
    assert genuine
    tampered = genuine[:-2] + ("AA" if genuine[-2:] != "AA" else "BB")
    dash.client.cookies.set("ms_refresh", tampered, domain="127.0.0.1", path="/")


ENDINGS = {
    "log-out": ended_by_log_out,
    "revoked login": ended_by_revoking_the_login,
    "password changed elsewhere": ended_by_a_password_change_elsewhere,
    "disabled account": ended_by_disabling_the_account,
    "tampered refresh cookie": ended_by_tampering_with_the_refresh_cookie,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_a_session_that_ended_is_not_renewed(dash: Dashboard, ending: str) -> None:
    """Whatever the copy of the cookies the browser (or a thief) kept: after its login ended, a
    page sends it to log in, and a form's action is not done. Logging in again comes back to
    the page the form was on (``next``), the action is not replayed."""
    await signed_up(dash.client)
    product_id = await product(dash, "Kept Lamp")
    token = await csrf(dash.client)
    before = cookie_header(dash.client)
    await ENDINGS[ending](dash)
    kept = before if ending == "log-out" else cookie_header(dash.client)
    dash.clock.advance(EXPIRED)
    page = await page_with(dash.client, kept)
    assert login_redirect(page)["message"] == ["expired"]
    assert not hands_out(page, "ms_session") and not hands_out(page, "ms_refresh")
    dash.client.cookies.clear()
    for part in kept.split("; "):
        name, _, value = part.partition("=")
        dash.client.cookies.set(name, value, domain="127.0.0.1")
    sent = await dash.client.post(
        f"/ui/watchlist/{product_id}", data={"csrf_token": token}, headers=HTML, follow_redirects=False
    )
    assert login_redirect(sent) == {"message": ["expired"], "next": [f"/ui/products/{product_id}"]}
    if ending == "disabled account":
        return
    password = "another long passphrase" if ending == "password changed elsewhere" else PASSWORD
    form = {"csrf_token": token, "username": "cookie_user", "password": password}
    back = await dash.client.post(
        "/ui/login", data={**form, "next": f"/ui/products/{product_id}"}, headers=HTML, follow_redirects=False
    )
    assert back.status_code == 303 and back.headers["location"] == f"/ui/products/{product_id}"
    listed = await dash.client.get("/ui/watchlist", headers=HTML)
    assert is_signed_in(listed) and "Kept Lamp" not in listed.text, "the form is not replayed"


async def test_a_revoked_or_forged_access_token_is_not_renewed_by_a_valid_refresh_cookie(
    dash: Dashboard,
) -> None:
    """Only an expired session is renewed: one that was revoked (its access token ended on its
    own, by ``POST /token/revoke``) or forged is refused even with a refresh cookie that works."""
    await signed_up(dash.client)
    session = dash.client.cookies.get("ms_session")
    refresh = dash.client.cookies.get("ms_refresh")
    assert session and refresh
    revoked = await dash.client.post("/token/revoke", headers={"Authorization": f"Bearer {session}"})
    assert revoked.status_code == 204
    page = await page_with(dash.client, f"ms_session={session}; ms_refresh={refresh}")
    assert login_redirect(page)["message"] == ["expired"]
    assert not hands_out(page, "ms_session") and not hands_out(page, "ms_refresh")
    # An expired token with a forged signature is no expired session of ours.
    dash.clock.advance(EXPIRED)
    forged = f"{session[:-3]}abc" if not session.endswith("abc") else f"{session[:-3]}xyz"
    page = await page_with(dash.client, f"ms_session={forged}; ms_refresh={refresh}")
    assert login_redirect(page)["message"] == ["expired"]
    assert not hands_out(page, "ms_session") and not hands_out(page, "ms_refresh")
    # Those refusals did not spend the refresh cookie: its login goes on (the API's revoke of an
    # access token alone ends that token, not its login).
    assert is_signed_in(await page_with(dash.client, f"ms_refresh={refresh}"))


async def test_two_tabs_renewing_the_same_expired_session_both_succeed_and_the_login_goes_on(
    dash: Dashboard,
) -> None:
    """Two requests with the same expired cookies: the first rotates the refresh token, the other
    (within the renewal grace) is served with a new access token and leaves the rotated refresh
    cookie alone; the login stays alive, and later renewals work."""
    await signed_up(dash.client)
    dash.clock.advance(EXPIRED)
    same = cookie_header(dash.client)
    first, second = await asyncio.gather(page_with(dash.client, same), page_with(dash.client, same))
    assert is_signed_in(first) and is_signed_in(second)
    rotated = [r for r in (first, second) if hands_out(r, "ms_refresh")]
    assert len(rotated) == 1, "one of them rotates the refresh token, the other keeps it"
    refresh = set_cookie(rotated[0], "ms_refresh")["value"]
    dash.clock.advance(timedelta(seconds=5))
    third = await page_with(dash.client, same)
    assert is_signed_in(third), "a third tab within the grace too"
    session = set_cookie(third, "ms_session")["value"]
    dash.clock.advance(EXPIRED)
    assert is_signed_in(await page_with(dash.client, f"ms_session={session}; ms_refresh={refresh}"))


async def test_a_spent_refresh_cookie_replayed_after_the_grace_ends_the_login(dash: Dashboard) -> None:
    """Reuse detection still holds: a copy of the cookies replayed once the login has moved on
    ends the login, for the copy and for the browser that moved it on."""
    await signed_up(dash.client)
    dash.clock.advance(EXPIRED)
    stolen = cookie_header(dash.client)
    assert is_signed_in(await dash.client.get("/ui/watchlist", headers=HTML, follow_redirects=False))
    dash.clock.advance(timedelta(minutes=5))
    assert login_redirect(await page_with(dash.client, stolen))["message"] == ["expired"]
    dash.clock.advance(EXPIRED)
    page = await dash.client.get("/ui/watchlist", headers=HTML, follow_redirects=False)
    assert login_redirect(page)["message"] == ["expired"], "the whole login has ended"


async def test_a_refresh_cookie_is_never_an_api_credential(dash: Dashboard) -> None:
    await signed_up(dash.client)
    refresh = dash.client.cookies.get("ms_refresh")
    assert refresh
    bearer = await dash.client.get("/watchlists", headers={"Authorization": f"Bearer {refresh}"})
    assert bearer.status_code == 401
    no_session = await dash.client.get("/watchlists", headers={"Cookie": f"ms_refresh={refresh}"})
    assert no_session.status_code == 401
    assert not hands_out(no_session, "ms_session"), "no session from the API"
    # Off the pages nothing is renewed: the API is served by its bearer alone.
    dash.clock.advance(EXPIRED)
    session = dash.client.cookies.get("ms_session")
    api = await dash.client.get("/watchlists", headers={"Authorization": f"Bearer {session}"})
    assert api.status_code == 401
    assert not hands_out(api, "ms_session") and not hands_out(api, "ms_refresh")


async def test_log_out_ends_the_login_on_the_server_and_deletes_both_cookies(dash: Dashboard) -> None:
    signed = await signed_up(dash.client)
    kept = cookie_header(dash.client)
    refresh = dash.client.cookies.get("ms_refresh")
    out = await dash.client.post(
        "/ui/logout", data={"csrf_token": await csrf(dash.client)}, headers=HTML, follow_redirects=False
    )
    assert out.status_code == 303
    for name in ("ms_session", "ms_refresh"):
        deleted = set_cookie(out, name)
        assert deleted["max-age"] == "0" and deleted["value"] == ""
        assert shape(deleted) == shape(set_cookie(signed, name))
    assert login_redirect(await page_with(dash.client, kept))["message"] == ["expired"]
    dash.clock.advance(EXPIRED)
    assert login_redirect(await page_with(dash.client, kept))["message"] == ["expired"]
    refused = await dash.client.post("/token/refresh", json={"refresh_token": refresh})
    assert refused.status_code == 401, "the refresh token was revoked on the server"


async def test_log_out_of_an_expired_session_still_ends_its_login(dash: Dashboard) -> None:
    await signed_up(dash.client)
    dash.clock.advance(EXPIRED)
    kept = cookie_header(dash.client)
    out = await dash.client.post(
        "/ui/logout", data={"csrf_token": await csrf(dash.client)}, headers=HTML, follow_redirects=False
    )
    assert out.status_code == 303
    assert set_cookie(out, "ms_session")["max-age"] == "0", "the renewal does not outlive the log-out"
    assert set_cookie(out, "ms_refresh")["max-age"] == "0"
    assert login_redirect(await page_with(dash.client, kept))["message"] == ["expired"]


async def test_the_account_page_sets_the_new_logins_refresh_cookie_after_a_password_change(
    dash: Dashboard,
) -> None:
    await signed_up(dash.client)
    before = dash.client.cookies.get("ms_refresh")
    dash.clock.advance(timedelta(milliseconds=250))
    form = {
        "csrf_token": await csrf(dash.client),
        "current_password": PASSWORD,
        "new_password": "brand new passphrase",
    }
    done = await dash.client.post("/ui/account/password", data=form, headers=HTML, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert set_cookie(done, "ms_refresh")["value"] not in {"", before}
    dash.clock.advance(EXPIRED)
    assert is_signed_in(await dash.client.get("/ui/account", headers=HTML, follow_redirects=False))
