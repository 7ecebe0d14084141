"""Every server log line written while answering a request carries that request's id."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from marketscout.domain.ports import HealthProbe
from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container


class BrokenProbe(HealthProbe):
    """A dependency that fails in a way nobody planned for: the server must answer 500."""

    async def ready(self) -> bool:
        raise RuntimeError("an internal failure nobody planned for")


def server_lines(captured: str) -> list[dict[str, Any]]:
    # The server's lines are JSON; the test client's own httpx lines are not.
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


async def test_every_line_of_a_failing_request_carries_its_id(capsys: pytest.CaptureFixture[str]) -> None:
    container = build_container(api_settings(log_level="INFO"), MovableClock(NOW))
    container.health_probe.override(providers.Object(BrokenProbe()))
    app = create_app(container)  # its log handler writes to the stderr capsys captures
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        capsys.readouterr()  # start-up
        response = await client.get("/ready", headers={"X-Request-ID": "trace-500"})
        failing = server_lines(capsys.readouterr().err)
        await client.get("/health", headers={"X-Request-ID": "after"})
        after = server_lines(capsys.readouterr().err)
    assert response.status_code == 500
    assert response.json()["request_id"] == "trace-500"
    assert "internal failure" not in response.text
    tracebacks = [line for line in failing if "error" in line]
    assert len(tracebacks) == 1, failing
    assert "internal failure" in tracebacks[0]["error"], "the traceback is logged server-side"
    assert [line.get("request_id") for line in failing] == ["trace-500"] * len(failing), failing
    assert [line.get("request_id") for line in after] == ["after"], "the next request has its own id"


def test_library_lines_are_json_too_and_their_info_chatter_stays_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Alembic's "Context impl SQLiteImpl." came out as plain text beside the JSON lines.
    create_app(build_container(api_settings(log_level="INFO"), MovableClock(NOW)))
    capsys.readouterr()
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("litestar").warning("a library's warning")
    written = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in written] == ["a library's warning"]
