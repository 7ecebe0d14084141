"""Domain errors. Entry points translate them into answers; adapters raise them."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError):
    """A value breaks a rule. ``field`` names it, ``rule`` says which rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class NotFound(DomainError):
    """An id names nothing the caller may see."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what = what
        self.ident = ident


class Conflict(DomainError):
    """The request clashes with something already stored (for example a duplicate)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AuthenticationFailed(DomainError):
    """Credentials or a token were missing, wrong, expired or revoked."""


class TokenExpired(AuthenticationFailed):
    """An access token the server issued (well signed, its claims whole) that has lived out its
    time, and nothing else is wrong with it that a token alone can tell: the dashboard may renew
    such a session from its login's refresh token, never one refused for any other reason."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class Unavailable(DomainError):
    """A dependency (the database) cannot be reached right now."""


class Busy(Unavailable):
    """The database gave this request up for another one's sake (a deadlock, a serialization
    failure, a lock held past its wait): nothing of it was stored, and trying again will do."""


class RejectedBatch(DomainError):
    """An all-or-nothing batch had invalid items, so nothing of it was stored."""

    def __init__(self, rejections: list[tuple[int, str, str]]) -> None:
        super().__init__(f"{len(rejections)} item(s) rejected; nothing was stored")
        self.rejections = rejections


class DeliveryFailed(DomainError):
    """A notification could not be delivered. ``permanent`` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
