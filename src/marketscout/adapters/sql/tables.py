"""The schema, as SQLAlchemy Core tables. Alembic migrations create exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite has no 64-bit autoincrement type of its own; INTEGER PRIMARY KEY is already 64-bit.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC; always answers timezone-aware UTC (SQLite keeps naive values). The
    migrations keep their own frozen copy (``migrations/_types.py``): editing this one changes
    no historical migration."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError("expected a datetime")
        if value.tzinfo is UTC:  # PostgreSQL sessions run in UTC: the usual case, as it is
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(50), nullable=False),
    Column("username_key", String(50), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("email_key", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # When the operator disabled the account (migration 0013); NULL while it is enabled.
    Column("disabled_at", UtcDateTime(), nullable=True),
    # Access tokens issued before this instant no longer count (migration 0015): set when the
    # password changes; NULL until then.
    Column("tokens_valid_after", UtcDateTime(), nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("family_id", String(64), nullable=False, index=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

# Access tokens ended before they expire (a log-out), by token id (``jti``); a row is pruned once
# its token has expired (migration 0015).
revoked_access_tokens = Table(
    "revoked_access_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    # The name case-folded and composed (domain.text.folded), written with it: what name search compares.
    Column("name_key", Text, nullable=False, server_default=""),
    Column("description", String(1000), nullable=False),
    Column("category", String(100), nullable=True),
    Column("keywords", JSON, nullable=False),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

ads = Table(
    "ads",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("product_id", Id, ForeignKey("products.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("platform", String(20), nullable=False),
    Column("ad_content", String(2000), nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("url", String(2048), nullable=True),
    Column("advertiser", String(200), nullable=True),
    Column("first_seen_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("platform", "external_id", name="uq_ads_platform_external_id"),
    Index("ix_ads_platform_id", "platform", "id"),
    # What a snapshot's foreign key refers to: the ad with its product and platform.
    Index("uq_ads_id_product_platform", "id", "product_id", "platform", unique=True),
    # Only the ads a platform dated: the scan looks up the dates of every active ad, and most
    # ads have none (200,000 look-ups: 135 ms through the primary key, 46 ms through this).
    Index(
        "ix_ads_dated",
        "id",
        postgresql_where=text("first_seen_at IS NOT NULL"),
        sqlite_where=text("first_seen_at IS NOT NULL"),
    ),
)

_COUNTERS = ("views", "likes", "comments", "shares")

engagement_snapshots = Table(
    "engagement_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ad_id", Id, nullable=False),
    Column("product_id", Id, nullable=False),
    Column("platform", String(20), nullable=False),
    Column("region", String(6), nullable=False),
    Column("observed_at", UtcDateTime(), nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in _COUNTERS),
    # The account that sent the reading (a user id; NULL for the operator's own collectors and
    # commands), so that an operator can remove one account's readings (migration 0012). No
    # foreign key: accounts are never deleted, and a key would cost a lookup per stored reading.
    Column("sender_id", Id, nullable=True),
    # The ad, with the product and platform copied from it (the rollups are keyed by them): one
    # key checks all three, one lookup per ingested row (migration 0006).
    ForeignKeyConstraint(
        ["ad_id", "product_id", "platform"],
        ["ads.id", "ads.product_id", "ads.platform"],
        ondelete="CASCADE",
        name="fk_engagement_snapshots_ad_id_ads",
    ),
    UniqueConstraint("ad_id", "region", "observed_at", name="uq_engagement_snapshots_key"),
    *(CheckConstraint(f"{name} >= 0", name=f"{name}_not_negative") for name in _COUNTERS),
    Index("ix_engagement_snapshots_product_observed", "product_id", "observed_at"),
    Index("ix_engagement_snapshots_observed", "observed_at"),
)


def _rollup(name: str, *indexes: Index, fillfactor: int = 100) -> Table:
    """Per ad, region and time bucket: the highest and lowest reading of views, the highest of
    interactions (likes + comments + shares), when the first and last reading was taken and the
    views of the first one. Kept at ingest from the rows actually stored; every column is a max or
    a min, or the views of the min time, so applying the same rows twice, or in any order,
    changes nothing."""
    return Table(
        name,
        metadata,
        # The bucket leads the key: windows read bucket ranges across all ads.
        Column("bucket", UtcDateTime(), primary_key=True),
        Column("ad_id", Id, primary_key=True),  # derived data: no foreign-key checks at ingest
        Column("region", String(6), primary_key=True),
        Column("product_id", Id, nullable=False),
        Column("platform", String(20), nullable=False),
        Column("max_views", BigInteger, nullable=False),
        Column("min_views", BigInteger, nullable=False),
        Column("first_seen", UtcDateTime(), nullable=False),
        Column("last_seen", UtcDateTime(), nullable=False),
        Column("max_interactions", BigInteger, nullable=False, server_default="0"),
        # The views of the reading at first_seen (migration 0011; every upsert sets it).
        Column("first_views", BigInteger, nullable=False, server_default="0"),
        CheckConstraint("min_views >= 0 AND max_views >= min_views", name="views_order"),
        *indexes,
        postgresql_with={"fillfactor": fillfactor},
    )


# Re-scoring reads a few products' hours: the hourly rollup is also indexed by product.
engagement_hourly = _rollup(
    "engagement_hourly", Index("ix_engagement_hourly_product_bucket", "product_id", "bucket")
)
# Each ingested hour rewrites the day's row of every active ad: half of each page is left free so
# that PostgreSQL updates in place (migration 0005).
engagement_daily = _rollup("engagement_daily", fillfactor=50)

trend_scores = Table(
    "trend_scores",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("product_id", Id, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("calculated_at", UtcDateTime(), nullable=False),
    Column("score", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("components", JSON, nullable=False),
    Column("growth", JSON, nullable=False),
    Column("forecast", JSON, nullable=False),
    Column("reasons", JSON, nullable=False),
    CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
    CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
    Index("ix_trend_scores_product_calculated", "product_id", "calculated_at", "id"),
)

# Each product's latest score (the greatest calculated_at, then id), kept with every score
# stored: /trending, the heat map and the catalogue read it without scanning the history,
# which grows with every ingest (migration 0007).
trend_scores_latest = Table(
    "trend_scores_latest",
    metadata,
    Column("product_id", Id, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    # The score's id in the history: written with it by the store, never a foreign key
    # (migration 0014: its cascade cost a scan of this table per score pruned).
    Column("score_id", Id, nullable=False),
    Column("calculated_at", UtcDateTime(), nullable=False),
    Column("score", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Index("ix_trend_scores_latest_score", "score", "product_id"),
)

watchlist_entries = Table(
    "watchlist_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("product_id", Id, ForeignKey("products.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("user_id", "product_id", name="uq_watchlist_entries_user_product"),
)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("product_id", Id, ForeignKey("products.id", ondelete="CASCADE"), nullable=True),
    Column("threshold", Float, nullable=True),
    Column("window_hours", Integer, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # Comma-separated channel names ("webhook,email"); empty: the alert centre only.
    Column("channels", String(40), nullable=False, server_default=""),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret", String(100), nullable=True),
    # When what the rule asks last changed (NULL: never since created_at).
    Column("changed_at", UtcDateTime(), nullable=True),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # No foreign key: alerts outlive deleted rules, and default rules (id 0) are not stored.
    Column("rule_id", Id, nullable=False),
    Column("product_id", Id, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime(), nullable=True),
    UniqueConstraint("user_id", "event_key", name="uq_alerts_user_event"),
    Index("ix_alerts_user_created", "user_id", "created_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alert_id", Id, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("target", Text, nullable=False),
    Column("secret", String(100), nullable=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("alert_id", "channel", name="uq_deliveries_alert_channel"),
    CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    CheckConstraint(
        "status IN ('pending', 'sending', 'delivered', 'dead', 'cancelled')", name="status_known"
    ),
    Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    Index("ix_deliveries_user_created", "user_id", "created_at"),
)

product_name_key = products.c.name_key
