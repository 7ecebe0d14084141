"""Products and ads through HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.usecases import catalog
from tests.integration.api.support import assert_in_words

Client = AsyncTestClient[Litestar]
MakeUser = Callable[[str], Awaitable[dict[str, str]]]


async def _product(
    client: Client, headers: dict[str, str], name: str = "Wireless Earbuds"
) -> dict[str, object]:
    response = await client.post(
        "/products", json={"name": name, "description": "Noise-cancelling earbuds"}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_products_create_get_list_search(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("seller")
    created = await client.post(
        "/products",
        json={
            "name": "  LED Strip  ",
            "description": "RGB lights",
            "category": "Home",
            "keywords": ["LED", "led"],
        },
        headers=headers,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "LED Strip"
    assert body["category"] == "Home"
    assert body["keywords"] == ["led"]
    await _product(client, headers, "Posture Corrector")
    got = await client.get(f"/products/{body['id']}")
    assert got.status_code == 200
    assert got.json()["name"] == "LED Strip"
    listing = (await client.get("/products", params={"q": "led"})).json()
    assert [p["name"] for p in listing] == ["LED Strip"]
    page = (await client.get("/products", params={"skip": 1, "limit": 1})).json()
    assert [p["name"] for p in page] == ["Posture Corrector"]
    assert (listing[0]["current_score"], listing[0]["status"]) == (None, None), "not scored yet"
    scored = (await client.post(f"/calculate-score/{body['id']}", headers=headers)).json()
    [listed] = (await client.get("/products", params={"q": "led"})).json()
    assert (listed["current_score"], listed["status"]) == (round(scored["trend_score"], 1), scored["status"])


async def test_creating_a_product_needs_a_token(client: Client) -> None:
    response = await client.post("/products", json={"name": "X", "description": "Y"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "", "description": "d"}, "name"),
        ({"name": "   ", "description": "d"}, "name"),
        ({"name": "n" * 201, "description": "d"}, "name"),
        ({"name": "n", "description": "d" * 1001}, "description"),
        ({"name": "n"}, "description"),
        ({"name": 5, "description": "d"}, "name"),
    ],
)
async def test_invalid_products_are_422(
    client: Client, make_user: MakeUser, payload: dict[str, object], field: str
) -> None:
    headers = await make_user("seller")
    response = await client.post("/products", json=payload, headers=headers)
    assert response.status_code == 422, response.text
    assert any(d["field"] == field or field in d["rule"] for d in response.json()["details"])
    assert (await client.get("/products")).json() == []


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"skip": -1}, {"limit": "many"}],
)
async def test_pagination_out_of_range_is_422(client: Client, params: dict[str, int | str]) -> None:
    response = await client.get("/products", params=params)
    assert response.status_code == 422
    assert response.json()["details"]


async def test_unknown_product_is_404(client: Client) -> None:
    response = await client.get("/products/999")
    assert response.status_code == 404
    assert response.json()["status_code"] == 404


async def test_ads_create_list_filter(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("seller")
    product = await _product(client, headers)
    tiktok = await client.post(
        "/ads",
        json={
            "product_id": product["id"],
            "platform": "TikTok",
            "ad_content": "Viral!",
            "external_id": "tt-1",
        },
        headers=headers,
    )
    assert tiktok.status_code == 201, tiktok.text
    await client.post(
        "/ads",
        json={"product_id": product["id"], "platform": "YouTube", "ad_content": "Review"},
        headers=headers,
    )
    only_tiktok = (await client.get("/ads", params={"platform": "TikTok"})).json()
    assert [a["external_id"] for a in only_tiktok] == ["tt-1"]
    by_product = (await client.get("/ads", params={"product_id": str(product["id"])})).json()
    assert len(by_product) == 2


async def test_ad_rules(client: Client, make_user: MakeUser) -> None:
    headers = await make_user("seller")
    product = await _product(client, headers)
    bad_platform = await client.post(
        "/ads", json={"product_id": product["id"], "platform": "tiktok", "ad_content": "x"}, headers=headers
    )
    assert bad_platform.status_code == 422
    assert "TikTok" in bad_platform.text
    assert "Facebook" in bad_platform.text
    unknown = await client.post(
        "/ads", json={"product_id": 999, "platform": "TikTok", "ad_content": "x"}, headers=headers
    )
    assert unknown.status_code == 404
    first = {"product_id": product["id"], "platform": "TikTok", "ad_content": "x", "external_id": "dup"}
    assert (await client.post("/ads", json=first, headers=headers)).status_code == 201
    duplicate = await client.post("/ads", json=first, headers=headers)
    assert duplicate.status_code == 409
    same_id_other_platform = await client.post(
        "/ads", json=dict(first, platform="Instagram"), headers=headers
    )
    assert same_id_other_platform.status_code == 201
    assert len((await client.get("/ads")).json()) == 2


@pytest.mark.parametrize(
    ("first_seen_at", "rule"),
    [
        ("0001-01-01T00:00:00+14:00", "1970"),
        ("9999-12-31T23:59:59-14:00", "1970"),
        ("2099-01-01T00:00:00Z", "future"),
    ],
)
async def test_an_ad_first_seen_out_of_range_or_in_the_future_is_422(
    client: Client, make_user: MakeUser, first_seen_at: str, rule: str
) -> None:
    headers = await make_user("seller")
    product = await _product(client, headers)
    ad = {
        "product_id": product["id"],
        "platform": "TikTok",
        "ad_content": "x",
        "first_seen_at": first_seen_at,
    }
    response = await client.post("/ads", json=ad, headers=headers)
    assert response.status_code == 422, response.text
    [detail] = response.json()["details"]
    assert detail["field"] == "first_seen_at"
    assert rule in detail["rule"]
    assert (await client.get("/ads")).json() == []


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/products", "name", "x\u0000y"),
        ("/products", "name", "tab\tinside"),
        ("/products", "description", "nul\u0000"),
        ("/products", "category", "bell\u0007"),
        ("/products", "keywords", ["ok", "esc\u001b"]),
        ("/ads", "ad_content", "x\u0000"),
        ("/ads", "external_id", "e\u0000"),
        ("/ads", "advertiser", "a\u007f"),
        ("/ads", "url", "https://example.com/\u0000"),
        # C1 controls, line separators, text of only invisible characters, and URLs with a
        # space or a control anywhere (a NUL in webhook_url was a 500 on PostgreSQL; the rest
        # were stored).
        ("/ads", "url", "https://shop.example.com/\n"),
        ("/ads", "url", "https://shop.example.com/\u009b"),
        ("/products", "name", "a\u0085b"),
        ("/products", "name", "a\u2028b"),
        ("/products", "name", "\u200b"),
        ("/products", "name", " \u200b\ufeff "),
        ("/products", "description", "a\u009bb"),
        ("/alert-rules", "webhook_url", "https://hooks.example.com/\u0000"),
        ("/alert-rules", "webhook_url", "https://hooks.example.com/a b"),
        ("/alert-rules", "webhook_url", "https://hooks.example.com/\n"),
        ("/alert-rules", "webhook_url", "https://hooks.example.com/\u0085"),
    ],
)
async def test_control_characters_in_text_are_422(
    client: Client, make_user: MakeUser, path: str, field: str, value: object
) -> None:
    headers = await make_user("seller")
    product = await _product(client, headers)
    bodies: dict[str, dict[str, object]] = {
        "/products": {"name": "Lamp", "description": "A lamp"},
        "/ads": {"product_id": product["id"], "platform": "TikTok", "ad_content": "x"},
        "/alert-rules": {"kind": "status_exploding", "channels": ["webhook"]},
    }
    stored = [(await client.get(p, headers=headers)).json() for p in ("/products", "/ads", "/alert-rules")]
    response = await client.post(path, json={**bodies[path], field: value}, headers=headers)
    assert response.status_code == 422, response.text
    [detail] = response.json()["details"]
    assert detail["field"].startswith(field)
    assert any(word in detail["rule"] for word in ("control characters", "http", "spaces", "blank"))
    assert [
        (await client.get(p, headers=headers)).json() for p in ("/products", "/ads", "/alert-rules")
    ] == stored


async def test_multi_line_text_and_a_name_search_with_control_characters(
    client: Client, make_user: MakeUser
) -> None:
    headers = await make_user("seller")
    lines = await client.post(
        "/products", json={"name": "Lamp", "description": "Line one\nLine two\tand a tab"}, headers=headers
    )
    assert lines.status_code == 201, lines.text
    # A leading zero-width character does not make a name blank.
    zero_width = await client.post(
        "/products", json={"name": "\ufeffLamp", "description": "A lamp"}, headers=headers
    )
    assert zero_width.status_code == 201, zero_width.text
    for needle in ("\u0000", "a\u0001"):
        search = await client.get("/products", params={"q": needle})
        assert search.status_code == 422, search.text
        assert search.json()["details"][0]["field"] == "q"


@pytest.mark.parametrize(
    ("path", "field", "limit"),
    [
        ("/products", "name", 200),
        ("/products", "description", 1000),
        ("/products", "category", 100),
        ("/products", "keywords", 100),
        ("/ads", "ad_content", 2000),
        ("/ads", "external_id", 200),
        ("/ads", "advertiser", 200),
    ],
)
async def test_text_is_trimmed_before_its_length_is_counted(
    client: Client, make_user: MakeUser, path: str, field: str, limit: int
) -> None:
    """The contract trims names (and the other text): a name of 200 characters with blanks
    around it is a name of 200 characters; one of 201 is refused, said in words."""
    headers = await make_user("seller")
    product = await _product(client, headers)
    bodies: dict[str, dict[str, object]] = {
        "/products": {"name": "Lamp", "description": "A lamp"},
        "/ads": {"product_id": product["id"], "platform": "TikTok", "ad_content": "x"},
    }

    def value(text: str) -> object:
        return [text] if field == "keywords" else text

    padded = await client.post(
        path, json={**bodies[path], field: value(f"  {'n' * limit}  ")}, headers=headers
    )
    assert padded.status_code == 201, padded.text
    assert padded.json()[field] == value("n" * limit)
    refused = await client.post(path, json={**bodies[path], field: value("n" * (limit + 1))}, headers=headers)
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["details"]
    assert detail["field"].startswith(field)
    assert detail["rule"] == f"must be at most {limit} characters"


@pytest.mark.parametrize(
    ("path", "field", "value", "said"),
    [
        ("/products", "name", "", "must not be blank"),
        ("/products", "name", "a\u0000b", "must not hold control characters"),
        ("/products", "name", "\u202e", "must not be blank"),
        ("/products", "name", "\u00ad\u034f\u180e", "must not be blank"),
        ("/products", "name", "\u3164", "must not be blank"),
        ("/products", "name", "Lamp \u202egnp.exe", "must not hold bidirectional control characters"),
        ("/products", "description", "\u2066", "must not be blank"),
        ("/ads", "ad_content", "Buy \u2067now\u2069", "must not hold bidirectional control characters"),
        (
            "/products",
            "description",
            "a\u0000b",
            "must not hold control characters other than tabs and line breaks",
        ),
        ("/products", "keywords", ["k"] * 51, "must hold at most 50 items"),
        ("/ads", "url", "ftp://example.com/ad", "must be an absolute http or https URL"),
        ("/ads", "url", "https://example.com/a b", "must be an absolute http or https URL"),
    ],
)
async def test_a_refused_text_is_said_in_words(
    client: Client, make_user: MakeUser, path: str, field: str, value: object, said: str
) -> None:
    headers = await make_user("seller")
    product = await _product(client, headers)
    bodies: dict[str, dict[str, object]] = {
        "/products": {"name": "Lamp", "description": "A lamp"},
        "/ads": {"product_id": product["id"], "platform": "TikTok", "ad_content": "x"},
    }
    refused = await client.post(path, json={**bodies[path], field: value}, headers=headers)
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["details"]
    assert detail["field"] == field
    assert detail["rule"].startswith(said)
    assert_in_words(detail["rule"])


async def test_a_product_says_whether_an_account_added_it(client: Client, make_user: MakeUser) -> None:
    """As the dashboard's 'user data' label: a product an account added through the API is told
    apart from a collected one in every answer that lists products (never which account)."""
    headers = await make_user("uploader")
    added = await _product(client, headers, "Uploaded Lamp")
    assert added["added_by_user"] is True
    container = client.app.state.container
    new = catalog.NewProduct(name="Collected Lamp", description="d")
    collected = await catalog.create_product(
        container.unit_of_work(), container.clock(), new, created_by=None
    )
    got = {p["name"]: p for p in (await client.get("/products", params={"q": "lamp"})).json()}
    assert (got["Uploaded Lamp"]["added_by_user"], got["Collected Lamp"]["added_by_user"]) == (True, False)
    assert (await client.get(f"/products/{collected.id}")).json()["added_by_user"] is False
    assert "created_by" not in got["Uploaded Lamp"]
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "added_by_user" in schema["ProductOut"]["properties"]


async def test_names_are_stored_searched_and_compared_in_one_unicode_form(
    client: Client, make_user: MakeUser
) -> None:
    """A name typed with a decomposed letter (e + combining acute, as some keyboards and file
    systems send it) is stored composed (NFC), so a search and a namesake typed either way find it."""
    headers = await make_user("unicode_seller")
    made = await _product(client, headers, "Cafe\u0301 Mug")
    assert made["name"] == "Caf\u00e9 Mug"
    for typed in ("Caf\u00e9", "CAFE\u0301", "caf\u00e9 mug"):
        found = (await client.get("/products", params={"q": typed})).json()
        assert [p["id"] for p in found] == [made["id"]], typed
    container = client.app.state.container
    for typed in ("Caf\u00e9 Mug", "CAFE\u0301 MUG"):
        namesakes = await catalog.namesakes(container.unit_of_work(), typed)
        assert [p.id for p in namesakes] == [made["id"]], typed
