"""Hourly and daily rollups of engagement, kept at ingest, and how a window is read from them.

A rollup row holds, per ad, region and bucket (a UTC hour or day), the highest and lowest
``views`` reading, the highest interactions (likes + comments + shares, at most 2^63 - 1 as the
engine counts them: :func:`saturating_sum`), the times of the first and last reading and the
views of the first one. These are exactly the figures
:func:`marketscout.domain.gains.window_gains` and :func:`marketscout.domain.scoring.hourly_series`
need, and every one is a max or a min, or the views at the min time (taken from whichever reading
is earlier), so:

- applying the same rows twice gives the same rollups (re-sent batches change nothing), and
  rows may arrive in any order;
- a counter that goes down never makes a negative gain: gains are ``max - base``, clamped.

Only rows actually stored feed the rollups (on PostgreSQL through ``RETURNING`` of the insert,
on SQLite through the ids the insert assigned), so a re-sent reading with other counters does
not leak into them.

A window ``(lo, hi]`` is tiled into pieces: raw readings for the partial hour at each edge,
hourly buckets up to the first and from the last whole day, and daily buckets in between. A
30-day window over hourly readings thus reads about 30 daily rows and at most ~48 hourly rows
per ad and region, plus the raw rows of two partial hours, whatever the history holds. When
nothing is stored after ``hi`` in its day (a window that ends now), the last day is read from its
daily bucket as well: about 31 daily rows and at most ~24 hourly rows per ad and region; and when
nothing is stored at or before ``lo`` in its day, the first day is too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from marketscout.domain.model import MAX_COUNT

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
TABLES = (("engagement_hourly", "hour"), ("engagement_daily", "day"))


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of a window: ``source`` is ``raw``, ``hour`` or ``day``; buckets cover
    ``[lo, hi)``; raw pieces cover ``lo < t < hi``, or ``lo <= t <= hi`` when ``closed``."""

    source: str
    lo: datetime
    hi: datetime
    before: bool
    closed: bool = False


def _floor(moment: datetime, unit: timedelta) -> datetime:
    moment = moment.astimezone(UTC)
    if unit == DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def tile(
    lo: datetime, hi: datetime, *, before: bool, day_complete: bool = False, day_fresh: bool = False
) -> list[Piece]:
    """Pieces that together hold exactly the readings with ``lo < observed_at <= hi``.

    ``day_complete`` says that no reading is stored after ``hi`` in ``hi``'s UTC day (the usual
    case for a window that ends now): that day's bucket then holds exactly the readings from the
    day's start to ``hi``, and is read instead of its hours and the raw readings of the last one.
    ``day_fresh`` says that no reading is stored at or before ``lo`` in ``lo``'s UTC day (a short
    window that starts before the day's first reading, such as the scan's last 24 hours over
    readings that began later that day): when the window runs past that day, its bucket then
    holds exactly the window's readings of the day, and is read instead of its hours and the raw
    readings of the first one.
    """
    if hi <= lo:
        return []
    first_day_start = _floor(lo, DAY)
    if day_fresh and first_day_start + DAY <= hi:
        # The rest starts at the next midnight, which belongs to the rest (a day bucket covers
        # [day, day + 1)): tiled from a microsecond before it (times are kept to the microsecond,
        # so its first raw piece holds nothing before that midnight).
        rest = tile(
            first_day_start + DAY - timedelta(microseconds=1), hi, before=before, day_complete=day_complete
        )
        return [Piece("day", first_day_start, first_day_start + DAY, before), *rest]
    first_hour = _floor(lo, HOUR) + HOUR  # the first whole hour that excludes ``lo`` itself
    last_hour = _floor(hi, HOUR)  # the bucket holding ``hi`` is partial (it holds later times)
    if first_hour >= last_hour:
        return [Piece("raw", lo, hi, before, closed=False), Piece("raw", hi, hi, before, closed=True)]
    pieces = [Piece("raw", lo, first_hour, before)]
    first_day = _floor(first_hour - timedelta(microseconds=1), DAY) + DAY
    last_day = _floor(last_hour, DAY)
    # With ``day_complete``, the last day's bucket stands for its hours even when no whole day
    # lies between (the scan's last 24 hours: one rollup row a day instead of the hours since
    # midnight).
    if first_day < last_day or (day_complete and first_day == last_day):
        if first_hour < first_day:
            pieces.append(Piece("hour", first_hour, first_day, before))
        if day_complete:
            pieces.append(Piece("day", first_day, last_day + DAY, before))
            return pieces
        pieces.append(Piece("day", first_day, last_day, before))
        if last_day < last_hour:
            pieces.append(Piece("hour", last_day, last_hour, before))
    else:
        pieces.append(Piece("hour", first_hour, last_hour, before))
    pieces.append(Piece("raw", last_hour, hi, before, closed=True))
    return pieces


def _bucket_postgres(unit: str, column: str) -> str:
    return f"date_trunc('{unit}', {column}, 'UTC')"


def _bucket_sqlite(unit: str, column: str) -> str:
    # Timestamps are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) on SQLite.
    if unit == "hour":
        return f"substr({column}, 1, 13) || ':00:00.000000'"
    return f"substr({column}, 1, 10) || ' 00:00:00.000000'"


def _upsert(table: str, select: str, greatest: str, least: str) -> str:
    # first_views: the views of whichever reading is earlier; SET reads the row as it was, and
    # the time decides, so rows may arrive in any order. Equal times are the same stored reading.
    return (
        f"INSERT INTO {table} (ad_id, region, bucket, product_id, platform, max_views, min_views, "
        f"first_seen, last_seen, max_interactions, first_views) {select} "
        "ON CONFLICT (ad_id, region, bucket) DO UPDATE SET "
        f"max_views = {greatest}({table}.max_views, excluded.max_views), "
        f"min_views = {least}({table}.min_views, excluded.min_views), "
        f"first_seen = {least}({table}.first_seen, excluded.first_seen), "
        f"last_seen = {greatest}({table}.last_seen, excluded.last_seen), "
        f"max_interactions = {greatest}({table}.max_interactions, excluded.max_interactions), "
        f"first_views = CASE WHEN excluded.first_seen < {table}.first_seen "
        f"THEN excluded.first_views ELSE {table}.first_views END"
    )


def first_views(dialect: str, time: str, views: str, *, hashable: bool = False) -> str:
    """An aggregate: the ``views`` of the row with the least ``time`` in the group (the times of
    a group are distinct: one reading per ad, region and time, and pieces of a window are
    disjoint). ``hashable``: on PostgreSQL, a form the planner may compute by hashing (and in
    parallel), for a query that groups millions of rows without needing them sorted."""
    if dialect == "postgresql":
        if hashable:
            # The least (epoch seconds, views' high 31 bits, views' low 32 bits) triple of
            # doubles, the views put together again from their two parts: exact for every count
            # (a double holds each part exactly, not a count above 2^53), and no more than
            # 2^63 - 1. Distinct microseconds stay distinct and in order as doubles until the
            # year 2242 (date_part rounds correctly). The aggregate is written twice, computed
            # once (PostgreSQL shares identical aggregates). Grouping window pieces by hashing
            # instead of sorting them (the ordered aggregate below forces a sort): the cold scan
            # over 24 hours on the 10M bench read 5.8 million rollup rows, a quarter less time.
            least = (
                f"min(ARRAY[date_part('epoch', {time}), CAST({views} >> 32 AS DOUBLE PRECISION), "
                f"CAST({views} & 4294967295 AS DOUBLE PRECISION)])"
            )
            return f"(CAST(({least})[2] AS BIGINT) * 4294967296 + CAST(({least})[3] AS BIGINT))"
        # An ordered aggregate: the planner groups by sorting, which the ingest's roll-up does
        # anyway (its rows are taken in key order).
        return f"(array_agg({views} ORDER BY {time}))[1]"
    # SQLite stores times as fixed-width text ('YYYY-MM-DD HH:MM:SS.ffffff', 26 characters), so
    # the least time followed by its views is the least of the two concatenated.
    return f"CAST(substr(min({time} || {views}), 27) AS INTEGER)"


def _aggregate(
    bucket: str, source: str, where: str = "", *, interactions: str | None = None, first: str | None = None
) -> str:
    """``interactions``: the expression of a row's interactions, or None to leave them out;
    ``first``: the expression of the first reading's views (:func:`first_views`), or None."""
    extra = f", max({interactions})" if interactions is not None else ""
    extra += f", {first}" if first is not None else ""
    return (
        f"SELECT ad_id, region, {bucket}, product_id, platform, max(views), min(views), "  # noqa: S608 - constant names
        f"min(observed_at), max(observed_at){extra} FROM {source} {where} "
        # In key order: writers that roll up the same hours at once take their rows in the
        # same order, so they wait for each other instead of deadlocking.
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3"
    )


def saturating_sum(*terms: str) -> str:
    """The sum of non-negative 64-bit ``terms``, at most ``MAX_COUNT`` (2^63 - 1: what the engine
    counts beyond it), computed without a sum beyond it: a plain sum would fail on PostgreSQL (bigint out
    of range) and turn into an inexact float on SQLite. A CASE takes its branches in order, so a
    partial sum is only computed once the previous test found room for it."""
    whens, partial = [], terms[0]
    for term in terms[1:]:
        whens.append(f"WHEN {partial} > {MAX_COUNT} - {term} THEN {MAX_COUNT}")
        partial = f"{partial} + {term}"
    return f"CASE {' '.join(whens)} ELSE {partial} END"


# Each reading's interactions, as the engine counts them (``scoring.reading_series``).
_INTERACTIONS = saturating_sum("likes", "comments", "shares")


def postgres_insert_and_roll_up(columns: str) -> str:
    """One statement: insert the staged rows as sent by the account its ``%(sender)s``
    parameter gives (psycopg's style; NULL for none), roll up the ones inserted, count them."""
    parts = [
        f"WITH inserted AS (INSERT INTO engagement_snapshots ({columns}, sender_id) "  # noqa: S608 - constant names
        f"SELECT DISTINCT ON (ad_id, region, observed_at) {columns}, %(sender)s::bigint FROM engagement_staging "
        "ON CONFLICT (ad_id, region, observed_at) DO NOTHING "
        f"RETURNING ad_id, region, observed_at, product_id, platform, views, {_INTERACTIONS} AS interactions)"
    ]
    for table, unit in TABLES:
        select = _aggregate(
            _bucket_postgres(unit, "observed_at"),
            "inserted",
            interactions="interactions",
            first=first_views("postgresql", "observed_at", "views"),
        )
        parts.append(f", {table}_upsert AS ({_upsert(table, select, 'GREATEST', 'LEAST')})")
    return "".join(parts) + " SELECT count(*) FROM inserted"  # noqa: S608 - constant names


def sqlite_roll_up(table: str, unit: str) -> str:
    """Rolls up the snapshots stored with an id above ``:after`` (this batch's rows)."""
    select = _aggregate(
        _bucket_sqlite(unit, "observed_at"),
        "engagement_snapshots",
        "WHERE id > ?",
        interactions=_INTERACTIONS,
        first=first_views("sqlite", "observed_at", "views"),
    )
    return _upsert(table, select, "max", "min")


# Removing readings (an account's: ``marketscout readings remove``). Every rollup figure is a
# maximum, a minimum or the first reading's views, none of which can be taken back one reading at
# a time: the hours and days the removed readings lay in are made again from the readings kept.
# ``removed_days`` holds, per ad and region, each UTC day ``[day_lo, day_hi)`` with a reading to
# remove; it is filled before the readings go, and the rollup rows within those days are
# deleted and made again after.
_REMOVED_DAYS = {
    "postgresql": (
        "CREATE TEMP TABLE IF NOT EXISTS removed_days (ad_id bigint, region varchar(6), "
        "day_lo timestamptz, day_hi timestamptz) ON COMMIT DELETE ROWS"
    ),
    "sqlite": "CREATE TEMP TABLE IF NOT EXISTS removed_days (ad_id INTEGER, region VARCHAR(6), day_lo TEXT, day_hi TEXT)",
}


def _day_bounds(dialect: str, column: str) -> tuple[str, str]:
    """The start of the UTC day of ``column`` and of the day after."""
    if dialect == "postgresql":
        day = _bucket_postgres("day", column)
        return day, f"{day} + interval '24 hours'"  # hours, not a day: no time zone's days
    return _bucket_sqlite("day", column), f"date(substr({column}, 1, 10), '+1 day') || ' 00:00:00.000000'"


def removed_days(dialect: str, where: str) -> list[str]:
    """Statements that fill ``removed_days`` with the days of the readings ``where`` selects (a
    condition on ``engagement_snapshots``); run them before those readings are deleted."""
    day, next_day = _day_bounds(dialect, "observed_at")
    return [
        _REMOVED_DAYS[dialect],
        "DELETE FROM removed_days",
        f"INSERT INTO removed_days (ad_id, region, day_lo, day_hi) "  # noqa: S608 - constant names
        f"SELECT DISTINCT ad_id, region, {day}, {next_day} FROM engagement_snapshots WHERE {where}",
    ]


def roll_up_removed_days(dialect: str) -> list[str]:
    """Statements that make the rollups of the days in ``removed_days`` again from the readings
    kept; run them after the readings are deleted."""
    postgres = dialect == "postgresql"
    kept = (
        "(SELECT s.ad_id, s.region, s.observed_at, s.product_id, s.platform, s.views, s.likes, "
        "s.comments, s.shares FROM engagement_snapshots s JOIN removed_days d ON s.ad_id = d.ad_id "
        "AND s.region = d.region AND s.observed_at >= d.day_lo AND s.observed_at < d.day_hi) AS kept"
    )
    statements = []
    for table, unit in TABLES:
        statements.append(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM removed_days d "  # noqa: S608 - constant names
            f"WHERE d.ad_id = {table}.ad_id AND d.region = {table}.region "
            f"AND {table}.bucket >= d.day_lo AND {table}.bucket < d.day_hi)"
        )
        select = _aggregate(
            _bucket_postgres(unit, "observed_at") if postgres else _bucket_sqlite(unit, "observed_at"),
            kept,
            "WHERE 1 = 1",  # SQLite reads an ON CONFLICT after a bare FROM as a join's ON
            interactions=_INTERACTIONS,
            first=first_views(dialect, "observed_at", "views"),
        )
        statements.append(
            _upsert(table, select, "GREATEST" if postgres else "max", "LEAST" if postgres else "min")
        )
    return statements
