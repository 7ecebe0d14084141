"""Fakes that implement the domain's ports for use-case tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from marketscout.domain.errors import AuthenticationFailed
from marketscout.domain.ports import AccessClaims, Clock, IssuedAccessToken, PasswordHasher, TokenIssuer

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
    """Tokens ``access-<user>-<id>``, issued at the clock's time (``START`` without a clock);
    they never expire."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._counter = itertools.count(1)
        self._clock = clock
        self._issued: dict[str, tuple[datetime, str]] = {}

    def issue_access(self, user_id: int, family_id: str) -> IssuedAccessToken:
        token_id = str(next(self._counter))
        token = f"access-{user_id}-{token_id}"
        self._issued[token] = (self._clock.now() if self._clock else START, family_id)
        return IssuedAccessToken(token=token, expires_in=1800, token_id=token_id)

    def read_access(self, token: str) -> AccessClaims:
        if token not in self._issued:
            raise AuthenticationFailed("Invalid token")
        user_id, token_id = token.removeprefix("access-").split("-")
        issued, family_id = self._issued[token]
        return AccessClaims(
            user_id=int(user_id),
            token_id=token_id,
            issued_at=issued,
            expires_at=issued + timedelta(hours=1),
            family_id=family_id,
        )

    def new_refresh_token(self) -> str:
        return f"refresh-{next(self._counter)}"

    @property
    def refresh_lifetime_seconds(self) -> int:
        return 3600
