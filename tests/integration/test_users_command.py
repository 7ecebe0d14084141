"""``marketscout users add``: the operator's way to add an account, as on an instance whose
sign-up is closed (``MARKETSCOUT_SIGNUP_OPEN=false``)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from marketscout.adapters.security import Argon2PasswordHasher
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.errors import Unavailable
from marketscout.domain.model import User
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.cli import main
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container

PASSPHRASE = "a long enough passphrase"


def _add(url: str, monkeypatch: pytest.MonkeyPatch, *args: str, password: str = PASSPHRASE) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["users", "add", *args, "--password-stdin", "--database-url", url])


def _stored_user(url: str, username: str) -> User:
    """The account as the store holds it."""

    async def read() -> User | None:
        engine = create_engine(url)
        try:
            async with SqlUnitOfWork(session_factory(engine)) as uow:
                return await uow.users.get_by_username(username)
        finally:
            await engine.dispose()

    user = asyncio.run(read())
    assert user is not None
    return user


def test_an_added_account_logs_in_with_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    assert _add(url, monkeypatch, "shop_owner", "--email", "Owner@Example.com") == 0
    assert "added user shop_owner" in capsys.readouterr().out

    user = _stored_user(url, "shop_owner")
    assert user.email == "Owner@Example.com", "stored as given, as sign-up stores it"
    assert asyncio.run(Argon2PasswordHasher().verify(user.password_hash, PASSPHRASE))


def test_bad_or_taken_accounts_are_refused_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    # Every broken rule is named, as the sign-up form names them; nothing is stored.
    assert _add(url, monkeypatch, "x", "--email", "not-an-address", password="short") == 2
    err = capsys.readouterr().err
    assert "username:" in err and "email:" in err and "password:" in err
    assert _add(url, monkeypatch, "shop_owner", "--email", "o@example.com") == 0
    capsys.readouterr()
    assert _add(url, monkeypatch, "SHOP_OWNER", "--email", "other@example.com") == 1
    assert "username already registered" in capsys.readouterr().err
    # No password on standard input: refused, not an empty password.
    assert _add(url, monkeypatch, "second", "--email", "s@example.com", password="") == 2
    assert "password" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["refresh"], ["notify"], ["db", "upgrade"], ["users", "add", "someone", "--email", "s@example.com"]],
)
@pytest.mark.parametrize("where", ["file in the way", "no such postgres database"])
def test_a_database_that_cannot_be_opened_is_said_in_words(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    where: str,
) -> None:
    if where == "file in the way":
        (tmp_path / "plain-file").write_text("not a folder")
        url = f"sqlite:///{tmp_path / 'plain-file' / 'x.sqlite3'}"
    else:  # refused the same way whether PostgreSQL runs here or not
        url = "postgresql://postgres@127.0.0.1:5432/marketscout_no_such_database"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
    extra = ["--password-stdin"] if command[0] == "users" else []
    assert main([*command, *extra, "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("marketscout: the database cannot be opened: ")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_the_server_says_so_too_before_it_starts(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a folder")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "marketscout.entrypoints.cli",
            "serve",
            "--port",
            "0",
            "--database-url",
            f"sqlite:///{tmp_path / 'plain-file' / 'x.sqlite3'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("marketscout: the database cannot be opened: "), result.stderr
    assert "Traceback" not in result.stderr


def test_a_disabled_account_is_refused_by_the_api_until_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    assert _add(url, monkeypatch, "spammer", "--email", "s@example.com") == 0
    settings = api_settings(database_url=url)
    app = create_app(build_container(settings, MovableClock(NOW)))

    async def calls() -> tuple[int, int]:
        async with AsyncTestClient(app=app) as client:
            token = await client.post("/token", data={"username": "spammer", "password": PASSPHRASE})
            if token.status_code != 200:
                return token.status_code, token.status_code
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            made = await client.post("/products", json={"name": "X", "description": "d"}, headers=bearer)
            return token.status_code, made.status_code

    assert asyncio.run(calls()) == (200, 201)
    capsys.readouterr()
    assert main(["users", "disable", "spammer", "--database-url", url]) == 0
    assert "disabled user spammer" in capsys.readouterr().out
    assert asyncio.run(calls()) == (401, 401)
    assert main(["users", "enable", "spammer", "--database-url", url]) == 0
    assert "enabled user spammer" in capsys.readouterr().out
    assert asyncio.run(calls()) == (200, 201)
    assert main(["users", "disable", "nobody", "--database-url", url]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err


def test_the_operator_sets_a_forgotten_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    assert _add(url, monkeypatch, "forgetful", "--email", "f@example.com") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("remembered at last\n"))
    assert main(["users", "password", "forgetful", "--password-stdin", "--database-url", url]) == 0
    assert "set the password of forgetful" in capsys.readouterr().out

    user = _stored_user(url, "forgetful")
    assert asyncio.run(Argon2PasswordHasher().verify(user.password_hash, "remembered at last"))
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "password", "forgetful", "--password-stdin", "--database-url", url]) == 2
    assert "password:" in capsys.readouterr().err


def test_a_password_the_operator_sets_ends_the_access_tokens_issued_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    assert _add(url, monkeypatch, "robbed", "--email", "r@example.com") == 0
    app = create_app(build_container(api_settings(database_url=url), MovableClock(NOW)))

    async def log_in() -> str:
        async with AsyncTestClient(app=app) as client:
            token = await client.post("/token", data={"username": "robbed", "password": PASSPHRASE})
            assert token.status_code == 200, token.text
            return str(token.json()["access_token"])

    async def watchlist(token: str) -> int:
        async with AsyncTestClient(app=app) as client:
            answer = await client.get("/watchlists", headers={"Authorization": f"Bearer {token}"})
            return answer.status_code

    stolen = asyncio.run(log_in())
    assert asyncio.run(watchlist(stolen)) == 200
    monkeypatch.setattr("sys.stdin", io.StringIO("taken back at last\n"))
    assert main(["users", "password", "robbed", "--password-stdin", "--database-url", url]) == 0
    assert "every login it had has ended" in capsys.readouterr().out
    assert asyncio.run(watchlist(stolen)) == 401, "a token issued before the new password is refused"


def test_the_operator_lists_the_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    assert main(["users", "list", "--database-url", url]) == 0
    assert "no accounts yet" in capsys.readouterr().out
    for name in ("first_one", "second_one"):
        assert _add(url, monkeypatch, name, "--email", f"{name}@example.com") == 0
    assert main(["users", "disable", "second_one", "--database-url", url]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--database-url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "account", "e-mail", "created", "disabled"]
    assert lines[1].split()[:3] == ["1", "first_one", "first_one@example.com"] and len(lines[1].split()) == 4
    assert (
        lines[2].split()[:3] == ["2", "second_one", "second_one@example.com"] and len(lines[2].split()) == 5
    )


def test_a_store_failing_mid_command_is_said_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store opened, then a statement fails (the database went away, a statement ran past
    its timeout): the command says what the store said, in one line, and exits 1 (a traceback
    before)."""
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)

    async def failing(*args: object, **kwargs: object) -> list[int]:
        raise Unavailable("the database is unavailable; try again shortly")

    monkeypatch.setattr("marketscout.entrypoints.cli_refresh.refresh_once", failing)
    assert main(["refresh", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "marketscout: the database is unavailable; try again shortly" in err.splitlines()
    assert "Unavailable" not in err, "no traceback of the error"


@pytest.mark.parametrize("given", ["", "\n", "\r\n"], ids=["end of input", "empty line", "empty CRLF line"])
@pytest.mark.parametrize("command", ["add", "password"])
def test_no_password_on_standard_input_is_said_as_such(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    given: str,
    command: str,
) -> None:
    """--password-stdin with nothing on standard input: said as the missing input it is, not as
    a password too short; a short one still breaks the length rule."""
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    assert _add(url, monkeypatch, "existing", "--email", "e@example.com") == 0
    capsys.readouterr()
    argv = (
        ["users", "add", "someone", "--email", "s@example.com"]
        if command == "add"
        else ["users", "password", "existing"]
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(given))
    assert main([*argv, "--password-stdin", "--database-url", url]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "marketscout: --password-stdin: no password on standard input (its first line is the password)"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*argv, "--password-stdin", "--database-url", url]) == 2
    assert "password: must be at least 8 characters" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("email", "password", "said"),
    [
        ("\u200b@\u200b.\u200b", PASSPHRASE, "email: must hold visible characters"),
        ("a..b@ex..com", PASSPHRASE, "email: must not have two dots in a row"),
        ("owner@example.com", " " * 8, "password: must not be blank"),
        ("owner@example.com", "Shop_Owner", "password: must not be the username or the e-mail address"),
        (
            "owner@example.com",
            "OWNER@example.com",
            "password: must not be the username or the e-mail address",
        ),
    ],
)
def test_an_unusable_email_or_a_weak_password_is_refused_as_sign_up_refuses_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    email: str,
    password: str,
    said: str,
) -> None:
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    migrate.upgrade(url)
    assert _add(url, monkeypatch, "shop_owner", "--email", email, password=password) == 2
    assert said in capsys.readouterr().err
    assert main(["users", "list", "--database-url", url]) == 0
    assert "no accounts yet" in capsys.readouterr().out
