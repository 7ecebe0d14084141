"""Entities and value objects of MarketScout.

Plain, immutable standard-library dataclasses. Identity is an integer assigned by the
repository that stores the entity (``id = 0`` until then).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from marketscout.domain.errors import InvalidValue
from marketscout.domain.instants import EARLIEST, LATEST, RANGE_RULE, require_aware
from marketscout.domain.numeric import whole
from marketscout.domain.text import folded

GLOBAL_REGION = "GLOBAL"
# What the synthetic demo market writes in each product's description (``marketscout demo``, or
# a server filling an empty database): with no account behind it, how a stored product is known
# to be made up (:attr:`Product.synthetic`).
SYNTHETIC_MARK = "(synthetic demo data)"


class Platform(enum.StrEnum):
    TIKTOK = "TikTok"
    FACEBOOK = "Facebook"
    INSTAGRAM = "Instagram"
    YOUTUBE = "YouTube"
    TWITTER = "Twitter"


_PLATFORM_NAMES = tuple(p.value for p in Platform)
MAX_COUNT = 2**63 - 1  # the stores' 64-bit counters


class TrendStatus(enum.StrEnum):
    EMERGING = "emerging"
    EXPLODING = "exploding"
    STEADY = "steady"
    PEAKED = "peaked"
    DECLINING = "declining"


class AlertRuleKind(enum.StrEnum):
    SCORE_RISE = "score_rise"
    SCORE_THRESHOLD = "score_threshold"
    STATUS_EXPLODING = "status_exploding"
    NEW_VIRAL_AD = "new_viral_ad"


class Channel(enum.StrEnum):
    """Where an alert is delivered besides the user's alert centre."""

    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a dispatcher; the attempt's outcome is not yet recorded
    DELIVERED = "delivered"
    DEAD = "dead"  # dead letter: the last attempt failed, or the outcome of one is unknown
    CANCELLED = "cancelled"  # its rule was deleted or its target changed before it was sent


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    id: int = 0
    username: str
    email: str
    password_hash: str
    created_at: datetime
    # Set by the operator (``marketscout users disable``): the account can no longer log in,
    # refresh or use its tokens until enabled again.
    disabled_at: datetime | None = None
    # When the password last changed (or the operator set it): access tokens issued before this
    # instant no longer speak for the account; one issued at it or after does.
    tokens_valid_after: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    id: int = 0
    name: str
    description: str
    category: str | None = None
    keywords: tuple[str, ...] = ()
    created_by: int | None = None  # the account that added it; None when collected or loaded by the operator
    created_at: datetime

    @property
    def added_by_user(self) -> bool:
        """Whether an account added the product (the dashboard, the API), rather than the
        operator's collectors, commands or demo market."""
        return self.created_by is not None

    @property
    def synthetic(self) -> bool:
        """Whether the product is one of the synthetic demo market's: loaded by the operator (no
        account) with :data:`SYNTHETIC_MARK` in its description. A user's product never is,
        whatever its description says."""
        return self.created_by is None and SYNTHETIC_MARK in self.description


@dataclass(frozen=True, slots=True, kw_only=True)
class Ad:
    id: int = 0
    product_id: int
    platform: Platform
    ad_content: str
    external_id: str | None = None
    url: str | None = None
    advertiser: str | None = None
    first_seen_at: datetime | None = None
    created_at: datetime


WHOLE_NUMBER = "must be a whole number"


def check_reading(reading: Any) -> tuple[int, int, int, int, int] | None:
    """InvalidValue naming the first field of ``reading`` (an :class:`EngagementSnapshot`, which
    checks itself so when built, or any object with its attributes) that the trend engine cannot
    count with: ``ad_id`` not a whole number; ``views``, ``likes``, ``comments`` or ``shares``
    not a whole number from 0 to ``MAX_COUNT`` (a bool, a float, NaN or an infinity included);
    ``platform`` neither a :class:`Platform` nor one's name; ``region`` not text or empty;
    ``observed_at`` not a datetime with a UTC offset (a naive one would be read as the machine's
    local time) from 1970 to 2100 (:mod:`domain.instants`). AttributeError when it lacks one of
    them.

    A whole number may be any :class:`numbers.Integral` (a NumPy integer): None when ``ad_id``
    and the counts are all ints already, else the five of them (``ad_id``, ``views``, ``likes``,
    ``comments``, ``shares``) as plain ints, for the caller to read in their place."""
    ad_id, v, lk, c, sh = reading.ad_id, reading.views, reading.likes, reading.comments, reading.shares
    plain = None
    # The common case spelled out rather than looped: stores build millions of snapshots when
    # they re-score. Anything else is looked at field by field, to name what is wrong.
    if not (
        type(ad_id) is int
        and type(v) is int
        and type(lk) is int
        and type(c) is int
        and type(sh) is int
        and 0 <= v <= MAX_COUNT
        and 0 <= lk <= MAX_COUNT
        and 0 <= c <= MAX_COUNT
        and 0 <= sh <= MAX_COUNT
    ):
        # (Past the checks, one of them is not an int: a whole number of another type.)
        plain = (
            _whole("ad_id", ad_id),
            _count("views", v),
            _count("likes", lk),
            _count("comments", c),
            _count("shares", sh),
        )
    platform = reading.platform
    if type(platform) is not Platform and platform not in _PLATFORM_NAMES:
        raise InvalidValue("platform", f"must be one of: {', '.join(_PLATFORM_NAMES)}")
    region = reading.region
    if not isinstance(region, str) or not region:
        raise InvalidValue("region", "must be a region code, not empty")
    observed_at = reading.observed_at
    require_aware("observed_at", observed_at)
    # A year strictly between 1970 and 2100 in its own offset (less than a day from UTC) lies
    # within the span: only a time in those two years is compared, as aware times, exactly.
    if not 1970 < observed_at.year < 2100 and not EARLIEST <= observed_at <= LATEST:
        raise InvalidValue("observed_at", RANGE_RULE)
    return plain


def _whole(name: str, value: object) -> int:
    """``value`` as a plain int (:func:`domain.numeric.whole`); InvalidValue naming ``name``
    when it is not a whole number."""
    number = whole(value)
    if number is None:
        raise InvalidValue(name, WHOLE_NUMBER)
    return number


def _count(name: str, value: object) -> int:
    count = _whole(name, value)
    if count < 0:
        raise InvalidValue(name, "must be greater than or equal to 0")
    if count > MAX_COUNT:
        raise InvalidValue(name, f"must be at most {MAX_COUNT}")
    return count


@dataclass(frozen=True, slots=True, kw_only=True)
class EngagementSnapshot:
    """Cumulative public counters of one ad in one region at one moment.

    ``product_id`` and ``platform`` are copied from the ad so that stores can roll
    engagement up per product, platform and region without a join.
    """

    ad_id: int
    product_id: int
    platform: Platform
    region: str
    observed_at: datetime
    views: int
    likes: int = 0
    comments: int = 0
    shares: int = 0

    def __post_init__(self) -> None:
        if type(self.product_id) is not int:
            object.__setattr__(self, "product_id", _whole("product_id", self.product_id))
        plain = check_reading(self)
        if plain is not None:  # whole numbers of another type (NumPy's): kept as plain ints
            for name, number in zip(("ad_id", "views", "likes", "comments", "shares"), plain, strict=True):
                object.__setattr__(self, name, number)
        if type(self.platform) is not Platform:
            object.__setattr__(self, "platform", Platform(self.platform))

    @property
    def key(self) -> tuple[int, str, datetime]:
        """What makes a snapshot unique: (ad, region, observed_at)."""
        return (self.ad_id, self.region, self.observed_at)


# The growth windows of ``TrendAssessment.growth`` and the whole days each spans.
GROWTH_WINDOW_DAYS: Mapping[str, int] = {"24h": 1, "7d": 7, "30d": 30}


def growth_from_none(
    growth: Mapping[str, float | None], components: Mapping[str, float], window: str
) -> bool:
    """Whether a score's growth over ``window`` is None because the window before it was read
    and gained nothing ("from none": a rise from nothing), not because the readings do not reach
    back to it ("n/a"). The score's ``components["days_of_readings"]`` tells them apart: a window
    of ``w`` days has the one before read from ``2w`` days of readings on. A score stored before
    that was recorded does not say: n/a."""
    days = components.get("days_of_readings")
    width = GROWTH_WINDOW_DAYS.get(window)
    if growth.get(window) is not None or days is None or width is None:
        return False
    return days >= 2 * width


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendAssessment:
    """What the scoring engine concludes about one item at one moment."""

    score: float
    status: TrendStatus
    confidence: float
    components: Mapping[str, float] = field(default_factory=dict)
    growth: Mapping[str, float | None] = field(default_factory=dict)
    forecast: tuple[float, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendScore:
    """A stored assessment of a product."""

    id: int = 0
    product_id: int
    calculated_at: datetime
    assessment: TrendAssessment

    @property
    def score(self) -> float:
        return self.assessment.score

    @property
    def status(self) -> TrendStatus:
        return self.assessment.status


class ScoreLevel(NamedTuple):
    """A product's latest score without its components: what a listing shows, and what
    re-scoring compares a fresh score with."""

    score: float
    status: TrendStatus
    calculated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendingFilter:
    """Which products a trending list keeps, by their latest score: of that ``status``, whose
    name holds ``name`` (compared by ``text.folded``: in any case and Unicode form), one of ``among``, whose
    score is at least ``min_confidence`` confident. A field left None keeps every product.
    :meth:`keeps` is the rule; the SQL store says the same in its query."""

    status: TrendStatus | None = None
    name: str | None = None
    among: frozenset[int] | None = None
    min_confidence: float | None = None
    category: str | None = None  # the product's category, as stored

    def keeps(self, score: TrendScore, product: Product) -> bool:
        """Whether the product, whose latest score this is, is on the list."""
        return (
            (self.status is None or score.status == self.status)
            and (self.name is None or folded(self.name) in folded(product.name))
            and (self.among is None or score.product_id in self.among)
            and (self.min_confidence is None or score.assessment.confidence >= self.min_confidence)
            and (self.category is None or product.category == self.category)
        )


class TrendingOrder(enum.StrEnum):
    """The orders of a trending list. Each breaks ties by score, then by lower product id (see
    :func:`trending_key`). A growth order puts first the products whose growth is "from none"
    (:func:`growth_from_none`: a rise from nothing, above any finite one), then
    the finite growths, fastest first, and last those without the figure ("n/a")."""

    SCORE = "score"  # highest latest score first
    GROWTH_24H = "growth_24h"  # fastest growth over the last 24 hours first
    GROWTH_7D = "growth_7d"  # fastest growth over the last 7 days first
    NEWEST = "newest"  # the product added last first (ties: higher product id first)


# The growth window (a key of ``TrendAssessment.growth``) each growth order reads.
GROWTH_ORDERS = {TrendingOrder.GROWTH_24H: "24h", TrendingOrder.GROWTH_7D: "7d"}


def trending_key(order: TrendingOrder, score: TrendScore, product: Product) -> tuple[Any, ...]:
    """The sort key of a product on a list in ``order``, whose latest score this is: ascending
    keys come first. The SQL store says the same in its query."""
    if order is TrendingOrder.NEWEST:
        return (-product.created_at.timestamp(), -score.product_id)
    if (window := GROWTH_ORDERS.get(order)) is not None:
        a = score.assessment
        growth = a.growth.get(window)
        place = 1 if growth is not None else 0 if growth_from_none(a.growth, a.components, window) else 2
        return (place, -(growth or 0.0), -score.score, score.product_id)
    return (-score.score, score.product_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ViralAd:
    """An ad whose engagement grows unusually fast for its platform and age."""

    ad: Ad
    product_name: str
    engagement_score: float
    growth_rate: float
    views_gained: int
    detected_at: datetime
    reason: str
    # What the scan ages the ad from: ``ad.first_seen_at`` where the platform gave it, else its
    # first reading the scan saw (the window and the 30 days before); ``ad.created_at`` says
    # only when it was stored, which for an ad made after its readings is later than both.
    first_seen: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistEntry:
    id: int = 0
    user_id: int
    product_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    """A user's standing question about a product (or every product they watch).

    ``threshold`` means points for ``score_rise`` and a score for
    ``score_threshold``; ``window_hours`` bounds ``score_rise``. ``created_at`` is when the rule
    was made; ``changed_at`` when what it asks (kind, product, threshold, window) last changed,
    None if never: the rule is judged from the later of the two, as a rule made then.
    """

    id: int = 0
    user_id: int
    kind: AlertRuleKind
    product_id: int | None = None
    threshold: float | None = None
    window_hours: int | None = None
    created_at: datetime
    channels: tuple[Channel, ...] = ()
    webhook_url: str | None = None
    webhook_secret: str | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    id: int = 0
    user_id: int
    rule_id: int
    product_id: int
    kind: AlertRuleKind
    event_key: str
    message: str
    created_at: datetime
    read_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One alert on its way through one channel (an outbox row).

    There is at most one per alert and channel. A dispatcher claims it (``sending``)
    before the attempt and records the outcome after, so no attempt is ever repeated
    once it may have reached the receiver, even across restarts.
    """

    id: int = 0
    alert_id: int
    user_id: int
    channel: Channel
    target: str  # the webhook URL or the e-mail address
    secret: str | None = None  # the webhook signing secret of the rule
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime
    claimed_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshToken:
    """A stored refresh token (by its digest), one link in a login's rotation family."""

    id: int = 0
    digest: str
    family_id: str
    user_id: int
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowGain:
    """What one ad gained in one region over a window ``(start, end]`` (a read model).

    ``base`` is the highest reading at or before ``start`` (the level the window grows from),
    or, for a series that starts inside the window, its first reading there (the lower of
    readings that share that instant). ``gained`` is the highest reading inside the window
    minus ``base``, never negative.
    """

    ad_id: int
    product_id: int
    platform: Platform
    region: str
    gained: int
    base: int
    first_seen: datetime
    last_seen: datetime


class AdGain(NamedTuple):
    """What one ad gained over a window in all its regions together (a read model): the sums of
    its :class:`WindowGain` ``gained`` and ``base``, its earliest and latest reading. A plain
    tuple: the viral-ad scan reads one per ad of the market."""

    ad_id: int
    product_id: int
    platform: Platform
    gained: int
    base: int
    first_seen: datetime
    last_seen: datetime
