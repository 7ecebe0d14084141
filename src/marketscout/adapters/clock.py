"""Clocks: the system's, and a fixed one for tests, simulations and replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketscout.domain.ports import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """Answers a set time until told otherwise."""

    def __init__(self, now: datetime) -> None:
        if now.utcoffset() is None:
            raise ValueError("FixedClock needs a timezone-aware time")
        self.current = now

    def now(self) -> datetime:
        return self.current

    def set(self, now: datetime) -> None:
        self.current = now

    def advance(self, delta: timedelta) -> None:
        self.current += delta
