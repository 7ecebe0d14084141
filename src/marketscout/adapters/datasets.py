"""Readers of the public data sets the backtest replays (formats of ``shared/data``).

Rows that cannot be used are counted and reported with their line numbers; they never stop a
run. Each reader accepts a file or a folder of files of its format.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from marketscout.domain.evaluation import LabelledSeries, TrendingRow

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
_DAMAGED_IDS = {"#NAME?", "#NOME?"}


@dataclass(slots=True)
class ReadReport:
    rows: list[TrendingRow] = field(default_factory=list)
    skipped: list[tuple[str, int, str]] = field(default_factory=list)

    def skip(self, source: Path, line: int, reason: str) -> None:
        self.skipped.append((source.name, line, reason))


def country_of(path: Path) -> str:
    match = re.match(r"([A-Za-z]{2})(?:[_.\-]|$)", path.stem)
    return match.group(1).upper() if match else path.stem[:2].upper()


def _date_2017(text: str) -> date:
    # "DD.MM" of 2017; the month may have lost its trailing zero ("1.1" is 1 October).
    day, month = text.strip().split(".")
    month_number = int(month)
    if len(month) == 1 and month_number == 1:
        month_number = 10
    return date(2017, month_number, int(day))


def _date_2017_18(text: str) -> date:
    year, day, month = text.strip().split(".")
    return date(2000 + int(year), int(month), int(day))


def _date_iso(text: str) -> date:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date()


def _number(value: str | None) -> int:
    if value is None or not value.strip():
        return 0
    number = int(float(value))
    if number < 0:
        raise ValueError("negative counter")
    return number


def csv_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
    return [path]


def read_trending(path: Path, report: ReadReport | None = None) -> ReadReport:
    """YouTube trending lists (2017, 2017-18 and 2020 editions), detected by their header."""
    report = report or ReadReport()
    for source in csv_files(path):
        country = country_of(source)
        # utf-8-sig: files saved by spreadsheets and some mirrors of these data sets begin with a
        # byte-order mark, which would otherwise become part of the first column's name.
        with source.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or ())
            if "view_count" in columns:
                day_of, views_col, comments_col, date_col = (
                    _date_iso,
                    "view_count",
                    "comment_count",
                    "trending_date",
                )
            elif "trending_date" in columns:
                day_of, views_col, comments_col, date_col = (
                    _date_2017_18,
                    "views",
                    "comment_count",
                    "trending_date",
                )
            elif "date" in columns and "views" in columns:
                day_of, views_col, comments_col, date_col = _date_2017, "views", "comment_total", "date"
            else:
                report.skip(source, 1, "unknown header: not a YouTube trending file")
                continue
            previous_line = 1
            for record in reader:
                line = previous_line + 1
                previous_line = reader.line_num
                try:
                    video = (record.get("video_id") or "").strip()
                    if not video or video in _DAMAGED_IDS:
                        raise ValueError("video id missing or damaged by a spreadsheet")
                    report.rows.append(
                        TrendingRow(
                            video_id=video,
                            country=country,
                            day=day_of(record[date_col] or ""),
                            views=_number(record.get(views_col)),
                            likes=_number(record.get("likes")),
                            comments=_number(record.get(comments_col)),
                        )
                    )
                except (ValueError, KeyError, TypeError, AttributeError) as error:
                    report.skip(source, line, str(error) or type(error).__name__)
    return report


@dataclass(slots=True)
class NabReport:
    series: list[LabelledSeries] = field(default_factory=list)
    skipped: list[tuple[str, int, str]] = field(default_factory=list)


def _nab_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)


def _find_labels(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / "labels" / "combined_windows.json", folder / "combined_windows.json"):
        if candidate.exists():
            return candidate
    return None


def read_nab(path: Path, labels: Path | None = None) -> NabReport:
    """NAB series (``timestamp,value``) with the labelled anomaly windows of combined_windows.json."""
    report = NabReport()
    labels = labels or _find_labels(path)
    windows: dict[str, list[list[str]]] = json.loads(labels.read_text()) if labels else {}
    for source in csv_files(path):
        times: list[datetime] = []
        values: list[float] = []
        with source.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for line, record in enumerate(reader, start=2):
                try:
                    times.append(_nab_time(record[0]))
                    values.append(float(record[1]))
                except (ValueError, IndexError) as error:
                    report.skipped.append((source.name, line, str(error) or "unparseable row"))
        key = next((k for k in windows if k.endswith(source.name)), None)
        spans = [(_nab_time(a), _nab_time(b)) for a, b in windows.get(key, [])] if key else []
        report.series.append(
            LabelledSeries(name=source.name, times=tuple(times), values=tuple(values), windows=tuple(spans))
        )
    return report


def iter_rows(report: ReadReport) -> Iterator[TrendingRow]:
    yield from report.rows
