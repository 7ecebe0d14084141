"""The product page (/ui/products/{id}) and the heat map's search: what they say of a product."""

from __future__ import annotations

import html
import re

from tests.integration.web.support import HTML, Client, csrf
from tests.integration.web.test_dashboard_forms import _plain, _readings, client, signed_up

__all__ = ["client"]  # the fixture, shared with the forms' tests


def _regional(page: str) -> str:
    """What the page's Regional interest section says, as a reader sees it."""
    return _plain(page.split('id="regions-h"', 1)[1].split("</h2>", 1)[1].split("</section>", 1)[0])


async def test_regional_interest_tells_readings_that_gained_nothing_from_no_reading(client: Client) -> None:
    """A product whose ad was read once in each of three countries (3,228 views in all) gained
    nothing there: the page said "No engagement recorded yet in any region in the last 30 days"
    while its views section said the ads were read. Read without a gain, gained only where no
    continent is, and not read in the window are three different things, each said as it is."""
    await signed_up(client, "regional_reads")
    read = await _readings(client, "Read Lamp", [(5, "US", 1_000), (4, "DE", 2_000), (3, "FR", 228)])
    said = _regional((await client.get(f"/ui/products/{read}", headers=HTML)).text)
    assert "No engagement recorded" not in said
    assert (
        "No views gained in any region in the last 30 days: its ads were read in 3 countries in that "
        "time (3,228 views at their latest readings), and their counts did not grow." in said
    )
    old = await _readings(client, "Old Lamp", [(45, "US", 100), (40, "US", 900)])
    said = _regional((await client.get(f"/ui/products/{old}", headers=HTML)).text)
    assert "No reading of its ads in any region in the last 30 days." in said
    worldwide = await _readings(client, "Worldwide Lamp", [(3, "GLOBAL", 100), (1, "GLOBAL", 900)])
    said = _regional((await client.get(f"/ui/products/{worldwide}", headers=HTML)).text)
    assert (
        "Views gained in the last 30 days, but in no continent: only in readings sent as GLOBAL "
        "(without a country) or from Antarctica." in said
    )
    assert "No views gained" not in said


async def test_regional_interest_with_gains_keeps_its_table(client: Client) -> None:
    await signed_up(client, "regional_gains")
    gained = await _readings(client, "Gaining Lamp", [(5, "US", 1_000), (2, "US", 3_000)])
    page = (await client.get(f"/ui/products/{gained}", headers=HTML)).text
    section = page.split('id="regions-h"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'<th scope="row">North America</th><td class="num">100.0</td>', section)
    assert f'href="/ui/heat-map?product_id={gained}"' in section


async def test_momentum_without_gains_reads_no_gains_not_the_floor_of_its_log(client: Client) -> None:
    """The page showed "momentum (log scale) -13.82" among the score's components for a product
    that gained nothing in the last day: the engine's floor under ln 0, not a measured figure."""
    await signed_up(client, "momentum_floor")
    flat = await _readings(
        client, "Flat Lamp", [(3, "US", 100), (2, "US", 400), (1, "US", 900), (0, "US", 900)]
    )
    page = (await client.get(f"/ui/products/{flat}", headers=HTML)).text
    assert "-13.8" not in page
    shown = re.findall(r'<dt>momentum \(log scale\)</dt><dd title="([^"]*)">([^<]*)</dd>', page)
    assert shown, "the component is shown, with what it means"
    title, text = shown[0]
    assert text == "no gains"
    assert "No views gained in the last 24 h" in html.unescape(title)


async def test_the_heat_map_search_tells_same_named_products_apart_by_id(client: Client) -> None:
    """Two products named "Lamp" were listed as "Lamp" and "Lamp" by the heat map's search: shared
    names show as ``Name (#id)``, as the API's heat_map keys them; other names stay bare."""
    await signed_up(client, "heat_twins")
    form = {"csrf_token": await csrf(client), "action": "product", "description": "d"}
    for name, again in (("Lamp", ""), ("Lamp", "Lamp"), ("Lamp Shade", "")):
        sent = {**form, "name": name, **({"create_anyway": again} if again else {})}
        assert (
            await client.post("/ui/data", data=sent, headers=HTML, follow_redirects=False)
        ).status_code == 303
    products = (await client.get("/products")).json()
    first, second = sorted(p["id"] for p in products if p["name"] == "Lamp")
    shade = next(p["id"] for p in products if p["name"] == "Lamp Shade")
    found = (await client.get("/ui/heat-map", params={"q": "lamp"}, headers=HTML)).text
    listed = dict(re.findall(r'href="/ui/heat-map\?product_id=(\d+)&amp;q=lamp">([^<]*)</a>', found))
    assert listed == {
        str(first): f"Lamp (#{first})",
        str(second): f"Lamp (#{second})",
        str(shade): "Lamp Shade",
    }
    assert f'<option value="{first}" selected>Lamp (#{first})</option>' in found, (
        "the shown one, in the choice"
    )
