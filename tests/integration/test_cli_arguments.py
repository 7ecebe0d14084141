"""The ``marketscout`` command refuses arguments and settings it cannot use in one line that
names them, before it does anything, never with a traceback or a silently different value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from marketscout.entrypoints.cli import build_parser, main


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["serve", "--port", "99999"], "argument --port: must be a whole number from 0 to 65535"),
        (["serve", "--port", "-1"], "argument --port: must be a whole number from 0 to 65535"),
        (["serve", "--workers", "0"], "argument --workers: must be a whole number from 1 to 64"),
        (["refresh", "--watch", "-1"], "argument --watch: must be a number of seconds from 0 to 86400"),
        (["notify", "--watch", "nan"], "argument --watch: must be a number of seconds from 0 to 86400"),
        (
            ["remote", "ingest", "f.ndjson", "--batch", "x"],
            "argument --batch: must be a whole number from 1 to 1000000",
        ),
        (
            ["readings", "prune", "--older-than", "99999999999999999999"],
            "argument --older-than: must be a whole number from 1 to 36500",
        ),
        (
            ["scores", "prune", "--older-than", "99999999999"],
            "argument --older-than: must be a whole number from 1 to 36500",
        ),
        (
            ["readings", "remove", "ana", "--since", "1900-01-01T00:00:00Z"],
            "argument --since: must lie between 1970-01-01T00:00:00Z and 2100-12-31T23:59:59Z",
        ),
        (
            ["readings", "remove", "ana", "--since", "2500-01-01T00:00:00+01:00"],
            "argument --since: must lie between 1970-01-01T00:00:00Z and 2100-12-31T23:59:59Z",
        ),
        (
            ["readings", "remove", "ana", "--since", "0001-01-01T00:00:00+01:00"],
            "argument --since: must lie between 1970-01-01T00:00:00Z and 2100-12-31T23:59:59Z",
        ),
        (
            ["collect", "--feed", "not-a-url", "--once"],
            "argument --feed: must be an http:// or https:// URL with a host",
        ),
        (
            ["collect", "--feed", "ftp://example.com/f.ndjson"],
            "argument --feed: must be an http:// or https://",
        ),
        (
            ["collect", "--feed", "https://"],
            "argument --feed: must be an http:// or https:// URL with a host",
        ),
        (
            ["collect", "--feed", "https://example.com/f", "--interval", "-5"],
            "argument --interval: must be a number of seconds from 0 to 86400",
        ),
        (
            ["collect", "--feed", "https://example.com/f", "--interval", "nan"],
            "argument --interval: must be a number of seconds from 0 to 86400",
        ),
        (
            ["collect", "--feed", "https://example.com/f", "--runs", "-1"],
            "argument --runs: must be a whole number from 0 to",
        ),
        (
            ["serve", "--host", "256.1.1.1"],
            "argument --host: must be an address of this machine, such as 127.0.0.1 or 0.0.0.0 "
            "(256.1.1.1: Name or service not known)",
        ),
        (
            ["serve", "--host", "no-such-host.invalid"],
            "argument --host: must be an address of this machine, such as 127.0.0.1 or 0.0.0.0 "
            "(no-such-host.invalid: Name or service not known)",
        ),
        (
            ["serve", "--host", "8.8.8.8"],
            "argument --host: must be an address of this machine, such as 127.0.0.1 or 0.0.0.0 "
            "(8.8.8.8: Cannot assign requested address)",
        ),
        (
            ["serve", "--host", ""],
            "argument --host: must be an address of this machine, such as 127.0.0.1 or 0.0.0.0",
        ),
    ],
)
def test_an_argument_out_of_range_is_refused_before_anything_runs(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A store that cannot be opened: were the arguments taken, the command would stop there.
    (tmp_path / "plain-file").write_text("", encoding="utf-8")
    unusable = f"sqlite:///{tmp_path / 'plain-file' / 'x.sqlite3'}"
    with pytest.raises(SystemExit) as refused:
        main([*args, "--database-url", unusable])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert said in err, err
    assert said in err.splitlines()[-1], "argparse's usage, then one line that says why"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "localhost", "::1", "::"])  # noqa: S104
def test_an_address_of_this_machine_is_taken_as_the_host(host: str) -> None:
    assert build_parser().parse_args(["serve", "--host", host]).host == host


def test_a_setting_it_cannot_use_is_said_in_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MARKETSCOUT_ACCESS_TOKEN_TTL": "abc",
        "MARKETSCOUT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "marketscout.entrypoints.cli", "users", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("marketscout: "), result.stderr
    assert "MARKETSCOUT_ACCESS_TOKEN_TTL" in result.stderr
    assert "Traceback" not in result.stderr


DATABASE_URL_RULE = "must be sqlite:///PATH, postgresql://USER@HOST/DB or memory://"


@pytest.mark.parametrize(
    "args",
    [
        ["remote", "--server", "not-a-url", "trending"],
        ["remote", "--server", "ftp://scout.example.com", "trending"],
        ["remote", "--server", "http://", "alerts"],
    ],
)
def test_a_server_that_is_not_an_http_url_is_refused_before_anything_runs(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(args)
    assert refused.value.code == 2
    [*_, said] = capsys.readouterr().err.splitlines()
    assert said.endswith(
        "argument --server: must be an http:// or https:// URL with a host, such as https://scout.example.com"
    )


def _run_cli(args: list[str], settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, with these settings in its environment (this
    process's is left alone)."""
    return subprocess.run(
        [sys.executable, "-m", "marketscout.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **settings},
        timeout=60,
        check=False,
    )


def _said_in_one_line(result: subprocess.CompletedProcess[str], said: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"marketscout: {said}"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_a_server_from_the_environment_is_held_to_the_same_rule_and_named_as_the_setting() -> None:
    result = _run_cli(["remote", "trending"], {"MARKETSCOUT_SERVER": "notaurl"})
    _said_in_one_line(
        result,
        "MARKETSCOUT_SERVER must be an http:// or https:// URL with a host, such as https://scout.example.com",
    )
    assert "--server" not in result.stderr, "the option was not given"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MARKETSCOUT_RATE_LIMIT_STORAGE", "notaurl"),
        ("MARKETSCOUT_RATE_LIMIT_STORAGE", "redis://127.0.0.1:notaport/10"),
        ("MARKETSCOUT_RATE_LIMIT_AUTH", "lots"),
        ("MARKETSCOUT_MAX_BODY_BYTES", "-1"),
        ("MARKETSCOUT_DATABASE_URL", "postgresql://postgres@127.0.0.1:notaport/x"),
    ],
)
def test_a_setting_the_workers_cannot_use_stops_the_server_before_any_worker_starts(
    name: str, value: str, tmp_path: Path
) -> None:
    """Said once by the parent, exit 2: a worker that failed to build the app was restarted by
    the supervisor forever."""
    settings = {"MARKETSCOUT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", name: value}
    result = _run_cli(["serve", "--workers", "2", "--port", "0", "--no-demo"], settings)
    _said_in_one_line(result, name + " must be ")


@pytest.mark.parametrize(
    "args",
    [["serve", "--port", "0", "--no-demo"], ["users", "list"], ["demo"], ["refresh"], ["db", "current"]],
)
@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("postgresql://postgres@127.0.0.1:notaport/x", "must be a well-formed URL"),
        ("postgresql://u@[::1/db", "must be a well-formed URL"),
        ("sqlite:///", "must name a database file"),
    ],
)
def test_a_database_url_setting_that_cannot_be_opened_as_written_is_said_in_one_line(
    args: list[str], url: str, rule: str
) -> None:
    _said_in_one_line(_run_cli(args, {"MARKETSCOUT_DATABASE_URL": url}), f"MARKETSCOUT_DATABASE_URL {rule}")


@pytest.mark.parametrize("args", [["db", "upgrade"], ["db", "current"], ["users", "list"], ["serve"]])
@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("sqlite:///", "must name a database file"),
        ("sqlite://", "must name a database file"),
        ("postgresql://postgres@127.0.0.1:notaport/x", "must be a well-formed URL"),
    ],
)
def test_a_database_url_option_that_cannot_be_opened_as_written_is_refused(
    args: list[str], url: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main([*args, "--database-url", url])
    assert refused.value.code == 2
    [*_, said] = capsys.readouterr().err.splitlines()
    assert f"argument --database-url: {rule}" in said, said


@pytest.mark.parametrize(
    "args",
    [
        ["db", "current"],
        ["db", "upgrade"],
        ["users", "list"],
        ["readings", "senders"],
        ["refresh"],
        ["notify"],
        ["demo"],
        ["serve"],
        ["collect", "--feed", "https://example.com/f.ndjson", "--once"],
    ],
)
@pytest.mark.parametrize("url", ["bogus://x", "not-a-url", "mysql://u@h/db"])
def test_a_database_url_of_no_known_scheme_is_refused_saying_which_are(
    args: list[str], url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main([*args, "--database-url", url])
    assert refused.value.code == 2
    [*_, said] = capsys.readouterr().err.splitlines()
    assert said.endswith(f"argument --database-url: {DATABASE_URL_RULE}"), said
    assert url not in said, "a URL may carry a password: it is not repeated"


@pytest.mark.parametrize("args", [["db", "current"], ["users", "list"]])
def test_a_database_url_setting_of_no_known_scheme_is_said_in_one_line(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARKETSCOUT_DATABASE_URL", "bogus://user:secret@x")
    assert main(args) == 2
    assert capsys.readouterr().err == f"marketscout: MARKETSCOUT_DATABASE_URL {DATABASE_URL_RULE}\n"


class _AppCannotBeBuilt(Exception):
    pass


def _refuse_to_build(container: object = None) -> object:
    raise _AppCannotBeBuilt


def test_an_app_that_cannot_be_built_stops_serve_before_any_worker_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With several workers the parent builds the app once first: a worker whose app factory
    raised was restarted by uvicorn's supervisor forever (it stops only on a failed lifespan)."""
    import uvicorn

    from marketscout.entrypoints import app

    started: list[object] = []
    monkeypatch.chdir(tmp_path)  # the default SQLite database is made here
    monkeypatch.setattr(app, "create_app", _refuse_to_build)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(args))
    with pytest.raises(_AppCannotBeBuilt):
        main(["serve", "--workers", "2", "--port", "0"])
    assert started == [], "no worker was started"
