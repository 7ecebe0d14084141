"""A Hypothesis state machine drives the API and checks it against a simple model: nothing is
lost or duplicated, each user only sees their own watchlist, rules and alerts, ingestion is
idempotent, and an alert fires once per event (asking again raises nothing new)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule
from litestar.testing import TestClient

from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container

# A product name: any text but blank, and without control characters (refused with a 422).
NAMES = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=30).filter(str.strip)


class ApiMachine(RuleBasedStateMachine):
    users = Bundle("users")
    products = Bundle("products")
    rule_ids = Bundle("rule_ids")

    def __init__(self) -> None:
        super().__init__()
        app = create_app(build_container(api_settings(argon2_memory_kib=19456), MovableClock(NOW)))
        self.client = TestClient(app=app)
        self.client.__enter__()
        self.watch: dict[str, set[int]] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.snapshots: set[tuple[int, int]] = set()
        self.ads: dict[int, int] = {}
        self.user_rules: dict[str, set[int]] = {}
        # Every rule id a user ever had per condition (product, threshold): one event, one alert.
        self.conditions: dict[tuple[str, int, int], set[int]] = {}
        self.alerts_seen: dict[str, set[int]] = {}

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
        self.user_rules[name] = set()
        self.alerts_seen[name] = set()
        return name

    @rule(target=users, n=st.integers(1, 10**6))
    def another_user(self, n: int) -> str:
        name = f"user{n}"
        if name in self.watch:
            return name
        return self._sign_up(name)

    @rule(target=products, user=users, name=NAMES)
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

    @rule(target=rule_ids, user=users, product=products, threshold=st.sampled_from([1, 10, 50, 90]))
    def add_rule(self, user: str, product: int, threshold: int) -> tuple[str, int]:
        answer = self.client.post(
            "/alert-rules",
            json={"kind": "score_threshold", "product_id": product, "threshold": threshold},
            headers=self.headers[user],
        )
        ever = self.conditions.setdefault((user, product, threshold), set())
        existing = ever & self.user_rules[user]
        if existing:
            assert answer.status_code == 409, "an identical rule is refused"
            assert f"id {min(existing)}" in answer.json()["message"]
            return user, min(existing)
        assert answer.status_code == 201, answer.text
        rule_id: int = answer.json()["id"]
        assert all(rule_id not in ids for ids in self.user_rules.values()), "ids are never reused"
        self.user_rules[user].add(rule_id)
        ever.add(rule_id)
        return user, rule_id

    @precondition(lambda self: bool(self.snapshots))
    @rule(target=rule_ids, user=users, pick=st.integers(0, 10**6))
    def rule_on_an_active_product(self, user: str, pick: int) -> tuple[str, int]:
        """A rule at 1 on a product whose score stands at 1 or more has its event alerted (by
        this rule, or by an earlier rule of the same condition while the episode went on), each
        event once whichever of those rules saw it, and asking again raises nothing new. A
        product with engagement may score under 1 (its counter read lower, a gain of 0), and
        then a new episode once it rises again is a new event."""
        active = sorted(
            {product for product, ad in self.ads.items() if any(a == ad for a, _ in self.snapshots)}
        )
        product = active[pick % len(active)]
        owner, rule_id = self.add_rule(user, product, 1)
        first = self.client.get("/check-alerts", headers=self.headers[user]).json()["new_alerts"]
        listed = self.client.get("/alerts", params={"limit": 100}, headers=self.headers[user]).json()
        fired = [a for a in listed if a["rule_id"] in self.conditions[(user, product, 1)]]
        assert all(a["product_id"] == product for a in fired)
        events = [a["message"] for a in fired]
        assert len(events) == len(set(events)), ("one event, one alert across rules", first, listed)
        score = self.client.get(f"/products/{product}").json()["current_score"]
        if score is not None and score >= 1.1:  # rounded to 0.1: clearly at the threshold or above
            assert fired, ("the condition holds, so its event is alerted", score, first, listed)
        again = self.client.get("/check-alerts", headers=self.headers[user]).json()["new_alerts"]
        assert again == []
        return owner, rule_id

    @rule(user=users, target_rule=rule_ids)
    def delete_rule(self, user: str, target_rule: tuple[str, int]) -> None:
        owner, rule_id = target_rule
        answer = self.client.delete(f"/alert-rules/{rule_id}", headers=self.headers[user])
        mine = owner == user and rule_id in self.user_rules[user]
        assert answer.status_code == (204 if mine else 404), "another user's rule is not found"
        self.user_rules[user].discard(rule_id)

    @rule(user=users)
    def check_alerts_twice(self, user: str) -> None:
        first = self.client.get("/check-alerts", headers=self.headers[user])
        assert first.status_code == 200
        again = self.client.get("/check-alerts", headers=self.headers[user]).json()
        assert again["new_alerts"] == [], "nothing changed, so nothing fires again"

    @invariant()
    def each_user_sees_exactly_their_rules_and_alerts(self) -> None:
        for user, expected in self.user_rules.items():
            listed = self.client.get("/alert-rules", headers=self.headers[user]).json()
            assert {r["id"] for r in listed} == expected
            alerts = self.client.get("/alerts", params={"limit": 100}, headers=self.headers[user]).json()
            ids = [a["id"] for a in alerts]
            assert len(ids) == len(set(ids))
            assert self.alerts_seen[user] <= set(ids), "an alert once listed stays listed"
            self.alerts_seen[user] = set(ids)
            others = set().union(*(r for u, r in self.user_rules.items() if u != user))
            assert not {a["rule_id"] for a in alerts} & others, "never another user's rule's alert"
            events = [(a["rule_id"], a["product_id"], a["message"]) for a in alerts]
            assert len(events) == len(set(events)), "each event alerts once"

    @invariant()
    def each_user_sees_exactly_their_watchlist(self) -> None:
        for user, expected in self.watch.items():
            listed = self.client.get("/watchlists", headers=self.headers[user]).json()
            ids = [entry["product_id"] for entry in listed]
            assert len(ids) == len(set(ids)), "no duplicates"
            assert set(ids) == expected


TestApiStateMachine = ApiMachine.TestCase
TestApiStateMachine.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)
)
