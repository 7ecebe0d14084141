"""Sign-up, login, refresh rotation and every way a token can be wrong."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Literal, Self

import jwt
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.repositories import SqlRefreshTokenRepository
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.errors import AuthenticationFailed
from marketscout.domain.model import RefreshToken
from marketscout.domain.ports import TokenIssuer
from marketscout.domain.usecases import accounts
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.settings import Settings
from tests.integration.api.support import (
    SECRET,
    MovableClock,
    api_settings,
    assert_in_words,
    build_container,
    sign_up,
)

Client = AsyncTestClient[Litestar]
PROTECTED = "/watchlists"


def _claims(token: str) -> dict[str, Any]:
    """The token's claims, checked against the test secret but not against the clock."""
    claims: dict[str, Any] = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="marketscout-api",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return claims


def _assert_error(body: dict[str, object], status: int) -> None:
    assert body["status_code"] == status
    assert isinstance(body["message"], str)
    assert body["message"]


async def test_sign_up_returns_the_user_without_secrets(client: Client) -> None:
    response = await client.post(
        "/signup", json={"username": "Ana_1", "email": "ana@example.com", "password": "a long passphrase"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "Ana_1"
    assert body["email"] == "ana@example.com"
    assert set(body) == {"id", "username", "email", "created_at"}
    assert body["created_at"].endswith("Z")
    assert "passphrase" not in response.text
    assert "argon2" not in response.text


@pytest.mark.parametrize(
    ("username", "email"),
    [("ana", "other@example.com"), ("ANA", "other@example.com"), ("other", "ANA@example.com")],
)
async def test_duplicate_username_or_email_is_400_case_insensitively(
    client: Client, username: str, email: str
) -> None:
    await client.post(
        "/signup", json={"username": "ana", "email": "ana@example.com", "password": "a long passphrase"}
    )
    response = await client.post(
        "/signup", json={"username": username, "email": email, "password": "another long one"}
    )
    assert response.status_code == 400
    _assert_error(response.json(), 400)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "ab", "email": "a@example.com", "password": "a long passphrase"}, "username"),
        ({"username": "a" * 51, "email": "a@example.com", "password": "a long passphrase"}, "username"),
        ({"username": "bad name!", "email": "a@example.com", "password": "a long passphrase"}, "username"),
        ({"username": "fine", "email": "not-an-email", "password": "a long passphrase"}, "email"),
        ({"username": "fine", "email": "g:root;x123@example.com", "password": "a long passphrase"}, "email"),
        (
            {"username": "fine", "email": "x<postmaster>@example.com", "password": "a long passphrase"},
            "email",
        ),
        ({"username": "fine", "email": "root,me123@example.com", "password": "a long passphrase"}, "email"),
        ({"username": "fine", "email": "a@example.com", "password": "short"}, "password"),
        ({"username": "fine", "email": "a@example.com", "password": "x" * 129}, "password"),
        ({"username": "fine", "email": "a@example.com", "password": "password123"}, "password"),
        ({"username": "fine", "email": "a@example.com"}, "password"),
        (
            {"username": "fine", "email": "a@example.com", "password": "a long passphrase", "admin": True},
            "admin",
        ),
    ],
)
async def test_invalid_sign_up_is_422_naming_the_field(
    client: Client, payload: dict[str, object], field: str
) -> None:
    response = await client.post("/signup", json=payload)
    assert response.status_code == 422, response.text
    body = response.json()
    _assert_error(body, 422)
    assert any(field in d["field"] or field in d["rule"] for d in body["details"]), body
    listing = await client.get("/products")
    assert listing.status_code == 200


async def test_login_gives_a_bearer_pair(client: Client) -> None:
    await sign_up(client, "bob")
    response = await client.post("/token", data={"username": "BOB", "password": "correct horse battery"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    claims = _claims(body["access_token"])
    assert {"sub", "exp", "iat", "iss", "aud", "jti"} <= set(claims)


async def test_login_takes_the_email_address_in_any_case(client: Client) -> None:
    """Usernames never hold "@", so a login name with one is the account's e-mail address."""
    await sign_up(client, "erin")
    by_name = await client.post("/token", data={"username": "erin", "password": "correct horse battery"})
    for name in ("erin@example.com", " ERIN@Example.COM "):
        response = await client.post("/token", data={"username": name, "password": "correct horse battery"})
        assert response.status_code == 200, (name, response.text)
        assert (
            _claims(response.json()["access_token"])["sub"] == _claims(by_name.json()["access_token"])["sub"]
        )
    wrong = await client.post("/token", data={"username": "erin@example.com", "password": "not the password"})
    unknown = await client.post(
        "/token", data={"username": "nobody@example.com", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]


async def test_wrong_password_and_unknown_user_answer_alike(client: Client) -> None:
    await sign_up(client, "carol")
    wrong = await client.post("/token", data={"username": "carol", "password": "not the password"})
    unknown = await client.post("/token", data={"username": "nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_refresh_rotates_and_a_replay_revokes_the_login(client: Client) -> None:
    await sign_up(client, "dan")
    first = (
        await client.post("/token", data={"username": "dan", "password": "correct horse battery"})
    ).json()
    second = await client.post("/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    replay = await client.post("/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    # The replay revoked the whole family: the newest token of that login is dead too.
    after = await client.post("/token/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401


async def test_unknown_refresh_token_is_401(client: Client) -> None:
    response = await client.post("/token/refresh", json={"refresh_token": "made-up"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "written",
    ["", "   ", "x" * 513, "x" * 100_000, "a b", "tøken", "a\nb", "\U0001f600"],
)
async def test_a_malformed_refresh_token_is_401_as_an_unknown_one(client: Client, written: str) -> None:
    """A refresh token sent that no issued one can be (blank, too long, of other characters) is
    one the server does not know: 401 with WWW-Authenticate, as the contract says of any refresh
    that fails, in the words an unknown token gets; not a 422 that tells it apart."""
    unknown = await client.post("/token/refresh", json={"refresh_token": "made-up"})
    response = await client.post("/token/refresh", json={"refresh_token": written})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["message"] == unknown.json()["message"] == "Invalid or expired refresh token"
    assert response.json()["details"] == unknown.json()["details"]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (b"{}", "refresh_token", "is required"),
        (b'{"refresh_token": 5}', "refresh_token", "must be a string"),
        (b'{"refresh_token": null}', "refresh_token", "must be a string"),
        (b'{"refresh_token": "x", "extra": 1}', "extra", "is not a known field"),
        (b'["x"]', "body", "must be an object"),
    ],
)
async def test_a_refresh_body_without_a_refresh_token_string_is_422(
    client: Client, body: bytes, field: str, rule: str
) -> None:
    response = await client.post("/token/refresh", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert "www-authenticate" not in response.headers
    assert [(d["field"], d["rule"]) for d in response.json()["details"]] == [(field, rule)]


def _forge(claims: dict[str, object], header: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


async def test_every_bad_token_is_401(client: Client, clock: MovableClock) -> None:
    headers = await sign_up(client, "eve")
    good = headers["Authorization"].removeprefix("Bearer ")
    claims = _claims(good)
    header_b64, _payload_b64, signature = good.split(".")
    tampered_claims = dict(claims, sub="999")
    tampered = ".".join([header_b64, jwt.encode(tampered_claims, SECRET).split(".")[1], signature])
    candidates = {
        "missing": None,
        "not bearer": f"Basic {good}",
        "empty bearer": "Bearer ",
        "malformed": "Bearer not.a.jwt",
        "tampered": f"Bearer {tampered}",
        "alg none": "Bearer " + _forge(claims, {"alg": "none", "typ": "JWT"}),
        "wrong audience": "Bearer " + jwt.encode(dict(claims, aud="someone-else"), SECRET, algorithm="HS256"),
        "wrong issuer": "Bearer " + jwt.encode(dict(claims, iss="evil"), SECRET, algorithm="HS256"),
        "other key": "Bearer "
        + jwt.encode(
            claims, "another-secret-that-is-also-long-enough-for-hs512-0123456789abcdefg", algorithm="HS256"
        ),
        "HS512": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS512"),
    }
    for name, value in candidates.items():
        response = await client.get(PROTECTED, headers={"Authorization": value} if value else {})
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"] == "Bearer", name
        _assert_error(response.json(), 401)
    assert (await client.get(PROTECTED, headers=headers)).status_code == 200
    clock.advance(timedelta(minutes=31))
    expired = await client.get(PROTECTED, headers=headers)
    assert expired.status_code == 401


async def test_a_closed_sign_up_is_403_and_accounts_still_log_in(clock: MovableClock) -> None:
    """``MARKETSCOUT_SIGNUP_OPEN=false``: an instance open to the public takes no new accounts
    through the API; those its operator adds (``marketscout users add``) log in as before."""
    container = build_container(api_settings(signup_open=False), clock)
    passphrase = "a long enough passphrase"
    async with AsyncTestClient(app=create_app(container), base_url="http://127.0.0.1:8000") as client:
        answer = await client.post(
            "/signup", json={"username": "newcomer", "email": "new@example.com", "password": passphrase}
        )
        assert answer.status_code == 403
        _assert_error(answer.json(), 403)
        assert (
            answer.json()["message"] == "sign-up is closed on this instance: ask its operator for an account"
        )
        refused = await client.post("/token", data={"username": "newcomer", "password": passphrase})
        assert refused.status_code == 401, "the refused sign-up stored nothing"
        await accounts.sign_up(
            container.unit_of_work(),
            container.password_hasher(),
            clock,
            username="added_by_operator",
            email="op@example.com",
            password=passphrase,
        )
        token = await client.post("/token", data={"username": "added_by_operator", "password": passphrase})
        assert token.status_code == 200, token.text


async def test_a_user_changes_their_password_and_their_other_logins_end(client: Client) -> None:
    """POST /me/password: the current password, then the new one by the sign-up's rules; 204,
    the old password stops working, the account's other logins (refresh tokens) end; a wrong
    current password or a new one that breaks a rule is a 422 naming the field."""
    headers = await sign_up(client, "erin")
    other = (
        await client.post("/token", data={"username": "erin", "password": "correct horse battery"})
    ).json()
    wrong = await client.post(
        "/me/password",
        json={"current_password": "not it at all", "new_password": "a fresh passphrase"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["details"][0]["field"] == "current_password"
    weak = await client.post(
        "/me/password",
        json={"current_password": "correct horse battery", "new_password": "password123"},
        headers=headers,
    )
    assert weak.status_code == 422
    assert weak.json()["details"][0]["field"] == "new_password"
    assert "common" in weak.json()["details"][0]["rule"]
    changed = await client.post(
        "/me/password",
        json={"current_password": "correct horse battery", "new_password": "a fresh passphrase"},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    old = await client.post("/token", data={"username": "erin", "password": "correct horse battery"})
    assert old.status_code == 401
    new = await client.post("/token", data={"username": "erin", "password": "a fresh passphrase"})
    assert new.status_code == 200
    ended = await client.post("/token/refresh", json={"refresh_token": other["refresh_token"]})
    assert ended.status_code == 401, "the other login ended with the change"
    anonymous = await client.post(
        "/me/password", json={"current_password": "a fresh passphrase", "new_password": "another passphrase"}
    )
    assert anonymous.status_code == 401


async def test_a_password_change_ends_every_access_token_issued_before_it(
    client: Client, clock: MovableClock
) -> None:
    """After POST /me/password no access token issued before the change works, the caller's own
    included, though issued within the same second; one issued after it works at once."""
    headers = await sign_up(client, "frank")
    other = await client.post("/token", data={"username": "frank", "password": "correct horse battery"})
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    clock.advance(timedelta(milliseconds=250))
    changed = await client.post(
        "/me/password",
        json={"current_password": "correct horse battery", "new_password": "a fresh passphrase"},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    for name, old in (("the caller's", headers), ("another login's", other_headers)):
        refused = await client.get(PROTECTED, headers=old)
        assert refused.status_code == 401, f"{name} access token still works"
        _assert_error(refused.json(), 401)
    new = await client.post("/token", data={"username": "frank", "password": "a fresh passphrase"})
    new_headers = {"Authorization": f"Bearer {new.json()['access_token']}"}
    assert (await client.get(PROTECTED, headers=new_headers)).status_code == 200, "issued as it changed"
    clock.advance(timedelta(milliseconds=500))
    assert (await client.get(PROTECTED, headers=new_headers)).status_code == 200


@pytest.mark.parametrize(
    ("changes", "field", "said"),
    [
        ({"email": "\u200b@\u200b.\u200b"}, "email", "visible characters"),
        ({"email": "a..b@ex..com"}, "email", "two dots in a row"),
        ({"email": "a.@example.com"}, "email", "two dots in a row"),
        ({"email": "a@example.com."}, "email", "two dots in a row"),
        # The schema's own checks say the domain's rules, not a regular expression or a length.
        ({"email": "not-an-email"}, "email", "such as name@example.com"),
        ({"email": "a\u0000b@example.com"}, "email", "control characters"),
        ({"email": "a\u0001b@ex\u007fample.com"}, "email", "control characters"),
        ({"username": "bad name!"}, "username", "letters, digits and underscore"),
        ({"username": "ab"}, "username", "letters, digits and underscore"),
        ({"password": "short"}, "password", "must be at least 8 characters"),
        ({"password": "x" * 129}, "password", "must be at most 128 characters"),
        ({"password": " " * 8}, "password", "must not be blank"),
        ({"password": "long\u0000enough"}, "password", "must not hold control characters"),
        ({"password": "Shop_Owner"}, "password", "must not be the username or the e-mail address"),
        ({"password": "OWNER@example.com"}, "password", "must not be the username or the e-mail address"),
    ],
)
async def test_an_unusable_email_or_a_weak_password_is_422_naming_it_in_words(
    client: Client, changes: dict[str, str], field: str, said: str
) -> None:
    account = {"username": "shop_owner", "email": "owner@example.com", "password": "a long passphrase"}
    response = await client.post("/signup", json={**account, **changes})
    assert response.status_code == 422, response.text
    [detail] = response.json()["details"]
    assert detail["field"] == field
    assert said in detail["rule"]
    assert_in_words(detail["rule"])
    # nothing was stored: the same account signs up once the value is right
    assert (await client.post("/signup", json=account)).status_code == 201


async def test_a_new_password_follows_the_sign_ups_rules(client: Client) -> None:
    headers = await sign_up(client, "erin_seller")
    for new, said in (
        ("ERIN_SELLER", "must not be the username or the e-mail address"),
        ("Erin_Seller@Example.com", "must not be the username or the e-mail address"),
        (" " * 10, "must not be blank"),
        ("new\u0000passphrase", "must not hold control characters"),
    ):
        refused = await client.post(
            "/me/password",
            json={"current_password": "correct horse battery", "new_password": new},
            headers=headers,
        )
        assert refused.status_code == 422, refused.text
        [detail] = refused.json()["details"]
        assert (detail["field"], detail["rule"]) == ("new_password", said)
    assert (
        await client.post("/token", data={"username": "erin_seller", "password": "correct horse battery"})
    ).status_code == 200


async def test_a_login_name_with_a_control_character_is_422_naming_it(client: Client) -> None:
    await sign_up(client, "erin")
    for login in ("er\u0000in", "erin\u0001", "erin@example.com\u0000"):
        refused = await client.post("/token", data={"username": login, "password": "correct horse battery"})
        assert refused.status_code == 422, refused.text
        [detail] = refused.json()["details"]
        assert (detail["field"], detail["rule"]) == ("username", "must not hold control characters")


async def _log_in(client: Client, username: str) -> dict[str, Any]:
    """A new login (its own refresh-token family) of an account signed up with the usual password."""
    answer = await client.post("/token", data={"username": username, "password": "correct horse battery"})
    assert answer.status_code == 200, answer.text
    pair: dict[str, Any] = answer.json()
    return pair


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def test_revoke_ends_the_access_token_and_the_login_of_the_refresh_token_given(client: Client) -> None:
    """POST /token/revoke (RFC 7009 in spirit): 204; the access token it was sent with is refused
    from then on (a second revoke too, like any revoked token), the refresh token given can no
    longer be used; another login of the same account goes on working."""
    await sign_up(client, "gina")
    ended, other = await _log_in(client, "gina"), await _log_in(client, "gina")
    revoked = await client.post(
        "/token/revoke", json={"refresh_token": ended["refresh_token"]}, headers=_bearer(ended)
    )
    assert revoked.status_code == 204, revoked.text
    assert revoked.content == b""
    refused = await client.get(PROTECTED, headers=_bearer(ended))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    _assert_error(refused.json(), 401)
    again = await client.post("/token/revoke", headers=_bearer(ended))
    assert again.status_code == 401, "a revoked token is refused, here too"
    refreshed = await client.post("/token/refresh", json={"refresh_token": ended["refresh_token"]})
    assert refreshed.status_code == 401
    _assert_error(refreshed.json(), 401)
    assert (await client.get(PROTECTED, headers=_bearer(other))).status_code == 200, "another login"
    renewed = await client.post("/token/refresh", json={"refresh_token": other["refresh_token"]})
    assert renewed.status_code == 200, "another login's refresh token still works"


async def test_revoke_with_a_spent_refresh_token_ends_the_tokens_rotated_from_it(client: Client) -> None:
    """The refresh token given ends its whole login: a client that refreshed meanwhile (or a
    thief who did) holds a newer token of the same login, and that one ends too."""
    await sign_up(client, "hank")
    first = await _log_in(client, "hank")
    rotated = (await client.post("/token/refresh", json={"refresh_token": first["refresh_token"]})).json()
    revoked = await client.post(
        "/token/revoke", json={"refresh_token": first["refresh_token"]}, headers=_bearer(rotated)
    )
    assert revoked.status_code == 204, revoked.text
    after = await client.post("/token/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401


async def test_revoking_a_login_ends_every_access_token_issued_from_it(client: Client) -> None:
    """The login ends with its access tokens: a thief who refreshed with the stolen refresh token
    holds an access token of it, and so does the client from before it last refreshed; after the
    revoke both are refused, while another login of the account goes on."""
    await sign_up(client, "nina")
    first, other = await _log_in(client, "nina"), await _log_in(client, "nina")
    stolen = (await client.post("/token/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert (await client.get(PROTECTED, headers=_bearer(stolen))).status_code == 200
    clients_own = await client.post("/token/refresh", json={"refresh_token": other["refresh_token"]})
    assert clients_own.status_code == 200
    for pair in (first, stolen):
        assert _claims(pair["access_token"])["fid"] == _claims(first["access_token"])["fid"]
    assert _claims(other["access_token"])["fid"] != _claims(first["access_token"])["fid"]
    revoked = await client.post(
        "/token/revoke", json={"refresh_token": first["refresh_token"]}, headers=_bearer(first)
    )
    assert revoked.status_code == 204, revoked.text
    thiefs = await client.get(PROTECTED, headers=_bearer(stolen))
    assert thiefs.status_code == 401, "the thief's access token ends with the login"
    assert thiefs.json()["message"] == accounts.ENDED
    assert (
        await client.post("/token/refresh", json={"refresh_token": stolen["refresh_token"]})
    ).status_code == 401
    assert (await client.get(PROTECTED, headers=_bearer(other))).status_code == 200, "another login"
    assert (await client.get(PROTECTED, headers=_bearer(clients_own.json()))).status_code == 200


async def test_an_access_token_from_before_logins_were_named_counts_until_it_expires(
    client: Client, clock: MovableClock
) -> None:
    """Access tokens issued before they carried their login (no ``fid`` claim) cannot be tied
    to one: they count as before, until they expire (30 minutes at most), unless revoked
    themselves."""
    await sign_up(client, "olga")
    pair = await _log_in(client, "olga")
    claims = _claims(pair["access_token"])
    del claims["fid"]
    claims["jti"] = "issued-before-logins-were-named"  # another token than the one revoked
    old = {"access_token": jwt.encode(claims, SECRET, algorithm="HS256")}
    revoked = await client.post(
        "/token/revoke", json={"refresh_token": pair["refresh_token"]}, headers=_bearer(pair)
    )
    assert revoked.status_code == 204
    assert (await client.get(PROTECTED, headers=_bearer(old))).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert (await client.get(PROTECTED, headers=_bearer(old))).status_code == 401


Pause = Literal["before_spending", "after_adding", "before_revoking"]


class _Stop:
    """One point where a unit of work's refresh tokens stop until let go: just before a refresh
    spends the token it read, just after it added the new one (not yet committed), or just
    before a revocation revokes the login."""

    def __init__(self, where: Pause, *, go: bool = False) -> None:
        self.where = where
        self.reached = asyncio.Event()
        self.go = asyncio.Event()
        if go:
            self.go.set()

    async def at(self, here: Pause) -> None:
        if here == self.where:
            self.reached.set()
            await self.go.wait()


class _StoppingRefreshTokens(SqlRefreshTokenRepository):
    def __init__(self, session: AsyncSession, stop: _Stop) -> None:
        super().__init__(session)
        self._stop = stop

    async def add(self, token: RefreshToken) -> RefreshToken:
        stored = await super().add(token)
        await self._stop.at("after_adding")
        return stored

    async def mark_used(self, token_id: int, used_at: datetime) -> bool:
        await self._stop.at("before_spending")
        return await super().mark_used(token_id, used_at)

    async def revoke_family(self, family_id: str) -> None:
        await self._stop.at("before_revoking")
        await super().revoke_family(family_id)


class _StoppingUnitOfWork(SqlUnitOfWork):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], stop: _Stop) -> None:
        super().__init__(sessions)
        self._stop = stop

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        assert self._session is not None
        self.refresh_tokens = _StoppingRefreshTokens(self._session, self._stop)
        return self


async def _until_a_statement_waits_for_a_lock(url: str) -> None:
    """Returns once a session of the database waits for a lock (the revoke's UPDATE behind the
    refresh's uncommitted one); fails after about 10 s."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        for _ in range(1000):
            found = await connection.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = await found.fetchone()
            if row is not None and row[0] > 0:
                return
            await asyncio.sleep(0.01)
    pytest.fail("the revoke never waited for the refresh's lock")


@asynccontextmanager
async def _two_connections(
    settings: Settings, clock: MovableClock, username: str
) -> AsyncIterator[tuple[Client, TokenIssuer, async_sessionmaker[AsyncSession], dict[str, Any]]]:
    """The app on ``settings``' store; its token issuer; sessions of a connection pool of the
    test's own, for use cases run beside the app's; and a new login of ``username``."""
    container = build_container(settings, clock)
    engine = create_engine(settings.database_url)
    try:
        async with AsyncTestClient(app=create_app(container), base_url="http://127.0.0.1:8000") as client:
            await sign_up(client, username)
            yield client, container.token_issuer(), session_factory(engine), await _log_in(client, username)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("pause", ["before_spending", "after_adding"])
async def test_a_refresh_racing_a_revoke_hands_out_nothing_that_works(
    settings: Settings, clock: MovableClock, pause: Pause
) -> None:
    """A thief's refresh and the victim's revoke at the same time, on two connections: once the
    revoke is done, nothing the refresh hands out works. Stopped before it spends the token it
    read, the refresh is refused (the token was revoked meanwhile). Stopped after it added the
    new token, with the revoke behind it (PostgreSQL: its UPDATE waiting for the refresh's row
    lock, so the new row is not among those it revokes; SQLite: waiting for the write lock), the
    refresh hands out a pair, and both of its tokens are refused: they belong to a revoked login."""
    async with _two_connections(settings, clock, "pia") as (client, issuer, sessions, victim):
        thief = _Stop(pause)
        refresh = asyncio.create_task(
            accounts.refresh_tokens(
                _StoppingUnitOfWork(sessions, thief), issuer, clock, refresh_token=victim["refresh_token"]
            )
        )
        await thief.reached.wait()
        victims = _Stop("before_revoking", go=True)
        revoke = asyncio.create_task(
            accounts.revoke_tokens(
                _StoppingUnitOfWork(sessions, victims),
                issuer,
                clock,
                victim["access_token"],
                refresh_token=victim["refresh_token"],
            )
        )
        if pause == "before_spending":
            await revoke
        else:
            await victims.reached.wait()
            if not settings.database_url.startswith("sqlite"):
                await _until_a_statement_waits_for_a_lock(settings.database_url)
        thief.go.set()
        [outcome] = await asyncio.gather(refresh, return_exceptions=True)
        await revoke
        if pause == "before_spending":
            assert isinstance(outcome, AuthenticationFailed), outcome
            return
        assert isinstance(outcome, accounts.TokenPair), outcome
        again = await client.post("/token/refresh", json={"refresh_token": outcome.refresh_token})
        assert again.status_code == 401, "the refresh token added while the login was revoked"
        thiefs = {"Authorization": f"Bearer {outcome.access_token}"}
        assert (await client.get(PROTECTED, headers=thiefs)).status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("pause", ["before_spending", "after_adding"])
async def test_two_tabs_renewing_the_same_session_at_once_on_two_connections_both_are_served(
    settings: Settings, clock: MovableClock, pause: Pause
) -> None:
    """Two dashboard renewals with the same refresh token at the same time, each in its own
    transaction. The first is stopped before it spends the token it read (the second then
    rotates it and commits, and the first finds it spent), or after it spent it and added the
    new one, uncommitted (the second's spend waits for its row lock, PostgreSQL; or for the
    write lock, SQLite). Either way one rotates, the other is served within the grace (an
    access token, no refresh token) instead of ending the login as a replay; both access
    tokens work and the rotated refresh token renews the login later."""
    grace = timedelta(seconds=30)
    async with _two_connections(settings, clock, "rhea") as (client, issuer, sessions, login):
        first_tab = _Stop(pause)
        first = asyncio.create_task(
            accounts.renew_session(
                _StoppingUnitOfWork(sessions, first_tab),
                issuer,
                clock,
                refresh_token=login["refresh_token"],
                grace=grace,
            )
        )
        await first_tab.reached.wait()
        second = asyncio.create_task(
            accounts.renew_session(
                SqlUnitOfWork(sessions), issuer, clock, refresh_token=login["refresh_token"], grace=grace
            )
        )
        if pause == "before_spending":
            await second
        elif not settings.database_url.startswith("sqlite"):
            await _until_a_statement_waits_for_a_lock(settings.database_url)
        first_tab.go.set()
        renewals = await asyncio.gather(first, second)
        rotated = [r.refresh_token for r in renewals if r.refresh_token is not None]
        assert len(rotated) == 1, renewals
        for renewal in renewals:
            served = {"Authorization": f"Bearer {renewal.access_token}"}
            assert (await client.get(PROTECTED, headers=served)).status_code == 200
        later = await client.post("/token/refresh", json={"refresh_token": rotated[0]})
        assert later.status_code == 200, "the login goes on"


@pytest.mark.parametrize("body", [None, {}, {"refresh_token": "never-issued"}])
async def test_revoke_without_a_refresh_token_ends_the_access_token_alone(
    client: Client, body: dict[str, str] | None
) -> None:
    """Without a refresh token (no body, an empty object) only the access token ends, and its
    login can still be refreshed; a refresh token the server never issued (or that expired) has
    nothing left to end and is ignored, as RFC 7009 says."""
    await sign_up(client, "ivy")
    pair = await _log_in(client, "ivy")
    revoked = await client.post("/token/revoke", json=body, headers=_bearer(pair))
    assert revoked.status_code == 204, revoked.text
    assert (await client.get(PROTECTED, headers=_bearer(pair))).status_code == 401
    renewed = await client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200, "the login itself goes on"
    assert (await client.get(PROTECTED, headers=_bearer(renewed.json()))).status_code == 200


async def test_a_refresh_token_of_another_account_is_403_and_nothing_is_revoked(client: Client) -> None:
    """Not one's own to end: 403, and nothing ends, neither the other account's login nor the
    caller's access token (so that a client that mixed up its accounts can tell, and try again)."""
    await sign_up(client, "jack")
    await sign_up(client, "kate")
    jacks, kates = await _log_in(client, "jack"), await _log_in(client, "kate")
    refused = await client.post(
        "/token/revoke", json={"refresh_token": kates["refresh_token"]}, headers=_bearer(jacks)
    )
    assert refused.status_code == 403, refused.text
    _assert_error(refused.json(), 403)
    assert "another account" in refused.json()["message"]
    assert (await client.get(PROTECTED, headers=_bearer(jacks))).status_code == 200
    assert (await client.get(PROTECTED, headers=_bearer(kates))).status_code == 200
    renewed = await client.post("/token/refresh", json={"refresh_token": kates["refresh_token"]})
    assert renewed.status_code == 200, "the other account's login goes on"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"refresh_token": 5}, "refresh_token", "must be a string"),
        ({"refresh_token": ""}, "refresh_token", "must not be blank"),
        ({"refresh_token": "x" * 513}, "refresh_token", "must be at most 512 characters"),
        ({"refresh_token": "x", "access_token": "y"}, "access_token", "is not a known field"),
        ([], "body", "must be an object"),
    ],
)
async def test_a_bad_revoke_body_is_422_naming_the_field_and_ends_nothing(
    client: Client, body: object, field: str, rule: str
) -> None:
    await sign_up(client, "liam")
    pair = await _log_in(client, "liam")
    refused = await client.post("/token/revoke", json=body, headers=_bearer(pair))
    assert refused.status_code == 422, refused.text
    _assert_error(refused.json(), 422)
    [detail] = refused.json()["details"]
    assert (detail["field"], detail["rule"]) == (field, rule)
    assert (await client.get(PROTECTED, headers=_bearer(pair))).status_code == 200, "nothing ended"
    renewed = await client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200


async def test_revoke_needs_the_bearer_token_it_ends(client: Client) -> None:
    await sign_up(client, "mia")
    pair = await _log_in(client, "mia")
    anonymous = await client.post("/token/revoke", json={"refresh_token": pair["refresh_token"]})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    renewed = await client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200, "a refresh token alone ends nothing"


async def test_revoke_is_documented_with_its_answers(client: Client) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/token/revoke"]["post"]
    assert {"204", "401", "403", "422", "429"} <= set(operation["responses"])
    assert operation["security"] == [{"BearerToken": []}]
    body = operation["requestBody"]
    assert body["required"] is False, "the refresh token is optional, and so is the body"
    assert set(body["content"]) == {"application/json"}


async def test_answers_carrying_tokens_are_never_cached(client: Client) -> None:
    """RFC 6749 §5.1: a token answer says Cache-Control: no-store and Pragma: no-cache."""
    await sign_up(client, "cora")
    issued = await client.post("/token", data={"username": "cora", "password": "correct horse battery"})
    renewed = await client.post("/token/refresh", json={"refresh_token": issued.json()["refresh_token"]})
    for answer in (issued, renewed):
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["pragma"] == "no-cache"
