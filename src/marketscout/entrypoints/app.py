"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Scope

from marketscout.domain.errors import DomainError
from marketscout.domain.model import User
from marketscout.domain.ports import HealthProbe
from marketscout.domain.usecases.catalog import holds_synthetic_products
from marketscout.entrypoints.api.account import AlertController, ExportController, WatchlistController
from marketscout.entrypoints.api.auth import AuthController
from marketscout.entrypoints.api.bodies import RequestChecks
from marketscout.entrypoints.api.catalog import AdController, ProductController
from marketscout.entrypoints.api.dependencies import authenticate_request, build_dependencies
from marketscout.entrypoints.api.engagement import EngagementController, ingest_body, ingest_body_description
from marketscout.entrypoints.api.errors import (
    handle_domain_error,
    handle_http_exception,
    handle_too_deep,
    handle_unexpected,
)
from marketscout.entrypoints.api.intelligence import IntelligenceController
from marketscout.entrypoints.authentication import authenticate_once, is_page_path, served_token
from marketscout.entrypoints.container import Container
from marketscout.entrypoints.middleware import (
    CorsPreflightChecks,
    HeadAsGet,
    RequestContextMiddleware,
    configure_logging,
)
from marketscout.entrypoints.openapi import (
    ANY_QUERY,
    document_body,
    document_errors,
    document_integer_bounds,
    document_structs,
)
from marketscout.entrypoints.proxies import ForwardedSchemeMiddleware, TrustedProxies
from marketscout.entrypoints.ratelimit import RateLimiter, RateLimitMiddleware
from marketscout.entrypoints.schemas import ErrorBody, HealthOut
from marketscout.entrypoints.settings import tune_gc
from marketscout.entrypoints.web.pages import DashboardController, register_filters
from marketscout.entrypoints.web.session import PageUserMiddleware, SessionCookiesMiddleware

logger = logging.getLogger("marketscout")
STATIC = Path(__file__).with_name("static")
TEMPLATES = Path(__file__).parent / "web" / "templates"


@get("/health", tags=["operations"], summary="The process is up", opt={ANY_QUERY: True})
async def health() -> HealthOut:
    return HealthOut(status="ok")


@get(
    "/ready",
    tags=["operations"],
    summary="The database answers (503 when it does not)",
    opt={ANY_QUERY: True},
)
async def ready(state: State) -> Response[HealthOut | ErrorBody]:
    probe: HealthProbe = state.container.health_probe()
    if await probe.ready():
        return Response(HealthOut(status="ready"))
    return Response(ErrorBody(status_code=503, message="The database is unavailable"), status_code=503)


@get("/openapi.json", tags=["operations"], include_in_schema=False, media_type="application/json")
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi_schema.to_schema()
    return schema


@dataclass(slots=True)
class StoredData:
    """What every page's footer (error pages too) says of the stored data: ``synthetic`` while
    the database holds the demo market's products, whatever MARKETSCOUT_DEMO_DATA says. Asked
    once, when the store is ready at start (after any demo filling): no request makes a product
    synthetic (an account's never is), only the demo loader, which a server running while
    ``marketscout demo`` fills its database sees at its next start."""

    synthetic: bool = False


def create_app(container: Container | None = None) -> Litestar:
    """Builds the application; nothing connects until the server starts."""
    container = container or Container()
    settings = container.settings()
    configure_logging(settings.log_level)
    stored_data = StoredData()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        from marketscout.entrypoints.notify import dispatch_forever
        from marketscout.entrypoints.refresh import refresh_forever
        from marketscout.entrypoints.startup import prepare_store, release_store

        tune_gc(settings.gc_threshold)
        await prepare_store(container)
        stored_data.synthetic = await holds_synthetic_products(container.unit_of_work())
        dispatcher = (
            asyncio.create_task(dispatch_forever(container, settings.notify_interval), name="notify")
            if settings.notify_interval > 0
            else None
        )
        refresher = (
            asyncio.create_task(refresh_forever(container, settings.score_refresh_interval), name="refresh")
            if settings.score_refresh_interval > 0
            else None
        )
        try:
            yield
        finally:
            for task in (dispatcher, refresher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await release_store(container)
            if limiter is not None:
                await limiter.close()

    def prepare_templates(engine: JinjaTemplateEngine) -> None:
        register_filters(engine)
        engine.engine.globals["stored_data"] = stored_data

    limiter: RateLimiter | None = None
    if settings.rate_limit_enabled:
        limiter = container.rate_limiter()

    openapi = OpenAPIConfig(
        title="MarketScout API",
        version="1.0.0",
        description=(
            "Finds the products about to go viral from social-media engagement. Every error answers "
            "with the ErrorBody shape."
        ),
        path="/docs",
        # Swagger UI is vendored (static/swagger-ui): /docs works without any CDN.
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url="/static/swagger-ui/swagger-ui-bundle.js",
                css_url="/static/swagger-ui/swagger-ui.css",
                standalone_preset_js_url="/static/swagger-ui/swagger-ui-standalone-preset.js",
                # Litestar's default favicon is on cdn.jsdelivr.net, which the CSP (rightly) blocks.
                favicon="<link rel='icon' type='image/svg+xml' href='/static/favicon.svg'>",
            )
        ],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
            },
            schemas={},
        ),
        use_handler_docstrings=True,
    )
    cors = CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],  # every method a route answers
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        allow_credentials=False,
        expose_headers=["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"],
    )
    app = Litestar(
        route_handlers=[
            health,
            ready,
            openapi_json,
            create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
            AuthController,
            ProductController,
            AdController,
            EngagementController,
            IntelligenceController,
            WatchlistController,
            AlertController,
            ExportController,
            DashboardController,
        ],
        template_config=TemplateConfig(
            directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=prepare_templates
        ),
        dependencies=build_dependencies(container),
        exception_handlers={
            HTTPException: handle_http_exception,
            DomainError: handle_domain_error,
            RecursionError: handle_too_deep,
            Exception: handle_unexpected,
        },
        cors_config=cors,
        openapi_config=openapi,
        before_request=RequestChecks(lambda request: authenticate_request(container, request)),
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,  # configure_logging: every line JSON, Litestar's own included
        state=State({"container": container, "max_ingest_items": settings.max_ingest_items}),
        debug=False,
    )
    document_structs(app)
    document_integer_bounds(app)
    document_errors(app)
    document_body(
        app,
        "POST",
        "/engagement",
        ingest_body(settings.max_ingest_items),
        ingest_body_description(settings.max_ingest_items),
    )
    # Litestar runs route middleware only for matched routes; wrapping the whole ASGI handler
    # gives 404s and 405s the same request id, security headers and rate limits as the rest.
    handler: ASGIApp = CorsPreflightChecks(app.asgi_handler, cors)
    # Error pages show who is signed in: the user is looked up before the app runs (inside the
    # rate limiter, which has often checked the same session already: once per request).
    page_users = PageUserMiddleware(
        handler, container.token_issuer(), container.unit_of_work, container.clock()
    )
    handler = page_users
    if limiter is not None:
        tokens = container.token_issuer()

        async def identify_user(scope: Scope) -> int | None:
            # The full check (revoked, ended by a password change, disabled), kept in the request
            # for the handler's own: an authenticated request costs no extra query. A page's is
            # its session's, renewed from the refresh cookie when its access token expired.
            if is_page_path(scope["path"]):
                outcome = await page_users.resolve(scope)
                return outcome.id if isinstance(outcome, User) else None
            if not (token := served_token(scope)):
                return None
            try:
                return (await authenticate_once(scope, token, tokens, container.unit_of_work)).id
            except DomainError:
                return None

        handler = RateLimitMiddleware(handler, limiter, identify_user)
    # Outside the limiter: its 429 for a renewed session sets the rotated refresh token too.
    handler = SessionCookiesMiddleware(handler)
    # Inside the access log, which says HEAD; all else, rate limits too, serves it as the GET it is.
    handler = HeadAsGet(handler, app.routes)
    handler = RequestContextMiddleware(handler, on_write=container.read_cache().invalidate)
    # Outermost: behind a trusted TLS-terminating proxy, everything after sees the client's scheme.
    app.asgi_handler = ForwardedSchemeMiddleware(handler, TrustedProxies(settings.trusted_proxies))
    return app
