"""CSV cells: text that a spreadsheet would run is neutralised, whatever it looks like; the
engine's own numbers are written as numbers."""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from marketscout.domain.usecases.export import to_csv


def _cells(text: str) -> list[str]:
    return list(csv.reader(io.StringIO(text)))[1]


def test_text_that_reads_as_a_negative_number_is_still_neutralised() -> None:
    # The contract: any cell that starts with '-' is neutralised. A product named '-25' is text
    # a user typed, and '-1+2' would be a formula.
    assert _cells(to_csv(("Name", "Other"), [("-25", "-1+2")])) == ["'-25", "'-1+2"]


def test_the_engines_numbers_stay_numbers() -> None:
    assert _cells(to_csv(("Growth", "Views", "Flag"), [(-25.0, -3, True)])) == ["-25.0", "-3", "True"]


@given(st.text())
def test_no_text_cell_starts_a_formula(text: str) -> None:
    (cell,) = _cells(to_csv(("Text",), [(text,)]))
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
