"""A small per-process cache for the read answers (/products, /trending, /heat-map, /scan-ads).

Safe because those answers depend only on stored engagement and scores (and the time, which a
short TTL bounds): every successful write request in this process (the request middleware)
clears the cache, and other processes see changes within the TTL. Set the TTL to 0 to disable.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Abandoned(Exception):
    """The computation a waiter shared was cancelled."""


class ReadCache:
    """Answers by key for ``ttl_seconds``; concurrent misses of one key share one computation
    (single flight), so a cold or just-cleared cache under load does not send every waiting
    request to the database at once."""

    def __init__(self, ttl_seconds: float = 30.0, max_entries: int = 256) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self._generation = 0

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        if self.ttl <= 0:
            return await compute()
        while True:
            now = time.monotonic()
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                self._entries.move_to_end(key)
                value: T = hit[1]
                return value
            pending = self._inflight.get(key)
            if pending is None:
                break
            try:
                shared: T = await asyncio.shield(pending)
            except _Abandoned:
                continue  # the request computing it went away: compute it here
            return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        generation = self._generation
        try:
            fresh = await compute()
        except asyncio.CancelledError:
            future.set_exception(_Abandoned())
            future.exception()  # marked as retrieved: waiters retry on their own
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        future.set_result(fresh)
        if generation == self._generation:  # not cleared by a write while computing
            self._entries[key] = (now + self.ttl, fresh)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return fresh

    def invalidate(self) -> None:
        self._entries.clear()
        self._inflight.clear()  # computations under way may predate the write: do not share them
        self._generation += 1
