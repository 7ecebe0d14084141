"""The notification dispatcher: retries with backoff, dead letters, and at most one send per
channel even with two dispatchers or a dispatcher that died mid-attempt."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.domain.errors import DeliveryFailed, InvalidValue
from marketscout.domain.model import AlertRuleKind, Channel, Delivery, DeliveryStatus
from marketscout.domain.ports import Notification, Notifier
from marketscout.domain.usecases.alerts import RuleDefinition, delete_rule, replace_rule
from marketscout.domain.usecases.notifications import (
    INTERRUPTED,
    RetryPolicy,
    dispatch_notifications,
    validate_channels,
)
from tests.outbox import seed_outbox
from tests.unit.fakes import START, FakeClock


class ScriptedNotifier(Notifier):
    """Fails with the scripted errors first, then succeeds; records every attempt."""

    def __init__(self, channel: Channel, failures: list[DeliveryFailed] | None = None) -> None:
        self.channel = channel
        self.failures = list(failures or [])
        self.attempts: list[int] = []
        self.sent: list[Notification] = []

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        self.attempts.append(delivery.id)
        await asyncio.sleep(0)  # let a concurrent dispatcher run in between
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification)


async def _outbox(store: InMemoryStore, channels: tuple[Channel, ...] = (Channel.WEBHOOK,)) -> None:
    targets = {Channel.WEBHOOK: "https://hooks.example/a", Channel.EMAIL: "u@x.example"}
    await seed_outbox(InMemoryUnitOfWork(store), START, {c: targets[c] for c in channels})


async def _deliveries(store: InMemoryStore) -> list[Delivery]:
    uow = InMemoryUnitOfWork(store)
    async with uow:
        return await uow.deliveries.list(1)


async def test_a_delivery_is_sent_once_with_the_alert_and_product() -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store)
    notifier = ScriptedNotifier(Channel.WEBHOOK)
    report = await dispatch_notifications(InMemoryUnitOfWork(store), clock, {Channel.WEBHOOK: notifier})
    assert report.delivered == 1
    assert [(n.product_name, n.message, n.kind) for n in notifier.sent] == [
        ("Lamp", "Lamp is exploding", "status_exploding")
    ]
    clock.advance(timedelta(days=1))
    await dispatch_notifications(InMemoryUnitOfWork(store), clock, {Channel.WEBHOOK: notifier})
    assert len(notifier.attempts) == 1
    [delivery] = await _deliveries(store)
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == (DeliveryStatus.DELIVERED, 1, START)


async def test_failures_back_off_then_become_a_dead_letter() -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store)
    notifier = ScriptedNotifier(Channel.WEBHOOK, [DeliveryFailed(f"503 #{i}") for i in range(10)])
    policy = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=30))
    notifiers = {Channel.WEBHOOK: notifier}
    await dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers, policy=policy)
    [pending] = await _deliveries(store)
    assert (pending.status, pending.attempts, pending.last_error) == (DeliveryStatus.PENDING, 1, "503 #0")
    assert pending.next_attempt_at == START + timedelta(seconds=30)
    clock.advance(timedelta(seconds=29))
    await dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers, policy=policy)
    assert len(notifier.attempts) == 1, "not before its time"
    clock.advance(timedelta(seconds=1))
    await dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers, policy=policy)
    [second] = await _deliveries(store)
    assert second.next_attempt_at == clock.now() + timedelta(seconds=60), "the delay doubles"
    clock.advance(timedelta(minutes=5))
    report = await dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers, policy=policy)
    assert report.dead == 1
    [dead] = await _deliveries(store)
    assert (dead.status, dead.attempts, dead.last_error) == (DeliveryStatus.DEAD, 3, "503 #2")
    clock.advance(timedelta(days=1))
    await dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers, policy=policy)
    assert len(notifier.attempts) == 3, "a dead letter is never retried"


async def test_a_permanent_failure_is_not_retried() -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store)
    notifier = ScriptedNotifier(Channel.WEBHOOK, [DeliveryFailed("410 Gone", permanent=True)])
    report = await dispatch_notifications(InMemoryUnitOfWork(store), clock, {Channel.WEBHOOK: notifier})
    assert (report.dead, report.retrying) == (1, 0)
    [dead] = await _deliveries(store)
    assert dead.last_error == "410 Gone"


async def test_an_unconfigured_channel_is_a_dead_letter_not_a_crash() -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store, (Channel.EMAIL,))
    report = await dispatch_notifications(InMemoryUnitOfWork(store), clock, {})
    assert report.dead == 1
    [dead] = await _deliveries(store)
    assert dead.last_error == "email delivery is not configured on this server"


class BrokenNotifier(ScriptedNotifier):
    """A notifier with a bug: raises something other than DeliveryFailed."""

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        self.attempts.append(delivery.id)
        raise AttributeError("'Group' object has no attribute 'local_part'")


async def test_an_unexpected_error_from_a_notifier_fails_that_delivery_and_the_pass_goes_on() -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store, (Channel.EMAIL, Channel.WEBHOOK))
    broken, webhook = BrokenNotifier(Channel.EMAIL), ScriptedNotifier(Channel.WEBHOOK)
    notifiers: dict[Channel, Notifier] = {Channel.EMAIL: broken, Channel.WEBHOOK: webhook}
    report = await dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers)
    assert (report.delivered, report.dead, report.retrying) == (1, 1, 0)
    assert len(webhook.sent) == 1, "the next delivery is sent all the same"
    [(failed_id, error)] = report.unexpected
    assert isinstance(error, AttributeError)
    assert error.__traceback__ is not None, "kept for the log"
    deliveries = {d.channel: d for d in await _deliveries(store)}
    dead = deliveries[Channel.EMAIL]
    assert (dead.id, dead.status) == (failed_id, DeliveryStatus.DEAD)
    assert dead.last_error == "the email notifier failed unexpectedly (AttributeError): see the server's log"
    clock.advance(timedelta(days=1))
    await dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers)
    assert broken.attempts == [failed_id], "a dead letter, never retried"


async def test_two_dispatchers_never_send_the_same_delivery() -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store, (Channel.WEBHOOK, Channel.EMAIL))
    webhook, mail = ScriptedNotifier(Channel.WEBHOOK), ScriptedNotifier(Channel.EMAIL)
    notifiers: dict[Channel, Notifier] = {Channel.WEBHOOK: webhook, Channel.EMAIL: mail}
    reports = await asyncio.gather(
        dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers),
        dispatch_notifications(InMemoryUnitOfWork(store), clock, notifiers),
    )
    assert sum(r.delivered for r in reports) == 2
    assert (len(webhook.attempts), len(mail.attempts)) == (1, 1)


async def test_a_claim_left_by_a_dead_dispatcher_is_never_resent() -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store)
    uow = InMemoryUnitOfWork(store)
    async with uow:  # a dispatcher claims, maybe sends, and dies before recording
        assert await uow.deliveries.claim(1, clock.now()) is not None
        await uow.commit()
    notifier = ScriptedNotifier(Channel.WEBHOOK)
    policy = RetryPolicy(sending_lease=timedelta(minutes=10))
    clock.advance(timedelta(minutes=9))
    report = await dispatch_notifications(
        InMemoryUnitOfWork(store), clock, {Channel.WEBHOOK: notifier}, policy=policy
    )
    assert report.interrupted == 0, "within the lease the claim may still be in flight"
    clock.advance(timedelta(minutes=2))
    report = await dispatch_notifications(
        InMemoryUnitOfWork(store), clock, {Channel.WEBHOOK: notifier}, policy=policy
    )
    assert report.interrupted == 1
    assert notifier.attempts == []
    [dead] = await _deliveries(store)
    assert (dead.status, dead.last_error) == (DeliveryStatus.DEAD, INTERRUPTED)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=5))
    delays = [policy.next_attempt(n, START) - START for n in range(1, 7)]
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240, 300, 300)]


@pytest.mark.parametrize(
    ("channels", "url", "field"),
    [
        ([Channel.WEBHOOK], None, "webhook_url"),
        ([], "https://a.example", "webhook_url"),
        ([Channel.EMAIL, Channel.EMAIL], None, "channels"),
        ([Channel.WEBHOOK], "javascript:alert(1)", "webhook_url"),
        ([Channel.WEBHOOK], "https://a.example:99999/x", "webhook_url"),
        ([Channel.WEBHOOK], "https://" + "a" * 2000 + ".example", "webhook_url"),
    ],
)
def test_delivery_settings_are_validated(channels: list[Channel], url: str | None, field: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        validate_channels(channels, url)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "url",
    [
        "http://" + "a" * 64 + ".example.com/",  # a label longer than 63 octets
        "http://a..example.com/",  # an empty label
        "http://.example.com/",
        "http://example..com./x",
        "http://" + "abcdefghi." * 26 + "com/",  # 263 characters in all
        "http://" + "ä" * 60 + ".example/",  # 63 characters, longer once IDNA-encoded
        "http://a!b.example.com/",
        "http://%61.example.com/",
    ],
)
def test_webhook_hosts_that_are_not_dns_names_are_refused(url: str) -> None:
    """Such a host could not be looked up (the IDNA codec raises): refused when the rule is made."""
    for allow_private in (False, True):
        with pytest.raises(InvalidValue) as raised:
            validate_channels([Channel.WEBHOOK], url, allow_private=allow_private)
        assert raised.value.field == "webhook_url"
        assert "DNS name" in raised.value.rule


@pytest.mark.parametrize(
    "url",
    [
        "https://" + "a" * 63 + ".example.com/",
        "https://hooks.example.com./x",  # the root's trailing dot
        "https://my_hooks.example.com/x",
        "https://bücher.example/x",
        "http://[2606:4700::1111]:8080/x",
    ],
)
def test_webhook_hosts_that_are_dns_names_or_addresses_pass(url: str) -> None:
    assert validate_channels([Channel.WEBHOOK], url) == (Channel.WEBHOOK,)


def test_valid_delivery_settings_pass() -> None:
    assert validate_channels([Channel.WEBHOOK, Channel.EMAIL], "https://hooks.example:8443/a?b=c") == (
        Channel.WEBHOOK,
        Channel.EMAIL,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest",  # cloud metadata
        "http://127.0.0.1:9/x",
        "http://[::1]/x",
        "http://localhost/x",
        "http://LocalHost./x",
        "http://api.localhost/x",
        "http://0x7f000001/x",  # 127.0.0.1 written as one hexadecimal number
        "http://2130706433/x",  # the same as one decimal number
        "http://0177.0.0.1/x",  # octal
        "http://127.1/x",
        "http://10.0.0.7/x",
        "http://192.168.1.1./x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[fe80::1]/x",
        "http://0.0.0.0/x",
        # Written with the dots and fullwidth forms clients map (IDNA) to the address or name.
        "http://127\u30020\u30020\u30021:8790/",  # ideographic full stops
        "http://LOCALHOST\uff61/",  # a halfwidth ideographic full stop
        "http://\uff11\uff16\uff19\uff0e\uff12\uff15\uff14\uff0e\uff11\uff16\uff19\uff0e\uff12\uff15\uff14/",
        "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/x",  # fullwidth localhost
        "http://api\uff0elocalhost/x",
        "http://\uff10\uff58\uff17\uff46\uff10\uff10\uff10\uff10\uff10\uff11/x",  # fullwidth 0x7f000001
    ],
)
def test_webhooks_to_literal_private_addresses_are_refused_at_creation(url: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        validate_channels([Channel.WEBHOOK], url)
    assert raised.value.field == "webhook_url"
    assert "public" in raised.value.rule
    # A local setup that allows private receivers may name them.
    assert validate_channels([Channel.WEBHOOK], url, allow_private=True) == (Channel.WEBHOOK,)


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example/x", "http://8.8.8.8/x", "http://[2606:4700::1111]/x", "http://0x.example/x"],
)
def test_public_or_named_webhook_hosts_pass_without_a_lookup(url: str) -> None:
    """Names other than localhost are checked when sending (DNS can change), not here."""
    assert validate_channels([Channel.WEBHOOK], url) == (Channel.WEBHOOK,)


class ChangingNotifier(ScriptedNotifier):
    """While its (failing) attempt is under way, the rule is deleted or its webhook removed."""

    def __init__(self, store: InMemoryStore, change: str, clock: FakeClock) -> None:
        super().__init__(Channel.WEBHOOK, [DeliveryFailed("503")])
        self.store = store
        self.change = change
        self.clock = clock

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        uow = InMemoryUnitOfWork(self.store)
        if self.change == "delete":
            await delete_rule(uow, user_id=1, rule_id=1)
        else:
            definition = RuleDefinition(kind=AlertRuleKind.STATUS_EXPLODING)
            await replace_rule(uow, self.clock, user_id=1, rule_id=1, definition=definition)
        await super().send(delivery, notification)


@pytest.mark.parametrize("change", ["delete", "no webhook"])
async def test_an_attempt_under_way_when_its_rule_changes_is_not_retried(change: str) -> None:
    store, clock = InMemoryStore(), FakeClock()
    await _outbox(store)
    notifier = ChangingNotifier(store, change, clock)
    report = await dispatch_notifications(InMemoryUnitOfWork(store), clock, {Channel.WEBHOOK: notifier})
    assert (report.retrying, report.cancelled) == (0, 1)
    clock.advance(timedelta(days=1))
    await dispatch_notifications(InMemoryUnitOfWork(store), clock, {Channel.WEBHOOK: notifier})
    assert notifier.attempts == [1], "the one attempt under way, never another"
    [delivery] = await _deliveries(store)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.CANCELLED, 1)
    assert delivery.last_error is not None and delivery.last_error.startswith("cancelled: ")
