"""The backtest command on the real data sets of ../shared/data, and on broken files."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from marketscout.adapters.datasets import read_nab, read_trending
from marketscout.domain.scoring import DEFAULT_PARAMS
from marketscout.entrypoints.cli import main
from tests.databases import need

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MARKETSCOUT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def backtest(*args: str, code: int = 0) -> dict[str, object]:
    """The command's JSON; ``code`` is the exit status expected (1: it measured nothing)."""
    result = subprocess.run(
        [sys.executable, "-m", "marketscout.entrypoints.cli", "backtest", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == code, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


@pytest.fixture
def data() -> Path:
    if not DATA.exists():
        need(f"the shared data folder is not at {DATA}")
    return DATA


def test_e1_beats_every_baseline_on_the_development_file(data: Path) -> None:
    document = backtest("e1", "--data", str(data / "youtube-trending-2017" / "US.csv"))
    assert document["task"] == "e1"
    metrics = document["metrics"]
    assert isinstance(metrics, dict)
    assert set(metrics) == {"marketscout", "popularity", "absolute_gain", "relative_growth"}
    # The published baseline figures of evaluation.md, reproduced.
    assert metrics["relative_growth"]["auc"] == pytest.approx(0.93, abs=0.005)
    assert metrics["popularity"]["precision_at_20"] == pytest.approx(0.12, abs=0.005)
    for baseline in ("popularity", "absolute_gain", "relative_growth"):
        assert metrics["marketscout"]["auc"] > metrics[baseline]["auc"]
        assert metrics["marketscout"]["precision_at_20"] > metrics[baseline]["precision_at_20"]
    # The margins day by day, with how sure they are: the averages' differences, inside their
    # intervals; clear of popularity and absolute gain, narrow over relative growth.
    margins = document["margins"]
    assert isinstance(margins, dict)
    for baseline in ("popularity", "absolute_gain", "relative_growth"):
        for metric in ("auc", "precision_at_20"):
            margin = margins[baseline][metric]
            low, high = margin["interval_95"]
            assert margin["days"] == 36
            assert low <= margin["difference"] <= high
            assert margin["difference"] == pytest.approx(
                metrics["marketscout"][metric] - metrics[baseline][metric], abs=1e-3
            )
    assert margins["absolute_gain"]["auc"]["interval_95"][0] > 0.1
    assert margins["relative_growth"]["auc"]["interval_95"][1] < 0.05


@pytest.mark.parametrize(
    "development_file",
    [
        "youtube-trending-2017-18/US_2017-11-14_to_2018-01-29.csv",
        "youtube-trending-2017-18/CA_2017-11-14_to_2018-02-28_views.csv",
        "youtube-trending-2020",
    ],
)
def test_e1_beats_every_baseline_on_every_other_development_file(data: Path, development_file: str) -> None:
    """The issue's goal on each development file besides the 2017 one (above): both metrics
    above every baseline's (on the 2020 folder by a margin within noise: docs/scoring.md)."""
    metrics = cast(dict[str, Any], backtest("e1", "--data", str(data / development_file)))["metrics"]
    for baseline in ("popularity", "absolute_gain", "relative_growth"):
        for metric in ("auc", "precision_at_20"):
            assert metrics["marketscout"][metric] > metrics[baseline][metric], (baseline, metric)


def test_e1_measures_the_forecast_against_the_last_pace(data: Path) -> None:
    """The engine's forecast of the views gained over the next 1-3 days, on the development
    file: off by less than keeping the last day's pace, and within a factor of two more often."""
    document = backtest("e1", "--data", str(data / "youtube-trending-2017" / "US.csv"))
    forecast = document["forecast"]
    assert isinstance(forecast, dict)
    ours, naive = forecast["marketscout"], forecast["last_pace"]
    assert ours["forecasts"] == naive["forecasts"] > 5000
    assert ours["forecast_log_error"] < naive["forecast_log_error"] - 0.2
    assert ours["forecast_within_2x"] > naive["forecast_within_2x"] + 0.2


def test_e1_measures_the_viral_ad_scan_against_naive_picks(data: Path) -> None:
    """The scan on each judged day's list (every video an ad): its hits keep growing into E1's
    top 10 % far more often than chance, and more often than as many videos with the most views
    gained (what a list sorted by views shows)."""
    document = backtest("e1", "--data", str(data / "youtube-trending-2017" / "US.csv"))
    scan = document["scan"]
    assert isinstance(scan, dict)
    ours = scan["marketscout"]
    assert ours["days"] == 36 and ours["hits_per_day"] >= 5
    assert ours["precision"] > 4 * scan["base_rate"]
    assert ours["precision"] > scan["most_views_gained"]["precision"] + 0.1
    assert 0 < scan["relative_growth"]["precision"] <= 1


def test_e1_measures_what_each_status_says(data: Path) -> None:
    """The engine's status on every candidate of every judged day, on the development file:
    a video called exploding grows into the day's top 10 % several times as often as any
    candidate; one called peaked or declining far less often."""
    document = backtest("e1", "--data", str(data / "youtube-trending-2017" / "US.csv"))
    status = document["status"]
    assert isinstance(status, dict)
    statuses, base = status["statuses"], status["base_rate"]
    assert set(statuses) == {"emerging", "exploding", "steady", "peaked", "declining"}
    assert sum(s["candidates"] for s in statuses.values()) == 5176  # E1's candidates over 36 days
    assert 0.09 < base < 0.12
    assert statuses["exploding"]["candidates"] > 100
    assert statuses["exploding"]["positive_share"] > 3 * base
    assert statuses["peaked"]["positive_share"] < base / 4


def test_e1_on_a_folder_counts_every_judged_day(data: Path) -> None:
    """A folder of countries: the metrics average the countries that have judged days, and
    ``days`` is how many days were judged in all (the 2020 files span five days: one judged
    day per country that has all five), the same days the margins are computed on."""
    document = backtest("e1", "--data", str(data / "youtube-trending-2020"))
    per_country = document["per_country"]
    assert isinstance(per_country, dict) and len(per_country) == 7
    judged = sum(country["marketscout"]["days"] for country in per_country.values())
    assert judged == 5
    metrics = document["metrics"]
    margins = document["margins"]
    assert isinstance(metrics, dict) and isinstance(margins, dict)
    for method in ("marketscout", "popularity", "absolute_gain", "relative_growth"):
        assert metrics[method]["days"] == judged
    assert margins["relative_growth"]["auc"]["days"] == judged
    with_days = [c["marketscout"]["auc"] for c in per_country.values() if c["marketscout"]["days"]]
    assert metrics["marketscout"]["auc"] == pytest.approx(sum(with_days) / len(with_days), abs=1e-4)


def test_e2_beats_both_baselines_and_reports_lead_time(data: Path) -> None:
    document = backtest("e2", "--data", str(data / "youtube-trending-2017-18"))
    metrics = document["metrics"]
    assert isinstance(metrics, dict)
    assert set(metrics) == {"marketscout", "views", "relative_growth"}
    per_pair = document["per_pair"]
    assert isinstance(per_pair, dict) and set(per_pair) == {"US->CA", "CA->US"}
    assert metrics["marketscout"]["days"] == sum(pair["marketscout"]["days"] for pair in per_pair.values())
    for baseline in ("views", "relative_growth"):
        assert metrics["marketscout"]["auc"] > metrics[baseline]["auc"]
        assert metrics["marketscout"]["precision_at_20"] > metrics[baseline]["precision_at_20"]
    # Views in A are defined for a video's first day on the list too: ranked like any other.
    assert metrics["views"]["auc"] > 0.5
    assert metrics["marketscout"]["lead_time_days"] >= 1


def test_e2_on_a_folder_of_countries_runs_every_ordered_pair(data: Path) -> None:
    """The seven 2020 countries: every ordered pair (42), not the first two files; their
    five days leave no day with 14 days after it, so ``--window`` sets the days a video has to
    reach B, and the figures average the pairs that judged a day."""
    folder = str(data / "youtube-trending-2020")
    document = backtest("e2", "--data", folder, "--window", "2")
    per_pair = document["per_pair"]
    assert isinstance(per_pair, dict)
    assert len(per_pair) == 42 and "US->GB" in per_pair and "GB->US" in per_pair
    assert document["window"] == 2
    metrics = document["metrics"]
    assert isinstance(metrics, dict)
    judged = sum(pair["marketscout"]["days"] for pair in per_pair.values())
    assert metrics["marketscout"]["days"] == judged >= 30  # 37: days on which some video crossed
    # With the protocol's 14 days nothing in five days can be judged: said, exit 1.
    assert "no day could be judged" in str(backtest("e2", "--data", folder, code=1)["problem"])


def test_e2_window_out_of_range_is_refused(data: Path) -> None:
    result = run_cli("e2", "--data", str(data / "youtube-trending-2017-18"), "--window", "0")
    assert result.returncode == 2
    assert "--window" in result.stderr and "1 to 30" in result.stderr


def test_e3_reports_nab_figures(data: Path) -> None:
    document = backtest("e3", "--data", str(data / "nab-twitter-volume"))
    figures = document["metrics"]["marketscout"]  # type: ignore[index]
    # The goal of the trend-engine issue: at least 80 on the five development series, one threshold.
    assert 80 <= figures["nab_score"] <= 100
    assert figures["windows"] == 16
    assert figures["microseconds_per_value"] > 0  # reported; its speed is a benchmark's business


def test_lead_times_on_the_simulator_need_no_data() -> None:
    document = backtest("lead", "--seeds", "1")
    assert document["task"] == "lead"
    assert document["data"] == "synthetic simulator, seeds 1..1"
    metrics = document["metrics"]
    assert isinstance(metrics, dict)
    found = metrics["marketscout"]
    assert found["flagged_before_peak"] == found["viral_products"] > 0
    assert found["min_lead_days"] <= found["lead_time_days"] <= found["max_lead_days"]
    decoys = document["decoys"]
    assert isinstance(decoys, dict)
    assert decoys["one_ad_spike"] == {"flagged": 0, "products": 6, "share_of_moments": 0.0}
    # The ranking a user sees: the kinds' shares of the top 10 places, and how often a product
    # in the week before its peak scores above each kind of decoy.
    top = document["top_10"]
    assert isinstance(top, dict)
    assert set(top) == {"viral", *decoys} and abs(sum(top.values()) - 1) < 1e-3
    above = document["rising_above_decoys"]
    assert isinstance(above, dict)
    assert set(above) == set(decoys) and all(0.5 < share <= 1 for share in above.values())


def test_the_data_tasks_need_data() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "marketscout.entrypoints.cli", "backtest", "e1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "backtest e1 needs --data PATH" in result.stdout


def test_a_file_that_begins_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Mirrors of the 2017 edition (GBvideos.csv, for one) begin with a UTF-8 byte-order mark:
    the first column is still ``video_id``, so no row is lost."""
    marked = tmp_path / "GBvideos.csv"
    marked.write_bytes(
        "\ufeffvideo_id,title,channel_title,category_id,tags,views,likes,dislikes,comment_total,"
        "thumbnail_link,date\n"
        "a1,Caf\u00e9,C,1,t,100,1,0,1,x,13.09\n"
        "a1,Caf\u00e9,C,1,t,250,2,0,1,x,14.09\n".encode()
    )
    report = read_trending(marked)
    assert report.skipped == []
    assert [(row.video_id, row.country, row.views) for row in report.rows] == [
        ("a1", "GB", 100),
        ("a1", "GB", 250),
    ]


def test_unparseable_rows_are_counted_with_line_numbers(tmp_path: Path) -> None:
    broken = tmp_path / "US.csv"
    broken.write_text(
        "video_id,trending_date,title,category_id,views,likes,dislikes,comment_count\n"
        "a1,17.14.11,One,1,100,1,0,1\n"
        "#NAME?,17.14.11,Damaged,1,100,1,0,1\n"
        "a1,17.15.11,One,1,lots,1,0,1\n"
        "a1,17.16.11,One,1,300,1,0,1\n"
        "a2,not a date,Two,1,5,1,0,1\n",
        encoding="utf-8",
    )
    report = read_trending(broken)
    assert len(report.rows) == 2
    assert [line for _, line, _ in report.skipped] == [3, 4, 6]
    document = backtest("e1", "--data", str(broken), code=1)  # three days: none judged
    assert document["skipped_rows"]["count"] == 3  # type: ignore[index]


def test_each_file_of_a_folder_counts_once_whatever_its_name(data: Path, tmp_path: Path) -> None:
    """A file's country is the two-letter part of its name wherever it stands (``full_BR.csv``);
    two files of one country are two markets, never one in place of the other."""
    plain = backtest("e1", "--data", str(data / "youtube-trending-2020"))
    named = tmp_path / "named"
    named.mkdir()
    for source in sorted((data / "youtube-trending-2020").glob("*.csv")):
        shutil.copy(source, named / f"full_{source.stem}.csv")
    renamed = backtest("e1", "--data", str(named))
    assert renamed["per_country"] == plain["per_country"]
    assert renamed["metrics"] == plain["metrics"]
    twice = tmp_path / "twice"
    twice.mkdir()
    shutil.copy(data / "youtube-trending-2020" / "US.csv", twice / "US.csv")
    shutil.copy(data / "youtube-trending-2020" / "US.csv", twice / "US_again.csv")
    per_country = backtest("e1", "--data", str(twice))["per_country"]
    assert isinstance(per_country, dict) and sorted(per_country) == ["US", "US_again"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketscout.entrypoints.cli", "backtest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_folder_without_csv_files_is_refused_in_words(tmp_path: Path) -> None:
    for task in ("e1", "e2", "e3"):
        result = run_cli(task, "--data", str(tmp_path))
        assert result.returncode == 2, (task, result.stderr)
        assert f"{tmp_path} holds no .csv file" in result.stdout
        assert "Traceback" not in result.stderr


def test_a_run_that_judges_nothing_says_why_and_fails(tmp_path: Path) -> None:
    """Two trending days judge no day (the first is skipped, the last H have no future): the
    figures are all empty, so the run says so and exits 1 instead of printing None as a result."""
    short = tmp_path / "US.csv"
    short.write_text(
        "video_id,trending_date,title,category_id,views\na1,17.14.11,One,1,100\na1,17.15.11,One,1,300\n",
        encoding="utf-8",
    )
    result = run_cli("e1", "--data", str(short))
    assert result.returncode == 1
    assert "no day could be judged" in result.stdout
    assert "2 trending days" in result.stdout
    assert "auc=None" not in result.stdout
    as_json = run_cli("e1", "--data", str(short), "--json")
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)
    assert document["metrics"]["marketscout"]["days"] == 0
    assert "no day could be judged" in document["problem"]


def test_the_text_output_names_each_skipped_line(tmp_path: Path) -> None:
    broken = tmp_path / "US.csv"
    broken.write_text(
        "video_id,trending_date,title,category_id,views\n"
        "a1,17.14.11,One,1,100\n"
        "#NAME?,17.14.11,Damaged,1,100\n"
        "a1,17.15.11,One,1,lots\n",
        encoding="utf-8",
    )
    result = run_cli("e1", "--data", str(broken))
    assert "skipped rows: 2" in result.stdout
    assert "US.csv line 3: video id missing or damaged by a spreadsheet" in result.stdout
    assert "US.csv line 4: " in result.stdout


def test_e3_without_labelled_windows_has_no_score(tmp_path: Path) -> None:
    """NAB's score is normalised by the labelled windows: with none it is undefined, not 0."""
    series = tmp_path / "Twitter_volume_X.csv"
    series.write_text(
        "timestamp,value\n" + "".join(f"2015-03-01 00:{m:02d}:00,{m % 7}\n" for m in range(0, 60, 5)),
        encoding="utf-8",
    )
    result = run_cli("e3", "--data", str(tmp_path), "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["metrics"]["marketscout"]["nab_score"] is None
    assert "no labelled anomaly window" in document["problem"]
    assert "labels/combined_windows.json" in document["problem"]


def test_e3_reads_broken_series_and_labels_without_crashing(tmp_path: Path) -> None:
    (tmp_path / "Twitter_volume_X.csv").write_bytes(
        b"timestamp,value\n2015-03-01 00:00:00,5\n\xff\xfe,7\n2015-03-01 00:10:00,6\n"
    )
    (tmp_path / "US.csv").write_text("video_id,trending_date,views\na1,17.14.11,100\n", encoding="utf-8")
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "combined_windows.json").write_text("{not json", encoding="utf-8")
    result = run_cli("e3", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "combined_windows.json is not a NAB labels file" in result.stdout
    (labels / "combined_windows.json").write_text('{"realTweets/Twitter_volume_X.csv": []}', encoding="utf-8")
    result = run_cli("e3", "--data", str(tmp_path), "--json")
    assert "Traceback" not in result.stderr
    skipped = json.loads(result.stdout)["skipped_rows"]
    assert {"file": "Twitter_volume_X.csv", "line": 3, "reason": "not UTF-8 text"} in skipped["first"]
    assert {
        "file": "US.csv",
        "line": 1,
        "reason": "unknown header: not a NAB series (timestamp,value)",
    } in skipped["first"]


def test_options_out_of_range_are_refused(tmp_path: Path) -> None:
    for args, said in (
        (("e1", "--horizon", "0"), "argument --horizon: must be a whole number from 1 to 30"),
        (("e1", "--horizon", "-3"), "argument --horizon: must be a whole number from 1 to 30"),
        (("lead", "--seeds", "0"), "argument --seeds: must be a whole number from 1 to 50"),
        (("e3", "--threshold", "7"), "argument --threshold: must be a number from 0.5 to below 1"),
        (("e3", "--threshold", "nan"), "argument --threshold: must be a number from 0.5 to below 1"),
    ):
        result = run_cli(*args, "--data", str(tmp_path))
        assert result.returncode == 2, args
        assert said in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_e1_runs_with_scoring_parameters_set_and_says_which(data: Path) -> None:
    """``--set NAME=VALUE`` runs the same protocol with one of the engine's parameters changed
    (what docs/scoring.md's "tried and not kept" figures come from): the product's figures move,
    the baselines' do not, and the document records every parameter it ran with."""
    path = str(data / "youtube-trending-2020" / "US.csv")
    plain = cast(dict[str, Any], backtest("e1", "--data", path))
    changed = cast(
        dict[str, Any],
        backtest("e1", "--data", path, "--set", "reach_weight=0", "--set", "quality_weight=0.3"),
    )
    assert plain["params"] == dataclasses.asdict(DEFAULT_PARAMS)
    assert changed["params"]["reach_weight"] == 0.0
    assert changed["params"]["quality_weight"] == 0.3
    assert changed["params"]["forecast_days"] == plain["params"]["forecast_days"] == 7
    assert changed["params_set"] == {"reach_weight": 0.0, "quality_weight": 0.3}
    assert plain["params_set"] == {}
    for baseline in ("popularity", "absolute_gain", "relative_growth"):
        assert changed["metrics"][baseline] == plain["metrics"][baseline]
    assert changed["metrics"]["marketscout"]["auc"] != plain["metrics"]["marketscout"]["auc"]
    text = run_cli("e1", "--data", path, "--set", "reach_weight=0")
    assert text.returncode == 0, text.stderr
    assert (
        f"scoring parameters set: reach_weight=0.0 (default {DEFAULT_PARAMS.reach_weight!r})" in text.stdout
    )


def test_lead_runs_with_scoring_parameters_set() -> None:
    """The simulator's lead times move with the engine's parameters (its status reads the score)."""
    plain = cast(dict[str, Any], backtest("lead", "--seeds", "1"))
    changed = cast(dict[str, Any], backtest("lead", "--seeds", "1", "--set", "reach_weight=0"))
    assert changed["params_set"] == {"reach_weight": 0.0}
    assert changed["metrics"]["marketscout"] != plain["metrics"]["marketscout"]


def test_scoring_parameters_that_cannot_be_run_are_refused(data: Path) -> None:
    path = str(data / "youtube-trending-2020" / "US.csv")
    for args, said in (
        (("e1", "--set", "reach"), "--set reach: must be NAME=VALUE"),
        (
            ("e1", "--set", "speed=2"),
            "--set speed=2: no such scoring parameter (one of: reach_weight, centre,",
        ),
        (("e1", "--set", "reach_weight=much"), "--set reach_weight=much: reach_weight: must be a number"),
        (("e1", "--set", "horizon_days=2.5"), "--set horizon_days=2.5: horizon_days: must be a whole number"),
        (("e1", "--set", "scale=0"), "--set scale=0: scale: must be a number from 0.01 to 100"),
        # Past the bounds, math.exp overflowed in scoring: a traceback, after the data was read.
        (("e1", "--set", "centre=1000"), "--set centre=1000: centre: must be a number from -50 to 50"),
        (
            ("e1", "--set", "reach_weight=1e400"),
            "--set reach_weight=1e400: reach_weight: must be a number from -10 to 10",
        ),
        (("e1", "--set", "scale=2", "--set", "scale=3"), "--set scale: given twice"),
        (("e2", "--set", "scale=2"), "backtest e2: --set applies only to e1 and lead"),
        (("e3", "--set", "scale=2"), "backtest e3: --set applies only to e1 and lead"),
    ):
        result = run_cli(*args, "--data", path)
        assert result.returncode == 2, args
        assert said in result.stderr + result.stdout, (args, result.stderr, result.stdout)
        assert "Traceback" not in result.stderr


def test_output_cut_short_by_a_closed_pipe_is_not_an_error(data: Path) -> None:
    """``marketscout backtest ... | head -1``: the reader leaves early; no traceback."""
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketscout.entrypoints.cli",
            "backtest",
            "e3",
            "--data",
            str(data / "nab-twitter-volume"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # nobody reads: the first write meets a closed pipe
        errors = process.stderr.read().decode()
        process.wait(timeout=120)
    assert "Traceback" not in errors
    assert "BrokenPipeError" not in errors


def test_e3_takes_the_labels_file_from_anywhere(tmp_path: Path) -> None:
    """NAB keeps its labels apart from the series (labels/combined_windows.json at the top of its
    repository): --labels names that file wherever it is."""
    series = tmp_path / "series" / "Twitter_volume_X.csv"
    series.parent.mkdir()
    series.write_text(
        "timestamp,value\n"
        + "".join(
            f"2015-03-01 {h:02d}:{m:02d}:00,{5 + (h * 60 + m) % 7}\n"
            for h in range(12)
            for m in range(0, 60, 5)
        ),
        encoding="utf-8",
    )
    labels = tmp_path / "elsewhere.json"
    labels.write_text(
        '{"realTweets/Twitter_volume_X.csv": [["2015-03-01 08:00:00", "2015-03-01 10:00:00"]]}',
        encoding="utf-8",
    )
    without = run_cli("e3", "--data", str(series.parent), "--json")
    assert without.returncode == 1 and json.loads(without.stdout)["metrics"]["marketscout"]["windows"] == 0
    found = run_cli("e3", "--data", str(series.parent), "--labels", str(labels), "--json")
    assert found.returncode == 0, found.stdout
    figures = json.loads(found.stdout)["metrics"]["marketscout"]
    assert figures["windows"] == 1 and figures["nab_score"] is not None
    missing = run_cli("e3", "--data", str(series.parent), "--labels", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "nope.json does not exist" in missing.stdout


# Every option that belongs to some tasks only, with a value it takes, and those tasks.
TASK_OPTIONS = {
    "--data": ("DATA", "e1, e2 and e3"),
    "--data-b": ("DATA", "e2"),
    "--labels": ("DATA", "e3"),
    "--horizon": ("3", "e1"),
    "--window": ("14", "e2"),
    "--threshold": ("0.9", "e3"),
    "--seeds": ("2", "lead"),
    "--set": ("reach_weight=0", "e1 and lead"),
}


@pytest.mark.parametrize(
    ("task", "option"),
    [
        (task, option)
        for option, (_, tasks) in TASK_OPTIONS.items()
        for task in ("e1", "e2", "e3", "lead")
        if task not in tasks
    ],
)
def test_an_option_of_other_tasks_is_refused_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], task: str, option: str
) -> None:
    """``backtest e1 --window 5`` was run as if --window had not been given: each option is
    refused for a task it means nothing to, naming the tasks it applies to (even given at its
    default value), before any data is read."""
    data = tmp_path / "US.csv"
    data.write_text("video_id,trending_date,views\na1,17.14.11,100\n", encoding="utf-8")
    value, tasks = TASK_OPTIONS[option]
    given = [option, str(data) if value == "DATA" else value]
    # The data tasks get their --data, so that nothing but the option is wrong.
    needed = ["--data", str(data)] if task != "lead" and option != "--data" else []
    assert main(["backtest", task, *needed, *given]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"marketscout: backtest {task}: {option} applies only to {tasks}\n"


def _nab_series(path: Path, rows: list[str]) -> Path:
    path.write_text("timestamp,value\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


# Twelve hours of five-minute values, with a labelled window from 08:00 to 10:00.
_HOURS = [
    f"2015-03-01 {h:02d}:{m:02d}:00,{5 + (h * 60 + m) % 7 + (40 if h == 9 else 0)}"
    for h in range(12)
    for m in range(0, 60, 5)
]
_WINDOW = '{"realTweets/Twitter_volume_X.csv": [["2015-03-01 08:00:00", "2015-03-01 10:00:00"]]}'


def test_e3_skips_rows_that_go_back_in_time_or_repeat_a_time(tmp_path: Path) -> None:
    """NAB streams each series in time order: a row whose time is not after the previous row's
    (a series reversed, a repeated timestamp) is skipped with its line, never scored as if the
    series ran backwards (a negative NAB score and false positives per day)."""
    labels = tmp_path / "labels.json"
    labels.write_text(_WINDOW, encoding="utf-8")
    (tmp_path / "reversed").mkdir()
    _nab_series(tmp_path / "reversed" / "Twitter_volume_X.csv", list(reversed(_HOURS)))
    result = run_cli("e3", "--data", str(tmp_path / "reversed"), "--labels", str(labels), "--json")
    document = json.loads(result.stdout)
    assert document["skipped_rows"]["count"] == len(_HOURS) - 1
    assert document["skipped_rows"]["first"][0] == {
        "file": "Twitter_volume_X.csv",
        "line": 3,
        "reason": "not after the previous row's time (2015-03-01 11:55:00+00:00)",
    }
    per_day = document["metrics"]["marketscout"]["false_positives_per_day"]
    assert per_day is None or per_day >= 0
    (tmp_path / "plain").mkdir()
    _nab_series(tmp_path / "plain" / "Twitter_volume_X.csv", _HOURS)
    (tmp_path / "repeated").mkdir()
    _nab_series(tmp_path / "repeated" / "Twitter_volume_X.csv", [*_HOURS[:50], _HOURS[49], *_HOURS[50:]])
    plain = backtest("e3", "--data", str(tmp_path / "plain"), "--labels", str(labels))
    repeated = backtest("e3", "--data", str(tmp_path / "repeated"), "--labels", str(labels))
    assert repeated["skipped_rows"] == {
        "count": 1,
        "first": [
            {
                "file": "Twitter_volume_X.csv",
                "line": 52,
                "reason": "not after the previous row's time (2015-03-01 04:05:00+00:00)",
            }
        ],
    }
    figures = cast(dict[str, Any], repeated["metrics"])["marketscout"]
    expected = cast(dict[str, Any], plain["metrics"])["marketscout"]
    assert {k: v for k, v in figures.items() if k != "microseconds_per_value"} == {
        k: v for k, v in expected.items() if k != "microseconds_per_value"
    }


def test_e3_on_series_without_values_says_so_and_fails(tmp_path: Path) -> None:
    """A series with only its header (or no byte at all) measures nothing: the run says which
    file holds no values and exits 1, with labels or without; in a folder the empty series are
    reported and the others scored."""
    labels = tmp_path / "labels.json"
    labels.write_text(
        '{"realTweets/a.csv": [["2015-03-01 08:00:00", "2015-03-01 10:00:00"]]}', encoding="utf-8"
    )
    for content in ("timestamp,value\n", ""):
        (tmp_path / "a.csv").write_text(content, encoding="utf-8")
        for extra in (["--labels", str(labels)], []):
            result = run_cli("e3", "--data", str(tmp_path / "a.csv"), *extra, "--json")
            assert result.returncode == 1, (content, extra, result.stdout)
            document = json.loads(result.stdout)
            assert document["problem"].startswith("no values in a.csv"), document["problem"]
            assert document["metrics"]["marketscout"]["nab_score"] is None
            assert document["metrics"]["marketscout"]["microseconds_per_value"] is None
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.csv").write_text("timestamp,value\n", encoding="utf-8")
    (folder / "b.csv").write_bytes(b"")
    _nab_series(folder / "Twitter_volume_X.csv", _HOURS)
    labels.write_text(_WINDOW, encoding="utf-8")
    document = backtest("e3", "--data", str(folder), "--labels", str(labels))
    assert document["series"] == ["Twitter_volume_X.csv"]
    assert document["skipped_rows"] == {
        "count": 2,
        "first": [
            {"file": "a.csv", "line": 1, "reason": "no values: the series is skipped"},
            {"file": "b.csv", "line": 1, "reason": "no values: the series is skipped"},
        ],
    }


TRENDING_2020 = (
    "video_id,title,publishedAt,channelId,channelTitle,categoryId,trending_date,tags,view_count,"
    "likes,dislikes,comment_count\n"
)


def _row_2020(video: str, day: str, views: str, likes: str = "1") -> str:
    return f"{video},T,2020-08-01T00:00:00Z,c,C,1,{day},t,{views},{likes},0,1\n"


def test_counts_and_days_out_of_range_are_skipped_rows_with_their_line(tmp_path: Path) -> None:
    """A count beyond 2^63-1 or a day outside 1970-2100 is one bad row, skipped with its file and
    line as a count that is not a number is: it never stops E1 or E2 naming neither."""
    good = [
        _row_2020(f"v{n}", f"2020-08-{d:02d}T00:00:00Z", str(100 * d * (n + 1)))
        for d in range(1, 7)
        for n in range(3)
    ]
    bad = [
        _row_2020("x1", "2020-08-02T00:00:00Z", "1e30"),
        _row_2020("x2", "2020-08-02T00:00:00Z", "9223372036854775808"),
        _row_2020("x3", "2020-08-02T00:00:00Z", "5", likes="99999999999999999999"),
        _row_2020("x4", "0001-01-01T00:00:00Z", "5"),
        _row_2020("x5", "9999-12-31T00:00:00Z", "5"),
        _row_2020("x6", "2020-08-02T00:00:00Z", "9223372036854775807"),
    ]
    us = tmp_path / "US.csv"
    us.write_text(TRENDING_2020 + "".join(good[:9] + bad + good[9:]), encoding="utf-8")
    report = read_trending(us)
    assert [line for _, line, _ in report.skipped] == [11, 12, 13, 14, 15]
    assert report.skipped[0] == ("US.csv", 11, "view_count must be at most 9223372036854775807: '1e30'")
    assert report.skipped[3][2] == "trending_date must lie between 1970 and 2100: '0001-01-01T00:00:00Z'"
    assert any(row.views == 2**63 - 1 for row in report.rows)
    document = backtest("e1", "--data", str(us), "--horizon", "1")
    assert document["skipped_rows"]["count"] == 5  # type: ignore[index]
    ca = tmp_path / "CA.csv"
    ca.write_text(TRENDING_2020 + "".join(good) + bad[0], encoding="utf-8")
    result = run_cli("e2", "--data", str(us), "--data-b", str(ca), "--window", "1", "--json")
    assert "Traceback" not in result.stderr and result.stderr == ""
    skipped = json.loads(result.stdout)["skipped_rows"]
    assert {
        "file": "CA.csv",
        "line": 20,
        "reason": "view_count must be at most 9223372036854775807: '1e30'",
    } in skipped["first"]


def test_nab_times_with_a_utc_offset_are_converted_to_utc(tmp_path: Path) -> None:
    """``2015-03-01T10:00:00+02:00`` is 08:00 UTC, in the series and in the labels alike; a time
    without an offset is UTC; a time outside 1970-2100 is a skipped row."""
    series = _nab_series(
        tmp_path / "Twitter_volume_X.csv",
        [
            "2015-03-01T10:00:00+02:00,5",
            "2015-03-01 08:05:00,6",
            "2015-03-01T03:10:00-05:00,7",
            "0001-01-01,8",
        ],
    )
    labels = tmp_path / "labels.json"
    labels.write_text(
        '{"realTweets/Twitter_volume_X.csv": [["2015-03-01T09:00:00+01:00", "2015-03-01 08:10:00"]]}',
        encoding="utf-8",
    )
    report = read_nab(series, labels)
    (one,) = report.series
    start = datetime(2015, 3, 1, 8, 0, tzinfo=UTC)
    assert one.times == (start, start + timedelta(minutes=5), start + timedelta(minutes=10))
    assert all(moment.utcoffset() == timedelta(0) for moment in one.times)
    assert one.windows == ((start, start + timedelta(minutes=10)),)
    assert [(line, reason) for _, line, reason in report.skipped] == [
        (5, "the time must lie between 1970 and 2100: '0001-01-01'")
    ]


def test_e3_refuses_a_folder_as_labels_and_a_window_that_ends_before_it_starts(tmp_path: Path) -> None:
    _nab_series(tmp_path / "Twitter_volume_X.csv", _HOURS)
    folder = run_cli("e3", "--data", str(tmp_path), "--labels", str(tmp_path))
    assert folder.returncode == 2
    assert f"marketscout: {tmp_path} is a folder, not a labels file" in folder.stdout
    assert "does not exist" not in folder.stdout
    labels = tmp_path / "labels.json"
    labels.write_text(
        '{"realTweets/Twitter_volume_X.csv": [["2015-03-01 10:00:00", "2015-03-01 08:00:00"]]}',
        encoding="utf-8",
    )
    backwards = run_cli("e3", "--data", str(tmp_path), "--labels", str(labels))
    assert backwards.returncode == 2, backwards.stdout
    assert f"marketscout: {labels} is not a NAB labels file" in backwards.stdout
    assert (
        "realTweets/Twitter_volume_X.csv: the window 2015-03-01 10:00:00 to 2015-03-01 08:00:00 "
        "starts after it ends" in backwards.stdout
    )


def test_e2_refuses_one_file_alone_or_twice_in_words(tmp_path: Path) -> None:
    us = tmp_path / "US.csv"
    us.write_text(TRENDING_2020 + _row_2020("v", "2020-08-01T00:00:00Z", "5"), encoding="utf-8")
    alone = run_cli("e2", "--data", str(us))
    assert alone.returncode == 2
    assert alone.stdout == (
        "marketscout: E2 needs two country files: a folder with both, or --data A --data-b B\n"
    )
    twice = run_cli("e2", "--data", str(us), "--data-b", str(tmp_path / "." / "US.csv"))
    assert twice.returncode == 2
    assert f"marketscout: --data-b {tmp_path / '.' / 'US.csv'} is the same file as --data" in twice.stdout
