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

PRODUCT = catalog.NewProduct(name="Desk Lamp", description="A lamp")
NO_CONTROL = "must not hold control characters"
NO_CONTROL_BUT_LINES = "must not hold control characters other than tabs and line breaks"


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
