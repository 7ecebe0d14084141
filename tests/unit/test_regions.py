"""A region filter names a country, GLOBAL or a continent, resolved in one place."""

from __future__ import annotations

import pytest

from marketscout.domain.errors import InvalidValue
from marketscout.domain.regions import CONTINENTS, in_area, normalise_area


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
