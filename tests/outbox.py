"""Seeding one alert with its deliveries, for the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime

from marketscout.domain.model import Alert, AlertRule, AlertRuleKind, Channel, Delivery, Product, User
from marketscout.domain.ports import Notification, UnitOfWork

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOTE_TIME = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
# One alert's notification, as a notifier is given it.
NOTE = Notification(
    delivery_id=7,
    alert_id=3,
    user_id=1,
    product_id=5,
    product_name="Sunset Lamp",
    kind="status_exploding",
    event_key="exploding:5:1",
    message="Sunset Lamp is exploding (score 88)",
    created_at=NOTE_TIME,
)


async def seed_outbox(
    uow: UnitOfWork, at: datetime, targets: dict[Channel, str], *, message: str = "Lamp is exploding"
) -> None:
    """A user, a product named Lamp, a rule about it with the channels given, one alert it
    raised, and one delivery per channel."""
    async with uow:
        user = await uow.users.add(User(username="u", email="u@x.example", password_hash="h", created_at=at))
        product = await uow.products.add(Product(name="Lamp", description="", created_at=at))
        rule = await uow.alert_rules.add(
            AlertRule(
                user_id=user.id,
                kind=AlertRuleKind.STATUS_EXPLODING,
                product_id=product.id,
                created_at=at,
                channels=tuple(targets),
                webhook_url=targets.get(Channel.WEBHOOK),
                webhook_secret=SECRET if Channel.WEBHOOK in targets else None,
            )
        )
        alert = await uow.alerts.add_if_new(
            Alert(
                user_id=user.id,
                rule_id=rule.id,
                product_id=product.id,
                kind=AlertRuleKind.STATUS_EXPLODING,
                event_key="e",
                message=message,
                created_at=at,
            )
        )
        assert alert is not None
        for channel, target in targets.items():
            await uow.deliveries.add(
                Delivery(
                    alert_id=alert.id,
                    user_id=user.id,
                    channel=channel,
                    target=target,
                    secret=SECRET if channel == Channel.WEBHOOK else None,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
        await uow.commit()
