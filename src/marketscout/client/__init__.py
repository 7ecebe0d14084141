"""A typed Python client for the MarketScout HTTP API, synchronous and asynchronous.

It logs in with the OAuth2 password flow, refreshes the access token once when the server says
it expired (or, with an access token kept from an earlier login, :meth:`use_access_token`, logs
in once again), waits and retries when rate limited (honouring ``Retry-After`` up to a cap), pages
through lists, and raises :class:`MarketScoutError` carrying the API's error shape.

    with MarketScoutClient("http://127.0.0.1:8000") as api:
        api.log_in("ana", "a long passphrase")
        for item in api.trending(limit=5, status="exploding", region="Europe"):
            print(item.product.name, item.current_score, item.status)

The calls (the same on :class:`AsyncMarketScoutClient`, awaited):

- accounts: ``sign_up``, ``log_in``, ``use_access_token``, ``change_password``, ``log_out`` (ends
  the login's tokens on the server);
- catalogue: ``products``, ``iter_products``, ``product``, ``create_product``, ``create_ad``;
- engagement: ``ingest``;
- intelligence: ``trending`` (with the API's filters), ``calculate_score``, ``score_history``,
  ``spread`` (where next), ``scan_ads``, ``heat_map`` (a window and a level);
- the user's own: ``watch``, ``unwatch``, ``watchlist``, ``export``, ``alert_rules``,
  ``create_alert_rule``, ``replace_alert_rule``, ``delete_alert_rule``, ``check_alerts``,
  ``alerts``, ``mark_alerts_read``, ``deliveries``.

Every failure to get an answer the API gives is a :class:`MarketScoutError`, never httpx's or
msgspec's own error (that is its ``__cause__``, where there is one):

- an error answer (4xx, 5xx): its status code, the API's message and per-field ``details``;
- a 429 the client does not wait for: its ``Retry-After`` asks for longer than
  ``max_retry_wait``, or for no wait a client can make (``inf``, ``1e400``, ``nan``), or the
  retries ran out;
- an answer that is not JSON, or not of the shape the API answers (a proxy's page, ``{}`` where
  a list was due): its status code (200, often), the message saying so;
- no answer at all (the server cannot be reached, the connection broke, a timeout): a
  :class:`MarketScoutConnectionError`, whose ``status_code`` is None.

Datetimes are sent as ISO 8601 with their offset; a naive one is refused with ``ValueError``.
``ingest`` takes a list of mappings (one per snapshot); anything else (one mapping, an item that
is not a mapping) is refused with ``TypeError`` naming it, before anything is sent.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx
import msgspec

__all__ = [
    "AccessToken",
    "Ad",
    "Alert",
    "AlertRule",
    "AsyncMarketScoutClient",
    "Delivery",
    "IngestReport",
    "MarketScoutClient",
    "MarketScoutConnectionError",
    "MarketScoutError",
    "Product",
    "Score",
    "Spread",
    "SpreadTarget",
    "TrendingProduct",
    "ViralAd",
    "WatchlistEntry",
]

T = TypeVar("T")
PAGE_SIZE = 100
HeatMapLevel = Literal["continent", "country"]


class MarketScoutError(Exception):
    """An error answer of the API, or an answer the client cannot use: its status code (None when
    no answer came: :class:`MarketScoutConnectionError`), message and per-field details."""

    def __init__(
        self, status_code: int | None, message: str, details: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.details = list(details)
        said = _details_said(self.details)
        where = "" if status_code is None else f"{status_code}: "
        super().__init__(f"{where}{message}" + (f" ({said})" if said else ""))


class MarketScoutConnectionError(MarketScoutError):
    """No answer came: the server could not be reached, the connection broke or timed out.
    ``status_code`` is None; the transport's error (httpx's) is the ``__cause__``."""

    def __init__(self, base_url: object, failure: Exception) -> None:
        super().__init__(None, f"no answer from {base_url}: {type(failure).__name__} ({failure})")


SAID_DETAILS = 5  # an all-or-nothing ingest may refuse thousands of items: name the first few


def _details_said(details: Sequence[Mapping[str, Any]]) -> str:
    """``field: rule; …`` (``item N field: rule`` when the detail names an item of a list)."""
    parts = []
    for detail in details[:SAID_DETAILS]:
        index = detail.get("index")
        where = f"item {index} " if index is not None else ""
        field = detail.get("field")
        parts.append(f"{where}{field}: {detail.get('rule')}" if field else f"{where}{detail.get('rule')}")
    if len(details) > SAID_DETAILS:
        parts.append(f"{len(details) - SAID_DETAILS} more")
    return "; ".join(parts)


class AccessToken(msgspec.Struct, frozen=True, kw_only=True):
    """What a login gave besides the refresh token the client keeps: the access token (a bearer
    secret: whoever holds it acts as the account until it expires) and its lifetime in seconds
    when the server said it (None when not)."""

    token: str
    expires_in: int | None = None


class Product(msgspec.Struct, kw_only=True):
    id: int
    name: str
    description: str
    created_at: datetime
    category: str | None = None
    keywords: list[str] = []
    current_score: float | None = None
    status: str | None = None
    added_by_user: bool = False


class Ad(msgspec.Struct, kw_only=True):
    id: int
    product_id: int
    platform: str
    ad_content: str
    created_at: datetime
    external_id: str | None = None


class Score(msgspec.Struct, kw_only=True):
    product_id: int
    trend_score: float
    status: str
    confidence: float
    calculated_at: datetime
    components: dict[str, float]
    growth: dict[str, float | None]  # None: no earlier window to compare with
    forecast: list[float]
    reason: str


class TrendingProduct(msgspec.Struct, kw_only=True):
    product: Product
    current_score: float
    status: str
    last_updated: datetime
    growth: dict[str, float | None]  # None: no earlier window to compare with
    reason: str
    confidence: float | None = None  # None: a server that does not send it
    components: dict[str, float] = {}
    forecast: list[float] = []
    # "worldwide", or the region whose readings alone gave the score (``ranking="regional"``)
    scored_in: str = "worldwide"


class SpreadTarget(msgspec.Struct, kw_only=True):
    """A region the product may reach: ``spread_score`` 0-100 (100 when ``reached``); ``region``
    is None for "any region not reached yet"."""

    region: str | None
    spread_score: float
    reached: bool
    views: int = 0
    age_days: float = 0.0
    reason: str = ""


class Spread(msgspec.Struct, kw_only=True):
    """Where next: the regions a product reached, and its chance to reach each target."""

    product_id: int
    calculated_at: datetime
    reached_regions: list[str] = []
    targets: list[SpreadTarget] = []


class ViralAd(msgspec.Struct, kw_only=True):
    ad_id: int
    product_id: int
    product_name: str
    platform: str
    content: str
    engagement_score: float
    detected_at: datetime
    reason: str


class IngestReport(msgspec.Struct, kw_only=True):
    received: int
    stored: int
    duplicates: int
    rejected: list[dict[str, Any]]


class WatchlistEntry(msgspec.Struct, kw_only=True):
    id: int
    user_id: int
    product_id: int
    created_at: datetime


class AlertRule(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    product_id: int | None
    threshold: float | None
    window_hours: int | None
    created_at: datetime
    changed_at: datetime | None = None  # when what it asks last changed; None if never
    channels: list[str] = []
    webhook_url: str | None = None
    webhook_secret: str | None = None  # only when the rule was just created


class Alert(msgspec.Struct, kw_only=True):
    id: int
    rule_id: int | None  # None: a default rule, the one of its kind
    product_id: int
    kind: str
    message: str
    created_at: datetime
    read: bool


class Delivery(msgspec.Struct, kw_only=True):
    id: int
    alert_id: int
    channel: str
    target: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class _Call:
    """One API call, independent of how it is sent."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    auth: bool = True
    # A refused access token may be renewed by logging in again (use_access_token's hook); not
    # to log out, which would only start a login to end it.
    may_log_in: bool = True


@dataclass(slots=True)
class _Session:
    """Tokens and the rules for answers, shared by the sync and async clients."""

    max_retry_wait: float
    max_retries: int
    access_token: str | None = None
    refresh_token: str | None = None
    # An access token without its refresh token (use_access_token): a refusal logs in again.
    may_log_in_again: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def sent(self, call: _Call) -> dict[str, Any]:
        """What the request carries besides its method and path."""
        return {"params": call.params, "json": call.json, "data": call.data, "headers": self.headers(call)}

    def headers(self, call: _Call) -> dict[str, str]:
        headers = dict(self.extra)
        if call.auth and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers

    def remember(self, tokens: Mapping[str, Any]) -> AccessToken:
        self.access_token = str(tokens["access_token"])
        self.refresh_token = str(tokens["refresh_token"])
        self.may_log_in_again = False
        lifetime = tokens.get("expires_in")
        if type(lifetime) is not int or lifetime <= 0:  # not bool, not a number in text
            lifetime = None
        return AccessToken(token=self.access_token, expires_in=lifetime)

    def use(self, access_token: str, *, may_log_in_again: bool) -> None:
        self.access_token = access_token
        self.refresh_token = None
        self.may_log_in_again = may_log_in_again

    def wait_for(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying a 429, or None to give up. Raises when the server asks
        for a longer wait than ``max_retry_wait``, saying how long (rather than wait minutes
        unannounced)."""
        if response.status_code != 429 or attempt >= self.max_retries:
            return None
        asked = response.headers.get("retry-after")
        wait = _retry_after(asked)
        if wait is None or wait > self.max_retry_wait:
            error = _error(response)
            said = (
                f"the server asks for a wait the client cannot make (Retry-After: {asked})"
                if wait is None
                else f"the server asks to wait {math.ceil(wait)} s, more than max_retry_wait {self.max_retry_wait:g} s"
            )
            raise MarketScoutError(error.status_code, f"{error.message}; {said}", error.details)
        return wait

    def can_refresh(self, response: httpx.Response, call: _Call, refreshed: bool) -> bool:
        return (
            response.status_code == 401
            and call.auth
            and not refreshed
            and (self.refresh_token is not None or (self.may_log_in_again and call.may_log_in))
        )

    def revoke(self) -> _Call | None:
        """The call that ends the tokens held (the refresh token's whole login with them), or
        None when none is held."""
        if self.access_token is None:
            return None
        body = {"refresh_token": self.refresh_token} if self.refresh_token is not None else None
        return _Call("POST", "/token/revoke", json=body, may_log_in=False)

    def forget(self) -> None:
        self.access_token = self.refresh_token = None
        self.may_log_in_again = False


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date (RFC 9110),
    never below 0; 1 when it is missing or neither; None for a number that is no wait to make
    (NaN, an infinity, one beyond any float: 1e400)."""
    if value is None:
        return 1.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 1.0
        if when.tzinfo is None:  # "-0000": UTC, with no claim about the local zone
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _error(response: httpx.Response) -> MarketScoutError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return MarketScoutError(
        response.status_code, str(body.get("message", response.reason_phrase)), _details(body.get("details"))
    )


def _details(details: Any) -> list[Mapping[str, Any]]:
    """The API's details are a list of objects; anything else is kept whole as a rule."""
    if details is None:
        return []
    if not isinstance(details, list):
        details = [details]
    return [item if isinstance(item, Mapping) else {"rule": str(item)} for item in details]


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise _error(response)


def _json(response: httpx.Response) -> Any:
    """The answer's JSON; an answer that is not (a proxy's page, a truncated body) is an error."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise MarketScoutError(response.status_code, f"the server's answer was not JSON ({kind})") from None


def _decode(response: httpx.Response, kind: type[T], key: str | None = None) -> T:
    """The answer's JSON (or its member ``key``) as ``kind``; an answer of another shape is an
    error saying so, with its status code."""
    body = _json(response)
    if key is not None:
        if not isinstance(body, dict) or key not in body:
            raise _misshapen(response, f"no {key!r} in it")
        body = body[key]
    try:
        return msgspec.convert(body, kind, strict=False)
    except msgspec.ValidationError as error:
        raise _misshapen(response, str(error)) from error


def _misshapen(response: httpx.Response, why: str) -> MarketScoutError:
    return MarketScoutError(response.status_code, f"the server's answer is not what the API answers: {why}")


def _tokens(response: httpx.Response) -> dict[str, Any]:
    """A login's or a refresh's answer: an object with both tokens."""
    tokens = _decode(response, dict[str, Any])
    for name in ("access_token", "refresh_token"):
        if name not in tokens:
            raise _misshapen(response, f"no {name!r} in it")
    return tokens


class _Calls:
    """The API's calls, named once for both clients."""

    @staticmethod
    def sign_up(username: str, email: str, password: str) -> _Call:
        return _Call(
            "POST", "/signup", json={"username": username, "email": email, "password": password}, auth=False
        )

    @staticmethod
    def log_in(username: str, password: str) -> _Call:
        return _Call("POST", "/token", data={"username": username, "password": password}, auth=False)

    @staticmethod
    def change_password(current_password: str, new_password: str) -> _Call:
        return _Call(
            "POST", "/me/password", json={"current_password": current_password, "new_password": new_password}
        )

    @staticmethod
    def products(skip: int, limit: int, query: str | None) -> _Call:
        params: dict[str, Any] = {"skip": skip, "limit": limit}
        if query:
            params["q"] = query
        return _Call("GET", "/products", params=params)

    @staticmethod
    def product(product_id: int) -> _Call:
        return _Call("GET", f"/products/{product_id}")

    @staticmethod
    def create_product(name: str, description: str, keywords: Sequence[str]) -> _Call:
        return _Call(
            "POST", "/products", json={"name": name, "description": description, "keywords": list(keywords)}
        )

    @staticmethod
    def create_ad(product_id: int, platform: str, content: str, external_id: str | None) -> _Call:
        body: dict[str, Any] = {"product_id": product_id, "platform": platform, "ad_content": content}
        if external_id is not None:
            body["external_id"] = external_id
        return _Call("POST", "/ads", json=body)

    @staticmethod
    def ingest(snapshots: Sequence[Mapping[str, Any]], all_or_nothing: bool) -> _Call:
        return _Call(
            "POST",
            "/engagement",
            params={"all_or_nothing": str(all_or_nothing).lower()},
            json=[_snapshot(index, snapshot) for index, snapshot in enumerate(_listed(snapshots))],
        )

    @staticmethod
    def trending(limit: int, filters: Mapping[str, Any]) -> _Call:
        params = {"limit": limit} | {name: value for name, value in filters.items() if value is not None}
        return _Call("GET", "/trending", params=params)

    @staticmethod
    def calculate_score(product_id: int) -> _Call:
        return _Call("POST", f"/calculate-score/{product_id}")

    @staticmethod
    def score_history(product_id: int, since: datetime | None) -> _Call:
        params = {"since": _instant("since", since)} if since is not None else None
        return _Call("GET", f"/trends/{product_id}", params=params)

    @staticmethod
    def spread(product_id: int, regions: Sequence[str]) -> _Call:
        return _Call(
            "GET", f"/products/{product_id}/spread", params={"region": list(regions)} if regions else None
        )

    @staticmethod
    def scan_ads(limit: int) -> _Call:
        return _Call("GET", "/scan-ads", params={"limit": limit})

    @staticmethod
    def heat_map(
        product_ids: Sequence[int], since: datetime | None, until: datetime | None, level: HeatMapLevel
    ) -> _Call:
        params: dict[str, Any] = {"level": level}
        if product_ids:
            params["product_id"] = list(product_ids)
        if since is not None:
            params["since"] = _instant("since", since)
        if until is not None:
            params["until"] = _instant("until", until)
        return _Call("GET", "/heat-map", params=params)

    @staticmethod
    def watch(product_id: int) -> _Call:
        return _Call("POST", "/watchlists", json={"product_id": product_id})

    @staticmethod
    def unwatch(product_id: int) -> _Call:
        return _Call("DELETE", f"/watchlists/{product_id}")

    @staticmethod
    def watchlist(skip: int, limit: int) -> _Call:
        return _Call("GET", "/watchlists", params={"skip": skip, "limit": limit})

    @staticmethod
    def check_alerts() -> _Call:
        return _Call("GET", "/check-alerts")

    @staticmethod
    def export(data_type: str) -> _Call:
        return _Call("GET", f"/export/{data_type}")

    @staticmethod
    def alert_rules(skip: int, limit: int) -> _Call:
        return _Call("GET", "/alert-rules", params={"skip": skip, "limit": limit})

    @staticmethod
    def create_alert_rule(rule: Mapping[str, Any]) -> _Call:
        return _Call("POST", "/alert-rules", json={k: v for k, v in rule.items() if v is not None})

    @staticmethod
    def replace_alert_rule(rule_id: int, rule: Mapping[str, Any]) -> _Call:
        return _Call("PUT", f"/alert-rules/{rule_id}", json={k: v for k, v in rule.items() if v is not None})

    @staticmethod
    def delete_alert_rule(rule_id: int) -> _Call:
        return _Call("DELETE", f"/alert-rules/{rule_id}")

    @staticmethod
    def alerts(unread_only: bool, skip: int, limit: int) -> _Call:
        params = {"unread": str(unread_only).lower(), "skip": skip, "limit": limit}
        return _Call("GET", "/alerts", params=params)

    @staticmethod
    def mark_alerts_read(alert_ids: Sequence[int] | None) -> _Call:
        return _Call("POST", "/alerts/read", json={} if alert_ids is None else {"alert_ids": list(alert_ids)})

    @staticmethod
    def deliveries(status: str | None, skip: int, limit: int) -> _Call:
        params: dict[str, Any] = {"skip": skip, "limit": limit}
        if status:
            params["status"] = status
        return _Call("GET", "/deliveries", params=params)


def _instant(name: str, value: datetime) -> str:
    """``value`` as ISO 8601 with its offset. A naive datetime is refused: the server would have
    to guess its zone."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} has no time zone (give it one, e.g. tzinfo=UTC)")
    return value.isoformat()


def _listed(snapshots: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """``snapshots``, refused with ``TypeError`` when it is one mapping or text (whose keys or
    characters would be taken for snapshots) rather than a list of them."""
    if isinstance(snapshots, Mapping | str | bytes):
        one = " (give one as [snapshot])" if isinstance(snapshots, Mapping) else ""
        raise TypeError(f"snapshots must be a list of mappings, not a {type(snapshots).__name__}{one}")
    return snapshots


def _snapshot(index: int, snapshot: Mapping[str, Any]) -> Mapping[str, Any]:
    """A snapshot as JSON can carry it: datetimes as ISO 8601 with their offset. Anything but a
    mapping is refused with ``TypeError`` naming its item."""
    if not isinstance(snapshot, Mapping):
        raise TypeError(
            f"item {index} is not a mapping of a snapshot's fields (got {type(snapshot).__name__})"
        )
    if not any(isinstance(value, datetime) for value in snapshot.values()):
        return snapshot
    sent = dict(snapshot)
    for key, value in snapshot.items():
        if isinstance(value, datetime):
            sent[key] = _instant(f"item {index}: {key}", value)
    return sent


def _trending_filters(
    skip: int,
    status: str | None,
    query: str | None,
    platform: str | None,
    region: str | None,
    min_confidence: float | None,
    ranking: str | None,
    category: str | None,
) -> dict[str, Any]:
    return {
        "skip": skip or None,
        "status": status,
        "q": query or None,
        "platform": platform,
        "region": region,
        "category": category or None,
        "min_confidence": min_confidence,
        "ranking": ranking,
    }


def _rule(
    kind: str,
    product_id: int | None,
    threshold: float | None,
    window_hours: int | None,
    channels: Sequence[str],
    webhook_url: str | None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "product_id": product_id,
        "threshold": threshold,
        "window_hours": window_hours,
        "channels": list(channels) or None,
        "webhook_url": webhook_url,
    }


class MarketScoutClient:
    """Synchronous client. Pass ``http`` to reuse or inject an ``httpx.Client``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 10.0,
        max_retry_wait: float = 30.0,
        max_retries: int = 3,
        http: httpx.Client | None = None,
    ) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._owns_http = http is None
        self._session = _Session(max_retry_wait=max_retry_wait, max_retries=max_retries)
        self._refreshing = threading.Lock()
        self._log_in_again: Callable[[], object] | None = None

    def __enter__(self) -> MarketScoutClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _send(self, call: _Call) -> httpx.Response:
        refreshed = False
        attempt = 0
        while True:
            sent_with = self._session.access_token
            try:
                response = self._http.request(call.method, call.path, **self._session.sent(call))
            except httpx.RequestError as failure:
                raise MarketScoutConnectionError(self._http.base_url, failure) from failure
            if self._session.can_refresh(response, call, refreshed):
                refreshed = True
                self._refresh(sent_with)
                continue
            wait = self._session.wait_for(response, attempt)
            if wait is None:
                _raise_for_error(response)
                return response
            attempt += 1
            time.sleep(wait)

    def _refresh(self, expired: str | None) -> None:
        """Once for all the calls that found ``expired`` expired (calls may run in several
        threads): a refresh token is good for one refresh."""
        with self._refreshing:
            if self._session.access_token != expired:
                return
            if self._session.refresh_token is None:
                # A token from use_access_token: no refresh token to use, so log in, once.
                # may_log_in_again stays until the login replaces the token: calls refused
                # meanwhile come here too, and then go again with the new one.
                log_in_again, self._log_in_again = self._log_in_again, None
                if log_in_again is not None:
                    log_in_again()
                return
            try:
                response = self._http.post(
                    "/token/refresh", json={"refresh_token": self._session.refresh_token}
                )
            except httpx.RequestError as failure:
                raise MarketScoutConnectionError(self._http.base_url, failure) from failure
            _raise_for_error(response)
            self._session.remember(_tokens(response))

    def _all_pages(self, call: Callable[[int, int], _Call], kind: type[list[T]]) -> Iterator[T]:
        """Every item of a list the API pages with ``skip`` and ``limit``; a page shorter than
        PAGE_SIZE is the last (no request for an empty page after it)."""
        skip = 0
        while True:
            page = _decode(self._send(call(skip, PAGE_SIZE)), kind)
            yield from page
            if len(page) < PAGE_SIZE:
                return
            skip += len(page)

    def sign_up(self, username: str, email: str, password: str) -> dict[str, Any]:
        return _decode(self._send(_Calls.sign_up(username, email, password)), dict[str, Any])

    def log_in(self, username: str, password: str) -> AccessToken:
        """Logs in; the calls after it send the access token, refreshed when it runs out. The
        access token is returned for a caller that keeps it for later (:meth:`use_access_token`)."""
        return self._session.remember(_tokens(self._send(_Calls.log_in(username, password))))

    def use_access_token(
        self, access_token: str, *, log_in_again: Callable[[], object] | None = None
    ) -> None:
        """Sends ``access_token`` (one :meth:`log_in` returned earlier, kept by the caller) with
        the calls that need an account, instead of logging in. It comes without its refresh
        token: when the server refuses it, ``log_in_again`` is called once (it should call
        :meth:`log_in`) and the call sent again; without it, the call raises the 401."""
        self._log_in_again = log_in_again
        self._session.use(access_token, may_log_in_again=log_in_again is not None)

    def change_password(self, current_password: str, new_password: str) -> None:
        """Every login of the account ends (its refresh tokens are revoked, and its access tokens,
        this client's too, are refused from then on): log in again with the new password."""
        self._send(_Calls.change_password(current_password, new_password))

    def log_out(self) -> bool:
        """Ends this client's login on the server (``POST /token/revoke``): its access token, and
        the login of its refresh token when it holds one, are refused from then on, and the
        client forgets them. True when the server ended them; False when there was nothing to
        end: no token held (nothing is sent), or the server refused the token as no longer
        valid (expired, revoked, ended by a password change; a token from
        :meth:`use_access_token` is not renewed by logging in just to end it). Raises when the
        server could not be told (unreachable, an error answer): the tokens are then kept, so
        that it can be tried again."""
        call = self._session.revoke()
        if call is None:
            return False
        try:
            self._send(call)
        except MarketScoutError as error:
            if error.status_code != 401:
                raise
            ended = False
        else:
            ended = True
        self._session.forget()
        return ended

    def products(self, *, skip: int = 0, limit: int = PAGE_SIZE, query: str | None = None) -> list[Product]:
        return _decode(self._send(_Calls.products(skip, limit, query)), list[Product])

    def iter_products(self, *, query: str | None = None) -> Iterator[Product]:
        return self._all_pages(lambda skip, limit: _Calls.products(skip, limit, query), list[Product])

    def product(self, product_id: int) -> Product:
        return _decode(self._send(_Calls.product(product_id)), Product)

    def create_product(self, name: str, description: str, keywords: Sequence[str] = ()) -> Product:
        return _decode(self._send(_Calls.create_product(name, description, keywords)), Product)

    def create_ad(self, product_id: int, platform: str, content: str, external_id: str | None = None) -> Ad:
        return _decode(self._send(_Calls.create_ad(product_id, platform, content, external_id)), Ad)

    def ingest(self, snapshots: Sequence[Mapping[str, Any]], *, all_or_nothing: bool = False) -> IngestReport:
        return _decode(self._send(_Calls.ingest(snapshots, all_or_nothing)), IngestReport)

    def trending(
        self,
        limit: int = 10,
        *,
        skip: int = 0,
        status: str | None = None,
        query: str | None = None,
        platform: str | None = None,
        region: str | None = None,
        min_confidence: float | None = None,
        ranking: str | None = None,
        category: str | None = None,
    ) -> list[TrendingProduct]:
        """Highest score first, after the first ``skip``. ``region``: a country code, ``GLOBAL`` or a continent;
        ``platform`` and ``region`` keep products with engagement there in the last 30 days, ranked
        by their worldwide score, or with ``ranking="regional"`` by the score each earns from the
        region's readings alone (``scored_in`` names it); ``category`` keeps the products of exactly
        that category, as stored."""
        filters = _trending_filters(skip, status, query, platform, region, min_confidence, ranking, category)
        return _decode(
            self._send(_Calls.trending(limit, filters)), list[TrendingProduct], "trending_products"
        )

    def calculate_score(self, product_id: int) -> Score:
        return _decode(self._send(_Calls.calculate_score(product_id)), Score)

    def score_history(self, product_id: int, *, since: datetime | None = None) -> list[Score]:
        """The product's scores, oldest first (those calculated at or after ``since``)."""
        return _decode(self._send(_Calls.score_history(product_id, since)), list[Score], "history")

    def spread(self, product_id: int, regions: Sequence[str] = ()) -> Spread:
        """Where next: the chance to reach each of ``regions`` (country codes), or by default
        any region not reached yet."""
        return _decode(self._send(_Calls.spread(product_id, regions)), Spread)

    def scan_ads(self, limit: int = 20) -> list[ViralAd]:
        return _decode(self._send(_Calls.scan_ads(limit)), list[ViralAd], "viral_ads")

    def heat_map(
        self,
        product_ids: Sequence[int] = (),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        level: HeatMapLevel = "continent",
    ) -> dict[str, dict[str, float]]:
        """Per product, interest per continent (or per country code), 0-100, over the readings
        from ``since`` to ``until`` (by default the 30 days to now)."""
        call = _Calls.heat_map(product_ids, since, until, level)
        return _decode(self._send(call), dict[str, dict[str, float]], "heat_map")

    def watch(self, product_id: int) -> WatchlistEntry:
        return _decode(self._send(_Calls.watch(product_id)), WatchlistEntry)

    def unwatch(self, product_id: int) -> None:
        """Raises a 404 :class:`MarketScoutError` when the product is not on the watchlist."""
        self._send(_Calls.unwatch(product_id))

    def watchlist(self) -> list[WatchlistEntry]:
        """The whole watchlist, fetched a page at a time."""
        return list(self._all_pages(_Calls.watchlist, list[WatchlistEntry]))

    def check_alerts(self) -> list[str]:
        return _decode(self._send(_Calls.check_alerts()), list[str], "alerts")

    def export(self, data_type: str) -> str:
        return self._send(_Calls.export(data_type)).text

    def alert_rules(self) -> list[AlertRule]:
        """All the user's rules, fetched a page at a time."""
        return list(self._all_pages(_Calls.alert_rules, list[AlertRule]))

    def create_alert_rule(
        self,
        kind: str,
        *,
        product_id: int | None = None,
        threshold: float | None = None,
        window_hours: int | None = None,
        channels: Sequence[str] = (),
        webhook_url: str | None = None,
    ) -> AlertRule:
        """The answer carries ``webhook_secret`` when the rule delivers to a webhook: keep it."""
        rule = _rule(kind, product_id, threshold, window_hours, channels, webhook_url)
        return _decode(self._send(_Calls.create_alert_rule(rule)), AlertRule)

    def replace_alert_rule(
        self,
        rule_id: int,
        kind: str,
        *,
        product_id: int | None = None,
        threshold: float | None = None,
        window_hours: int | None = None,
        channels: Sequence[str] = (),
        webhook_url: str | None = None,
    ) -> AlertRule:
        """The rule's whole new definition; it keeps its id, creation time and alerts. 409 when
        identical to another of the user's rules. A new ``webhook_url`` gets a new
        ``webhook_secret``, in this answer only."""
        rule = _rule(kind, product_id, threshold, window_hours, channels, webhook_url)
        return _decode(self._send(_Calls.replace_alert_rule(rule_id, rule)), AlertRule)

    def delete_alert_rule(self, rule_id: int) -> None:
        self._send(_Calls.delete_alert_rule(rule_id))

    def alerts(self, *, unread_only: bool = False, skip: int = 0, limit: int = PAGE_SIZE) -> list[Alert]:
        return _decode(self._send(_Calls.alerts(unread_only, skip, limit)), list[Alert])

    def mark_alerts_read(self, alert_ids: Sequence[int] | None = None) -> int:
        return _decode(self._send(_Calls.mark_alerts_read(alert_ids)), int, "marked_read")

    def deliveries(
        self, *, status: str | None = None, skip: int = 0, limit: int = PAGE_SIZE
    ) -> list[Delivery]:
        return _decode(self._send(_Calls.deliveries(status, skip, limit)), list[Delivery])


class AsyncMarketScoutClient:
    """Asynchronous client, the same calls as :class:`MarketScoutClient`."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 10.0,
        max_retry_wait: float = 30.0,
        max_retries: int = 3,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._owns_http = http is None
        self._session = _Session(max_retry_wait=max_retry_wait, max_retries=max_retries)
        self._refreshing = asyncio.Lock()
        self._log_in_again: Callable[[], Awaitable[object]] | None = None

    async def __aenter__(self) -> AsyncMarketScoutClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _send(self, call: _Call) -> httpx.Response:
        refreshed = False
        attempt = 0
        while True:
            sent_with = self._session.access_token
            try:
                response = await self._http.request(call.method, call.path, **self._session.sent(call))
            except httpx.RequestError as failure:
                raise MarketScoutConnectionError(self._http.base_url, failure) from failure
            if self._session.can_refresh(response, call, refreshed):
                refreshed = True
                await self._refresh(sent_with)
                continue
            wait = self._session.wait_for(response, attempt)
            if wait is None:
                _raise_for_error(response)
                return response
            attempt += 1
            await asyncio.sleep(wait)

    async def _refresh(self, expired: str | None) -> None:
        """Once for all the calls that found ``expired`` expired (see the sync client)."""
        async with self._refreshing:
            if self._session.access_token != expired:
                return
            if self._session.refresh_token is None:
                log_in_again, self._log_in_again = self._log_in_again, None
                if log_in_again is not None:
                    await log_in_again()
                return
            try:
                response = await self._http.post(
                    "/token/refresh", json={"refresh_token": self._session.refresh_token}
                )
            except httpx.RequestError as failure:
                raise MarketScoutConnectionError(self._http.base_url, failure) from failure
            _raise_for_error(response)
            self._session.remember(_tokens(response))

    async def _all_pages(self, call: Callable[[int, int], _Call], kind: type[list[T]]) -> AsyncIterator[T]:
        """Every item of a list the API pages with ``skip`` and ``limit``; a page shorter than
        PAGE_SIZE is the last (no request for an empty page after it)."""
        skip = 0
        while True:
            page = _decode(await self._send(call(skip, PAGE_SIZE)), kind)
            for item in page:
                yield item
            if len(page) < PAGE_SIZE:
                return
            skip += len(page)

    async def log_in(self, username: str, password: str) -> AccessToken:
        """See :meth:`MarketScoutClient.log_in`."""
        return self._session.remember(_tokens(await self._send(_Calls.log_in(username, password))))

    def use_access_token(
        self, access_token: str, *, log_in_again: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        """See :meth:`MarketScoutClient.use_access_token` (``log_in_again`` is awaited)."""
        self._log_in_again = log_in_again
        self._session.use(access_token, may_log_in_again=log_in_again is not None)

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Every login of the account ends, this client's too: log in again with the new password."""
        await self._send(_Calls.change_password(current_password, new_password))

    async def log_out(self) -> bool:
        """See :meth:`MarketScoutClient.log_out`."""
        call = self._session.revoke()
        if call is None:
            return False
        try:
            await self._send(call)
        except MarketScoutError as error:
            if error.status_code != 401:
                raise
            ended = False
        else:
            ended = True
        self._session.forget()
        return ended

    async def products(
        self, *, skip: int = 0, limit: int = PAGE_SIZE, query: str | None = None
    ) -> list[Product]:
        return _decode(await self._send(_Calls.products(skip, limit, query)), list[Product])

    def iter_products(self, *, query: str | None = None) -> AsyncIterator[Product]:
        return self._all_pages(lambda skip, limit: _Calls.products(skip, limit, query), list[Product])

    async def product(self, product_id: int) -> Product:
        return _decode(await self._send(_Calls.product(product_id)), Product)

    async def create_product(self, name: str, description: str, keywords: Sequence[str] = ()) -> Product:
        return _decode(await self._send(_Calls.create_product(name, description, keywords)), Product)

    async def ingest(
        self, snapshots: Sequence[Mapping[str, Any]], *, all_or_nothing: bool = False
    ) -> IngestReport:
        return _decode(await self._send(_Calls.ingest(snapshots, all_or_nothing)), IngestReport)

    async def trending(
        self,
        limit: int = 10,
        *,
        skip: int = 0,
        status: str | None = None,
        query: str | None = None,
        platform: str | None = None,
        region: str | None = None,
        min_confidence: float | None = None,
        ranking: str | None = None,
        category: str | None = None,
    ) -> list[TrendingProduct]:
        filters = _trending_filters(skip, status, query, platform, region, min_confidence, ranking, category)
        response = await self._send(_Calls.trending(limit, filters))
        return _decode(response, list[TrendingProduct], "trending_products")

    async def scan_ads(self, limit: int = 20) -> list[ViralAd]:
        return _decode(await self._send(_Calls.scan_ads(limit)), list[ViralAd], "viral_ads")

    async def watchlist(self) -> list[WatchlistEntry]:
        """The whole watchlist, fetched a page at a time."""
        return [entry async for entry in self._all_pages(_Calls.watchlist, list[WatchlistEntry])]

    async def sign_up(self, username: str, email: str, password: str) -> dict[str, Any]:
        return _decode(await self._send(_Calls.sign_up(username, email, password)), dict[str, Any])

    async def create_ad(
        self, product_id: int, platform: str, content: str, external_id: str | None = None
    ) -> Ad:
        return _decode(await self._send(_Calls.create_ad(product_id, platform, content, external_id)), Ad)

    async def calculate_score(self, product_id: int) -> Score:
        return _decode(await self._send(_Calls.calculate_score(product_id)), Score)

    async def score_history(self, product_id: int, *, since: datetime | None = None) -> list[Score]:
        return _decode(await self._send(_Calls.score_history(product_id, since)), list[Score], "history")

    async def spread(self, product_id: int, regions: Sequence[str] = ()) -> Spread:
        return _decode(await self._send(_Calls.spread(product_id, regions)), Spread)

    async def heat_map(
        self,
        product_ids: Sequence[int] = (),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        level: HeatMapLevel = "continent",
    ) -> dict[str, dict[str, float]]:
        call = _Calls.heat_map(product_ids, since, until, level)
        return _decode(await self._send(call), dict[str, dict[str, float]], "heat_map")

    async def watch(self, product_id: int) -> WatchlistEntry:
        return _decode(await self._send(_Calls.watch(product_id)), WatchlistEntry)

    async def unwatch(self, product_id: int) -> None:
        await self._send(_Calls.unwatch(product_id))

    async def check_alerts(self) -> list[str]:
        return _decode(await self._send(_Calls.check_alerts()), list[str], "alerts")

    async def export(self, data_type: str) -> str:
        return (await self._send(_Calls.export(data_type))).text

    async def alert_rules(self) -> list[AlertRule]:
        """All the user's rules, fetched a page at a time."""
        return [rule async for rule in self._all_pages(_Calls.alert_rules, list[AlertRule])]

    async def create_alert_rule(
        self,
        kind: str,
        *,
        product_id: int | None = None,
        threshold: float | None = None,
        window_hours: int | None = None,
        channels: Sequence[str] = (),
        webhook_url: str | None = None,
    ) -> AlertRule:
        rule = _rule(kind, product_id, threshold, window_hours, channels, webhook_url)
        return _decode(await self._send(_Calls.create_alert_rule(rule)), AlertRule)

    async def replace_alert_rule(
        self,
        rule_id: int,
        kind: str,
        *,
        product_id: int | None = None,
        threshold: float | None = None,
        window_hours: int | None = None,
        channels: Sequence[str] = (),
        webhook_url: str | None = None,
    ) -> AlertRule:
        rule = _rule(kind, product_id, threshold, window_hours, channels, webhook_url)
        return _decode(await self._send(_Calls.replace_alert_rule(rule_id, rule)), AlertRule)

    async def delete_alert_rule(self, rule_id: int) -> None:
        await self._send(_Calls.delete_alert_rule(rule_id))

    async def alerts(
        self, *, unread_only: bool = False, skip: int = 0, limit: int = PAGE_SIZE
    ) -> list[Alert]:
        return _decode(await self._send(_Calls.alerts(unread_only, skip, limit)), list[Alert])

    async def mark_alerts_read(self, alert_ids: Sequence[int] | None = None) -> int:
        return _decode(await self._send(_Calls.mark_alerts_read(alert_ids)), int, "marked_read")

    async def deliveries(
        self, *, status: str | None = None, skip: int = 0, limit: int = PAGE_SIZE
    ) -> list[Delivery]:
        return _decode(await self._send(_Calls.deliveries(status, skip, limit)), list[Delivery])
