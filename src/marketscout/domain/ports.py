"""Ports: the narrow interfaces the domain needs from the outside world.

Adapters subclass these Protocols (so mypy proves conformance) and translate their
driver's errors into :mod:`marketscout.domain.errors`. Repositories never commit; the
unit of work does.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

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
    User,
    WatchlistEntry,
    WindowGain,
)
from marketscout.domain.scoring import ReadingSeries


@runtime_checkable
class Clock(Protocol):
    """The current time, always timezone-aware UTC."""

    def now(self) -> datetime: ...


@runtime_checkable
class PasswordHasher(Protocol):
    """Hashes and checks passwords without blocking the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """True when the password matches; never raises for a mismatch."""
        ...

    async def dummy_verify(self, password: str) -> None:
        """Spends the time of a real check, so unknown users answer as slowly as known ones."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    expires_in: int
    token_id: str


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid access token says: whom it speaks for, its id, when it was issued (to the
    microsecond) and expires, and the login (refresh-token family) it was issued for; None for a
    token issued before tokens named their login."""

    user_id: int
    token_id: str
    issued_at: datetime
    expires_at: datetime
    family_id: str | None = None


@runtime_checkable
class TokenIssuer(Protocol):
    """Issues and checks signed access tokens, and mints opaque refresh tokens."""

    def issue_access(self, user_id: int, family_id: str) -> IssuedAccessToken:
        """A token issued now, to the microsecond (the Clock's time), for the login ``family_id``
        (read back as :attr:`AccessClaims.family_id`)."""
        ...

    def read_access(self, token: str) -> AccessClaims:
        """The claims of an access token that is well signed and not expired; raises
        AuthenticationFailed otherwise. Whether it was revoked is the store's to say."""
        ...

    def new_refresh_token(self) -> str:
        """A fresh unguessable opaque token."""
        ...

    @property
    def refresh_lifetime_seconds(self) -> int: ...


@runtime_checkable
class UserRepository(Protocol):
    """Accounts; usernames and e-mails are unique case-insensitively."""

    async def add(self, user: User) -> User:
        """Stores a new user and returns it with its id; Conflict on a duplicate."""
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def get_by_username(self, username: str) -> User | None:
        """Case-insensitive look-up."""
        ...

    async def get_by_email(self, email: str) -> User | None:
        """Case-insensitive look-up of the address as stored (trimmed)."""
        ...

    async def username_or_email_taken(self, username: str, email: str) -> str | None:
        """The name of the field already taken ("username" or "email"), or None."""
        ...

    async def set_password_hash(self, user_id: int, password_hash: str) -> None: ...

    async def set_disabled(self, user_id: int, disabled_at: datetime | None) -> None:
        """Disables the account from that time (None: enables it)."""
        ...

    async def set_tokens_valid_after(self, user_id: int, at: datetime) -> None:
        """From now on, the account's access tokens issued before ``at`` no longer count; kept
        to the microsecond."""
        ...

    async def list(self, *, skip: int, limit: int) -> builtins.list[User]:
        """Accounts by id, ``limit`` of them after the first ``skip``."""
        ...


@runtime_checkable
class RefreshTokenRepository(Protocol):
    """Refresh tokens by digest, grouped in rotation families."""

    async def add(self, token: RefreshToken) -> RefreshToken: ...

    async def get_by_digest(self, digest: str) -> RefreshToken | None: ...

    async def mark_used(self, token_id: int, used_at: datetime) -> bool:
        """Marks an unused, unrevoked token used, in one step; False when it was already used (a
        race or a replay) or revoked (also by a revocation that ended after it was read)."""
        ...

    async def family_revoked(self, family_id: str) -> bool:
        """Whether the login was revoked: any of its tokens is. So a token a refresh added to it
        while a revocation ran (and that the revocation did not see) counts as revoked too.
        False for a login with no token stored. Cheap: asked at every authentication."""
        ...

    async def revoke_family(self, family_id: str) -> None:
        """Revokes every token of the login (one rotation family)."""
        ...

    async def revoke_user(self, user_id: int) -> None:
        """Revokes every refresh token of the user (every login it has)."""
        ...


@runtime_checkable
class RevokedAccessTokenRepository(Protocol):
    """Access tokens ended before they expire (a log-out), by token id, each kept until it
    expires (then it is refused as expired anyway)."""

    async def add(self, token_id: str, expires_at: datetime) -> None:
        """Records the token as revoked; recording it again changes nothing."""
        ...

    async def is_revoked(self, token_id: str) -> bool: ...

    async def prune(self, before: datetime) -> int:
        """Forgets the tokens that expire before ``before``; how many."""
        ...


@runtime_checkable
class ProductRepository(Protocol):
    """The product catalogue."""

    async def add(self, product: Product) -> Product: ...

    async def get(self, product_id: int) -> Product | None: ...

    async def get_many(self, product_ids: Iterable[int]) -> dict[int, Product]: ...

    async def list(self, *, skip: int, limit: int, query: str | None = None) -> builtins.list[Product]:
        """Products by id; ``query`` matches names case-insensitively as a substring."""
        ...

    async def named(self, name: str) -> builtins.list[Product]:
        """The products whose whole name is ``name`` in any case and Unicode form (``text.folded``), by id."""
        ...

    async def all_ids(self) -> builtins.list[int]: ...

    async def categories(self) -> builtins.list[str]:
        """The categories products have, each once, in alphabetical order (as ``sorted`` orders)."""
        ...

    async def any_synthetic(self) -> bool:
        """Whether any stored product is synthetic demo data (:attr:`Product.synthetic`)."""
        ...


@runtime_checkable
class AdRepository(Protocol):
    """Ads and posts; ``(platform, external_id)`` is unique."""

    async def add(self, ad: Ad) -> Ad:
        """Stores a new ad; Conflict on a duplicate external id."""
        ...

    async def get(self, ad_id: int) -> Ad | None: ...

    async def get_many(self, ad_ids: Iterable[int]) -> dict[int, Ad]: ...

    async def first_seen_dates(self, ad_ids: Iterable[int]) -> dict[int, datetime]:
        """``first_seen_at`` of those of the ads that have one (the scan's ages), nothing else."""
        ...

    async def owners(self, ad_ids: Iterable[int]) -> dict[int, tuple[int, Platform]]:
        """The product and platform of each of the ads that exist (what a snapshot copies from
        its ad at ingest), nothing else."""
        ...

    async def get_by_external_id(self, platform: Platform, external_id: str) -> Ad | None: ...

    async def list(
        self,
        *,
        skip: int,
        limit: int,
        product_id: int | None = None,
        platform: Platform | None = None,
    ) -> builtins.list[Ad]: ...


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class SentReadings:
    """Stored readings one account sent (all, or those observed from a time on): how many, and
    the products they are of."""

    readings: int
    product_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class SenderActivity:
    """What one account has sent that is stored: its readings, their products, and the
    earliest and latest times they were observed at."""

    sender: int
    readings: int
    products: int
    first_observed: datetime
    last_observed: datetime


@runtime_checkable
class EngagementStore(Protocol):
    """Engagement snapshots, idempotent on (ad, region, observed_at). Each stored snapshot
    remembers the account that sent it (``sender``, a user id; None for the operator's own
    collectors and commands), so that an operator can remove one account's readings."""

    async def add_many(
        self, snapshots: Sequence[EngagementSnapshot], *, sender: int | None = None
    ) -> StoreResult:
        """Stores the snapshots not already stored, as sent by ``sender``; duplicates are
        counted, not errors (the reading stored first stands, whoever sent it)."""
        ...

    async def sent_by(self, sender: int, *, since: datetime | None = None) -> SentReadings:
        """The stored readings ``sender`` sent, those observed at or after ``since`` when given."""
        ...

    async def remove_sent_by(self, sender: int, *, since: datetime | None = None) -> SentReadings:
        """Removes what :meth:`sent_by` counts; every read then answers as if those readings had
        never been stored (the rollups of the hours and days they were in are made again from
        the readings kept). Returns what was removed."""
        ...

    async def senders(self) -> builtins.list[SenderActivity]:
        """Every account with stored readings, by id."""
        ...

    async def prune(self, before: datetime, *, dry_run: bool = False) -> int:
        """Removes the readings observed before ``before`` (with ``dry_run``, removes nothing),
        and what the store keeps of them hour by hour; returns how many readings. Every read of
        what was observed at or after ``before`` answers as it did. A store that keeps each
        day's totals (SQL) keeps them, and answers windows reaching further back from them; the
        in-memory store, which keeps none, no longer counts those readings."""
        ...

    async def for_products(
        self, product_ids: Iterable[int], *, until: datetime | None = None, since: datetime | None = None
    ) -> dict[int, list[EngagementSnapshot]]:
        """Each product's snapshots observed in [since, until] (either bound optional), oldest first."""
        ...

    def scoring_series(
        self, product_ids: Iterable[int], *, since: datetime, until: datetime
    ) -> AsyncGenerator[tuple[int, builtins.list[ReadingSeries]], None]:
        """Each of these products that has readings in the window, in id order, with its
        readings compacted per ad, region and hour and grouped per ad and region, as
        :func:`domain.scoring.hourly_series` defines them (what re-scoring reads). A stream, so
        that the caller scores each product as it comes and a store need hold only a slice of
        the products at a time; until the iteration ends the unit of work runs nothing else but
        the writes of :meth:`ScoreRepository.add_stream` fed from it (re-scoring)."""
        ...

    async def since(
        self, start: datetime, *, until: datetime | None = None
    ) -> builtins.list[EngagementSnapshot]:
        """Every snapshot observed in [start, until], oldest first."""
        ...

    async def last_observed_at(self, ad_ids: Iterable[int]) -> dict[int, datetime]: ...

    async def window_gains(
        self,
        start: datetime,
        end: datetime,
        *,
        product_ids: Iterable[int] | None = None,
        regions: Iterable[str] | None = None,
    ) -> builtins.list[WindowGain]:
        """Views gained per (ad, region) in ``(start, end]``, as :func:`domain.gains.window_gains`
        defines, of those products and of those regions only when given."""
        ...

    async def ad_gains(self, start: datetime, end: datetime) -> builtins.list[AdGain]:
        """Views gained per ad in ``(start, end]`` by every ad, as :func:`domain.gains.ad_gains`
        defines it from the window's gains (ordered by ad id)."""
        ...

    async def regional_activity(self, start: datetime, end: datetime) -> dict[str, int]:
        """Views gained per region in ``(start, end]`` by every ad, as
        :func:`domain.gains.regional_activity` defines it (regions with a gain listed)."""
        ...

    async def products_with_engagement(self) -> builtins.list[int]: ...


@runtime_checkable
class ScoreRepository(Protocol):
    """Stored trend scores, the history of each product."""

    async def add(self, score: TrendScore) -> TrendScore: ...

    async def add_many(self, scores: Sequence[TrendScore]) -> builtins.list[TrendScore]:
        """Stores the scores in one round trip; the stored ones (with ids), in the same order."""
        ...

    async def add_stream(self, scores: AsyncIterable[TrendScore]) -> builtins.list[TrendScore]:
        """Stores the scores as they come (re-scoring's engine makes them one by one), so that a
        store may write some while the next are computed; the stored ones (with ids), in the same
        order. Here: all of them, then :meth:`add_many`. Give them in product order: concurrent
        writers then take the products' rows in the same order."""
        return await self.add_many([score async for score in scores])

    async def latest(self, product_id: int) -> TrendScore | None: ...

    async def latest_many(self, product_ids: Iterable[int]) -> dict[int, TrendScore]:
        """The latest score of each of these products that has one (as ``latest`` would give)."""
        ...

    async def latest_all(self) -> builtins.list[TrendScore]:
        """The latest score of every scored product."""
        ...

    async def latest_levels(self, product_ids: Iterable[int]) -> dict[int, ScoreLevel]:
        """The latest score, status and time of each of these products that has one (no
        components: what a listing shows and re-scoring compares with)."""
        ...

    async def stale(self, before: datetime, limit: int) -> builtins.list[int]:
        """Products whose latest score was calculated before ``before`` and is not the floor
        (score 0, steady), which time alone cannot change: oldest first (ties: lower id first),
        at most ``limit``."""
        ...

    async def ranked(
        self, keep: TrendingFilter, *, limit: int, skip: int = 0, order: TrendingOrder = TrendingOrder.SCORE
    ) -> builtins.list[TrendScore]:
        """The latest scores of the products ``keep`` keeps, in ``order`` (by default highest first,
        ties: lower product id first; :func:`~marketscout.domain.model.trending_key` says each
        order): at most ``limit`` of them, after the first ``skip``."""
        ...

    async def count_ranked(self, keep: TrendingFilter) -> int:
        """How many products :meth:`ranked` lists with ``keep`` over all its pages (a SQL store
        counts them in one query, reading no score)."""
        ...

    async def history(self, product_id: int, *, since: datetime | None = None) -> builtins.list[TrendScore]:
        """Oldest first."""
        ...

    async def prune(self, before: datetime, *, dry_run: bool = False) -> int:
        """Removes the scores calculated before ``before``, except each product's latest (kept
        whatever its age: what listings, alert rules and re-scoring read); how many it removed
        (with ``dry_run``, how many it would remove, removing nothing)."""
        ...


@runtime_checkable
class WatchlistRepository(Protocol):
    """Users' watchlists; one entry per user and product."""

    async def add_if_new(self, entry: WatchlistEntry) -> WatchlistEntry | None:
        """Stores the entry unless the user has the product on the list already (None then),
        also when that entry is being added by another unit of work at the same moment."""
        ...

    async def get(self, user_id: int, product_id: int) -> WatchlistEntry | None: ...

    async def list(
        self, user_id: int, *, skip: int = 0, limit: int | None = None
    ) -> builtins.list[WatchlistEntry]:
        """Oldest first; ``skip`` entries passed over, then at most ``limit`` (all when None)."""
        ...

    async def remove(self, user_id: int, product_id: int) -> bool: ...

    async def users_watching(self, product_ids: Iterable[int]) -> set[int]:
        """The users with at least one of these products on their watchlist."""
        ...


@runtime_checkable
class AlertRuleRepository(Protocol):
    """Users' alert rules."""

    async def hold(self, user_id: int) -> None:
        """Until this unit of work ends, another that holds the same user's rules waits: what
        it reads of them then stays true until it commits (no two identical rules at once)."""
        ...

    async def add(self, rule: AlertRule) -> AlertRule: ...

    async def list(
        self, user_id: int, *, skip: int = 0, limit: int | None = None
    ) -> builtins.list[AlertRule]:
        """Oldest first; ``skip`` rules passed over, then at most ``limit`` (all when None)."""
        ...

    async def list_all(self) -> builtins.list[AlertRule]: ...

    async def remove(self, user_id: int, rule_id: int) -> bool: ...

    async def replace(self, rule: AlertRule) -> bool:
        """Stores ``rule`` over the rule of the same id and user; False when there is none."""
        ...


@runtime_checkable
class AlertRepository(Protocol):
    """Stored alerts; ``(user_id, event_key)`` is unique."""

    async def add_if_new(self, alert: Alert) -> Alert | None:
        """Stores the alert unless one with the same user and event key exists."""
        ...

    async def list(
        self, user_id: int, *, unread_only: bool = False, skip: int = 0, limit: int = 100
    ) -> builtins.list[Alert]:
        """Newest first; ``skip`` alerts passed over, then at most ``limit``."""
        ...

    async def mark_read(self, user_id: int, alert_ids: Iterable[int] | None, at: datetime) -> int:
        """Marks the user's alerts (all when ``alert_ids`` is None) read; returns how many changed."""
        ...

    async def count_unread(self, user_id: int) -> int:
        """How many of the user's alerts are unread, counted without reading them."""
        ...

    async def event_keys(self, user_id: int) -> set[str]: ...

    async def has_event(self, user_id: int, key_prefix: str) -> bool:
        """Whether the user has an alert whose event key begins with ``key_prefix`` (exactly)."""
        ...

    async def get(self, alert_id: int) -> Alert | None: ...


@runtime_checkable
class DeliveryRepository(Protocol):
    """The notification outbox; ``(alert_id, channel)`` is unique."""

    async def add(self, delivery: Delivery) -> Delivery | None:
        """Stores the delivery unless the alert already has one for that channel."""
        ...

    async def due(self, now: datetime, limit: int) -> builtins.list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        ...

    async def claim(self, delivery_id: int, now: datetime) -> Delivery | None:
        """Atomically moves a pending delivery to ``sending`` and counts the attempt;
        None when another dispatcher got there first."""
        ...

    async def record(self, delivery: Delivery) -> None:
        """Stores the outcome of an attempt (status, attempts, times, last error)."""
        ...

    async def stale(self, claimed_before: datetime) -> builtins.list[Delivery]:
        """Deliveries left in ``sending`` since before the given time (a dispatcher died)."""
        ...

    async def cancel(self, user_id: int, rule_id: int, reason: str, *, channel: Channel | None = None) -> int:
        """Moves the pending deliveries of the alerts the user's rule raised (of one channel, or
        all) to ``cancelled`` with the reason as their last error; one being sent is left.
        Returns how many."""
        ...

    async def list(
        self, user_id: int, *, status: DeliveryStatus | None = None, skip: int = 0, limit: int = 100
    ) -> builtins.list[Delivery]:
        """Newest first; ``skip`` deliveries passed over, then at most ``limit``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """What a notifier sends: one alert, with the product's name."""

    delivery_id: int
    alert_id: int
    user_id: int
    product_id: int
    product_name: str
    kind: str
    event_key: str
    message: str
    created_at: datetime


@runtime_checkable
class Notifier(Protocol):
    """Sends notifications through one channel; raises ``DeliveryFailed`` when it cannot."""

    channel: Channel

    async def send(self, delivery: Delivery, notification: Notification) -> None: ...


@runtime_checkable
class UnitOfWork(Protocol):
    """One use case's transaction: leaving without ``commit()`` rolls back."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    revoked_access_tokens: RevokedAccessTokenRepository
    products: ProductRepository
    ads: AdRepository
    engagement: EngagementStore
    scores: ScoreRepository
    watchlists: WatchlistRepository
    alert_rules: AlertRuleRepository
    alerts: AlertRepository
    deliveries: DeliveryRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


@runtime_checkable
class HealthProbe(Protocol):
    """Whether the store answers."""

    async def ready(self) -> bool: ...
