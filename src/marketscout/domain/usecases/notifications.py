"""Alert notifications: the outbox each new alert fills, and the dispatcher that empties it.

Evaluating rules stores an alert and, in the same unit of work, one delivery per channel
the rule asks for (the transactional-outbox pattern: an alert is never stored without its
deliveries, nor the reverse). A dispatcher then works through due deliveries:

1. it *claims* a delivery (``pending`` -> ``sending``, attempt counted) and commits;
2. it sends, outside any transaction;
3. it records the outcome: ``delivered``; ``pending`` again with a later attempt time
   (exponential backoff) after a failure that may pass; ``dead`` (the dead letter) after a
   permanent failure or the last attempt.

A notifier raising anything other than ``DeliveryFailed`` (a bug) makes that one delivery a dead
letter with a generic reason (the exception is in the report, for the caller to log) and the pass
goes on with the next. A claim is atomic, so two dispatchers (two workers) never send the same delivery. A delivery
found still ``sending`` after the lease (its dispatcher died between sending and recording)
is never sent again: it becomes a dead letter saying the outcome is unknown. Together these
make delivery *at most once per channel*, across retries and restarts; receivers that
want to be sure can also de-duplicate on the delivery id each message carries.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from marketscout.domain.errors import DeliveryFailed, InvalidValue
from marketscout.domain.model import Alert, AlertRule, Channel, Delivery, DeliveryStatus
from marketscout.domain.ports import Clock, Notification, Notifier, UnitOfWork
from marketscout.domain.text import dns_name, web_url

MAX_URL_LENGTH = 2000
INTERRUPTED = "interrupted while sending: the outcome is unknown, so it is not sent again (at most once)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long a failing delivery is retried."""

    max_attempts: int = 6
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    # A claim older than this is taken for a dispatcher that died mid-attempt.
    sending_lease: timedelta = timedelta(minutes=10)

    def next_attempt(self, attempts: int, now: datetime) -> datetime:
        """After ``attempts`` failed attempts: base, 2x base, 4x base, ..., capped."""
        delay: timedelta = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return now + delay


def new_webhook_secret() -> str:
    """A signing secret in the Standard Webhooks format (``whsec_`` + base64 of 24 bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public_address(address: IpAddress) -> bool:
    """Whether a webhook may be sent to this address: globally routable, so not loopback, a
    private range, link-local (cloud metadata) or reserved, nor one of those inside IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped.is_global
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF).is_global
    return address.is_global


def _ipv4_number(part: str) -> int | None:
    # One part of an IPv4 address as URL parsers and inet_aton read it: 0x hex, 0 octal, decimal.
    base = 10
    if part[:2] in ("0x", "0X"):
        part, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        part, base = part[1:], 8
    if part == "" and base == 16:
        return 0
    try:
        return int(part, base) if part.isalnum() and part.isascii() else None
    except ValueError:
        return None


def literal_address(host: str) -> IpAddress | None:
    """The address a URL's host names without any lookup (``127.0.0.1``, ``::1``, and the
    forms ``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1`` that clients accept too);
    None for a name that only DNS can answer."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    numbers = [_ipv4_number(part) for part in parts]
    if not 1 <= len(numbers) <= 4 or any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    last_max = 256 ** (5 - len(values))
    if any(v > 255 for v in values[:-1]) or values[-1] >= last_max:
        return None
    value = values[-1]
    for index, part in enumerate(values[:-1]):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def is_local_name(host: str) -> bool:
    """``localhost`` and the names under it (RFC 6761), which always mean this machine."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def validate_channels(
    channels: Iterable[Channel], webhook_url: str | None, *, allow_private: bool = False
) -> tuple[Channel, ...]:
    """Raises InvalidValue naming the field when the delivery settings of a rule are wrong.

    A webhook URL naming this machine or a non-public address literally is refused here
    (unless ``allow_private``), in any form clients read as one (checked on the host IDNA-encoded,
    :func:`dns_name`); names are resolved and checked again at every delivery, since DNS can
    change."""
    chosen = tuple(channels)
    if len(set(chosen)) != len(chosen):
        raise InvalidValue("channels", "must not name a channel twice")
    if webhook_url is None:
        if Channel.WEBHOOK in chosen:
            raise InvalidValue("webhook_url", "is required when channels include webhook")
        return chosen
    if Channel.WEBHOOK not in chosen:
        raise InvalidValue("webhook_url", "applies only when channels include webhook")
    parts = web_url("webhook_url", webhook_url, MAX_URL_LENGTH)
    if parts.username is not None or parts.password is not None:
        raise InvalidValue("webhook_url", "must not carry credentials")
    if not allow_private:
        # The host as clients send it (IDNA: ideographic and fullwidth full stops read as dots,
        # fullwidth digits and letters folded), so 127。0。0。1 is 127.0.0.1; web_url made sure
        # there is one and that it encodes.
        host = dns_name(parts.hostname or "") or ""
        address = literal_address(host)
        if is_local_name(host) or (address is not None and not is_public_address(address)):
            raise InvalidValue(
                "webhook_url", "must name a public host (not this machine or a private network)"
            )
    return chosen


def deliveries_for(alert: Alert, rule: AlertRule, email: str, now: datetime) -> list[Delivery]:
    """The outbox rows a newly stored alert needs: one per channel its rule names."""
    made = []
    for channel in rule.channels:
        target = rule.webhook_url if channel == Channel.WEBHOOK else email
        if not target:
            continue
        made.append(
            Delivery(
                alert_id=alert.id,
                user_id=alert.user_id,
                channel=channel,
                target=target,
                secret=rule.webhook_secret if channel == Channel.WEBHOOK else None,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return made


# The last error of a cancelled delivery: why it will never be sent.
RULE_DELETED = "cancelled: the alert rule was deleted"
WEBHOOK_CHANGED = "cancelled: the alert rule's webhook changed"


def _webhook(rule: AlertRule) -> tuple[str | None, str | None] | None:
    return (rule.webhook_url, rule.webhook_secret) if Channel.WEBHOOK in rule.channels else None


def webhook_unchanged(before: AlertRule, after: AlertRule) -> bool:
    """Whether a webhook delivery made for the rule ``before`` still goes where ``after`` sends:
    the webhook channel kept, with the same URL and secret. Otherwise the deliveries waiting are
    cancelled rather than sent to the new URL, which the user did not choose for them."""
    return _webhook(before) is None or _webhook(before) == _webhook(after)


def cancellation(delivery: Delivery, rule: AlertRule | None) -> str | None:
    """Why a delivery may no longer be attempted (its rule gone, or its webhook changed), or None."""
    if rule is None:
        return RULE_DELETED
    if delivery.channel == Channel.WEBHOOK and _webhook(rule) != (delivery.target, delivery.secret):
        return WEBHOOK_CHANGED
    return None


def unexpected_failure(channel: Channel, error: Exception) -> str:
    """The last error of a delivery whose notifier raised something it should not have: generic
    (the exception's text may hold the address), the details are in the server's log."""
    return f"the {channel} notifier failed unexpectedly ({type(error).__name__}): see the server's log"


@dataclass(slots=True)
class DispatchReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    interrupted: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)
    # What a notifier raised other than DeliveryFailed (a bug), by delivery id, for the caller to
    # log with its traceback; each of those deliveries is a dead letter.
    unexpected: list[tuple[int, Exception]] = field(default_factory=list)

    def summary(self) -> str:
        cancelled = f", cancelled {self.cancelled}" if self.cancelled else ""
        return (
            f"delivered {self.delivered}, retrying {self.retrying}, dead letters {self.dead}, "
            f"interrupted {self.interrupted}{cancelled}"
        )


async def dispatch_notifications(
    uow: UnitOfWork,
    clock: Clock,
    notifiers: Mapping[Channel, Notifier],
    *,
    policy: RetryPolicy | None = None,
    limit: int = 100,
) -> DispatchReport:
    """One pass over the outbox: settle interrupted claims, then attempt what is due."""
    policy = policy or RetryPolicy()
    report = DispatchReport()
    now = clock.now()
    async with uow:
        for stale in await uow.deliveries.stale(now - policy.sending_lease):
            await uow.deliveries.record(replace(stale, status=DeliveryStatus.DEAD, last_error=INTERRUPTED))
            report.interrupted += 1
        due = await uow.deliveries.due(now, limit)
        await uow.commit()
    for candidate in due:
        async with uow:
            claimed = await uow.deliveries.claim(candidate.id, clock.now())
            if claimed is None:
                continue  # another dispatcher has it
            alert = await uow.alerts.get(claimed.alert_id)
            product = await uow.products.get(alert.product_id) if alert is not None else None
            await uow.commit()
        error: DeliveryFailed | None = None
        notifier = notifiers.get(claimed.channel)
        if alert is None:
            error = DeliveryFailed("the alert no longer exists", permanent=True)
        elif notifier is None:
            error = DeliveryFailed(
                f"{claimed.channel} delivery is not configured on this server", permanent=True
            )
        else:
            notification = Notification(
                delivery_id=claimed.id,
                alert_id=alert.id,
                user_id=alert.user_id,
                product_id=alert.product_id,
                product_name=product.name if product is not None else f"product {alert.product_id}",
                kind=alert.kind.value,
                event_key=alert.event_key,
                message=alert.message,
                created_at=alert.created_at,
            )
            try:
                await notifier.send(claimed, notification)
            except DeliveryFailed as failed:
                error = failed
            except Exception as unexpected:  # one delivery's bug must not stop the others
                report.unexpected.append((claimed.id, unexpected))
                error = DeliveryFailed(unexpected_failure(claimed.channel, unexpected), permanent=True)
        at = clock.now()
        if error is None:
            outcome = replace(claimed, status=DeliveryStatus.DELIVERED, delivered_at=at, last_error=None)
            report.delivered += 1
        elif error.permanent or claimed.attempts >= policy.max_attempts:
            outcome = replace(claimed, status=DeliveryStatus.DEAD, last_error=error.message[:500])
            report.dead += 1
            report.errors.append(f"delivery {claimed.id} ({claimed.channel}): {error.message}")
        else:
            outcome = replace(
                claimed,
                status=DeliveryStatus.PENDING,
                next_attempt_at=policy.next_attempt(claimed.attempts, at),
                last_error=error.message[:500],
            )
        async with uow:
            if outcome.status == DeliveryStatus.PENDING and alert is not None and alert.rule_id:
                # Its rule deleted or re-targeted while the attempt was under way: that cancelled
                # none of it (it was being sent), so no retry either. Holding the user's rules
                # orders this after (or before) such a change, whose cancel then sees it pending.
                await uow.alert_rules.hold(alert.user_id)
                rules = await uow.alert_rules.list(alert.user_id)
                reason = cancellation(claimed, next((r for r in rules if r.id == alert.rule_id), None))
                if reason is not None:
                    outcome = replace(outcome, status=DeliveryStatus.CANCELLED, last_error=reason)
                    report.cancelled += 1
            if outcome.status == DeliveryStatus.PENDING:
                report.retrying += 1
            await uow.deliveries.record(outcome)
            await uow.commit()
    return report


async def list_deliveries(
    uow: UnitOfWork,
    *,
    user_id: int,
    status: DeliveryStatus | None = None,
    skip: int = 0,
    limit: int = 100,
) -> list[Delivery]:
    async with uow:
        return await uow.deliveries.list(user_id, status=status, skip=skip, limit=limit)
