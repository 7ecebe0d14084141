"""A small per-process cache for the read answers (/products, /trending, /heat-map, /scan-ads).

Safe because those answers depend only on stored engagement and scores (and the time, which a
short TTL bounds): every successful write request in this process (the request middleware)
clears the cache, and other processes see changes within the TTL. Set the TTL to 0 to disable.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class ReadCache:
    def __init__(self, ttl_seconds: float = 30.0, max_entries: int = 256) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        if self.ttl <= 0:
            return await compute()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(key)
            value: T = hit[1]
            return value
        fresh = await compute()
        self._entries[key] = (now + self.ttl, fresh)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return fresh

    def invalidate(self) -> None:
        self._entries.clear()
