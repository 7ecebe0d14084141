"""Regions: ISO 3166-1 alpha-2 country codes and the six continents of the heat map."""

from __future__ import annotations

from marketscout.domain.errors import InvalidValue
from marketscout.domain.model import GLOBAL_REGION

CONTINENTS: tuple[str, ...] = (
    "North America",
    "South America",
    "Europe",
    "Asia",
    "Africa",
    "Oceania",
)

# Each code once, under one continent: a code listed under two would be counted in whichever came
# last (tests/unit/test_regions.py holds the table to it).
COUNTRIES_BY_CONTINENT: dict[str, tuple[str, ...]] = {
    "North America": (
        "AG",
        "AI",
        "AW",
        "BB",
        "BL",
        "BM",
        "BQ",
        "BS",
        "BZ",
        "CA",
        "CR",
        "CU",
        "CW",
        "DM",
        "DO",
        "GD",
        "GL",
        "GP",
        "GT",
        "HN",
        "HT",
        "JM",
        "KN",
        "KY",
        "LC",
        "MF",
        "MQ",
        "MS",
        "MX",
        "NI",
        "PA",
        "PM",
        "PR",
        "SV",
        "SX",
        "TC",
        "TT",
        "US",
        "VC",
        "VG",
        "VI",
        "UM",
    ),
    "South America": (
        "AR",
        "BO",
        "BR",
        "CL",
        "CO",
        "EC",
        "FK",
        "GF",
        "GY",
        "PE",
        "PY",
        "SR",
        "UY",
        "VE",
        "GS",
    ),
    "Europe": (
        "AD",
        "AL",
        "AT",
        "AX",
        "BA",
        "BE",
        "BG",
        "BY",
        "CH",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FO",
        "FR",
        "GB",
        "GG",
        "GI",
        "GR",
        "HR",
        "HU",
        "IE",
        "IM",
        "IS",
        "IT",
        "JE",
        "LI",
        "LT",
        "LU",
        "LV",
        "MC",
        "MD",
        "ME",
        "MK",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "RS",
        "RU",
        "SE",
        "SI",
        "SJ",
        "SK",
        "SM",
        "UA",
        "VA",
        "XK",
    ),
    "Asia": (
        "AE",
        "AF",
        "AM",
        "AZ",
        "BD",
        "BH",
        "BN",
        "BT",
        "CC",
        "CN",
        "CX",
        "CY",
        "GE",
        "HK",
        "ID",
        "IL",
        "IN",
        "IO",
        "IQ",
        "IR",
        "JO",
        "JP",
        "KG",
        "KH",
        "KP",
        "KR",
        "KW",
        "KZ",
        "LA",
        "LB",
        "LK",
        "MM",
        "MN",
        "MO",
        "MV",
        "MY",
        "NP",
        "OM",
        "PH",
        "PK",
        "PS",
        "QA",
        "SA",
        "SG",
        "SY",
        "TH",
        "TJ",
        "TL",
        "TM",
        "TR",
        "TW",
        "UZ",
        "VN",
        "YE",
    ),
    "Africa": (
        "AO",
        "BF",
        "BI",
        "BJ",
        "BW",
        "CD",
        "CF",
        "CG",
        "CI",
        "CM",
        "CV",
        "DJ",
        "DZ",
        "EG",
        "EH",
        "ER",
        "ET",
        "GA",
        "GH",
        "GM",
        "GN",
        "GQ",
        "GW",
        "KE",
        "KM",
        "LR",
        "LS",
        "LY",
        "MA",
        "MG",
        "ML",
        "MR",
        "MU",
        "MW",
        "MZ",
        "NA",
        "NE",
        "NG",
        "RE",
        "RW",
        "SC",
        "SD",
        "SH",
        "SL",
        "SN",
        "SO",
        "SS",
        "ST",
        "SZ",
        "TD",
        "TG",
        "TN",
        "TZ",
        "UG",
        "YT",
        "ZA",
        "ZM",
        "ZW",
    ),
    "Oceania": (
        "AS",
        "AU",
        "CK",
        "FJ",
        "FM",
        "GU",
        "KI",
        "MH",
        "MP",
        "NC",
        "NF",
        "NR",
        "NU",
        "NZ",
        "PF",
        "PG",
        "PN",
        "PW",
        "SB",
        "TK",
        "TO",
        "TV",
        "VU",
        "WF",
        "WS",
        "HM",
    ),
}

# Antarctic territories are valid codes but belong to no continent of the heat map: their
# readings count on a country-level map only.
NO_CONTINENT: dict[str, str] = {
    "AQ": "Antarctica",
    "BV": "Bouvet Island",
    "TF": "French Southern Territories",
}

CONTINENT_OF: dict[str, str] = {
    code: continent for continent, codes in COUNTRIES_BY_CONTINENT.items() for code in codes
}

COUNTRY_CODES: frozenset[str] = frozenset(CONTINENT_OF) | frozenset(NO_CONTINENT)


def normalise_region(value: str) -> str:
    """The canonical form of a region: an upper-case alpha-2 code or ``GLOBAL``."""
    code = value.strip().upper()
    if code == GLOBAL_REGION or code in COUNTRY_CODES:
        return code
    raise InvalidValue("region", "must be an ISO 3166-1 alpha-2 country code or GLOBAL")


def continent_of(region: str) -> str | None:
    """The continent of a country code; None for ``GLOBAL`` and unmapped territories."""
    return CONTINENT_OF.get(region)


_CONTINENT_NAMES = {name.casefold(): name for name in CONTINENTS}
AREA_RULE = (
    "must be an ISO 3166-1 alpha-2 country code (such as US or DE), GLOBAL, "
    f"or a continent ({', '.join(CONTINENTS)})"
)


def normalise_area(value: str) -> str:
    """The canonical form of a region filter: a country code or ``GLOBAL`` as
    :func:`normalise_region` gives it, or a continent's name as :data:`CONTINENTS` spells it
    (any case and spacing)."""
    if continent := _CONTINENT_NAMES.get(" ".join(value.split()).casefold()):
        return continent
    try:
        return normalise_region(value)
    except InvalidValue:
        raise InvalidValue("region", AREA_RULE) from None


def in_area(region: str, area: str) -> bool:
    """Whether a stored region lies in a canonical area: the country itself, or a country of
    the continent."""
    return region == area or continent_of(region) == area


def regions_of(area: str) -> tuple[str, ...]:
    """The stored regions a canonical area holds, as :func:`in_area` accepts them: the country
    (or ``GLOBAL``) itself, or every country of the continent; what a store is asked for."""
    return COUNTRIES_BY_CONTINENT.get(area, (area,))
