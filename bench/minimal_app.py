"""The ceiling for this stack: a Litestar app that answers a constant body of a given size."""

from __future__ import annotations

import os

from litestar import Litestar, MediaType, get

BODY = b"x" * int(os.environ.get("BENCH_BODY_BYTES", "2000"))


@get("/const", media_type=MediaType.JSON)
async def const() -> bytes:
    return BODY


app = Litestar(route_handlers=[const])
