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

import httpx

from marketscout.domain.errors import DeliveryFailed
from marketscout.domain.model import Channel, Delivery
from marketscout.domain.ports import Clock, Notification, Notifier
from marketscout.domain.usecases.notifications import is_public_address

TOLERANCE_SECONDS = 300
USER_AGENT = "MarketScout-Webhooks/1"


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
    """Sends each delivery over a connection of its own to an address it resolved and vetted.

    The host is looked up once per delivery and, unless ``allow_private``, refused if any of its
    addresses is not public. The request then goes to those addresses themselves, in turn while
    a connection cannot be made, with the host name in the ``Host`` header and in TLS (SNI and
    the certificate check): looking the name up again to connect would let a DNS server answer a
    public address to the check and an internal one to the connection (DNS rebinding). Proxies
    and credentials from the environment are not used, and no connection is kept between
    deliveries.
    """

    channel = Channel.WEBHOOK

    def __init__(self, clock: Clock, *, timeout: float = 10.0, allow_private: bool = False) -> None:
        self._clock = clock
        self._timeout = timeout
        self._allow_private = allow_private
        # Built once (reading the CA bundle is the slow part of a client); each delivery's client
        # wraps its own connection with it.
        self._tls = httpx.create_ssl_context(trust_env=False)

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses to try, in the resolver's order; every one public unless allowed.
        Server-side request forgery guard: a user's URL must not reach the server's own network
        (loopback, private ranges, link-local cloud metadata). Rule creation refuses literal
        addresses and localhost; names are checked here, at each attempt, because DNS changes."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise DeliveryFailed(f"cannot resolve {host}: {error.strerror or error}") from error
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._allow_private:
            for text in addresses:
                address = ipaddress.ip_address(text)
                if not is_public_address(address):
                    raise DeliveryFailed(
                        f"refused: {host} resolves to the non-public address {address}", permanent=True
                    )
        if not addresses:
            raise DeliveryFailed(f"cannot resolve {host}: no address")
        return addresses

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        if delivery.secret is None:
            raise DeliveryFailed("the rule has no signing secret", permanent=True)
        try:
            url = httpx.URL(delivery.target)
        except httpx.InvalidURL as error:
            raise DeliveryFailed(f"the webhook URL is not usable: {error}", permanent=True) from error
        host = url.raw_host.decode("ascii")
        addresses = await self._addresses(host, url.port or (443 if url.scheme == "https" else 80))
        body = payload(notification)
        message_id = f"msg_{delivery.id}"
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "host": url.netloc.decode("ascii"),
            "user-agent": USER_AGENT,
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(delivery.secret, message_id, timestamp, body),
        }
        # The name TLS sends (SNI) and checks the certificate against, the URL holding the address.
        extensions = {"sni_hostname": host} if url.scheme == "https" else None
        async with httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, trust_env=False, verify=self._tls
        ) as client:
            response = await self._post(client, url, addresses, body, headers, extensions)
        if 200 <= response.status_code < 300:
            return
        if response.status_code == 410:
            raise DeliveryFailed("the receiver answered 410 Gone", permanent=True)
        raise DeliveryFailed(f"the receiver answered {response.status_code}")

    async def _post(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        addresses: list[str],
        body: bytes,
        headers: dict[str, str],
        extensions: dict[str, str] | None,
    ) -> httpx.Response:
        """The answer from the first address that takes the connection. Only a connection that
        could not be made moves on to the next: once the request may have been sent, trying
        another address could deliver it twice."""
        failure: httpx.HTTPError | None = None
        for address in addresses:
            request = client.build_request(
                "POST", url.copy_with(host=address), content=body, headers=headers, extensions=extensions
            )
            try:
                return await client.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                failure = error
            except httpx.TimeoutException as error:
                raise DeliveryFailed("the receiver did not answer in time") from error
            except httpx.HTTPError as error:
                raise DeliveryFailed(f"could not reach the receiver: {type(error).__name__}") from error
        if isinstance(failure, httpx.ConnectTimeout):
            raise DeliveryFailed("the receiver did not answer in time") from failure
        raise DeliveryFailed(f"could not reach the receiver: {type(failure).__name__}") from failure
