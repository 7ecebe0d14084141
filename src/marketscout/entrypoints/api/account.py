"""A user's own things: watchlist, alert rules, alerts and exports."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter

from marketscout.domain.errors import InvalidValue
from marketscout.domain.model import DeliveryStatus, User
from marketscout.domain.ports import Clock, UnitOfWork
from marketscout.domain.usecases import alerts, export, notifications, watchlists
from marketscout.entrypoints.api.cache import ReadCache
from marketscout.entrypoints.api.params import Limit, PathId, Skip
from marketscout.entrypoints.notify import available_channels
from marketscout.entrypoints.openapi import sent_header
from marketscout.entrypoints.schemas import (
    AlertOut,
    AlertRuleIn,
    AlertRuleOut,
    CheckAlertsOut,
    DeliveryOut,
    MarkReadIn,
    MarkReadOut,
    WatchIn,
    WatchlistOut,
)

ExportType = Annotated[
    str,
    # Read as any text, so that another answers the contract's 400 naming the allowed values.
    PathParameter(description="What to export", schema_extra={"enum": list(export.EXPORT_TYPES)}),
]
_COLUMNS = {"watchlist": export.WATCHLIST_HEADER, "trends": export.TRENDS_HEADER}
EXPORT_DESCRIPTION = (
    "CSV (RFC 4180, CRLF line ends) with a header row, also when there are no rows: "
    + "; ".join(f"`{kind}`: `{','.join(_COLUMNS[kind])}`" for kind in export.EXPORT_TYPES)
    + ". Cells a spreadsheet would run as a formula start with a `'`."
)


def _definition(data: AlertRuleIn) -> alerts.RuleDefinition:
    return alerts.RuleDefinition(
        kind=data.kind,
        product_id=data.product_id,
        threshold=data.threshold,
        window_hours=data.window_hours,
        channels=tuple(data.channels),
        webhook_url=data.webhook_url,
    )


class WatchlistController(Controller):
    path = "/watchlists"
    tags = ["watchlists"]

    @get("/", summary="The user's watchlist")
    async def list_watchlist(
        self,
        uow: NamedDependency[UnitOfWork],
        user: NamedDependency[User],
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> list[WatchlistOut]:
        """Oldest first."""
        found = await watchlists.list_watchlist(uow, user_id=user.id, skip=skip, limit=limit)
        return [WatchlistOut.of(e) for e in found]

    @post(
        "/",
        status_code=201,
        summary="Add a product to the watchlist",
        responses={
            200: ResponseSpec(WatchlistOut, description="Already on the watchlist: the existing entry")
        },
    )
    async def watch(
        self,
        data: JSONBody[WatchIn],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
    ) -> Response[WatchlistOut]:
        """201 with the new entry; 200 with the existing entry when the product is already on the list."""
        result = await watchlists.watch(uow, clock, user_id=user.id, product_id=data.product_id)
        return Response(WatchlistOut.of(result.entry), status_code=201 if result.created else 200)

    @delete("/{product_id:int}", status_code=204, summary="Remove a product from the watchlist")
    async def unwatch(
        self, product_id: PathId, uow: NamedDependency[UnitOfWork], user: NamedDependency[User]
    ) -> None:
        await watchlists.unwatch(uow, user_id=user.id, product_id=product_id)


class AlertController(Controller):
    tags = ["alerts"]

    @get("/check-alerts", summary="Evaluate the user's alert rules now")
    async def check_alerts(
        self,
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        cache: NamedDependency[ReadCache],
        user: NamedDependency[User],
    ) -> CheckAlertsOut:
        """Re-scores the products the user's rules cover, stores new alerts (each event once)
        and returns their messages."""
        found = await alerts.check_alerts(uow, clock, user_id=user.id)
        cache.invalidate()  # a GET that re-scores: the middleware clears the cache only for writes
        return CheckAlertsOut(alerts=[a.message for a in found], new_alerts=[AlertOut.of(a) for a in found])

    @get("/alerts", summary="The user's alerts, newest first")
    async def list_alerts(
        self,
        uow: NamedDependency[UnitOfWork],
        user: NamedDependency[User],
        unread: FromQuery[bool] = False,
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> list[AlertOut]:
        found = await alerts.list_alerts(uow, user_id=user.id, unread_only=unread, skip=skip, limit=limit)
        return [AlertOut.of(a) for a in found]

    @post("/alerts/read", status_code=200, summary="Mark alerts read (all when alert_ids is omitted)")
    async def mark_read(
        self,
        data: JSONBody[MarkReadIn],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
    ) -> MarkReadOut:
        changed = await alerts.mark_alerts_read(uow, clock, user_id=user.id, alert_ids=data.alert_ids)
        return MarkReadOut(marked_read=changed)

    @get("/alert-rules", summary="The user's alert rules")
    async def list_rules(
        self,
        uow: NamedDependency[UnitOfWork],
        user: NamedDependency[User],
        skip: Skip = 0,
        limit: Limit = 100,
    ) -> list[AlertRuleOut]:
        """Oldest first."""
        found = await alerts.list_rules(uow, user_id=user.id, skip=skip, limit=limit)
        return [AlertRuleOut.of(r) for r in found]

    @post("/alert-rules", status_code=201, summary="Create an alert rule")
    async def create_rule(
        self,
        data: JSONBody[AlertRuleIn],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
        state: State,
    ) -> AlertRuleOut:
        """A rule may deliver its alerts to a webhook and by e-mail (``channels``). The answer
        carries the webhook signing secret; it is not shown again."""
        settings = state.container.settings()
        rule = await alerts.create_rule(
            uow,
            clock,
            user_id=user.id,
            definition=_definition(data),
            available_channels=available_channels(settings),
            allow_private_webhooks=settings.webhook_allow_private,
        )
        return AlertRuleOut.of(rule, with_secret=True)

    @put("/alert-rules/{rule_id:int}", status_code=200, summary="Change an alert rule")
    async def replace_rule(
        self,
        rule_id: PathId,
        data: JSONBody[AlertRuleIn],
        uow: NamedDependency[UnitOfWork],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
        state: State,
    ) -> AlertRuleOut:
        """The rule's new definition, whole (as for creating one); its id, creation time and
        the alerts it raised stay; a changed question (kind, product, threshold, window) is
        judged from now, as a new rule's would be. The webhook signing secret stays while
        ``webhook_url`` does and is not shown again; a new URL gets a new secret, in this answer
        only. 404 for a rule that is not the user's; 409 when identical to another of theirs."""
        settings = state.container.settings()
        rule, new_secret = await alerts.replace_rule(
            uow,
            clock,
            user_id=user.id,
            rule_id=rule_id,
            definition=_definition(data),
            available_channels=available_channels(settings),
            allow_private_webhooks=settings.webhook_allow_private,
        )
        return AlertRuleOut.of(rule, with_secret=new_secret)

    @get("/deliveries", summary="Where the user's alerts were sent: deliveries and dead letters")
    async def list_deliveries(
        self,
        uow: NamedDependency[UnitOfWork],
        user: NamedDependency[User],
        skip: Skip = 0,
        limit: Limit = 100,
        status: FromQuery[DeliveryStatus | None] = None,
    ) -> list[DeliveryOut]:
        """Newest first; ``status=dead`` lists the dead letters with their last error."""
        found = await notifications.list_deliveries(
            uow, user_id=user.id, status=status, skip=skip, limit=limit
        )
        return [DeliveryOut.of(d) for d in found]

    @delete("/alert-rules/{rule_id:int}", status_code=204, summary="Delete an alert rule")
    async def delete_rule(
        self, rule_id: PathId, uow: NamedDependency[UnitOfWork], user: NamedDependency[User]
    ) -> None:
        await alerts.delete_rule(uow, user_id=user.id, rule_id=rule_id)


class ExportController(Controller):
    tags = ["export"]

    @get(
        "/export/{data_type:str}",
        summary="Download the user's watchlist or trends as CSV",
        media_type="text/csv",
        response_description=EXPORT_DESCRIPTION,
        response_headers=[sent_header("Content-Disposition", "attachment; filename={data_type}_export.csv")],
    )
    async def export_csv(
        self, data_type: ExportType, uow: NamedDependency[UnitOfWork], user: NamedDependency[User]
    ) -> Response[str]:
        """400 for a type other than `watchlist` or `trends`."""
        try:
            body = await export.export_csv(uow, user_id=user.id, data_type=data_type)
        except InvalidValue as error:
            raise HTTPException(
                status_code=400,
                detail=f"Unknown export type; {error.rule}",
                extra=[{"key": "data_type", "message": error.rule}],
            ) from None
        return Response(
            body,
            media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
            headers={"Content-Disposition": f"attachment; filename={data_type}_export.csv"},
        )
