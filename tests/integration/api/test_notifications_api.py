"""Alerts delivered by signed webhook and e-mail: to local receivers, exactly once, on every store."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.errors import Unavailable
from marketscout.domain.model import Channel, Delivery
from marketscout.domain.ports import Notification, Notifier
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.notify import dispatch_forever, dispatch_once
from marketscout.entrypoints.settings import Settings
from tests.integration.api.support import (
    MovableClock,
    RecordedWaits,
    StopLoop,
    app_logging_to,
    build_container,
    setup_ad,
    sign_up,
    snap,
)
from tests.outbox import SECRET, seed_outbox
from tests.receivers import SmtpSink, WebhookReceiver, smtp_sink, webhook_receiver

Client = AsyncTestClient[Litestar]


async def test_alerts_reach_a_webhook_and_a_mailbox_exactly_once(
    settings: Settings, clock: MovableClock, database_url: str
) -> None:
    receiver = WebhookReceiver(fail_first=1, now=lambda: clock.now().timestamp())
    sink = SmtpSink(refuse_first=1)
    with webhook_receiver(receiver), smtp_sink(sink):
        configured = dataclasses.replace(
            settings, smtp_host="127.0.0.1", smtp_port=sink.port, webhook_allow_private=True
        )
        container = build_container(configured, clock)
        async with AsyncTestClient(app=create_app(container), base_url="http://127.0.0.1:8000") as client:
            headers = await sign_up(client, "hunter")
            product_id, ad_id = await setup_ad(client, headers)
            peers = [(await setup_ad(client, headers, external_id=f"peer-{i}"))[1] for i in range(6)]
            rule = await client.post(
                "/alert-rules",
                json={
                    "kind": "new_viral_ad",
                    "product_id": product_id,
                    "channels": ["webhook", "email"],
                    "webhook_url": receiver.url,
                },
                headers=headers,
            )
            assert rule.status_code == 201, rule.text
            receiver.secret = rule.json()["webhook_secret"]
            assert receiver.secret.startswith("whsec_")
            listed = (await client.get("/alert-rules", headers=headers)).json()
            assert listed[0]["channels"] == ["webhook", "email"]
            assert listed[0]["webhook_secret"] is None, "the secret is shown only once"

            batch = []
            for hours in range(96, -1, -12):
                batch.append(snap(ad_id, hours, int(1000 * 1.9 ** ((96 - hours) / 12))))
                batch.extend(snap(peer, hours, 1000 + (96 - hours) * 5) for peer in peers)
            assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
            alerts = (await client.get("/alerts", headers=headers)).json()
            assert [a["kind"] for a in alerts] == ["new_viral_ad"]

            first = await dispatch_once(container)  # both receivers fail on purpose once
            assert (first.delivered, first.retrying) == (0, 2)
            again = await dispatch_once(container)
            assert again.delivered == 0, "nothing is retried before its backoff is over"
            clock.advance(timedelta(minutes=1))
            second = await dispatch_once(container)
            assert (second.delivered, second.retrying, second.dead) == (2, 0, 0)

            deliveries = (await client.get("/deliveries", headers=headers)).json()
            assert sorted((d["channel"], d["status"], d["attempts"]) for d in deliveries) == [
                ("email", "delivered", 2),
                ("webhook", "delivered", 2),
            ]
            other = await sign_up(client, "someone_else")
            assert (await client.get("/deliveries", headers=other)).json() == []
            clock.advance(timedelta(hours=2))
            assert (await dispatch_once(container)).delivered == 0

        if not database_url.startswith("memory"):
            # A restarted server over the same database sends nothing again.
            restarted = build_container(configured, clock)
            async with AsyncTestClient(app=create_app(restarted), base_url="http://127.0.0.1:8000"):
                assert (await dispatch_once(restarted)).delivered == 0

    assert len(receiver.requests) == 2
    assert len(receiver.accepted) == 1
    assert receiver.bad_signatures == 0
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1, "a retry carries the same webhook-id, so receivers can de-duplicate"
    body = receiver.accepted[0]["json"]
    assert body["type"] == "alert.new_viral_ad"
    assert body["alert"]["product_id"] == product_id
    assert body["alert"]["id"] == alerts[0]["id"]
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert message["To"] == "hunter@example.com"
    assert "Mini Projector" in message["Subject"]
    assert alerts[0]["message"] in message.get_content()
    assert sink.envelopes == [("marketscout@localhost", ["hunter@example.com"])]


async def test_rule_channels_are_validated(client: Client) -> None:
    headers = await sign_up(client, "ruler")
    cases = [
        ({"kind": "new_viral_ad", "channels": ["webhook"]}, "webhook_url"),
        ({"kind": "new_viral_ad", "webhook_url": "https://hooks.example/a"}, "webhook_url"),
        (
            {"kind": "new_viral_ad", "channels": ["webhook"], "webhook_url": "ftp://x.example/a"},
            "webhook_url",
        ),
        (
            {"kind": "new_viral_ad", "channels": ["webhook"], "webhook_url": "https://u:p@x.example/a"},
            "webhook_url",
        ),
        (
            {"kind": "new_viral_ad", "channels": ["webhook", "webhook"], "webhook_url": "https://x.example"},
            "channels",
        ),
        (
            {
                "kind": "new_viral_ad",
                "channels": ["webhook"],
                "webhook_url": f"http://{'a' * 64}.example.com/",
            },
            "webhook_url",
        ),
        (
            {"kind": "new_viral_ad", "channels": ["webhook"], "webhook_url": "http://a..example.com/"},
            "webhook_url",
        ),
        (
            {
                "kind": "new_viral_ad",
                "channels": ["webhook"],
                "webhook_url": "http://127\u30020\u30020\u30021:8790/",
            },
            "webhook_url",
        ),
        ({"kind": "new_viral_ad", "channels": ["email"]}, "channels"),  # no mail server configured
        ({"kind": "new_viral_ad", "channels": ["sms"]}, "channels"),
    ]
    for payload, field in cases:
        response = await client.post("/alert-rules", json=payload, headers=headers)
        assert response.status_code == 422, (payload, response.text)
        assert field in response.text, (payload, response.text)
    assert (await client.get("/alert-rules", headers=headers)).json() == []
    lost = await client.get("/deliveries", params={"status": "lost"}, headers=headers)
    assert lost.status_code == 422
    assert lost.json()["details"] == [
        {
            "field": "status",
            "rule": "must be one of: pending, sending, delivered, dead, cancelled",
            "index": None,
        }
    ]


async def test_a_rule_fires_when_a_score_is_calculated_on_request(
    settings: Settings, clock: MovableClock
) -> None:
    """POST /calculate-score stores a score as ingest does, and evaluates the rules on it as
    ingest does: a crossing it finds alerts at once, not at the next refresh hours later."""
    container = build_container(settings, clock)
    async with AsyncTestClient(app=create_app(container), base_url="http://127.0.0.1:8000") as client:
        headers = await sign_up(client, "scorer")
        product_id, ad_id = await setup_ad(client, headers)
        batch = [snap(ad_id, hours, int(1000 * 1.9 ** ((96 - hours) / 12))) for hours in range(96, -1, -12)]
        assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
        scored = (await client.get(f"/trends/{product_id}", headers=headers)).json()["history"][-1][
            "trend_score"
        ]
        rule = await client.post(
            "/alert-rules",
            json={"kind": "score_threshold", "product_id": product_id, "threshold": max(1.0, scored - 1)},
            headers=headers,
        )
        assert rule.status_code == 201, rule.text
        assert (await client.get("/alerts", headers=headers)).json() == []
        clock.advance(timedelta(minutes=5))
        calculated = await client.post(f"/calculate-score/{product_id}", headers=headers)
        assert calculated.status_code == 200, calculated.text
        assert calculated.json()["trend_score"] >= max(1.0, scored - 1)
        alerts = (await client.get("/alerts", headers=headers)).json()
        assert [(a["kind"], a["rule_id"]) for a in alerts] == [("score_threshold", rule.json()["id"])]


@pytest.mark.parametrize("change", ["delete", "new url", "no webhook"])
async def test_a_deleted_or_retargeted_rule_sends_none_of_its_pending_webhooks(
    settings: Settings, clock: MovableClock, change: str
) -> None:
    """A delivery waiting for its retry when its rule is deleted, or its webhook changed or
    removed, is cancelled (visible as such, with the reason) and never sent afterwards."""
    receiver = WebhookReceiver(fail_first=1, now=lambda: clock.now().timestamp())
    with webhook_receiver(receiver):
        configured = dataclasses.replace(settings, webhook_allow_private=True)
        container = build_container(configured, clock)
        async with AsyncTestClient(app=create_app(container), base_url="http://127.0.0.1:8000") as client:
            headers = await sign_up(client, "hunter")
            product_id, ad_id = await setup_ad(client, headers)
            peers = [(await setup_ad(client, headers, external_id=f"peer-{i}"))[1] for i in range(6)]
            hook = {"kind": "new_viral_ad", "product_id": product_id, "channels": ["webhook"]}
            rule = await client.post(
                "/alert-rules", json={**hook, "webhook_url": receiver.url}, headers=headers
            )
            assert rule.status_code == 201, rule.text
            receiver.secret = rule.json()["webhook_secret"]
            batch = []
            for hours in range(96, -1, -12):
                batch.append(snap(ad_id, hours, int(1000 * 1.9 ** ((96 - hours) / 12))))
                batch.extend(snap(peer, hours, 1000 + (96 - hours) * 5) for peer in peers)
            assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
            first = await dispatch_once(container)  # the receiver fails the first attempt
            assert (first.delivered, first.retrying) == (0, 1)

            path = f"/alert-rules/{rule.json()['id']}"
            if change == "delete":
                assert (await client.delete(path, headers=headers)).status_code == 204
            else:
                body = (
                    {**hook, "webhook_url": receiver.url.replace("127.0.0.1", "localhost")}
                    if change == "new url"
                    else {"kind": "new_viral_ad", "product_id": product_id}
                )
                assert (await client.put(path, json=body, headers=headers)).status_code == 200
            clock.advance(timedelta(minutes=1))  # the retry is due (and the token still good)
            assert (await dispatch_once(container)).delivered == 0
            listed = await client.get("/deliveries", headers=headers)
            assert listed.status_code == 200, listed.text
            deliveries = listed.json()
            cancelled = (await client.get("/deliveries?status=cancelled", headers=headers)).json()
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("cancelled", 1)]
    assert cancelled == deliveries
    reason = "the alert rule was deleted" if change == "delete" else "the alert rule's webhook changed"
    assert deliveries[0]["last_error"] == f"cancelled: {reason}"
    assert len(receiver.requests) == 1, "only the attempt made before the change"


class BrokenNotifier(Notifier):
    """A notifier with a bug (what a group-syntax address did to the e-mail notifier)."""

    channel = Channel.EMAIL

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        raise AttributeError("'Group' object has no attribute 'local_part'")


class RecordingNotifier(Notifier):
    channel = Channel.WEBHOOK

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        self.sent.append(delivery.id)


async def test_a_notifier_that_fails_unexpectedly_is_logged_and_the_others_are_sent(
    settings: Settings, clock: MovableClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery becomes a dead letter with a generic reason, the error is logged at ERROR with
    its traceback (but not the delivery's address or secret), and the pass goes on."""
    container = build_container(settings, clock)
    webhook = RecordingNotifier()
    notifiers: dict[Channel, Notifier] = {Channel.EMAIL: BrokenNotifier(), Channel.WEBHOOK: webhook}
    container.notifiers.override(providers.Object(notifiers))
    app = app_logging_to(caplog, monkeypatch, container)
    hook = "https://hooks.example/private-path-token"
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000"):
        targets = {Channel.EMAIL: "g:root;x123@example.com", Channel.WEBHOOK: hook}
        await seed_outbox(container.unit_of_work(), clock.now(), targets)
        report = await dispatch_once(container)
        uow = container.unit_of_work()
        async with uow:
            deliveries = {d.channel: d for d in await uow.deliveries.list(1)}
    assert (report.delivered, report.dead) == (1, 1)
    assert webhook.sent == [deliveries[Channel.WEBHOOK].id]
    assert deliveries[Channel.EMAIL].last_error == (
        "the email notifier failed unexpectedly (AttributeError): see the server's log"
    )
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.exc_info is not None and logged.exc_info[0] is AttributeError
    assert f"delivery {deliveries[Channel.EMAIL].id}" in logged.getMessage()
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in ("g:root;x123@example.com", hook, SECRET):
        assert secret not in text


async def test_the_background_dispatcher_backs_off_after_a_failing_pass_and_goes_on(
    settings: Settings, clock: MovableClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any Exception out of a pass (a bug, the database down) is logged and the loop waits twice
    as long after each failure in a row (5 minutes at most, never less than the interval), then
    the usual interval after a good pass; it never dies of one."""
    container = build_container(settings, clock)
    failures: list[Exception] = [
        RuntimeError("a bug"),
        Unavailable("the database is down"),
        RuntimeError("x"),
    ]

    def notifiers() -> dict[Channel, Notifier]:
        if failures:
            raise failures.pop(0)
        return {}

    container.notifiers.override(providers.Callable(notifiers))
    waits = RecordedWaits(stop_at=5)

    app = app_logging_to(caplog, monkeypatch, container)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000"):
        with pytest.raises(StopLoop):
            await dispatch_forever(container, 15, sleep=waits)
    assert waits.delays == [30, 60, 120, 15, 15]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.exc_info[0] if r.exc_info else None for r in errors] == [RuntimeError, RuntimeError]
