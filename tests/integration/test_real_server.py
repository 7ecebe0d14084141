"""The README's run command starts a real server that answers over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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
