"""Dashboard pages. Each handler calls the same use cases as the JSON API.

Sessions: the access and refresh tokens of a normal login, kept in HttpOnly, SameSite=Lax cookies
(Secure over HTTPS); while the login lasts, an expired access token is renewed on the next page
(:mod:`marketscout.entrypoints.web.session`); once it has ended, the next page sends the user to
the login page with a message, which comes back to that page afterwards.
CSRF: every form carries the value of an HttpOnly ``ms_csrf`` cookie (double submit, compared in
constant time); a POST without it is refused with 403. The cookie is SameSite=Lax, like the session:
a link followed from another site (an alert e-mail) sends it, so the server does not replace it and
forms open in other tabs keep working; a cross-site POST never carries it.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromQuery, PathParameter, QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from markupsafe import Markup

from marketscout.adapters.csv_rows import column, header_problem, misfit
from marketscout.domain.alert_rules import KIND_PARAMETERS
from marketscout.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidValue,
    NotFound,
    Unavailable,
)
from marketscout.domain.gains import gains_of
from marketscout.domain.instants import past_instant, window_back
from marketscout.domain.model import (
    GLOBAL_REGION,
    GROWTH_ORDERS,
    MAX_COUNT,
    AlertRule,
    AlertRuleKind,
    Channel,
    EngagementSnapshot,
    Platform,
    Product,
    TrendingOrder,
    TrendStatus,
    User,
    WatchlistEntry,
)
from marketscout.domain.ports import Clock, PasswordHasher, TokenIssuer, UnitOfWork
from marketscout.domain.regions import CONTINENTS, NO_CONTINENT, normalise_area
from marketscout.domain.scoring import ACCELERATING
from marketscout.domain.text import folded, search_text
from marketscout.domain.usecases import accounts, alerts, catalog, export, notifications, trends, watchlists
from marketscout.domain.usecases.engagement import Rejection, SnapshotInput
from marketscout.domain.usecases.pipeline import ingest_and_refresh
from marketscout.entrypoints.api.bodies import describe
from marketscout.entrypoints.api.cache import ReadCache
from marketscout.entrypoints.api.engagement import NDJSON, parse_items, to_snapshot_input
from marketscout.entrypoints.api.intelligence import heat_map_labels, regional_scores
from marketscout.entrypoints.api.params import INSTANT_RULE
from marketscout.entrypoints.api.path_ids import plain_id
from marketscout.entrypoints.authentication import SESSION_COOKIE
from marketscout.entrypoints.notify import available_channels
from marketscout.entrypoints.schemas import ENGAGEMENT_COLUMNS, ENGAGEMENT_COLUMNS_SAID, EngagementIn
from marketscout.entrypoints.web.charts import (
    FROM_NONE,
    LEGEND_STEPS,
    colour,
    component_rows,
    continent_map,
    country_marks,
    growth_cells,
    growth_label,
    growth_title,
    line_chart,
    polyline,
)
from marketscout.entrypoints.web.flash import FLASH_COOKIE, FLASH_PATH, NOTE_SECONDS, note_key, seal, unseal
from marketscout.entrypoints.web.forms import form_page
from marketscout.entrypoints.web.session import (
    CSRF_COOKIE,
    REFRESH_COOKIE,
    csrf_cookies,
    csrf_token,
    dashboard_cookie,
    end_session,
    expire_cookie,
    page_session,
    page_user,
    same_secret,
    unread_alerts,
    with_session,
)

_DATA_FIELDS = (
    "action",
    "name",
    "description",
    "product",
    "platform",
    "ad_content",
    "external_id",
    "first_seen_at",
)
# The product and ad forms' fields a refusal may name, by the use cases' names (the same).
_DATA_FORM_FIELDS = {name: name for name in _DATA_FIELDS if name != "action"}
PRODUCT_SUGGESTIONS = 50  # the newest products, suggested by the ad form's Product field
PathId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
MAX_UPLOAD_ROWS = 50_000
# The rejected rows an upload's note lists, each problem cut to _NOTE_PROBLEM characters: the note
# travels in a cookie (browsers keep 4 KB); the others are counted, and said again on the next upload.
UPLOAD_NOTE_ROWS = 10
_NOTE_PROBLEM = 160
HEAT_MAP_MATCHES = 50  # products a heat-map search lists
HEAT_MAP_SHOWN = 5  # of them, listed above the map; the others fold under "more"
# The windows the heat map offers (``?days=``), the API's default 30 days among them; the API's
# ``since`` takes any start, and each day's totals outlast pruned readings (docs/operations.md).
HEAT_MAP_DAYS = (7, trends.HEAT_MAP_WINDOW.days, 90)
ALERTS_PAGE = 50  # alerts a page of the Watchlist page's list shows (``?alerts_page=N``)
VIRAL_PAGE = 20  # ads a page of the Viral ads list shows, as the API's /scan-ads by default
TRENDING_PAGE = 10  # products a page of the Trending list shows, as the API's /trending by default
TRENDING_SIZES = (10, 25, 50, 100)  # the page sizes the Trending list offers (``?size=``)
LIST_EXPORT_ROWS = 1_000  # the rows a download of the Trending or Viral ads list holds at most
_PAGE_NUMBER = re.compile(r"[1-9]\d{0,4}", re.ASCII)  # pages 1 to 99,999
RULE_KIND_NAMES = {
    AlertRuleKind.SCORE_RISE: "Score rises by a number of points",
    AlertRuleKind.SCORE_THRESHOLD: "Score reaches a level",
    AlertRuleKind.STATUS_EXPLODING: "Status becomes exploding",
    AlertRuleKind.NEW_VIRAL_AD: "A new viral ad appears",
}
PLATFORM_CHOICES = {p.value: p for p in Platform}  # the platforms as the filters and forms offer them
_T = TypeVar("_T")
# The Trending list's caption in each order.
_ORDER_CAPTIONS = {
    TrendingOrder.SCORE: "Products ranked by trend score, highest first",
    **{
        order: f"Products by {growth_label(window)[0].lower()}{growth_label(window)[1:]}, fastest first "
        f'("{FROM_NONE}" first, "n/a" last)'
        for order, window in GROWTH_ORDERS.items()
    },
    TrendingOrder.NEWEST: "Products by when they were added, newest first",
}
_LIST_WINDOWS = ("24h", "7d")  # the growth columns of the Trending list
# The orders the Trending list offers (``?sort=``), as the form names them: the growth orders by
# their columns' names.
TRENDING_SORTS = {
    TrendingOrder.SCORE: "Trend score",
    **{order: growth_label(window) for order, window in GROWTH_ORDERS.items()},
    TrendingOrder.NEWEST: "Newest products",
}
# Which scores the Trending list of a region shows (``?rank=``), as the form names them: the
# stored worldwide ones (the default), or those of the region's readings alone.
RANK_REGIONAL = "regional"
RANKS = {"worldwide": "Worldwide", RANK_REGIONAL: "In the region alone"}
# The forms' fields as their labels say them, for the problems a form is refused with.
FIELD_LABELS = {
    "username": "The username",
    "email": "The e-mail address",
    "password": "The password",
    "current_password": "The current password",
    "new_password": "The new password",
    "kind": "Rule",
    "threshold": "Threshold",
    "window_hours": "Window in hours",
    "webhook_url": "Webhook URL",
    "product_id": "Product",
    "channels": "Also send each alert:",
    "name": "Name",
    "description": "Description",
    "product": "Product",
    "platform": "Platform",
    "ad_content": "Content",
    "external_id": "Platform id",
    "first_seen_at": "First seen",
    "q": "The name search",
}
# The domain's words for what the form shows otherwise: kinds by name, channels as ticked boxes.
_RULE_WORDS = {
    **{k.value: f"“{name}”" for k, name in RULE_KIND_NAMES.items()},
    "channels include webhook": "“to a webhook” is ticked",
}
_RULE_WORD = re.compile("|".join(rf"\b{re.escape(word)}\b" for word in _RULE_WORDS))


def in_form_words(field: str, rule: str) -> str:
    """A form's problem as a sentence that names the field by its label on the form."""
    return f"{FIELD_LABELS.get(field, field)} {rule}."


def rule_problem(error: DomainError) -> str:
    """A refused rule's problem in the rule form's words: the field by its label, a kind by its name."""
    if not isinstance(error, InvalidValue):
        return error.message
    return in_form_words(error.field, _RULE_WORD.sub(lambda found: _RULE_WORDS[found.group(0)], error.rule))


def rule_summary(rule: AlertRule, names: Mapping[int, str] | None = None, *, delivery: bool = True) -> str:
    """A rule as the rule list says it, and as a refusal names it (the list shows no ids): its
    product by name when ``names`` has it; with ``delivery``, where its alerts also go."""
    parts = [RULE_KIND_NAMES.get(rule.kind, str(rule.kind))]
    if rule.threshold is not None:
        parts.append(f"threshold {rule.threshold}")
    if rule.window_hours:
        parts.append(f"within {rule.window_hours} h")
    if rule.product_id is None:
        parts.append("all watched products")
    elif (name := (names or {}).get(rule.product_id)) is not None:
        parts.append(f"product “{name}”")
    else:
        parts.append(f"product #{rule.product_id}")
    if delivery and rule.channels:
        where = f" ({rule.webhook_url})" if rule.webhook_url else ""
        parts.append(f"also by {' and '.join(rule.channels)}{where}")
    return " · ".join(parts)


def namesake_labels(products: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Each product's name as a page says it, by id: ``Name (#id)`` where another product the
    page names has the same name, as the heat map labels them (:func:`heat_map_labels`)."""
    named = dict(products)
    return dict(zip(named, heat_map_labels(list(named.items())), strict=True))


async def _rule_names(uow: UnitOfWork, user: User) -> dict[int, str]:
    """The names the Watchlist page gives the products of the user's watchlist and rules."""
    entries = await watchlists.list_watchlist(uow, user_id=user.id)
    rules = await alerts.list_rules(uow, user_id=user.id)
    async with uow:
        products = await uow.products.get_many(
            [e.product_id for e in entries] + [r.product_id for r in rules if r.product_id is not None]
        )
    return namesake_labels((pid, p.name) for pid, p in products.items())


def same_rule_problem(rule: AlertRule, names: Mapping[int, str], *, editing: bool) -> str:
    """Why a rule was refused for asking what ``rule``, listed, already asks."""
    if editing:
        return f"it would be the same as your rule “{rule_summary(rule, names)}” (marked below)."
    return (
        f"you already have this rule: “{rule_summary(rule, names)}” (marked below); "
        "to change how its alerts are delivered, edit that one."
    )


def utc_time(value: datetime) -> Markup:
    """Every time the dashboard prints, as ``2026-11-30 21:00 UTC`` in a ``<time>`` element
    (the template filter ``utc``); a naive value is taken to be UTC already."""
    at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return Markup('<time datetime="{}">{} UTC</time>').format(at.isoformat(), f"{at:%Y-%m-%d %H:%M}")


def register_filters(engine: JinjaTemplateEngine) -> None:
    """The dashboard's own template filters (TemplateConfig's engine_callback)."""
    engine.engine.filters["utc"] = utc_time


async def check_csrf(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The submitted form, once its CSRF token matches the cookie; 403 otherwise."""
    form = await request.form()
    sent = form.get("csrf_token")
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie or not same_secret(sent, cookie):
        raise HTTPException(
            status_code=403, detail="The form has expired or did not come from this site; reload it"
        )
    return dict(form)


def current_user(request: Request[Any, Any, Any]) -> User | None:
    """The signed-in user, as :class:`PageUserMiddleware` found it (the token is checked once per
    request); a refused token marks the session expired, a store that is down fails the page."""
    state = request.scope.setdefault("state", {})
    outcome = page_session(request)
    if isinstance(outcome, User):
        state["user_id"] = outcome.id
        return outcome
    if isinstance(outcome, AuthenticationFailed):
        state["session_expired"] = True
        return None
    if outcome is not None:
        raise outcome
    return None


PRIVATE = {"Cache-Control": "no-store"}


def _signup_open(request: Request[Any, Any, Any]) -> bool:
    """Whether the operator left sign-up open (``MARKETSCOUT_SIGNUP_OPEN``)."""
    return bool(request.app.state.container.settings().signup_open)


def page(
    request: Request[Any, Any, Any], name: str, user: User | None, *, status_code: int = 200, **context: Any
) -> Template:
    """A rendered page; one shown to a logged-in user is never stored (Back after log-out
    must not show it again)."""
    context.update(
        user=user,
        unread_alerts=unread_alerts(request) if user is not None else None,
        csrf=csrf_token(request),
        path=request.url.path,
        signup_open=_signup_open(request),
    )
    return Template(
        template_name=name,
        context=context,
        cookies=csrf_cookies(request),
        status_code=status_code,
        headers=PRIVATE if user is not None else None,
    )


def _same_origin_page(request: Request[Any, Any, Any]) -> str | None:
    """The path (and query) of the page that sent the request, if it is one of ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.netloc or referer.netloc != request.url.netloc or referer.scheme not in {"http", "https"}:
        return None
    return urlunsplit(("", "", referer.path or "/", referer.query, ""))


def to_login(request: Request[Any, Any, Any]) -> Redirect:
    """To the login page, which comes back afterwards to a page the user can GET: this one, or
    for a form's POST the page that held the form (a POST path would answer 405)."""
    state = request.scope.setdefault("state", {})
    message = "expired" if state.get("session_expired") else "login"
    if request.method == "GET":
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        back = _same_origin_page(request) or request.url.path
    query = urlencode({"message": message, "next": _safe_next(back)})
    return Redirect(path=f"/ui/login?{query}", status_code=303)


def _note_seal(request: Request[Any, Any, Any]) -> tuple[bytes, datetime, int]:
    """What seals and opens a note of this request: the key, the time, and the signed-in
    account (0 for none: every note is made and read behind the log-in)."""
    container = request.app.state.container
    user = page_user(request)
    return note_key(container.secret()), container.clock().now(), user.id if user else 0


def flash_redirect(request: Request[Any, Any, Any], path: str, note: str) -> Redirect:
    """POST-redirect-GET: the outcome travels in a one-shot cookie the next page reads and
    clears, so reloading that page never sends the form again; the note is sealed
    (:mod:`marketscout.entrypoints.web.flash`): signed for the signed-in account, and read
    within a minute."""
    key, now, account = _note_seal(request)
    response = Redirect(path=path, status_code=303)
    sealed = seal(key, note, now, account)
    response.set_cookie(
        dashboard_cookie(request, FLASH_COOKIE, sealed, path=FLASH_PATH, max_age=NOTE_SECONDS)
    )
    return response


def take_flash(request: Request[Any, Any, Any], template: Template, kind: str) -> list[str]:
    """The parts of a pending note of this kind (cleared on the way out), else []. A note the
    server did not seal, sealed over a minute ago or for another account, is no note."""
    sealed = request.cookies.get(FLASH_COOKIE)
    if not sealed:
        return []
    key, now, account = _note_seal(request)
    note = unseal(key, sealed, now, account)
    if note is None:
        expire_cookie(template, request, FLASH_COOKIE, path=FLASH_PATH)
        return []
    kind_, _, rest = note.partition(":")
    if kind_ != kind:
        return []
    expire_cookie(template, request, FLASH_COOKIE, path=FLASH_PATH)
    return rest.split(":")


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _typed(form: dict[str, Any]) -> dict[str, str]:
    """What was typed in the Data page's product or ad form, to show it again."""
    return {k: _text(form, k) for k in _DATA_FIELDS}


async def _watchlist_page(
    request: Request[Any, Any, Any],
    uow: UnitOfWork,
    user: User,
    *,
    error: str | None = None,
    error_field: str | None = None,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    editing: int | None = None,
    same_rule: int | None = None,
    confirming: int | None = None,
    alerts_page: int = 1,
) -> Template:
    """The Watchlist page; with a rule form's ``error`` (answered with ``status_code``), the form
    field it names (``error_field``), the ``values`` typed, the rule being edited and the listed
    rule it was refused for being the same as (``same_rule``); ``confirming``: the rule whose
    deletion the page asks to confirm; ``alerts_page``: the page of the alerts list shown
    (ALERTS_PAGE alerts a page, newest first), which the page's links and forms keep."""
    entries = await watchlists.list_watchlist(uow, user_id=user.id)
    rules = await alerts.list_rules(uow, user_id=user.id)
    skip = (alerts_page - 1) * ALERTS_PAGE
    # One more than a page: whether older alerts follow (the store counts only the unread).
    fetched = await alerts.list_alerts(uow, user_id=user.id, skip=skip, limit=ALERTS_PAGE + 1)
    shown_alerts = fetched[:ALERTS_PAGE]
    async with uow:
        products = await uow.products.get_many(
            [e.product_id for e in entries]
            + [r.product_id for r in rules if r.product_id is not None]
            + [a.product_id for a in shown_alerts]
        )
        levels = await uow.scores.latest_levels(e.product_id for e in entries)
    # Products that share a name are told apart by their numbers, everywhere on the page.
    names = namesake_labels((pid, p.name) for pid, p in products.items())
    edited = next((r for r in rules if r.id == editing), None)
    if edited is not None and values is None:
        values = _rule_values(edited)
    confirmed = confirming if any(r.id == confirming for r in rules) else None
    keeping_state = functools.partial(
        watchlist_url, edit=edited.id if edited is not None else None, delete=confirmed
    )
    template = page(
        request,
        "watchlist.html",
        user,
        status_code=status_code,
        entries=entries,
        products=products,
        levels=levels,
        alerts=shown_alerts,
        first_alert=skip + 1,
        alerts_page=alerts_page,
        # The rules' links keep the alerts' page (appended to their own query).
        paged=f"&alerts_page={alerts_page}" if alerts_page > 1 else "",
        newer_alerts=keeping_state(alerts_page=alerts_page - 1, fragment="alerts")
        if alerts_page > 1 and shown_alerts
        else None,
        older_alerts=keeping_state(alerts_page=alerts_page + 1, fragment="alerts")
        if len(fetched) > ALERTS_PAGE
        else None,
        newest_alerts=keeping_state(fragment="alerts"),
        rules_url=watchlist_url(alerts_page=alerts_page, fragment="rules"),
        names=names,
        # The products whose alerts say a name another product on the page has: their stored
        # text is kept as it was, with the product's number beside it.
        numbered={pid for pid, p in products.items() if names[pid] != p.name},
        rules=rules,
        summaries={r.id: rule_summary(r, names) for r in rules},
        # What a rule's buttons name it by: what it asks, which no other rule of the user asks.
        labels={r.id: rule_summary(r, names, delivery=False) for r in rules},
        same_rule=same_rule,
        confirming=confirmed,
        deliveries=await notifications.list_deliveries(uow, user_id=user.id, limit=20),
        kinds=[(k.value, RULE_KIND_NAMES[k]) for k in AlertRuleKind],
        kinds_using={
            field: " ".join(k.value for k, used in KIND_PARAMETERS.items() if field in used)
            for field in ("threshold", "window_hours")
        },
        product_choices=_product_choices(entries, edited, names),
        email_available=Channel.EMAIL in available_channels(request.app.state.container.settings()),
        error=error,
        error_field=error_field,
        values=values or {},
        editing=edited.id if edited is not None else None,
    )
    if error is None and (removed := take_flash(request, template, "unwatched")):
        template.context["removed"] = await _named_product(uow, removed[0])
    if error is None and (deleted := take_flash(request, template, "deleted")):
        template.context["deleted"] = ":".join(deleted)
    added = take_flash(request, template, "rule") if error is None else []
    saved = take_flash(request, template, "saved") if error is None and not added else []
    shown = added or saved
    new_rule: AlertRule | None = next((r for r in rules if shown and str(r.id) == shown[0]), None)
    template.context.update(
        new_rule=new_rule,
        saved=bool(saved),
        # The secret once: when the rule was added, or saved with a new webhook URL.
        show_secret=bool(added) or saved[1:] == ["secret"],
    )
    return template


def watchlist_url(
    *, edit: int | None = None, delete: int | None = None, alerts_page: int = 1, fragment: str = ""
) -> str:
    """The Watchlist page's address with its state: the rule being edited, the rule whose
    deletion it asks to confirm, the page of the alerts (the first one left out)."""
    state = {"edit": edit, "delete": delete, "alerts_page": alerts_page if alerts_page > 1 else None}
    query = urlencode({name: value for name, value in state.items() if value})
    return "/ui/watchlist" + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def _alerts_page(typed: str) -> int:
    """The page of the alerts a link or form asks for (``alerts_page``): 1 unless a page number."""
    return _page_number(typed, [])


def _product_choices(
    entries: list[WatchlistEntry], edited: AlertRule | None, names: Mapping[int, str]
) -> list[tuple[int, str]]:
    """The products the rule form offers: the watched ones, and the edited rule's own (which the
    API may have set to a product that is not on the watchlist), each by name."""
    ids = [e.product_id for e in entries]
    if edited is not None and edited.product_id is not None and edited.product_id not in ids:
        ids.append(edited.product_id)
    return [(pid, names.get(pid, f"#{pid}")) for pid in ids]


def _unreadable(problems: list[str] | None, error: InvalidValue, said: str) -> None:
    """A filter that cannot be read: ``said`` in a page's ``problems`` (the page then shows what
    it shows without the filter); with no ``problems`` (a download), refused as ``error``."""
    if problems is None:
        raise error
    problems.append(said)


def _search(typed: str | None, problems: list[str] | None, instead: str) -> str | None:
    """The name search a page was asked for (None when blank); one with a control character is
    said in ``problems``, and the page shows what it shows ``instead``, as for an unknown filter."""
    try:
        query = search_text("q", typed)
    except InvalidValue as error:
        _unreadable(problems, error, f"{FIELD_LABELS['q']} {error.rule}; {instead}.")
        return None
    return query[:200] if query else None


def _area(typed: str | None, problems: list[str] | None) -> tuple[str, str | None]:
    """A list's region filter: what was typed (trimmed), and the area it names (None for none);
    one it cannot read is said in ``problems``, and every region shown."""
    written = (typed or "").strip()[:40]
    if not written:
        return written, None
    try:
        return written, normalise_area(written)
    except InvalidValue as error:
        _unreadable(problems, error, f"Region “{written}” {error.rule}; showing every region.")
        return written, None


def _one_of(problems: list[str] | None, field: str, typed: str, offered: str, instead: str) -> None:
    """A filter naming none of the ``offered`` choices: said as ``Sort “x” is not one of …``."""
    error = InvalidValue(field, f"must be one of {offered}")
    _unreadable(problems, error, f"{field.capitalize()} “{typed}” is not one of {offered}; {instead}.")


@dataclass(frozen=True, slots=True)
class TrendingFilters:
    """The Trending list's filters and order as read from a query (those it cannot read left
    out), and the products the platform and region keep."""

    order: TrendingOrder
    status: TrendStatus | None
    query: str | None
    platform: Platform | None
    region: str | None  # the area the region filter names
    typed_region: str
    category: str | None
    categories: list[str]
    among: set[int] | None  # the products the platform and region keep; None in a region's own ranking
    regional: bool  # ranked by the score of the region's readings alone (only with a region)

    def in_links(self) -> dict[str, str | None]:
        """The filters and order as the list's links carry them (those set)."""
        return {
            "q": self.query,
            "status": self.status.value if self.status else None,
            "platform": self.platform.value if self.platform else None,
            "region": self.region,
            "rank": RANK_REGIONAL if self.regional else None,
            "category": self.category,
            "sort": self.order.value if self.order is not TrendingOrder.SCORE else None,
        }

    @property
    def scored_in(self) -> str:
        """Where the listed scores come from: "worldwide", or the region."""
        return self.region if self.regional and self.region is not None else "worldwide"

    async def listing(
        self, uow: UnitOfWork, clock: Clock, cache: ReadCache, *, skip: int, limit: int
    ) -> trends.TrendingPage:
        """The ``limit`` products of the list after the first ``skip``, and how many it holds; a
        region's own scores are kept by the read cache, as the API keeps them, so that the
        list's other pages and orders do not score the region again."""
        if self.regional and self.region is not None:
            return await trends.regional_trending_page(
                uow,
                clock,
                area=self.region,
                skip=skip,
                limit=limit,
                status=self.status,
                query=self.query,
                platform=self.platform,
                category=self.category,
                order=self.order,
                scored=await regional_scores(cache, uow, clock, self.region, self.platform),
            )
        return await trends.trending_page(
            uow,
            skip=skip,
            limit=limit,
            status=self.status,
            query=self.query,
            among=self.among,
            category=self.category,
            order=self.order,
        )


async def trending_filters(
    uow: UnitOfWork,
    clock: Clock,
    problems: list[str] | None,
    *,
    status: str | None,
    q: str | None,
    platform: str | None,
    region: str | None,
    sort: str | None,
    category: str | None,
    rank: str | None = None,
) -> TrendingFilters:
    """The Trending list's filters (``?status=&q=&platform=&region=&rank=&category=&sort=``): one
    it cannot read is said in ``problems`` and left out, or with no ``problems`` an InvalidValue;
    ``rank=regional`` ranks by the region's own scores, and without a region is such a problem."""
    order = next((o for o in TrendingOrder if o.value == sort), TrendingOrder.SCORE)
    if sort and order.value != sort:
        offered = ", ".join(o.value for o in TrendingOrder)
        _one_of(problems, "sort", sort[:40], offered, "showing the products by trend score")
    categories = await trends.categories(uow)
    chosen_category = category if category in categories else None
    if category and chosen_category is None:
        offered = ", ".join(categories) if categories else "none: no product has a category"
        _one_of(problems, "category", category[:60], offered, "showing every category")
    chosen = next((s for s in TrendStatus if s.value == status), None)
    if status and chosen is None:
        _one_of(
            problems, "status", status[:40], ", ".join(s.value for s in TrendStatus), "showing every status"
        )
    query = _search(q, problems, "showing every product")
    chosen_platform = next((p for p in Platform if p.value == platform), None)
    if platform and chosen_platform is None:
        offered = ", ".join(p.value for p in Platform)
        _one_of(problems, "platform", platform[:40], offered, "showing every platform")
    typed_region, chosen_region = _area(region, problems)
    if rank and rank not in RANKS:
        _one_of(problems, "rank", rank[:40], ", ".join(RANKS), "showing worldwide scores")
    regional = rank == RANK_REGIONAL and chosen_region is not None
    if rank == RANK_REGIONAL and chosen_region is None and not typed_region:
        # a region that cannot be read has said so already
        _unreadable(
            problems,
            InvalidValue("rank", "must be worldwide unless a region is given"),
            "Scores in the region alone needs a region; showing worldwide scores.",
        )
    # A region's own ranking finds the products active there itself (and its read cache keeps
    # them): they are not looked for again on every page.
    among = (
        await trends.active_products(uow, clock, platform=chosen_platform, region=chosen_region)
        if (chosen_platform is not None or chosen_region is not None) and not regional
        else None
    )
    return TrendingFilters(
        order=order,
        status=chosen,
        query=query,
        platform=chosen_platform,
        region=chosen_region,
        typed_region=typed_region,
        category=chosen_category,
        categories=categories,
        among=among,
        regional=regional,
    )


def viral_filters(
    problems: list[str] | None, *, platform: str | None, region: str | None
) -> tuple[Platform | None, str, str | None]:
    """The Viral ads list's platform, and its region as typed and the area it names; a filter it
    cannot read is said in ``problems`` and left out, or with no ``problems`` an InvalidValue."""
    chosen = PLATFORM_CHOICES.get(platform or "")
    if platform and chosen is None:
        _one_of(problems, "platform", platform[:40], ", ".join(PLATFORM_CHOICES), "showing every platform")
    typed_region, area = _area(region, problems)
    return chosen, typed_region, area


def csv_download(body: str, filename: str) -> Response[str]:
    """A CSV file to save (never stored by a cache: the lists change as readings arrive)."""
    return Response(
        body,
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
        headers={"Content-Disposition": f"attachment; filename={filename}", **PRIVATE},
    )


def _page_number(typed: str | None, problems: list[str]) -> int:
    """A list's ``?page=``: 1 unless a page number (one that is not is said in ``problems``)."""
    written = (typed or "").strip()
    number = int(written) if _PAGE_NUMBER.fullmatch(written) else 1
    if written and str(number) != written:
        problems.append(f"Page “{written[:20]}” is not a page number; showing the first page.")
    return number


def _list_url(path: str, filters: dict[str, Any], to: int) -> str:
    """The address of page ``to`` of a list, with its filters (those set)."""
    kept: dict[str, Any] = {name: value for name, value in filters.items() if value}
    if to > 1:
        kept["page"] = to
    return f"{path}?{urlencode(kept)}" if kept else path


def _age(age: timedelta) -> str:
    """An ad's age as a person says it: hours under two days, else days."""
    hours = max(0, int(age.total_seconds() // 3600))
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"


def _regional_reads(snapshots: list[EngagementSnapshot], since: datetime, until: datetime) -> dict[str, Any]:
    """What one product's readings say of ``(since, until]``, the heat map's window, for a page to
    tell readings that gained nothing from no reading at all: where its ads were read there
    (``where``, "" for nowhere), their views at the latest readings, and whether any gained."""
    window = gains_of(snapshots, since, until)
    regions = {gain.region for gain in window}
    countries = len(regions - {GLOBAL_REGION})
    where = [f"in {countries:,} {'country' if countries == 1 else 'countries'}"] if countries else []
    if GLOBAL_REGION in regions:
        where.append("as GLOBAL (without a country)")
    return {
        "where": " and ".join(where),
        "views": sum(gain.base + gain.gained for gain in window),
        "gained": any(gain.gained > 0 for gain in window),
    }


def _parsed(field: str, typed: str, parse: Callable[[str], _T], rule: str) -> _T:
    """``typed`` read by ``parse``; what it cannot read is an InvalidValue naming ``field``."""
    try:
        return parse(typed)
    except ValueError:
        raise InvalidValue(field, rule) from None


def _first_seen(typed: str, now: datetime) -> datetime | None:
    """The ad form's First seen: None when blank; a date and time, in UTC unless it says its offset
    (a browser's datetime-local says none), no later than ``now`` (as the API's ``first_seen_at``)."""
    text = typed.strip()
    if not text:
        return None
    rule = "must be a date and time, like 2026-11-30T21:00 (UTC)"
    at = _parsed("first_seen_at", text, datetime.fromisoformat, rule)
    return past_instant("first_seen_at", at if at.tzinfo is not None else at.replace(tzinfo=UTC), now)


def _ad_platform(typed: str) -> Platform:
    """The ad form's platform; one it does not know is an InvalidValue naming those it knows."""
    known = ", ".join(PLATFORM_CHOICES)
    if not typed:
        raise InvalidValue("platform", f"is missing: choose one of {known}")
    if (platform := PLATFORM_CHOICES.get(typed)) is None:
        raise InvalidValue("platform", f"“{typed[:40]}” is not one we know: {known}")
    return platform


def _refused_field(error: DomainError | ValueError, fields: Mapping[str, str]) -> str | None:
    """The form field a refusal names, by the name ``fields`` maps the use cases' name of it to:
    an InvalidValue's or a Conflict's field, or what a NotFound did not find; None when it names
    none of them (the form then focuses its first control)."""
    if isinstance(error, InvalidValue | Conflict):
        named = error.field
    elif isinstance(error, NotFound):
        named = error.what
    else:
        return None
    return fields.get(named) if named is not None else None


# The rule form's control that a refused field is, by the field's name in the use cases.
_RULE_FORM_FIELDS = {
    **{name: name for name in ("kind", "threshold", "window_hours", "webhook_url", "product_id")},
    "channels": "notify_email",  # the one channel a server may lack
}
_NOT_WATCHED = "must be one of your watched products, or “All watched products”"


async def _rule_product(uow: UnitOfWork, user: User, typed: str, rule_id: int | None) -> int | None:
    """The product the rule form chose: None for all watched products, else one of the user's
    watched products or the edited rule's own; any other (unknown, not watched, miswritten) is
    an InvalidValue naming ``product_id``."""
    if not typed:
        return None
    chosen = plain_id(typed)
    allowed = {e.product_id for e in await watchlists.list_watchlist(uow, user_id=user.id)}
    if rule_id is not None:
        allowed |= {
            r.product_id
            for r in await alerts.list_rules(uow, user_id=user.id)
            if r.id == rule_id and r.product_id
        }
    if chosen is None or chosen not in allowed:
        raise InvalidValue("product_id", _NOT_WATCHED)
    return chosen


def _rule_values(rule: AlertRule) -> dict[str, Any]:
    """The rule's definition as the rule form's fields."""
    return {
        "kind": rule.kind.value,
        "threshold": "" if rule.threshold is None else str(rule.threshold),
        "window_hours": "" if rule.window_hours is None else str(rule.window_hours),
        "webhook_url": rule.webhook_url or "",
        "product_id": "" if rule.product_id is None else str(rule.product_id),
        **{f"notify_{c.value}": True for c in rule.channels},
    }


async def _data_page(
    request: Request[Any, Any, Any],
    uow: UnitOfWork,
    user: User,
    *,
    report: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    """The Data page: with a form's ``report``, or else the report of the form that redirected here.
    ``?product=N`` (a product page's link) fills the ad form's Product field with product N."""
    async with uow:
        newest = (await uow.products.all_ids())[-PRODUCT_SUGGESTIONS:][::-1]
        found = await uow.products.get_many(newest)  # in the store's order: put back newest first
        suggested = [found[i] for i in newest if i in found]
    values = dict(values or {})
    if not values and (chosen := await _named_product(uow, request.query_params.get("product", ""))):
        values = {"action": "ad", "product": catalog.product_reference(chosen)}
    template = page(
        request,
        "data.html",
        user,
        suggestions=[catalog.product_reference(p) for p in suggested],
        platforms=[p.value for p in Platform],
        report=report,
        values=values,
    )
    if report is None:
        template.context["report"] = await _data_flash(request, template, uow)
    return template


class DashboardController(Controller):
    include_in_schema = False

    @get("/")
    async def trending_page(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        cache: NamedDependency[ReadCache],
        status: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        platform: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        page_asked: Annotated[str | None, QueryParameter(name="page")] = None,
        size_asked: Annotated[str | None, QueryParameter(name="size")] = None,
        sort: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        rank: FromQuery[str | None] = None,
    ) -> Template:
        """The products ranked by trend score, or in another of TRENDING_SORTS (``?sort=``),
        TRENDING_PAGE a page or one of TRENDING_SIZES (``?page=N&size=S``), filtered by name,
        status, platform, region and category, with how many the filters keep; the links to
        other pages keep the filters, the order and the size. The store orders and counts."""
        user = current_user(request)
        problems: list[str] = []
        kept = await trending_filters(
            uow,
            clock,
            problems,
            status=status,
            q=q,
            platform=platform,
            region=region,
            sort=sort,
            category=category,
            rank=rank,
        )
        order, query, among, chosen_category = kept.order, kept.query, kept.among, kept.category
        chosen = kept.status.value if kept.status else None
        number = _page_number(page_asked, problems)
        typed_size = (size_asked or "").strip()
        size = next((s for s in TRENDING_SIZES if str(s) == typed_size), TRENDING_PAGE)
        if typed_size and str(size) != typed_size:
            # a page number counted in another size would show other products: start again
            number = 1
            problems.append(
                f"Page size “{typed_size[:20]}” is not one of {', '.join(map(str, TRENDING_SIZES[:-1]))} "
                f"or {TRENDING_SIZES[-1]}; showing the first page, {TRENDING_PAGE} a page."
            )
        skip = (number - 1) * size
        listing = await kept.listing(uow, clock, cache, skip=skip, limit=size)
        items, total = listing.items, listing.total
        last_page = max(1, -(-total // size))
        filters = kept.in_links()

        def page_url(to: int, in_size: int = size) -> str:
            params: dict[str, str | int] = {name: value for name, value in filters.items() if value}
            if in_size != TRENDING_PAGE:
                params["size"] = in_size
            if to > 1:
                params["page"] = to
            return f"/?{urlencode(params)}" if params else "/"

        unscored: list[Product] = []
        if query is not None and chosen is None and number == 1 and not kept.regional:
            # a search also names the products it matches that have no score yet (newly created);
            # a region's own ranking scores every product active there, so it has none to name
            scored = {item.product.id for item in items}
            unscored = [
                p
                for p in await catalog.list_products(uow, skip=0, limit=50, query=query)
                if p.id not in scored
                and (among is None or p.id in among)
                and (chosen_category is None or p.category == chosen_category)
            ]
            async with uow:
                levels = await uow.scores.latest_levels(p.id for p in unscored)
            unscored = [p for p in unscored if p.id not in levels][:20]
        rows = []
        for item in items:
            history = await trends.score_history(uow, item.product.id)
            rows.append(
                {
                    "product": item.product,
                    "score": item.score,
                    "spark": polyline([s.score for s in history[-14:]], 100, 24, high=100.0),
                    "growth": [
                        text
                        for _, _, text in growth_cells(
                            item.score.assessment.growth, item.score.assessment.components, _LIST_WINDOWS
                        )
                    ],
                }
            )
        return page(
            request,
            "trending.html",
            user,
            rows=rows,
            labels=namesake_labels((p.id, p.name) for p in [*(item.product for item in items), *unscored]),
            first_rank=skip + 1,
            total=total,
            page_size=size,
            # each size from the first page, with the filters
            sizes=[(s, page_url(1, s)) for s in TRENDING_SIZES],
            kept_size=size if size != TRENDING_PAGE else None,  # by the filter form
            previous_page=page_url(number - 1) if number > 1 and rows else None,
            next_page=page_url(number + 1) if number < last_page else None,
            # A page past the end of the list (a link kept after the list shortened).
            beyond=page_url(last_page) if number > last_page and total else None,
            page_number=number,
            last_page=last_page,
            unscored=unscored,
            windows=[(growth_label(w), growth_title(w)) for w in _LIST_WINDOWS],
            status=chosen,
            q=query or "",
            statuses=[s.value for s in TrendStatus],
            platforms=[p.value for p in Platform],
            platform=kept.platform.value if kept.platform else None,
            region=kept.region or kept.typed_region,
            region_area=kept.region,
            ranks=list(RANKS.items()),
            rank=RANK_REGIONAL if kept.regional else None,
            score_label=f"Score in {kept.region}" if kept.regional else "Score",
            activity_days=trends.ACTIVITY_WINDOW.days,
            problems=problems,
            continents=CONTINENTS,
            sorts=[(o.value, label) for o, label in TRENDING_SORTS.items()],
            sort=order.value,
            order_said=_ORDER_CAPTIONS[order],
            categories=kept.categories,
            category=chosen_category,
            download=_list_url("/ui/export/trending-list", filters, 1),
            download_rows=LIST_EXPORT_ROWS,
        )

    @get("/ui/products/{product_id:int}")
    async def product_page(
        self,
        request: Request[Any, Any, Any],
        product_id: PathId,
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
    ) -> Template:
        user = current_user(request)
        product, score = await trends.product_with_score(uow, product_id)
        history = await trends.score_history(uow, product_id)
        ads = await catalog.list_ads(uow, skip=0, limit=100, product_id=product_id)
        now = clock.now()
        # The readings the engine scores from (what `readings prune` always keeps): the chart's
        # 21 days, and each ad's last views within them.
        async with uow:
            snapshots = (
                await uow.engagement.for_products([product_id], until=now, since=now - trends.SCORING_HISTORY)
            )[product_id]
        daily: dict[int, float] = defaultdict(float)
        last_by_key: dict[tuple[int, str], int] = {}
        ad_views: dict[int, int] = defaultdict(int)
        for snap in snapshots:
            key = (snap.ad_id, snap.region)
            previous = last_by_key.get(key)
            if previous is not None and snap.views > previous:
                day = (now - snap.observed_at).days
                if day < 21:
                    daily[day] += snap.views - previous
            last_by_key[key] = max(previous or 0, snap.views)
        for (ad_id, _region), views in last_by_key.items():
            ad_views[ad_id] += views
        series = [daily.get(day, 0.0) for day in range(20, -1, -1)]
        heat_since = window_back(now, trends.HEAT_MAP_WINDOW)
        regions = await trends.regional_heat_map(
            uow, clock, product_ids=[product_id], since=heat_since, until=now
        )
        watched = False
        if user is not None:
            watched = any(
                e.product_id == product_id for e in await watchlists.list_watchlist(uow, user_id=user.id)
            )
        return page(
            request,
            "product.html",
            user,
            product=product,
            score=score,
            history=history,
            components=component_rows(score.assessment.components, score.assessment.reasons) if score else [],
            growth=growth_cells(score.assessment.growth, score.assessment.components) if score else [],
            views_chart=line_chart(
                series,
                what="Views gained per day",
                first=f"{(now - timedelta(days=20)):%b %d}",
                last=f"{now:%b %d}",
            ),
            views_max=max(series, default=0),
            views_days=series,
            # Readings in the chart's 21 days that gained nothing: said as such, not as no data.
            read_in_chart=any((now - snap.observed_at).days < 21 for snap in snapshots),
            # The score's forecast: views expected on each day after it was computed.
            forecast=[
                (f"{score.calculated_at + timedelta(days=k):%b %d}", f"{value:,.0f}")
                for k, value in enumerate(score.assessment.forecast, start=1)
            ]
            if score and any(score.assessment.forecast)
            else [],
            # Gains rising now (exploding, or emerging and accelerating): the forecast, which
            # falls from the last day's gain, says that it does not extend the rise.
            rising=score is not None
            and score.status in (TrendStatus.EXPLODING, TrendStatus.EMERGING)
            and score.assessment.components.get("acceleration", 0.0) > ACCELERATING,
            score_chart=line_chart(
                [s.score for s in history],
                what="Trend score (0 to 100)",
                first=f"{history[0].calculated_at:%b %d}" if history else "",
                last=f"{history[-1].calculated_at:%b %d}" if history else "",
                height=140,
                high=100.0,
            ),
            ads=ads,
            ad_views=ad_views,
            ad_views_days=trends.SCORING_HISTORY.days,
            regions=regions[0].regions if regions else {},
            # Read in the map's window without a gain is said as such, not as no reading.
            region_reads=_regional_reads(snapshots, heat_since, now),
            region_days=trends.HEAT_MAP_WINDOW.days,
            watched=watched,
        )

    @get("/ui/heat-map")
    async def heat_map_page(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        product_id: FromQuery[int | None] = None,
        q: FromQuery[str | None] = None,
        days: FromQuery[str | None] = None,
    ) -> Template:
        """The map of one product: ``product_id``, else the first product whose name contains
        ``q`` (the first matches are listed, the others under "more", to choose from), else the
        top trending product; over the last ``days`` (one of :data:`HEAT_MAP_DAYS`; anything
        else is said, and the default 30 days shown)."""
        user = current_user(request)
        choices = [item.product for item in await trends.trending(uow, limit=20)]
        problems: list[str] = []
        window = trends.HEAT_MAP_WINDOW.days
        if days is not None:
            if days in {str(d) for d in HEAT_MAP_DAYS}:
                window = int(days)
            else:
                offered = ", ".join(str(d) for d in HEAT_MAP_DAYS)
                problems.append(
                    f"Days “{days[:20]}” is not one of {offered}; showing the last {window} days."
                )
        until = clock.now()
        since = window_back(until, timedelta(days=window))
        query = _search(q, problems, "showing the top trending product")
        matches = (
            await catalog.list_products(uow, skip=0, limit=HEAT_MAP_MATCHES + 1, query=query) if query else []
        )
        asked = None
        if product_id is not None:
            # The map of another product under this one's address would mislead: a 404 page.
            if not 0 < product_id < 2**63:
                raise NotFound("Product", product_id)
            asked = await catalog.get_product(uow, product_id)
        elif query is not None:
            asked = matches[0] if matches else None  # a search that matches nothing shows no map
        if asked is not None and all(p.id != asked.id for p in choices):
            choices.insert(0, asked)  # the product shown is always the one selected
        chosen = asked.id if asked is not None else (choices[0].id if choices and query is None else None)
        rows = (
            await trends.regional_heat_map(uow, clock, product_ids=[chosen], since=since, until=until)
            if chosen
            else []
        )
        countries = (
            await trends.regional_heat_map(
                uow, clock, product_ids=[chosen], since=since, until=until, level="country"
            )
            if chosen
            else []
        )
        values = rows[0].regions if rows else {}
        by_country = countries[0].regions if countries else {}
        # Products that share a name are told apart by their id, as the API's heat_map keys them.
        labels = namesake_labels((p.id, p.name) for p in [*choices, *matches[:HEAT_MAP_MATCHES]])
        return page(
            request,
            "heatmap.html",
            user,
            problems=problems,
            choices=choices,
            chosen=chosen,
            q=query or "",
            matches=matches[:HEAT_MAP_MATCHES],
            labels=labels,
            shown=HEAT_MAP_SHOWN,
            more_matches=len(matches) > HEAT_MAP_MATCHES,
            shapes=continent_map(values),
            values=values,
            countries=sorted(by_country.items(), key=lambda kv: -kv[1]),
            marks=country_marks(by_country),
            legend=[(step, colour(step)) for step in LEGEND_STEPS],
            product=rows[0].product if rows else None,
            # Gained anywhere: a product seen only where no continent is (AQ) is still mapped.
            gained=any(values.values()) or any(by_country.values()),
            days=window,
            day_choices=HEAT_MAP_DAYS,
            default_days=trends.HEAT_MAP_WINDOW.days,
            since=since,
            until=until,
            no_continent=NO_CONTINENT,
        )

    @get("/ui/viral")
    async def viral_page(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        platform: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        page_asked: Annotated[str | None, QueryParameter(name="page")] = None,
    ) -> Template:
        """The viral-ad scan, of one platform (``?platform=``) or of all, of the ads that gained
        views in one area (``?region=``: a country code, GLOBAL or a continent) or anywhere,
        VIRAL_PAGE ads a page (``?page=N``); each ad with its link, when it was first seen and its
        latest likes, comments and shares. A filter it does not know is said, and not applied."""
        user = current_user(request)
        problems: list[str] = []
        chosen, typed_region, area = viral_filters(problems, platform=platform, region=region)
        number = _page_number(page_asked, problems)
        skip = (number - 1) * VIRAL_PAGE
        found = await trends.scan_page(uow, clock, skip=skip, limit=VIRAL_PAGE, platform=chosen, region=area)
        last_page = max(1, -(-found.total // VIRAL_PAGE))
        filters = {"platform": chosen.value if chosen else None, "region": area}
        now = clock.now()
        return page(
            request,
            "viral.html",
            user,
            ads=found.ads,
            labels=namesake_labels((v.ad.product_id, v.product_name) for v in found.ads),
            interactions=found.interactions,
            user_products=found.user_products,
            # As the scan ages them: from the platform's first-seen date, else the first reading.
            ages={v.ad.id: _age(now - v.first_seen) for v in found.ads},
            first_rank=skip + 1,
            total=found.total,
            page_number=number,
            last_page=last_page,
            previous_page=_list_url("/ui/viral", filters, number - 1) if number > 1 and found.ads else None,
            next_page=_list_url("/ui/viral", filters, number + 1) if number < last_page else None,
            beyond=_list_url("/ui/viral", filters, last_page) if number > last_page and found.total else None,
            platform=chosen.value if chosen else None,
            platforms=list(PLATFORM_CHOICES),
            region=area or typed_region,
            region_area=area,  # the region applied: none for one it cannot read
            continents=CONTINENTS,
            problems=problems,
            download=_list_url("/ui/export/viral-ads", filters, 1),
            download_rows=LIST_EXPORT_ROWS,
        )

    @get("/ui/watchlist")
    async def watchlist_page(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
    ) -> Template | Redirect:
        user = current_user(request)
        if user is None:
            return to_login(request)
        # ?edit=N: the rule form holds rule N's definition, to change it (ignored unless an id).
        edit = plain_id(request.query_params.get("edit", ""))
        # ?delete=N: rule N's Delete asks to be confirmed (a form that deletes it, and Keep it).
        confirm = plain_id(request.query_params.get("delete", ""))
        # ?alerts_page=N: the page of the alerts list (1 unless a page number).
        alerts_page = _alerts_page(request.query_params.get("alerts_page", ""))
        return await _watchlist_page(
            request, uow, user, editing=edit, confirming=confirm, alerts_page=alerts_page
        )

    @get("/ui/data")
    async def data_page(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
    ) -> Template | Redirect:
        user = current_user(request)
        if user is None:
            return to_login(request)
        return await _data_page(request, uow, user)

    @get("/ui/account")
    async def account_page(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        user = current_user(request)
        if user is None:
            return to_login(request)
        return _account_page(request, user)

    @post("/ui/account/password", status_code=200)
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        hasher: NamedDependency[PasswordHasher],
        tokens: NamedDependency[TokenIssuer],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        """As POST /me/password; the page says what was wrong in words. Every session of the
        account ends with the change, this one too; this browser is signed in again at once with
        the new password (a new session, issued after the change)."""
        form = await check_csrf(request)
        user = current_user(request)
        if user is None:
            return to_login(request)
        new = _text(form, "new_password")[:1024]
        try:
            await accounts.change_password(
                uow, hasher, clock, user.id, current=_text(form, "current_password")[:1024], new=new
            )
        except InvalidValue as error:
            return _account_page(request, user, error=in_form_words(error.field, error.rule))
        pair = await accounts.log_in(uow, hasher, tokens, clock, username=user.username, password=new)
        return with_session(flash_redirect(request, "/ui/account", "password"), request, pair, tokens)

    @get("/ui/login")
    async def login_page(
        self,
        request: Request[Any, Any, Any],
        message: FromQuery[str | None] = None,
        next: FromQuery[str | None] = None,
    ) -> Template:
        texts = {"expired": "Your session has expired; please log in again.", "login": "Please log in first."}
        # Signed in, the page says so (and the form signs in as another account).
        return page(
            request,
            "login.html",
            current_user(request),
            message=texts.get(message or "", ""),
            next=_safe_next(next),
            error="",
            username="",
        )

    @post("/ui/login", status_code=200)
    async def login(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        hasher: NamedDependency[PasswordHasher],
        tokens: NamedDependency[TokenIssuer],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        form = await check_csrf(request)
        try:
            pair = await accounts.log_in(
                uow,
                hasher,
                tokens,
                clock,
                username=_text(form, "username")[:254],
                password=_text(form, "password")[:1024],
            )
        except (AuthenticationFailed, InvalidValue) as error:
            # A name with a control character is refused as the API's form refuses it (422).
            refused = error if isinstance(error, InvalidValue) else None
            template = page(
                request,
                "login.html",
                current_user(request),
                message="",
                next=_safe_next(_text(form, "next")),
                error=in_form_words(refused.field, refused.rule) if refused else error.message,
                username="" if refused else _text(form, "username")[:254],
            )
            template.status_code = 422 if refused else 401
            return template
        response: Response[Any] = Redirect(path=_safe_next(_text(form, "next")), status_code=303)
        return with_session(response, request, pair, tokens)

    @get("/ui/signup")
    async def signup_page(self, request: Request[Any, Any, Any]) -> Template:
        status = 200 if _signup_open(request) else 403
        return page(request, "signup.html", current_user(request), status_code=status, errors={}, values={})

    @post("/ui/signup", status_code=200)
    async def signup(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        hasher: NamedDependency[PasswordHasher],
        tokens: NamedDependency[TokenIssuer],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        form = await check_csrf(request)
        if not _signup_open(request):
            return page(request, "signup.html", current_user(request), status_code=403, errors={}, values={})
        username, email, password = (
            _text(form, "username")[:60],
            _text(form, "email")[:300],
            _text(form, "password")[:200],
        )
        # every field's problem at once, not only the first one the use case meets
        problems = {
            error.field: in_form_words(error.field, error.rule)
            for error in accounts.sign_up_problems(username, email, password)
        }
        status = 422
        if not problems:
            try:
                await accounts.sign_up(uow, hasher, clock, username=username, email=email, password=password)
                pair = await accounts.log_in(uow, hasher, tokens, clock, username=username, password=password)
            except InvalidValue as error:
                problems[error.field] = in_form_words(error.field, error.rule)
            except Conflict as error:
                problems[error.field or "form"] = (
                    in_form_words(
                        error.field, "is already registered: choose another, or log in if it is yours"
                    )
                    if error.field
                    else error.message
                )
                status = 400
        if problems:
            template = page(
                request,
                "signup.html",
                current_user(request),
                errors=problems,
                values={"username": username, "email": email},
            )
            template.status_code = status
            return template
        response: Response[Any] = Redirect(path="/", status_code=303)
        return with_session(response, request, pair, tokens)

    @post("/ui/logout", status_code=303)
    async def logout(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        tokens: NamedDependency[TokenIssuer],
        clock: NamedDependency[Clock],
    ) -> Redirect:
        """Ends the session on the server too: its access token and its whole login (the refresh
        cookie's family, with every access token issued for it, a renewal's of this very request
        too) are refused from now on, wherever a copy of them is (another tab, the API), not only
        forgotten by this browser."""
        await check_csrf(request)
        session, refresh = request.cookies.get(SESSION_COOKIE), request.cookies.get(REFRESH_COOKIE)
        if session or refresh:
            await accounts.log_out(uow, tokens, clock, session, refresh_token=refresh)
        response = Redirect(path="/ui/login", status_code=303)
        end_session(response, request)
        return response

    @post("/ui/watchlist/{product_id:int}", status_code=303)
    async def toggle_watch(
        self,
        request: Request[Any, Any, Any],
        product_id: PathId,
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
    ) -> Redirect:
        form = await check_csrf(request)
        user = current_user(request)
        if user is None:
            return to_login(request)
        if _text(form, "action") == "remove":
            with contextlib.suppress(NotFound):  # already gone: the page shows the truth
                await watchlists.unwatch(uow, user_id=user.id, product_id=product_id)
            if _text(form, "back") == "watchlist":
                return flash_redirect(request, "/ui/watchlist", f"unwatched:{product_id}")
        else:
            await watchlists.watch(uow, clock, user_id=user.id, product_id=product_id)
        return Redirect(path=f"/ui/products/{product_id}", status_code=303)

    @post("/ui/alerts", status_code=303)
    async def alert_actions(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
    ) -> Template | Redirect:
        form = await check_csrf(request)
        user = current_user(request)
        if user is None:
            return to_login(request)
        action = _text(form, "action")
        # Back to the page of the alerts the form was on.
        back = watchlist_url(alerts_page=_alerts_page(_text(form, "alerts_page")))
        try:
            if action == "read-all":
                await alerts.mark_alerts_read(uow, clock, user_id=user.id, alert_ids=None)
            elif action == "read":
                # An id written otherwise, or another user's, marks nothing: the page shows the truth.
                if (alert_id := plain_id(_text(form, "alert_id"))) is not None:
                    await alerts.mark_alerts_read(uow, clock, user_id=user.id, alert_ids=[alert_id])
            elif action == "check":
                await alerts.check_alerts(uow, clock, user_id=user.id)
            elif action == "delete-rule":
                # An id written otherwise names no rule: 0, which no store gives, is not found.
                rule_id = plain_id(_text(form, "rule_id")) or 0
                names = await _rule_names(uow, user)
                gone = next(
                    (r for r in await alerts.list_rules(uow, user_id=user.id) if r.id == rule_id), None
                )
                await alerts.delete_rule(uow, user_id=user.id, rule_id=rule_id)
                if gone is not None:
                    # Said as the list said it, without where its alerts went (the note is a
                    # cookie, a URL may be long).
                    summary = rule_summary(gone, names, delivery=False)
                    return flash_redirect(request, back, f"deleted:{summary}")
            elif action == "add-rule":
                return await self._save_rule(request, uow, clock, user, form)
            elif action == "replace-rule":
                rule_id = plain_id(_text(form, "rule_id")) or 0
                return await self._save_rule(request, uow, clock, user, form, rule_id=rule_id)
        except Unavailable:
            raise  # a store busy or down is said as on every page, never taken for done
        except DomainError:
            return Redirect(path=back, status_code=303)
        return Redirect(path=back, status_code=303)

    @staticmethod
    async def _save_rule(
        request: Request[Any, Any, Any],
        uow: UnitOfWork,
        clock: Clock,
        user: User,
        form: dict[str, Any],
        *,
        rule_id: int | None = None,
    ) -> Template | Redirect:
        """Creates the rule (or, with ``rule_id``, changes that one) and redirects to the page,
        which shows a new webhook secret once; or shows the form again with what is wrong, the
        field it names marked, and the values typed, answered as the API answers (422 for a
        value, 409 for a rule the same as another, 404 for a rule gone meanwhile).

        Unlike the API, the form's threshold and window are ignored, not refused, when the chosen
        kind does not read them: the form shows every field, and a kind changed in an edit should
        not ask the user to clear the others first."""
        threshold = _text(form, "threshold").strip()
        window = _text(form, "window_hours").strip()
        url = _text(form, "webhook_url").strip()
        typed_product = _text(form, "product_id").strip()
        channels = [c for c in Channel if _text(form, f"notify_{c.value}") == "on"]
        alerts_page = _alerts_page(_text(form, "alerts_page"))
        settings = request.app.state.container.settings()
        try:
            kind = _parsed("kind", _text(form, "kind"), AlertRuleKind, "must be one of the listed kinds")
            used = KIND_PARAMETERS[kind]
            definition = alerts.RuleDefinition(
                kind=kind,
                product_id=await _rule_product(uow, user, typed_product, rule_id),
                threshold=_parsed("threshold", threshold, float, "must be a number")
                if threshold and "threshold" in used
                else None,
                window_hours=_parsed("window_hours", window, int, "must be a whole number")
                if window and "window_hours" in used
                else None,
                channels=tuple(channels),
                webhook_url=url or None,
            )
            available, private = available_channels(settings), settings.webhook_allow_private
            if rule_id is None:
                rule = await alerts.create_rule(
                    uow,
                    clock,
                    user_id=user.id,
                    definition=definition,
                    available_channels=available,
                    allow_private_webhooks=private,
                )
                note = f"rule:{rule.id}"
            else:
                rule, new_secret = await alerts.replace_rule(
                    uow,
                    clock,
                    user_id=user.id,
                    rule_id=rule_id,
                    definition=definition,
                    available_channels=available,
                    allow_private_webhooks=private,
                )
                note = f"saved:{rule.id}" + (":secret" if new_secret else "")
        except Unavailable:
            raise  # a store busy or down is said as on every page, never taken for a refusal
        except DomainError as error:
            same = error.rule if isinstance(error, alerts.IdenticalRule) else None
            if same is not None:
                message = same_rule_problem(same, await _rule_names(uow, user), editing=rule_id is not None)
            else:
                message = rule_problem(error)
            typed = {
                "kind": _text(form, "kind"),
                "threshold": threshold,
                "window_hours": window,
                "webhook_url": url,
                "product_id": typed_product,
                **{f"notify_{c.value}": True for c in channels},
            }
            return await _watchlist_page(
                request,
                uow,
                user,
                error=message,
                error_field=_refused_field(error, _RULE_FORM_FIELDS),
                status_code=409
                if isinstance(error, Conflict)
                else 404
                if isinstance(error, NotFound)
                else 422,
                values=typed,
                editing=rule_id,
                same_rule=same.id if same is not None else None,
                alerts_page=alerts_page,
            )
        return flash_redirect(request, watchlist_url(alerts_page=alerts_page, fragment="rules"), note)

    @post("/ui/data", status_code=200)
    async def data_actions(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
    ) -> Template | Redirect:
        """The product and ad forms (posted to /ui/data, without a fragment: browsers skip
        autofocus on an address with one). A product or ad made redirects to the form's section
        (/ui/data#product, #ad), where its note shows; a refusal is answered in the form, with
        what was typed, the field it names marked and focused."""
        form = await check_csrf(request)
        user = current_user(request)
        if user is None:
            return to_login(request)
        action = _text(form, "action")
        report: dict[str, Any] = {}
        try:
            if action == "product":
                name = _text(form, "name")[:300]
                # The API makes namesakes as asked; the form first shows the products so named.
                confirmed = folded(_text(form, "create_anyway").strip()) == folded(name.strip())
                if not confirmed and (same := await catalog.namesakes(uow, name)):
                    report = {
                        "form": "product",
                        "namesakes": [(p.id, catalog.product_reference(p)) for p in same],
                    }
                    return await _data_page(request, uow, user, report=report, values=_typed(form))
                made = await catalog.create_product(
                    uow,
                    clock,
                    catalog.NewProduct(name=name, description=_text(form, "description")[:1100]),
                    created_by=user.id,
                )
                return flash_redirect(request, "/ui/data#product", f"product:{made.id}")
            if action == "ad":
                product = await catalog.find_product(uow, _text(form, "product")[:300])
                ad = await catalog.create_ad(
                    uow,
                    clock,
                    catalog.NewAd(
                        product_id=product.id,
                        platform=_ad_platform(_text(form, "platform")),
                        ad_content=_text(form, "ad_content")[:2100],
                        external_id=_text(form, "external_id")[:250] or None,
                        first_seen_at=_first_seen(_text(form, "first_seen_at")[:60], clock.now()),
                    ),
                )
                return flash_redirect(request, "/ui/data#ad", f"ad:{ad.id}:{ad.platform}:{product.id}")
            # Uploads have their own door (POST /ui/data/upload), limited as the API's ingest.
            raise InvalidValue(
                "action", "this form makes products and ads; upload files with the upload form"
            )
        except (DomainError, ValueError) as error:
            if isinstance(error, InvalidValue) and error.field in FIELD_LABELS:
                said = in_form_words(error.field, error.rule)
            else:
                said = error.message if isinstance(error, DomainError) else "Check the values and try again."
            report = {"error": said, "form": action, "field": _refused_field(error, _DATA_FORM_FIELDS)}
        # a refused form comes back with what was typed
        return await _data_page(request, uow, user, report=report, values=_typed(form))

    @post("/ui/data/upload", status_code=200)
    async def upload_readings(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
    ) -> Template | Redirect:
        """The Data page's upload: a CSV or NDJSON file of readings, ingested as POST /engagement
        ingests (and rate-limited as it is). Once stored, a redirect to the Data page, which says
        what was stored and the first rejected rows; a file refused whole is said in place (422),
        one over the body limit too (413)."""
        try:
            form = await check_csrf(request)
        except HTTPException as error:
            # Litestar stops reading at MARKETSCOUT_MAX_BODY_BYTES (413), before the CSRF token is
            # read: nothing is done, the signed-in user is shown their own Data page with the limit.
            if error.status_code != 413:
                raise
            if (user := current_user(request)) is None:
                return to_login(request)
            limit = request.app.state.container.settings().max_body_bytes
            said = f"file: the file is too large: an upload may be at most {_megabytes(limit)} MB"
            template = await _data_page(request, uow, user, report={"error": said}, values={})
            template.status_code = 413
            return template
        user = current_user(request)
        if user is None:
            return to_login(request)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidValue("file", "choose a CSV or NDJSON file")
            raw = await upload.read()
            try:
                items, lines = parse_upload(upload.filename or "", raw)
            except HTTPException as error:  # the JSON parser's 400/413, shown on this page
                raise InvalidValue("file", _upload_problem(error)) from None
            if not items:
                raise InvalidValue("file", "the file has no rows")
            result = await ingest_and_refresh(uow, clock, items, sender=user.id)
        except (DomainError, ValueError) as error:
            said = error.message if isinstance(error, DomainError) else "Check the file and try again."
            # the file was refused whole, as the API's forms answer: the page again, with why
            template = await _data_page(request, uow, user, report={"error": said}, values={})
            template.status_code = 422
            return template
        # Stored: POST-redirect-GET, so that a reload or Back never sends the file again. The note
        # (a cookie) holds the counts and the first UPLOAD_NOTE_ROWS rejected rows.
        rejected = [
            [
                lines[r.index] if lines is not None else r.index + 1,
                _cut(seller_words(r.field, r.reason), _NOTE_PROBLEM),
            ]
            for r in result.rejected
        ]
        note = {
            "received": result.received,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "rejected": len(rejected),
            "where": "Line" if lines is not None else "Item",
            "first": rejected[:UPLOAD_NOTE_ROWS],
        }
        return flash_redirect(request, "/ui/data", "upload:" + json.dumps(note, ensure_ascii=False))

    @get("/ui/export/trending-list")
    async def export_trending_list(
        self,
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        cache: NamedDependency[ReadCache],
        status: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        platform: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
        sort: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        rank: FromQuery[str | None] = None,
    ) -> Response[str]:
        """The Trending list with the page's filters and order, every page (its first
        LIST_EXPORT_ROWS products), as CSV; a filter it cannot read is a 422 naming it."""
        kept = await trending_filters(
            uow,
            clock,
            None,
            status=status,
            q=q,
            platform=platform,
            region=region,
            sort=sort,
            category=category,
            rank=rank,
        )
        listing = await kept.listing(uow, clock, cache, skip=0, limit=LIST_EXPORT_ROWS)
        return csv_download(
            export.trending_list_csv(listing.items, scored_in=kept.scored_in), "trending_list.csv"
        )

    @get("/ui/export/viral-ads")
    async def export_viral_ads(
        self,
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        platform: FromQuery[str | None] = None,
        region: FromQuery[str | None] = None,
    ) -> Response[str]:
        """The Viral ads list of the page's platform and region, every page (its first
        LIST_EXPORT_ROWS ads), as CSV; a filter it cannot read is a 422 naming it."""
        chosen, _, area = viral_filters(None, platform=platform, region=region)
        found = await trends.scan_page(
            uow, clock, skip=0, limit=LIST_EXPORT_ROWS, platform=chosen, region=area
        )
        return csv_download(export.viral_ads_csv(found), "viral_ads.csv")

    @get("/ui/export/{data_type:str}")
    async def export_file(
        self,
        request: Request[Any, Any, Any],
        data_type: Annotated[str, PathParameter(max_length=20)],
        uow: NamedDependency[UnitOfWork],
    ) -> Response[str] | Redirect:
        user = current_user(request)
        if user is None:
            return to_login(request)
        try:
            body = await export.export_csv(uow, user_id=user.id, data_type=data_type)
        except InvalidValue:
            raise HTTPException(status_code=404, detail="No such export") from None
        return csv_download(body, f"{data_type}_export.csv")


async def _named_product(uow: UnitOfWork, written: str) -> Product | None:
    """The product ``written`` names (in a link's query, a one-shot note), if it is written as an
    id is and that product exists."""
    product_id = plain_id(written)
    if product_id is not None:
        with contextlib.suppress(NotFound):
            return await catalog.get_product(uow, product_id)
    return None


async def _data_flash(
    request: Request[Any, Any, Any], template: Template, uow: UnitOfWork
) -> dict[str, Any] | None:
    """The report of the Data page's last successful form (product or ad created, file stored)."""
    if stored := take_flash(request, template, "upload"):
        return _upload_report(json.loads(":".join(stored)))
    if made := take_flash(request, template, "product"):
        if product := await _named_product(uow, made[0]):
            return {
                "message": f"Created product “{product.name}” (#{product.id}).",
                "link": (f"/ui/products/{product.id}", "Open its page"),
                "form": "product",
            }
    elif (
        (made := take_flash(request, template, "ad"))
        and len(made) == 3
        and plain_id(made[0]) is not None
        and (product := await _named_product(uow, made[2]))
    ):
        return {
            "message": f"Created {made[1]} ad #{made[0]} for “{product.name}”.",
            "link": (f"/ui/products/{product.id}", "Open its page"),
            "form": "ad",
        }
    return None


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _upload_report(note: dict[str, Any]) -> dict[str, Any]:
    """An upload's note (sealed by us: well-formed) as the Data page reports it."""
    received, rejected = note["received"], note["rejected"]
    return {
        "message": f"{received} {'row' if received == 1 else 'rows'}: {note['stored']} stored, "
        f"{note['duplicates']} duplicates, {rejected} rejected.",
        "where": note["where"],
        "rejected": [tuple(row) for row in note["first"]],
        "more_rejected": rejected - len(note["first"]),
    }


def _account_page(request: Request[Any, Any, Any], user: User, *, error: str = "") -> Template:
    template = page(request, "account.html", user, error=error, message="")
    if not error and take_flash(request, template, "password"):
        template.context["message"] = "Password changed. Every other place you were logged in is logged out."
    return template


def _safe_next(value: str | None) -> str:
    """Only local paths that answer GET: never an open redirect, never a form's POST-only path
    (that one becomes the page the form is on)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return form_page(urlsplit(value).path) or value[:500]


def _megabytes(size: int) -> str:
    """A byte count in MB (2^20 bytes) as a person writes it: ``16``, ``1.5``, ``0.095``."""
    megabytes = size / 2**20
    return f"{megabytes:,.0f}" if megabytes >= 10 else f"{megabytes:.2g}"


def _upload_problem(error: HTTPException) -> str:
    if error.status_code == 413:
        return str(error.detail)
    return "is not well-formed JSON (or NDJSON: one JSON object per line)"


_EXAMPLE_TIME = "2026-11-30T21:00:00Z"
_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
_PLATFORMS = {p.value.casefold(): p.value for p in Platform}
# A count's rule, whose top (2^63 - 1) means nothing to a seller.
_COUNT = re.compile(r"^must be a whole number from (?P<n>\d+) to 2\^63 - 1$")


def seller_words(field: str, rule: str) -> str:
    """A rejected row's problem as a sentence a seller reads: the common parser rules in words
    (``views must be a whole number from 0 to 9,223,372,036,854,775,807``: the bound written
    out, too big a count is said too), the use cases' own rules after the field."""
    if rule == "is required":
        return f"{field} is missing"
    if rule == "is not a known field":
        return f"{field} is not a column MarketScout reads (it reads {ENGAGEMENT_COLUMNS_SAID})"
    if found := _COUNT.match(rule):
        return f"{field} must be a whole number from {found.group('n')} to {MAX_COUNT:,}"
    if rule.startswith("must be a whole number"):
        return f"{field} {rule}"
    if rule == INSTANT_RULE:
        return f"{field} must be a date and time with a time zone, like {_EXAMPLE_TIME}"
    if field == "region" and rule.startswith(("must be at least", "must be at most")):
        return "region must be a country code such as US, or GLOBAL"
    if field == "platform" and rule.startswith("Invalid enum value"):
        return f"platform must be one of {', '.join(p.value for p in Platform)}"
    return f"{field}: {rule}"


def parse_upload(filename: str, raw: bytes) -> tuple[list[SnapshotInput | Rejection], list[int] | None]:
    """CSV (header row with the EngagementIn field names, in any case: a header that names another
    column, or one twice, refuses the file) or NDJSON, validated row by row; with each item's line
    in the file (None for a JSON array, whose items are counted instead)."""
    name = filename.lower()
    if name.endswith(".json"):
        return parse_items(raw, "application/json", MAX_UPLOAD_ROWS), None
    if name.endswith((".ndjson", ".jsonl")):
        lines = [number for number, line in enumerate(raw.splitlines(), start=1) if line.strip()]
        return parse_items(raw, NDJSON, MAX_UPLOAD_ROWS), lines
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidValue("file", "is UTF-16 text, not UTF-8: save it as CSV UTF-8")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise InvalidValue("file", f"is not a text CSV file (binary data on line {line})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InvalidValue("file", f"is not UTF-8 text (line {line}): save it as CSV UTF-8") from None
    # newline="": lines may end in \r\n, \n or a bare \r (Excel's "CSV (Macintosh)").
    reader = csv.DictReader(io.StringIO(text, newline=""))
    items: list[SnapshotInput | Rejection] = []
    lines = []
    rows = enumerate(reader)
    while True:
        try:
            index, row = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            raise InvalidValue("file", f"is not readable as CSV on line {reader.line_num}: {error}") from None
        if index == 0:
            header = list(reader.fieldnames or [])
            if len(header) == 1:
                for separator, called in _SEPARATORS.items():
                    if separator in header[0]:
                        raise InvalidValue(
                            "file", f"the file's columns are separated by {called}: use commas"
                        )
            if problem := header_problem(header, ENGAGEMENT_COLUMNS, ENGAGEMENT_COLUMNS_SAID):
                raise InvalidValue("file", problem)
        if index >= MAX_UPLOAD_ROWS:
            raise InvalidValue("file", f"at most {MAX_UPLOAD_ROWS} rows per upload")
        lines.append(reader.line_num)
        # DictReader puts the cells beyond the header's columns in a list under None, and gives
        # the columns a row has no cell for None (the header names each column once, as checked).
        columns = len(reader.fieldnames or [])
        extra = row.get(None)
        cells = columns + len(extra) if extra is not None else sum(v is not None for v in row.values())
        if problem := misfit(cells, columns):
            items.append(Rejection(index, "row", problem))
            continue
        document = {
            column(k): v.strip() for k, v in row.items() if k and column(k) and v is not None and v.strip()
        }
        if "platform" in document:  # typed by hand: "tiktok" is TikTok (the API matches exactly)
            document["platform"] = _PLATFORMS.get(document["platform"].casefold(), document["platform"])
        try:
            parsed = msgspec.convert(document, EngagementIn, strict=False)
        except msgspec.ValidationError as error:
            field, rule = describe(error, EngagementIn)
            items.append(Rejection(index, "row" if field == "body" else field, rule))
            continue
        items.append(to_snapshot_input(parsed))
    return items, lines
