"""``marketscout remote`` against the real application, in process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from marketscout.client import Ad, MarketScoutClient
from marketscout.domain.model import DeliveryStatus, Platform, TrendStatus
from marketscout.entrypoints.api.intelligence import Ranking
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.cli import build_parser, main
from marketscout.entrypoints.cli_remote import run_remote
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container

PASSPHRASE = "a long passphrase"


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache folder, where ``remote`` keeps an access token: the test's own."""
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("MARKETSCOUT_TOKEN_CACHE", raising=False)
    return home


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def http(clock: MovableClock) -> Iterator[TestClient[Litestar]]:
    app = create_app(build_container(api_settings(), clock))
    with TestClient(app=app) as http:
        yield http


@pytest.fixture
def api(http: TestClient[Litestar]) -> Iterator[MarketScoutClient]:
    with MarketScoutClient(http=http) as client:
        yield client


@pytest.fixture
def ad(api: MarketScoutClient, monkeypatch: pytest.MonkeyPatch) -> Ad:
    """An ad of the account ``remote_user``, whose password the command finds in the environment."""
    api.sign_up("remote_user", "remote@example.com", PASSPHRASE)
    api.log_in("remote_user", PASSPHRASE)
    product = api.create_product("Remote Lamp", "Uploaded from afar")
    monkeypatch.setenv("MARKETSCOUT_PASSWORD", PASSPHRASE)
    return api.create_ad(product.id, "YouTube", "glow", external_id="1234567890")


def remote(api: MarketScoutClient, *argv: str) -> int:
    args = build_parser().parse_args(["remote", "--username", "remote_user", *argv])
    return run_remote(args, api)


def test_a_csv_upload_keeps_digit_ids_as_text(
    api: MarketScoutClient, ad: Ad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload = tmp_path / "snapshots.csv"
    upload.write_text(
        "ad_id,platform,external_id,region,observed_at,views,likes\n"
        f",YouTube,1234567890,US,{NOW.isoformat()},1000,7\n"
        f",YouTube,1234567890,US,{NOW.replace(hour=1).isoformat()},-3,1\n"
        f"{ad.id},,,US,{NOW.replace(hour=2).isoformat()},20x,\n",
        encoding="utf-8",
    )
    remote(api, "ingest", str(upload))
    out = capsys.readouterr().out
    assert "received 3, stored 1, duplicates 0, rejected 2" in out
    lines = out.splitlines()
    assert "row 1" not in out
    [second] = [line for line in lines if line.startswith("  row 2: ")]
    assert second.startswith("  row 2: views: ") and "must be a whole number from 0" in second, (
        "-3 is refused as negative"
    )
    [third] = [line for line in lines if line.startswith("  row 3: ")]
    assert third.startswith("  row 3: views: "), "20x is refused as not a number"


def test_csv_column_names_are_read_in_any_case_and_with_blanks_around_them(
    api: MarketScoutClient, ad: Ad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload = tmp_path / "snapshots.csv"
    upload.write_text(
        "AD_ID, Region ,Observed_At,VIEWS,Likes\n"
        f"{ad.id},US,{NOW.isoformat()},1000,7\n"
        f"{ad.id},US,{NOW.replace(hour=1).isoformat()},900,6\n",
        encoding="utf-8",
    )
    assert remote(api, "ingest", str(upload)) == 0
    assert "received 2, stored 2, duplicates 0, rejected 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("missing.ndjson", None, "cannot read"),
        ("folder.csv", "a directory", "cannot read"),
        ("latin1.csv", b"region,views\nM\xfcnchen,3\n", "line 2 is not UTF-8"),
        ("short.csv", b"ad_id,region,views\n1,US,3\n\n2,US\n", "line 4 has 2 cells, the header 3 columns"),
        ("long.csv", b"ad_id,region,views\n1,US,3,9\n", "line 2 has 4 cells, the header 3 columns"),
        ("lonely.csv", b"ad_id,region,views\n1\n", "line 2 has 1 cell, the header 3 columns"),
        (
            "colour.csv",
            b"ad_id,region,views,Colour\n1,US,3,red\n2,US,4,blue\n",
            "the header names Colour, which is not a column MarketScout reads (it reads ad_id",
        ),
        ("twice.csv", b"ad_id,region,views,Views\n1,US,3,4\n", "the header names views twice"),
        ("array.ndjson", b'[{"ad_id": 1, "region": "GB", "views": 5}]\n', ":1 is not a JSON object"),
        ("number.ndjson", b'{"ad_id": 1, "region": "GB"}\n\n5\n', ":3 is not a JSON object"),
        ("text.ndjson", b'"x"\n', ":1 is not a JSON object"),
        ("null.ndjson", b"null\n", ":1 is not a JSON object"),
        ("broken.ndjson", b'{"ad_id": 1, "region": "GB"}\nnot json\n', ":2 is not JSON"),
    ],
)
def test_an_unreadable_upload_is_said_in_one_line_before_logging_in(
    api: MarketScoutClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | str | None,
    said: str,
) -> None:
    # No such account: logging in first would end in the server's 401, not in the file's error.
    monkeypatch.setenv("MARKETSCOUT_PASSWORD", PASSPHRASE)
    upload = tmp_path / name
    if isinstance(content, bytes):
        upload.write_bytes(content)
    elif content is not None:
        upload.mkdir()
    assert remote(api, "ingest", str(upload)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"marketscout: {upload}") and said in line


def test_no_terminal_and_no_password_says_to_set_it(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "MARKETSCOUT_PASSWORD"}
    environment["XDG_CACHE_HOME"] = str(tmp_path / "cache-home")
    command = [
        sys.executable,
        "-m",
        "marketscout.entrypoints.cli",
        "remote",
        "--server",
        "http://127.0.0.1:9",
    ]
    # A new session has no controlling terminal, and stdin is empty: nobody to ask.
    done = subprocess.run(
        [*command, "--username", "remote_user", "alerts"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        start_new_session=True,
        check=False,
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("marketscout: ") and "MARKETSCOUT_PASSWORD" in line


def _snapshots(ad: Ad, views: list[int]) -> str:
    return "".join(
        json.dumps(
            {"ad_id": ad.id, "region": "US", "observed_at": NOW.replace(hour=h).isoformat(), "views": v}
        )
        + "\n"
        for h, v in enumerate(views)
    )


def test_ingest_as_json_is_one_object_with_the_rejected_rows(
    api: MarketScoutClient, ad: Ad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload = tmp_path / "snapshots.ndjson"
    upload.write_text(_snapshots(ad, [10, -1, 30, -2]), encoding="utf-8")
    code = remote(api, "--json", "ingest", "--batch", "3", str(upload))
    report = json.loads(capsys.readouterr().out)
    assert code == 1, "rows were rejected"
    assert {k: report[k] for k in ("received", "stored", "duplicates", "rejected")} == {
        "received": 4,
        "stored": 2,
        "duplicates": 0,
        "rejected": 2,
    }
    assert [(r["row"], r["field"]) for r in report["rejected_rows"]] == [(2, "views"), (4, "views")]
    assert all(r["rule"] for r in report["rejected_rows"])


def test_ingest_exits_non_zero_when_rows_were_rejected(
    api: MarketScoutClient, ad: Ad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean.ndjson"
    clean.write_text(_snapshots(ad, [10, 20]), encoding="utf-8")
    assert remote(api, "ingest", str(clean)) == 0
    assert remote(api, "ingest", str(clean)) == 0, "duplicates are not errors"
    mixed = tmp_path / "mixed.ndjson"
    mixed.write_text(_snapshots(ad, [10, 20, -3]), encoding="utf-8")
    capsys.readouterr()
    assert remote(api, "ingest", str(mixed)) == 1
    out = capsys.readouterr().out
    assert "  row 3: views: " in out
    assert "received 3, stored 0, duplicates 2, rejected 1" in out


def test_a_line_that_is_not_json_part_way_through_stops_the_upload_before_anything_is_sent(
    api: MarketScoutClient, ad: Ad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _snapshots(ad, list(range(10, 130, 10)))
    upload = tmp_path / "snapshots.ndjson"
    upload.write_text(good + "not json\n", encoding="utf-8")
    assert remote(api, "ingest", str(upload), "--batch", "3", "--in-flight", "3") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"marketscout: {upload}:13 is not JSON\n", "no batch was sent"
    upload.write_text(good, encoding="utf-8")
    assert remote(api, "ingest", str(upload)) == 0
    assert "received 12, stored 12, duplicates 0, rejected 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["alerts"], "no alerts"),
        (["alerts", "--unread"], "no unread alerts"),
        (["deliveries"], "no deliveries yet"),
        (["deliveries", "--status", "dead"], "no deliveries with status dead"),
        (["trending"], "no products scored yet"),
        (["scan-ads"], "no viral ads"),
    ],
)
def test_nothing_to_show_is_said_in_words(
    api: MarketScoutClient, ad: Ad, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    capsys.readouterr()
    assert remote(api, *argv) == 0
    assert capsys.readouterr().out == f"{said}\n"
    assert remote(api, "--json", *argv) == 0
    assert json.loads(capsys.readouterr().out) == [], "JSON stays an empty list"


@pytest.mark.parametrize("status", [s.value for s in DeliveryStatus])
def test_deliveries_can_be_listed_by_every_status_the_api_knows(
    api: MarketScoutClient, ad: Ad, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    capsys.readouterr()
    assert remote(api, "deliveries", "--status", status) == 0
    assert capsys.readouterr().out == f"no deliveries with status {status}\n"


@pytest.mark.parametrize(
    "argv",
    [["--json", "trending", "--limit", "2"], ["trending", "--limit", "2", "--json"]],
    ids=["before", "after"],
)
def test_json_may_come_before_or_after_the_command(
    api: MarketScoutClient, ad: Ad, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    upload = tmp_path / "snapshots.ndjson"
    upload.write_text(_snapshots(ad, [10, 20, 40]), encoding="utf-8")
    assert remote(api, "ingest", str(upload)) == 0
    capsys.readouterr()
    assert remote(api, *argv) == 0
    [ranked] = json.loads(capsys.readouterr().out)
    assert ranked["product"]["id"] == ad.product_id


def test_the_servers_validation_details_are_shown(
    api: MarketScoutClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert remote(api, "trending", "--limit", "0") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("marketscout: the server answered 422: Validation failed (limit: ")
    assert line.endswith(")")


class Calls:
    """What the in-process server was asked and answered: the log-ins, the revocations, and the
    other 401s."""

    def __init__(self, http: httpx.Client) -> None:
        self.logins = 0
        self.refused = 0
        self.revokes = 0
        http.event_hooks["response"].append(self._note)

    def _note(self, response: httpx.Response) -> None:
        if response.request.url.path == "/token":
            self.logins += 1
        elif response.request.url.path == "/token/revoke":
            self.revokes += 1
        elif response.status_code == 401:
            self.refused += 1


@pytest.fixture
def calls(http: TestClient[Litestar], ad: Ad) -> Calls:
    """Counted from after the account and its ad were made."""
    return Calls(http)


def run(http: TestClient[Litestar], *argv: str) -> int:
    """One ``marketscout remote`` run as remote_user, with a client of its own (a new process's)."""
    args = build_parser().parse_args(["remote", "--username", "remote_user", *argv])
    with MarketScoutClient(http=http) as client:
        return run_remote(args, client)


def kept_tokens(cache_home: Path) -> list[Path]:
    folder = cache_home / "marketscout"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_second_run_uses_the_kept_access_token_without_logging_in(
    http: TestClient[Litestar], calls: Calls, cache_home: Path
) -> None:
    assert run(http, "alerts") == 0
    assert calls.logins == 1
    [kept] = kept_tokens(cache_home)
    # Readable and writable by the user alone, in a folder only the user can enter.
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    document = json.loads(kept.read_text(encoding="utf-8"))
    assert "refresh" not in json.dumps(document), "only the access token is kept"
    assert run(http, "alerts") == 0
    assert run(http, "deliveries") == 0
    assert run(http, "export", "watchlist") == 0
    assert (calls.logins, calls.refused) == (1, 0)


def test_a_kept_token_the_server_refuses_is_dropped_and_the_run_logs_in_once_again(
    http: TestClient[Litestar], calls: Calls, cache_home: Path, clock: MovableClock
) -> None:
    assert run(http, "alerts") == 0
    [kept] = kept_tokens(cache_home)
    first = kept.read_text(encoding="utf-8")
    # Expired by the server's clock, not yet by the file's reckoning: refused once, then a log-in.
    clock.advance(timedelta(minutes=31))
    assert run(http, "alerts") == 0
    assert (calls.logins, calls.refused) == (2, 1)
    [kept] = kept_tokens(cache_home)
    assert kept.read_text(encoding="utf-8") != first, "the new login's token is kept"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # A token that is none (a damaged file): the same.
    document = json.loads(kept.read_text(encoding="utf-8"))
    kept.write_text(json.dumps({**document, "access_token": "not-a-token"}), encoding="utf-8")
    assert run(http, "alerts") == 0
    assert (calls.logins, calls.refused) == (3, 2)
    assert run(http, "alerts") == 0
    assert (calls.logins, calls.refused) == (3, 2)


def test_an_upload_of_several_requests_at_once_logs_in_once_when_the_kept_token_is_refused(
    http: TestClient[Litestar], ad: Ad, calls: Calls, clock: MovableClock, tmp_path: Path
) -> None:
    upload = tmp_path / "snapshots.ndjson"
    upload.write_text(_snapshots(ad, [10, 20, 40, 80, 160, 320]), encoding="utf-8")
    assert run(http, "alerts") == 0
    clock.advance(timedelta(minutes=31))
    assert run(http, "ingest", "--batch", "1", "--in-flight", "3", str(upload)) == 0
    assert calls.logins == 2, "one log-in for the requests refused together"


def test_a_kept_token_that_has_expired_is_not_sent(
    http: TestClient[Litestar], calls: Calls, cache_home: Path
) -> None:
    assert run(http, "alerts") == 0
    [kept] = kept_tokens(cache_home)
    document = json.loads(kept.read_text(encoding="utf-8"))
    kept.write_text(json.dumps({**document, "expires_at": document["expires_at"] - 1800}), encoding="utf-8")
    assert run(http, "alerts") == 0
    assert (calls.logins, calls.refused) == (2, 0), "logged in at once, nothing refused"


def test_a_refused_kept_token_and_a_wrong_password_end_in_the_401_and_no_token_kept(
    http: TestClient[Litestar],
    calls: Calls,
    cache_home: Path,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(http, "alerts") == 0
    clock.advance(timedelta(minutes=31))
    monkeypatch.setenv("MARKETSCOUT_PASSWORD", "not the passphrase")
    capsys.readouterr()
    assert run(http, "alerts") == 1
    assert "the server answered 401" in capsys.readouterr().err
    # The kept token refused once, then one log-in (refused too), and nothing more.
    assert (calls.logins, calls.refused) == (2, 1)
    assert kept_tokens(cache_home) == []


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_token_cache_can_be_turned_off(
    http: TestClient[Litestar], calls: Calls, cache_home: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    before: list[str] = []
    if how == "option":
        before = ["--no-token-cache"]
    else:
        monkeypatch.setenv("MARKETSCOUT_TOKEN_CACHE", "off")
    assert run(http, *before, "alerts") == 0
    assert run(http, *before, "alerts") == 0
    assert calls.logins == 2
    assert kept_tokens(cache_home) == []


def test_a_token_cache_setting_that_is_neither_on_nor_off_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARKETSCOUT_TOKEN_CACHE", "sometimes")
    argv = ["remote", "--server", "http://127.0.0.1:9", "--username", "remote_user", "alerts"]
    assert main(argv) == 2
    assert capsys.readouterr().err == "marketscout: MARKETSCOUT_TOKEN_CACHE must be on or off\n"


def kept_token(cache_home: Path) -> str:
    [kept] = kept_tokens(cache_home)
    token: str = json.loads(kept.read_text(encoding="utf-8"))["access_token"]
    return token


def test_logout_ends_the_kept_token_on_the_server_and_forgets_it(
    http: TestClient[Litestar], calls: Calls, cache_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(http, "alerts") == 0
    token = kept_token(cache_home)
    capsys.readouterr()
    assert run(http, "logout") == 0
    said = capsys.readouterr().out
    assert "ended the access token of remote_user at http://127.0.0.1:8000 on the server" in said
    assert kept_tokens(cache_home) == []
    ended = http.get("/watchlists", headers={"Authorization": f"Bearer {token}"})
    assert ended.status_code == 401, "a copy of the token is refused too"
    revokes = calls.revokes
    assert run(http, "logout") == 0
    assert "no access token kept for remote_user at http://127.0.0.1:8000" in capsys.readouterr().out
    assert calls.revokes == revokes, "with no token kept, the server is not asked"
    assert run(http, "alerts") == 0
    assert calls.logins == 2, "the next run logs in again"


def test_logout_of_a_token_that_has_already_ended_forgets_it(
    http: TestClient[Litestar],
    calls: Calls,
    cache_home: Path,
    clock: MovableClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Expired by the server's clock (or ended by a password change): nothing left to end, and
    the run does not log in just to log out."""
    assert run(http, "--json", "alerts") == 0
    clock.advance(timedelta(minutes=31))
    capsys.readouterr()
    assert run(http, "--json", "logout") == 0
    assert json.loads(capsys.readouterr().out) == {
        "server": "http://127.0.0.1:8000",
        "username": "remote_user",
        "forgotten": True,
        "ended_on_server": True,
    }
    assert kept_tokens(cache_home) == []
    assert calls.logins == 1


def test_logout_when_the_server_cannot_be_reached_forgets_the_token_and_exits_1(
    http: TestClient[Litestar], ad: Ad, cache_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token is deleted from this machine all the same (whoever runs logout wants it gone
    from here), and the run says that it could not be ended and exits 1: it stays valid on the
    server until it expires."""
    server = "http://127.0.0.1:9"  # nothing listens there
    assert run(http, "--server", server, "alerts") == 0  # kept for that server
    token = kept_token(cache_home)
    capsys.readouterr()
    args = build_parser().parse_args(["remote", "--server", server, "--username", "remote_user", "logout"])
    assert run_remote(args) == 1
    out, err = capsys.readouterr()
    assert f"forgot the access token kept for remote_user at {server}" in out
    assert err.startswith(f"marketscout: could not end the access token on the server: cannot reach {server}")
    assert "valid until it expires" in err
    assert kept_tokens(cache_home) == []
    assert http.get("/watchlists", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_token_kept_for_one_server_or_account_is_not_used_for_another(
    http: TestClient[Litestar], api: MarketScoutClient, calls: Calls, cache_home: Path
) -> None:
    assert run(http, "alerts") == 0
    assert run(http, "--server", "http://127.0.0.1:8000/", "alerts") == 0, "the same server"
    assert calls.logins == 1
    assert run(http, "--server", "http://other.example:8000", "alerts") == 0
    assert calls.logins == 2
    api.sign_up("second_user", "second@example.com", PASSPHRASE)
    args = build_parser().parse_args(["remote", "--username", "second_user", "alerts"])
    with MarketScoutClient(http=http) as client:
        assert run_remote(args, client) == 0
    assert calls.logins == 3
    assert len(kept_tokens(cache_home)) == 3


@pytest.mark.parametrize("unsafe", ["open to others", "a symbolic link", "a file in the way"])
def test_a_cache_folder_that_is_not_safe_is_not_used(
    http: TestClient[Litestar],
    calls: Calls,
    cache_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    unsafe: str,
) -> None:
    """No token is kept where others could read or swap it: the run logs in as it did before
    the cache, and says why once."""
    folder = cache_home / "marketscout"
    cache_home.mkdir()
    if unsafe == "open to others":
        folder.mkdir()
        folder.chmod(0o755)
    elif unsafe == "a symbolic link":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        folder.symlink_to(elsewhere)
    else:
        folder.write_text("not a folder", encoding="utf-8")
    capsys.readouterr()
    assert run(http, "alerts") == 0
    [said] = capsys.readouterr().err.splitlines()
    assert said.startswith(f"marketscout: not keeping the access token: {folder}")
    assert run(http, "alerts") == 0
    assert calls.logins == 2
    if unsafe == "open to others":
        assert list(folder.iterdir()) == []
    elif unsafe == "a symbolic link":
        assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.fixture
def market(api: MarketScoutClient, ad: Ad) -> Ad:
    """Ten days of readings: the Remote Lamp (YouTube) taking off in Germany and slower in the
    US, a Steady Desk (TikTok) flat in the US."""
    desk = api.create_product("Steady Desk", "d")
    desk_ad = api.create_ad(desk.id, "TikTok", "calm", external_id="desk")
    readings: list[dict[str, object]] = []
    for hours in range(240, -1, -12):
        step = (240 - hours) / 12
        observed_at = NOW - timedelta(hours=hours)
        readings += [
            {"ad_id": ad.id, "region": "DE", "observed_at": observed_at, "views": int(2000 * 1.35**step)},
            {"ad_id": ad.id, "region": "US", "observed_at": observed_at, "views": int(300 * 1.2**step)},
            {
                "ad_id": desk_ad.id,
                "region": "US",
                "observed_at": observed_at,
                "views": 50_000 + 400 * int(step),
            },
        ]
    assert api.ingest(readings).rejected == []
    return ad


@pytest.mark.parametrize(
    ("argv", "filters", "names"),
    [
        ([], {}, ["Remote Lamp", "Steady Desk"]),
        (["--skip", "1"], {"skip": 1}, ["Steady Desk"]),
        (["--status", "steady"], {"status": "steady"}, ["Steady Desk"]),
        (["--query", "desk"], {"query": "desk"}, ["Steady Desk"]),
        (["--platform", "TikTok"], {"platform": "TikTok"}, ["Steady Desk"]),
        (["--region", "DE"], {"region": "DE"}, ["Remote Lamp"]),
        (["--min-confidence", "0.9"], {"min_confidence": 0.9}, ["Remote Lamp"]),
        (["--category", "Home"], {"category": "Home"}, []),  # no product of the market has one
        (
            ["--region", "us", "--ranking", "regional", "--limit", "5"],
            {"region": "us", "ranking": "regional", "limit": 5},
            ["Remote Lamp", "Steady Desk"],
        ),
        (["--region", "US", "--ranking", "worldwide"], {"region": "US"}, ["Remote Lamp", "Steady Desk"]),
    ],
)
def test_trending_takes_the_apis_filters_and_prints_the_servers_items_as_json(
    api: MarketScoutClient,
    market: Ad,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    filters: dict[str, Any],
    names: list[str],
) -> None:
    capsys.readouterr()
    assert remote(api, "--json", "trending", *argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [item["product"]["name"] for item in printed] == names
    assert printed == msgspec.to_builtins(api.trending(**filters))


def test_a_regional_ranking_says_once_whose_scores_it_shows(
    api: MarketScoutClient, market: Ad, capsys: pytest.CaptureFixture[str]
) -> None:
    worldwide = {t.product.name: t.current_score for t in api.trending()}
    capsys.readouterr()
    assert remote(api, "trending", "--region", "us", "--ranking", "regional") == 0
    first, *ranked = capsys.readouterr().out.splitlines()
    assert first == "scores in US alone"
    assert [(" Remote Lamp (#" in line, " Steady Desk (#" in line) for line in ranked] == [
        (True, False),
        (False, True),
    ]
    # The lamp's slower US readings alone score it lower than Germany and the US together.
    assert float(ranked[0].split()[0]) < worldwide["Remote Lamp"]
    assert remote(api, "--json", "trending", "--region", "us", "--ranking", "regional") == 0
    assert {item["scored_in"] for item in json.loads(capsys.readouterr().out)} == {"US"}
    assert remote(api, "trending", "--region", "US") == 0
    out = capsys.readouterr().out
    assert "scores in" not in out and out.splitlines()[0].endswith(
        f"Remote Lamp (#{market.product_id}): " + api.trending()[0].reason
    )


def test_trending_with_options_that_match_nothing_says_so(
    api: MarketScoutClient, market: Ad, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert remote(api, "trending", "--status", "peaked") == 0
    assert capsys.readouterr().out == "no scored products match\n"
    assert remote(api, "--json", "trending", "--region", "FR", "--ranking", "regional") == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("argv", "field", "rule"),
    [
        (["--ranking", "regional"], "ranking", "must be worldwide unless region is given"),
        (["--region", "Atlantis"], "region", ""),
        (["--min-confidence", "1.5"], "min_confidence", ""),
        (["--skip", "-1"], "skip", ""),
    ],
)
def test_trending_options_the_server_refuses_are_said_with_the_field_and_the_rule(
    api: MarketScoutClient, capsys: pytest.CaptureFixture[str], argv: list[str], field: str, rule: str
) -> None:
    assert remote(api, "trending", *argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"marketscout: the server answered 422: Validation failed ({field}: {rule}")
    assert line.endswith(")")


@pytest.mark.parametrize(
    ("option", "value"), [("--status", "hot"), ("--platform", "tiktok"), ("--ranking", "local")]
)
def test_trending_choices_are_checked_before_anything_is_sent(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["remote", "trending", option, value])
    assert stopped.value.code == 2
    assert f"argument {option}: invalid choice: '{value}'" in capsys.readouterr().err


def test_trending_help_names_the_filters_and_their_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["remote", "trending", "--help"])
    assert stopped.value.code == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "--status {" + ",".join(TrendStatus) + "}" in said
    assert "--platform {" + ",".join(Platform) + "}" in said
    assert "--ranking {" + ",".join(get_args(Ranking)) + "}" in said
    for option in ("--skip", "--query", "--region", "--min-confidence", "--limit"):
        assert option in said
    assert "region's readings alone" in said


def test_a_command_when_the_server_cannot_be_reached_says_so_and_exits_1(
    cache_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The client's connection error (its httpx error the cause) is said as before: which server
    cannot be reached, and how."""
    server = "http://127.0.0.1:9"  # nothing listens there
    args = build_parser().parse_args(["remote", "--server", server, "--username", "remote_user", "trending"])
    assert run_remote(args) == 1
    err = capsys.readouterr().err
    assert err == f"marketscout: cannot reach {server}: ConnectError\n", err
