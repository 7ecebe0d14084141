"""A command that reads or changes what a database already holds refuses a SQLite file that
does not exist (a mistyped path), in one line, and leaves no file nor folder behind; a
command that adds to the store (``users add``, ``db upgrade``, ``refresh``, ``notify``,
``demo``, the server) still creates and migrates it, as documented."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from marketscout.entrypoints.cli import main

PASSPHRASE = "a long enough passphrase"

# Every command that only reads, or only changes rows already stored: on a new database it
# could only say "nothing" (no accounts, 0 scores, no user 'x') after creating one.
EXISTING_ONLY = [
    ["users", "list"],
    ["users", "disable", "someone"],
    ["users", "enable", "someone"],
    ["users", "password", "someone", "--password-stdin"],
    ["readings", "senders"],
    ["readings", "remove", "someone", "--dry-run"],
    ["readings", "remove", "someone"],
    ["readings", "prune", "--older-than", "90", "--dry-run"],
    ["readings", "prune", "--older-than", "90"],
    ["scores", "prune", "--older-than", "90", "--dry-run"],
    ["scores", "prune", "--older-than", "90"],
    ["db", "current"],
]


@pytest.mark.parametrize("command", EXISTING_ONLY, ids=" ".join)
@pytest.mark.parametrize("missing", ["folder", "file"])
@pytest.mark.parametrize("given", ["option", "environment"])
def test_a_database_file_that_does_not_exist_is_refused_and_not_created(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    missing: str,
    given: str,
) -> None:
    path = tmp_path / "typo" / "dir" / "x.sqlite3" if missing == "folder" else tmp_path / "x.sqlite3"
    url = f"sqlite:///{path}"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
    if given == "environment":
        monkeypatch.setenv("MARKETSCOUT_DATABASE_URL", url)
        argv = command
    else:
        argv = [*command, "--database-url", url]

    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == f"marketscout: no database at {path} (`marketscout db upgrade` creates it)\n"
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == [], "no file nor folder made"


@pytest.mark.parametrize(
    "command", [["users", "list"], ["readings", "senders"], ["db", "current"]], ids=" ".join
)
def test_a_relative_path_is_said_where_it_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--database-url", "sqlite:///./var/marketscout.sqlite3"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"marketscout: no database at {tmp_path / 'var' / 'marketscout.sqlite3'} "
        "(`marketscout db upgrade` creates it)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", EXISTING_ONLY, ids=" ".join)
def test_a_postgresql_database_that_does_not_exist_is_said_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # Refused the same way whether PostgreSQL runs here or not.
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
    url = "postgresql://postgres@127.0.0.1:5432/marketscout_no_such_database"
    assert main([*command, "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("marketscout: the database cannot be opened: "), err
    assert len(err.splitlines()) == 1


def test_commands_that_add_to_the_store_still_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, command in [
        ("upgraded", ["db", "upgrade"]),
        ("added", ["users", "add", "someone", "--email", "s@example.com", "--password-stdin"]),
        ("refreshed", ["refresh"]),
        ("notified", ["notify"]),
    ]:
        path = tmp_path / name / "new" / "x.sqlite3"
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
        assert main([*command, "--database-url", f"sqlite:///{path}"]) == 0, capsys.readouterr().err
        assert path.is_file(), command
        # Now that it exists, the commands that need one take it.
        assert main(["db", "current", "--database-url", f"sqlite:///{path}"]) == 0
        assert "(up to date)" in capsys.readouterr().out
        assert main(["users", "list", "--database-url", f"sqlite:///{path}"]) == 0
