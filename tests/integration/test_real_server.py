"""The README's run command starts a real server that answers over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from marketscout.client import MarketScoutClient

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback URL we built
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    database = tmp_path_factory.mktemp("server") / "marketscout.sqlite3"
    env = {
        **os.environ,
        "MARKETSCOUT_DATABASE_URL": f"sqlite:///{database}",
        "MARKETSCOUT_RATE_LIMIT_ENABLED": "false",
    }
    log_path = database.parent / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"the server exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if _get(f"{base}/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("the server did not become ready within 120 s")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_the_run_command_serves_the_api_with_demo_data(server: str) -> None:
    status, health = _get(f"{server}/health")
    assert (status, health) == (200, {"status": "ok"})
    status, trending = _get(f"{server}/trending?limit=5")
    assert status == 200
    assert isinstance(trending, dict)
    assert len(trending["trending_products"]) == 5
    status, missing = _get(f"{server}/products/999999")
    assert status == 404
    assert isinstance(missing, dict)
    assert missing["status_code"] == 404
    with urllib.request.urlopen(f"{server}/docs", timeout=5) as response:  # noqa: S310
        assert response.status == 200


def test_the_demo_command_loads_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    command = [sys.executable, "-m", "marketscout.entrypoints.cli", "demo", "--database-url", url]
    first = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    second = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    assert "synthetic" in first.stdout and "products" in first.stdout
    assert "already loaded" in second.stdout


def test_the_cli_talks_to_a_remote_server(server: str, tmp_path: Path) -> None:
    with MarketScoutClient(server) as client:
        client.sign_up("remote_user", "remote@example.com", "a long passphrase")
        client.log_in("remote_user", "a long passphrase")
        product = client.create_product("Remote Lamp", "Uploaded from afar")
        ad = client.create_ad(product.id, "TikTok", "glow", external_id="remote-1")
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {
            "ad_id": ad.id,
            "region": "US",
            "observed_at": (now - timedelta(hours=h)).isoformat(),
            "views": 1000 * (4 - h),
        }
        for h in range(3)
    ]
    rows.append({"ad_id": ad.id, "region": "US", "observed_at": now.isoformat(), "views": -5})
    upload = tmp_path / "snapshots.ndjson"
    upload.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    # The access token the first run keeps is the test's own (and used by the runs after it).
    env = {
        **os.environ,
        "MARKETSCOUT_PASSWORD": "a long passphrase",
        "XDG_CACHE_HOME": str(tmp_path / "cache-home"),
    }
    base = [sys.executable, "-m", "marketscout.entrypoints.cli", "remote", "--server", server]
    account = [*base, "--username", "remote_user"]

    def run(*command: str, environment: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=60, env=environment, check=False
        )

    first = run(*account, "ingest", str(upload))
    assert first.returncode == 1, "a row was rejected"
    assert "received 4, stored 3, duplicates 0, rejected 1" in first.stdout
    assert "row 4: views" in first.stdout
    again = run(*account, "ingest", str(upload))
    assert "received 4, stored 0, duplicates 3, rejected 1" in again.stdout
    batched = run(*account, "ingest", "--batch", "3", str(upload))  # two requests
    assert batched.returncode == 1, batched.stderr
    assert batched.stderr.count("sent ") == 2
    assert "received 4, stored 0, duplicates 3, rejected 1" in batched.stdout
    assert "row 4: views" in batched.stdout, "rows are numbered across requests"
    # One row a request, three requests at once: answers are reported in the file's order.
    spread = tmp_path / "spread.ndjson"
    spread.write_text(
        "\n".join(
            json.dumps(
                {
                    "ad_id": ad.id,
                    "region": "DE",
                    "observed_at": (now - timedelta(hours=10 + h)).isoformat(),
                    "views": -1 if h in (1, 4) else 100 * (6 - h),
                }
            )
            for h in range(6)
        ),
        encoding="utf-8",
    )
    parallel = run(*account, "ingest", "--batch", "1", "--in-flight", "3", str(spread))
    assert parallel.returncode == 1, parallel.stderr
    assert [line.split(" rows")[0] for line in parallel.stderr.splitlines() if line.startswith("sent ")] == [
        f"sent {n}" for n in range(1, 7)
    ]
    rejected = [line.split(":")[0].strip() for line in parallel.stdout.splitlines() if "views" in line]
    assert rejected == ["row 2", "row 5"]
    assert "received 6, stored 4, duplicates 0, rejected 2" in parallel.stdout
    zero = run(*account, "ingest", "--batch", "0", str(upload))
    assert (
        zero.returncode == 2 and "argument --batch: must be a whole number from 1 to 1000000" in zero.stderr
    )
    ranked = run(*base, "--json", "trending", "--limit", "3")
    assert ranked.returncode == 0, ranked.stderr
    assert len(json.loads(ranked.stdout)) == 3
    assert run(*account, "alerts").returncode == 0
    assert "Product ID,Product Name" in run(*account, "export", "watchlist").stdout
    [kept] = (tmp_path / "cache-home" / "marketscout").iterdir()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # While a token is kept, the password is not asked for; once forgotten, a wrong one is refused.
    wrong = {**env, "MARKETSCOUT_PASSWORD": "wrong password"}
    assert run(*account, "alerts", environment=wrong).returncode == 0
    token = json.loads(kept.read_text(encoding="utf-8"))["access_token"]
    logout = run(*account, "logout")
    assert logout.returncode == 0 and "forgot the access token kept for remote_user" in logout.stdout
    assert "ended the access token of remote_user" in logout.stdout, "ended on the server first"
    ended = httpx.get(f"{server}/watchlists", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert ended.status_code == 401
    refused = run(*account, "alerts", environment=wrong)
    assert refused.returncode == 1
    assert "401" in refused.stderr and "Traceback" not in refused.stderr
    uncached = run(*account, "--no-token-cache", "alerts", environment=wrong)
    assert uncached.returncode == 1 and "401" in uncached.stderr
