"""``marketscout remote`` against the real application, in process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from marketscout.client import Ad, MarketScoutClient
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.cli import build_parser
from marketscout.entrypoints.cli_remote import run_remote
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container

PASSPHRASE = "a long passphrase"


@pytest.fixture
def api() -> Iterator[MarketScoutClient]:
    app = create_app(build_container(api_settings(), MovableClock(NOW)))
    with TestClient(app=app) as http, MarketScoutClient(http=http) as client:
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
    assert second.startswith("  row 2: views: ") and ">= 0" in second, "-3 is refused as negative"
    [third] = [line for line in lines if line.startswith("  row 3: ")]
    assert third.startswith("  row 3: views: "), "20x is refused as not a number"


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("missing.ndjson", None, "cannot read"),
        ("folder.csv", "a directory", "cannot read"),
        ("latin1.csv", b"region,views\nM\xfcnchen,3\n", "line 2 is not UTF-8"),
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
