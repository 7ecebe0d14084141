"""SQL repositories: explicit mapping between rows and domain entities. They never commit."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import functools
import inspect
import json
import re
import unicodedata
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import msgspec
import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Double,
    Integer,
    Row,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from marketscout.adapters.sql import rollups
from marketscout.adapters.sql import tables as t
from marketscout.domain.errors import Busy, Conflict, Unavailable
from marketscout.domain.gains import LOOKBACK
from marketscout.domain.model import (
    GROWTH_ORDERS,
    GROWTH_WINDOW_DAYS,
    SYNTHETIC_MARK,
    Ad,
    AdGain,
    Alert,
    AlertRule,
    AlertRuleKind,
    Channel,
    Delivery,
    DeliveryStatus,
    EngagementSnapshot,
    Platform,
    Product,
    RefreshToken,
    ScoreLevel,
    TrendAssessment,
    TrendingFilter,
    TrendingOrder,
    TrendScore,
    TrendStatus,
    User,
    WatchlistEntry,
    WindowGain,
)
from marketscout.domain.ports import (
    AdRepository,
    AlertRepository,
    AlertRuleRepository,
    DeliveryRepository,
    EngagementStore,
    ProductRepository,
    RefreshTokenRepository,
    RevokedAccessTokenRepository,
    ScoreRepository,
    SenderActivity,
    SentReadings,
    StoreResult,
    UserRepository,
    WatchlistRepository,
)
from marketscout.domain.scoring import ReadingSeries
from marketscout.domain.text import folded

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)

# Unique constraints and the field a client should change.
_CONFLICT_FIELDS = {
    "username_key": "username",
    "email_key": "email",
    "uq_ads_platform_external_id": "external_id",
    "uq_watchlist_entries_user_product": "product_id",
}
INSERT_CHUNK = 5_000
# Products per statement when re-scoring reads its points (30,000 rows at 30 points a product).
SCORING_READ_PRODUCTS = 1_000
# Rows per write of a COPY.
COPY_PART = 5_000
# Scores per write when scores are stored as they come (add_stream): one part is written while
# the next is computed.
STORE_PART = 2_000

# Rows a stream of re-scoring's series hands out between two turns of the event loop, so that
# the next slice's statement (and other requests) move on while the caller computes; while a
# write of add_stream is in flight, every WRITING_TURN rows (a write takes a few dozen turns:
# its COPY goes out 128 kB at a time as the database takes it in).
STREAM_TURN = 64
WRITING_TURN = 2
# Set in a session's ``info`` while add_stream has a write in flight on its connection.
_WRITING = "marketscout.store_writing"
# From this many ids on, a look-up of the ads' dates reads every dated ad instead.
WHOLE_TABLE_IDS = 10_000


def translate_error(error: SQLAlchemyError | psycopg.Error) -> Exception:
    """Driver errors become domain errors; nothing of the driver reaches the HTTP layer. Bulk
    ingest talks to psycopg directly (COPY), so its own errors are translated as well."""
    if isinstance(error, IntegrityError | psycopg.IntegrityError):
        text = str(error.orig if isinstance(error, IntegrityError) else error)
        if "foreign key" in text.lower():
            # E.g. a snapshot whose ad is gone, or whose product or platform is not its ad's.
            # PostgreSQL names the constraint (and so the column); SQLite does not.
            named = re.search(r'foreign key constraint "fk_[a-z_]+?_([a-z]+_id)_[a-z]+"', text)
            field = named.group(1) if named else None
            return Conflict(f"{field or 'a reference'} does not match a stored record", field=field)
        field = next((f for key, f in _CONFLICT_FIELDS.items() if key in text), None)
        if field is None and "UNIQUE" in text.upper() and "external_id" in text:
            field = "external_id"
        return Conflict(f"{field or 'record'} already exists", field=field)
    if _is_busy(error):
        return Busy("the database was busy with another request")
    if isinstance(error, OperationalError | DBAPIError) and getattr(error, "connection_invalidated", True):
        return Unavailable("the database is unavailable")
    if isinstance(error, OperationalError | psycopg.OperationalError):
        return Unavailable("the database is unavailable")
    return error


# What a database says when it gave a request up for another's sake: PostgreSQL's deadlock,
# serialization failure and lock wait (SQLSTATE 40P01, 40001, 55P03); SQLite's lock held past
# the busy timeout.
_BUSY_ERRORS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.LockNotAvailable,
)


def _is_busy(error: SQLAlchemyError | psycopg.Error) -> bool:
    cause = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(cause, _BUSY_ERRORS):
        return True
    text = str(cause).lower()
    return "database is locked" in text or "database table is locked" in text


_DRIVER_ERRORS = (SQLAlchemyError, psycopg.Error, OSError)


def _domain_error(error: SQLAlchemyError | psycopg.Error | OSError) -> Exception:
    if isinstance(error, OSError):
        return Unavailable("the database is unavailable")
    return translate_error(error)


def translating(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except _DRIVER_ERRORS as error:
            raise _domain_error(error) from error

    return wrapper


def translating_stream(
    method: Callable[P, AsyncGenerator[R, None]],
) -> Callable[P, AsyncGenerator[R, None]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> AsyncGenerator[R, None]:
        try:
            async with contextlib.aclosing(method(*args, **kwargs)) as items:
                async for item in items:
                    yield item
        except _DRIVER_ERRORS as error:
            raise _domain_error(error) from error

    return wrapper


async def _fetch_raw(connection: AsyncConnection, statement: Any) -> builtins.list[Any]:
    """A PostgreSQL statement's rows straight from psycopg, as binary rows; the statement may
    come compiled already, as its text and parameters."""
    if isinstance(statement, tuple):
        text_, params = statement
    else:
        compiled = statement.compile(dialect=connection.dialect)
        text_, params = compiled.string, compiled.params
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor(binary=True) as cursor:
        await cursor.execute(text_, params)
        rows: builtins.list[Any] = await cursor.fetchall()
    return rows


def translate_errors(cls: C) -> C:
    """Wraps every public coroutine method of a repository class in :func:`translating`, and
    every public asynchronous generator (a stream of rows) in :func:`translating_stream`."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if inspect.iscoroutinefunction(member):
            setattr(cls, name, translating(member))
        elif inspect.isasyncgenfunction(member):
            setattr(cls, name, translating_stream(member))
    return cls


def _in_id_array(column: Any, name: str | None = None, ids: Iterable[int] | None = None) -> Any:
    """PostgreSQL's ``column = ANY(array)`` with the array as one bound text value (see
    :func:`_id_array`): given ``ids``, or left for each execution to give under ``name`` (a
    statement compiled once and run for many slices)."""
    value = _id_array(ids) if ids is not None else None
    return column == any_(cast(bindparam(name, value, type_=Text), ARRAY(BigInteger)))


def _id_array(ids: Iterable[int]) -> str:
    """The text of a PostgreSQL array literal of ``ids``, to cast to ``bigint[]`` in the query:
    psycopg's list adapter costs about a microsecond an element in Python (0.16 s for the
    scan's 200,000 ads)."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"  # int(): digits only


class _SqlRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _id_batches(self, column: Column[Any], ids: Iterable[int]) -> builtins.list[Any]:
        """Conditions ``column`` in ``ids``: one ``= ANY(array)`` on PostgreSQL (one bound value,
        however many ids: a long IN list costs more to build and plan than to run), chunks of IN
        lists on SQLite."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            return [_in_id_array(column, ids=wanted)]
        return [column.in_(wanted[i : i + INSERT_CHUNK]) for i in range(0, len(wanted), INSERT_CHUNK)]

    def _in_ids(self, column: Column[Any], ids: Iterable[int]) -> Any:
        """One condition ``column`` in ``ids``, however many there are: ``= ANY(array)`` on
        PostgreSQL (:meth:`_id_batches`), on SQLite the ids as one JSON array that ``json_each``
        reads (IN lists would meet its limit on the values one statement binds)."""
        wanted = sorted(set(ids))
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            return _in_id_array(column, ids=wanted)
        listed = func.json_each(json.dumps(wanted)).table_valued("value")
        return column.in_(select(listed.c.value))

    async def _rows(self, statement: Any) -> builtins.list[Any]:
        """The statement's rows as plain tuples. On PostgreSQL the compiled statement runs
        straight on psycopg (binary rows; sessions run in UTC, so timestamps come back in UTC),
        without SQLAlchemy's per-row result processing: for the reads of a row per ad of the market
        and of re-scoring's points. Sums come back as they are (``numeric``: a ``Decimal``). For statements
        without expanding ``IN`` lists (ids go as one array: :meth:`_id_batches`)."""
        connection = await self._session.connection()
        if connection.dialect.name != "postgresql":
            return builtins.list((await self._session.execute(statement)).all())
        return await _fetch_raw(connection, statement)

    async def _each_rows(
        self, statements: Sequence[Any], connection: AsyncConnection | None = None
    ) -> AsyncGenerator[builtins.list[Any], None]:
        """Each statement's rows (:meth:`_rows`), in order, on the unit of work's connection or
        the one given. On PostgreSQL the next statement is already sent while the caller works
        on this one's rows, so the database reads the next slice on its own core meanwhile; a
        caller that stops early waits for the statement in flight, so the connection is free
        again when the iteration ends."""
        connection = connection or await self._session.connection()
        if connection.dialect.name != "postgresql":
            for statement in statements:
                yield await self._rows(statement)
            return
        pending: asyncio.Future[builtins.list[Any]] | None = None
        try:
            for index, statement in enumerate(statements):
                rows = await (pending or _fetch_raw(connection, statement))
                pending = None
                if index + 1 < len(statements):
                    pending = asyncio.ensure_future(_fetch_raw(connection, statements[index + 1]))
                    await asyncio.sleep(0)  # the task sends its statement
                yield rows
        finally:
            if pending is not None:
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await pending

    async def _insert(self, table: Table, values: dict[str, Any]) -> int:
        result = await self._session.execute(insert(table).values(**values).returning(table.c.id))
        new_id: int = result.scalar_one()
        return new_id

    async def _insert_unless_exists(
        self, table: Table, values: dict[str, Any], unique: builtins.list[str]
    ) -> int | None:
        """Inserts unless a row with the same ``unique`` columns exists; the new id or None."""
        dialect = self._session.bind.dialect.name if self._session.bind is not None else "sqlite"
        maker = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            maker(table).values(**values).on_conflict_do_nothing(index_elements=unique).returning(table.c.id)
        )
        new_id: int | None = (await self._session.execute(statement)).scalar_one_or_none()
        return new_id


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        email=row.email,
        password_hash=row.password_hash,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        tokens_valid_after=row.tokens_valid_after,
    )


@translate_errors
class SqlUserRepository(_SqlRepository, UserRepository):
    async def add(self, user: User) -> User:
        taken = await self.username_or_email_taken(user.username, user.email)
        if taken is not None:
            raise Conflict(f"{taken} already registered", field=taken)
        new_id = await self._insert(
            t.users,
            {
                "username": user.username,
                "username_key": user.username.casefold(),
                "email": user.email,
                "email_key": user.email.casefold(),
                "password_hash": user.password_hash,
                "created_at": user.created_at,
                "disabled_at": user.disabled_at,
                "tokens_valid_after": user.tokens_valid_after,
            },
        )
        return dataclasses.replace(user, id=new_id)

    async def get(self, user_id: int) -> User | None:
        row = (await self._session.execute(select(t.users).where(t.users.c.id == user_id))).first()
        return _user(row) if row else None

    async def get_by_username(self, username: str) -> User | None:
        query = select(t.users).where(t.users.c.username_key == username.casefold())
        row = (await self._session.execute(query)).first()
        return _user(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        query = select(t.users).where(t.users.c.email_key == email.casefold())
        row = (await self._session.execute(query)).first()
        return _user(row) if row else None

    async def username_or_email_taken(self, username: str, email: str) -> str | None:
        query = select(t.users.c.username_key, t.users.c.email_key).where(
            (t.users.c.username_key == username.casefold()) | (t.users.c.email_key == email.casefold())
        )
        for row in await self._session.execute(query):
            return "username" if row.username_key == username.casefold() else "email"
        return None

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._session.execute(
            update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash)
        )

    async def set_disabled(self, user_id: int, disabled_at: datetime | None) -> None:
        await self._session.execute(
            update(t.users).where(t.users.c.id == user_id).values(disabled_at=disabled_at)
        )

    async def set_tokens_valid_after(self, user_id: int, at: datetime) -> None:
        await self._session.execute(
            update(t.users).where(t.users.c.id == user_id).values(tokens_valid_after=at)
        )

    async def list(self, *, skip: int, limit: int) -> builtins.list[User]:
        statement = select(t.users).order_by(t.users.c.id).offset(skip).limit(limit)
        return [_user(row) for row in await self._session.execute(statement)]


def _token(row: Row[Any]) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        digest=row.digest,
        family_id=row.family_id,
        user_id=row.user_id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked=bool(row.revoked),
    )


@translate_errors
class SqlRefreshTokenRepository(_SqlRepository, RefreshTokenRepository):
    async def add(self, token: RefreshToken) -> RefreshToken:
        new_id = await self._insert(
            t.refresh_tokens,
            {
                "digest": token.digest,
                "family_id": token.family_id,
                "user_id": token.user_id,
                "issued_at": token.issued_at,
                "expires_at": token.expires_at,
                "used_at": token.used_at,
                "revoked": token.revoked,
            },
        )
        return RefreshToken(
            id=new_id,
            digest=token.digest,
            family_id=token.family_id,
            user_id=token.user_id,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
            used_at=token.used_at,
            revoked=token.revoked,
        )

    async def get_by_digest(self, digest: str) -> RefreshToken | None:
        row = (
            await self._session.execute(select(t.refresh_tokens).where(t.refresh_tokens.c.digest == digest))
        ).first()
        return _token(row) if row else None

    async def mark_used(self, token_id: int, used_at: datetime) -> bool:
        # One conditional UPDATE: of two concurrent refreshes with the same token, one wins; and a
        # revocation committed since the token was read wins over the refresh (PostgreSQL checks
        # the row again as it is now once it has waited for its lock).
        table = t.refresh_tokens
        result = await self._session.execute(
            update(table)
            .where(table.c.id == token_id, table.c.used_at.is_(None), table.c.revoked.is_(False))
            .values(used_at=used_at)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def family_revoked(self, family_id: str) -> bool:
        # By the family's index (ix_refresh_tokens_family_id): a login holds a few rows.
        table = t.refresh_tokens
        found = await self._session.execute(
            select(table.c.id).where(table.c.family_id == family_id, table.c.revoked.is_(True)).limit(1)
        )
        return found.first() is not None

    async def revoke_family(self, family_id: str) -> None:
        await self._session.execute(
            update(t.refresh_tokens).where(t.refresh_tokens.c.family_id == family_id).values(revoked=True)
        )

    async def revoke_user(self, user_id: int) -> None:
        await self._session.execute(
            update(t.refresh_tokens).where(t.refresh_tokens.c.user_id == user_id).values(revoked=True)
        )


@translate_errors
class SqlRevokedAccessTokenRepository(_SqlRepository, RevokedAccessTokenRepository):
    async def add(self, token_id: str, expires_at: datetime) -> None:
        dialect = self._session.bind.dialect.name if self._session.bind is not None else "sqlite"
        maker = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = maker(t.revoked_access_tokens).values(token_id=token_id, expires_at=expires_at)
        await self._session.execute(statement.on_conflict_do_nothing(index_elements=["token_id"]))

    async def is_revoked(self, token_id: str) -> bool:
        table = t.revoked_access_tokens
        found = await self._session.execute(select(table.c.token_id).where(table.c.token_id == token_id))
        return found.first() is not None

    async def prune(self, before: datetime) -> int:
        table = t.revoked_access_tokens
        result = await self._session.execute(delete(table).where(table.c.expires_at < before))
        return int(getattr(result, "rowcount", 0) or 0)


def _product(row: Row[Any]) -> Product:
    return Product(
        id=row.id,
        name=row.name,
        description=row.description,
        category=row.category,
        keywords=tuple(row.keywords or ()),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _name_keys(text: str) -> builtins.list[str]:
    """The keys a stored name equal to ``text`` may have in ``products.name_key``: its
    ``text.folded`` form, written since names are stored composed (NFC); and, when it differs, that
    form decomposed (NFD), the key of a name stored before then as typed with combining accents
    (then folded without composing). Migration 0019 composed the names and keys stored before,
    those in a mix of both forms too, so on a migrated database the second key finds nothing the
    first does not."""
    key = folded(text)
    decomposed = unicodedata.normalize("NFD", key)
    return [key] if decomposed == key else [key, decomposed]


def _name_holds(text: str) -> ColumnElement[bool]:
    """The products whose name holds ``text``, in any case and Unicode form (:func:`_name_keys`)."""
    patterns = [
        "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for key in _name_keys(text)
    ]
    return or_(*(t.product_name_key.like(pattern, escape="\\") for pattern in patterns))


@translate_errors
class SqlProductRepository(_SqlRepository, ProductRepository):
    async def add(self, product: Product) -> Product:
        new_id = await self._insert(
            t.products,
            {
                "name": product.name,
                "name_key": folded(product.name),
                "description": product.description,
                "category": product.category,
                "keywords": list(product.keywords),
                "created_by": product.created_by,
                "created_at": product.created_at,
            },
        )
        return Product(
            id=new_id,
            name=product.name,
            description=product.description,
            category=product.category,
            keywords=product.keywords,
            created_by=product.created_by,
            created_at=product.created_at,
        )

    async def get(self, product_id: int) -> Product | None:
        row = (await self._session.execute(select(t.products).where(t.products.c.id == product_id))).first()
        return _product(row) if row else None

    async def get_many(self, product_ids: Iterable[int]) -> dict[int, Product]:
        found: dict[int, Product] = {}
        for condition in self._id_batches(t.products.c.id, product_ids):
            for row in await self._session.execute(select(t.products).where(condition)):
                found[row.id] = _product(row)
        return found

    async def list(self, *, skip: int, limit: int, query: str | None = None) -> builtins.list[Product]:
        statement = select(t.products).order_by(t.products.c.id).offset(skip).limit(limit)
        if query:
            statement = statement.where(_name_holds(query))
        return [_product(row) for row in await self._session.execute(statement)]

    async def named(self, name: str) -> builtins.list[Product]:
        statement = (
            select(t.products).where(t.product_name_key.in_(_name_keys(name))).order_by(t.products.c.id)
        )
        return [_product(row) for row in await self._session.execute(statement)]

    async def all_ids(self) -> builtins.list[int]:
        return list(
            (await self._session.execute(select(t.products.c.id).order_by(t.products.c.id))).scalars()
        )

    async def categories(self) -> builtins.list[str]:
        statement = select(t.products.c.category).where(t.products.c.category.is_not(None)).distinct()
        return sorted((await self._session.execute(statement)).scalars())

    async def any_synthetic(self) -> bool:
        # Product.synthetic. One pass over products at most (the server asks once, at start);
        # a database holding the demo answers at its first demo product.
        synthetic = select(t.products.c.id).where(
            t.products.c.created_by.is_(None),
            t.products.c.description.contains(SYNTHETIC_MARK, autoescape=True),
        )
        return bool((await self._session.execute(select(exists(synthetic)))).scalar())


def _ad(row: Row[Any]) -> Ad:
    return Ad(
        id=row.id,
        product_id=row.product_id,
        platform=Platform(row.platform),
        ad_content=row.ad_content,
        external_id=row.external_id,
        url=row.url,
        advertiser=row.advertiser,
        first_seen_at=row.first_seen_at,
        created_at=row.created_at,
    )


@translate_errors
class SqlAdRepository(_SqlRepository, AdRepository):
    async def add(self, ad: Ad) -> Ad:
        if ad.external_id is not None and await self.get_by_external_id(ad.platform, ad.external_id):
            raise Conflict(
                f"an ad with external_id {ad.external_id!r} exists on {ad.platform}", "external_id"
            )
        values = {
            "product_id": ad.product_id,
            "platform": ad.platform.value,
            "ad_content": ad.ad_content,
            "external_id": ad.external_id,
            "url": ad.url,
            "advertiser": ad.advertiser,
            "first_seen_at": ad.first_seen_at,
            "created_at": ad.created_at,
        }
        new_id = await self._insert(t.ads, values)
        return Ad(
            id=new_id,
            product_id=ad.product_id,
            platform=ad.platform,
            ad_content=ad.ad_content,
            external_id=ad.external_id,
            url=ad.url,
            advertiser=ad.advertiser,
            first_seen_at=ad.first_seen_at,
            created_at=ad.created_at,
        )

    async def get(self, ad_id: int) -> Ad | None:
        row = (await self._session.execute(select(t.ads).where(t.ads.c.id == ad_id))).first()
        return _ad(row) if row else None

    async def get_many(self, ad_ids: Iterable[int]) -> dict[int, Ad]:
        found: dict[int, Ad] = {}
        for condition in self._id_batches(t.ads.c.id, ad_ids):
            for row in await self._session.execute(select(t.ads).where(condition)):
                found[row.id] = _ad(row)
        return found

    async def first_seen_dates(self, ad_ids: Iterable[int]) -> dict[int, datetime]:
        a = t.ads.c
        wanted = set(ad_ids)
        # Both reads go through the index of the dated ads (ix_ads_dated): their cost follows how
        # many ads a platform dated, however many ads the market holds.
        dated = select(a.id, a.first_seen_at).where(a.first_seen_at.is_not(None))
        if len(wanted) >= WHOLE_TABLE_IDS:
            # The scan asks for every active ad: reading the dated ones beats sending each id
            # (200,000 ids: about 0.2 s to send and look up; the dated ads here: none, 0.01 ms).
            return {ad_id: seen for ad_id, seen in await self._session.execute(dated) if ad_id in wanted}
        found: dict[int, datetime] = {}
        for condition in self._id_batches(a.id, wanted):
            for ad_id, seen in await self._session.execute(dated.where(condition)):
                found[ad_id] = seen
        return found

    async def owners(self, ad_ids: Iterable[int]) -> dict[int, tuple[int, Platform]]:
        a = t.ads.c
        found: dict[int, tuple[int, Platform]] = {}
        for condition in self._id_batches(a.id, ad_ids):
            for ad_id, product_id, platform in await self._session.execute(
                select(a.id, a.product_id, a.platform).where(condition)
            ):
                found[ad_id] = (product_id, _PLATFORMS[platform])
        return found

    async def get_by_external_id(self, platform: Platform, external_id: str) -> Ad | None:
        query = select(t.ads).where(t.ads.c.platform == platform.value, t.ads.c.external_id == external_id)
        row = (await self._session.execute(query)).first()
        return _ad(row) if row else None

    async def list(
        self,
        *,
        skip: int,
        limit: int,
        product_id: int | None = None,
        platform: Platform | None = None,
    ) -> builtins.list[Ad]:
        statement = select(t.ads).order_by(t.ads.c.id).offset(skip).limit(limit)
        if product_id is not None:
            statement = statement.where(t.ads.c.product_id == product_id)
        if platform is not None:
            statement = statement.where(t.ads.c.platform == platform.value)
        return [_ad(row) for row in await self._session.execute(statement)]


_PLATFORMS = {p.value: p for p in Platform}
_STATUSES = {s.value: s for s in TrendStatus}


def _snapshot(row: Any) -> EngagementSnapshot:
    # Unpacked by position (the order of _SNAPSHOT_COLUMNS): reading a million snapshots to
    # re-score, attribute access by name on each row was a third of the time.
    ad_id, product_id, platform, region, observed_at, views, likes, comments, shares = row
    return EngagementSnapshot(
        ad_id=ad_id,
        product_id=product_id,
        platform=_PLATFORMS[platform],
        region=region,
        observed_at=observed_at,
        views=views,
        likes=likes,
        comments=comments,
        shares=shares,
    )


_SNAPSHOT_COLUMNS = (
    t.engagement_snapshots.c.ad_id,
    t.engagement_snapshots.c.product_id,
    t.engagement_snapshots.c.platform,
    t.engagement_snapshots.c.region,
    t.engagement_snapshots.c.observed_at,
    t.engagement_snapshots.c.views,
    t.engagement_snapshots.c.likes,
    t.engagement_snapshots.c.comments,
    t.engagement_snapshots.c.shares,
)
_SNAPSHOT_ORDER = (
    t.engagement_snapshots.c.observed_at,
    t.engagement_snapshots.c.ad_id,
    t.engagement_snapshots.c.region,
)


def _snapshot_row(s: EngagementSnapshot) -> tuple[Any, ...]:
    return (
        s.ad_id,
        s.product_id,
        s.platform.value,
        s.region,
        s.observed_at,
        s.views,
        s.likes,
        s.comments,
        s.shares,
    )


_COLUMN_LIST = "ad_id, product_id, platform, region, observed_at, views, likes, comments, shares"
_CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS engagement_staging (ad_id bigint, product_id bigint, "
    "platform varchar(20), region varchar(6), observed_at timestamptz, views bigint, likes bigint, "
    "comments bigint, shares bigint) ON COMMIT DELETE ROWS"
)
_COPY_STAGING = f"COPY engagement_staging ({_COLUMN_LIST}) FROM STDIN"
_INSERT_AND_ROLL_UP = rollups.postgres_insert_and_roll_up(_COLUMN_LIST)
_INSERT_SQLITE = (
    f"INSERT OR IGNORE INTO engagement_snapshots ({_COLUMN_LIST}, sender_id) "  # noqa: S608 - constant column list
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class _FirstViews(FunctionElement[int]):
    """An aggregate: the ``views`` of the group's row with the least ``time``
    (:func:`rollups.first_views`, per dialect)."""

    type = BigInteger()
    inherit_cache = True
    name = "first_views"


@compiles(_FirstViews)
def _compile_first_views(element: _FirstViews, compiler: Any, **kw: Any) -> str:
    time, views = (compiler.process(clause, **kw) for clause in element.clauses)
    return rollups.first_views(compiler.dialect.name, time, views, hashable=True)


def _exact_sum(count: Any) -> tuple[Any, Any]:
    """The sum of a non-negative 64-bit ``count`` over a group, exactly, as two sums: of its high
    31 bits and of its low 32 bits (put together by :func:`_put_together`). Counts go up to
    2^63 - 1, so that a plain sum of two can pass 64 bits: SQLite fails (integer overflow), and
    PostgreSQL's numeric sum cannot be read as a bigint. Neither part's sum can pass 64 bits
    before a group holds 2^31 rows. As bigints: a sum of bigints is numeric on PostgreSQL, which
    psycopg makes a Decimal; the scan reads a row per ad of the market."""
    return (
        cast(func.sum(count.op(">>")(literal_column("32"))), BigInteger),
        cast(func.sum(count.op("&")(literal_column("4294967295"))), BigInteger),
    )


def _put_together(high: int, low: int) -> int:
    """A sum of :func:`_exact_sum` from its two parts."""
    return (int(high) << 32) + int(low)


@translate_errors
class SqlEngagementStore(_SqlRepository, EngagementStore):
    async def add_many(
        self, snapshots: Sequence[EngagementSnapshot], *, sender: int | None = None
    ) -> StoreResult:
        """Idempotent bulk insert: COPY through a staging table on PostgreSQL, one batched
        ``INSERT OR IGNORE`` on SQLite; duplicates of stored rows are counted, not errors."""
        if not snapshots:
            return StoreResult(stored=0, duplicates=0)
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":
            stored = await self._copy_postgres(connection, snapshots, sender)
        else:
            stored = await self._insert_sqlite(connection, [_snapshot_row(s) for s in snapshots], sender)
        return StoreResult(stored=stored, duplicates=len(snapshots) - stored)

    def _sent_condition(self, sender: int, since: datetime | None) -> Any:
        s = t.engagement_snapshots.c
        condition = s.sender_id == sender
        return condition if since is None else and_(condition, s.observed_at >= since)

    async def _sent_per_product(self, sender: int, since: datetime | None) -> dict[int, int]:
        s = t.engagement_snapshots.c
        statement = (
            select(s.product_id, func.count())
            .where(self._sent_condition(sender, since))
            .group_by(s.product_id)
        )
        return {row[0]: row[1] for row in await self._session.execute(statement)}

    async def sent_by(self, sender: int, *, since: datetime | None = None) -> SentReadings:
        """A scan of the readings (no index on the sender: it would cost every ingest; this is an
        operator's rare question)."""
        counts = await self._sent_per_product(sender, since)
        return SentReadings(sum(counts.values()), frozenset(counts))

    async def remove_sent_by(self, sender: int, *, since: datetime | None = None) -> SentReadings:
        """The days the readings lie in are noted first, the readings deleted, then those days'
        rollups made again from the readings kept (:func:`rollups.roll_up_removed_days`)."""
        counts = await self._sent_per_product(sender, since)
        if not counts:
            return SentReadings(0, frozenset())
        connection = await self._session.connection()
        dialect = connection.dialect.name
        parameters: dict[str, Any] = {"sender": sender}
        where = "sender_id = :sender"
        binds: builtins.list[Any] = [bindparam("sender", type_=t.Id)]
        if since is not None:
            where += " AND observed_at >= :since"
            parameters["since"] = since
            binds.append(bindparam("since", type_=t.UtcDateTime()))
        *setup, fill = rollups.removed_days(dialect, where)
        for statement in setup:
            await self._session.execute(text(statement))
        await self._session.execute(text(fill).bindparams(*binds), parameters)
        await self._session.execute(delete(t.engagement_snapshots).where(self._sent_condition(sender, since)))
        for statement in rollups.roll_up_removed_days(dialect):
            await self._session.execute(text(statement))
        return SentReadings(sum(counts.values()), frozenset(counts))

    async def prune(self, before: datetime, *, dry_run: bool = False) -> int:
        """Two statements: the raw readings, then the hours that lie wholly before ``before``
        (an hour that holds a kept reading stays whole); the days' rollups are kept."""
        observed = t.engagement_snapshots.c.observed_at
        if dry_run:
            counted = await self._session.execute(
                select(func.count()).select_from(t.engagement_snapshots).where(observed < before)
            )
            return int(counted.scalar_one())
        removed = await self._session.execute(delete(t.engagement_snapshots).where(observed < before))
        await self._session.execute(
            delete(t.engagement_hourly).where(t.engagement_hourly.c.bucket <= before - timedelta(hours=1))
        )
        return int(getattr(removed, "rowcount", 0))

    async def senders(self) -> builtins.list[SenderActivity]:
        s = t.engagement_snapshots.c
        statement = (
            select(
                s.sender_id,
                func.count(),
                func.count(s.product_id.distinct()),
                func.min(s.observed_at),
                func.max(s.observed_at),
            )
            .where(s.sender_id.is_not(None))
            .group_by(s.sender_id)
            .order_by(s.sender_id)
        )
        return [
            SenderActivity(sender, readings, products, first, last)
            for sender, readings, products, first, last in await self._session.execute(statement)
        ]

    @staticmethod
    async def _copy_postgres(
        connection: AsyncConnection, snapshots: Sequence[EngagementSnapshot], sender: int | None
    ) -> int:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.cursor() as cursor:
            await cursor.execute(_CREATE_STAGING)
            await cursor.execute("TRUNCATE engagement_staging")
            # One tab-separated buffer, straight from the snapshots: every value is an int, a fixed
            # platform name (a str enum formats as its value), a validated region code or an ISO
            # timestamp, so nothing needs COPY escaping.
            text = "".join(
                f"{s.ad_id}\t{s.product_id}\t{s.platform}\t{s.region}\t{s.observed_at.isoformat()}\t"
                f"{s.views}\t{s.likes}\t{s.comments}\t{s.shares}\n"
                for s in snapshots
            )
            async with cursor.copy(_COPY_STAGING) as copy:
                await copy.write(text.encode())
            await cursor.execute(_INSERT_AND_ROLL_UP, {"sender": sender})
            counted = await cursor.fetchone()
            return int(counted[0]) if counted else 0

    @staticmethod
    async def _insert_sqlite(
        connection: AsyncConnection, rows: builtins.list[tuple[Any, ...]], sender: int | None
    ) -> int:
        # The format SQLAlchemy's DateTime uses on SQLite, so values compare and collide as stored.
        as_text = [
            (*r[:4], r[4].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), *r[5:], sender) for r in rows
        ]
        # Ids only grow, and SQLite has one writer at a time: this batch's rows are those above.
        last_id = (
            await connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM engagement_snapshots")
        ).scalar()
        result = await connection.exec_driver_sql(_INSERT_SQLITE, as_text)
        if result.rowcount:
            for table, unit in rollups.TABLES:
                await connection.exec_driver_sql(rollups.sqlite_roll_up(table, unit), (last_id,))
        return int(result.rowcount)

    async def for_products(
        self, product_ids: Iterable[int], *, until: datetime | None = None, since: datetime | None = None
    ) -> dict[int, builtins.list[EngagementSnapshot]]:
        wanted = sorted(set(product_ids))
        result: dict[int, builtins.list[EngagementSnapshot]] = {pid: [] for pid in wanted}
        for condition in self._id_batches(t.engagement_snapshots.c.product_id, wanted):
            statement = select(*_SNAPSHOT_COLUMNS).where(condition).order_by(*_SNAPSHOT_ORDER)
            if until is not None:
                statement = statement.where(t.engagement_snapshots.c.observed_at <= until)
            if since is not None:
                statement = statement.where(t.engagement_snapshots.c.observed_at >= since)
            for row in await self._session.execute(statement):
                snapshot = _snapshot(row)
                result[snapshot.product_id].append(snapshot)
        return result

    async def scoring_series(
        self, product_ids: Iterable[int], *, since: datetime, until: datetime
    ) -> AsyncGenerator[tuple[int, builtins.list[ReadingSeries]], None]:
        """Read from the hourly rollup (indexed by product and hour), not the raw readings."""
        first_hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        wanted = sorted(set(product_ids))
        if not wanted:
            return
        platforms = _PLATFORMS
        current = 0
        found: builtins.list[ReadingSeries] = []
        async with contextlib.aclosing(self._hourly_series_rows(wanted, first_hour, until)) as rows:
            async for product_id, ad_id, region, platform, epochs, views, interactions in rows:
                if product_id != current:
                    if found:
                        yield current, found
                    current, found = product_id, []
                found.append(ReadingSeries(ad_id, platforms[platform], region, epochs, views, interactions))
        if found:
            yield current, found

    async def _hourly_series_rows(
        self, wanted: builtins.list[int], first_hour: datetime, until: datetime
    ) -> AsyncGenerator[tuple[Any, ...], None]:
        """A row per product, ad and region of the hourly rollup: ``(product_id, ad_id, region,
        platform, [epoch seconds], [views], [interactions])``, the lists in hour order, rows in
        product, ad and region order; a slice of the products per statement (:meth:`_each_rows`).
        On PostgreSQL the database groups the hours into arrays, so a product's month of hours
        comes back as one row of three arrays that psycopg builds in C, read on a connection of
        its own where the transaction has written nothing (:meth:`_reader`); elsewhere the hours
        come one row each and are grouped here."""
        h = t.engagement_hourly.c
        connection = await self._session.connection()
        postgres = connection.dialect.name == "postgresql"
        series_key = (h.product_id, h.ad_id, h.region, h.platform)
        counters = (h.last_seen, h.max_views, h.max_interactions)
        statements: builtins.list[Any] = []
        if postgres:
            # One statement for every slice, compiled once (compiling cost about 3 ms a slice);
            # each slice gives its products as an array literal (see _id_batches).
            wanted_here = _in_id_array(h.product_id, "wanted")
            # date_part, not extract: extract goes through numeric, about 12 % of the
            # statement's time; both are the correctly rounded epoch seconds.
            epoch_seconds = func.date_part("epoch", h.last_seen, type_=Double).label("epoch")
            # The rows sorted once, by series and hour, in a subquery whose order the aggregates
            # take (PostgreSQL's documentation gives this form, "supplying the input values from
            # a sorted subquery"): an aggregate's own ORDER BY sorts each group again, once per
            # array (PostgreSQL 15 does not reuse the input's order), about half the statement's
            # time. The contract tests check the hour order; the engine would order a series
            # itself anyway.
            hours = (
                select(*series_key, epoch_seconds, *counters[1:])
                .where(wanted_here, h.bucket >= first_hour, h.bucket <= until)
                .order_by(*series_key, h.bucket)
                .subquery("hours")
            )
            statement = (
                select(
                    *(hours.c[column.name] for column in series_key),
                    *(func.array_agg(hours.c[name]) for name in ("epoch", "max_views", "max_interactions")),
                )
                .group_by(*(hours.c[column.name] for column in series_key))
                # Regions in code-point order, as the domain sorts them, whatever the
                # database's collation (a sort of the output rows only).
                .order_by(hours.c.product_id, hours.c.ad_id, hours.c.region.collate("C"))
            )
            compiled = statement.compile(dialect=connection.dialect)
            statements = [
                (
                    compiled.string,
                    compiled.construct_params({"wanted": _id_array(wanted[i : i + SCORING_READ_PRODUCTS])}),
                )
                for i in range(0, len(wanted), SCORING_READ_PRODUCTS)
            ]
        else:
            for start in range(0, len(wanted), SCORING_READ_PRODUCTS):
                for condition in self._id_batches(
                    h.product_id, wanted[start : start + SCORING_READ_PRODUCTS]
                ):
                    statements.append(
                        select(*series_key, *counters)
                        .where(condition, h.bucket >= first_hour, h.bucket <= until)
                        .order_by(h.product_id, h.ad_id, h.region, h.bucket)
                    )
        async with contextlib.AsyncExitStack() as stack:
            reader = await self._reader(stack) if postgres else None
            slices = await stack.enter_async_context(contextlib.aclosing(self._each_rows(statements, reader)))
            async for rows in slices:
                if postgres:
                    info = self._session.info
                    for index, row in enumerate(rows, 1):
                        yield row
                        if not index % (WRITING_TURN if info.get(_WRITING) else STREAM_TURN):
                            await asyncio.sleep(0)  # statements in flight move on
                    continue
                key: tuple[Any, ...] = ()
                epochs: builtins.list[float] = []
                views: builtins.list[int] = []
                interactions: builtins.list[int] = []
                for product_id, ad_id, region, platform, last_seen, max_views, max_interactions in rows:
                    if (product_id, ad_id, region) != key[:3]:
                        if key:
                            yield (*key, epochs, views, interactions)
                        key, epochs, views, interactions = (product_id, ad_id, region, platform), [], [], []
                    epochs.append(last_seen.timestamp())
                    views.append(max_views)
                    interactions.append(max_interactions)
                if key:
                    yield (*key, epochs, views, interactions)

    async def _reader(self, stack: contextlib.AsyncExitStack) -> AsyncConnection | None:
        """A connection of its own for a long read on PostgreSQL, given back when ``stack``
        closes, where the unit of work's transaction has written nothing yet (PostgreSQL has
        given it no transaction id): the read then sees the same committed data, and runs while
        the transaction's connection stores what the caller makes of it (re-scoring's scores).
        None where the transaction has written: its own readings are only visible to itself."""
        written = await self._session.execute(text("SELECT pg_current_xact_id_if_assigned()"))
        if written.scalar() is not None:
            return None
        bind = self._session.bind
        if not isinstance(bind, AsyncEngine):
            return None
        return await stack.enter_async_context(bind.connect())

    async def since(
        self, start: datetime, *, until: datetime | None = None
    ) -> builtins.list[EngagementSnapshot]:
        statement = (
            select(*_SNAPSHOT_COLUMNS)
            .where(t.engagement_snapshots.c.observed_at >= start)
            .order_by(*_SNAPSHOT_ORDER)
        )
        if until is not None:
            statement = statement.where(t.engagement_snapshots.c.observed_at <= until)
        return [_snapshot(row) for row in await self._session.execute(statement)]

    async def last_observed_at(self, ad_ids: Iterable[int]) -> dict[int, datetime]:
        wanted = sorted(set(ad_ids))
        statement = (
            select(t.engagement_snapshots.c.ad_id, func.max(t.engagement_snapshots.c.observed_at))
            .where(t.engagement_snapshots.c.ad_id.in_(wanted))
            .group_by(t.engagement_snapshots.c.ad_id)
        )
        column = t.UtcDateTime()
        found: dict[int, datetime] = {}
        for ad_id, last in await self._session.execute(statement):
            value = (
                column.process_result_value(last, self._session.bind.dialect) if self._session.bind else last
            )
            if value is not None:
                found[ad_id] = value
        return found

    async def window_gains(
        self,
        start: datetime,
        end: datetime,
        *,
        product_ids: Iterable[int] | None = None,
        regions: Iterable[str] | None = None,
    ) -> builtins.list[WindowGain]:
        """The same definition as ``domain.gains.window_gains``, read from the daily and hourly
        rollups, with raw readings only for the partial hours at the window's edges; the
        products and regions asked for are kept by the database, before it groups."""
        statement = self.gains_statement(
            start,
            end,
            None if product_ids is None else sorted(set(product_ids)),
            day_complete=await self._day_complete(end),
            day_fresh=await self._day_fresh(start),
            regions=None if regions is None else sorted(set(regions)),
        )
        found: builtins.list[WindowGain] = []
        for row in await self._session.execute(statement):
            found.append(
                WindowGain(
                    ad_id=row.ad_id,
                    product_id=row.product_id,
                    platform=Platform(row.platform),
                    region=row.region,
                    gained=max(int(row.inside_max) - int(row.base), 0),
                    base=int(row.base),
                    first_seen=row.first_seen,
                    last_seen=row.last_seen,
                )
            )
        return found

    async def _every_gain(self, start: datetime, end: datetime) -> tuple[Any, Any, Any]:
        """Every ad's gains per region over the window, as a subquery to sum up further, with
        the expressions of each row's base and gain (as ``window_gains`` computes them)."""
        complete, fresh = await self._day_complete(end), await self._day_fresh(start)
        g = (
            self.gains_statement(start, end, None, day_complete=complete, day_fresh=fresh)
            .order_by(None)
            .subquery("gains")
        )
        return g, g.c.base, case((g.c.inside_max > g.c.base, g.c.inside_max - g.c.base), else_=0)

    async def regional_activity(self, start: datetime, end: datetime) -> dict[str, int]:
        """Summed in the database (in two parts: :func:`_exact_sum`): only one row per region
        comes back."""
        g, _, gained = await self._every_gain(start, end)
        statement = select(g.c.region, *_exact_sum(gained)).group_by(g.c.region)
        return {
            region: _put_together(high, low) for region, high, low in await self._session.execute(statement)
        }

    async def ad_gains(self, start: datetime, end: datetime) -> builtins.list[AdGain]:
        """Summed per ad in the database (in two parts: :func:`_exact_sum`): one row per ad, not
        one per ad and region."""
        g, base, gained = await self._every_gain(start, end)
        statement = (
            select(
                g.c.ad_id,
                g.c.product_id,
                g.c.platform,
                *_exact_sum(gained),
                *_exact_sum(base),
                func.min(g.c.first_seen).label("first_seen"),
                func.max(g.c.last_seen).label("last_seen"),
            )
            .group_by(g.c.ad_id, g.c.product_id, g.c.platform)
            .order_by(g.c.ad_id)
        )
        platforms = _PLATFORMS
        return [
            AdGain(
                ad_id,
                product_id,
                platforms[platform],
                # _put_together written out: this builds an AdGain per ad of the market, and
                # the two calls each were about a third of its Python time (docs/performance.md).
                (gained_high << 32) + gained_low if gained_high else gained_low,
                (base_high << 32) + base_low if base_high else base_low,
                first_seen,
                last_seen,
            )
            for (
                ad_id,
                product_id,
                platform,
                gained_high,
                gained_low,
                base_high,
                base_low,
                first_seen,
                last_seen,
            ) in await self._rows(statement)
        ]

    async def _day_complete(self, end: datetime) -> bool:
        """Whether nothing is stored after ``end`` in its UTC day (one probe of the time index):
        then that day's rollup holds exactly the day's readings up to ``end``."""
        observed = t.engagement_snapshots.c.observed_at
        day_end = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        later = select(literal(1)).where(observed > end, observed < day_end).limit(1)
        return (await self._session.execute(later)).first() is None

    async def _day_fresh(self, start: datetime) -> bool:
        """Whether nothing is stored at or before ``start`` in its UTC day (one probe of the time
        index): then that day's rollup holds exactly the day's readings after ``start``."""
        observed = t.engagement_snapshots.c.observed_at
        day_start = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        earlier = select(literal(1)).where(observed >= day_start, observed <= start).limit(1)
        return (await self._session.execute(earlier)).first() is None

    @classmethod
    def gains_statement(
        cls,
        start: datetime,
        end: datetime,
        wanted: builtins.list[int] | None,
        *,
        day_complete: bool = False,
        day_fresh: bool = False,
        regions: builtins.list[str] | None = None,
    ) -> Any:
        """The one aggregate query over the window's pieces (rollups and raw edges), with each
        ad and region's ``base`` as ``domain.gains.window_gains`` defines it: the highest reading
        before the window, or else the views of the first reading inside it (the ``first_views``
        of the piece with the earliest ``first_seen``: rollup rows keep their first reading's
        views, raw readings are their own). ``day_complete`` and ``day_fresh``: see
        :func:`rollups.tile`."""
        pieces = rollups.tile(start - LOOKBACK, start, before=True) + rollups.tile(
            start, end, before=False, day_complete=day_complete, day_fresh=day_fresh
        )
        parts = [cls._piece(piece, wanted, regions) for piece in pieces]
        union = parts[0].union_all(*parts[1:]).subquery("pieces")
        p = union.c
        return (
            select(
                p.ad_id,
                p.region,
                p.product_id,
                p.platform,
                # The first views of the earliest piece of all: with nothing before the window,
                # the first reading inside it.
                func.coalesce(
                    func.max(case((p.before == 1, p.hi))), _FirstViews(p.first_seen, p.first_views)
                ).label("base"),
                func.max(case((p.before == 0, p.hi))).label("inside_max"),
                func.min(p.first_seen).label("first_seen"),
                func.max(p.last_seen).label("last_seen"),
            )
            .group_by(p.ad_id, p.region, p.product_id, p.platform)
            .having(func.max(case((p.before == 0, 1))) == 1)
            .order_by(p.ad_id, p.region)
        )

    @staticmethod
    def _piece(
        piece: rollups.Piece, wanted: builtins.list[int] | None, regions: builtins.list[str] | None = None
    ) -> Any:
        flag = literal(1 if piece.before else 0, Integer).label("before")
        if piece.source == "raw":
            e = t.engagement_snapshots.c
            if piece.closed:
                bounds = and_(e.observed_at >= piece.lo, e.observed_at <= piece.hi)
            else:
                bounds = and_(e.observed_at > piece.lo, e.observed_at < piece.hi)
            statement = select(
                e.ad_id,
                e.region,
                e.product_id,
                e.platform,
                e.views.label("hi"),
                e.views.label("lo"),
                e.observed_at.label("first_seen"),
                e.observed_at.label("last_seen"),
                e.views.label("first_views"),
                flag,
            ).where(bounds)
            column, region = e.product_id, e.region
        else:
            table = t.engagement_hourly if piece.source == "hour" else t.engagement_daily
            r = table.c
            statement = select(
                r.ad_id,
                r.region,
                r.product_id,
                r.platform,
                r.max_views.label("hi"),
                r.min_views.label("lo"),
                r.first_seen,
                r.last_seen,
                r.first_views,
                flag,
            ).where(r.bucket >= piece.lo, r.bucket < piece.hi)
            column, region = r.product_id, r.region
        if regions is not None:
            statement = statement.where(region.in_(regions))
        return statement if wanted is None else statement.where(column.in_(wanted))

    async def products_with_engagement(self) -> builtins.list[int]:
        statement = (
            select(t.engagement_snapshots.c.product_id)
            .distinct()
            .order_by(t.engagement_snapshots.c.product_id)
        )
        return list((await self._session.execute(statement)).scalars())


def _score(row: Row[Any]) -> TrendScore:
    return TrendScore(
        id=row.id,
        product_id=row.product_id,
        calculated_at=row.calculated_at,
        assessment=TrendAssessment(
            score=row.score,
            status=TrendStatus(row.status),
            confidence=row.confidence,
            components=dict(row.components),
            growth=dict(row.growth),
            forecast=tuple(row.forecast),
            reasons=tuple(row.reasons),
        ),
    )


def _score_values(score: TrendScore) -> dict[str, Any]:
    a = score.assessment
    return {
        "product_id": score.product_id,
        "calculated_at": score.calculated_at,
        "score": a.score,
        "status": a.status.value,
        "confidence": a.confidence,
        "components": dict(a.components),
        "growth": dict(a.growth),
        "forecast": list(a.forecast),
        "reasons": list(a.reasons),
    }


_NEXT_SCORE_IDS = "SELECT nextval(pg_get_serial_sequence('trend_scores', 'id')) FROM generate_series(1, %s)"
_COPY_SCORES = (
    "COPY trend_scores (id, product_id, calculated_at, score, status, confidence, components, growth, "
    "forecast, reasons) FROM STDIN"
)


@translate_errors
class SqlScoreRepository(_SqlRepository, ScoreRepository):
    """Every score is kept (a product's history); ``trend_scores_latest`` holds each product's
    latest one, updated in the same statement batch, so reads of the latest scores do not grow
    with the history."""

    async def add(self, score: TrendScore) -> TrendScore:
        return (await self.add_many([score]))[0]

    async def add_many(self, scores: Sequence[TrendScore]) -> builtins.list[TrendScore]:
        if not scores:
            return []
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":
            driver = (await connection.get_raw_connection()).driver_connection
            stored = await self._copy_postgres(driver, scores)
        else:
            # One INSERT … RETURNING over many rows (SQLAlchemy's insertmanyvalues), ids in order.
            statement = insert(t.trend_scores).returning(t.trend_scores.c.id, sort_by_parameter_order=True)
            result = await self._session.execute(statement, [_score_values(score) for score in scores])
            stored = [
                dataclasses.replace(score, id=new_id)
                for score, new_id in zip(scores, result.scalars().all(), strict=True)
            ]
        await self._keep_latest([score.id for score in stored])
        return stored

    @staticmethod
    async def _copy_postgres(driver: Any, scores: Sequence[TrendScore]) -> builtins.list[TrendScore]:
        """Ids drawn from the table's sequence and the rows sent with one COPY, on the psycopg
        connection: re-scoring stores up to 100,000 scores, and a multi-row INSERT of that size
        cost about 0.3 ms a score (psycopg parses every long statement's text again)."""
        encode = msgspec.json.encode
        async with driver.cursor() as cursor:
            await cursor.execute(_NEXT_SCORE_IDS, (len(scores),))
            ids = sorted(row[0] for row in await cursor.fetchall())
            # Made directly: dataclasses.replace costs several times as much, a score at a time.
            stored = [
                TrendScore(
                    id=new_id,
                    product_id=score.product_id,
                    calculated_at=score.calculated_at,
                    assessment=score.assessment,
                )
                for score, new_id in zip(scores, ids, strict=True)
            ]
            async with cursor.copy(_COPY_SCORES) as copy:
                # Sent a part at a time: the database takes in one part while the next is built.
                for start in range(0, len(stored), COPY_PART):
                    lines: builtins.list[bytes] = []
                    for score in stored[start : start + COPY_PART]:
                        a = score.assessment
                        # Numbers, a fixed status name, an ISO timestamp and compact JSON, whose
                        # only character COPY's text format treats specially is the backslash of
                        # its escapes.
                        lines.append(
                            b"\t".join(
                                (
                                    f"{score.id}\t{score.product_id}\t{score.calculated_at.isoformat()}\t"
                                    f"{a.score!r}\t{a.status.value}\t{a.confidence!r}".encode(),
                                    encode(a.components).replace(b"\\", b"\\\\"),
                                    encode(a.growth).replace(b"\\", b"\\\\"),
                                    encode(a.forecast).replace(b"\\", b"\\\\"),
                                    encode(a.reasons).replace(b"\\", b"\\\\"),
                                )
                            )
                        )
                    await copy.write(b"\n".join(lines) + b"\n")
        return stored

    def _keep_latest_statement(self, condition: Any) -> Any:
        """Updates ``trend_scores_latest`` from the stored scores the condition selects: the
        newest of them per product (calculated_at, then id), in product order so that concurrent
        writers lock the rows in the same order; only a newer score replaces the one kept, so
        writers that commit out of order, or a score stored late for an earlier moment, leave
        the latest in place."""
        s, latest = t.trend_scores.c, t.trend_scores_latest
        dialect = self._session.bind.dialect.name if self._session.bind is not None else "sqlite"
        rank = func.row_number().over(
            partition_by=s.product_id, order_by=(s.calculated_at.desc(), s.id.desc())
        )
        ranked = select(s.product_id, s.id, s.calculated_at, s.score, s.status, rank.label("rank")).where(
            condition
        )
        newest = ranked.subquery("ranked")
        upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(latest).from_select(
            ["product_id", "score_id", "calculated_at", "score", "status"],
            select(newest.c.product_id, newest.c.id, newest.c.calculated_at, newest.c.score, newest.c.status)
            .where(newest.c.rank == 1)
            .order_by(newest.c.product_id),
        )
        excluded = upsert.excluded
        return upsert.on_conflict_do_update(
            index_elements=[latest.c.product_id],
            set_={
                "score_id": excluded.score_id,
                "calculated_at": excluded.calculated_at,
                "score": excluded.score,
                "status": excluded.status,
            },
            where=or_(
                excluded.calculated_at > latest.c.calculated_at,
                and_(
                    excluded.calculated_at == latest.c.calculated_at,
                    excluded.score_id > latest.c.score_id,
                ),
            ),
        )

    async def _keep_latest(self, score_ids: builtins.list[int]) -> None:
        """:meth:`_keep_latest_statement` for these scores, one statement per id batch."""
        for condition in self._id_batches(t.trend_scores.c.id, score_ids):
            await self._session.execute(self._keep_latest_statement(condition))

    async def add_stream(self, scores: AsyncIterable[TrendScore]) -> builtins.list[TrendScore]:
        """On PostgreSQL, from :data:`STORE_PART` scores on, they are written a part at a time
        while the caller computes the next part: each part's write (its COPY, then the latest
        scores) runs as a task on the transaction's connection, and moves on whenever the caller
        lets the event loop turn (re-scoring's stream does every :data:`STREAM_TURN` rows, every
        :data:`WRITING_TURN` while a write is in flight). One write in flight; a failed write
        fails the call. Fewer scores, and other databases: all at once (:meth:`add_many`)."""
        connection = await self._session.connection()
        if connection.dialect.name != "postgresql":
            return await super().add_stream(scores)
        stored: builtins.list[TrendScore] = []
        write: Callable[[builtins.list[TrendScore]], Awaitable[builtins.list[TrendScore]]] | None = None
        writing: asyncio.Future[builtins.list[TrendScore]] | None = None
        part: builtins.list[TrendScore] = []
        try:
            async for score in scores:
                part.append(score)
                if len(part) >= STORE_PART:
                    write = write or await self._part_writer(connection)
                    if writing is not None:
                        stored.extend(await writing)
                    writing = asyncio.ensure_future(write(part))
                    part = []
            if writing is not None:
                stored.extend(await writing)
                writing = None
            stored.extend(await self.add_many(part))
        finally:
            # Whatever happened, no write outlives the call: the connection is free again.
            if writing is not None:
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await writing
        return stored

    async def _part_writer(
        self, connection: AsyncConnection
    ) -> Callable[[builtins.list[TrendScore]], Awaitable[builtins.list[TrendScore]]]:
        """What writes one part of :meth:`add_stream` on the psycopg connection, its latest-score
        statement compiled once for every part (each gives its scores' ids)."""
        driver: Any = (await connection.get_raw_connection()).driver_connection
        keep_latest = self._keep_latest_statement(_in_id_array(t.trend_scores.c.id, "score_ids")).compile(
            dialect=connection.dialect
        )
        info = self._session.info

        async def write(part: builtins.list[TrendScore]) -> builtins.list[TrendScore]:
            info[_WRITING] = True
            try:
                written = await self._copy_postgres(driver, part)
                ids = _id_array(score.id for score in written)
                async with driver.cursor() as cursor:
                    await cursor.execute(keep_latest.string, keep_latest.construct_params({"score_ids": ids}))
            finally:
                info[_WRITING] = False
            return written

        return write

    def _latest_rows(self) -> Any:
        """The stored rows of the latest scores."""
        return select(t.trend_scores).join(
            t.trend_scores_latest, t.trend_scores_latest.c.score_id == t.trend_scores.c.id
        )

    async def latest_many(self, product_ids: Iterable[int]) -> dict[int, TrendScore]:
        found: dict[int, TrendScore] = {}
        for condition in self._id_batches(t.trend_scores_latest.c.product_id, product_ids):
            for row in await self._session.execute(self._latest_rows().where(condition)):
                found[row.product_id] = _score(row)
        return found

    async def latest(self, product_id: int) -> TrendScore | None:
        return (await self.latest_many([product_id])).get(product_id)

    async def latest_all(self) -> builtins.list[TrendScore]:
        return [_score(row) for row in await self._session.execute(self._latest_rows())]

    async def latest_levels(self, product_ids: Iterable[int]) -> dict[int, ScoreLevel]:
        latest = t.trend_scores_latest.c
        found: dict[int, ScoreLevel] = {}
        statuses = _STATUSES
        for condition in self._id_batches(latest.product_id, product_ids):
            statement = select(latest.product_id, latest.score, latest.status, latest.calculated_at).where(
                condition
            )
            for product_id, score, status, calculated_at in await self._session.execute(statement):
                found[product_id] = ScoreLevel(float(score), statuses[status], calculated_at)
        return found

    async def stale(self, before: datetime, limit: int) -> builtins.list[int]:
        latest = t.trend_scores_latest.c
        statement = (
            select(latest.product_id)
            .where(
                latest.calculated_at < before,
                or_(latest.score != 0, latest.status != TrendStatus.STEADY.value),
            )
            .order_by(latest.calculated_at, latest.product_id)
            .limit(limit)
        )
        return list((await self._session.execute(statement)).scalars())

    def _ranking(
        self, keep: TrendingFilter, *, scores: bool, products: bool = False
    ) -> tuple[Any, builtins.list[Any]]:
        """What :meth:`ranked` and :meth:`count_ranked` both read: the latest scores, joined to
        the stored scores when ``scores`` or a least confidence asks for them and to the products
        when ``products``, a name or a category does, and the conditions of the products ``keep``
        keeps, as :meth:`TrendingFilter.keeps` says them."""
        latest = t.trend_scores_latest
        source: Any = latest
        conditions: builtins.list[Any] = []
        if keep.status is not None:
            conditions.append(latest.c.status == keep.status.value)
        if scores or keep.min_confidence is not None:
            source = source.join(t.trend_scores, t.trend_scores.c.id == latest.c.score_id)
        if keep.min_confidence is not None:
            conditions.append(t.trend_scores.c.confidence >= keep.min_confidence)
        if products or keep.name is not None or keep.category is not None:
            source = source.join(t.products, t.products.c.id == latest.c.product_id)
        if keep.name is not None:
            conditions.append(_name_holds(keep.name))
        if keep.category is not None:
            conditions.append(t.products.c.category == keep.category)
        if keep.among is not None:
            conditions.append(self._in_ids(latest.c.product_id, keep.among))
        return source, conditions

    async def ranked(
        self, keep: TrendingFilter, *, limit: int, skip: int = 0, order: TrendingOrder = TrendingOrder.SCORE
    ) -> builtins.list[TrendScore]:
        latest = t.trend_scores_latest.c
        newest = order is TrendingOrder.NEWEST
        source, conditions = self._ranking(keep, scores=True, products=newest)
        # As trending_key says: the products an order cannot place last, ties by score, then id.
        by: builtins.list[Any] = [latest.score.desc(), latest.product_id]
        if newest:
            by = [t.products.c.created_at.desc(), latest.product_id.desc()]
        elif (window := GROWTH_ORDERS.get(order)) is not None:
            growth = t.trend_scores.c.growth[window].as_float()
            # "from none" (model.growth_from_none) first, then the figures, then "n/a";
            # a score without days_of_readings (stored before it was) compares as NULL: n/a.
            days = t.trend_scores.c.components["days_of_readings"].as_float()
            place = case((growth.is_not(None), 1), (days >= 2 * GROWTH_WINDOW_DAYS[window], 0), else_=2)
            by = [place, growth.desc(), *by]
        statement = (
            select(t.trend_scores)
            .select_from(source)
            .where(*conditions)
            .order_by(*by)
            .offset(skip)
            .limit(limit)
        )
        return [_score(row) for row in await self._session.execute(statement)]

    async def count_ranked(self, keep: TrendingFilter) -> int:
        source, conditions = self._ranking(keep, scores=False)
        statement = select(func.count()).select_from(source).where(*conditions)
        return int((await self._session.execute(statement)).scalar_one())

    async def history(self, product_id: int, *, since: datetime | None = None) -> builtins.list[TrendScore]:
        statement = (
            select(t.trend_scores)
            .where(t.trend_scores.c.product_id == product_id)
            .order_by(t.trend_scores.c.calculated_at, t.trend_scores.c.id)
        )
        if since is not None:
            statement = statement.where(t.trend_scores.c.calculated_at >= since)
        return [_score(row) for row in await self._session.execute(statement)]

    async def prune(self, before: datetime, *, dry_run: bool = False) -> int:
        """One statement; the latest scores are those ``trend_scores_latest`` points at."""
        s, latest = t.trend_scores.c, t.trend_scores_latest.c
        condition = and_(
            s.calculated_at < before, ~select(latest.score_id).where(latest.score_id == s.id).exists()
        )
        if dry_run:
            counted = await self._session.execute(
                select(func.count()).select_from(t.trend_scores).where(condition)
            )
            return int(counted.scalar_one())
        removed = await self._session.execute(delete(t.trend_scores).where(condition))
        return int(getattr(removed, "rowcount", 0))


def _entry(row: Row[Any]) -> WatchlistEntry:
    return WatchlistEntry(
        id=row.id, user_id=row.user_id, product_id=row.product_id, created_at=row.created_at
    )


@translate_errors
class SqlWatchlistRepository(_SqlRepository, WatchlistRepository):
    async def add_if_new(self, entry: WatchlistEntry) -> WatchlistEntry | None:
        # ON CONFLICT DO NOTHING waits for a concurrent insert of the same entry to end, then
        # does nothing if it committed: no unique violation to answer, and the caller's next
        # read (a fresh snapshot on PostgreSQL; SQLite's write lock came after the other's
        # commit) finds the stored entry.
        new_id = await self._insert_unless_exists(
            t.watchlist_entries,
            {"user_id": entry.user_id, "product_id": entry.product_id, "created_at": entry.created_at},
            ["user_id", "product_id"],
        )
        if new_id is None:
            return None
        return WatchlistEntry(
            id=new_id, user_id=entry.user_id, product_id=entry.product_id, created_at=entry.created_at
        )

    async def get(self, user_id: int, product_id: int) -> WatchlistEntry | None:
        statement = select(t.watchlist_entries).where(
            t.watchlist_entries.c.user_id == user_id, t.watchlist_entries.c.product_id == product_id
        )
        row = (await self._session.execute(statement)).first()
        return _entry(row) if row else None

    async def list(
        self, user_id: int, *, skip: int = 0, limit: int | None = None
    ) -> builtins.list[WatchlistEntry]:
        statement = (
            select(t.watchlist_entries)
            .where(t.watchlist_entries.c.user_id == user_id)
            .order_by(t.watchlist_entries.c.id)
            .offset(skip)
            .limit(limit)
        )
        return [_entry(row) for row in await self._session.execute(statement)]

    async def remove(self, user_id: int, product_id: int) -> bool:
        result = await self._session.execute(
            t.watchlist_entries.delete().where(
                t.watchlist_entries.c.user_id == user_id, t.watchlist_entries.c.product_id == product_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def users_watching(self, product_ids: Iterable[int]) -> set[int]:
        wanted = sorted(set(product_ids))
        if not wanted:
            return set()
        statement = (
            select(t.watchlist_entries.c.user_id)
            .where(t.watchlist_entries.c.product_id.in_(wanted))
            .distinct()
        )
        return set((await self._session.execute(statement)).scalars())


def _rule(row: Row[Any]) -> AlertRule:
    return AlertRule(
        id=row.id,
        user_id=row.user_id,
        kind=AlertRuleKind(row.kind),
        product_id=row.product_id,
        threshold=row.threshold,
        window_hours=row.window_hours,
        created_at=row.created_at,
        channels=tuple(Channel(name) for name in row.channels.split(",") if name),
        webhook_url=row.webhook_url,
        webhook_secret=row.webhook_secret,
        changed_at=row.changed_at,
    )


@translate_errors
class SqlAlertRuleRepository(_SqlRepository, AlertRuleRepository):
    @staticmethod
    def _values(rule: AlertRule) -> dict[str, Any]:
        return {
            "user_id": rule.user_id,
            "kind": rule.kind.value,
            "product_id": rule.product_id,
            "threshold": rule.threshold,
            "window_hours": rule.window_hours,
            "created_at": rule.created_at,
            "channels": ",".join(c.value for c in rule.channels),
            "webhook_url": rule.webhook_url,
            "webhook_secret": rule.webhook_secret,
            "changed_at": rule.changed_at,
        }

    async def hold(self, user_id: int) -> None:
        """Locks the user's row: on PostgreSQL ``FOR NO KEY UPDATE`` (inserts that reference the
        user, such as alerts, do not wait for it); on SQLite, which has one writer at a time, a
        write that changes nothing, so that the transaction takes the write lock before it reads
        the rules (its reads then see every rule committed before)."""
        users = t.users
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            await self._session.execute(
                select(users.c.id).where(users.c.id == user_id).with_for_update(key_share=True)
            )
        else:
            await self._session.execute(update(users).where(users.c.id == user_id).values(id=users.c.id))

    async def add(self, rule: AlertRule) -> AlertRule:
        new_id = await self._insert(t.alert_rules, self._values(rule))
        return dataclasses.replace(rule, id=new_id)

    async def replace(self, rule: AlertRule) -> bool:
        result = await self._session.execute(
            t.alert_rules.update()
            .where(t.alert_rules.c.id == rule.id, t.alert_rules.c.user_id == rule.user_id)
            .values(self._values(rule))
        )
        return bool(getattr(result, "rowcount", 0))

    async def list(
        self, user_id: int, *, skip: int = 0, limit: int | None = None
    ) -> builtins.list[AlertRule]:
        statement = (
            select(t.alert_rules)
            .where(t.alert_rules.c.user_id == user_id)
            .order_by(t.alert_rules.c.id)
            .offset(skip)
            .limit(limit)
        )
        return [_rule(row) for row in await self._session.execute(statement)]

    async def list_all(self) -> builtins.list[AlertRule]:
        return [
            _rule(row)
            for row in await self._session.execute(select(t.alert_rules).order_by(t.alert_rules.c.id))
        ]

    async def remove(self, user_id: int, rule_id: int) -> bool:
        result = await self._session.execute(
            t.alert_rules.delete().where(t.alert_rules.c.id == rule_id, t.alert_rules.c.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))


def _alert(row: Row[Any]) -> Alert:
    return Alert(
        id=row.id,
        user_id=row.user_id,
        rule_id=row.rule_id,
        product_id=row.product_id,
        kind=AlertRuleKind(row.kind),
        event_key=row.event_key,
        message=row.message,
        created_at=row.created_at,
        read_at=row.read_at,
    )


@translate_errors
class SqlAlertRepository(_SqlRepository, AlertRepository):
    async def add_if_new(self, alert: Alert) -> Alert | None:
        new_id = await self._insert_unless_exists(
            t.alerts,
            {
                "user_id": alert.user_id,
                "rule_id": alert.rule_id,
                "product_id": alert.product_id,
                "kind": alert.kind.value,
                "event_key": alert.event_key,
                "message": alert.message,
                "created_at": alert.created_at,
                "read_at": alert.read_at,
            },
            ["user_id", "event_key"],
        )
        return None if new_id is None else dataclasses.replace(alert, id=new_id)

    async def get(self, alert_id: int) -> Alert | None:
        row = (await self._session.execute(select(t.alerts).where(t.alerts.c.id == alert_id))).first()
        return None if row is None else _alert(row)

    async def list(
        self, user_id: int, *, unread_only: bool = False, skip: int = 0, limit: int = 100
    ) -> builtins.list[Alert]:
        statement = (
            select(t.alerts)
            .where(t.alerts.c.user_id == user_id)
            .order_by(t.alerts.c.created_at.desc(), t.alerts.c.id.desc())
            .offset(skip)
            .limit(limit)
        )
        if unread_only:
            statement = statement.where(t.alerts.c.read_at.is_(None))
        return [_alert(row) for row in await self._session.execute(statement)]

    async def mark_read(self, user_id: int, alert_ids: Iterable[int] | None, at: datetime) -> int:
        condition = and_(t.alerts.c.user_id == user_id, t.alerts.c.read_at.is_(None))
        if alert_ids is not None:
            condition = and_(condition, t.alerts.c.id.in_(sorted(set(alert_ids))))
        result = await self._session.execute(update(t.alerts).where(condition).values(read_at=at))
        return int(getattr(result, "rowcount", 0))

    async def count_unread(self, user_id: int) -> int:
        statement = select(func.count()).where(t.alerts.c.user_id == user_id, t.alerts.c.read_at.is_(None))
        return int((await self._session.execute(statement)).scalar_one())

    async def event_keys(self, user_id: int) -> set[str]:
        statement = select(t.alerts.c.event_key).where(t.alerts.c.user_id == user_id)
        return set((await self._session.execute(statement)).scalars())

    async def has_event(self, user_id: int, key_prefix: str) -> bool:
        # A comparison of the key's start rather than LIKE: exact (no pattern characters, the same
        # case on SQLite as on PostgreSQL) and read through the (user_id, event_key) index.
        statement = (
            select(t.alerts.c.id)
            .where(
                t.alerts.c.user_id == user_id,
                func.substr(t.alerts.c.event_key, 1, len(key_prefix)) == key_prefix,
            )
            .limit(1)
        )
        return (await self._session.execute(statement)).first() is not None


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        alert_id=row.alert_id,
        user_id=row.user_id,
        channel=Channel(row.channel),
        target=row.target,
        secret=row.secret,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        claimed_at=row.claimed_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )


@translate_errors
class SqlDeliveryRepository(_SqlRepository, DeliveryRepository):
    async def add(self, delivery: Delivery) -> Delivery | None:
        new_id = await self._insert_unless_exists(
            t.deliveries,
            {
                "alert_id": delivery.alert_id,
                "user_id": delivery.user_id,
                "channel": delivery.channel.value,
                "target": delivery.target,
                "secret": delivery.secret,
                "status": delivery.status.value,
                "attempts": delivery.attempts,
                "next_attempt_at": delivery.next_attempt_at,
                "claimed_at": delivery.claimed_at,
                "delivered_at": delivery.delivered_at,
                "last_error": delivery.last_error,
                "created_at": delivery.created_at,
            },
            ["alert_id", "channel"],
        )
        return None if new_id is None else dataclasses.replace(delivery, id=new_id)

    async def due(self, now: datetime, limit: int) -> builtins.list[Delivery]:
        d = t.deliveries.c
        statement = (
            select(t.deliveries)
            .where(d.status == DeliveryStatus.PENDING.value, d.next_attempt_at <= now)
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        return [_delivery(row) for row in await self._session.execute(statement)]

    async def claim(self, delivery_id: int, now: datetime) -> Delivery | None:
        # One conditional UPDATE: of two dispatchers racing, exactly one changes the row.
        d = t.deliveries.c
        statement = (
            t.deliveries.update()
            .where(d.id == delivery_id, d.status == DeliveryStatus.PENDING.value)
            .values(status=DeliveryStatus.SENDING.value, attempts=d.attempts + 1, claimed_at=now)
            .returning(*t.deliveries.c)
        )
        row = (await self._session.execute(statement)).first()
        return None if row is None else _delivery(row)

    async def record(self, delivery: Delivery) -> None:
        await self._session.execute(
            t.deliveries.update()
            .where(t.deliveries.c.id == delivery.id)
            .values(
                status=delivery.status.value,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                claimed_at=delivery.claimed_at,
                delivered_at=delivery.delivered_at,
                last_error=delivery.last_error,
            )
        )

    async def stale(self, claimed_before: datetime) -> builtins.list[Delivery]:
        d = t.deliveries.c
        statement = (
            select(t.deliveries)
            .where(d.status == DeliveryStatus.SENDING.value, d.claimed_at < claimed_before)
            .order_by(d.id)
        )
        return [_delivery(row) for row in await self._session.execute(statement)]

    async def cancel(self, user_id: int, rule_id: int, reason: str, *, channel: Channel | None = None) -> int:
        d, a = t.deliveries.c, t.alerts.c
        raised = select(a.id).where(a.user_id == user_id, a.rule_id == rule_id)
        statement = (
            t.deliveries.update()
            .where(
                d.user_id == user_id,
                d.status == DeliveryStatus.PENDING.value,
                d.alert_id.in_(raised),
                *([] if channel is None else [d.channel == channel.value]),
            )
            .values(status=DeliveryStatus.CANCELLED.value, last_error=reason)
        )
        result = await self._session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def list(
        self, user_id: int, *, status: DeliveryStatus | None = None, skip: int = 0, limit: int = 100
    ) -> builtins.list[Delivery]:
        d = t.deliveries.c
        statement = (
            select(t.deliveries)
            .where(d.user_id == user_id)
            .order_by(d.created_at.desc(), d.id.desc())
            .offset(skip)
            .limit(limit)
        )
        if status is not None:
            statement = statement.where(d.status == status.value)
        return [_delivery(row) for row in await self._session.execute(statement)]
