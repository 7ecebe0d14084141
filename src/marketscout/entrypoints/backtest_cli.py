"""``marketscout backtest e1|e2|e3 --data PATH [--json]``: the protocols of spec/evaluation.md;
``marketscout backtest lead [--seeds N] [--json]``: lead times on the synthetic simulator."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from marketscout.adapters.datasets import (
    DataProblem,
    ReadReport,
    country_of,
    csv_files,
    read_nab,
    read_trending,
)
from marketscout.adapters.simulation import replay_items, simulate_market
from marketscout.domain import evaluation
from marketscout.domain.burst import DEFAULT_BURST_PARAMS, BurstDetector
from marketscout.domain.errors import InvalidValue
from marketscout.domain.scoring import DEFAULT_PARAMS, ScoringParams
from marketscout.entrypoints.cli_args import whole_number

# Chosen on the five development series of nab-twitter-volume, then fixed.
E3_THRESHOLD = DEFAULT_BURST_PARAMS.alarm_level


def _threshold(text: str) -> float:
    """The detector's alarm level: a likelihood, from its median (0.5) to below 1."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not 0.5 <= number < 1:
        raise argparse.ArgumentTypeError("must be a number from 0.5 to below 1")
    return number


SCORING_PARAMETERS = tuple(field.name for field in dataclasses.fields(ScoringParams))


def _scoring_setting(text: str) -> tuple[str, int | float]:
    """``NAME=VALUE``: one of the engine's parameters (:class:`ScoringParams`) and a value it
    can run with, checked on its own here (a value twice: when the run starts)."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise argparse.ArgumentTypeError(
            f"--set {text}: must be NAME=VALUE, NAME one of the scoring parameters"
        )
    if name not in SCORING_PARAMETERS:
        raise argparse.ArgumentTypeError(
            f"--set {text}: no such scoring parameter (one of: {', '.join(SCORING_PARAMETERS)})"
        )
    try:
        parsed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--set {text}: {name}: must be a number") from None
    # A whole-number parameter takes "14" or "14.0"; "2.5" reaches the check below as 2.5.
    number: int | float = (
        int(parsed) if isinstance(getattr(DEFAULT_PARAMS, name), int) and parsed.is_integer() else parsed
    )
    try:
        _with(DEFAULT_PARAMS, {name: number})
    except InvalidValue as refused:
        raise argparse.ArgumentTypeError(f"--set {text}: {refused.message}") from None
    return name, number


def _scoring_params(
    settings: Sequence[tuple[str, int | float]],
) -> tuple[ScoringParams, dict[str, int | float]]:
    """The engine's parameters with ``--set``'s changes, and those changes. Raises
    :class:`InvalidValue` for a parameter set twice (which one would count is not obvious)."""
    changed: dict[str, int | float] = {}
    for name, value in settings:
        if name in changed:
            raise InvalidValue(name, "given twice")
        changed[name] = value
    return _with(DEFAULT_PARAMS, changed), changed


def _with(params: ScoringParams, changes: dict[str, int | float]) -> ScoringParams:
    """``params`` with some fields changed, checked by :class:`ScoringParams` itself (its
    fields are each ``int`` or ``float``; which one is checked there)."""
    fields: dict[str, Any] = changes
    return dataclasses.replace(params, **fields)


def add_backtest_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("backtest", help="measure the trend engine on real data")
    parser.add_argument("task", choices=["e1", "e2", "e3", "lead"])
    parser.add_argument(
        "--data",
        type=Path,
        help="E1: a country file or folder; E2: a folder of country files, every ordered pair of "
        "them (or one file and --data-b); "
        "E3: a folder of NAB series with labels/combined_windows.json (lead needs none: it "
        "replays the synthetic simulator, whose peaks are known)",
    )
    parser.add_argument("--data-b", type=Path, help="E2: the second country's file (B); --data is A")
    parser.add_argument(
        "--labels",
        type=Path,
        help="E3: NAB's combined_windows.json (default: labels/combined_windows.json beside the "
        "series or in their folder)",
    )
    # No defaults here: a value given is told from none, and refused for a task it means
    # nothing to (_TASK_OPTIONS holds the tasks and the defaults).
    parser.add_argument("--horizon", type=whole_number(1, 30), help="E1: days ahead (H), 1-30 (default 3)")
    parser.add_argument(
        "--window",
        type=whole_number(1, 30),
        help="E2: days a video has to reach B to count, 1-30 (default the protocol's 14)",
    )
    parser.add_argument(
        "--threshold",
        type=_threshold,
        help=f"E3: detection threshold, a likelihood from 0.5 to below 1 (default {E3_THRESHOLD:g})",
    )
    parser.add_argument(
        "--seeds",
        type=whole_number(1, 50),
        help="lead: simulated markets (seeds 1..N), 1-50 (default 5)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        metavar="NAME=VALUE",
        type=_scoring_setting,
        action="append",
        help="e1 and lead: run with one of the engine's scoring parameters changed (repeatable; "
        f"one of {', '.join(SCORING_PARAMETERS)}); the document records every parameter run with",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


# The options that mean something to some tasks only: by argparse's name for each, the option,
# the tasks it applies to, and its value when not given.
_TASK_OPTIONS: dict[str, tuple[str, tuple[str, ...], Any]] = {
    "data": ("--data", ("e1", "e2", "e3"), None),
    "data_b": ("--data-b", ("e2",), None),
    "labels": ("--labels", ("e3",), None),
    "horizon": ("--horizon", ("e1",), 3),
    "window": ("--window", ("e2",), 14),
    "threshold": ("--threshold", ("e3",), E3_THRESHOLD),
    "seeds": ("--seeds", ("lead",), 5),
    "settings": ("--set", ("e1", "lead"), ()),
}


def _task_options(args: argparse.Namespace) -> str | None:
    """Why the options given do not fit the task (the first one given for a task it does not
    apply to, and the tasks it applies to), or None; the options not given get their default."""
    for name, (option, tasks, default) in _TASK_OPTIONS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
        elif args.task not in tasks:
            listed = " and ".join([", ".join(tasks[:-1]), tasks[-1]] if len(tasks) > 1 else tasks)
            return f"backtest {args.task}: {option} applies only to {listed}"
    return None


def _skipped(skipped: list[tuple[str, int, str]]) -> dict[str, Any]:
    return {
        "count": len(skipped),
        "first": [{"file": f, "line": line, "reason": reason} for f, line, reason in skipped[:20]],
    }


def _e1(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    skipped: list[tuple[str, int, str]] = []
    # Every judged day of every country, per method and metric: the units the product's margin
    # over each baseline is resampled on.
    pooled: evaluation.DailyMetrics = {}
    # Every forecast's error, of every country: the forecast figures are over all of them.
    forecast_errors: dict[str, list[float]] = {}
    scan_days: dict[str, list[float]] = {}
    status_counts: dict[str, list[int]] = {}
    most_days = 0
    for source in csv_files(args.data):
        report = read_trending(source)
        skipped.extend(report.skipped)
        most_days = max(most_days, len({row.day for row in report.rows}))
        # One assessment per video and day, for every use.
        engine = evaluation.MarketScoutEngine(args.params)
        methods = {"marketscout": engine.score, **evaluation.E1_BASELINES}
        daily = evaluation.e1_days(report.rows, methods, horizon=args.horizon)
        # Two files of one country are two markets: the second goes by its file's name.
        label = country_of(source) if country_of(source) not in results else source.stem
        results[label] = evaluation.average_days(daily)
        forecasters = {"marketscout": engine.forecast, **evaluation.FORECAST_BASELINES}
        for method, errors in evaluation.e1_forecast_errors(
            report.rows, forecasters, horizon=args.horizon
        ).items():
            forecast_errors.setdefault(method, []).extend(errors)
        for status, (candidates, hits) in evaluation.e1_statuses(
            report.rows, engine.assess, horizon=args.horizon
        ).items():
            counted = status_counts.setdefault(status, [0, 0])
            counted[0] += candidates
            counted[1] += hits
        for name, shares in evaluation.e1_scan(report.rows, horizon=args.horizon).items():
            scan_days.setdefault(name, []).extend(shares)
        for method, by_metric in daily.items():
            for metric, values in by_metric.items():
                pooled.setdefault(method, {}).setdefault(metric, []).extend(values)
    metrics = next(iter(results.values())) if len(results) == 1 else _average(results)
    problem = None
    if not most_days:
        problem = "no day could be judged: no row of the data could be read (see the skipped rows)"
    elif not metrics["marketscout"]["days"]:
        problem = (
            f"no day could be judged: a judged day needs a day before it and {args.horizon} after it "
            f"(--horizon), and the data holds at most {most_days} trending "
            f"{'day' if most_days == 1 else 'days'} in one country"
        )
    return {
        "problem": problem,
        "metrics": metrics,
        "margins": _margins(pooled),
        # The engine's forecast of the views gained over the next 1..H days (not ranked: measured).
        "forecast": {
            method: evaluation.forecast_metrics(errors) for method, errors in forecast_errors.items()
        },
        # The viral-ad scan on each judged day's list: how often its hits grow into the top 10 %.
        "scan": evaluation.scan_metrics(scan_days) if scan_days else None,
        # The engine's status on the same candidates: how often each grew into the top 10 %.
        "status": evaluation.status_metrics(status_counts)
        if any(c for c, _ in status_counts.values())
        else None,
        "per_country": results,
        "horizon": args.horizon,
        "skipped_rows": _skipped(skipped),
    }


def _margins(pooled: evaluation.DailyMetrics) -> dict[str, Any]:
    """MarketScout minus each baseline on AUC and precision@20, day by day, with a 95 %
    interval over the judged days (a paired t interval): whether a margin is more than noise."""
    margins: dict[str, Any] = {}
    for baseline in evaluation.E1_BASELINES:
        margins[baseline] = {}
        for metric in ("auc", "precision_at_20"):
            found = evaluation.paired_difference(pooled["marketscout"][metric], pooled[baseline][metric])
            margins[baseline][metric] = (
                None
                if found is None
                else {
                    "difference": found.difference,
                    "interval_95": None if found.low is None else [found.low, found.high],
                    "days": found.days,
                }
            )
    return margins


def _average(results: dict[str, Any]) -> dict[str, Any]:
    """Several countries' (or pairs') figures in one: each metric averaged over those that have
    it, and the judged days added up (not averaged: a country without a judged day adds none)."""
    methods = next(iter(results.values())).keys()
    averaged: dict[str, Any] = {}
    for method in methods:
        keys = next(iter(results.values()))[method].keys()
        averaged[method] = {}
        for key in keys:
            values = [r[method][key] for r in results.values() if r[method][key] is not None]
            if key == "days":
                averaged[method][key] = int(sum(values))
            else:
                averaged[method][key] = round(sum(values) / len(values), 4) if values else None
    return averaged


def _e2(args: argparse.Namespace) -> dict[str, Any]:
    if args.data_b is not None:
        pairs = [(args.data, args.data_b)]
    else:
        files = csv_files(args.data)  # two at least (run_backtest)
        # Every ordered pair: where each country's videos go next, and where they come from.
        pairs = [(a, b) for a in files for b in files if a != b]
    per_pair: dict[str, Any] = {}
    skipped: list[tuple[str, int, str]] = []
    reports: dict[Path, ReadReport] = {}
    for path in sorted({path for pair in pairs for path in pair}):
        reports[path] = read_trending(path)
        skipped.extend(reports[path].skipped)
    for a, b in pairs:
        report_a, report_b = reports[a], reports[b]
        target = country_of(b)
        methods = {"marketscout": evaluation.spread_scorer(target), **evaluation.E2_BASELINES}
        per_pair[f"{country_of(a)}->{country_of(b)}"] = evaluation.run_e2(
            report_a.rows, report_b.rows, methods, window=args.window
        )
    metrics = next(iter(per_pair.values())) if len(per_pair) == 1 else _average(per_pair)
    problem = (
        None
        if metrics["marketscout"]["days"]
        else "no day could be judged: E2 needs two countries' trending files over the same days, "
        f"and a day of A with {args.window} days of B after it (--window) on which a video "
        "trending in A goes on to trend in B"
    )
    return {
        "problem": problem,
        "metrics": metrics,
        "per_pair": per_pair,
        "window": args.window,
        "skipped_rows": _skipped(skipped),
    }


def _e2_files(data: Path, data_b: Path | None) -> str | None:
    """Why E2 cannot pair these files (``data`` exists), or None: it needs two country files."""
    if data_b is None:
        if len(csv_files(data)) < 2:
            return "E2 needs two country files: a folder with both, or --data A --data-b B"
    elif not data_b.is_file():
        return f"{data_b} is not a file"
    elif data.samefile(data_b):
        return f"--data-b {data_b} is the same file as --data: E2 pairs two countries' files"
    return None


def _e3(args: argparse.Namespace) -> dict[str, Any]:
    report = read_nab(args.data, args.labels)
    values = sum(len(s.values) for s in report.series)
    started = time.perf_counter()
    # The detector's refractory period follows its alarm level, so a threshold is tried by
    # setting that level, not by reading the default detector's output at another value.
    params = dataclasses.replace(DEFAULT_BURST_PARAMS, alarm_level=args.threshold)
    result = evaluation.run_e3(report.series, lambda: BurstDetector(params).update, args.threshold)
    elapsed = time.perf_counter() - started
    problem = None
    if not report.series and report.empty:
        problem = f"no values in {', '.join(report.empty)}: each series needs rows of timestamp,value"
    elif not report.series:
        problem = "no NAB series could be read: each file needs the header timestamp,value"
    elif not result.windows:
        problem = (
            "no labelled anomaly window for these series, so no NAB score: name NAB's labels "
            "file with --labels, or put labels/combined_windows.json beside the series"
        )
    return {
        "problem": problem,
        "metrics": {
            "marketscout": {
                "nab_score": result.score,
                "windows_detected": result.detected_windows,
                "windows": result.windows,
                "false_positives": result.false_positives,
                "false_positives_per_day": round(result.false_positives / result.days, 3)
                if result.days
                else None,
                "median_delay_minutes": result.median_delay_minutes,
                "microseconds_per_value": round(1e6 * elapsed / values, 2) if values else None,
            }
        },
        "threshold": args.threshold,
        "series": [s.name for s in report.series],
        "skipped_rows": _skipped(report.skipped),
    }


# The lead-time replay: markets of this many days and products, scored every 12 hours from
# the second day on (the simulator's viral products peak between day 31 and day 46).
LEAD_DAYS = 40
LEAD_PRODUCTS = 48
LEAD_START = datetime(2026, 1, 1, tzinfo=UTC)


def _lead(args: argparse.Namespace) -> dict[str, Any]:
    items = [
        dataclasses.replace(item, market=seed)
        for seed in range(1, args.seeds + 1)
        for item in replay_items(
            simulate_market(seed, start=LEAD_START, days=LEAD_DAYS, products=LEAD_PRODUCTS)
        )
    ]
    moments = [LEAD_START + timedelta(hours=12 * k) for k in range(4, 2 * LEAD_DAYS + 1)]
    found = evaluation.lead_times(items, moments, args.params)
    leads = [lead for lead in found.lead_days if lead is not None]
    return {
        "metrics": {
            "marketscout": {
                "viral_products": len(found.lead_days),
                "flagged_before_peak": found.flagged_before_peak,
                "lead_time_days": None
                if found.median_lead_days is None
                else round(found.median_lead_days, 2),
                "min_lead_days": round(min(leads), 2) if leads else None,
                "max_lead_days": round(max(leads), 2) if leads else None,
            }
        },
        "decoys": {
            kind: {"flagged": flagged, "products": count, "share_of_moments": share}
            for kind, (flagged, count, share) in found.decoys.items()
        },
        # Each kind's share of the places in a market's top 10 by score, over every moment.
        "top_10": dict(found.top),
        # Per decoy kind: how often a viral product in the week before its peak scores above it.
        "rising_above_decoys": dict(found.rising_above),
        "markets": {"seeds": args.seeds, "days": LEAD_DAYS, "products": LEAD_PRODUCTS, "every_hours": 12},
    }


def run_backtest(args: argparse.Namespace) -> int:
    if (misplaced := _task_options(args)) is not None:
        print(f"marketscout: {misplaced}", file=sys.stderr)
        return 2
    if args.task == "lead":
        data = f"synthetic simulator, seeds 1..{args.seeds}"
    elif args.data is None:
        print(f"marketscout: backtest {args.task} needs --data PATH")
        return 2
    elif not args.data.exists():
        print(f"marketscout: {args.data} does not exist")
        return 2
    elif args.data.is_dir() and not csv_files(args.data):
        print(f"marketscout: {args.data} holds no .csv file")
        return 2
    elif args.task == "e2" and (refused := _e2_files(args.data, args.data_b)) is not None:
        print(f"marketscout: {refused}")
        return 2
    elif args.task == "e3" and args.labels is not None and not args.labels.is_file():
        what = "is a folder, not a labels file" if args.labels.is_dir() else "does not exist"
        print(f"marketscout: {args.labels} {what}")
        return 2
    else:
        data = str(args.data)
    try:
        args.params, changed = _scoring_params(args.settings)
    except InvalidValue as refused:
        print(f"marketscout: --set {refused.field}: {refused.rule}")
        return 2
    try:
        outcome = {"e1": _e1, "e2": _e2, "e3": _e3, "lead": _lead}[args.task](args)
    except DataProblem as unusable:
        print(f"marketscout: {unusable}")
        return 2
    # "problem" says why a run measured nothing (null when it measured what it should).
    document = {"task": args.task, "data": data, **outcome}
    if args.task in ("e1", "lead"):
        # Every parameter the trend engine ran with, and those --set changed.
        document["params"] = dataclasses.asdict(args.params)
        document["params_set"] = changed
    problem = document.get("problem")
    if args.json:
        print(json.dumps(document))
        return 0 if problem is None else 1
    print(f"backtest {args.task} on {data}")
    if problem is not None:
        print(f"  {problem}")
        _print_skipped(document)
        return 1
    if changed:
        shown = ", ".join(
            f"{name}={value!r} (default {getattr(DEFAULT_PARAMS, name)!r})" for name, value in changed.items()
        )
        print(f"  scoring parameters set: {shown}")
    for method, metrics in document["metrics"].items():
        shown = ", ".join(f"{k}={v}" for k, v in metrics.items())
        print(f"  {method:16} {shown}")
    for baseline, margins in document.get("margins", {}).items():
        shown = ", ".join(
            f"{metric} {m['difference']:+.4f} "
            + (
                f"[{m['interval_95'][0]:+.4f}, {m['interval_95'][1]:+.4f}]"
                if m["interval_95"] is not None
                else "(one day: no interval)"
            )
            for metric, m in margins.items()
            if m is not None
        )
        if shown:
            print(f"  marketscout - {baseline}: {shown} (95 % interval over judged days)")
    for method, figures in document.get("forecast", {}).items():
        if figures["forecasts"]:
            print(
                f"  forecast {method:12} mean |ln error| {figures['forecast_log_error']:.3f}, "
                f"within 2x {figures['forecast_within_2x']:.1%} of {figures['forecasts']:,} forecasts "
                f"(views gained 1-{min(args.horizon, 7)} days ahead: the forecast covers 7)"
            )
    scan = document.get("scan")
    if scan and scan["marketscout"]["precision"] is not None:
        print(
            f"  scan: {scan['marketscout']['precision']:.1%} of its hits ({scan['marketscout']['hits_per_day']} "
            f"a day) grew into the top 10 %; as many by most views gained "
            f"{scan['most_views_gained']['precision']:.1%}, by relative growth "
            f"{scan['relative_growth']['precision']:.1%}; all candidates {scan['base_rate']:.1%}"
        )
    status = document.get("status")
    if status:
        shown = "; ".join(
            f"{name} {figures['candidates']:,} ({figures['share']:.0%}), {figures['positive_share']:.1%}"
            for name, figures in status["statuses"].items()
            if figures["candidates"]
        )
        print(
            f"  status (candidates, then the share of them in the top 10 %): {shown}; "
            f"all candidates {status['base_rate']:.1%}"
        )
    for kind, decoy in document.get("decoys", {}).items():
        print(
            f"  decoy {kind:13} flagged exploding: {decoy['flagged']} of {decoy['products']} products, "
            f"{decoy['share_of_moments']:.1%} of moments"
        )
    _print_skipped(document)
    return 0


SHOWN_SKIPS = 10


def _print_skipped(document: dict[str, Any]) -> None:
    """How many rows were skipped, and the first few by file and line (--json lists 20)."""
    if "skipped_rows" not in document:
        return
    count = document["skipped_rows"]["count"]
    print(f"  skipped rows: {count}")
    for row in document["skipped_rows"]["first"][:SHOWN_SKIPS]:
        print(f"    {row['file']} line {row['line']}: {row['reason']}")
    if count > SHOWN_SKIPS:
        print(f"    ... and {count - SHOWN_SKIPS} more (--json lists the first 20)")
