"""A webhook goes to the address that was vetted: the name is resolved once, and the connection
is made to that address, with the name kept for the Host header and TLS.

DNS is the test's: the running loop's ``getaddrinfo`` answers for :data:`NAME` (httpx resolves
through the same loop, so a second lookup would show). The receivers listen on loopback
addresses, 127.0.0.2 standing for the internet and 127.0.0.1 for the server's own network.
Their TLS certificates come from a throw-away CA made by ``trustme`` for each test.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest
import trustme

from marketscout.adapters.clock import FixedClock
from marketscout.adapters.notify import webhook
from marketscout.adapters.notify.webhook import WebhookNotifier
from marketscout.domain.errors import DeliveryFailed
from marketscout.domain.model import Channel, Delivery
from marketscout.domain.usecases.notifications import is_public_address
from tests.outbox import NOTE, NOTE_TIME, SECRET
from tests.receivers import serve_in_thread

NAME = "hooks.example.test"
PUBLIC, INTERNAL, NOBODY = "127.0.0.2", "127.0.0.1", "127.0.0.3"
NOW = NOTE_TIME


def _delivery(target: str) -> Delivery:
    return Delivery(
        id=7,
        alert_id=3,
        user_id=1,
        channel=Channel.WEBHOOK,
        target=target,
        secret=SECRET,
        next_attempt_at=NOW,
        created_at=NOW,
    )


def fake_dns(monkeypatch: pytest.MonkeyPatch, *answers: list[str]) -> list[str]:
    """Makes :data:`NAME` resolve to ``answers[0]``, then to ``answers[1]`` … (the last repeats),
    as a rebinding DNS server would; other names resolve as usual. Returns the log of lookups."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    lookups: list[str] = []

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name != NAME:
            return await real(host, port, *args, **kwargs)
        lookups.append(name)
        answer = answers[min(len(lookups), len(answers)) - 1]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port), 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))
            for ip in answer
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return lookups


def count_as_public(monkeypatch: pytest.MonkeyPatch, stand_in: str) -> None:
    """The SSRF guard as it is, except that ``stand_in`` counts as a public address."""
    monkeypatch.setattr(
        webhook, "is_public_address", lambda address: str(address) == stand_in or is_public_address(address)
    )


@dataclass
class Listener:
    """Answers every POST with ``status`` over keep-alive HTTP/1.1, or hangs up without an answer."""

    status: int = 200
    hang_up: bool = False
    hosts: list[str] = field(default_factory=list)  # the Host header of each request
    peers: list[int] = field(default_factory=list)  # the client's port: one per connection
    lines: list[str] = field(default_factory=list)  # the request line


@contextmanager
def listening(
    listener: Listener, address: str, port: int = 0, certificate: trustme.LeafCert | None = None
) -> Iterator[int]:
    """Serves ``listener``; over TLS with ``certificate`` when one is given."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                listener.hosts.append(self.headers.get("host", ""))
                listener.peers.append(self.client_address[1])
                listener.lines.append(self.requestline)
            if listener.hang_up:
                self.close_connection = True
                return
            self.send_response(listener.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with serve_in_thread(server) as bound:
        yield bound


def server_name(hello: bytes) -> str | None:
    """The SNI host name in a TLS ClientHello record (RFC 8446 4.1.2, RFC 6066 3)."""
    at = 5 + 4 + 2 + 32  # record header, handshake header, legacy version, random
    at += 1 + hello[at]  # session id
    at += 2 + int.from_bytes(hello[at : at + 2])  # cipher suites
    at += 1 + hello[at]  # compression methods
    end = at + 2 + int.from_bytes(hello[at : at + 2])
    at += 2
    while at < end:
        kind, size = int.from_bytes(hello[at : at + 2]), int.from_bytes(hello[at + 2 : at + 4])
        at += 4
        if kind == 0:  # server_name: list length (2), name type (1), name length (2), name
            length = int.from_bytes(hello[at + 3 : at + 5])
            return hello[at + 5 : at + 5 + length].decode()
        at += size
    return None


@contextmanager
def tls_hello_catcher(names: list[str | None], address: str) -> Iterator[int]:
    """Reads the ClientHello of each connection, keeps its SNI name and hangs up."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            header = self.rfile.read(5)
            if len(header) == 5:
                names.append(server_name(header + self.rfile.read(int.from_bytes(header[3:5]))))

    server = socketserver.ThreadingTCPServer((address, 0), Handler)
    server.daemon_threads = True
    with serve_in_thread(server) as port:
        yield port


async def test_a_webhook_goes_to_the_vetted_address_when_dns_answers_otherwise_the_second_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    internal, public = Listener(), Listener()
    with listening(internal, INTERNAL) as port, listening(public, PUBLIC, port):
        lookups = fake_dns(monkeypatch, [PUBLIC], [INTERNAL])
        count_as_public(monkeypatch, PUBLIC)
        await WebhookNotifier(FixedClock(NOW)).send(_delivery(f"http://{NAME}:{port}/hooks"), NOTE)
    assert internal.hosts == [], "the request went to the address of a second lookup"
    assert public.hosts == [f"{NAME}:{port}"], "the Host header names the host, not the address"
    assert public.lines == ["POST /hooks HTTP/1.1"]
    assert lookups == [NAME], "the name is looked up once per delivery"


async def test_the_guard_still_refuses_a_name_with_any_internal_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    public = Listener()
    with listening(public, PUBLIC) as port:
        fake_dns(monkeypatch, [PUBLIC, INTERNAL])
        count_as_public(monkeypatch, PUBLIC)
        with pytest.raises(DeliveryFailed) as raised:
            await WebhookNotifier(FixedClock(NOW)).send(_delivery(f"http://{NAME}:{port}/hooks"), NOTE)
    assert raised.value.permanent
    assert f"non-public address {INTERNAL}" in raised.value.message
    assert public.hosts == []


async def test_tls_is_checked_for_the_name_while_connecting_to_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names: list[str | None] = []
    with tls_hello_catcher(names, PUBLIC) as port:
        fake_dns(monkeypatch, [PUBLIC])
        with pytest.raises(DeliveryFailed) as raised:  # the catcher hangs up mid-handshake
            await WebhookNotifier(FixedClock(NOW), allow_private=True).send(
                _delivery(f"https://{NAME}:{port}/hooks"), NOTE
            )
    assert not raised.value.permanent
    # Python's ssl sends the name it checks the certificate against as the SNI.
    assert names == [NAME]


async def test_when_the_first_address_refuses_the_connection_the_next_one_is_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    public = Listener()
    with listening(public, PUBLIC) as port:
        fake_dns(monkeypatch, [NOBODY, PUBLIC])
        await WebhookNotifier(FixedClock(NOW), allow_private=True).send(
            _delivery(f"http://{NAME}:{port}/hooks"), NOTE
        )
    assert public.hosts == [f"{NAME}:{port}"]


async def test_once_connected_a_failure_is_not_repeated_on_the_next_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first receiver read the request and hung up: it may have acted on it.
    first, second = Listener(hang_up=True), Listener()
    with listening(first, PUBLIC) as port, listening(second, INTERNAL, port):
        fake_dns(monkeypatch, [PUBLIC, INTERNAL])
        with pytest.raises(DeliveryFailed) as raised:
            await WebhookNotifier(FixedClock(NOW), allow_private=True).send(
                _delivery(f"http://{NAME}:{port}/hooks"), NOTE
            )
    assert not raised.value.permanent
    assert len(first.hosts) == 1
    assert second.hosts == []


async def test_every_delivery_opens_its_own_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    public = Listener()
    with listening(public, PUBLIC) as port:
        fake_dns(monkeypatch, [PUBLIC])
        notifier = WebhookNotifier(FixedClock(NOW), allow_private=True)
        for _ in range(2):
            await notifier.send(_delivery(f"http://{NAME}:{port}/hooks"), NOTE)
    assert len(public.peers) == 2
    assert public.peers[0] != public.peers[1], "the second delivery reused the first one's connection"


async def test_proxies_from_the_environment_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy, public = Listener(), Listener()
    with listening(proxy, INTERNAL) as proxy_port, listening(public, PUBLIC) as port:
        for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(variable, f"http://{INTERNAL}:{proxy_port}")
        for variable in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(variable, raising=False)
        fake_dns(monkeypatch, [PUBLIC])
        await WebhookNotifier(FixedClock(NOW), allow_private=True).send(
            _delivery(f"http://{NAME}:{port}/hooks"), NOTE
        )
    assert proxy.lines == []
    assert public.hosts == [f"{NAME}:{port}"]


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that verifies certificates as usual, trusting the test's CA alone."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_a_certificate_for_the_name_from_a_trusted_ca_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca, public = trustme.CA(), Listener()
    with listening(public, PUBLIC, certificate=ca.issue_cert(NAME)) as port:
        fake_dns(monkeypatch, [PUBLIC])
        await WebhookNotifier(FixedClock(NOW), allow_private=True, tls=trusting(ca)).send(
            _delivery(f"https://{NAME}:{port}/hooks"), NOTE
        )
    assert public.hosts == [f"{NAME}:{port}"]


async def test_a_certificate_from_a_ca_the_server_does_not_trust_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    public = Listener()
    with listening(public, PUBLIC, certificate=trustme.CA().issue_cert(NAME)) as port:
        fake_dns(monkeypatch, [PUBLIC])
        with pytest.raises(DeliveryFailed) as raised:  # the notifier trusts the usual CAs only
            await WebhookNotifier(FixedClock(NOW), allow_private=True).send(
                _delivery(f"https://{NAME}:{port}/hooks"), NOTE
            )
    assert public.hosts == [], "the request was sent over a connection whose certificate was not checked"
    assert raised.value.message.startswith("the receiver's TLS certificate was refused: ")
    assert "local issuer" in raised.value.message
    assert not raised.value.permanent, "a certificate can be fixed; the delivery is retried later"


async def test_a_certificate_for_another_name_is_refused_and_no_other_address_is_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca, first, second = trustme.CA(), Listener(), Listener()
    with (
        listening(first, PUBLIC, certificate=ca.issue_cert("other.test")) as port,
        listening(second, INTERNAL, port, certificate=ca.issue_cert(NAME)),
    ):
        fake_dns(monkeypatch, [PUBLIC, INTERNAL])
        with pytest.raises(DeliveryFailed) as raised:
            await WebhookNotifier(FixedClock(NOW), allow_private=True, tls=trusting(ca)).send(
                _delivery(f"https://{NAME}:{port}/hooks"), NOTE
            )
    assert first.hosts == []
    assert second.hosts == [], "another address of the same host was tried after a certificate failure"
    assert raised.value.message.startswith("the receiver's TLS certificate was refused: ")
    assert "mismatch" in raised.value.message
    assert not raised.value.permanent


@dataclass
class ConnectAttempt:
    address: str
    started: float  # anyio's clock
    deadline: float  # the earliest deadline the attempt runs under


def black_hole(monkeypatch: pytest.MonkeyPatch) -> list[ConnectAttempt]:
    """Every TCP connection httpx opens is recorded and never answers, as an address that drops
    packets. Returns the record."""
    attempts: list[ConnectAttempt] = []

    async def connect_tcp(remote_host: str, remote_port: int, **kwargs: Any) -> Any:
        attempts.append(ConnectAttempt(remote_host, anyio.current_time(), anyio.current_effective_deadline()))
        await anyio.sleep_forever()

    monkeypatch.setattr(anyio, "connect_tcp", connect_tcp)
    return attempts


V6 = ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4"]
V4 = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
TIMEOUT = 0.2


async def test_a_host_with_many_silent_addresses_costs_a_few_tries_alternating_families(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, V6 + V4)
    attempts = black_hole(monkeypatch)
    with pytest.raises(DeliveryFailed) as raised:
        await WebhookNotifier(FixedClock(NOW), timeout=TIMEOUT, allow_private=True).send(
            _delivery(f"http://{NAME}:8080/hooks"), NOTE
        )
    assert raised.value.message == "the receiver did not answer in time"
    assert not raised.value.permanent
    # RFC 8305 section 4: the family of the first answer, then the other, in turn.
    assert [attempt.address for attempt in attempts] == ["2001:db8::1", "192.0.2.1", "2001:db8::2"]


async def test_the_addresses_of_one_attempt_share_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, V4)
    attempts = black_hole(monkeypatch)
    with pytest.raises(DeliveryFailed):
        await WebhookNotifier(FixedClock(NOW), timeout=TIMEOUT, allow_private=True).send(
            _delivery(f"http://{NAME}:8080/hooks"), NOTE
        )
    assert len(attempts) > 1
    first = attempts[0].started
    # Not a measured time: each connection runs under a deadline no later than the attempt's end.
    assert all(attempt.deadline <= first + TIMEOUT for attempt in attempts), [
        attempt.deadline - first for attempt in attempts
    ]


@pytest.mark.parametrize(
    ("answer", "tried"),
    [
        (V4 + V6, ["192.0.2.1", "2001:db8::1", "192.0.2.2"]),  # the first answer's family leads
        (V4, V4[:3]),  # one family: the resolver's order
        (["2001:db8::1", "192.0.2.1"], ["2001:db8::1", "192.0.2.1"]),
    ],
)
def test_addresses_are_tried_in_alternating_families_at_most_three(
    answer: list[str], tried: list[str]
) -> None:
    assert webhook.connection_order(answer) == tried
