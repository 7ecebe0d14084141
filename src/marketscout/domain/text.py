"""Rules for text that the domain stores, searches by, and later hands to other systems.

The one definition of the characters text may not hold: control characters (C0 with NUL, DEL
and C1; PostgreSQL cannot even store NUL), in one-line text also the line and paragraph
separators, while multi-line text (descriptions, ad texts) keeps tabs and line breaks. Text of
only blanks and invisible format characters (zero-width space, non-joiner and joiner, word
joiner, byte-order mark) is blank. Each rule's ``pattern`` is the same set written as a regular
expression for a schema (JSON Schema and Python alike), so an entry point may check it early and
say the same ``rule``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from marketscout.domain.errors import InvalidValue

_CONTROL = r"\x00-\x1f\x7f-\x9f"
_CONTROL_BUT_TAB_AND_BREAKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_LINE_SEPARATORS = r"\u2028\u2029"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_BLANK = re.compile(rf"[\s{INVISIBLE}]*")
BLANK_RULE = "must not be blank"


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


def is_blank(value: str) -> bool:
    """Whether ``value`` holds nothing but blanks and invisible format characters."""
    return _BLANK.fullmatch(value) is not None


def at_most(max_length: int) -> str:
    return f"must be at most {max_length} characters"


def trimmed(field: str, value: str, max_length: int, characters: Characters = ONE_LINE) -> str:
    """``value`` without the blanks around it, when it holds none of ``characters`` (checked
    before trimming: ``str.strip`` takes some control characters for blanks), is not blank and
    is at most ``max_length`` characters long once trimmed; otherwise InvalidValue naming
    ``field``."""
    characters.check(field, value)
    value = value.strip()
    if is_blank(value):
        raise InvalidValue(field, BLANK_RULE)
    if len(value) > max_length:
        raise InvalidValue(field, at_most(max_length))
    return value


def search_text(field: str, value: str | None) -> str | None:
    """A search's text without the blanks around it, None when it is blank; InvalidValue naming
    ``field`` when it holds a control character (no store is ever asked for one)."""
    if value is None:
        return None
    ONE_LINE.check(field, value)
    return None if is_blank(value) else value.strip()


# Spaces and control characters (C0, DEL and C1): never part of a URL as stored and sent.
_SPACE_OR_CONTROL = re.compile(rf"[\s{_CONTROL}]")
WEB_URL_RULE = "must be an absolute http or https URL without spaces or control characters"
# What a schema may check early of a web URL (web_url checks the rest), saying WEB_URL_RULE.
WEB_URL_PATTERN = rf"^https?://[^\s{_CONTROL}]+$"


def web_url(field: str, value: str, max_length: int) -> SplitResult:
    """``value`` split, when it is an absolute http or https URL of at most ``max_length``
    characters without spaces or control characters; otherwise :class:`InvalidValue` naming
    ``field``."""
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
    return parts
