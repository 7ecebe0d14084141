"""Engagement ingestion through HTTP: shapes, idempotency, per-item rejections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.api.support import NOW, setup_ad, snap

Client = AsyncTestClient[Litestar]
MakeUser = Callable[[str], Awaitable[dict[str, str]]]


async def test_single_array_and_ndjson_are_accepted(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    one = await client.post("/engagement", json=snap(ad_id, 48, 100), headers=headers)
    assert one.status_code == 200, one.text
    assert one.json() == {"received": 1, "stored": 1, "duplicates": 0, "rejected": []}
    many = await client.post(
        "/engagement", json=[snap(ad_id, 24, 500), snap(ad_id, 12, 900)], headers=headers
    )
    assert many.json()["stored"] == 2
    lines = b"\n".join(msgspec.json.encode(snap(ad_id, h, v)) for h, v in [(6, 2000), (1, 5000)])
    ndjson = await client.post(
        "/engagement", content=lines, headers={**headers, "Content-Type": "application/x-ndjson"}
    )
    assert ndjson.status_code == 200, ndjson.text
    assert ndjson.json()["stored"] == 2


async def test_ingest_is_idempotent_and_counts_duplicates(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    batch = [snap(ad_id, 30, 100), snap(ad_id, 20, 300), snap(ad_id, 20, 300)]
    first = (await client.post("/engagement", json=batch, headers=headers)).json()
    assert (first["stored"], first["duplicates"]) == (2, 1)
    again = (await client.post("/engagement", json=batch, headers=headers)).json()
    assert (again["stored"], again["duplicates"]) == (0, 3)


async def test_bad_items_are_rejected_by_index_and_good_ones_kept(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    batch = [
        snap(ad_id, 10, 100),
        {**snap(ad_id, 9, 100), "views": -1},
        {**snap(ad_id, 8, 100), "region": "XX"},
        {**snap(ad_id, 7, 100), "ad_id": 424242},
        {**snap(ad_id, 6, 100), "observed_at": "2026-03-01T00:00:00"},
        {**snap(ad_id, 5, 100), "observed_at": (NOW + timedelta(days=2)).isoformat()},
        {**snap(ad_id, 4, 100), "unexpected": 1},
        "not an object",
        snap(ad_id, 3, 50),  # a counter that went down is fine
    ]
    response = await client.post("/engagement", json=batch, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] == 2
    rejected = {r["index"]: r for r in body["rejected"]}
    assert set(rejected) == {1, 2, 3, 4, 5, 6, 7}
    assert rejected[1]["field"] == "views"
    assert rejected[2]["field"] == "region"
    assert rejected[3]["field"] == "ad_id"
    assert rejected[4]["field"] == "observed_at"
    assert rejected[5]["field"] == "observed_at"


async def test_all_or_nothing_stores_nothing_when_one_item_is_bad(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    batch = [snap(ad_id, 10, 100), {**snap(ad_id, 9, 100), "views": "lots"}]
    response = await client.post("/engagement?all_or_nothing=true", json=batch, headers=headers)
    assert response.status_code == 422
    assert response.json()["details"][0]["index"] == 1
    retry = (await client.post("/engagement", json=[batch[0]], headers=headers)).json()
    assert retry["stored"] == 1, "nothing of the refused batch may have been stored"


async def test_ads_can_be_named_by_platform_and_external_id(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ingester")
    await setup_ad(client, headers, external_id="ext-9")
    item = {
        "platform": "TikTok",
        "external_id": "ext-9",
        "region": "de",
        "observed_at": NOW.isoformat(),
        "views": 5,
    }
    body = (await client.post("/engagement", json=item, headers=headers)).json()
    assert body["stored"] == 1
    missing = {**item, "external_id": "nope"}
    assert (await client.post("/engagement", json=missing, headers=headers)).json()["rejected"][0][
        "field"
    ] == ("external_id")


async def test_an_external_id_is_trimmed_as_an_ads_is_stored(client: Client, make_user: MakeUser) -> None:
    """A reading's external_id is taken as POST /ads stores an ad's: without the blanks around
    it (its length counted once trimmed), and one blank once trimmed, or only characters that
    show nothing, is that item's rejection naming external_id, in JSON and in NDJSON alike."""
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers, external_id=" \u00a0long-" + "e" * 195 + "\u3000")
    listed = (await client.get("/ads", headers=headers)).json()
    assert [ad["external_id"] for ad in listed] == ["long-" + "e" * 195]
    named = {"platform": "TikTok", "region": "US", "views": 5}
    items = [
        {**named, "external_id": "  long-" + "e" * 195 + " ", "observed_at": NOW.isoformat()},
        {**snap(ad_id, 1, 6), "external_id": "\u3000long-" + "e" * 195 + "\u00a0"},  # beside its ad_id
        {**named, "external_id": "   ", "observed_at": NOW.isoformat()},
        {**named, "external_id": "\u200b\u3164", "observed_at": NOW.isoformat()},
        {**snap(ad_id, 2, 6), "external_id": " "},
    ]
    refused = [(2, "external_id", "must not be blank"), (3, "external_id", "must not be blank")]
    refused.append((4, "external_id", "must not be blank"))
    as_json = (await client.post("/engagement", json=items, headers=headers)).json()
    assert (as_json["stored"], as_json["duplicates"]) == (2, 0), as_json
    assert [(r["index"], r["field"], r["rule"]) for r in as_json["rejected"]] == refused
    lines = b"\n".join(msgspec.json.encode(item) for item in items)
    ndjson = await client.post(
        "/engagement", content=lines, headers={**headers, "Content-Type": "application/x-ndjson"}
    )
    assert (ndjson.json()["duplicates"], ndjson.json()["stored"]) == (2, 0), ndjson.text
    assert [(r["index"], r["field"], r["rule"]) for r in ndjson.json()["rejected"]] == refused


async def test_body_problems(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ingester")
    malformed = await client.post(
        "/engagement", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    # As on every JSON route: 400, the body named.
    assert malformed.status_code == 400
    assert malformed.json()["details"] == [
        {"field": "body", "rule": "must be well-formed JSON", "index": None}
    ]
    empty = await client.post("/engagement", json=[], headers=headers)
    assert empty.status_code == 422
    wrong_type = await client.post(
        "/engagement", content=b"a,b", headers={**headers, "Content-Type": "text/csv"}
    )
    assert wrong_type.status_code == 415
    anonymous = await client.post("/engagement", json=[])
    assert anonymous.status_code == 401


async def test_an_instant_out_of_range_is_one_rejected_item(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    good = [snap(ad_id, hours, 100 * hours) for hours in range(1, 6)]
    for instant in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z"):
        odd = {"ad_id": ad_id, "observed_at": instant, "region": "US", "views": 1}
        for content, content_type in (
            (msgspec.json.encode([*good, odd]), "application/json"),
            (b"\n".join(msgspec.json.encode(item) for item in [*good, odd]), "application/x-ndjson"),
        ):
            response = await client.post(
                "/engagement", content=content, headers={**headers, "Content-Type": content_type}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["stored"] + body["duplicates"] == 5
            [rejected] = body["rejected"]
            assert (rejected["index"], rejected["field"]) == (5, "observed_at")
            assert "1970" in rejected["rule"]


async def test_a_number_beyond_any_float_is_one_rejected_item_told_its_fields_rule(
    client: Client, make_user: MakeUser
) -> None:
    """JSON allows 1e999, which no float holds: the item is rejected naming the field and its
    whole rule, as any other value out of its bounds, under either content type; the body is not
    "not valid JSON"."""
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    good = msgspec.json.encode(snap(ad_id, 2, 100))
    odd = msgspec.json.encode(snap(ad_id, 1, 7)).replace(b'"views":7', b'"views":1e999')
    assert b"1e999" in odd
    counter = {"index": 1, "field": "views", "rule": "must be a whole number from 0 to 2^63 - 1"}
    for content, content_type in (
        (b"[" + good + b"," + odd + b"]", "application/json"),
        (good + b"\n" + odd, "application/x-ndjson"),
    ):
        response = await client.post(
            "/engagement", content=content, headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == [counter], content_type
        strict = await client.post(
            "/engagement",
            params={"all_or_nothing": "true"},
            content=content,
            headers={**headers, "Content-Type": content_type},
        )
        assert strict.status_code == 422, strict.text
        assert strict.json()["details"] == [counter], content_type
    alone = await client.post(
        "/engagement", content=odd, headers={**headers, "Content-Type": "application/json"}
    )
    assert alone.status_code == 200, alone.text
    assert alone.json()["rejected"] == [{**counter, "index": 0}]


async def test_missing_and_unknown_fields_of_an_item_are_named(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    without_time = {"ad_id": ad_id, "region": "US", "views": 1}
    extra = {**snap(ad_id, 1, 10), "colour": "red"}
    for content, content_type in (
        (msgspec.json.encode([without_time, extra]), "application/json"),
        (msgspec.json.encode(without_time) + b"\n" + msgspec.json.encode(extra), "application/x-ndjson"),
    ):
        response = await client.post(
            "/engagement", content=content, headers={**headers, "Content-Type": content_type}
        )
        assert response.json()["rejected"] == [
            {"index": 0, "field": "observed_at", "rule": "is required"},
            {"index": 1, "field": "colour", "rule": "is not a known field"},
        ]


async def test_an_item_naming_two_different_ads_is_rejected(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("ingester")
    product_id, tiktok = await setup_ad(client, headers, external_id="tt-1")
    facebook = await client.post(
        "/ads",
        json={"product_id": product_id, "platform": "Facebook", "ad_content": "x", "external_id": "ext-1"},
        headers=headers,
    )
    facebook_id = facebook.json()["id"]
    batch = [
        {**snap(tiktok, 5, 10), "platform": "Facebook", "external_id": "ext-1"},  # two ads
        {**snap(tiktok, 4, 10), "platform": "Facebook"},  # the ad is on TikTok
        {**snap(tiktok, 3, 10), "external_id": "ext-1"},  # TikTok has no ext-1
        {**snap(facebook_id, 2, 10), "external_id": "tt-1"},  # Facebook has no tt-1
        {**snap(tiktok, 2, 10), "platform": "TikTok", "external_id": "tt-1"},  # all agree
        {**snap(facebook_id, 1, 10), "platform": "Facebook", "external_id": "ext-1"},
        snap(tiktok, 1, 10),
    ]
    response = await client.post("/engagement", json=batch, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] == 3
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (0, "platform"),
        (1, "platform"),
        (2, "external_id"),
        (3, "external_id"),
    ]
    assert all(f"ad {tiktok}" in r["rule"] or f"ad {facebook_id}" in r["rule"] for r in body["rejected"])


async def test_each_stored_reading_records_the_account_that_sent_it(
    client: Client, make_user: MakeUser
) -> None:
    """What an operator needs to remove one account's readings: the API stores the sender of
    each reading it stores (a duplicate stays the first sender's)."""
    first, second = await make_user("collector_one"), await make_user("collector_two")
    _, ad_id = await setup_ad(client, first)
    sent = [snap(ad_id, hours, 100 + hours) for hours in (30, 20, 10)]
    assert (await client.post("/engagement", json=sent, headers=first)).json()["stored"] == 3
    again = [*sent[:1], snap(ad_id, 5, 999), snap(ad_id, 4, 1_000, region="DE")]
    assert (await client.post("/engagement", json=again, headers=second)).json()["stored"] == 2
    uow = client.app.state.container.unit_of_work()
    async with uow:
        one = await uow.users.get_by_username("collector_one")
        two = await uow.users.get_by_username("collector_two")
        assert one is not None and two is not None
        assert (await uow.engagement.sent_by(one.id)).readings == 3
        assert (await uow.engagement.sent_by(two.id)).readings == 2
        assert [(a.sender, a.readings, a.products) for a in await uow.engagement.senders()] == [
            (one.id, 3, 1),
            (two.id, 2, 1),
        ]


async def test_a_lone_surrogate_is_one_rejected_item_naming_its_field(
    client: Client, make_user: MakeUser
) -> None:
    """An escaped lone surrogate (JSON allows it, no UTF-8 text holds it) is its item's problem,
    told by the field as any other body's is, under either content type; the good items are
    stored and the body is not "not valid JSON"."""
    headers = await make_user("ingester")
    _, ad_id = await setup_ad(client, headers)
    good = msgspec.json.encode(snap(ad_id, 2, 100))
    odd = msgspec.json.encode(snap(ad_id, 1, 7)).replace(b'"region":"US"', b'"region":"U\\ud800"')
    assert b"\\ud800" in odd
    surrogate = {"field": "region", "rule": "must be valid Unicode text (no lone surrogates)"}
    # A high surrogate closing the item's last string (msgspec: "Input data was truncated").
    region_last = {name: value for name, value in snap(ad_id, 3, 9).items() if name != "region"}
    last = msgspec.json.encode({**region_last, "region": "US"}).replace(b'"US"}', b'"U\\ud800"}')
    assert last.endswith(b'"U\\ud800"}')
    for content, content_type, index in (
        (b"[" + good + b"," + odd + b"]", "application/json", 1),
        (good + b"\n" + odd, "application/x-ndjson", 1),
        (odd, "application/json", 0),
        (b"[" + good + b"," + last + b"]", "application/json", 1),
        (good + b"\n" + last, "application/x-ndjson", 1),
        (good + b"\n" + last + b"\n", "application/x-ndjson", 1),
        (last, "application/json", 0),
    ):
        response = await client.post(
            "/engagement", content=content, headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == 200, (content_type, response.text)
        assert response.json()["rejected"] == [{"index": index, **surrogate}], (content_type, content)
