"""Request and response bodies of the HTTP API (msgspec structs) and their mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from marketscout.domain.model import (
    Ad,
    Alert,
    AlertRule,
    AlertRuleKind,
    Channel,
    Delivery,
    DeliveryStatus,
    Platform,
    Product,
    ScoreLevel,
    TrendScore,
    TrendStatus,
    User,
    ViralAd,
    WatchlistEntry,
)
from marketscout.domain.text import BIDI_CONTROLS, MULTI_LINE, ONE_LINE, WEB_URL_PATTERN, Characters
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.accounts import EMAIL_LOCAL_MAX_LENGTH, EMAIL_MAX_LENGTH, USERNAME_PATTERN
from marketscout.domain.usecases.alerts import DEFAULT_RULE_ID
from marketscout.domain.usecases.trends import SpreadReport


def trimmed_text(max_length: int, characters: Characters = ONE_LINE) -> Meta:
    """A text field the domain trims (marketscout.domain.text): the schema checks early that it
    holds none of the characters the domain refuses (one character class, linear on any input),
    and says the same rule; its length and blankness count once trimmed, so they are the
    domain's to judge, and the description says them."""
    return Meta(
        min_length=1,
        pattern=characters.pattern,
        description=(
            f"Text of at most {max_length} characters once trimmed (the blanks around it are dropped); "
            f"it {characters.rule}, {BIDI_CONTROLS.rule} and must not be blank (nor only characters "
            "that show nothing, such as zero-width spaces or Hangul fillers)"
        ),
    )


Id = Annotated[int, Meta(ge=1, le=2**63 - 1, description="A positive integer id")]
Score = Annotated[float, Meta(ge=0, le=100)]
Counter = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Growth = Annotated[
    dict[str, float | None],
    Meta(
        description=(
            "Per standard window (24h, 7d, 30d): the relative change of views gained in the window "
            "against the window before it (0.5 = half as many again, -0.2 = a fifth fewer); null "
            "when there is no earlier window to compare with (the readings do not reach back to "
            "its start, or it gained nothing)"
        )
    ),
]
Forecast = Annotated[
    list[float],
    Meta(
        description=(
            "The views expected on each of the next 7 days after calculated_at: the last day's gain, "
            "falling 40 % a day (measured on real trending data in docs/scoring.md: within a factor "
            "of two of the views gained 1-3 days ahead about 8 times in 10)"
        )
    ),
]
INSTANT = "RFC 3339 with a UTC offset, between 1970 and 2100, not in the future (5 minutes' grace)"


class Input(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of request bodies: unknown fields are refused."""


class Output(msgspec.Struct, frozen=True, kw_only=True):
    """Base of response bodies."""


# --- errors -------------------------------------------------------------------------


class ErrorDetail(Output, frozen=True):
    field: str
    rule: str
    index: int | None = None


class ErrorBody(Output, frozen=True):
    """The one shape of every error answer."""

    status_code: int
    message: str
    details: list[ErrorDetail] = []
    request_id: str | None = None


# --- accounts -----------------------------------------------------------------------


class SignUpIn(Input, frozen=True):
    username: Annotated[str, Meta(pattern=USERNAME_PATTERN.pattern)]
    email: Annotated[
        str,
        Meta(
            description=(
                f"An e-mail address such as name@example.com, trimmed: at most {EMAIL_MAX_LENGTH} characters, "
                f"at most {EMAIL_LOCAL_MAX_LENGTH} before the @ and a dot after it, no spaces or control "
                "characters, no dot first, last or twice in a row on either side of the @; before the @ "
                "only letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -, after it letters, digits "
                "and hyphens between the dots (at most 63 characters each, 253 in all, once IDNA-encoded)"
            )
        ),
    ]
    password: Annotated[
        str,
        Meta(
            min_length=8,
            max_length=128,
            description=(
                "Not blank, without control characters, not one of the most common passwords, and not the "
                "username or the e-mail address"
            ),
        ),
    ]


class UserOut(Output, frozen=True):
    id: int
    username: str
    email: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, username=user.username, email=user.email, created_at=user.created_at)


class TokenOut(Output, frozen=True):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


class RefreshIn(Input, frozen=True):
    # No length bounds: a string no issued token can be (blank, too long) is refused as an unknown
    # token is (401), not told apart by a 422.
    refresh_token: Annotated[
        str,
        Meta(
            description="A refresh token as POST /token or POST /token/refresh answered it (at most "
            "512 characters); any other string is a 401, as an unknown or spent one"
        ),
    ]


class RevokeIn(Input, frozen=True):
    """What POST /token/revoke ends besides the access token it is sent with."""

    refresh_token: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=512,
                description="A refresh token of the same account: its whole login ends (left out: "
                "the access token alone ends, and the login can still be refreshed)",
            ),
        ]
        | None
    ) = None


class PasswordChangeIn(Input, frozen=True):
    current_password: Annotated[str, Meta(min_length=1, max_length=1024)]
    new_password: Annotated[str, Meta(min_length=8, max_length=128)]


# --- products and ads ---------------------------------------------------------------


class ProductIn(Input, frozen=True):
    name: Annotated[str, trimmed_text(catalog.NAME_LENGTH)]
    description: Annotated[str, trimmed_text(catalog.DESCRIPTION_LENGTH, MULTI_LINE)]
    category: Annotated[str, trimmed_text(catalog.CATEGORY_LENGTH)] | None = None
    keywords: Annotated[list[Annotated[str, trimmed_text(catalog.KEYWORD_LENGTH)]], Meta(max_length=50)] = []


class ProductOut(Output, frozen=True):
    id: int
    name: str
    description: str
    created_at: datetime
    category: str | None = None
    keywords: list[str] = []
    current_score: float | None = None
    status: TrendStatus | None = None
    added_by_user: Annotated[
        bool,
        Meta(
            description="True for a product an account added (POST /products, the dashboard's Data page), "
            "false for one collected or loaded by the operator; which account is never said"
        ),
    ] = False

    @classmethod
    def of(cls, product: Product, score: TrendScore | None = None) -> ProductOut:
        return cls.listed(
            product, ScoreLevel(score.score, score.status, score.calculated_at) if score else None
        )

    @classmethod
    def listed(cls, product: Product, level: ScoreLevel | None) -> ProductOut:
        """A listing's row: the latest score and status only."""
        return cls(
            id=product.id,
            name=product.name,
            description=product.description,
            created_at=product.created_at,
            category=product.category,
            keywords=list(product.keywords),
            current_score=round(level.score, 1) if level else None,
            status=level.status if level else None,
            added_by_user=product.added_by_user,
        )


class AdIn(Input, frozen=True):
    product_id: Id
    platform: Platform
    ad_content: Annotated[str, trimmed_text(catalog.AD_CONTENT_LENGTH, MULTI_LINE)]
    external_id: Annotated[str, trimmed_text(catalog.EXTERNAL_ID_LENGTH)] | None = None
    url: (
        Annotated[
            str,
            Meta(
                max_length=catalog.MAX_AD_URL_LENGTH,
                pattern=WEB_URL_PATTERN,
                description="An absolute http or https URL without spaces or control characters",
            ),
        ]
        | None
    ) = None
    advertiser: Annotated[str, trimmed_text(catalog.ADVERTISER_LENGTH)] | None = None
    first_seen_at: Annotated[datetime, Meta(tz=True, description=INSTANT)] | None = None


class AdOut(Output, frozen=True):
    id: int
    product_id: int
    platform: Platform
    ad_content: str
    created_at: datetime
    external_id: str | None = None
    url: str | None = None
    advertiser: str | None = None
    first_seen_at: datetime | None = None

    @classmethod
    def of(cls, ad: Ad) -> AdOut:
        return cls(
            id=ad.id,
            product_id=ad.product_id,
            platform=ad.platform,
            ad_content=ad.ad_content,
            created_at=ad.created_at,
            external_id=ad.external_id,
            url=ad.url,
            advertiser=ad.advertiser,
            first_seen_at=ad.first_seen_at,
        )


# --- engagement ---------------------------------------------------------------------


class EngagementIn(Input, frozen=True):
    """One snapshot of an ad's cumulative counters in a region."""

    observed_at: Annotated[datetime, Meta(tz=True, description=INSTANT)]
    region: Annotated[str, Meta(min_length=2, max_length=6, description="ISO 3166-1 alpha-2 code or GLOBAL")]
    views: Counter
    likes: Counter = 0
    comments: Counter = 0
    shares: Counter = 0
    ad_id: Id | None = None
    platform: Platform | None = None
    external_id: Annotated[str, trimmed_text(catalog.EXTERNAL_ID_LENGTH)] | None = None


# The columns an engagement CSV file may have (its header's names, in any case), and in words.
ENGAGEMENT_COLUMNS = frozenset(field.encode_name for field in msgspec.structs.fields(EngagementIn))
ENGAGEMENT_COLUMNS_SAID = (
    "ad_id (or platform and external_id), observed_at, region, views, likes, comments and shares"
)


class RejectedItem(Output, frozen=True):
    index: int
    field: str
    rule: str


class IngestOut(Output, frozen=True):
    received: int
    stored: int
    duplicates: int
    rejected: list[RejectedItem]


# --- trend intelligence -------------------------------------------------------------


class ScoreOut(Output, frozen=True):
    product_id: int
    trend_score: Score
    status: TrendStatus
    confidence: float
    calculated_at: datetime
    components: dict[str, float]
    growth: Growth
    forecast: Forecast
    reason: str

    @classmethod
    def of(cls, score: TrendScore) -> ScoreOut:
        a = score.assessment
        return cls(
            product_id=score.product_id,
            trend_score=round(a.score, 1),
            status=a.status,
            confidence=round(a.confidence, 3),
            calculated_at=score.calculated_at,
            components={k: round(v, 4) for k, v in a.components.items()},
            growth={k: None if v is None else round(v, 4) for k, v in a.growth.items()},
            forecast=[round(v, 1) for v in a.forecast],
            reason=a.reason,
        )


class SpreadTargetOut(Output, frozen=True):
    region: str | None
    spread_score: Score
    reached: bool
    views: int
    age_days: float
    reason: str


class SpreadOut(Output, frozen=True):
    product_id: int
    calculated_at: datetime
    reached_regions: list[str]
    targets: list[SpreadTargetOut]

    @classmethod
    def of(cls, report: SpreadReport) -> SpreadOut:
        return cls(
            product_id=report.product_id,
            calculated_at=report.calculated_at,
            reached_regions=report.reached_regions,
            targets=[
                SpreadTargetOut(
                    region=a.target,
                    spread_score=round(a.score, 1),
                    reached=a.reached,
                    views=a.views,
                    age_days=round(a.age_days, 2),
                    reason=a.reason,
                )
                for a in report.targets
            ],
        )


class TrendingProductOut(Output, frozen=True):
    product: ProductOut
    current_score: Score
    status: TrendStatus
    last_updated: datetime
    growth: Growth
    components: dict[str, float]
    confidence: float
    forecast: Forecast
    reason: str
    # "worldwide" (the stored score, every region's readings) or the area whose readings alone
    # gave this score (``/trending?region=…&ranking=regional``: a country code, GLOBAL or a continent)
    scored_in: str


class TrendingOut(Output, frozen=True):
    trending_products: list[TrendingProductOut]


class TrendHistoryOut(Output, frozen=True):
    product_id: int
    history: list[ScoreOut]


class ViralAdOut(Output, frozen=True):
    ad_id: int
    product_id: int
    product_name: str
    platform: Platform
    content: str
    engagement_score: Score
    detected_at: datetime
    growth_rate: float
    views_gained: int
    reason: str

    @classmethod
    def of(cls, viral: ViralAd) -> ViralAdOut:
        return cls(
            ad_id=viral.ad.id,
            product_id=viral.ad.product_id,
            product_name=viral.product_name,
            platform=viral.ad.platform,
            content=viral.ad.ad_content,
            engagement_score=round(viral.engagement_score, 1),
            detected_at=viral.detected_at,
            growth_rate=round(viral.growth_rate, 4),
            views_gained=viral.views_gained,
            reason=viral.reason,
        )


class ScanOut(Output, frozen=True):
    viral_ads: list[ViralAdOut]


class HeatMapProductOut(Output, frozen=True):
    product_id: int
    product_name: str
    regions: dict[str, float]
    regional_views: int


class HeatMapOut(Output, frozen=True):
    heat_map: dict[str, dict[str, float]]
    products: list[HeatMapProductOut]
    level: Literal["continent", "country"]
    since: datetime
    until: datetime


# --- watchlists, rules, alerts ------------------------------------------------------


class WatchIn(Input, frozen=True):
    product_id: Id


class WatchlistOut(Output, frozen=True):
    id: int
    user_id: int
    product_id: int
    created_at: datetime

    @classmethod
    def of(cls, entry: WatchlistEntry) -> WatchlistOut:
        return cls(
            id=entry.id, user_id=entry.user_id, product_id=entry.product_id, created_at=entry.created_at
        )


class AlertRuleIn(Input, frozen=True):
    kind: AlertRuleKind
    product_id: Id | None = None
    threshold: Annotated[float, Meta(gt=0, le=100)] | None = None
    window_hours: Annotated[int, Meta(ge=1, le=720)] | None = None
    channels: Annotated[
        list[Channel],
        Meta(max_length=2, description="where alerts of this rule are delivered besides the alert centre"),
    ] = []
    webhook_url: (
        Annotated[
            str, Meta(min_length=1, max_length=2000, description="http(s) URL; needs the webhook channel")
        ]
        | None
    ) = None


class AlertRuleOut(Output, frozen=True):
    id: int
    kind: AlertRuleKind
    product_id: int | None
    threshold: float | None
    window_hours: int | None
    created_at: datetime
    changed_at: Annotated[
        datetime | None,
        Meta(
            description=(
                "when what the rule asks (kind, product, threshold, window) last changed; null if "
                "never. The rule is judged from the later of created_at and changed_at"
            )
        ),
    ]
    channels: list[Channel]
    webhook_url: str | None
    webhook_secret: Annotated[
        str | None,
        Meta(
            description="the signing secret of the rule's webhooks; only in the answer that creates the rule"
        ),
    ] = None

    @classmethod
    def of(cls, rule: AlertRule, *, with_secret: bool = False) -> AlertRuleOut:
        return cls(
            id=rule.id,
            kind=rule.kind,
            product_id=rule.product_id,
            threshold=rule.threshold,
            window_hours=rule.window_hours,
            created_at=rule.created_at,
            changed_at=rule.changed_at,
            channels=list(rule.channels),
            webhook_url=rule.webhook_url,
            webhook_secret=rule.webhook_secret if with_secret else None,
        )


class DeliveryOut(Output, frozen=True):
    id: int
    alert_id: int
    channel: Channel
    target: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            alert_id=delivery.alert_id,
            channel=delivery.channel,
            target=delivery.target,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None,
            delivered_at=delivery.delivered_at,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
        )


class AlertOut(Output, frozen=True):
    id: int
    rule_id: Annotated[
        int | None,
        Meta(
            description=(
                "The user's rule that found the event; null for a default rule (a user without rules "
                "of their own has one a kind: score_rise of 10 points within 24 hours, and "
                "new_viral_ad), which the alert's kind names"
            )
        ),
    ]
    product_id: int
    kind: AlertRuleKind
    message: str
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls(
            id=alert.id,
            rule_id=None if alert.rule_id == DEFAULT_RULE_ID else alert.rule_id,
            product_id=alert.product_id,
            kind=alert.kind,
            message=alert.message,
            created_at=alert.created_at,
            read=alert.read_at is not None,
        )


class CheckAlertsOut(Output, frozen=True):
    alerts: list[str]
    new_alerts: list[AlertOut]


class MarkReadIn(Input, frozen=True):
    alert_ids: Annotated[list[Id], Meta(max_length=1000)] | None = None


class MarkReadOut(Output, frozen=True):
    marked_read: int


class HealthOut(Output, frozen=True):
    status: str
