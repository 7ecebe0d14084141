"""Delivering alerts: the notifiers the settings enable, and the dispatcher loop the server
(and ``marketscout notify``) runs over the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from marketscout.adapters.notify.email import SmtpNotifier
from marketscout.adapters.notify.webhook import WebhookNotifier
from marketscout.domain.errors import DomainError
from marketscout.domain.model import Channel
from marketscout.domain.ports import Clock, Notifier
from marketscout.domain.usecases.notifications import DispatchReport, RetryPolicy, dispatch_notifications
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


# The longest wait after failing passes in a row (unless the interval itself is longer).
MAX_FAILED_PASS_DELAY = 300.0


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


def next_pass_delay(interval: float, failures: int) -> float:
    """The wait before the next pass: ``interval``, doubled for each failed pass in a row,
    at most :data:`MAX_FAILED_PASS_DELAY` (or ``interval`` when it is longer)."""
    if failures == 0:
        return interval
    doubled = interval * 2.0 ** min(failures, 30)  # bounded: a float cannot double for ever
    return min(doubled, max(interval, MAX_FAILED_PASS_DELAY))


async def dispatch_forever(
    container: Container, interval: float, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> None:
    """The server's background dispatcher: one pass every ``interval`` seconds. A failing pass
    (the database is down, or a bug) is logged and the loop goes on, after a longer wait while
    passes keep failing; only cancellation (or another BaseException) ends it."""
    failures = 0
    while True:
        try:
            report = await dispatch_once(container)
            if report.delivered or report.retrying or report.dead or report.interrupted:
                logger.info("notifications: %s", report.summary())
            for error in report.errors:
                logger.warning("dead letter: %s", error)
            failures = 0
        except DomainError as error:
            failures += 1
            logger.warning("notification pass failed: %s", error.message)
        except Exception:
            failures += 1
            logger.exception("notification pass failed unexpectedly")
        await sleep(next_pass_delay(interval, failures))
