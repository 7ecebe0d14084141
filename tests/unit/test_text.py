"""The domain's rules for text, as every entry point meets them through the use cases: no
control characters (a NUL never reaches a store), blank once invisible characters are ignored,
lengths counted after trimming."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.domain.errors import InvalidValue
from marketscout.domain.model import Platform
from marketscout.domain.usecases import catalog, trends
from marketscout.domain.usecases.engagement import SnapshotInput, ingest_engagement
from tests.unit.fakes import FakeClock

URL_HOST = (
    "must name a host that is a valid DNS name: labels of letters, digits, hyphens or underscores "
    "between single dots, at most 63 characters each and 253 in all once IDNA-encoded"
)
PRODUCT = catalog.NewProduct(name="Desk Lamp", description="A lamp")
NO_CONTROL = "must not hold control characters"
NO_CONTROL_BUT_LINES = "must not hold control characters other than tabs and line breaks"
NO_BIDI = "must not hold bidirectional control characters (U+202A-U+202E, U+2066-U+2069)"


@pytest.fixture
def uow() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(InMemoryStore())


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"name": "a\x00b"}, "name", NO_CONTROL),
        ({"name": "a\x01b"}, "name", NO_CONTROL),
        ({"name": "tab\tinside"}, "name", NO_CONTROL),
        ({"name": "a\x7fb"}, "name", NO_CONTROL),
        ({"name": "a\x85b"}, "name", NO_CONTROL),  # C1 (and whitespace to str.strip)
        ({"name": "Lamp\x1f"}, "name", NO_CONTROL),  # trimmed by str.strip: refused before
        ({"name": "a\u2028b"}, "name", NO_CONTROL),
        ({"name": "\u200b"}, "name", "must not be blank"),
        ({"name": " \u200b\u200c\u200d\u2060\ufeff "}, "name", "must not be blank"),
        ({"description": "nul\x00"}, "description", NO_CONTROL_BUT_LINES),
        ({"description": "a\x0bb"}, "description", NO_CONTROL_BUT_LINES),
        ({"description": "a\x9bb"}, "description", NO_CONTROL_BUT_LINES),
        ({"description": "\ufeff\n\t"}, "description", "must not be blank"),
        ({"category": "bell\x07"}, "category", NO_CONTROL),
        ({"keywords": ("ok", "esc\x1b")}, "keywords", NO_CONTROL),
        ({"keywords": ("ok", "\u2060")}, "keywords", "must not be blank"),
        # Format characters (Unicode's Cf, bidirectional controls among them) and the letters
        # and marks that show nothing (Hangul fillers, the combining grapheme joiner) are blank.
        ({"name": "\u202e", "description": "\u2066"}, "name", "must not be blank"),
        ({"name": "\u00ad\u034f\u180e"}, "name", "must not be blank"),
        ({"name": "\u3164"}, "name", "must not be blank"),
        ({"name": " \u115f\u1160\uffa0\u200e\u200f\u061c\u2061 "}, "name", "must not be blank"),
        ({"description": "\u2066\n\u2069"}, "description", "must not be blank"),
        ({"category": "\U000e0020"}, "category", "must not be blank"),
        ({"keywords": ("ok", "\u3164")}, "keywords", "must not be blank"),
        # A bidirectional embedding, override or isolate shows the text after it reversed.
        ({"name": "Lamp \u202egnp.exe"}, "name", NO_BIDI),
        ({"name": "\u202aLamp\u202c"}, "name", NO_BIDI),
        ({"description": "Line\n\u2067one\u2069"}, "description", NO_BIDI),
        ({"category": "Home\u202b"}, "category", NO_BIDI),
        ({"keywords": ("ok", "la\u202dmp")}, "keywords", NO_BIDI),
    ],
)
async def test_a_product_with_control_characters_or_invisible_text_is_refused_by_name(
    uow: InMemoryUnitOfWork, changes: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        await catalog.create_product(uow, FakeClock(), replace(PRODUCT, **changes), created_by=None)
    assert (error.value.field, error.value.rule) == (field, rule)
    assert await catalog.list_products(uow, skip=0, limit=10) == []


async def test_multi_line_text_keeps_tabs_and_line_breaks_and_a_visible_name_its_invisible_marks(
    uow: InMemoryUnitOfWork,
) -> None:
    made = await catalog.create_product(
        uow,
        FakeClock(),
        replace(PRODUCT, name="\ufeffLamp", description="Line one\r\nLine two\tand a tab"),
        created_by=None,
    )
    assert made.name == "\ufeffLamp"
    assert made.description == "Line one\r\nLine two\tand a tab"


async def test_emoji_sequences_and_joiners_inside_visible_text_are_kept(uow: InMemoryUnitOfWork) -> None:
    """Zero-width joiners make emoji sequences and non-joiners shape Persian words: inside a
    visible name they are kept as typed, as are the direction marks that pop nothing."""
    names = (
        "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 Mug",
        "\U0001f3f3\ufe0f\u200d\U0001f308 Flag",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "Lamp \u200f\u05e2\u05d1\u05e8\u05d9\u05ea\u200e",
    )
    for name in names:
        made = await catalog.create_product(uow, FakeClock(), replace(PRODUCT, name=name), created_by=None)
        assert made.name == name


@pytest.mark.parametrize(
    ("field", "limit"),
    [("name", 200), ("description", 1000), ("category", 100)],
)
async def test_lengths_are_counted_after_trimming(uow: InMemoryUnitOfWork, field: str, limit: int) -> None:
    padded: dict[str, Any] = {field: f"  {'n' * limit}  "}
    made = await catalog.create_product(uow, FakeClock(), replace(PRODUCT, **padded), created_by=None)
    assert getattr(made, field) == "n" * limit
    too_long: dict[str, Any] = {field: "n" * (limit + 1)}
    with pytest.raises(InvalidValue) as error:
        await catalog.create_product(uow, FakeClock(), replace(PRODUCT, **too_long), created_by=None)
    assert (error.value.field, error.value.rule) == (field, f"must be at most {limit} characters")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"ad_content": "x\x00"}, "ad_content", NO_CONTROL_BUT_LINES),
        ({"ad_content": "\u200b\u200b"}, "ad_content", "must not be blank"),
        ({"external_id": "e\x00"}, "external_id", NO_CONTROL),
        ({"external_id": "\ufeff"}, "external_id", "must not be blank"),
        ({"advertiser": "a\x7f"}, "advertiser", NO_CONTROL),
        ({"ad_content": "\u202e\u3164"}, "ad_content", "must not be blank"),
        ({"ad_content": "Buy \u202enow"}, "ad_content", NO_BIDI),
        ({"external_id": "id\u2068"}, "external_id", NO_BIDI),
        ({"advertiser": "\u202dShop"}, "advertiser", NO_BIDI),
        ({"url": "https://shop..example.com/x"}, "url", URL_HOST),
    ],
)
async def test_an_ad_with_control_characters_or_invisible_text_is_refused_by_name(
    uow: InMemoryUnitOfWork, changes: dict[str, Any], field: str, rule: str
) -> None:
    product = await catalog.create_product(uow, FakeClock(), PRODUCT, created_by=None)
    ad = catalog.NewAd(product_id=product.id, platform=Platform.TIKTOK, **{"ad_content": "Look", **changes})
    with pytest.raises(InvalidValue) as error:
        await catalog.create_ad(uow, FakeClock(), ad)
    assert (error.value.field, error.value.rule) == (field, rule)
    assert await catalog.list_ads(uow, skip=0, limit=10) == []


async def test_a_search_or_a_product_named_with_a_control_character_is_refused_before_any_store(
    uow: InMemoryUnitOfWork,
) -> None:
    await catalog.create_product(uow, FakeClock(), PRODUCT, created_by=None)
    searches = (
        lambda q: catalog.list_products(uow, skip=0, limit=10, query=q),
        lambda q: catalog.list_products_with_scores(uow, skip=0, limit=10, query=q),
        lambda q: trends.trending(uow, limit=10, query=q),
    )
    for search in searches:
        for typed in ("a\x00b", "Lamp\x01", "\x00"):
            with pytest.raises(InvalidValue) as error:
                await search(typed)
            assert (error.value.field, error.value.rule) == ("q", NO_CONTROL)
    with pytest.raises(InvalidValue) as error:
        await catalog.find_product(uow, "Desk\x00Lamp")
    assert (error.value.field, error.value.rule) == ("product", NO_CONTROL)
    # Blanks and invisible characters around a search are not part of it.
    assert [p.name for p in await catalog.list_products(uow, skip=0, limit=10, query=" lamp ")] == [
        "Desk Lamp"
    ]


async def test_an_ingested_reading_naming_its_ad_with_a_control_character_is_rejected_by_name(
    uow: InMemoryUnitOfWork,
) -> None:
    clock = FakeClock()
    reading = SnapshotInput(
        platform=Platform.TIKTOK, external_id="tt\x00", region="US", observed_at=clock.now(), views=1
    )
    report = await ingest_engagement(uow, clock, [reading])
    assert [(r.field, r.reason) for r in report.rejected] == [("external_id", NO_CONTROL)]


async def test_a_decomposed_name_is_stored_composed_and_found_typed_either_way(
    uow: InMemoryUnitOfWork,
) -> None:
    made = await catalog.create_product(
        uow, FakeClock(), replace(PRODUCT, name="Cafe\u0301 Mug", keywords=("CAFE\u0301",)), created_by=None
    )
    assert (made.name, made.keywords) == ("Caf\u00e9 Mug", ("caf\u00e9",))
    for typed in ("caf\u00e9 mug", "CAFE\u0301 MUG", "Cafe\u0301"):
        assert await catalog.find_product(uow, typed) == made, typed
    assert [p.id for p in await catalog.namesakes(uow, "Cafe\u0301 Mug")] == [made.id]
