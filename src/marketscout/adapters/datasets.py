"""Readers of the public data sets the backtest replays (formats of ``shared/data``).

Rows that cannot be used are counted and reported with their line numbers; they never stop a
run. Each reader accepts a file or a folder of files of its format.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from marketscout.domain.evaluation import LabelledSeries, TrendingRow
from marketscout.domain.instants import EARLIEST, LATEST
from marketscout.domain.model import MAX_COUNT

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
_DAMAGED_IDS = {"#NAME?", "#NOME?"}


@dataclass(slots=True)
class ReadReport:
    rows: list[TrendingRow] = field(default_factory=list)
    skipped: list[tuple[str, int, str]] = field(default_factory=list)

    def skip(self, source: Path, line: int, reason: str) -> None:
        self.skipped.append((source.name, line, reason))


_TWO_LETTERS = re.compile(r"(?:^|[_.\- ])([A-Za-z]{2})(?=[_.\- ]|$)")


def country_of(path: Path) -> str:
    """The country a file holds: the first part of its name that is two letters (``BR_youtube…``,
    ``full_BR``, ``CA_2017-11-14_to…``), else its first two letters (``GBvideos``)."""
    match = _TWO_LETTERS.search(path.stem)
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


def _in_span(column: str, text: str, day: date) -> date:
    """``day``, once known to lie in the span every entry point takes (1970 to 2100)."""
    if not EARLIEST.date() <= day <= LATEST.date():
        raise ValueError(f"{column} must lie between 1970 and 2100: {text.strip()[:40]!r}")
    return day


def _number(record: dict[str, str], column: str) -> int:
    """A counter of the row: a blank or missing one is 0; anything but a count from 0 to
    ``MAX_COUNT`` (the stores' 64-bit counters) is refused."""
    value = record.get(column)
    if value is None or not value.strip():
        return 0
    shown = value.strip()[:40]
    try:
        # Whole numbers exactly (a float would round 2^63-1 up past the limit), others as floats.
        number: int | float = int(value)
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{column} is not a number: {shown!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{column} is not a count of at least 0: {shown!r}")
    if number > MAX_COUNT:
        raise ValueError(f"{column} must be at most {MAX_COUNT}: {shown!r}")
    return int(number)


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
                    when = record[date_col] or ""
                    video = (record.get("video_id") or "").strip()
                    if not video or video in _DAMAGED_IDS:
                        raise ValueError("video id missing or damaged by a spreadsheet")
                    report.rows.append(
                        TrendingRow(
                            video_id=video,
                            country=country,
                            day=_in_span(date_col, when, day_of(when)),
                            views=_number(record, views_col),
                            likes=_number(record, "likes"),
                            comments=_number(record, comments_col),
                        )
                    )
                except (ValueError, KeyError, TypeError, AttributeError) as error:
                    report.skip(source, line, str(error) or type(error).__name__)
    return report


@dataclass(slots=True)
class NabReport:
    series: list[LabelledSeries] = field(default_factory=list)
    skipped: list[tuple[str, int, str]] = field(default_factory=list)
    # The files with the NAB header and not one value (each also a skipped row).
    empty: list[str] = field(default_factory=list)


def _nab_time(text: str) -> datetime:
    """A NAB time in UTC: one with a UTC offset is converted, one without is UTC already. A time
    outside 1970-2100 is refused (ValueError), as every entry point refuses it."""
    moment = datetime.fromisoformat(text.strip())
    moment = moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"the time must lie between 1970 and 2100: {text.strip()[:40]!r}")
    return moment.astimezone(UTC)


def _find_labels(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / "labels" / "combined_windows.json", folder / "combined_windows.json"):
        if candidate.exists():
            return candidate
    return None


class DataProblem(ValueError):
    """A file the backtest cannot use at all (not a row it can skip): said in words, never a
    traceback."""


_NAB_HEADER = ["timestamp", "value"]


def _nab_windows(labels: Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """combined_windows.json: ``{"<folder>/<series>.csv": [["start", "end"], ...], ...}``."""
    try:
        found = json.loads(labels.read_bytes())
        if not isinstance(found, dict):
            raise ValueError("the top level is not an object of series")
        windows: dict[str, list[tuple[datetime, datetime]]] = {}
        for name, spans in found.items():
            windows[str(name)] = []
            for start, end in spans:
                window = (_nab_time(start), _nab_time(end))
                if window[0] > window[1]:
                    raise ValueError(f"{name}: the window {start} to {end} starts after it ends")
                windows[str(name)].append(window)
        return windows
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise DataProblem(
            f"{labels} is not a NAB labels file ({error}): it maps each series' path to its "
            'windows, as {"realTweets/Twitter_volume_AAPL.csv": [["2015-03-01 00:00:00", '
            '"2015-03-02 00:00:00"]]}'
        ) from None


def read_nab(path: Path, labels: Path | None = None) -> NabReport:
    """NAB series (``timestamp,value``) with the labelled anomaly windows of combined_windows.json.
    A file without that header is skipped whole (line 1), as is one without a value (line 1:
    nothing to score); a line that is not UTF-8, does not parse, or whose time is not after the
    previous row's (NAB streams each series in time order) is skipped with its number; a labels
    file that cannot be read, or with a window that starts after it ends, is a
    :class:`DataProblem`."""
    report = NabReport()
    labels = labels or _find_labels(path)
    windows = _nab_windows(labels) if labels else {}
    for source in csv_files(path):
        times: list[datetime] = []
        values: list[float] = []
        with source.open("rb") as handle:
            for line, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8-sig" if line == 1 else "utf-8")
                except UnicodeDecodeError:
                    report.skipped.append((source.name, line, "not UTF-8 text"))
                    continue
                record = next(csv.reader([text]), [])
                if line == 1:
                    if [column.strip().lower() for column in record] != _NAB_HEADER:
                        report.skipped.append(
                            (source.name, 1, "unknown header: not a NAB series (timestamp,value)")
                        )
                        break
                    continue
                if not record:
                    continue  # a blank line
                try:
                    moment, value = _nab_time(record[0]), float(record[1])
                    if not math.isfinite(value):
                        raise ValueError(f"not a finite count: {record[1]!r}")
                    if value > MAX_COUNT:
                        raise ValueError(f"the value must be at most {MAX_COUNT}: {record[1][:40]!r}")
                    if times and moment <= times[-1]:
                        raise ValueError(f"not after the previous row's time ({times[-1]})")
                except (ValueError, IndexError) as error:
                    report.skipped.append((source.name, line, str(error) or "unparseable row"))
                    continue
                times.append(moment)
                values.append(value)
            else:
                if not values:
                    report.skipped.append((source.name, 1, "no values: the series is skipped"))
                    report.empty.append(source.name)
                    continue
                key = next((k for k in windows if k == source.name or k.endswith("/" + source.name)), None)
                report.series.append(
                    LabelledSeries(
                        name=source.name,
                        times=tuple(times),
                        values=tuple(values),
                        windows=tuple(windows[key]) if key else (),
                    )
                )
    return report


def iter_rows(report: ReadReport) -> Iterator[TrendingRow]:
    yield from report.rows
