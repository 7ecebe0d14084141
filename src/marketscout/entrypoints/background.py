"""The passes the server (and the ``--watch`` commands) repeat in the background: alert delivery
and the refresh of stale scores. One failing pass never ends them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from marketscout.domain.errors import DomainError

# The longest wait after failing passes in a row (unless the interval itself is longer).
MAX_FAILED_PASS_DELAY = 300.0

Wait = Callable[[float], Awaitable[None]]


def next_pass_delay(interval: float, failures: int) -> float:
    """The wait before the next pass: ``interval``, doubled for each failed pass in a row,
    at most :data:`MAX_FAILED_PASS_DELAY` (or ``interval`` when it is longer)."""
    if failures == 0:
        return interval
    doubled = interval * 2.0 ** min(failures, 30)  # bounded: a float cannot double for ever
    return min(doubled, max(interval, MAX_FAILED_PASS_DELAY))


async def repeat_forever(
    one_pass: Callable[[], Awaitable[None]],
    interval: float,
    *,
    what: str,
    logger: logging.Logger,
    sleep: Wait = asyncio.sleep,
) -> None:
    """``one_pass`` every ``interval`` seconds. A failing pass is logged as "``what`` failed":
    a domain error (the database is down) at WARNING with its message, any other Exception (a
    bug, a driver error no adapter translated) at ERROR with its traceback; then the loop goes
    on, after a longer wait while passes keep failing (:func:`next_pass_delay`). Only
    cancellation (or another BaseException) ends it."""
    failures = 0
    while True:
        try:
            await one_pass()
            failures = 0
        except DomainError as error:
            failures += 1
            logger.warning("%s failed: %s", what, error.message)
        except Exception:
            failures += 1
            logger.exception("%s failed unexpectedly", what)
        await sleep(next_pass_delay(interval, failures))
