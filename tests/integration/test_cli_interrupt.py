"""A long-running command stopped with Ctrl-C (SIGINT) stops cleanly: no traceback, exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("command", ["notify", "refresh"])
def test_ctrl_c_stops_a_watching_command_with_exit_130_and_no_traceback(command: str, tmp_path: Path) -> None:
    database = tmp_path / "w.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETSCOUT_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketscout.entrypoints.cli",
            command,
            "--watch",
            "5",
            "--database-url",
            f"sqlite:///{database}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # The database is made once the command runs (opening its store): from then on a SIGINT
        # is the operator's Ctrl-C to a running command, not one during Python's start-up.
        deadline = time.monotonic() + 60
        while not database.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.splitlines()[-1:] == ["marketscout: stopped"], err
    assert out == ""
