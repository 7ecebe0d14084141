"""The backup-and-restore drill of docs/operations.md: a PostgreSQL database filled through the API,
dumped with ``pg_dump --format=custom`` and restored with ``pg_restore`` into a fresh database, serves
byte-for-byte the same answers, and its users log in with the same passwords."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg import sql
from sqlalchemy.engine import make_url

from marketscout.adapters.sql import migrate
from marketscout.entrypoints.app import create_app
from tests.databases import ADMIN_URL, need, postgres_reachable
from tests.integration.api.support import (
    NOW,
    Headers,
    MovableClock,
    api_settings,
    build_container,
    setup_ad,
    sign_up,
    snap,
)

pytestmark = pytest.mark.postgres

Client = AsyncTestClient[Litestar]
Answers = dict[str, bytes]

USERNAME = "restorer"
PASSWORD = "a backup is only as good as its restore"
REGIONS = ["US", "DE", "JP", "BR"]


@contextmanager
def scratch_postgres_database(purpose: str) -> Iterator[str]:
    """A new, empty PostgreSQL database with a unique name, dropped afterwards (as
    ``tests.databases.fresh_postgres_database``, but not migrated: a restore needs an empty target)."""
    if not postgres_reachable():
        need(f"PostgreSQL is not reachable at {ADMIN_URL}")
    name = f"marketscout_{purpose}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def libpq_url(url: str) -> str:
    """The app's URL as libpq (pg_dump, pg_restore) reads it: without a ``+driver`` suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def client_for(url: str, clock: MovableClock) -> Client:
    app = create_app(build_container(api_settings(database_url=url), clock))
    return AsyncTestClient(app=app, base_url="http://127.0.0.1:8000")


async def fill(client: Client) -> tuple[Headers, list[int]]:
    """A user, three products with ads on several platforms, a week of engagement in four regions
    (one ad growing far faster than its peers), scores, a watchlist entry and an alert rule."""
    headers = await sign_up(client, USERNAME, PASSWORD)
    viral_product, viral_ad = await setup_ad(client, headers, external_id="tt-viral")
    product_ids = [viral_product]
    peer_ads: list[int] = []
    for name, platform in [("Heated Lunch Box", "Instagram"), ("Posture Corrector", "TikTok")]:
        product = await client.post(
            "/products", json={"name": name, "description": f"{name} for everyone"}, headers=headers
        )
        assert product.status_code == 201, product.text
        product_ids.append(product.json()["id"])
        for i in range(3):
            ad = await client.post(
                "/ads",
                json={
                    "product_id": product.json()["id"],
                    "platform": platform,
                    "ad_content": f"{name} #{i}",
                    "external_id": f"{name.lower().replace(' ', '-')}-{i}",
                },
                headers=headers,
            )
            assert ad.status_code == 201, ad.text
            peer_ads.append(ad.json()["id"])
    batch: list[dict[str, object]] = []
    for hours in range(168, -1, -12):
        age = 168 - hours
        for index, region in enumerate(REGIONS):
            batch.append(snap(viral_ad, hours, int((1000 + 300 * index) * 1.9 ** (age / 12)), region))
            batch.extend(snap(ad, hours, 2000 + 100 * index + age * (5 + ad % 7), region) for ad in peer_ads)
    ingest = await client.post("/engagement", json=batch, headers=headers)
    assert ingest.status_code == 200, ingest.text
    assert ingest.json()["stored"] == len(batch), ingest.text
    for product_id in product_ids:
        score = await client.post(f"/calculate-score/{product_id}", headers=headers)
        assert score.status_code == 200, score.text
    watch = await client.post("/watchlists", json={"product_id": viral_product}, headers=headers)
    assert watch.status_code == 201, watch.text
    rule = await client.post(
        "/alert-rules", json={"kind": "score_threshold", "threshold": 60}, headers=headers
    )
    assert rule.status_code == 201, rule.text
    return headers, product_ids


async def answers(client: Client, headers: Headers, product_ids: list[int]) -> Answers:
    """The raw bodies of the read endpoints, each of which must answer 200."""
    paths = [
        "/products?limit=100",
        "/trending",
        "/heat-map",
        "/scan-ads",
        "/watchlists",
        "/alert-rules",
        *(f"/trends/{product_id}" for product_id in product_ids),
    ]
    recorded: Answers = {}
    for path in paths:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        recorded[path] = response.content
    return recorded


async def fill_and_record(url: str, clock: MovableClock) -> tuple[Answers, list[int]]:
    async with client_for(url, clock) as client:
        headers, product_ids = await fill(client)
        return await answers(client, headers, product_ids), product_ids


async def log_in_and_record(url: str, clock: MovableClock, product_ids: list[int]) -> Answers:
    async with client_for(url, clock) as client:
        wrong = await client.post("/token", data={"username": USERNAME, "password": "not the password"})
        assert wrong.status_code == 401, wrong.text
        token = await client.post("/token", data={"username": USERNAME, "password": PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        return await answers(client, headers, product_ids)


def test_a_restored_database_serves_the_same_answers(tmp_path: Path) -> None:
    pg_dump, pg_restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if pg_dump is None or pg_restore is None:
        need("pg_dump and pg_restore (PostgreSQL client tools) are not on PATH")
        return
    clock = MovableClock(NOW)  # the same instant on both sides: the answers depend on "now"
    dump = tmp_path / "marketscout.dump"
    with (
        scratch_postgres_database("backup") as source,
        scratch_postgres_database("restore") as target,
    ):
        migrate.upgrade(source)
        before, product_ids = asyncio.run(fill_and_record(source, clock))
        assert b"Mini Projector" in before["/trending"], before["/trending"]
        assert b"Mini Projector" in before["/scan-ads"], before["/scan-ads"]
        assert before["/watchlists"] != b"[]" and before["/alert-rules"] != b"[]"
        assert all(b'"history":[]' not in before[f"/trends/{pid}"] for pid in product_ids)

        subprocess.run(
            [pg_dump, "--format=custom", "--no-owner", "--file", str(dump), libpq_url(source)],
            check=True,
            timeout=120,
        )
        subprocess.run(
            [pg_restore, "--no-owner", "--dbname", libpq_url(target), str(dump)],
            check=True,
            timeout=120,
        )

        assert migrate.current(target) == migrate.head()
        after = asyncio.run(log_in_and_record(target, clock, product_ids))
        assert list(after) == list(before)
        for path, body in before.items():
            assert after[path] == body, path
