"""Signed webhooks, in the Standard Webhooks format (https://www.standardwebhooks.com/).

Each request is a JSON ``POST`` with three headers:

- ``webhook-id``: the delivery's id, the same on every retry, so a receiver can de-duplicate;
- ``webhook-timestamp``: Unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, keyed with the rule's secret
  (the base64 after ``whsec_``), of ``"{id}.{timestamp}.{body}"``.

A receiver recomputes the signature over the raw body and rejects old timestamps
(:func:`verify` does both). 2xx means delivered; anything else, a timeout or a network
error is retried by the dispatcher; ``410 Gone`` means the receiver wants no more.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from marketscout.domain.errors import DeliveryFailed
from marketscout.domain.model import Channel, Delivery
from marketscout.domain.ports import Clock, Notification, Notifier
from marketscout.domain.usecases.notifications import is_public_address

TOLERANCE_SECONDS = 300


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    try:
        message_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        offered = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def payload(notification: Notification) -> bytes:
    return json.dumps(
        {
            "type": f"alert.{notification.kind}",
            "delivery_id": notification.delivery_id,
            "alert": {
                "id": notification.alert_id,
                "kind": notification.kind,
                "product_id": notification.product_id,
                "product_name": notification.product_name,
                "message": notification.message,
                "event_key": notification.event_key,
                "created_at": notification.created_at.isoformat(),
            },
        },
        separators=(",", ":"),
    ).encode()


class WebhookNotifier(Notifier):
    channel = Channel.WEBHOOK

    def __init__(
        self,
        clock: Clock,
        *,
        timeout: float = 10.0,
        allow_private: bool = False,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._clock = clock
        self._allow_private = allow_private
        self._client = client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"user-agent": "MarketScout-Webhooks/1"}
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _refuse_private(self, url: str) -> None:
        # Server-side request forgery guard: a user's URL must not reach the server's own
        # network (loopback, private ranges, link-local cloud metadata) unless allowed. Rule
        # creation refuses literal addresses and localhost; names are checked here, at each
        # attempt, because DNS can change.
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise DeliveryFailed(f"cannot resolve {host}: {error.strerror or error}") from error
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not is_public_address(address):
                raise DeliveryFailed(
                    f"refused: {host} resolves to the non-public address {address}", permanent=True
                )

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        if delivery.secret is None:
            raise DeliveryFailed("the rule has no signing secret", permanent=True)
        if not self._allow_private:
            await self._refuse_private(delivery.target)
        body = payload(notification)
        message_id = f"msg_{delivery.id}"
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(delivery.secret, message_id, timestamp, body),
        }
        try:
            response = await self._client.post(delivery.target, content=body, headers=headers)
        except httpx.TimeoutException as error:
            raise DeliveryFailed("the receiver did not answer in time") from error
        except httpx.HTTPError as error:
            raise DeliveryFailed(f"could not reach the receiver: {type(error).__name__}") from error
        if 200 <= response.status_code < 300:
            return
        if response.status_code == 410:
            raise DeliveryFailed("the receiver answered 410 Gone", permanent=True)
        raise DeliveryFailed(f"the receiver answered {response.status_code}")
