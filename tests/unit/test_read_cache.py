"""The per-process read cache: hits, single flight under concurrent misses, invalidation."""

from __future__ import annotations

import asyncio

import pytest

from marketscout.entrypoints.api.cache import ReadCache


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def compute(self) -> int:
        self.calls += 1
        await self.release.wait()
        return self.calls


async def test_concurrent_misses_share_one_computation() -> None:
    cache, source = ReadCache(ttl_seconds=30), Source()
    waiting = [asyncio.create_task(cache.get_or_compute("k", source.compute)) for _ in range(32)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*waiting) == [1] * 32
    assert source.calls == 1
    assert await cache.get_or_compute("k", source.compute) == 1, "then it is a hit"


async def test_a_write_during_a_computation_keeps_its_result_out_of_the_cache() -> None:
    cache, source = ReadCache(ttl_seconds=30), Source()
    first = asyncio.create_task(cache.get_or_compute("k", source.compute))
    await asyncio.sleep(0)
    cache.invalidate()  # a write committed while the answer was being computed
    source.release.set()
    assert await first == 1
    assert await cache.get_or_compute("k", source.compute) == 2, "recomputed after the write"


async def test_waiters_recompute_when_the_computing_request_is_cancelled() -> None:
    cache, source = ReadCache(ttl_seconds=30), Source()
    leader = asyncio.create_task(cache.get_or_compute("k", source.compute))
    await asyncio.sleep(0)
    follower = asyncio.create_task(cache.get_or_compute("k", source.compute))
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    source.release.set()
    assert await follower == 2
    assert source.calls == 2


async def test_errors_reach_every_waiter_and_are_not_cached() -> None:
    cache = ReadCache(ttl_seconds=30)
    gate = asyncio.Event()
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise RuntimeError("database gone")

    tasks = [asyncio.create_task(cache.get_or_compute("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert calls == 1

    async def healthy() -> int:
        return 7

    assert await cache.get_or_compute("k", healthy) == 7


async def test_a_zero_ttl_turns_caching_off() -> None:
    cache, source = ReadCache(ttl_seconds=0), Source()
    source.release.set()
    assert [await cache.get_or_compute("k", source.compute) for _ in range(3)] == [1, 2, 3]
