"""Signed webhooks, in the Standard Webhooks format (https://www.standardwebhooks.com/).

Each request is a JSON ``POST`` with three headers:

- ``webhook-id``: the delivery's id, the same on every retry, so a receiver can de-duplicate;
- ``webhook-timestamp``: Unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, keyed with the rule's secret
  (the base64 after ``whsec_``), of ``"{id}.{timestamp}.{body}"``.

A receiver recomputes the signature over the raw body and rejects old timestamps
(:func:`verify` does both). 2xx means delivered; anything else, a timeout or a network
error is retried by the dispatcher; ``410 Gone`` means the receiver wants no more. A TLS
certificate the notifier refuses is retried too: a receiver can renew or fix it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
from collections.abc import Mapping

import anyio
import httpx

from marketscout.domain.errors import DeliveryFailed
from marketscout.domain.model import Channel, Delivery
from marketscout.domain.ports import Clock, Notification, Notifier
from marketscout.domain.text import dns_name
from marketscout.domain.usecases.notifications import is_public_address

TOLERANCE_SECONDS = 300
USER_AGENT = "MarketScout-Webhooks/1"
# Addresses of one host tried per attempt: enough to get past a dead address of each family,
# few enough that a host answering dozens of silent addresses cannot hold the dispatcher up.
MAX_ADDRESSES = 3


def connection_order(addresses: list[str], limit: int = MAX_ADDRESSES) -> list[str]:
    """The first ``limit`` addresses to try, the family of the first answer and the other family
    in turn (RFC 8305 section 4), each family in the resolver's order: a black-holed IPv6
    address is followed by an IPv4 one, not by more of its kind."""
    if not addresses:
        return []
    first_v6 = ":" in addresses[0]
    same = [text for text in addresses if (":" in text) == first_v6]
    other = [text for text in addresses if (":" in text) != first_v6]
    ordered: list[str] = []
    for index in range(max(len(same), len(other))):
        ordered += same[index : index + 1] + other[index : index + 1]
    return ordered[:limit]


def _certificate_problem(error: BaseException) -> str | None:
    """Why the receiver's certificate was refused, if that is what ``error`` comes from."""
    cause: BaseException | None = error
    for _ in range(8):  # httpx wraps httpcore's error, which wraps ssl's
        if cause is None:
            return None
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or cause)
        cause = cause.__cause__ or cause.__context__
    return None


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
    addresses is not public. The request then goes to those addresses themselves (at most
    :data:`MAX_ADDRESSES`, in :func:`connection_order`), to the next one only while a connection
    cannot be made, with the host name in the ``Host`` header and in TLS (SNI and the
    certificate check): looking the name up again to connect would let a DNS server answer a
    public address to the check and an internal one to the connection (DNS rebinding). Proxies
    and credentials from the environment are not used, and no connection is kept between
    deliveries.

    ``timeout`` bounds the whole attempt: the lookup, the connections and the answer together;
    each address gets an equal share of it to connect. ``tls`` is the context that verifies
    receivers' certificates (tests pass one trusting their own CA); by default, the certifi
    bundle httpx uses, with verification and the host name check on.
    """

    channel = Channel.WEBHOOK

    def __init__(
        self,
        clock: Clock,
        *,
        timeout: float = 10.0,
        allow_private: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._clock = clock
        self._timeout = timeout
        self._allow_private = allow_private
        # Built once (reading the CA bundle is the slow part of a client); each delivery's client
        # wraps its own connection with it.
        self._tls = tls if tls is not None else httpx.create_ssl_context(trust_env=False)

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses to try, in the resolver's order; every one public unless allowed.
        Server-side request forgery guard: a user's URL must not reach the server's own network
        (loopback, private ranges, link-local cloud metadata). Rule creation refuses literal
        addresses and localhost; names are checked here, at each attempt, because DNS changes."""
        unusable = f"the webhook URL's host cannot be looked up: {host[:100]} is not a valid DNS name"
        if dns_name(host) is None:  # a rule stored before web_url refused such hosts
            raise DeliveryFailed(unusable, permanent=True)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise DeliveryFailed(f"cannot resolve {host}: {error.strerror or error}") from error
        except (UnicodeError, ValueError) as error:  # the IDNA codec, or a NUL, refusing the name
            raise DeliveryFailed(unusable, permanent=True) from error
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
        # One deadline for the attempt: the dispatcher sends one delivery at a time, so a slow
        # host holds up every other user's alerts for as long as this lasts.
        try:
            with anyio.fail_after(self._timeout):
                response = await self._attempt(url, delivery.id, delivery.secret, notification)
        except TimeoutError as error:
            raise DeliveryFailed("the receiver did not answer in time") from error
        if 200 <= response.status_code < 300:
            return
        if response.status_code == 410:
            raise DeliveryFailed("the receiver answered 410 Gone", permanent=True)
        raise DeliveryFailed(f"the receiver answered {response.status_code}")

    async def _attempt(
        self, url: httpx.URL, delivery_id: int, secret: str, notification: Notification
    ) -> httpx.Response:
        host = url.raw_host.decode("ascii")
        resolved = await self._addresses(host, url.port or (443 if url.scheme == "https" else 80))
        addresses = connection_order(resolved)
        body = payload(notification)
        message_id = f"msg_{delivery_id}"
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "host": url.netloc.decode("ascii"),
            "user-agent": USER_AGENT,
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message_id, timestamp, body),
        }
        # The name TLS sends (SNI) and checks the certificate against, the URL holding the address.
        extensions = {"sni_hostname": host} if url.scheme == "https" else None
        timeout = httpx.Timeout(self._timeout, connect=self._timeout / len(addresses))
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, verify=self._tls
        ) as client:
            return await self._post(client, url, addresses, body, headers, extensions)

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
        another address could deliver it twice. A refused certificate does not move on either:
        the host's other addresses serve the same name, and its certificate is what failed."""
        failure: httpx.HTTPError | None = None
        for address in addresses:
            request = client.build_request(
                "POST", url.copy_with(host=address), content=body, headers=headers, extensions=extensions
            )
            try:
                return await client.send(request)
            except httpx.ConnectError as error:
                problem = _certificate_problem(error)
                if problem is not None:
                    raise DeliveryFailed(f"the receiver's TLS certificate was refused: {problem}") from error
                failure = error
            except httpx.ConnectTimeout as error:
                failure = error
            except httpx.TimeoutException as error:
                raise DeliveryFailed("the receiver did not answer in time") from error
            except httpx.HTTPError as error:
                raise DeliveryFailed(f"could not reach the receiver: {type(error).__name__}") from error
        if isinstance(failure, httpx.ConnectTimeout):
            raise DeliveryFailed("the receiver did not answer in time") from failure
        raise DeliveryFailed(f"could not reach the receiver: {type(failure).__name__}") from failure
