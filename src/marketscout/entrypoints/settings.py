"""Settings from environment variables, with safe local defaults.

Every variable is named ``MARKETSCOUT_<FIELD>`` (upper case). The README lists them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container

PREFIX = "MARKETSCOUT_"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names it."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


# The database URLs a store is made from: SQLite and PostgreSQL with their SQLAlchemy driver names
# (adapters.sql.engine.async_url), and the in-memory store (container.store_kind).
DATABASE_SCHEMES = frozenset(
    {"sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+psycopg", "memory"}
)
DATABASE_URL_RULE = "must be sqlite:///PATH, postgresql://USER@HOST/DB or memory://"


DATABASE_URL_FORM_RULE = (
    "must be a well-formed URL: a host name or [IPv6] address, and a port, if any, from 1 to 65535"
)
SQLITE_FILE_RULE = (
    "must name a database file (sqlite:///PATH): an in-memory SQLite database is gone when the "
    "command or server ends"
)


def database_url_problem(url: str) -> str | None:
    """The rule ``url`` breaks, or None: a scheme a store is made from (:data:`DATABASE_URL_RULE`),
    a URL SQLAlchemy reads with a port in range, and for SQLite a file. The URL is not repeated:
    it may carry a password."""
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in DATABASE_SCHEMES:
        return DATABASE_URL_RULE
    if scheme == "memory":
        return None
    # Imported here: the command line is parsed without the store's modules.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)  # as the engine reads it: a port that is not a number raises
    except (ArgumentError, ValueError):
        return DATABASE_URL_FORM_RULE
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        return DATABASE_URL_FORM_RULE
    if scheme.startswith("sqlite") and parsed.database in {None, "", ":memory:"}:
        return SQLITE_FILE_RULE
    return None


RATE_LIMIT_STORAGE_RULE = (
    "must be memory:// or redis://HOST:PORT/DB (rediss:// for TLS), PORT a number from 1 to 65535 "
    "and DB a whole number"
)
RATE_LIMIT_RULE = "must be one limit such as 5/minute or 5 per 2 minutes (second, minute, hour, day)"


def rate_limit_storage_problem(url: str) -> str | None:
    """:data:`RATE_LIMIT_STORAGE_RULE` when ``url`` is no storage the rate limiter is made from
    (limits wants the host and the port of a Redis server), else None; nothing is connected to."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # a port that is not a number, or out of range, raises
    except ValueError:
        return RATE_LIMIT_STORAGE_RULE
    if parts.scheme == "memory":
        return None
    database = parts.path.removeprefix("/")
    usable = parts.scheme in {"redis", "rediss"} and bool(parts.hostname) and bool(port)
    return None if usable and (not database or database.isdigit()) else RATE_LIMIT_STORAGE_RULE


def rate_limit_problem(limit: str) -> str | None:
    """:data:`RATE_LIMIT_RULE` when ``limits`` cannot read ``limit`` as one limit of at least one
    request (the limiter would take only the first of several, and 0 refuses everything)."""
    # Imported here: the command line is parsed without it.
    from limits import parse_many

    try:
        items = parse_many(limit)
    except ValueError:
        return RATE_LIMIT_RULE
    return None if len(items) == 1 and items[0].amount >= 1 else RATE_LIMIT_RULE


class StartupError(RuntimeError):
    """The server or a command cannot start (its store cannot be opened or is not ready); the
    message says what to do."""


def database_problem(error: BaseException) -> str:
    """Why the database cannot be opened, in one line: the driver's first (PostgreSQL's or
    SQLite's words, which carry no password), not SQLAlchemy's wrapping of it."""
    text = str(getattr(error, "orig", None) or error).strip()
    return f"the database cannot be opened: {text.splitlines()[0] if text else type(error).__name__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    database_url: str = field(
        default="sqlite:///./var/marketscout.sqlite3",
        metadata={"help": "sqlite:///PATH (embedded default), postgresql://USER@HOST/DB, or memory://"},
    )
    db_statement_timeout_ms: int = field(
        default=10_000,
        metadata={"help": "PostgreSQL cancels a statement after this long; the request answers 503"},
    )
    jwt_secret: str | None = field(
        default=None, metadata={"help": "HS256 signing key, >= 32 bytes; generated per process when unset"}
    )
    jwt_issuer: str = field(default="marketscout", metadata={"help": "iss claim of access tokens"})
    jwt_audience: str = field(default="marketscout-api", metadata={"help": "aud claim of access tokens"})
    access_token_ttl: int = field(default=1800, metadata={"help": "access token lifetime, seconds"})
    refresh_token_ttl: int = field(
        default=14 * 24 * 3600, metadata={"help": "refresh token lifetime, seconds"}
    )
    argon2_memory_kib: int = field(
        default=19456, metadata={"help": "argon2id memory cost (KiB), 19456 to 4194304"}
    )
    argon2_time_cost: int = field(default=2, metadata={"help": "argon2id passes, 2 to 100"})
    argon2_parallelism: int = field(default=1, metadata={"help": "argon2id lanes, 1 to 255"})
    cors_origins: tuple[str, ...] = field(
        default=("http://127.0.0.1:8000", "http://localhost:8000"),
        metadata={"help": "comma-separated origins allowed by CORS (never *)"},
    )
    signup_open: bool = field(
        default=True,
        metadata={
            "help": "false: POST /signup and the dashboard's sign-up answer 403; the operator adds "
            "accounts with marketscout users add"
        },
    )
    rate_limit_enabled: bool = field(default=True, metadata={"help": "turn rate limiting on or off"})
    rate_limit_auth: str = field(
        default="5/minute", metadata={"help": "limit for sign-up and token endpoints"}
    )
    rate_limit_heavy: str = field(
        default="10/minute", metadata={"help": "limit for scoring, bulk ingest and export"}
    )
    rate_limit_default: str = field(default="60/minute", metadata={"help": "limit for everything else"})
    rate_limit_storage: str = field(
        default="memory://", metadata={"help": "memory:// (one process) or redis://HOST:PORT/DB (shared)"}
    )
    trusted_proxies: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "comma-separated proxy IPs/CIDRs whose X-Forwarded-For and X-Forwarded-Proto are believed"
        },
    )
    max_body_bytes: int = field(default=16 * 1024 * 1024, metadata={"help": "largest request body, bytes"})
    max_ingest_items: int = field(default=100_000, metadata={"help": "most snapshots in one ingest request"})
    gc_threshold: int = field(
        default=50_000,
        metadata={
            "help": "the server's garbage-collector threshold (Python's is 700): re-scoring and the "
            "scan build a million short-lived objects; 0 keeps Python's"
        },
    )
    read_cache_seconds: float = field(
        default=30.0,
        metadata={
            "help": "how long /products, /trending, /heat-map and /scan-ads answers are cached (0: off)"
        },
    )
    log_level: str = field(default="INFO", metadata={"help": "DEBUG, INFO, WARNING or ERROR"})
    demo_data: bool = field(
        default=True, metadata={"help": "fill an empty database with the synthetic demo market at start"}
    )
    sources_file: str | None = field(
        default=None,
        metadata={"help": "TOML file of the sources marketscout collect runs (see docs/collection.md)"},
    )
    youtube_api_key: str | None = field(default=None, metadata={"help": "YouTube Data API v3 key (a secret)"})
    meta_access_token: str | None = field(
        default=None, metadata={"help": "Meta Ad Library API access token (a secret)"}
    )
    tiktok_client_key: str | None = field(default=None, metadata={"help": "TikTok Research API client key"})
    tiktok_client_secret: str | None = field(
        default=None, metadata={"help": "TikTok Research API client secret (a secret)"}
    )
    notify_interval: float = field(
        default=15.0,
        metadata={"help": "seconds between the server's passes over the alert-delivery outbox (0: off)"},
    )
    score_refresh_interval: float = field(
        default=600.0,
        metadata={
            "help": "seconds between the server's passes that refresh scores older than 6 h that time alone "
            "can still change, as when engagement stops arriving (0: off)"
        },
    )
    notify_max_attempts: int = field(
        default=6, metadata={"help": "attempts per webhook or e-mail before it becomes a dead letter"}
    )
    webhook_timeout: float = field(
        default=10.0,
        metadata={"help": "seconds one webhook attempt may take in all: lookup, connecting and the answer"},
    )
    webhook_allow_private: bool = field(
        default=False,
        metadata={"help": "allow webhooks to loopback and private addresses (off: SSRF guard)"},
    )
    smtp_host: str | None = field(
        default=None, metadata={"help": "mail server for e-mail alerts; unset: e-mail delivery is off"}
    )
    smtp_port: int = field(default=25, metadata={"help": "mail server port, 1 to 65535"})
    smtp_security: str = field(default="none", metadata={"help": "none, starttls or tls"})
    smtp_username: str | None = field(default=None, metadata={"help": "mail server login (optional)"})
    smtp_password: str | None = field(default=None, metadata={"help": "mail server password (a secret)"})
    smtp_sender: str = field(
        default="marketscout@localhost", metadata={"help": "From address of alert e-mails"}
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = source.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f.name, f.type, raw)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuses (:class:`SettingsError`) the first value the server or a command could not
        use, naming its variable and the rule; the server checks them before any worker starts."""
        if problem := database_url_problem(self.database_url):
            raise SettingsError(f"MARKETSCOUT_DATABASE_URL {problem}")
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < 32:
            raise SettingsError("MARKETSCOUT_JWT_SECRET must be at least 32 bytes")
        if "*" in self.cors_origins:
            raise SettingsError("MARKETSCOUT_CORS_ORIGINS must list origins, not *")
        for name, (low, high, what) in NUMBER_RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:  # NaN fails too
                raise SettingsError(f"{PREFIX}{name.upper()} must be {what} from {low:g} to {high:g}")
        if self.refresh_token_ttl < self.access_token_ttl:
            raise SettingsError(
                "MARKETSCOUT_REFRESH_TOKEN_TTL must be at least MARKETSCOUT_ACCESS_TOKEN_TTL "
                f"({self.access_token_ttl} s)"
            )
        if self.smtp_security not in {"none", "starttls", "tls"}:
            raise SettingsError("MARKETSCOUT_SMTP_SECURITY must be none, starttls or tls")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError("MARKETSCOUT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        if problem := rate_limit_storage_problem(self.rate_limit_storage):
            raise SettingsError(f"MARKETSCOUT_RATE_LIMIT_STORAGE {problem}")
        for name in ("rate_limit_auth", "rate_limit_heavy", "rate_limit_default"):
            if problem := rate_limit_problem(getattr(self, name)):
                raise SettingsError(f"{PREFIX}{name.upper()} {problem}")


# The range each numeric setting is held to, both ends included, and what it counts. Lows are
# what works at all (OWASP's argon2 minimum, a token that outlives a request, a body that holds a
# form); highs are past any sensible value and keep clear of overflows (a timedelta, a C int).
NUMBER_RANGES: dict[str, tuple[float, float, str]] = {
    "db_statement_timeout_ms": (100, 86_400_000, "a whole number of milliseconds"),
    "access_token_ttl": (60, 31_536_000, "a whole number of seconds"),
    "refresh_token_ttl": (60, 31_536_000, "a whole number of seconds"),
    "argon2_memory_kib": (19_456, 4_194_304, "a whole number of KiB (OWASP's minimum up)"),
    "argon2_time_cost": (2, 100, "a whole number of passes (OWASP's minimum up)"),
    "argon2_parallelism": (1, 255, "a whole number of lanes"),
    "max_body_bytes": (1024, 1_073_741_824, "a whole number of bytes"),
    "max_ingest_items": (1, 10_000_000, "a whole number"),
    "gc_threshold": (0, 10_000_000, "a whole number"),
    "read_cache_seconds": (0, 86_400, "a number of seconds"),
    "notify_interval": (0, 86_400, "a number of seconds"),
    "score_refresh_interval": (0, 86_400, "a number of seconds"),
    "notify_max_attempts": (1, 100, "a whole number"),
    "webhook_timeout": (0.1, 300, "a number of seconds"),
    "smtp_port": (1, 65_535, "a whole number"),
}


def command_settings(database_url: str | None) -> Settings:
    """Settings for a command that is not the server (collect, notify): the environment's, with
    ``--database-url`` if given and never demo data; the process environment is left alone."""
    overrides = {PREFIX + "DEMO_DATA": "false"}
    if database_url:
        overrides[PREFIX + "DATABASE_URL"] = database_url
    return Settings.from_env({**os.environ, **overrides})


# What an operator's bulk command (readings remove, scores prune) allows each PostgreSQL statement:
# one DELETE or roll-up of millions of rows is more than the server's 10 s, within reason (removing
# 1 million readings of 33,333 products took 16 s in all, re-scoring included; pruning 3.1 million
# scores 30 s).
BULK_STATEMENT_TIMEOUT_MS = 30 * 60 * 1000


def run_command(
    database_url: str | None,
    work: Callable[[Container], Awaitable[int]],
    *,
    statement_timeout_ms: int | None = None,
    creates: bool = False,
) -> int:
    """What a command that is not the server does with the store: :func:`command_settings`, a
    container whose store is prepared as the server's (and released afterwards, whatever
    happens), and ``work`` on it; ``work``'s exit code. ``statement_timeout_ms``: a longer limit
    on PostgreSQL statements than the server's, for an operator's bulk work. ``creates``: the
    command adds to the store (an account, scores, deliveries), so a SQLite file that does not
    exist is created and migrated, as the server does; otherwise it only reads or changes what
    is stored, and such a file is refused (a mistyped path, not a new empty database)."""
    settings = command_settings(database_url)
    if statement_timeout_ms is not None:
        settings = dataclasses.replace(
            settings, db_statement_timeout_ms=max(settings.db_statement_timeout_ms, statement_timeout_ms)
        )

    async def run() -> int:
        # Imported when a command runs, not when the command line is parsed (the store's modules).
        from marketscout.entrypoints.startup import command_container, require_database

        if not creates:
            require_database(settings.database_url)
        async with command_container(settings) as container:
            return await work(container)

    return asyncio.run(run())


def _parse(name: str, kind: object, raw: str) -> object:
    env_name = PREFIX + name.upper()
    text = str(kind)
    if "bool" in text:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{env_name} must be true or false")
    if "int" in text:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{env_name} must be an integer") from None
    if "float" in text:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{env_name} must be a number") from None
    if "tuple" in text:
        return _split(raw)
    return raw or None if "None" in text else raw


def tune_gc(threshold: int) -> None:
    """Sets the collector's first-generation threshold (0 leaves Python's default). A server's
    reads build up to a million objects at a time (re-scoring's points, the scan's ads); at
    Python's 700 the collector ran about 30 % of that time (docs/performance.md). Objects freed
    by reference counting, nearly all here, are freed at once whatever the threshold."""
    if threshold > 0:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(threshold, middle, old)
