"""The span of accepted instants: any aware time is either accepted in UTC or refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketscout.domain.errors import InvalidValue
from marketscout.domain.instants import EARLIEST, LATEST, past_instant, utc_instant

OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(st.datetimes(timezones=OFFSETS))
def test_any_aware_time_is_accepted_in_utc_or_refused_naming_the_field(value: datetime) -> None:
    if EARLIEST <= value <= LATEST:
        instant = utc_instant("observed_at", value)
        assert instant == value
        assert instant.tzinfo is UTC
    else:
        with pytest.raises(InvalidValue, match=r"^observed_at: must lie between"):
            utc_instant("observed_at", value)


def test_the_extremes_of_python_time_are_refused_not_overflowed() -> None:
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        with pytest.raises(InvalidValue, match="1970"):
            utc_instant("since", datetime.fromisoformat(text))
    with pytest.raises(InvalidValue, match="offset"):
        utc_instant("since", datetime(2026, 1, 1))  # noqa: DTZ001 - the naive time is the point


def test_the_future_has_five_minutes_grace() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert past_instant("first_seen_at", now + timedelta(minutes=5), now) == now + timedelta(minutes=5)
    with pytest.raises(InvalidValue, match="future"):
        past_instant("first_seen_at", now + timedelta(minutes=6), now)
