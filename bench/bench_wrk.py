"""Throughput and tail latency with wrk (Debian) against the real server, and the ceiling: a
minimal Litestar app answering a constant of the same size on the same server stack.

    .venv/bin/python bench/bench_wrk.py [--seconds 10] [--connections 32] [--database-url URL]
        [--server uvicorn|granian]

``--server granian`` runs the same app (and the same minimal app) under granian (Rust HTTP,
uvloop) instead of uvicorn, for the side-by-side choice of server; granian is not a dependency of
the project: `.venv/bin/pip install granian` first.

Uses the in-memory store with the demo market (one uvicorn worker, uvloop and httptools), or,
with --database-url, a database filled beforehand, for example the PostgreSQL data set of the
persistence issue (10,000 products, 200,000 ads, 1,000,000 snapshots):

    createdb -h 127.0.0.1 -U postgres bench_1m
    .venv/bin/python bench/bench_http.py --database-url postgresql://postgres@127.0.0.1/bench_1m \
        --snapshots 1000000 --products 10000 --ads 200000 --requests 20
    .venv/bin/python bench/bench_wrk.py --database-url postgresql://postgres@127.0.0.1/bench_1m
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_http import rss_mb

PATHS = ("/health", "/products?limit=100", "/trending", "/heat-map", "/scan-ads")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str) -> None:
    for _ in range(400):
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"{url} did not answer")


def wrk(url: str, seconds: int, connections: int) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rate, p99


def serve_command(server: str, target: str, port: int, *, factory: bool) -> list[str]:
    """One worker of either server, on 127.0.0.1, quiet."""
    if server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning"]
        return [*command, "--factory", target] if factory else [*command, target]
    command = [sys.executable, "-m", "uvicorn", target, "--port", str(port), "--log-level", "warning"]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-server-header"]
    return [*command, "--factory"] if factory else command


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default="memory://", help="a database filled beforehand")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    args = parser.parse_args()
    port = free_port()
    env = {
        **os.environ,
        "MARKETSCOUT_DATABASE_URL": args.database_url,
        "MARKETSCOUT_DEMO_DATA": "true" if args.database_url.startswith("memory") else "false",
        "MARKETSCOUT_RATE_LIMIT_ENABLED": "false",
        "MARKETSCOUT_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        serve_command(args.server, "marketscout.entrypoints.app:create_app", port, factory=True),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready")
        sizes = {}
        for path in PATHS:
            with urllib.request.urlopen(base + path, timeout=30) as answer:  # noqa: S310 - loopback, warms the cache
                sizes[path] = len(answer.read())
            rate, p99 = wrk(base + path, args.seconds, args.connections)
            print(f"{path:22} {rate:9,.0f} req/s   p99 {p99:>8}   ({sizes[path]:,} bytes)")
        print(f"server resident memory after the runs (supervisor and worker): {rss_mb(server.pid):.0f} MB")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    ceiling_port = free_port()
    minimal = subprocess.Popen(
        serve_command(args.server, "minimal_app:app", ceiling_port, factory=False),
        cwd=Path(__file__).parent,
        env={**os.environ, "BENCH_BODY_BYTES": str(sizes["/trending"])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{ceiling_port}/const")
        rate, p99 = wrk(f"http://127.0.0.1:{ceiling_port}/const", args.seconds, args.connections)
        print(
            f"{'minimal Litestar':22} {rate:9,.0f} req/s   p99 {p99:>8}   (ceiling, {sizes['/trending']:,} bytes)"
        )
    finally:
        os.killpg(minimal.pid, signal.SIGTERM)
        minimal.wait(timeout=30)
    print(f"command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
