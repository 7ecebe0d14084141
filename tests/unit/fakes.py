"""Fakes that implement the domain's ports for use-case tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from marketscout.domain.errors import AuthenticationFailed
from marketscout.domain.ports import Clock, IssuedAccessToken, PasswordHasher, TokenIssuer

START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock(Clock):
    def __init__(self, now: datetime = START) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class FakeHasher(PasswordHasher):
    """Reversible on purpose: these tests are about the use cases, not about hashing."""

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.dummy_calls = 0

    async def hash(self, password: str) -> str:
        return f"v{self.version}:{password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        return password_hash.split(":", 1)[1] == password

    async def dummy_verify(self, password: str) -> None:
        self.dummy_calls += 1

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"v{self.version}:")


class FakeTokens(TokenIssuer):
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def issue_access(self, user_id: int) -> IssuedAccessToken:
        return IssuedAccessToken(
            token=f"access-{user_id}", expires_in=1800, token_id=str(next(self._counter))
        )

    def user_id_from_access(self, token: str) -> int:
        if not token.startswith("access-"):
            raise AuthenticationFailed("Invalid token")
        return int(token.removeprefix("access-"))

    def new_refresh_token(self) -> str:
        return f"refresh-{next(self._counter)}"

    @property
    def refresh_lifetime_seconds(self) -> int:
        return 3600
