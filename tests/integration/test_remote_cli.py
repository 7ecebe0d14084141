"""``marketscout remote`` against the real application, in process."""

from __future__ import annotations

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
