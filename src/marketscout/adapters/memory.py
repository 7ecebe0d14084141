"""In-memory adapters for every repository port and the unit of work.

A unit of work works on copy-on-write views of the store's collections and publishes
them on ``commit()``; leaving without commit discards them, so a failed use case leaves
nothing behind. Units of work are serialised by a lock, which keeps this adapter simple
and correct; it is meant for tests, demos and embedding, not for scale.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import itertools
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from marketscout.domain.errors import Conflict
from marketscout.domain.gains import LOOKBACK, ad_gains, regional_activity, window_gains
from marketscout.domain.model import (
    Ad,
    AdGain,
    Alert,
    AlertRule,
    Channel,
    Delivery,
    DeliveryStatus,
    EngagementSnapshot,
    Platform,
    Product,
    RefreshToken,
    ScoreLevel,
    TrendingFilter,
    TrendingOrder,
    TrendScore,
    TrendStatus,
    User,
    WatchlistEntry,
    WindowGain,
    trending_key,
)
from marketscout.domain.ports import (
    AdRepository,
    AlertRepository,
    AlertRuleRepository,
    DeliveryRepository,
    EngagementStore,
    HealthProbe,
    ProductRepository,
    RefreshTokenRepository,
    RevokedAccessTokenRepository,
    ScoreRepository,
    SenderActivity,
    SentReadings,
    StoreResult,
    UnitOfWork,
    UserRepository,
    WatchlistRepository,
)
from marketscout.domain.scoring import ReadingSeries, hourly_series
from marketscout.domain.text import folded

SnapshotKey = tuple[int, str, datetime]

_COLLECTIONS = (
    "users",
    "refresh_tokens",
    "revoked_families",
    "revoked_access_tokens",
    "products",
    "ads",
    "scores",
    "watchlists",
    "alert_rules",
    "alerts",
    "deliveries",
    "engagement",
    "senders",
)


class InMemoryStore(HealthProbe):
    """The data every in-memory unit of work reads and, on commit, replaces."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[Any, Any]] = {name: {} for name in _COLLECTIONS}
        self.sequences: dict[str, int] = dict.fromkeys(_COLLECTIONS, 0)
        self.lock = asyncio.Lock()

    async def ready(self) -> bool:
        return True


class _Transaction:
    """Copy-on-write views of the store's collections for one unit of work."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._written: dict[str, dict[Any, Any]] = {}
        self._sequences = dict(store.sequences)
        self._copied_products: dict[str, set[int]] = {}

    def read(self, name: str) -> dict[Any, Any]:
        return self._written.get(name, self._store.collections[name])

    def write(self, name: str) -> dict[Any, Any]:
        if name not in self._written:
            self._written[name] = dict(self._store.collections[name])
        return self._written[name]

    def product_snapshots_for_write(self, product_id: int) -> dict[SnapshotKey, EngagementSnapshot]:
        inner: dict[SnapshotKey, EngagementSnapshot] = self._per_product_for_write("engagement", product_id)
        return inner

    def product_senders_for_write(self, product_id: int) -> dict[SnapshotKey, int]:
        """Who sent each of the product's stored readings that has a sender."""
        inner: dict[SnapshotKey, int] = self._per_product_for_write("senders", product_id)
        return inner

    def _per_product_for_write(self, name: str, product_id: int) -> dict[Any, Any]:
        # Engagement and its senders are nested per product; copy only the products this unit
        # touches.
        outer = self.write(name)
        copied = self._copied_products.setdefault(name, set())
        if product_id not in copied:
            outer[product_id] = dict(outer.get(product_id, {}))
            copied.add(product_id)
        inner: dict[Any, Any] = outer[product_id]
        return inner

    def next_id(self, name: str) -> int:
        self._sequences[name] += 1
        return self._sequences[name]

    def publish(self) -> None:
        self._store.collections.update(self._written)
        self._store.sequences.update(self._sequences)
        self._written = {}
        self._copied_products = {}


class _Repository:
    _name: str

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    def _rows(self) -> dict[Any, Any]:
        return self._tx.read(self._name)

    def _insert(self, entity: Any) -> Any:
        stored = dataclasses.replace(entity, id=self._tx.next_id(self._name))
        self._tx.write(self._name)[stored.id] = stored
        return stored


class InMemoryUserRepository(_Repository, UserRepository):
    _name = "users"

    async def add(self, user: User) -> User:
        taken = await self.username_or_email_taken(user.username, user.email)
        if taken is not None:
            raise Conflict(f"{taken} already registered", field=taken)
        stored: User = self._insert(user)
        return stored

    async def get(self, user_id: int) -> User | None:
        found: User | None = self._rows().get(user_id)
        return found

    async def get_by_username(self, username: str) -> User | None:
        wanted = username.casefold()
        return next((u for u in self._rows().values() if u.username.casefold() == wanted), None)

    async def get_by_email(self, email: str) -> User | None:
        wanted = email.casefold()
        return next((u for u in self._rows().values() if u.email.casefold() == wanted), None)

    async def username_or_email_taken(self, username: str, email: str) -> str | None:
        name, mail = username.casefold(), email.casefold()
        for user in self._rows().values():
            if user.username.casefold() == name:
                return "username"
            if user.email.casefold() == mail:
                return "email"
        return None

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        rows = self._tx.write(self._name)
        rows[user_id] = dataclasses.replace(rows[user_id], password_hash=password_hash)

    async def set_disabled(self, user_id: int, disabled_at: datetime | None) -> None:
        rows = self._tx.write(self._name)
        rows[user_id] = dataclasses.replace(rows[user_id], disabled_at=disabled_at)

    async def set_tokens_valid_after(self, user_id: int, at: datetime) -> None:
        rows = self._tx.write(self._name)
        rows[user_id] = dataclasses.replace(rows[user_id], tokens_valid_after=at)

    async def list(self, *, skip: int, limit: int) -> builtins.list[User]:
        return [self._rows()[key] for key in sorted(self._rows())][skip : skip + limit]


class InMemoryRefreshTokenRepository(_Repository, RefreshTokenRepository):
    """Tokens by id; the families revoked are kept aside too (family id -> None), so that
    :meth:`family_revoked`, asked at every authentication, does not scan every token."""

    _name = "refresh_tokens"
    _families = "revoked_families"

    async def add(self, token: RefreshToken) -> RefreshToken:
        stored: RefreshToken = self._insert(token)
        return stored

    async def get_by_digest(self, digest: str) -> RefreshToken | None:
        return next((t for t in self._rows().values() if t.digest == digest), None)

    async def mark_used(self, token_id: int, used_at: datetime) -> bool:
        token: RefreshToken | None = self._rows().get(token_id)
        if token is None or token.used_at is not None or token.revoked:
            return False
        self._tx.write(self._name)[token_id] = dataclasses.replace(token, used_at=used_at)
        return True

    async def family_revoked(self, family_id: str) -> bool:
        return family_id in self._tx.read(self._families)

    async def revoke_family(self, family_id: str) -> None:
        await self._revoke(lambda token: token.family_id == family_id)

    async def revoke_user(self, user_id: int) -> None:
        await self._revoke(lambda token: token.user_id == user_id)

    async def _revoke(self, chosen: Callable[[RefreshToken], bool]) -> None:
        rows = self._tx.write(self._name)
        families = self._tx.write(self._families)
        for token_id, token in list(rows.items()):
            if chosen(token):
                rows[token_id] = dataclasses.replace(token, revoked=True)
                families[token.family_id] = None


class InMemoryRevokedAccessTokenRepository(_Repository, RevokedAccessTokenRepository):
    """Token id -> the time it expires."""

    _name = "revoked_access_tokens"

    async def add(self, token_id: str, expires_at: datetime) -> None:
        self._tx.write(self._name).setdefault(token_id, expires_at)

    async def is_revoked(self, token_id: str) -> bool:
        return token_id in self._rows()

    async def prune(self, before: datetime) -> int:
        expired = [token_id for token_id, expires_at in self._rows().items() if expires_at < before]
        if expired:
            rows = self._tx.write(self._name)
            for token_id in expired:
                del rows[token_id]
        return len(expired)


class InMemoryProductRepository(_Repository, ProductRepository):
    _name = "products"

    async def add(self, product: Product) -> Product:
        stored: Product = self._insert(product)
        return stored

    async def get(self, product_id: int) -> Product | None:
        found: Product | None = self._rows().get(product_id)
        return found

    async def get_many(self, product_ids: Iterable[int]) -> dict[int, Product]:
        rows = self._rows()
        return {pid: rows[pid] for pid in product_ids if pid in rows}

    async def list(self, *, skip: int, limit: int, query: str | None = None) -> builtins.list[Product]:
        products: Iterable[Product] = sorted(self._rows().values(), key=lambda p: p.id)
        if query:
            needle = folded(query)
            products = (p for p in products if needle in folded(p.name))
        return list(itertools.islice(products, skip, skip + limit))

    async def named(self, name: str) -> builtins.list[Product]:
        key = folded(name)
        return sorted((p for p in self._rows().values() if folded(p.name) == key), key=lambda p: p.id)

    async def all_ids(self) -> builtins.list[int]:
        return sorted(self._rows())

    async def categories(self) -> builtins.list[str]:
        return sorted({p.category for p in self._rows().values() if p.category is not None})

    async def any_synthetic(self) -> bool:
        return any(p.synthetic for p in self._rows().values())


class InMemoryAdRepository(_Repository, AdRepository):
    _name = "ads"

    async def add(self, ad: Ad) -> Ad:
        if ad.external_id is not None and await self.get_by_external_id(ad.platform, ad.external_id):
            raise Conflict(
                f"an ad with external_id {ad.external_id!r} exists on {ad.platform}", "external_id"
            )
        stored: Ad = self._insert(ad)
        return stored

    async def get(self, ad_id: int) -> Ad | None:
        found: Ad | None = self._rows().get(ad_id)
        return found

    async def get_many(self, ad_ids: Iterable[int]) -> dict[int, Ad]:
        rows = self._rows()
        return {aid: rows[aid] for aid in ad_ids if aid in rows}

    async def first_seen_dates(self, ad_ids: Iterable[int]) -> dict[int, datetime]:
        rows = self._rows()
        return {aid: seen for aid in ad_ids if aid in rows and (seen := rows[aid].first_seen_at) is not None}

    async def owners(self, ad_ids: Iterable[int]) -> dict[int, tuple[int, Platform]]:
        rows = self._rows()
        return {aid: (rows[aid].product_id, rows[aid].platform) for aid in ad_ids if aid in rows}

    async def get_by_external_id(self, platform: Platform, external_id: str) -> Ad | None:
        return next(
            (a for a in self._rows().values() if a.platform == platform and a.external_id == external_id),
            None,
        )

    async def list(
        self,
        *,
        skip: int,
        limit: int,
        product_id: int | None = None,
        platform: Platform | None = None,
    ) -> builtins.list[Ad]:
        ads = (
            a
            for a in sorted(self._rows().values(), key=lambda a: a.id)
            if (product_id is None or a.product_id == product_id)
            and (platform is None or a.platform == platform)
        )
        return list(itertools.islice(ads, skip, skip + limit))


class InMemoryEngagementStore(_Repository, EngagementStore):
    _name = "engagement"

    async def add_many(
        self, snapshots: Sequence[EngagementSnapshot], *, sender: int | None = None
    ) -> StoreResult:
        stored = duplicates = 0
        for snapshot in snapshots:
            current = self._rows().get(snapshot.product_id, {})
            if snapshot.key in current:
                duplicates += 1
                continue
            self._tx.product_snapshots_for_write(snapshot.product_id)[snapshot.key] = snapshot
            if sender is not None:
                self._tx.product_senders_for_write(snapshot.product_id)[snapshot.key] = sender
            stored += 1
        return StoreResult(stored=stored, duplicates=duplicates)

    def _sent(self, sender: int, since: datetime | None) -> dict[int, builtins.list[SnapshotKey]]:
        """The keys of the readings ``sender`` sent (observed at or after ``since``), per product."""
        found: dict[int, builtins.list[SnapshotKey]] = {}
        for product_id, senders in self._tx.read("senders").items():
            keys = [k for k, who in senders.items() if who == sender and (since is None or k[2] >= since)]
            if keys:
                found[product_id] = keys
        return found

    async def sent_by(self, sender: int, *, since: datetime | None = None) -> SentReadings:
        found = self._sent(sender, since)
        return SentReadings(sum(map(len, found.values())), frozenset(found))

    async def remove_sent_by(self, sender: int, *, since: datetime | None = None) -> SentReadings:
        found = self._sent(sender, since)
        for product_id, keys in found.items():
            readings = self._tx.product_snapshots_for_write(product_id)
            senders = self._tx.product_senders_for_write(product_id)
            for key in keys:
                del readings[key], senders[key]
        return SentReadings(sum(map(len, found.values())), frozenset(found))

    async def prune(self, before: datetime, *, dry_run: bool = False) -> int:
        gone = {
            product_id: [key for key, snapshot in readings.items() if snapshot.observed_at < before]
            for product_id, readings in self._rows().items()
        }
        if not dry_run:
            for product_id, keys in gone.items():
                if not keys:
                    continue
                readings = self._tx.product_snapshots_for_write(product_id)
                senders = self._tx.product_senders_for_write(product_id)
                for key in keys:
                    del readings[key]
                    senders.pop(key, None)
        return sum(map(len, gone.values()))

    async def senders(self) -> builtins.list[SenderActivity]:
        readings: dict[int, int] = {}
        products: dict[int, set[int]] = {}
        first: dict[int, datetime] = {}
        last: dict[int, datetime] = {}
        for product_id, senders in self._tx.read("senders").items():
            for (_, _, observed_at), who in senders.items():
                readings[who] = readings.get(who, 0) + 1
                products.setdefault(who, set()).add(product_id)
                first[who] = min(first.get(who, observed_at), observed_at)
                last[who] = max(last.get(who, observed_at), observed_at)
        return [
            SenderActivity(who, readings[who], len(products[who]), first[who], last[who])
            for who in sorted(readings)
        ]

    async def for_products(
        self, product_ids: Iterable[int], *, until: datetime | None = None, since: datetime | None = None
    ) -> dict[int, list[EngagementSnapshot]]:
        rows = self._rows()
        result: dict[int, list[EngagementSnapshot]] = {}
        for pid in product_ids:
            snaps = [
                s
                for s in rows.get(pid, {}).values()
                if (until is None or s.observed_at <= until) and (since is None or s.observed_at >= since)
            ]
            snaps.sort(key=lambda s: (s.observed_at, s.ad_id, s.region))
            result[pid] = snaps
        return result

    async def since(
        self, start: datetime, *, until: datetime | None = None
    ) -> builtins.list[EngagementSnapshot]:
        found = [
            s
            for per_product in self._rows().values()
            for s in per_product.values()
            if s.observed_at >= start and (until is None or s.observed_at <= until)
        ]
        found.sort(key=lambda s: (s.observed_at, s.ad_id, s.region))
        return found

    async def last_observed_at(self, ad_ids: Iterable[int]) -> dict[int, datetime]:
        wanted = set(ad_ids)
        last: dict[int, datetime] = {}
        for per_product in self._rows().values():
            for s in per_product.values():
                if s.ad_id in wanted and (s.ad_id not in last or s.observed_at > last[s.ad_id]):
                    last[s.ad_id] = s.observed_at
        return last

    async def window_gains(
        self,
        start: datetime,
        end: datetime,
        *,
        product_ids: Iterable[int] | None = None,
        regions: Iterable[str] | None = None,
    ) -> builtins.list[WindowGain]:
        rows = self._rows()
        chosen = rows.keys() if product_ids is None else [pid for pid in set(product_ids) if pid in rows]
        earliest = start - LOOKBACK
        kept = None if regions is None else frozenset(regions)
        snapshots = (
            s
            for pid in chosen
            for s in rows[pid].values()
            if earliest < s.observed_at <= end and (kept is None or s.region in kept)
        )
        return window_gains(snapshots, start, end)

    async def scoring_series(
        self, product_ids: Iterable[int], *, since: datetime, until: datetime
    ) -> AsyncGenerator[tuple[int, builtins.list[ReadingSeries]], None]:
        rows = self._rows()
        for pid in sorted(set(product_ids)):
            series = hourly_series(rows.get(pid, {}).values(), since=since, until=until)
            if series:
                yield pid, series

    async def regional_activity(self, start: datetime, end: datetime) -> dict[str, int]:
        return regional_activity(await self.window_gains(start, end))

    async def ad_gains(self, start: datetime, end: datetime) -> builtins.list[AdGain]:
        return ad_gains(await self.window_gains(start, end))

    async def products_with_engagement(self) -> builtins.list[int]:
        return sorted(pid for pid, snaps in self._rows().items() if snaps)


class InMemoryScoreRepository(_Repository, ScoreRepository):
    _name = "scores"

    async def add(self, score: TrendScore) -> TrendScore:
        stored: TrendScore = self._insert(score)
        return stored

    async def latest(self, product_id: int) -> TrendScore | None:
        history = await self.history(product_id)
        return history[-1] if history else None

    async def add_many(self, scores: Sequence[TrendScore]) -> builtins.list[TrendScore]:
        return [await self.add(score) for score in scores]

    async def latest_many(self, product_ids: Iterable[int]) -> dict[int, TrendScore]:
        wanted = set(product_ids)
        return {s.product_id: s for s in await self.latest_all() if s.product_id in wanted}

    async def latest_all(self) -> builtins.list[TrendScore]:
        latest: dict[int, TrendScore] = {}
        for score in self._rows().values():
            seen = latest.get(score.product_id)
            if seen is None or (score.calculated_at, score.id) > (seen.calculated_at, seen.id):
                latest[score.product_id] = score
        return list(latest.values())

    async def latest_levels(self, product_ids: Iterable[int]) -> dict[int, ScoreLevel]:
        wanted = set(product_ids)
        return {
            s.product_id: ScoreLevel(s.score, s.status, s.calculated_at)
            for s in await self.latest_all()
            if s.product_id in wanted
        }

    async def stale(self, before: datetime, limit: int) -> builtins.list[int]:
        found = [
            s
            for s in await self.latest_all()
            if s.calculated_at < before and not (s.score == 0 and s.status == TrendStatus.STEADY)
        ]
        found.sort(key=lambda s: (s.calculated_at, s.product_id))
        return [s.product_id for s in found[:limit]]

    async def _ranked(
        self, keep: TrendingFilter, order: TrendingOrder = TrendingOrder.SCORE
    ) -> builtins.list[TrendScore]:
        """Every score :meth:`ranked` lists with ``keep``, in order: what the list and its count
        both read. A product must exist, as the SQL stores' foreign key makes it."""
        products: dict[int, Product] = self._tx.read("products")
        kept = [
            s
            for s in await self.latest_all()
            if (product := products.get(s.product_id)) is not None and keep.keeps(s, product)
        ]
        kept.sort(key=lambda s: trending_key(order, s, products[s.product_id]))
        return kept

    async def ranked(
        self, keep: TrendingFilter, *, limit: int, skip: int = 0, order: TrendingOrder = TrendingOrder.SCORE
    ) -> builtins.list[TrendScore]:
        return (await self._ranked(keep, order))[skip : skip + limit]

    async def count_ranked(self, keep: TrendingFilter) -> int:
        return len(await self._ranked(keep))

    async def history(self, product_id: int, *, since: datetime | None = None) -> builtins.list[TrendScore]:
        found = [
            s
            for s in self._rows().values()
            if s.product_id == product_id and (since is None or s.calculated_at >= since)
        ]
        return sorted(found, key=lambda s: (s.calculated_at, s.id))

    async def prune(self, before: datetime, *, dry_run: bool = False) -> int:
        latest = {s.id for s in await self.latest_all()}
        gone = [s.id for s in self._rows().values() if s.calculated_at < before and s.id not in latest]
        if not dry_run:
            rows = self._tx.write(self._name)
            for score_id in gone:
                del rows[score_id]
        return len(gone)


class InMemoryWatchlistRepository(_Repository, WatchlistRepository):
    _name = "watchlists"

    async def add_if_new(self, entry: WatchlistEntry) -> WatchlistEntry | None:
        if await self.get(entry.user_id, entry.product_id) is not None:
            return None
        stored: WatchlistEntry = self._insert(entry)
        return stored

    async def get(self, user_id: int, product_id: int) -> WatchlistEntry | None:
        return next(
            (e for e in self._rows().values() if e.user_id == user_id and e.product_id == product_id),
            None,
        )

    async def list(
        self, user_id: int, *, skip: int = 0, limit: int | None = None
    ) -> builtins.list[WatchlistEntry]:
        found = sorted((e for e in self._rows().values() if e.user_id == user_id), key=lambda e: e.id)
        return found[skip : None if limit is None else skip + limit]

    async def remove(self, user_id: int, product_id: int) -> bool:
        entry = await self.get(user_id, product_id)
        if entry is None:
            return False
        del self._tx.write(self._name)[entry.id]
        return True

    async def users_watching(self, product_ids: Iterable[int]) -> set[int]:
        wanted = set(product_ids)
        return {e.user_id for e in self._rows().values() if e.product_id in wanted}


class InMemoryAlertRuleRepository(_Repository, AlertRuleRepository):
    _name = "alert_rules"

    async def hold(self, user_id: int) -> None:
        """Nothing to do: a unit of work over the in-memory store holds all of it."""

    async def add(self, rule: AlertRule) -> AlertRule:
        stored: AlertRule = self._insert(rule)
        return stored

    async def list(
        self, user_id: int, *, skip: int = 0, limit: int | None = None
    ) -> builtins.list[AlertRule]:
        found = sorted((r for r in self._rows().values() if r.user_id == user_id), key=lambda r: r.id)
        return found[skip : None if limit is None else skip + limit]

    async def list_all(self) -> builtins.list[AlertRule]:
        return sorted(self._rows().values(), key=lambda r: r.id)

    async def remove(self, user_id: int, rule_id: int) -> bool:
        rule: AlertRule | None = self._rows().get(rule_id)
        if rule is None or rule.user_id != user_id:
            return False
        del self._tx.write(self._name)[rule_id]
        return True

    async def replace(self, rule: AlertRule) -> bool:
        stored: AlertRule | None = self._rows().get(rule.id)
        if stored is None or stored.user_id != rule.user_id:
            return False
        self._tx.write(self._name)[rule.id] = rule
        return True


class InMemoryAlertRepository(_Repository, AlertRepository):
    _name = "alerts"

    async def add_if_new(self, alert: Alert) -> Alert | None:
        if alert.event_key in await self.event_keys(alert.user_id):
            return None
        stored: Alert = self._insert(alert)
        return stored

    async def list(
        self, user_id: int, *, unread_only: bool = False, skip: int = 0, limit: int = 100
    ) -> builtins.list[Alert]:
        found = [a for a in self._rows().values() if a.user_id == user_id and not (unread_only and a.read_at)]
        found.sort(key=lambda a: (a.created_at, a.id), reverse=True)
        return found[skip : skip + limit]

    async def mark_read(self, user_id: int, alert_ids: Iterable[int] | None, at: datetime) -> int:
        wanted = None if alert_ids is None else set(alert_ids)
        changed = 0
        for alert in list(self._rows().values()):
            if alert.user_id != user_id or alert.read_at is not None:
                continue
            if wanted is not None and alert.id not in wanted:
                continue
            self._tx.write(self._name)[alert.id] = dataclasses.replace(alert, read_at=at)
            changed += 1
        return changed

    async def count_unread(self, user_id: int) -> int:
        return sum(1 for a in self._rows().values() if a.user_id == user_id and a.read_at is None)

    async def event_keys(self, user_id: int) -> set[str]:
        return {a.event_key for a in self._rows().values() if a.user_id == user_id}

    async def has_event(self, user_id: int, key_prefix: str) -> bool:
        return any(a.user_id == user_id and a.event_key.startswith(key_prefix) for a in self._rows().values())

    async def get(self, alert_id: int) -> Alert | None:
        found: Alert | None = self._rows().get(alert_id)
        return found


class InMemoryDeliveryRepository(_Repository, DeliveryRepository):
    _name = "deliveries"

    async def add(self, delivery: Delivery) -> Delivery | None:
        if any(
            d.alert_id == delivery.alert_id and d.channel == delivery.channel for d in self._rows().values()
        ):
            return None
        stored: Delivery = self._insert(delivery)
        return stored

    async def due(self, now: datetime, limit: int) -> builtins.list[Delivery]:
        found = [
            d
            for d in self._rows().values()
            if d.status == DeliveryStatus.PENDING and d.next_attempt_at <= now
        ]
        found.sort(key=lambda d: (d.next_attempt_at, d.id))
        return found[:limit]

    async def claim(self, delivery_id: int, now: datetime) -> Delivery | None:
        found: Delivery | None = self._rows().get(delivery_id)
        if found is None or found.status != DeliveryStatus.PENDING:
            return None
        claimed = dataclasses.replace(
            found, status=DeliveryStatus.SENDING, attempts=found.attempts + 1, claimed_at=now
        )
        self._tx.write(self._name)[delivery_id] = claimed
        return claimed

    async def record(self, delivery: Delivery) -> None:
        if delivery.id in self._rows():
            self._tx.write(self._name)[delivery.id] = delivery

    async def stale(self, claimed_before: datetime) -> builtins.list[Delivery]:
        return sorted(
            (
                d
                for d in self._rows().values()
                if d.status == DeliveryStatus.SENDING
                and d.claimed_at is not None
                and d.claimed_at < claimed_before
            ),
            key=lambda d: d.id,
        )

    async def cancel(self, user_id: int, rule_id: int, reason: str, *, channel: Channel | None = None) -> int:
        alerts: dict[int, Alert] = self._tx.read("alerts")
        raised = {a.id for a in alerts.values() if a.user_id == user_id and a.rule_id == rule_id}
        cancelled = [
            dataclasses.replace(d, status=DeliveryStatus.CANCELLED, last_error=reason)
            for d in self._rows().values()
            if d.user_id == user_id
            and d.status == DeliveryStatus.PENDING
            and d.alert_id in raised
            and (channel is None or d.channel == channel)
        ]
        rows = self._tx.write(self._name) if cancelled else {}
        for delivery in cancelled:
            rows[delivery.id] = delivery
        return len(cancelled)

    async def list(
        self, user_id: int, *, status: DeliveryStatus | None = None, skip: int = 0, limit: int = 100
    ) -> builtins.list[Delivery]:
        found = [
            d
            for d in self._rows().values()
            if d.user_id == user_id and (status is None or d.status == status)
        ]
        found.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return found[skip : skip + limit]


class InMemoryUnitOfWork(UnitOfWork):
    """A unit of work over an :class:`InMemoryStore`; one per use case."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._tx: _Transaction | None = None

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        tx = _Transaction(self._store)
        self._tx = tx
        self.users = InMemoryUserRepository(tx)
        self.refresh_tokens = InMemoryRefreshTokenRepository(tx)
        self.revoked_access_tokens = InMemoryRevokedAccessTokenRepository(tx)
        self.products = InMemoryProductRepository(tx)
        self.ads = InMemoryAdRepository(tx)
        self.engagement = InMemoryEngagementStore(tx)
        self.scores = InMemoryScoreRepository(tx)
        self.watchlists = InMemoryWatchlistRepository(tx)
        self.alert_rules = InMemoryAlertRuleRepository(tx)
        self.alerts = InMemoryAlertRepository(tx)
        self.deliveries = InMemoryDeliveryRepository(tx)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        finally:
            self._tx = None
            self._store.lock.release()

    async def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("commit() outside the unit of work")
        self._tx.publish()

    async def rollback(self) -> None:
        if self._tx is not None:
            self._tx = _Transaction(self._store)
            self._rebind(self._tx)

    def _rebind(self, tx: _Transaction) -> None:
        for repo in (
            self.users,
            self.refresh_tokens,
            self.products,
            self.ads,
            self.engagement,
            self.scores,
            self.watchlists,
            self.alert_rules,
            self.alerts,
            self.deliveries,
        ):
            repo._tx = tx
