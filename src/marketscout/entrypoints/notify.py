"""Delivering alerts: the notifiers the settings enable, and the dispatcher loop the server
(and ``marketscout notify``) runs over the outbox."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from marketscout.adapters.notify.email import SmtpNotifier
from marketscout.adapters.notify.webhook import WebhookNotifier
from marketscout.domain.model import Channel
from marketscout.domain.ports import Clock, Notifier
from marketscout.domain.usecases.notifications import DispatchReport, RetryPolicy, dispatch_notifications
from marketscout.entrypoints.background import Wait, repeat_forever
from marketscout.entrypoints.settings import Settings

if TYPE_CHECKING:
    from marketscout.entrypoints.container import Container

logger = logging.getLogger("marketscout.notify")


def available_channels(settings: Settings) -> tuple[Channel, ...]:
    """Webhooks always; e-mail only when a mail server is configured."""
    return (Channel.WEBHOOK, Channel.EMAIL) if settings.smtp_host else (Channel.WEBHOOK,)


def build_notifiers(settings: Settings, clock: Clock) -> dict[Channel, Notifier]:
    notifiers: dict[Channel, Notifier] = {
        Channel.WEBHOOK: WebhookNotifier(
            clock, timeout=settings.webhook_timeout, allow_private=settings.webhook_allow_private
        )
    }
    if settings.smtp_host:
        notifiers[Channel.EMAIL] = SmtpNotifier(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password,
            security=settings.smtp_security,
            timeout=settings.webhook_timeout,
        )
    return notifiers


async def dispatch_once(container: Container) -> DispatchReport:
    """One pass; what a notifier raised unexpectedly is logged here with its traceback (the
    message names the delivery and channel, never its address or secret)."""
    settings = container.settings()
    report = await dispatch_notifications(
        container.unit_of_work(),
        container.clock(),
        container.notifiers(),
        policy=RetryPolicy(max_attempts=settings.notify_max_attempts),
    )
    for delivery_id, error in report.unexpected:
        logger.error("delivery %d: the notifier failed unexpectedly", delivery_id, exc_info=error)
    return report


async def dispatch_forever(container: Container, interval: float, *, sleep: Wait = asyncio.sleep) -> None:
    """The server's background dispatcher: one pass every ``interval`` seconds, which a failing
    pass (the database is down, or a bug) does not end (:func:`repeat_forever`)."""

    async def one_pass() -> None:
        report = await dispatch_once(container)
        if report.delivered or report.retrying or report.dead or report.interrupted:
            logger.info("notifications: %s", report.summary())
        for error in report.errors:
            logger.warning("dead letter: %s", error)

    await repeat_forever(one_pass, interval, what="notification pass", logger=logger, sleep=sleep)
