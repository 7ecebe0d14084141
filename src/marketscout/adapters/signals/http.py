"""Resilient HTTP for collectors: timeouts, retries with backoff and jitter, 429 and
Retry-After, and a circuit breaker that stops hammering a failing source."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass

import httpx

from marketscout.domain.signals import SourceUnavailable

logger = logging.getLogger("marketscout.collect")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 10.0
    failures_to_open: int = 5
    open_seconds: float = 300.0


class CircuitBreaker:
    """Opens after ``failures_to_open`` failed calls in a row; stays open ``open_seconds``."""

    def __init__(self, failures_to_open: int, open_seconds: float) -> None:
        self.failures_to_open = failures_to_open
        self.open_seconds = open_seconds
        self.failures = 0
        self.opened_at: float | None = None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at >= self.open_seconds:
            self.opened_at = None  # half-open: one call may test the source again
            return True
        return False

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.failures_to_open:
            self.opened_at = time.monotonic()


# Retry jitter only (nothing the product computes depends on it), from the OS's generator.
_JITTER = secrets.SystemRandom()


class ResilientHttp:
    def __init__(
        self, name: str, policy: RetryPolicy | None = None, client: httpx.AsyncClient | None = None
    ) -> None:
        self.name = name
        self.policy = policy or RetryPolicy()
        self._client = client or httpx.AsyncClient(timeout=self.policy.timeout, follow_redirects=True)
        self.breaker = CircuitBreaker(self.policy.failures_to_open, self.policy.open_seconds)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads retries of many collectors apart.
        return _JITTER.uniform(0, min(self.policy.max_delay, self.policy.base_delay * 2**attempt))

    async def get(
        self, url: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.request("GET", url, params=params, headers=headers)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        json: object = None,
        data: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Sends with retries; returns any answer below 500 except 408 and 429 (the caller reads
        the other 4xx, which asking again would not change)."""
        if not self.breaker.allow():
            raise SourceUnavailable(f"{self.name}: paused after repeated failures")
        last = "no attempt"
        for attempt in range(self.policy.attempts):
            try:
                response = await self._client.request(
                    method, url, params=params, headers=headers, json=json, data=data
                )
            except httpx.HTTPError as error:
                last = type(error).__name__
                await asyncio.sleep(self._backoff(attempt))
                continue
            if response.status_code == 429:
                last = "429"
                retry_after = response.headers.get("retry-after", "")
                wait = (
                    float(retry_after)
                    if retry_after.replace(".", "", 1).isdigit()
                    else self._backoff(attempt)
                )
                if wait > self.policy.max_delay:
                    break
                await asyncio.sleep(wait)
                continue
            if response.status_code == 408 or response.status_code >= 500:
                last = str(response.status_code)
                await asyncio.sleep(self._backoff(attempt))
                continue
            self.breaker.record(ok=True)
            return response
        self.breaker.record(ok=False)
        logger.warning("source %s failed after %d attempts: %s", self.name, self.policy.attempts, last)
        raise SourceUnavailable(f"{self.name}: {last} after {self.policy.attempts} attempts")
