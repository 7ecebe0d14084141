"""Rules for text that the domain stores, searches by, and later hands to other systems.

The one definition of the characters text may not hold: control characters (C0 with NUL, DEL
and C1; PostgreSQL cannot even store NUL), in one-line text also the line and paragraph
separators, while multi-line text (descriptions, ad texts) keeps tabs and line breaks. Text of
only blanks and characters that show nothing is blank: Unicode's format characters (category Cf:
zero-width space, non-joiner and joiner, word joiner, byte-order mark, soft hyphen, direction
marks and controls, tags, ...) and the letters and marks that are drawn as nothing (the Hangul
fillers U+115F, U+1160, U+3164 and U+FFA0, the combining grapheme joiner U+034F, the Khmer
inherent vowels, variation selectors, the braille blank U+2800). Inside visible text they are
kept: a zero-width joiner makes an emoji sequence, a non-joiner shapes a Persian word.

Stored text (:func:`trimmed`) also may not hold a bidirectional embedding, override or isolate
(U+202A-U+202E, U+2066-U+2069): each changes the direction of the text after it until its pop,
so a name holding U+202E shows the rest reversed (``Lamp``, U+202E, ``gnp.exe`` reads ``Lamp exe.png``)
and can end up reversing what a page shows after it. They are refused rather than removed: text is
stored as it was given or not at all. The direction marks (U+200E, U+200F, U+061C), which change
no text but their neighbours, are kept.

Text is taken in composed form (Unicode NFC): ``e`` followed by a combining acute accent, as some
keyboards and file systems send it, is stored, searched and compared as the one letter ``é``, so a
name typed either way is the same name; :func:`folded` is the key names are compared by.

Each rule's ``pattern`` is the same set written as a regular expression for a schema (JSON Schema
and Python alike), so an entry point may check it early and say the same ``rule``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from marketscout.domain.errors import InvalidValue

_CONTROL = r"\x00-\x1f\x7f-\x9f"
_CONTROL_BUT_TAB_AND_BREAKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_LINE_SEPARATORS = r"\u2028\u2029"
# Letters and marks that are drawn as nothing, though Unicode does not call them format (Cf).
_DRAWN_AS_NOTHING = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]"
)
BLANK_RULE = "must not be blank"
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"


@dataclass(frozen=True, slots=True)
class Characters:
    """A kind of text by the characters it may not hold: ``pattern`` matches a text without
    any of them, ``rule`` is what a refusal says."""

    refused: str  # a regular expression's character class, without its brackets
    rule: str
    _find: Callable[[str], re.Match[str] | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_find", re.compile(f"[{self.refused}]").search)

    @property
    def pattern(self) -> str:
        return f"^[^{self.refused}]*$"

    def allows(self, value: str) -> bool:
        """Whether ``value`` holds none of the refused characters."""
        return self._find(value) is None

    def check(self, field: str, value: str) -> str:
        """``value`` itself; InvalidValue naming ``field`` when it holds a refused character."""
        if not self.allows(value):
            raise InvalidValue(field, self.rule)
        return value


ONE_LINE = Characters(_CONTROL + _LINE_SEPARATORS, "must not hold control characters")
MULTI_LINE = Characters(
    _CONTROL_BUT_TAB_AND_BREAKS, "must not hold control characters other than tabs and line breaks"
)
BIDI_CONTROLS = Characters(
    _BIDI_CONTROLS, "must not hold bidirectional control characters (U+202A-U+202E, U+2066-U+2069)"
)


def _shows_nothing(character: str) -> bool:
    return (
        character.isspace()
        or unicodedata.category(character) == "Cf"
        or _DRAWN_AS_NOTHING.match(character) is not None
    )


def composed(value: str) -> str:
    """``value`` in Unicode's composed form (NFC), the form text is stored and searched in."""
    return unicodedata.normalize("NFC", value)


def folded(value: str) -> str:
    """The key text is compared by in any case: case-folded (``str.casefold``) and composed, so
    ``Café`` typed with a combining accent, ``CAFÉ`` and ``café`` have one key. Composed after
    folding too, since folding can decompose (U+01F0 folds to ``j`` and a combining caron)."""
    return composed(composed(value).casefold())


def is_blank(value: str) -> bool:
    """Whether ``value`` holds nothing but blanks and characters that show nothing."""
    return all(_shows_nothing(character) for character in value)


def at_most(max_length: int) -> str:
    return f"must be at most {max_length} characters"


def stored_text(field: str, value: str, characters: Characters = ONE_LINE) -> str:
    """``value`` composed (NFC), without the blanks around it, when it holds none of ``characters`` (checked
    before trimming: ``str.strip`` takes some control characters for blanks) and, unless it is
    blank (which its caller says), no bidirectional control; otherwise InvalidValue naming
    ``field``."""
    value = composed(characters.check(field, value)).strip()
    if not is_blank(value):
        BIDI_CONTROLS.check(field, value)
    return value


def trimmed(field: str, value: str, max_length: int, characters: Characters = ONE_LINE) -> str:
    """``value`` as :func:`stored_text` makes it, when it is not blank and is at most
    ``max_length`` characters long; otherwise InvalidValue naming ``field``."""
    value = stored_text(field, value, characters)
    if is_blank(value):
        raise InvalidValue(field, BLANK_RULE)
    if len(value) > max_length:
        raise InvalidValue(field, at_most(max_length))
    return value


def search_text(field: str, value: str | None) -> str | None:
    """A search's text composed (NFC), without the blanks around it, None when it is blank;
    InvalidValue naming ``field`` when it holds a control character (no store is ever asked for
    one)."""
    if value is None:
        return None
    ONE_LINE.check(field, value)
    return None if is_blank(value) else composed(value).strip()


# Spaces and control characters (C0, DEL and C1): never part of a URL as stored and sent.
_SPACE_OR_CONTROL = re.compile(rf"[\s{_CONTROL}]")
WEB_URL_RULE = "must be an absolute http or https URL without spaces or control characters"
# What a schema may check early of a web URL (web_url checks the rest), saying WEB_URL_RULE.
WEB_URL_PATTERN = rf"^https?://[^\s{_CONTROL}]+$"


WEB_URL_HOST_RULE = (
    "must name a host that is a valid DNS name: labels of letters, digits, hyphens or underscores "
    "between single dots, at most 63 characters each and 253 in all once IDNA-encoded"
)
# One label of a host name once IDNA-encoded (underscores are not in RFC 1123, but real names have them).
_DNS_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
DNS_NAME_MAX_LENGTH = 253


def dns_name(host: str) -> str | None:
    """``host`` as it is looked up: IDNA-encoded (by the standard library's codec, which also reads
    the ideographic and fullwidth full stops as dots and folds fullwidth forms, as clients do) and
    lower-cased, with its trailing dot if it has one; None when that is not a DNS name (an empty
    label, a label over 63 octets, over 253 in all, a character other than letters, digits, hyphens
    and underscores), which no resolver could be asked for. An IPv6 address (as a URL's host, without
    its brackets) is itself."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
        return host
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    bare = name.removesuffix(".")
    if len(bare) > DNS_NAME_MAX_LENGTH or not all(_DNS_LABEL.fullmatch(label) for label in bare.split(".")):
        return None
    return name


def web_url(field: str, value: str, max_length: int) -> SplitResult:
    """``value`` split, when it is an absolute http or https URL of at most ``max_length``
    characters without spaces or control characters, whose host is an IP address or a DNS name
    (:func:`dns_name`); otherwise :class:`InvalidValue` naming ``field``."""
    if len(value) > max_length:
        raise InvalidValue(field, at_most(max_length))
    if _SPACE_OR_CONTROL.search(value):
        raise InvalidValue(field, WEB_URL_RULE)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise InvalidValue(field, WEB_URL_RULE) from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(field, WEB_URL_RULE)
    if dns_name(parts.hostname) is None:
        raise InvalidValue(field, WEB_URL_HOST_RULE)
    return parts
