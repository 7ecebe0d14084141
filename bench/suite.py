"""What ``make bench`` runs: one benchmark per goal of docs/performance.md's summary, at sizes
that finish in minutes, each printing its figures and the command that produced them.

    .venv/bin/python bench/suite.py [--postgres URL] [--redis URL] [--keep]

Needs PostgreSQL (``--postgres``: a database to connect to, from which the scratch databases
are created; they are all named ``bench_…`` and dropped afterwards). The read benchmarks share
one scratch database, ``bench_make``, filled here with the issue's 1M data set (10,000 products,
200,000 ads, 1,000,000 snapshots; ``--keep`` keeps it for running other commands against it).
What is missing is said and its benchmark skipped: ``wrk`` (bench_wrk.py), Redis
(bench_load.py), or PostgreSQL itself (everything but bench_scoring.py). Any benchmark that
fails stops the run with its exit status.

Smaller than the issues' sizes where the full size takes long: ingest 300,000 snapshots (the
goal's run: 1,000,000), re-scoring 20,000 products (the goal: 100,000), API ingest 200,000,
growth 100,000 → 1,000,000 snapshots (the docs go to 10,000,000 and 20,000,000), 1 and 10 stored
scores per product, 15 s of mixed load. docs/performance.md gives the issue-sized commands.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from marketscout.adapters.sql import migrate

HERE = Path(__file__).parent


def run(script: str, *args: str) -> float:
    """One benchmark in its own process; a failure ends the suite with its exit status."""
    command = [sys.executable, os.path.relpath(HERE / script), *args]
    print(f"\n== {script} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    status = subprocess.run(command, check=False).returncode
    elapsed = time.perf_counter() - started
    if status != 0:
        print(f"FAILED: {script} exited with status {status} after {elapsed:.0f} s", flush=True)
        raise SystemExit(status)
    print(f"({script}: {elapsed:.0f} s)", flush=True)
    return elapsed


def database_url(admin: str, name: str) -> str:
    return admin.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def scratch(admin: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """A fresh, empty database migrated to the head (an earlier one of that name is dropped)."""
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(admin, name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def postgres_missing(admin: str) -> str | None:
    try:
        with psycopg.connect(admin, connect_timeout=5):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL is not reachable at {admin} ({str(error).strip().splitlines()[0]})"


def redis_missing(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis is not reachable at {url} ({error})"
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a database to connect to; the scratch databases bench_… are created next to it",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/14",
        help="flushed by bench_load.py (the tests use database 15)",
    )
    parser.add_argument("--keep", action="store_true", help="keep bench_make, the 1M data set")
    args = parser.parse_args()
    admin = args.postgres
    started = time.perf_counter()
    skipped: list[str] = []

    def skip(what: str, reason: str) -> None:
        print(f"\n== {what}\nSKIPPED: {reason}", flush=True)
        skipped.append(f"{what}: {reason}")

    # Scoring speed, the engine alone (issues 4 and 8): 100,000 items x 30 daily readings.
    run("bench_scoring.py")
    no_postgres = postgres_missing(admin)
    if no_postgres:
        skip("every benchmark but bench_scoring.py (they need PostgreSQL)", no_postgres)
    else:
        # Ingest into SQLite and PostgreSQL through the store (issue 3).
        run("bench_ingest.py", "--snapshots", "300000", "--postgres", admin)
        # Reads through the real server, cold reads and wrk, on the 1M data set (3, 8).
        with scratch(admin, "bench_make", keep=args.keep) as url:
            run(
                "bench_http.py",
                *("--database-url", url, "--snapshots", "1000000", "--products", "10000"),
                *("--ads", "200000", "--requests", "200"),
            )
            run("bench_cold.py", "--database-url", url, "--repeat", "3")
            if shutil.which("wrk") is None:
                skip("bench_wrk.py", "wrk is not installed (Debian and Ubuntu: apt-get install wrk)")
            else:
                run("bench_wrk.py", "--database-url", url, "--seconds", "5")
        # Re-scoring products with 30 daily readings each (issue 8), a fifth of the goal's 100,000.
        with scratch(admin, "bench_make_rescore") as url:
            run("bench_rescore.py", "--database-url", url, "--fill", "20000", "--force")
        # Ingest through the API, two requests of 50,000 in flight, and the server's memory (8).
        run(
            "bench_http_ingest.py",
            *("--snapshots", "200000", "--batch", "50000", "--concurrency", "2", "--postgres", admin),
        )
        # Reads as the engagement history and the score history grow (8).
        run("bench_growth.py", "--sizes", "100000,1000000", "--postgres", admin)
        run("bench_scores.py", "--history", "1,10", "--postgres", admin)
        # Mixed load on two workers with limits shared through Redis (7); it checks answers too.
        no_redis = redis_missing(args.redis)
        if no_redis:
            skip("bench_load.py", no_redis)
        else:
            run("bench_load.py", "--seconds", "15", "--postgres", admin, "--redis", args.redis)
    print(f"\nmake bench: done in {(time.perf_counter() - started) / 60:.1f} min", end="")
    print(f"; skipped {len(skipped)}:" if skipped else "; nothing skipped")
    for line in skipped:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
