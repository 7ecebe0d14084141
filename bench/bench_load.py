"""A bounded load test against the real server: two worker processes, PostgreSQL, rate limits
shared through Redis, a mixed read and write workload on 127.0.0.1 that stops by itself.

    .venv/bin/python bench/bench_load.py [--seconds 60] [--concurrency 16]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/15]

It prints requests, throughput and p50/p99 per endpoint, every answer that is neither the
expected one nor an intended 429, and then checks that the sign-in limit (5 a minute) holds
across both workers: of 12 wrong-password attempts from one address, on fresh connections
spread over the workers, exactly 5 are answered 401 and the rest 429. It exits 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import redis
from psycopg import sql

from marketscout.adapters.sql import migrate

PASSWORD = "load test passphrase"  # noqa: S105 - a throw-away account on a throw-away database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def prepare(base: str, users: int) -> list[tuple[dict[str, str], list[int]]]:
    """Accounts, each with a product, three ads and a first day of engagement."""
    sessions = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for number in range(users):
            name = f"load{number}_{uuid.uuid4().hex[:6]}"
            await client.post(
                "/signup", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            )
            token = (await client.post("/token", data={"username": name, "password": PASSWORD})).json()[
                "access_token"
            ]
            headers = {"Authorization": f"Bearer {token}"}
            product = (
                await client.post(
                    "/products", json={"name": f"Load Lamp {number}", "description": "d"}, headers=headers
                )
            ).json()
            ads = []
            for index in range(3):
                ad = await client.post(
                    "/ads",
                    json={
                        "product_id": product["id"],
                        "platform": "TikTok",
                        "ad_content": "x",
                        "external_id": f"{name}-{index}",
                    },
                    headers=headers,
                )
                ads.append(ad.json()["id"])
            await client.post("/watchlists", json={"product_id": product["id"]}, headers=headers)
            sessions.append((headers, ads))
    return sessions


async def load(
    base: str, seconds: float, concurrency: int, sessions: list[tuple[dict[str, str], list[int]]]
) -> dict[str, list[tuple[int, float]]]:
    results: dict[str, list[tuple[int, float]]] = defaultdict(list)
    deadline = time.monotonic() + seconds
    clock = {"hour": 0}
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    async def one(client: httpx.AsyncClient, worker: int) -> None:
        rng = random.Random(worker)
        headers, ads = sessions[worker % len(sessions)]
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < 0.2:
                name, call = "GET /trending", client.get("/trending?limit=20")
            elif roll < 0.35:
                name, call = "GET /products?limit=100", client.get("/products?limit=100")
            elif roll < 0.5:
                name, call = "GET /heat-map", client.get("/heat-map")
            elif roll < 0.65:
                name, call = "GET /scan-ads", client.get("/scan-ads")
            elif roll < 0.75:
                name, call = "GET /alerts", client.get("/alerts", headers=headers)
            elif roll < 0.85:
                name, call = "GET /watchlists", client.get("/watchlists", headers=headers)
            else:
                clock["hour"] += 1
                at = start + timedelta(minutes=clock["hour"])
                batch = [
                    {
                        "ad_id": ad,
                        "region": "US",
                        "observed_at": at.isoformat(),
                        "views": 1000 + clock["hour"] * 37 + ad,
                    }
                    for ad in ads
                ]
                name, call = "POST /engagement", client.post("/engagement", json=batch, headers=headers)
            began = time.perf_counter()
            try:
                status = (await call).status_code
            except httpx.HTTPError:
                status = 0
            results[name].append((status, time.perf_counter() - began))

    async with httpx.AsyncClient(
        base_url=base, timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        await asyncio.gather(*(one(client, worker) for worker in range(concurrency)))
    return results


async def shared_limit(base: str) -> list[int]:
    statuses = []
    for _ in range(12):
        async with httpx.AsyncClient(base_url=base, timeout=10) as fresh:  # a new connection each time
            answer = await fresh.post(
                "/token", data={"username": "nobody_here", "password": "wrong password"}
            )
            statuses.append(answer.status_code)
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    name = f"bench_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    redis.Redis.from_url(args.redis).flushdb()
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    failures = 0
    try:
        migrate.upgrade(url)
        env = {
            **os.environ,
            "MARKETSCOUT_DATABASE_URL": url,
            "MARKETSCOUT_DEMO_DATA": "false",
            "MARKETSCOUT_JWT_SECRET": uuid.uuid4().hex * 2,
            "MARKETSCOUT_RATE_LIMIT_STORAGE": args.redis,
            "MARKETSCOUT_RATE_LIMIT_DEFAULT": "1000000/minute",
            "MARKETSCOUT_RATE_LIMIT_HEAVY": "600/minute",
            "MARKETSCOUT_RATE_LIMIT_AUTH": "5/minute",
            "MARKETSCOUT_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marketscout.entrypoints.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        sessions = asyncio.run(prepare(base, 2))  # 4 sign-in requests: within the limit of 5
        redis.Redis.from_url(args.redis).flushdb()  # the sign-ups above used the address's quota
        results = asyncio.run(load(base, args.seconds, args.concurrency, sessions))
        expected = {"POST /engagement": 200}
        total = sum(len(v) for v in results.values())
        print(
            f"{args.seconds:.0f} s, {args.concurrency} connections, 2 workers, PostgreSQL, Redis limits: "
            f"{total:,} requests, {total / args.seconds:,.0f} req/s"
        )
        print(f"{'endpoint':26} {'requests':>9} {'req/s':>7} {'p50':>8} {'p99':>8} {'429':>5} {'errors':>6}")
        for endpoint in sorted(results):
            answers = results[endpoint]
            timings = sorted(t for _, t in answers)
            limited = sum(1 for s, _ in answers if s == 429)
            wrong = [s for s, _ in answers if s not in (expected.get(endpoint, 200), 429)]
            failures += len(wrong)
            p50 = statistics.median(timings) * 1000
            p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))] * 1000
            print(
                f"{endpoint:26} {len(answers):>9,} {len(answers) / args.seconds:>7,.0f} {p50:>6.1f} ms {p99:>6.1f} ms {limited:>5} {len(wrong):>6}"
            )
            if wrong:
                print(f"  unexpected answers: {sorted(set(wrong))}")
        statuses = asyncio.run(shared_limit(base))
        held = statuses.count(401) == 5 and statuses.count(429) == 7
        print(
            f"sign-in limit across both workers: {statuses.count(401)} × 401 then {statuses.count(429)} × 429 "
            f"({'holds' if held else 'BROKEN'})"
        )
        failures += 0 if held else 1
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        with psycopg.connect(args.postgres, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}; command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
