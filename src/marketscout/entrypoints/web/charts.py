"""Small SVG charts and the continent map, rendered on the server (no script needed)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from marketscout.domain.figures import NONE_BEFORE, rise, times
from marketscout.domain.model import growth_from_none
from marketscout.domain.scoring import DEFAULT_PARAMS, RELATIVE_FLOOR

WIDTH, HEIGHT = 1000, 500

# Simplified continent outlines (longitude, latitude), enough to read as a world map.
CONTINENT_OUTLINES: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "North America": (
        (
            (-168, 66),
            (-140, 70),
            (-95, 72),
            (-80, 65),
            (-60, 55),
            (-55, 47),
            (-70, 43),
            (-76, 35),
            (-80, 25),
            (-97, 26),
            (-97, 20),
            (-87, 15),
            (-78, 8),
            (-85, 10),
            (-105, 20),
            (-115, 30),
            (-125, 40),
            (-125, 50),
            (-140, 60),
            (-165, 55),
        ),
        (
            (-55, 60),
            (-45, 60),
            (-20, 70),
            (-20, 80),
            (-60, 82),
            (-70, 76),
        ),
    ),
    "South America": (
        (
            (-80, 8),
            (-60, 10),
            (-50, 0),
            (-35, -7),
            (-40, -22),
            (-48, -28),
            (-58, -38),
            (-65, -55),
            (-72, -50),
            (-72, -30),
            (-70, -18),
            (-81, -5),
        ),
    ),
    "Europe": (
        (
            (-10, 36),
            (-9, 43),
            (-2, 44),
            (-5, 48),
            (2, 51),
            (8, 54),
            (5, 58),
            (10, 63),
            (20, 70),
            (30, 70),
            (40, 67),
            (45, 55),
            (40, 45),
            (28, 41),
            (26, 36),
            (15, 38),
            (12, 44),
            (5, 43),
        ),
        (
            (-10, 51),
            (-6, 58),
            (-3, 59),
            (2, 53),
            (-5, 50),
        ),
    ),
    "Africa": (
        (
            (-17, 15),
            (-17, 21),
            (-10, 30),
            (-5, 36),
            (10, 37),
            (20, 32),
            (32, 31),
            (35, 28),
            (43, 12),
            (51, 12),
            (42, -2),
            (40, -15),
            (35, -25),
            (20, -35),
            (14, -22),
            (12, -5),
            (9, 4),
            (-8, 4),
            (-15, 10),
        ),
        (
            (44, -25),
            (50, -15),
            (48, -25),
        ),
    ),
    "Asia": (
        (
            (45, 55),
            (40, 45),
            (28, 41),
            (35, 36),
            (35, 30),
            (43, 12),
            (55, 22),
            (60, 25),
            (67, 25),
            (73, 20),
            (77, 8),
            (80, 15),
            (90, 22),
            (98, 16),
            (100, 2),
            (105, 10),
            (110, 20),
            (122, 30),
            (122, 40),
            (130, 42),
            (140, 50),
            (142, 60),
            (160, 62),
            (180, 66),
            (180, 70),
            (140, 73),
            (110, 77),
            (80, 73),
            (60, 70),
            (50, 68),
            (40, 67),
        ),
        (
            (130, 31),
            (135, 34),
            (141, 41),
            (145, 44),
            (140, 36),
        ),
        (
            (95, 5),
            (105, -6),
            (120, -9),
            (140, -8),
            (150, -6),
            (130, 0),
            (115, 4),
        ),
    ),
    "Oceania": (
        (
            (114, -22),
            (122, -18),
            (131, -12),
            (137, -12),
            (142, -11),
            (146, -19),
            (153, -28),
            (150, -37),
            (141, -38),
            (131, -31),
            (115, -34),
        ),
        (
            (172, -35),
            (178, -38),
            (174, -41),
            (167, -46),
            (170, -42),
        ),
    ),
}
LEGEND_STEPS = (0, 25, 50, 75, 100)

# Approximate centres (longitude, latitude) of the countries most often seen in engagement data;
# countries with data are drawn as circles on the continent map when a centre is known.
COUNTRY_CENTRES: dict[str, tuple[float, float]] = {
    "US": (-98, 39),
    "CA": (-106, 56),
    "MX": (-102, 23),
    "BR": (-52, -10),
    "AR": (-64, -34),
    "CO": (-74, 4),
    "CL": (-71, -35),
    "PE": (-75, -10),
    "GB": (-2, 54),
    "IE": (-8, 53),
    "FR": (2, 46),
    "DE": (10, 51),
    "ES": (-4, 40),
    "PT": (-8, 39),
    "IT": (12, 43),
    "NL": (5, 52),
    "BE": (4, 50),
    "CH": (8, 47),
    "AT": (14, 47),
    "PL": (19, 52),
    "SE": (15, 62),
    "NO": (9, 61),
    "FI": (26, 64),
    "DK": (10, 56),
    "RU": (90, 60),
    "UA": (31, 49),
    "TR": (35, 39),
    "IL": (35, 31),
    "SA": (45, 24),
    "AE": (54, 24),
    "EG": (30, 27),
    "NG": (8, 9),
    "KE": (38, 0),
    "ZA": (24, -29),
    "MA": (-7, 32),
    "IN": (79, 22),
    "PK": (70, 30),
    "BD": (90, 24),
    "CN": (104, 35),
    "JP": (138, 36),
    "KR": (128, 36),
    "TW": (121, 24),
    "HK": (114, 22),
    "PH": (122, 12),
    "VN": (106, 16),
    "TH": (101, 15),
    "MY": (102, 4),
    "SG": (104, 1),
    "ID": (113, -1),
    "AU": (134, -25),
    "NZ": (172, -41),
}


@dataclass(frozen=True, slots=True)
class CountryMark:
    code: str
    value: float
    colour: str
    x: float
    y: float


def country_marks(values: dict[str, float]) -> list[CountryMark]:
    marks = []
    for code, value in sorted(values.items()):
        centre = COUNTRY_CENTRES.get(code)
        if centre is None:
            continue
        x, y = ((centre[0] + 180) / 360 * WIDTH, (90 - centre[1]) / 180 * HEIGHT)
        marks.append(CountryMark(code=code, value=value, colour=colour(value), x=round(x, 1), y=round(y, 1)))
    return marks


def _point(lon: float, lat: float) -> str:
    return f"{(lon + 180) / 360 * WIDTH:.1f},{(90 - lat) / 180 * HEIGHT:.1f}"


def colour(value: float) -> str:
    """From pale blue-grey (no interest) to deep red (the strongest region)."""
    t = max(0.0, min(value, 100.0)) / 100.0
    low, high = (226, 232, 240), (190, 30, 45)
    r, g, b = (round(a + (b - a) * t) for a, b in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True, slots=True)
class MapShape:
    name: str
    value: float
    colour: str
    paths: tuple[str, ...]


def continent_map(values: dict[str, float]) -> list[MapShape]:
    return [
        MapShape(
            name=name,
            value=values.get(name, 0.0),
            colour=colour(values.get(name, 0.0)),
            paths=tuple(
                "M" + " L".join(_point(lon, lat) for lon, lat in outline) + " Z" for outline in outlines
            ),
        )
        for name, outlines in CONTINENT_OUTLINES.items()
    ]


def polyline(
    values: Sequence[float],
    width: float,
    height: float,
    pad: float = 2.0,
    *,
    low: float = 0.0,
    high: float | None = None,
    left: float = 0.0,
    top: float = 0.0,
) -> str:
    """SVG polyline points for a series on a fixed scale, ``low`` (default 0) to ``high``
    (default the series' maximum; scores use 100), in the box at (left, top). Values are never
    stretched between their own min and max: a small change stays small, a constant series
    stays at its level."""
    if not values:
        return ""
    ceiling = max(values) if high is None else high
    span = ceiling - low if ceiling > low else 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    inner = height - 2 * pad
    return " ".join(
        f"{left + pad + i * step:.1f},{top + height - pad - (min(max(v, low), low + span) - low) / span * inner:.1f}"
        for i, v in enumerate(values)
    )


# The share of a line chart's height above the top of its scale: the highest value stands this far
# below the plot's upper edge, not along it (app.css sets the top label at the same height).
CHART_HEADROOM = 0.1
CHART_PAD = 2.0


@dataclass(frozen=True, slots=True)
class LineChart:
    """A line chart: the plot (an SVG of ``width`` by ``height`` units) and the y range's and
    first/last dates' labels, which the template sets beside it as text of the page so that
    they keep their size when the plot scales down to a phone's width."""

    points: str
    width: float
    height: float
    low_label: str
    high_label: str
    first_label: str
    last_label: str
    description: str


def line_chart(
    values: Sequence[float],
    *,
    what: str,
    first: str,
    last: str,
    width: float = 600,
    height: float = 160,
    high: float | None = None,
) -> LineChart:
    """``values`` from 0 to ``high`` (scores: 100), or to the series' maximum when None; 0 on the
    bottom axis and ``high`` a tenth of the height below the top (CHART_HEADROOM)."""
    ceiling = high if high is not None else max(values, default=0.0)
    top = CHART_HEADROOM * height - CHART_PAD  # the polyline's box: its padding ends at the headroom
    points = polyline(values, width, height - top, pad=CHART_PAD, low=0.0, high=ceiling, top=top)
    low_label, high_label = "0", f"{ceiling:,.0f}"
    description = f"{what}, {first} to {last}, on a scale from {low_label} to {high_label}" + (
        f"; from {values[0]:,.1f} to {values[-1]:,.1f}" if values else "; no data"
    )
    return LineChart(
        points=points,
        width=width,
        height=height,
        low_label=low_label,
        high_label=high_label,
        first_label=first,
        last_label=last,
        description=description,
    )


# What the growth of a window measures (the API's ``growth``): views gained in the window
# against the window before; the headers and tooltips of the list and the product page. Not
# the rise of the total views (the reasons' "total views +x% in the last 24 h", the component
# ``relative_growth_per_day``): a product page showed both as "24 h" figures, unexplained.
GROWTH_LABELS = {
    "24h": ("Views gained in 24 h vs the 24 h before", "24 h"),
    "7d": ("Views gained in 7 days vs the 7 before", "7 days"),
    "30d": ("Views gained in 30 days vs the 30 before", "30 days"),
}
# What a growth without a ratio reads: the window before was read and gained nothing.
FROM_NONE = "from none"


def growth_label(window: str) -> str:
    return GROWTH_LABELS.get(window, (f"Gains in {window} vs the {window} before", ""))[0]


def growth_title(window: str) -> str:
    span = GROWTH_LABELS.get(window, ("", window))[1] or window
    return (
        f"Views gained in the last {span}, as a change on the views gained in the {span} before "
        f"(+50% = half as many again): not the rise of the total views, which compares all views "
        f"so far with those {span} ago. {FROM_NONE}: the {span} before were read and gained "
        "nothing; n/a: the readings do not reach back to them"
    )


def growth_text(value: float | None, *, none_before: bool = False) -> str:
    """A growth for people: a whole percentage, never "-0%", capped at "over +999%"; without
    one, "from none" where the window before gained nothing (``none_before``), else "n/a"."""
    if value is None:
        return FROM_NONE if none_before else "n/a"
    if value > 9.99:
        return "over +999%"
    percent = round(100 * value)
    return "0%" if percent == 0 else f"{percent:+d}%"


def growth_cells(
    growth: Mapping[str, float | None], components: Mapping[str, float], windows: Sequence[str] | None = None
) -> list[tuple[str, str, str]]:
    """(label, tooltip, text) of each window's growth (``windows``, else those of ``growth``).
    A growth of None is "from none" where the score's days of readings reach back two windows
    (the window before was read: docs/api.md), "n/a" otherwise or where the score does not say
    (stored before it did): :func:`~marketscout.domain.model.growth_from_none`, as the growth
    orders of the list place them."""
    cells = []
    for window in growth if windows is None else windows:
        before = growth_from_none(growth, components, window)
        cells.append(
            (growth_label(window), growth_title(window), growth_text(growth.get(window), none_before=before))
        )
    return cells


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _percent(value: float) -> str:
    return f"{100 * value:,.0f}%"


def _deviations(value: float) -> str:
    """The surprise as the reasons say it: past 10, "far above" (a quiet history's range is
    near zero, so the count grows with the day's gain rather than saying how unusual it is)."""
    if value > 10:
        return "far above (over 10 deviations)"
    if abs(value) < 0.05:
        return "within it"
    return f"{abs(value):.1f} deviations {'above' if value > 0 else 'below'}"


def _times_sign(text: str) -> str:
    return text.replace("x", "×")


def _times(value: float) -> str:
    return _times_sign(times(value))


# The score's components (docs/scoring.md): a name a seller can read and a formatter with the unit.
_COMPONENTS: dict[str, tuple[str, Callable[[float], str]]] = {
    "velocity_24h": ("views gained in 24 h", lambda v: f"{v:,.0f}"),
    "relative_growth_per_day": ("rise of total views in 24 h", lambda v: _times_sign(rise(math.expm1(v)))),
    "acceleration": ("last 3 days' gains vs the 3 before", lambda v: _times(math.exp(v))),
    "momentum": ("momentum (log scale)", _number),
    "surprise": ("last day's gain against its usual range", _deviations),
    "breadth": ("breadth (rising platforms, regions and ads)", _number),
    "quality": ("engagement quality vs the platform norm (log ratio)", _number),
    "concentration": ("share of recent views from the top ad", _percent),
    "days_of_readings": ("days of readings behind the score", lambda v: f"{v:,.0f}"),
}


# Momentum at its floor (docs/scoring.md): ln of the floor the engine puts under a relative growth
# too small for the log scale, plus the reach term; not a figure to show.
_NO_GAINS_TITLE = (
    "No views gained in the last 24 h: momentum is the log of the relative growth, which has no "
    "value for none, so the score takes its floor (the lowest momentum there is)"
)
_FLOOR_TITLE = (
    "The total views rose by less than a millionth in the last 24 h: too little for momentum's log "
    "scale, so the score takes its floor, raised a little by the views gained"
)


def _momentum_floor(components: Mapping[str, float]) -> tuple[str, str] | None:
    """(text, title) of a momentum at its floor, None for one above it. The stored component is
    rounded to 4 decimals, the views gained to hundredths: a thousandth's margin tells them apart."""
    momentum = components["momentum"]
    gained = components.get("velocity_24h", 0.0)
    if (
        momentum
        > math.log(RELATIVE_FLOOR) + DEFAULT_PARAMS.reach_weight * math.log1p(max(gained, 0.0)) + 1e-3
    ):
        return None
    return ("no gains", _NO_GAINS_TITLE) if gained <= 0 else ("rise under a millionth", _FLOOR_TITLE)


def component_rows(
    components: Mapping[str, float], reasons: Sequence[str] = ()
) -> list[tuple[str, str, str]]:
    """(readable name, tooltip, formatted value) for each component, in the order given; the
    tooltip is "" but where the value needs one. With the score's ``reasons``, the acceleration
    over 3 days that gained nothing is "from none", as they say it (the component's ratio counts a
    view a day on both sides, so it is a number there). Momentum at its floor says what it means
    ("no gains"), never the floor's logarithm."""
    rows = []
    none_before = any(NONE_BEFORE in reason for reason in reasons)
    for key, value in components.items():
        name, shown = _COMPONENTS.get(key, (key.replace("_", " "), _number))
        floor = _momentum_floor(components) if key == "momentum" else None
        if floor is not None:
            rows.append((name, floor[1], floor[0]))
        else:
            rows.append((name, "", "from none" if key == "acceleration" and none_before else shown(value)))
    return rows
