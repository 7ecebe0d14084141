"""The dashboard's one-shot note, sealed: the outcome of a form that a redirect carries to the
next page (POST-redirect-GET) in the ``ms_flash`` cookie.

A note is the server's own words (``kind:part:part``), for the signed-in account it was made
for. The cookie holds ``<issued, Unix seconds>.<account id>.<note, base64url>.<HMAC-SHA256,
base64url>`` (cookie parsers percent-decode a value: base64url is read as written), signed with
a key derived from the instance's secret, so that no one else can plant a note on a user's page
(a crafted cookie with phishing text in it), nor one of their own notes (the creation of a
product they named with such a text). A note is read within :data:`NOTE_SECONDS` of being
sealed, by the same account; any other is ignored without a word.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime

from marketscout.entrypoints.web.session import same_secret

FLASH_COOKIE = "ms_flash"
FLASH_PATH = "/ui"
NOTE_SECONDS = 60
# A note sealed by another worker whose clock is a little ahead is still read.
CLOCK_LEEWAY_SECONDS = 5
_ISSUED = re.compile(r"[0-9]{1,12}")


def note_key(secret: str) -> bytes:
    """The key notes are signed with, derived from the instance's secret (which signs access
    tokens too: a note's signature is never a token's)."""
    return hmac.new(secret.encode(), b"marketscout dashboard note", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signature(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def seal(key: bytes, note: str, issued: datetime, account: int) -> str:
    """The cookie's value for ``note``, sealed at ``issued`` for the account ``account``."""
    body = f"{int(issued.timestamp())}.{account}.{_b64(note.encode())}"
    return f"{body}.{_signature(key, body)}"


def unseal(key: bytes, value: str, now: datetime, account: int) -> str | None:
    """The note a cookie's value holds, when ``key`` signed it for ``account`` less than a
    minute before ``now``; None otherwise."""
    body, _, signature = value.rpartition(".")
    if not body or not same_secret(signature, _signature(key, body)):
        return None
    issued, sealed_for, note = (*body.split(".", 2), "", "")[:3]
    if not _ISSUED.fullmatch(issued) or sealed_for != str(account):
        return None
    age = now.timestamp() - int(issued)
    if not -CLOCK_LEEWAY_SECONDS <= age <= NOTE_SECONDS:
        return None
    # Signed by us, so well-formed: the note as :func:`seal` took it.
    return base64.urlsafe_b64decode(note + "=" * (-len(note) % 4)).decode()
