"""Ingestion end to end through the API (NDJSON bulk) into PostgreSQL, next to a raw COPY of the
same rows with psycopg (the limit for this machine).

    .venv/bin/python bench/bench_http_ingest.py [--snapshots 200000] [--batch 10000] [--ads 2000]
        [--concurrency 1] [--postgres postgresql://postgres@127.0.0.1:5432/test]

``--concurrency N`` keeps N requests in flight (a collector with N connections): while one
request's rows are written by PostgreSQL, the server parses and validates the next one.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from marketscout.adapters.sql import migrate

sys.path.insert(0, str(Path(__file__).parent))
from bench_http import rss_mb

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snapshots", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--ads", type=int, default=2_000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    parser.add_argument("--postgres", default=ADMIN, help="where the scratch database is created")
    args = parser.parse_args()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "MARKETSCOUT_DATABASE_URL": url,
        "MARKETSCOUT_RATE_LIMIT_ENABLED": "false",
        "MARKETSCOUT_DEMO_DATA": "false",
        "MARKETSCOUT_LOG_LEVEL": "WARNING",
        "MARKETSCOUT_MAX_BODY_BYTES": str(64 * 1024 * 1024),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "marketscout.entrypoints.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    start = datetime.now(UTC) - timedelta(days=20)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        for _ in range(200):
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        client.post(
            "/signup", json={"username": "bench", "email": "b@example.com", "password": "a long passphrase"}
        )
        token = client.post("/token", data={"username": "bench", "password": "a long passphrase"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        products = [
            client.post("/products", json={"name": f"P{i}", "description": "d"}, headers=headers).json()["id"]
            for i in range(args.products)
        ]
        ads = [
            client.post(
                "/ads",
                json={"product_id": products[i % len(products)], "platform": "TikTok", "ad_content": "x"},
                headers=headers,
            ).json()["id"]
            for i in range(args.ads)
        ]
        per_ad = max(1, args.snapshots // len(ads))
        rows = [
            {
                "ad_id": ad,
                "region": "US",
                "observed_at": (start + timedelta(minutes=10 * k)).isoformat(),
                "views": 100 * (k + 1),
                "likes": k,
            }
            for k in range(per_ad)
            for ad in ads
        ][: args.snapshots]
        lines = [json.dumps(r).encode() for r in rows]
        bodies = [
            b"\n".join(lines[offset : offset + args.batch]) for offset in range(0, len(lines), args.batch)
        ]

        def send(body: bytes) -> int:
            answer = client.post(
                "/engagement", content=body, headers={**headers, "Content-Type": "application/x-ndjson"}
            )
            answer.raise_for_status()
            return int(answer.json()["stored"])

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            stored = sum(pool.map(send, bodies))
        api_rate = stored / (time.perf_counter() - started)
        print(
            f"API (NDJSON, batches of {args.batch:,}, {args.concurrency} in flight, scoring included): "
            f"{api_rate:,.0f} snapshots/s ({stored:,} stored)"
        )
        print(
            f"server resident memory: peak {rss_mb(server.pid, 'VmHWM'):.0f} MB, "
            f"after the requests {rss_mb(server.pid):.0f} MB"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE raw_copy (ad_id bigint, region text, observed_at timestamptz, views bigint, likes bigint)"
        )
        buffer = io.StringIO(
            "".join(
                f"{r['ad_id']}\t{r['region']}\t{r['observed_at']}\t{r['views']}\t{r['likes']}\n" for r in rows
            )
        )
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy("COPY raw_copy FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        copy_rate = len(rows) / (time.perf_counter() - started)
    print(
        f"raw COPY of the same rows (no index): {copy_rate:,.0f} rows/s; API / COPY = {api_rate / copy_rate:.2f}"
    )
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
