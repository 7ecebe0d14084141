"""E-mail notifications over SMTP (standard library ``smtplib`` on a worker thread).

Each message carries a ``Message-ID`` derived from the delivery, the same on every retry,
so mail systems can recognise a repeat. 5xx answers are permanent failures; 4xx answers and
network errors are retried by the dispatcher. The message goes to the account's address alone
(given to the server as the one recipient), and only when the ``To`` header reads it as exactly
that address: otherwise, or when the message cannot be built, the failure is permanent.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from marketscout.domain.errors import DeliveryFailed
from marketscout.domain.model import Channel, Delivery
from marketscout.domain.ports import Notification, Notifier

NOT_ONE_ADDRESS = "the account's e-mail address is not one plain address"


class SmtpNotifier(Notifier):
    channel = Channel.EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        security: str = "none",  # "none", "starttls" or "tls"
        timeout: float = 10.0,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError("security must be none, starttls or tls")
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self._security = security
        self._timeout = timeout

    def message(self, delivery: Delivery, notification: Notification) -> EmailMessage:
        """The message to the delivery's address; DeliveryFailed (permanent) when that is not one
        plain address as the header reads it (a group, a display name, a comment, two addresses:
        accounts stored before sign-up refused those), or when the message cannot be built."""
        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = delivery.target
            recipients = [(address.display_name, address.addr_spec) for address in message["To"].addresses]
        except Exception as error:  # the header parser raises AttributeError, ValueError, ...
            raise DeliveryFailed(NOT_ONE_ADDRESS, permanent=True) from error
        if recipients != [("", delivery.target)]:
            raise DeliveryFailed(NOT_ONE_ADDRESS, permanent=True)
        message["Subject"] = f"MarketScout alert: {notification.product_name}"[:200]
        domain = self.sender.rpartition("@")[2] or "marketscout.local"
        message["Message-ID"] = f"<delivery-{delivery.id}.alert-{notification.alert_id}@{domain}>"
        message["X-MarketScout-Delivery"] = str(delivery.id)
        message.set_content(
            f"{notification.message}\n\n"
            f"Product: {notification.product_name} (id {notification.product_id})\n"
            f"Alert: {notification.kind}, raised {notification.created_at.isoformat()}\n"
        )
        return message

    def _send_blocking(self, message: EmailMessage, recipient: str) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        with smtp:
            if self._security == "starttls":
                smtp.starttls(context=context)
            if self._username:
                smtp.login(self._username, self._password or "")
            # The recipient named, not read back from the To header by smtplib.
            smtp.send_message(message, to_addrs=[recipient])

    async def send(self, delivery: Delivery, notification: Notification) -> None:
        try:
            message = self.message(delivery, notification)
        except DeliveryFailed:
            raise
        except Exception as error:  # a message that cannot be built will not build on a retry
            raise DeliveryFailed(
                f"the message could not be built: {type(error).__name__}", permanent=True
            ) from error
        try:
            await asyncio.to_thread(self._send_blocking, message, delivery.target)
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryFailed("the mail server refused the recipient", permanent=True) from error
        except smtplib.SMTPResponseException as error:
            permanent = 500 <= error.smtp_code < 600
            raise DeliveryFailed(
                f"the mail server answered {error.smtp_code}", permanent=permanent
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(f"could not reach the mail server: {type(error).__name__}") from error
