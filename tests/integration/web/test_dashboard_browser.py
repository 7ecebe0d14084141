"""The dashboard in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.databases import need

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
WIDTHS = (375, 768, 1280)

try:
    from playwright.sync_api import Browser, ConsoleMessage, FloatRect, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extras install it
    sync_playwright = None  # type: ignore[assignment]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serving(tmp_path_factory, {})


@pytest.fixture(scope="module")
def lean_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server without demo data whose requests may carry 1 MB at most."""
    yield from _serving(
        tmp_path_factory, {"MARKETSCOUT_DEMO_DATA": "false", "MARKETSCOUT_MAX_BODY_BYTES": str(2**20)}
    )


def _serving(tmp_path_factory: pytest.TempPathFactory, settings: dict[str, str]) -> Iterator[str]:
    if sync_playwright is None or not Path(CHROMIUM).exists():
        need(f"the browser tests need the playwright package and Debian's chromium at {CHROMIUM}")
    port = _free_port()
    log = (tmp_path_factory.mktemp("web") / "server.log").open("wb")
    env = {
        **os.environ,
        "MARKETSCOUT_DATABASE_URL": "memory://",
        "MARKETSCOUT_RATE_LIMIT_ENABLED": "false",
        "MARKETSCOUT_JWT_SECRET": "browser-test-secret-that-is-long-enough-0123456789",
        **settings,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "marketscout.entrypoints.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{base}/ready", timeout=2) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        else:
            raise AssertionError("the server did not start")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


_REFUSED_FORM = re.compile(r"Failed to load resource: the server responded with a status of (409|422) ")


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # Chromium logs a page answered 4xx as an error; a refused form's page is one (422, 409).
        if message.type == "error" and not _REFUSED_FORM.match(message.text):
            errors.append(message.text)

    opened.on("console", console)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: errors.append(f"unexpected dialog: {dialog.message}"))
    yield opened
    context.close()
    assert errors == [], f"console errors: {errors}"


def sign_up(page: Page, username: str) -> None:
    page.goto("/ui/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("E-mail").fill(f"{username}@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/")


def test_trending_product_heatmap_and_viral_pages_with_screenshots(page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto("/")
    rows = page.locator("table.data tbody tr")
    assert rows.count() >= 10, "the demo market is scored and listed"
    assert page.locator("svg.spark polyline").first.get_attribute("points")
    first_product = page.locator("table.data tbody tr td a").first
    name = first_product.inner_text()
    first_product.click()
    assert page.locator("h1").inner_text() == name
    assert page.locator("#views-chart polyline").get_attribute("points")
    product_url = page.url
    page.goto("/ui/heat-map")
    assert page.locator("svg.map path").count() >= 6
    assert page.locator("svg.map circle").count() >= 1, "countries with data are marked"
    page.goto("/ui/viral")
    assert page.locator("table.data tbody tr").count() >= 1
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for label, url in (
            ("trending", "/"),
            ("product", product_url),
            ("heatmap", "/ui/heat-map"),
            ("viral", "/ui/viral"),
        ):
            page.goto(url)
            page.screenshot(path=str(SCREENSHOTS / f"{label}-{width}.png"), full_page=True)


def test_session_watchlist_upload_alert_export_and_escaping(page: Page, server: str) -> None:
    sign_up(page, "browser_user")
    page.reload()
    assert "browser_user" in page.locator(".account").inner_text(), "the session survives a reload"

    page.goto("/ui/data")
    page.get_by_label("Name").fill("<script>alert(1)</script> Lamp")
    page.get_by_label("Description").fill("A product whose name is hostile")
    page.get_by_role("button", name="Create product").click()
    created = page.locator(".report").inner_text()
    product_id = int(re.search(r"#(\d+)", created).group(1))  # type: ignore[union-attr]
    page.get_by_label("Product", exact=True).fill(f"#{product_id}")
    page.get_by_label("Platform", exact=True).select_option("TikTok")
    page.get_by_label("Content").fill("Look at this lamp")
    page.get_by_role("button", name="Create ad").click()
    ad_id = int(re.search(r"ad #(\d+)", page.locator(".report").inner_text()).group(1))  # type: ignore[union-attr]

    page.goto(f"/ui/products/{product_id}")
    assert page.locator("h1").inner_text() == "<script>alert(1)</script> Lamp"
    page.get_by_role("button", name="Add to watchlist").click()
    assert page.get_by_role("button", name="Remove from watchlist").is_visible()

    now = datetime.now(UTC).replace(microsecond=0)
    lines = ["ad_id,observed_at,region,views,likes,comments,shares"]
    for step in range(6):
        at = (now - timedelta(hours=12 * (5 - step))).isoformat()
        views = 1000 * 8**step
        lines.append(f"{ad_id},{at},US,{views},{views // 10},{views // 100},{views // 200}")
    lines.append(f"{ad_id},not-a-date,US,5,0,0,0")
    upload = SCREENSHOTS.parent / "upload.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.goto("/ui/data")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    report = page.locator(".report").inner_text()
    assert "6 stored" in report and "1 rejected" in report
    assert page.locator(".report table tbody tr").count() == 1

    page.goto("/ui/watchlist")
    assert "Lamp" in page.locator("main").inner_text()
    assert page.locator(".alerts li.unread").count() >= 1, "the viral ad raised an alert"
    assert "viral ad" in page.locator(".alerts").inner_text()

    page.get_by_label("Rule", exact=True).select_option("status_exploding")
    page.get_by_label("to a webhook").check()
    page.get_by_label("Webhook URL (https://…)").fill("https://hooks.example.com/marketscout")
    page.get_by_role("button", name="Add rule").click()
    secret = page.locator("#new-secret code").inner_text()
    assert secret.startswith("whsec_"), "the webhook secret is shown once, right after adding the rule"
    assert "also by webhook (https://hooks.example.com/marketscout)" in page.locator("main").inner_text()
    page.get_by_label("Rule", exact=True).select_option("status_exploding")
    page.get_by_label("to a webhook").check()
    page.get_by_role("button", name="Add rule").click()
    assert "Webhook URL is required" in page.locator("#rule-error").inner_text(), "a refused rule says why"
    page.goto("/ui/watchlist")
    assert page.locator("#new-secret").count() == 0, "the secret is never shown again"
    assert page.get_by_role("heading", name="Deliveries").is_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download watchlist (CSV)").click()
    path = download_info.value.path()
    assert (
        path.read_text(encoding="utf-8").splitlines()[0] == "Product ID,Product Name,Description,Added Date"
    )

    refused = page.request.post(
        f"{server}/ui/data", form={"action": "product", "name": "x", "description": "y"}
    )
    assert refused.status == 403

    page.get_by_role("button", name="Log out").click()
    page.goto("/ui/watchlist")
    assert "/ui/login" in page.url


def test_expired_session_returns_to_login_with_a_message(page: Page, browser: Browser, server: str) -> None:
    page.context.add_cookies([{"name": "ms_session", "value": "expired.or.forged", "url": server}])
    page.goto("/ui/watchlist")
    assert "/ui/login" in page.url
    assert "expired" in page.locator(".notice").inner_text()


def test_a_link_from_another_site_keeps_the_forms_of_other_tabs_working(page: Page, server: str) -> None:
    sign_up(page, "tabs_user")
    page.goto("/ui/data")
    mail = f'<a id="open" href="{server}/ui/watchlist" target="_blank">See the alert</a>'
    page.context.route(
        "http://mail.example/**", lambda route: route.fulfill(content_type="text/html", body=mail)
    )
    inbox = page.context.new_page()
    inbox.goto("http://mail.example/inbox")
    with page.context.expect_page() as opened:
        inbox.click("#open")
    opened.value.wait_for_load_state()
    assert "/ui/watchlist" in opened.value.url
    page.get_by_label("Name").fill("Lamp from the first tab")
    page.get_by_label("Description").fill("Its form was open before the link")
    page.get_by_role("button", name="Create product").click()
    assert "Created product" in page.locator(".report").inner_text(), "the open form's token still holds"


def assert_cards_fit_a_phone(page: Page) -> None:
    """Every cell of every table.cards on the page shows its column name and nothing scrolls sideways."""
    cells = page.locator("table.cards tbody td")
    assert cells.count() >= 2
    for index in range(cells.count()):
        cell = cells.nth(index)
        label = cell.get_attribute("data-label")
        assert label, f"cell {index} has a label"
        shown = cell.evaluate("td => getComputedStyle(td, '::before').content")
        assert shown == f'"{label}"', f"cell {index} shows its label, not {shown}"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "no sideways page scroll"
    )
    tables = page.locator("table.cards")
    for index in range(tables.count()):
        table = tables.nth(index)
        assert table.evaluate("t => t.scrollWidth <= t.clientWidth"), f"no sideways scroll in table {index}"
        caption = table.locator("caption")
        assert caption.evaluate("c => c.scrollWidth <= c.clientWidth"), f"the caption of table {index} wraps"


@pytest.mark.parametrize("url", ["/", "/ui/viral"])
def test_on_a_phone_each_row_is_a_card_whose_cells_say_what_they_are(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    assert page.locator("table.data tbody tr").first.locator("td").count() >= 5
    assert_cards_fit_a_phone(page)


def test_on_a_phone_the_watchlist_a_products_ads_and_rejected_rows_are_cards(page: Page) -> None:
    sign_up(page, "phone_user")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/viral")
    page.locator("table.data tbody tr td a").first.click()
    assert page.locator("table.cards tbody tr").count() >= 1, "the product's ads are listed"
    assert_cards_fit_a_phone(page)
    page.get_by_role("button", name="Add to watchlist").click()
    page.goto("/ui/watchlist")
    assert page.locator("table.cards tbody tr").count() == 1, "the watched product is listed"
    assert_cards_fit_a_phone(page)
    page.goto("/ui/data")
    csv = "ad_id,observed_at,region,views,likes,comments,shares\n1,not-a-date,US,5,0,0,0\n"
    page.get_by_label("File").set_input_files(
        {"name": "rows.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    page.get_by_role("button", name="Upload").click()
    assert page.locator(".report table.cards tbody tr").count() == 1, "the rejected row is listed"
    assert_cards_fit_a_phone(page)


def test_on_a_phone_chart_labels_are_as_large_as_on_a_desktop(page: Page) -> None:
    """The product page's axis labels keep their size on a 390 px screen: the charts narrow,
    their text does not (at least 11 px type: a box at least 12 px high)."""
    page.goto("/ui/viral")
    product_url = page.locator("table.data tbody tr td a").first.get_attribute("href")
    assert product_url
    for width, height in ((390, 844), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(product_url)
        labels = page.locator(".y-max, .y-min, .x-first, .x-last")
        assert labels.count() == 8, "four labels on each of the two charts"
        for index in range(labels.count()):
            box = labels.nth(index).bounding_box()
            assert box is not None
            said = labels.nth(index).text_content()
            assert box["height"] >= 12, f"label {said!r} is {box['height']:.1f} px high at {width} px"
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"label {said!r} fits the screen"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_charts_peak_stands_below_the_top_beside_its_label(page: Page) -> None:
    """The views chart's highest day is drawn below the plot's top edge, level with the label
    that names it; the 0 label is level with the axis, on a phone and on a desktop."""
    page.goto("/ui/viral")
    product_url = page.locator("table.data tbody tr td a").first.get_attribute("href")
    assert product_url
    for width, height in ((390, 844), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(product_url)
        plot = page.locator("#views-chart").evaluate(
            """svg => {
                const ys = svg.querySelector("polyline").getAttribute("points").trim().split(/\\s+/)
                    .map(pair => Number(pair.split(",")[1]));
                const box = svg.getBoundingClientRect();
                const scale = box.height / svg.viewBox.baseVal.height;
                return {top: box.top, bottom: box.bottom, height: box.height,
                        peak: box.top + Math.min(...ys) * scale};
            }"""
        )
        chart = page.locator(".line-chart").first
        high, low = (chart.locator(name).bounding_box() for name in (".y-max", ".y-min"))
        assert high is not None and low is not None
        assert plot["peak"] - plot["top"] >= 0.08 * plot["height"], f"headroom above the peak at {width} px"
        assert abs(high["y"] + high["height"] / 2 - plot["peak"]) <= 3, (
            f"the top label is level with the peak at {width} px"
        )
        assert abs(low["y"] + low["height"] / 2 - plot["bottom"]) <= 3, (
            f"the 0 label is level with the axis at {width} px"
        )


def test_on_a_phone_a_heat_map_search_leaves_the_map_on_the_first_screen(
    browser: Browser, server: str
) -> None:
    """A search that matches most of the market lists a few matches above the map; the others
    open from "more" and lead to their map, without JavaScript."""
    context = browser.new_context(
        base_url=server, java_script_enabled=False, viewport={"width": 390, "height": 844}
    )
    try:
        page = context.new_page()
        page.goto("/ui/heat-map?q=e")
        matches = page.locator(".matches a")
        assert matches.count() >= 20, "the demo market has many products with an e"
        assert page.locator(".matches a:visible").count() == 5
        top = page.locator("svg.map").bounding_box()
        assert top is not None
        assert top["y"] + 100 <= 844, f"the map starts at {top['y']:.0f} px, below the first screen"
        page.get_by_text(re.compile(r"^\d+ more matches$")).click()
        last = matches.last
        name = last.inner_text()
        last.click()
        assert page.locator(".matches a[aria-current=page]").inner_text() == name
        assert page.locator(".matches a[aria-current=page]").is_visible(), "the chosen match stays in view"
        assert page.locator("#product_id option:checked").inner_text() == name
    finally:
        context.close()


def _stands_by(label: FloatRect, control: FloatRect) -> bool:
    """The label is just left of its control on the same line, or just above it, aligned left."""
    middle = label["y"] + label["height"] / 2
    beside = (
        label["x"] + label["width"] <= control["x"] + 1
        and control["y"] <= middle <= control["y"] + control["height"]
    )
    gap = control["y"] - (label["y"] + label["height"])
    above = abs(label["x"] - control["x"]) <= 1 and -1 <= gap <= 12
    return beside or above


@pytest.mark.parametrize("width", [390, 1280])
def test_each_filters_label_stands_by_its_own_control(page: Page, width: int) -> None:
    """A filter's label never ends a line whose next line starts with its control after another one
    ("Status [any] Platform" / "[any platform]")."""
    page.set_viewport_size({"width": width, "height": 900})
    for url in ("/", "/ui/heat-map", "/ui/viral"):
        page.goto(url)
        labels = page.locator("form.filters label")
        assert labels.count() >= 1
        for index in range(labels.count()):
            label = labels.nth(index)
            box = label.bounding_box()
            control = page.locator(f"#{label.get_attribute('for')}").bounding_box()
            assert box is not None and control is not None
            assert _stands_by(box, control), (
                f"{url}: “{label.inner_text()}” is apart from its control at {width} px"
            )


def test_the_alert_channels_are_one_choice_a_line(page: Page) -> None:
    """Each box to tick starts its own line, so no box sits right after the other choice's words."""
    sign_up(page, "channels_user")
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/ui/watchlist")
        boxes = [page.locator(f"input[name=notify_{name}]").bounding_box() for name in ("webhook", "email")]
        assert boxes[0] is not None and boxes[1] is not None
        assert boxes[1]["y"] >= boxes[0]["y"] + boxes[0]["height"], (
            f"the e-mail box is on its own line at {width} px"
        )
        assert abs(boxes[1]["x"] - boxes[0]["x"]) <= 1, f"the boxes line up at {width} px"


def _on_screen(page: Page, selector: str) -> bool:
    page.wait_for_load_state()
    return bool(
        page.locator(selector).evaluate(
            "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
        )
    )


def test_on_a_phone_a_rules_outcome_is_on_the_screen_the_form_lands_on(page: Page) -> None:
    """The rule form is far down a watchlist; what became of the rule is in view, not a screen above."""
    sign_up(page, "rule_screen_user")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/viral")
    products = {page.locator("table.data tbody tr td a").nth(i).get_attribute("href") for i in range(6)}
    for product in sorted(p for p in products if p)[:3]:
        page.goto(product)
        page.get_by_role("button", name="Add to watchlist").click()
    page.goto("/ui/watchlist")
    page.get_by_label("Rule", exact=True).select_option("status_exploding")
    page.get_by_label("to a webhook").check()
    page.get_by_role("button", name="Add rule").click()
    assert "Webhook URL is required" in page.locator("#rule-error").inner_text()
    assert _on_screen(page, "#rule-error"), "the refusal is in view"
    page.get_by_label("Webhook URL (https://…)").fill("https://hooks.example.com/marketscout")
    page.get_by_role("button", name="Add rule").click()
    assert page.locator("#new-secret code").inner_text().startswith("whsec_")
    assert _on_screen(page, "#new-secret"), "the secret to copy is in view"


def test_on_a_phone_the_data_forms_answer_where_they_are(page: Page) -> None:
    """The product and ad forms are far down the Data page: a refusal opens at its form, in view
    beside the field to correct, with what was typed; so does the note of the ad made."""
    sign_up(page, "data_screen_user")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/data")
    page.get_by_label("Product", exact=True).fill("No product is called this")
    page.get_by_label("Platform", exact=True).select_option("YouTube")
    page.get_by_label("Content").fill("typed words")
    page.get_by_role("button", name="Create ad").click()
    page.wait_for_load_state()
    assert page.locator("#ad .error").count() == 1, "the refusal is in the ad form's section"
    assert "Product “No product is called this” matches no product’s name or number" in (
        page.locator("#ad .error").inner_text()
    )
    assert _on_screen(page, "#ad .error") and _on_screen(page, "#ad input[name=product]"), (
        "the refusal is in view, beside the field to correct"
    )
    assert page.get_by_label("Product", exact=True).input_value() == "No product is called this"
    assert page.get_by_label("Platform", exact=True).input_value() == "YouTube"
    assert page.get_by_label("Content").input_value() == "typed words"
    page.get_by_label("Product", exact=True).fill("#1")
    page.get_by_role("button", name="Create ad").click()
    page.wait_for_load_state()
    assert page.locator("#ad .report").count() == 1, "the note is in the ad form's section"
    assert "Created YouTube ad #" in page.locator("#ad .report").inner_text()
    assert _on_screen(page, "#ad .report")

    page.goto("/ui/data")
    page.get_by_label("Name").fill("   ")
    page.get_by_label("Description").fill("a name of spaces")
    page.get_by_role("button", name="Create product").click()
    page.wait_for_load_state()
    assert page.locator("#product .error").count() == 1, "the refusal is in the product form's section"
    assert "Name must not be blank" in page.locator("#product .error").inner_text()
    assert _on_screen(page, "#product .error") and _on_screen(page, "#name"), "in view, by the name"
    assert page.get_by_label("Description").input_value() == "a name of spaces"


def _contrast(first: str, second: str) -> float:
    """WCAG's contrast ratio of two CSS ``rgb(r, g, b)`` colours."""

    def luminance(colour: str) -> float:
        channels = [int(part) / 255 for part in re.findall(r"\d+", colour)[:3]]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_keyboard_focus_is_outlined_in_a_colour_that_stands_out(page: Page) -> None:
    """Every control reached with Tab is outlined at least 2 px wide, at 3:1 or more against the page
    (WCAG 1.4.11), on links, buttons, inputs and selects alike."""
    page.goto("/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    reached = set()
    for _ in range(20):  # past the Trending filters (name ... category, sort) to their button
        page.keyboard.press("Tab")
        tag, style, width, colour = page.evaluate(
            """() => { const s = getComputedStyle(document.activeElement);
                       return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth, s.outlineColor]; }"""
        )
        reached.add(tag)
        assert style != "none" and float(width.removesuffix("px")) >= 2, f"{tag} is outlined"
        assert _contrast(colour, background) >= 3, f"the outline of {tag} ({colour}) stands out"
    assert {"A", "INPUT", "SELECT", "BUTTON"} <= reached


def _tab_to(page: Page, found: str, presses: int = 60) -> None:
    """Presses Tab until the focused element matches the JavaScript test ``found`` (on ``e``)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => {found})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {found}")


def test_the_trending_region_filter_and_download_work_from_the_keyboard(page: Page) -> None:
    """With the keyboard alone: the region field tells what it does, Enter filters by it, and the
    download link, reached with Tab, saves the filtered list, in the page's order, as CSV."""
    page.goto("/")
    _tab_to(page, "e.id === 'region'")
    hint = page.locator("#" + (page.locator("#region").get_attribute("aria-describedby") or "none"))
    assert "worldwide score" in hint.inner_text() and hint.is_visible()
    page.keyboard.type("Europe")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/\?.*region=Europe"))
    assert "gained engagement in Europe" in page.locator("table.data caption").inner_text()
    listed = page.locator("table.data tbody tr td[data-label=Product] a").all_inner_texts()
    assert listed, "the demo market has products gaining views in Europe"
    _tab_to(page, "e.tagName === 'A' && e.textContent === 'Download this list (CSV)'")
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    assert download_info.value.suggested_filename == "trending_list.csv"
    rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["Rank", "Product ID", "Product Name"]
    assert [row[2] for row in rows[1 : len(listed) + 1]] == listed, "the page's products, in its order"


def test_the_rule_form_shows_only_the_fields_of_the_chosen_kind(page: Page) -> None:
    """A field the chosen kind does not use is hidden, and a value left in it does not stop a save."""
    sign_up(page, "kind_fields_user")
    page.goto("/ui/watchlist")
    rule = page.get_by_label("Rule", exact=True)
    threshold, window = page.locator("#threshold"), page.locator("#window_hours")
    shown = {
        "score_rise": (True, True),
        "score_threshold": (True, False),
        "status_exploding": (False, False),
        "new_viral_ad": (False, False),
    }
    assert (threshold.is_visible(), window.is_visible()) == shown["score_rise"], "the first kind's fields"
    for kind, fields in shown.items():
        rule.select_option(kind)
        assert (threshold.is_visible(), window.is_visible()) == fields, kind
    rule.select_option("score_threshold")
    threshold.fill("70")
    page.get_by_role("button", name="Add rule").click()
    assert page.get_by_text("Rule added.").is_visible()
    page.get_by_role("link", name=re.compile(r"^Edit rule: Score reaches a level")).click()
    assert threshold.is_visible() and threshold.input_value() == "70.0"
    rule.select_option("status_exploding")
    assert not threshold.is_visible()
    page.get_by_role("button", name="Save rule").click()
    assert page.get_by_text("Rule saved.").is_visible()
    assert (
        page.locator("#rules li")
        .first.inner_text()
        .startswith("Status becomes exploding · all watched products")
    )


def _create_product(page: Page, name: str, description: str) -> None:
    """Types a product in the Data page's product form and sends it."""
    page.goto("/ui/data")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill(description)
    page.get_by_role("button", name="Create product").click()
    page.wait_for_load_state()


def test_create_anyway_makes_the_namesake_with_javascript_on(page: Page) -> None:
    """The button that confirms a namesake sends its name and value, though app.js marks the form
    busy on submit (a disabled button's value is left out of the form): the product is made."""
    sign_up(page, "namesake_user")
    _create_product(page, "heated star projector", "Mine, not the demo's")
    assert "already has this name" in page.locator("#product .error").inner_text()
    page.get_by_role("button", name="Create anyway").click()
    page.wait_for_load_state()
    assert page.locator("#product .error").count() == 0, "the warning is not given again"
    assert "Created product" in page.locator("#product .report").inner_text()


@pytest.mark.parametrize(
    ("kind", "typed", "field"),
    [("score_threshold", {"#threshold": "abc"}, "threshold"), ("status_exploding", {}, "webhook_url")],
)
def test_a_refused_rule_focuses_the_field_it_names(
    page: Page, kind: str, typed: dict[str, str], field: str
) -> None:
    """The field is focused, as docs/api.md says (browsers skip autofocus on an address with a
    fragment, such as the /ui/alerts#rules the form was posted to)."""
    sign_up(page, f"focus_{field}_user")
    page.goto("/ui/watchlist")
    page.get_by_label("Rule", exact=True).select_option(kind)
    for selector, value in typed.items():
        page.locator(selector).fill(value)
    if field == "webhook_url":
        page.get_by_label("to a webhook").check()
    page.get_by_role("button", name="Add rule").click()
    page.wait_for_load_state()
    assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == field
    assert _on_screen(page, "#rule-error"), "the refusal stays in view"


def test_a_refused_product_focuses_its_name(page: Page) -> None:
    """A blank product name, with JavaScript on: the name field is focused and marked, as the
    rule form's refused field is (docs/api.md)."""
    sign_up(page, "focus_product_user")
    _create_product(page, "   ", "typed")
    assert "Name must not be blank" in page.locator("#product .error").inner_text()
    assert page.locator("#name").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "name"
    assert page.get_by_label("Description").input_value() == "typed"


def test_a_file_over_the_body_limit_is_refused_on_the_data_page(browser: Browser, lean_server: str) -> None:
    """An upload larger than MARKETSCOUT_MAX_BODY_BYTES answers the Data page, saying the limit;
    without demo data the footer does not call the data synthetic."""
    context = browser.new_context(base_url=lean_server)
    try:
        page = context.new_page()
        sign_up(page, "bulky_user")
        page.goto("/ui/data")
        rows = "1,2026-03-01T10:00:00Z,US,5,0,0,0\n" * 70_000
        page.get_by_label("File").set_input_files(
            {"name": "big.csv", "mimeType": "text/csv", "buffer": (HEADER + rows).encode()}
        )
        page.get_by_role("button", name="Upload").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Data in and out"
        assert "at most 1 MB" in page.locator(".report .error").inner_text()
        assert page.get_by_label("File").is_visible(), "the upload form is there to try again"
        assert "synthetic" not in page.locator("footer").inner_text()
    finally:
        context.close()


HEADER = "ad_id,observed_at,region,views,likes,comments,shares\n"


def test_on_a_phone_a_refused_rule_is_in_view_below_many_rules(page: Page) -> None:
    """The refusal is said in the form, by the field it focuses, however many rules are listed
    above; a rule the same as another focuses the form's first control."""
    sign_up(page, "many_rules_user")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/watchlist")
    rule = page.get_by_label("Rule", exact=True)
    for level in range(50, 57):
        rule.select_option("score_threshold")
        page.locator("#threshold").fill(str(level))
        page.get_by_role("button", name="Add rule").click()
        page.wait_for_load_state()
    for typed, focused in (("abc", "threshold"), ("56", "kind")):
        rule.select_option("score_threshold")
        page.locator("#threshold").fill(typed)
        page.get_by_role("button", name="Add rule").click()
        page.wait_for_load_state()
        assert page.evaluate("document.activeElement.id") == focused, typed
        assert _on_screen(page, "#rule-error") and _on_screen(page, f"#{focused}"), typed
