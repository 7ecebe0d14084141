"""MarketScout's domain: the trend engine and the rules around it, standard library only.

The names below are the package's public API, the same functions the HTTP API and the backtest
call (``docs/scoring.md`` gives the method and its measurements)::

    from datetime import UTC, datetime, timedelta
    from marketscout.domain import EngagementSnapshot, Platform, score_item

    now = datetime(2026, 12, 1, tzinfo=UTC)
    readings = [
        EngagementSnapshot(ad_id=1, product_id=1, platform=Platform.TIKTOK, region="US",
                           observed_at=now - timedelta(days=d), views=1000 * 2 ** (5 - d),
                           likes=50 * 2 ** (5 - d))
        for d in range(6)
    ]
    assessment = score_item(readings, now)  # score 0-100, status, components, growth, reasons
    print(assessment.score, assessment.status, assessment.reason)

- Scoring: :func:`score_item` (raw readings), :func:`score_series` (readings already grouped per
  ad and region, :class:`ReadingSeries`, built by :func:`reading_series`), :func:`score_many`;
  :class:`ScoringParams` (refuses values outside its bounds) and its defaults,
  :data:`DEFAULT_PARAMS`; the answer, :class:`TrendAssessment`, with a :class:`TrendStatus`.
  A reading is an :class:`EngagementSnapshot` or any object with its attributes (the
  :class:`Reading` protocol), checked field by field; readings of one ad, region and instant given twice count once (the highest
  counters), and an ad's readings are all on one platform.
- Bursts: :class:`BurstDetector`, fed one count at a time (an int or a float from 0; NaN
  or an infinity is a missing value; a negative count is refused), gives an anomaly likelihood in [0, 1]; :class:`BurstParams`
  (refuses values it cannot run with) and :data:`DEFAULT_BURST_PARAMS`.
- Where next: :func:`spread_score`, the chance an item reaches a region it has not reached;
  :class:`SpreadParams` (refuses values it cannot run with) and :data:`DEFAULT_SPREAD_PARAMS`.
- Viral ads and heat maps: :func:`window_gains` (views gained per ad and region over a window,
  :class:`WindowGain`), :func:`ad_gains` (those per ad, :class:`AdGain`), :func:`rank_gains` (the
  viral-ad scan's ranking, :class:`ScanHit`), :func:`heat_map` (interest per region).
- Alert rules: :func:`evaluate_rule` (an :class:`AlertRule` of an :class:`AlertRuleKind` over a
  product's :class:`TrendScore` history and :class:`ViralAd` hits, each of an :class:`Ad`,
  giving :class:`AlertEvent`), :func:`validate_rule`.
- Errors: every refusal is a :class:`DomainError`; bad input an :class:`InvalidValue` naming the
  field and the rule (``error.field``, ``error.rule``).

Times are aware datetimes from 1970 to 2100 (a UTC offset; naive ones are refused by name).
Whole numbers (ids, counts, windows) may be any ``numbers.Integral`` but a bool, real numbers
(scores, thresholds, parameters) any ``numbers.Real`` but a bool: NumPy scalars are taken and
read as plain ints and floats.
Submodules hold more (``marketscout.domain.evaluation``: the backtest's protocols and metrics;
``usecases``: the application services over the ports of ``marketscout.domain.ports``).
``docs/architecture.md`` ("Embedding the domain") shows the burst detector and an alert rule.
"""

from marketscout.domain.alert_rules import AlertEvent, evaluate_rule, validate_rule
from marketscout.domain.burst import DEFAULT_BURST_PARAMS, BurstDetector, BurstParams
from marketscout.domain.errors import DomainError, InvalidValue
from marketscout.domain.gains import ad_gains, window_gains
from marketscout.domain.heatmap import heat_map
from marketscout.domain.model import (
    Ad,
    AdGain,
    AlertRule,
    AlertRuleKind,
    EngagementSnapshot,
    Platform,
    TrendAssessment,
    TrendScore,
    TrendStatus,
    ViralAd,
    WindowGain,
)
from marketscout.domain.scan import ScanHit, rank_gains
from marketscout.domain.scoring import (
    DEFAULT_PARAMS,
    Reading,
    ReadingSeries,
    ScoringParams,
    reading_series,
    score_item,
    score_many,
    score_series,
)
from marketscout.domain.spread import DEFAULT_SPREAD_PARAMS, SpreadAssessment, SpreadParams, spread_score

__all__ = [
    "DEFAULT_BURST_PARAMS",
    "DEFAULT_PARAMS",
    "DEFAULT_SPREAD_PARAMS",
    "Ad",
    "AdGain",
    "AlertEvent",
    "AlertRule",
    "AlertRuleKind",
    "BurstDetector",
    "BurstParams",
    "DomainError",
    "EngagementSnapshot",
    "InvalidValue",
    "Platform",
    "Reading",
    "ReadingSeries",
    "ScanHit",
    "ScoringParams",
    "SpreadAssessment",
    "SpreadParams",
    "TrendAssessment",
    "TrendScore",
    "TrendStatus",
    "ViralAd",
    "WindowGain",
    "ad_gains",
    "evaluate_rule",
    "heat_map",
    "rank_gains",
    "reading_series",
    "score_item",
    "score_many",
    "score_series",
    "spread_score",
    "validate_rule",
    "window_gains",
]
