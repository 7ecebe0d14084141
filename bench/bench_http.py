"""Read latency through the real server: /trending, /heat-map, /scan-ads, /products, /health.

Fills a database (SQLite by default, or --database-url postgresql://...) with N snapshots over
products and ads, scores every product, starts `marketscout serve` on 127.0.0.1 and measures
median and p99 latency with a bounded number of requests at a fixed concurrency, and the server's
resident memory afterwards.

    .venv/bin/python bench/bench_http.py [--snapshots 100000] [--products 1000] [--ads 20000]
        [--requests 200] [--concurrency 8] [--database-url URL] [--no-fill]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import ingest, seed

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.usecases.trends import rescore

ENDPOINTS = ("/health", "/products?limit=100", "/trending", "/heat-map", "/scan-ads")


async def score_all(url: str, products: int) -> float:
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    started = time.perf_counter()
    ids = list(range(1, products + 1))
    clock = FixedClock(datetime.now(UTC))
    for start in range(0, len(ids), 500):
        await rescore(uow, clock, ids[start : start + 500], force=True)
    await engine.dispose()
    return time.perf_counter() - started


async def measure(base: str, path: str, requests: int, concurrency: int) -> list[float]:
    timings: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                answer = await client.get(path)
                timings.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise SystemExit(f"{path} answered {answer.status_code}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return timings


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and its descendants (granian serves from a worker process
    under a small supervisor); ``field="VmHWM"`` gives each one's peak instead."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1]) / 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snapshots", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--ads", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--no-fill", action="store_true", help="measure a database filled by an earlier run as it is"
    )
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
    migrate.upgrade(url)
    if not args.no_fill:
        asyncio.run(seed(url, args.products, args.ads))
        import bench_ingest

        # Recent data, so the read windows (7 to 30 days) cover it.
        bench_ingest.START = datetime.now(UTC) - timedelta(hours=args.snapshots // args.ads + 2)
        rate = asyncio.run(ingest(url, args.products, args.ads, args.snapshots))
        scoring = asyncio.run(score_all(url, args.products))
        print(
            f"loaded {args.snapshots:,} snapshots ({rate:,.0f}/s), scored {args.products:,} products in {scoring:.1f} s"
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "MARKETSCOUT_DATABASE_URL": url,
        "MARKETSCOUT_RATE_LIMIT_ENABLED": "false",
        "MARKETSCOUT_DEMO_DATA": "false",
        "MARKETSCOUT_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "marketscout.entrypoints.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        for path in ENDPOINTS:
            asyncio.run(measure(base, path, 5, 1))  # warm up
            timings = sorted(asyncio.run(measure(base, path, args.requests, args.concurrency)))
            p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))]
            throughput = len(timings) / max(sum(timings) / args.concurrency, 1e-9)
            print(
                f"{path:22} median {1000 * statistics.median(timings):8.1f} ms   p99 {1000 * p99:8.1f} ms"
                f"   ~{throughput:,.0f} req/s at concurrency {args.concurrency}"
            )
        print(f"server resident memory (supervisor and worker): {rss_mb(server.pid):.0f} MB")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    print(f"command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
