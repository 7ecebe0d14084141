"""Local receivers for notification tests: a webhook endpoint that verifies signatures and
can fail on purpose, and a minimal SMTP server that keeps what it is sent.

Both run on 127.0.0.1 in a thread of their own, so the code under test talks to them over
real sockets exactly as it would to a remote receiver.
"""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from marketscout.adapters.notify.webhook import verify


@contextmanager
def serve_in_thread(server: socketserver.BaseServer) -> Iterator[int]:
    """Runs a socketserver on its own thread; yields its port; shuts it down after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port: int = server.server_address[1]  # type: ignore[index,assignment]
        yield port
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class WebhookReceiver:
    """Answers ``fail_first`` requests with ``fail_status``, then 200 to well-signed ones."""

    secret: str = ""
    fail_first: int = 0
    fail_status: int = 503
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    port: int = 0
    now: Callable[[], float] = time.time  # the receiver's clock, for the timestamp check

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/marketscout"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        self.requests.append({"headers": headers, "body": body})
        if len(self.requests) <= self.fail_first:
            return self.fail_status
        if not verify(self.secret, headers, body, self.now()):
            self.bad_signatures += 1
            return 401
        self.accepted.append({"headers": headers, "json": json.loads(body)})
        return 200


@contextmanager
def webhook_receiver(receiver: WebhookReceiver) -> Iterator[WebhookReceiver]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        receiver.port = port
        yield receiver


@dataclass
class SmtpSink:
    """Keeps every message accepted; refuses ``refuse_first`` DATA commands with 451."""

    refuse_first: int = 0
    refuse_code: int = 451
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    data_commands: int = 0
    port: int = 0


@contextmanager
def smtp_sink(sink: SmtpSink) -> Iterator[SmtpSink]:
    """A minimal SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)."""
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()

        def handle(self) -> None:
            self.reply("220 sink.local ESMTP test sink")
            sender, recipients = "", list[str]()
            while raw := self.rfile.readline():
                command = raw.decode().strip()
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 sink.local")
                elif verb == "MAIL":
                    sender, recipients = command.partition(":")[2].strip(" <>"), list[str]()
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.partition(":")[2].strip(" <>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    with lock:
                        sink.data_commands += 1
                        refuse = sink.data_commands <= sink.refuse_first
                    if refuse:
                        self.reply(f"{sink.refuse_code} refused by the test sink")
                        continue
                    self.reply("354 end with <CRLF>.<CRLF>")
                    lines = []
                    while (line := self.rfile.readline()) not in (b".\r\n", b""):
                        lines.append(line[1:] if line.startswith(b"..") else line)
                    message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                    with lock:
                        sink.messages.append(message)
                        sink.envelopes.append((sender, recipients))
                    self.reply("250 OK queued")
                elif verb in ("RSET", "NOOP"):
                    self.reply("250 OK")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 command not implemented")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serve_in_thread(server) as port:
        sink.port = port
        yield sink
