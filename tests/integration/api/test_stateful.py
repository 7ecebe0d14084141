"""A Hypothesis state machine drives the API and checks it against a simple model: nothing is
lost or duplicated, each user only sees their own watchlist, ingestion is idempotent."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from litestar.testing import TestClient

from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container


class ApiMachine(RuleBasedStateMachine):
    users = Bundle("users")
    products = Bundle("products")

    def __init__(self) -> None:
        super().__init__()
        app = create_app(build_container(api_settings(argon2_memory_kib=19456), MovableClock(NOW)))
        self.client = TestClient(app=app)
        self.client.__enter__()
        self.watch: dict[str, set[int]] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.snapshots: set[tuple[int, int]] = set()
        self.ads: dict[int, int] = {}

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    @initialize(target=users)
    def first_user(self) -> str:
        return self._sign_up("user0")

    def _sign_up(self, name: str) -> str:
        password = "a long enough password"
        created = self.client.post(
            "/signup", json={"username": name, "email": f"{name}@example.com", "password": password}
        )
        assert created.status_code == 201
        token = self.client.post("/token", data={"username": name, "password": password}).json()[
            "access_token"
        ]
        self.headers[name] = {"Authorization": f"Bearer {token}"}
        self.watch[name] = set()
        return name

    @rule(target=users, n=st.integers(1, 10**6))
    def another_user(self, n: int) -> str:
        name = f"user{n}"
        if name in self.watch:
            return name
        return self._sign_up(name)

    @rule(target=products, user=users, name=st.text(min_size=1, max_size=30).filter(str.strip))
    def create_product(self, user: str, name: str) -> int:
        answer = self.client.post(
            "/products", json={"name": name, "description": "d"}, headers=self.headers[user]
        )
        assert answer.status_code == 201
        product_id: int = answer.json()["id"]
        ad = self.client.post(
            "/ads",
            json={"product_id": product_id, "platform": "TikTok", "ad_content": "x"},
            headers=self.headers[user],
        )
        self.ads[product_id] = ad.json()["id"]
        return product_id

    @rule(user=users, product=products)
    def watch_product(self, user: str, product: int) -> None:
        answer = self.client.post("/watchlists", json={"product_id": product}, headers=self.headers[user])
        assert answer.status_code == (200 if product in self.watch[user] else 201)
        self.watch[user].add(product)

    @rule(user=users, product=products)
    def unwatch_product(self, user: str, product: int) -> None:
        answer = self.client.delete(f"/watchlists/{product}", headers=self.headers[user])
        assert answer.status_code == (204 if product in self.watch[user] else 404)
        self.watch[user].discard(product)

    @rule(user=users, product=products, hour=st.integers(0, 48), views=st.integers(0, 10**6))
    def ingest(self, user: str, product: int, hour: int, views: int) -> None:
        item = {
            "ad_id": self.ads[product],
            "region": "US",
            "observed_at": (NOW - timedelta(hours=hour)).isoformat(),
            "views": views,
        }
        body = self.client.post("/engagement", json=[item, item], headers=self.headers[user]).json()
        key = (self.ads[product], hour)
        expected_stored = 0 if key in self.snapshots else 1
        assert (body["stored"], body["duplicates"]) == (expected_stored, 2 - expected_stored)
        self.snapshots.add(key)

    @invariant()
    def each_user_sees_exactly_their_watchlist(self) -> None:
        for user, expected in self.watch.items():
            listed = self.client.get("/watchlists", headers=self.headers[user]).json()
            ids = [entry["product_id"] for entry in listed]
            assert len(ids) == len(set(ids)), "no duplicates"
            assert set(ids) == expected


TestApiStateMachine = ApiMachine.TestCase
TestApiStateMachine.settings = settings(
    max_examples=15, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
)
