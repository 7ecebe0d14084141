"""The ``marketscout`` command refuses arguments and settings it cannot use in one line that
names them, before it does anything, never with a traceback or a silently different value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from marketscout.entrypoints.cli import main


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
