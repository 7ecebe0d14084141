"""A region filter names a country, GLOBAL or a continent, resolved in one place."""

from __future__ import annotations

import pytest

from marketscout.domain.errors import InvalidValue
from marketscout.domain.regions import (
    CONTINENTS,
    COUNTRIES_BY_CONTINENT,
    COUNTRY_CODES,
    NO_CONTINENT,
    continent_of,
    in_area,
    normalise_area,
    regions_of,
)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("fr", "FR"), (" global ", "GLOBAL"), ("europe", "Europe"), ("NORTH   america", "North America")],
)
def test_a_country_global_or_continent_is_put_in_its_canonical_form(typed: str, canonical: str) -> None:
    assert normalise_area(typed) == canonical


@pytest.mark.parametrize("typed", ["XX", "Atlantis", "", "Antarctica"])
def test_anything_else_is_refused_naming_the_field_and_what_is_accepted(typed: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        normalise_area(typed)
    assert refused.value.field == "region"
    assert "country code" in refused.value.rule
    assert all(name in refused.value.rule for name in CONTINENTS)


def test_a_continent_holds_its_countries_and_a_country_only_itself() -> None:
    assert in_area("FR", "Europe") and in_area("FR", "FR")
    assert not in_area("US", "Europe") and not in_area("DE", "FR")
    assert not in_area("GLOBAL", "Europe") and in_area("GLOBAL", "GLOBAL")
    assert not in_area("AQ", "Oceania"), "Antarctic territories belong to no continent"


def test_every_region_code_is_listed_once_under_one_continent_or_none() -> None:
    """A code listed under two continents (or under one and under none) would be counted in
    whichever the table happened to put last; listed twice under one, it hides a typo."""
    listed = [code for codes in COUNTRIES_BY_CONTINENT.values() for code in codes] + list(NO_CONTINENT)
    assert len(listed) == len(set(listed)) == len(COUNTRY_CODES)
    assert list(COUNTRIES_BY_CONTINENT) == list(CONTINENTS) and len(set(CONTINENTS)) == 6
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in listed)
    assert {code: continent_of(code) for code in NO_CONTINENT} == dict.fromkeys(NO_CONTINENT)
    assert set(NO_CONTINENT) == {"AQ", "BV", "TF"}


def test_the_regions_of_an_area_are_the_ones_in_area_accepts() -> None:
    """What a store is asked for when a list keeps one area: the country (or GLOBAL) itself, or
    every country of the continent; exactly the regions in_area keeps."""
    assert regions_of("DE") == ("DE",)
    assert regions_of("GLOBAL") == ("GLOBAL",)
    for continent in CONTINENTS:
        listed = regions_of(continent)
        assert listed and len(set(listed)) == len(listed)
        every = {*COUNTRY_CODES, "GLOBAL"}
        assert set(listed) == {code for code in every if in_area(code, continent)}, continent
