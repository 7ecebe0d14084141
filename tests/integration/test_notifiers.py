"""The notifier adapters against local receivers: signatures, failures, and the SSRF guard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.notify.email import SmtpNotifier
from marketscout.adapters.notify.webhook import WebhookNotifier, sign, verify
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.errors import DeliveryFailed
from marketscout.domain.model import Channel, Delivery, DeliveryStatus
from marketscout.domain.ports import Notification, Notifier, UnitOfWork
from marketscout.domain.usecases.notifications import INTERRUPTED, RetryPolicy, dispatch_notifications
from marketscout.entrypoints.cli import main
from tests.outbox import NOTE, NOTE_TIME, SECRET, seed_outbox
from tests.receivers import SmtpSink, WebhookReceiver, smtp_sink, webhook_receiver

NOW = NOTE_TIME


def _delivery(target: str, channel: Channel = Channel.WEBHOOK) -> Delivery:
    return Delivery(
        id=7,
        alert_id=3,
        user_id=1,
        channel=channel,
        target=target,
        secret=SECRET if channel == Channel.WEBHOOK else None,
        next_attempt_at=NOW,
        created_at=NOW,
    )


def test_signature_matches_the_standard_webhooks_example() -> None:
    # The worked example of the Standard Webhooks specification (standard-webhooks/spec).
    body = b'{"test": 2432232314}'
    assert sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_verify_refuses_tampering_wrong_secrets_and_old_timestamps() -> None:
    body = b'{"a":1}'
    ts = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(SECRET, "msg_1", ts, body),
    }
    assert verify(SECRET, headers, body, time.time())
    assert not verify(SECRET, headers, b'{"a":2}', time.time())
    assert not verify("whsec_" + "A" * 32, headers, body, time.time())
    assert not verify(SECRET, {**headers, "webhook-id": "msg_2"}, body, time.time())
    assert not verify(SECRET, headers, body, time.time() + 3600), "a replay an hour later is refused"
    assert not verify(SECRET, {"webhook-id": "msg_1"}, body, time.time())


async def test_webhook_is_signed_and_delivered() -> None:
    receiver = WebhookReceiver(secret=SECRET, now=NOW.timestamp)
    with webhook_receiver(receiver):
        notifier = WebhookNotifier(FixedClock(NOW), allow_private=True)
        await notifier.send(_delivery(receiver.url), NOTE)
    assert len(receiver.accepted) == 1
    sent = receiver.accepted[0]
    assert sent["headers"]["webhook-id"] == "msg_7"
    assert sent["headers"]["content-type"] == "application/json"
    assert sent["json"]["alert"] == {
        "id": 3,
        "kind": "status_exploding",
        "product_id": 5,
        "product_name": "Sunset Lamp",
        "message": "Sunset Lamp is exploding (score 88)",
        "event_key": "exploding:5:1",
        "created_at": NOW.isoformat(),
    }


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (429, False), (404, False), (410, True)])
async def test_a_failing_receiver_is_a_delivery_failure(status: int, permanent: bool) -> None:
    receiver = WebhookReceiver(secret=SECRET, fail_first=1, fail_status=status)
    with webhook_receiver(receiver):
        notifier = WebhookNotifier(FixedClock(NOW), allow_private=True)
        with pytest.raises(DeliveryFailed) as raised:
            await notifier.send(_delivery(receiver.url), NOTE)
    assert raised.value.permanent is permanent
    assert str(status) in raised.value.message


async def test_an_unreachable_receiver_is_retried_later() -> None:
    notifier = WebhookNotifier(FixedClock(NOW), allow_private=True, timeout=2)
    with pytest.raises(DeliveryFailed) as raised:
        await notifier.send(_delivery("http://127.0.0.1:9/none"), NOTE)  # discard port: refused
    assert raised.value.permanent is False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
    ],
)
async def test_webhooks_to_internal_addresses_are_refused(url: str) -> None:
    receiver = WebhookReceiver(secret=SECRET)
    with webhook_receiver(receiver):
        notifier = WebhookNotifier(FixedClock(NOW))  # the default: the SSRF guard is on
        with pytest.raises(DeliveryFailed) as raised:
            await notifier.send(_delivery(url.replace(":8000", f":{receiver.port}")), NOTE)
    assert raised.value.permanent
    assert "non-public" in raised.value.message
    assert receiver.requests == []


@pytest.mark.parametrize(
    "host", ["a..example.com", "a" * 64 + ".example.com", ".example.com", ("a" * 60 + ".") * 5 + "com"]
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_a_webhook_host_that_cannot_be_looked_up_is_a_permanent_failure(
    host: str, allow_private: bool
) -> None:
    """Stored before the URL rule refused them, such hosts make the IDNA codec raise UnicodeError
    in the lookup: a dead letter saying so, not an exception out of the notifier."""
    notifier = WebhookNotifier(FixedClock(NOW), allow_private=allow_private)
    with pytest.raises(DeliveryFailed) as raised:
        await notifier.send(_delivery(f"http://{host}/hook"), NOTE)
    assert raised.value.permanent
    assert raised.value.message.startswith("the webhook URL's host cannot be looked up")


async def test_rules_stored_with_unusable_addresses_do_not_stop_the_others(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    """On every store: the webhook of a rule stored with a host no resolver takes becomes a dead
    letter, and the same pass delivers the e-mail all the same."""
    sink = SmtpSink()
    with smtp_sink(sink):
        targets = {Channel.WEBHOOK: f"http://{'a' * 64}.example.com/", Channel.EMAIL: "ana@example.com"}
        await seed_outbox(uow_factory(), NOW, targets)
        notifiers: dict[Channel, Notifier] = {
            Channel.WEBHOOK: WebhookNotifier(FixedClock(NOW)),
            Channel.EMAIL: SmtpNotifier("127.0.0.1", sink.port, "alerts@marketscout.example"),
        }
        report = await dispatch_notifications(uow_factory(), FixedClock(NOW), notifiers)
    assert (report.delivered, report.dead, report.retrying) == (1, 1, 0)
    uow = uow_factory()
    async with uow:
        deliveries = {d.channel: d for d in await uow.deliveries.list(1)}
    assert deliveries[Channel.EMAIL].status == DeliveryStatus.DELIVERED
    assert deliveries[Channel.WEBHOOK].status == DeliveryStatus.DEAD
    assert (deliveries[Channel.WEBHOOK].last_error or "").startswith(
        "the webhook URL's host cannot be looked up"
    )
    assert sink.envelopes == [("alerts@marketscout.example", ["ana@example.com"])]


class Crash(BaseException):
    """What no dispatcher survives (its process killed, say), raised in the middle of a send."""


class CrashingNotifier(Notifier):
    channel = Channel.WEBHOOK

    def __init__(self) -> None:
        self.attempts = 0

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        self.attempts += 1
        raise Crash


async def test_a_delivery_left_sending_by_a_crashed_dispatcher_becomes_a_dead_letter_after_the_lease(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    """On every store: a pass that dies mid-send leaves its claim ``sending``; once the lease is
    over the next pass settles it as interrupted (never resent: it may have arrived)."""
    await seed_outbox(uow_factory(), NOW, {Channel.WEBHOOK: "https://hooks.example/a"})
    crashing = CrashingNotifier()
    policy = RetryPolicy()
    with pytest.raises(Crash):
        await dispatch_notifications(uow_factory(), FixedClock(NOW), {Channel.WEBHOOK: crashing})
    uow = uow_factory()
    async with uow:
        [left] = await uow.deliveries.list(1)
    assert (left.status, left.attempts) == (DeliveryStatus.SENDING, 1)
    within = FixedClock(NOW + policy.sending_lease - timedelta(seconds=1))
    report = await dispatch_notifications(uow_factory(), within, {Channel.WEBHOOK: crashing}, policy=policy)
    assert report.interrupted == 0
    after = FixedClock(NOW + policy.sending_lease + timedelta(seconds=1))
    report = await dispatch_notifications(uow_factory(), after, {Channel.WEBHOOK: crashing}, policy=policy)
    assert report.interrupted == 1
    assert crashing.attempts == 1
    async with uow:
        [settled] = await uow.deliveries.list(1)
    assert (settled.status, settled.last_error) == (DeliveryStatus.DEAD, INTERRUPTED)


async def test_email_is_sent_through_smtp() -> None:
    sink = SmtpSink()
    with smtp_sink(sink):
        notifier = SmtpNotifier("127.0.0.1", sink.port, "alerts@marketscout.example")
        await notifier.send(_delivery("ana@example.com", Channel.EMAIL), NOTE)
    [message] = sink.messages
    assert message["From"] == "alerts@marketscout.example"
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "MarketScout alert: Sunset Lamp"
    assert message["Message-ID"] == "<delivery-7.alert-3@marketscout.example>"
    assert "Sunset Lamp is exploding (score 88)" in message.get_content()
    assert sink.envelopes == [("alerts@marketscout.example", ["ana@example.com"])]


@pytest.mark.parametrize(
    "target",
    [
        "g:root;x123@example.com",  # a group: building the To header raised AttributeError
        "x<postmaster>@example.com",  # the To header reads as postmaster
        "root,me123@example.com",  # two recipients
        "ana(comment)@example.com",
        "Ana <ana@example.com>",
    ],
)
async def test_an_account_address_that_is_not_one_plain_address_is_refused(target: str) -> None:
    """Accounts stored before sign-up refused such addresses: no message goes anywhere (no RCPT to
    whoever the header parser finds in it), a permanent failure saying why."""
    sink = SmtpSink()
    with smtp_sink(sink):
        notifier = SmtpNotifier("127.0.0.1", sink.port, "alerts@marketscout.example")
        with pytest.raises(DeliveryFailed) as raised:
            await notifier.send(_delivery(target, Channel.EMAIL), NOTE)
    assert raised.value.permanent
    assert raised.value.message == "the account's e-mail address is not one plain address"
    assert (sink.envelopes, sink.messages) == ([], [])


async def test_a_message_that_cannot_be_built_is_a_permanent_failure() -> None:
    notifier = SmtpNotifier("127.0.0.1", 9, "alerts@marketscout.example")
    with pytest.raises(DeliveryFailed) as raised:
        await notifier.send(_delivery("ana@example.com", Channel.EMAIL), replace(NOTE, product_name="a\nb"))
    assert raised.value.permanent
    assert raised.value.message.startswith("the message could not be built")


@pytest.mark.parametrize(("code", "permanent"), [(451, False), (554, True)])
async def test_mail_server_refusals(code: int, permanent: bool) -> None:
    sink = SmtpSink(refuse_first=1, refuse_code=code)
    with smtp_sink(sink):
        notifier = SmtpNotifier("127.0.0.1", sink.port, "alerts@marketscout.example")
        with pytest.raises(DeliveryFailed) as raised:
            await notifier.send(_delivery("ana@example.com", Channel.EMAIL), NOTE)
    assert raised.value.permanent is permanent
    assert sink.messages == []


async def test_an_unreachable_mail_server_is_retried_later() -> None:
    notifier = SmtpNotifier("127.0.0.1", 9, "alerts@marketscout.example", timeout=2)
    with pytest.raises(DeliveryFailed) as raised:
        await notifier.send(_delivery("ana@example.com", Channel.EMAIL), NOTE)
    assert raised.value.permanent is False


async def test_the_notify_command_delivers_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'n.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    receiver = WebhookReceiver(secret=SECRET)
    with webhook_receiver(receiver):
        await seed_outbox(uow, NOW, {Channel.WEBHOOK: receiver.url}, message="Sunset Lamp is exploding")
        await engine.dispose()
        monkeypatch.setenv("MARKETSCOUT_WEBHOOK_ALLOW_PRIVATE", "true")
        monkeypatch.setenv("MARKETSCOUT_LOG_LEVEL", "WARNING")
        await asyncio.to_thread(main, ["notify", "--database-url", url])
        await asyncio.to_thread(main, ["notify", "--database-url", url])
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "delivered 1, retrying 0, dead letters 0, interrupted 0",
        "delivered 0, retrying 0, dead letters 0, interrupted 0",
    ]
    assert [r["json"]["alert"]["message"] for r in receiver.accepted] == ["Sunset Lamp is exploding"]
