"""One error shape for every error answer, and the mapping of domain errors onto it."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.response import Redirect, Template

from marketscout.domain.errors import (
    AuthenticationFailed,
    Busy,
    Conflict,
    DomainError,
    Forbidden,
    InvalidValue,
    NotFound,
    RejectedBatch,
    Unavailable,
)
from marketscout.entrypoints.api.bodies import named, readable
from marketscout.entrypoints.api.path_ids import first_badly_written_id, refused
from marketscout.entrypoints.schemas import ErrorBody, ErrorDetail
from marketscout.entrypoints.web.forms import form_page
from marketscout.entrypoints.web.session import csrf_cookies, csrf_token, page_user

logger = logging.getLogger("marketscout.http")

_GENERIC = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Rate limit exceeded",
    500: "Internal server error",
    503: "Service unavailable",
}
# Library messages can name internals; keep only the short human part.
_SAFE_MESSAGE = re.compile(r"^[\w\s.,:;'`$\[\]()<>=!?/-]{1,300}$")


_PAGE_TITLES = {
    403: "That form could not be accepted",
    404: "Page not found",
    429: "Too many requests",
    500: "Something went wrong",
    503: "The service is busy",
}


def _is_page(request: Request[Any, Any, Any] | None) -> bool:
    """Dashboard pages answer errors as pages in the dashboard's look; the API as JSON."""
    if request is None:
        return False
    path = request.url.path
    return (path == "/" or path.startswith("/ui/")) and "text/html" in request.headers.get(
        "accept", "text/html"
    )


def error_response(
    status_code: int,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
    request: Request[Any, Any, Any] | None = None,
) -> Response[Any]:
    if request is not None and _is_page(request):
        user = page_user(request)
        return Template(
            template_name="error.html",
            context={
                "status_code": status_code,
                "title": _PAGE_TITLES.get(status_code, _GENERIC.get(status_code, "Error")),
                "message": message,
                "problems": [_page_problem(d) for d in details or []],
                "user": user,
                "csrf": csrf_token(request),
                "path": request.url.path,
            },
            status_code=status_code,
            headers={**(headers or {}), **({"Cache-Control": "no-store"} if user is not None else {})},
            cookies=csrf_cookies(request),
        )
    request_id = request.scope.get("state", {}).get("request_id") if request is not None else None
    all_headers = dict(headers or {})
    if status_code == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(
        ErrorBody(status_code=status_code, message=message, details=details or [], request_id=request_id),
        status_code=status_code,
        media_type=MediaType.JSON,
        headers=all_headers,
    )


def _page_problem(detail: ErrorDetail) -> str:
    """A refused value in words for a page: an id in the path is a positive whole number."""
    if detail.field.endswith("_id") and detail.field.replace("_", "").isalnum():
        return f"{detail.field.replace('_', ' ')} must be a positive integer"
    return f"{detail.field}: {detail.rule}"


def _field_of(key: str | None) -> str:
    if not key:
        return "body"
    return key.removeprefix("data.").removeprefix("$.") or "body"


def _validation_details(exc: ValidationException, path: str) -> list[ErrorDetail]:
    details: list[ErrorDetail] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        rule = str(item.get("message", "is invalid"))
        field = _field_of(item.get("key"))
        if rule.strip("'") in {field, "data"}:
            # A missing body or parameter surfaces as its bare name from the decoder.
            rule = "is required"
            field = "body" if field == "data" else field
        # msgspec says "... - at `$.name`"; move the location into ``field``.
        match = re.search(r"at `\$\.?([^`]*)`", rule)
        if match:
            field = match.group(1) or field
            rule = rule[: match.start()].rstrip(" -")
        field, rule = named(field, readable(rule), path)
        details.append(ErrorDetail(field=field, rule=rule[:300]))
    if not details:
        message = exc.detail if _SAFE_MESSAGE.match(exc.detail or "") else "is invalid"
        details.append(ErrorDetail(field="body", rule=message))
    return details


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if (
        exc.status_code == 405
        and request.method in {"GET", "HEAD"}
        and _is_page(request)
        and (holder := form_page(request.url.path))
    ):
        # A form's address opened in the browser: the page the form is on, not a bare 405.
        return Redirect(path=holder, status_code=303)
    if isinstance(exc, NotFoundException) and isinstance(exc.__cause__, ValueError):
        # Routing could not read an id in the path (``/products/abc``): name it, as for ``0``.
        routes = (route.path for route in request.app.routes)
        if name := first_badly_written_id(routes, request.scope["path"]):
            exc = refused(name)
    if isinstance(exc, ValidationException):
        details = _validation_details(exc, request.scope["path"])
        if exc.detail and "malformed" in exc.detail.lower():
            details = [ErrorDetail(field="body", rule="must be well-formed JSON")]
        return error_response(422, "Validation failed", details, request=request)
    status = exc.status_code
    message = _GENERIC.get(status, "Error")
    if 400 <= status < 500 and exc.detail and _SAFE_MESSAGE.match(exc.detail):
        message = exc.detail
    headers = {
        k: v
        for k, v in (exc.headers or {}).items()
        if k.lower() in {"allow", "retry-after", "accept-encoding"}
    }
    if status >= 500:
        logger.error("http error %s on %s %s", status, request.method, request.url.path)
    # Our own client errors name the field and the rule in ``extra``, as validation errors do.
    extra = exc.extra if isinstance(exc.extra, list) and status < 500 else []
    details = [
        ErrorDetail(field=str(item["key"]), rule=str(item["message"]))
        for item in extra
        if isinstance(item, dict) and "key" in item and "message" in item
    ]
    return error_response(status, message, details, headers=headers, request=request)


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if isinstance(exc, RejectedBatch):
        details = [ErrorDetail(field=f, rule=r, index=i) for i, f, r in exc.rejections]
        return error_response(422, exc.message, details, request=request)
    if isinstance(exc, InvalidValue):
        return error_response(
            422, "Validation failed", [ErrorDetail(field=exc.field, rule=exc.rule)], request=request
        )
    if isinstance(exc, NotFound):
        return error_response(404, exc.message, request=request)
    if isinstance(exc, Conflict):
        return error_response(409, exc.message, request=request)
    if isinstance(exc, AuthenticationFailed):
        return error_response(401, exc.message, request=request)
    if isinstance(exc, Forbidden):
        return error_response(403, exc.message, request=request)
    if isinstance(exc, Busy):
        return error_response(
            503,
            "The database was busy with another request; try again",
            headers={"Retry-After": "1"},
            request=request,
        )
    if isinstance(exc, Unavailable):
        return error_response(503, "The database is unavailable; try again shortly", request=request)
    return error_response(400, exc.message, request=request)


def handle_too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """A body nested deeper than the decoder's recursion limit is bad input, not a crash."""
    return error_response(
        422, "Validation failed", [ErrorDetail(field="body", rule="is nested too deeply")], request=request
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, _GENERIC[500], request=request)
