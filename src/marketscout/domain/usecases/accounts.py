"""Sign-up, login, token refresh with rotation, authentication, log-out and token revocation,
changing a password, and the operator disabling or enabling an account or setting its password."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from marketscout.domain.errors import AuthenticationFailed, Conflict, Forbidden, InvalidValue, NotFound
from marketscout.domain.model import RefreshToken, User
from marketscout.domain.passwords import check_password
from marketscout.domain.ports import AccessClaims, Clock, PasswordHasher, TokenIssuer, UnitOfWork
from marketscout.domain.text import DNS_NAME_MAX_LENGTH, ONE_LINE, at_most, is_blank

UnitOfWorkFactory = Callable[[], UnitOfWork]

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_]{3,50}$")
USERNAME_RULE = "must be 3-50 characters of letters, digits and underscore"
EMAIL_MAX_LENGTH = 254
EMAIL_LOCAL_MAX_LENGTH = 64  # before the @ (RFC 5321)
INVALID_CREDENTIALS = "Incorrect username or password"
DISABLED = "This account is disabled: ask the instance's operator"
INVALID_REFRESH = "Invalid or expired refresh token"
# Longer than any refresh token issued (64 characters): one longer is refused unlooked-up.
REFRESH_TOKEN_MAX_LENGTH = 512


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


def refresh_digest(token: str) -> str:
    """Refresh tokens are stored by digest, so a leaked table cannot be replayed."""
    return hashlib.sha256(token.encode()).hexdigest()


def validate_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidValue("username", USERNAME_RULE)
    return username


def normalise_email(email: str) -> str:
    return email.strip()


# Besides letters and digits, what the local part may hold: RFC 5322's atext, as the WHATWG
# "valid e-mail address" has it. None of it makes a mail header read another recipient (a group's
# ":" and ";", "<>" around an address, "," between two, "()" comments, quotes, "[]", "\\").
EMAIL_LOCAL_SYMBOLS = frozenset(".!#$%&'*+/=?^_`{|}~-")
EMAIL_LOCAL_RULE = "must have only letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ - before the @"
EMAIL_DOMAIN_RULE = (
    "must have a domain of letters, digits and hyphens between its dots (no hyphen first or last), "
    "at most 63 characters each and 253 in all once IDNA-encoded"
)
_DNS_LABEL_MAX = 63


def _letter_or_digit(character: str) -> bool:
    """Any script's letters and digits (international addresses), with their combining marks."""
    return character.isalnum() or unicodedata.category(character).startswith("M")


def _mail_domain(domain: str) -> bool:
    """Letters, digits and hyphens between the dots, no hyphen first or last in a part, within
    DNS's lengths once IDNA-encoded."""
    labels = domain.split(".")
    if any(label.startswith("-") or label.endswith("-") for label in labels):
        return False
    if not all(c == "-" or _letter_or_digit(c) for label in labels for c in label):
        return False
    try:
        encoded = [label.encode("idna") for label in labels]
    except UnicodeError:
        return False
    # A label that encodes with a dot in it (U+2488 folds to "1.") would be another domain.
    return all(len(label) <= _DNS_LABEL_MAX and b"." not in label for label in encoded) and (
        len(b".".join(encoded)) <= DNS_NAME_MAX_LENGTH
    )


def validate_email(email: str) -> str:
    """The address trimmed, when it is one mail can be sent to as written: one @, a dot in the
    domain, no spaces or control characters, no empty part between dots (RFC 5322's dot-atoms:
    no dot first, last or twice in a row, before or after the @) and no part of only invisible
    characters; before the @ only letters, digits and :data:`EMAIL_LOCAL_SYMBOLS` (so no mail
    header reads it as other recipients), after it letters, digits and hyphens between the dots,
    within DNS's lengths once IDNA-encoded. Letters of any script are taken (international
    addresses). Deliberately plain otherwise: deliverability is not ours to judge."""
    trimmed = normalise_email(email)
    if len(trimmed) > EMAIL_MAX_LENGTH:
        raise InvalidValue("email", at_most(EMAIL_MAX_LENGTH))
    if not ONE_LINE.allows(email) or any(c.isspace() for c in trimmed):
        raise InvalidValue("email", "must not hold spaces or control characters")
    local, _, domain = trimmed.partition("@")
    if not local or "@" in domain or "." not in domain:
        raise InvalidValue("email", "must be a valid e-mail address, such as name@example.com")
    if len(local) > EMAIL_LOCAL_MAX_LENGTH:
        raise InvalidValue("email", f"must have at most {EMAIL_LOCAL_MAX_LENGTH} characters before the @")
    parts = [*local.split("."), *domain.split(".")]
    if "" in parts:
        raise InvalidValue(
            "email", "must not have two dots in a row, nor a dot at the start or end of either side of the @"
        )
    if any(is_blank(part) for part in parts):
        raise InvalidValue(
            "email", "must hold visible characters on both sides of the @ and between its dots"
        )
    if not all(c in EMAIL_LOCAL_SYMBOLS or _letter_or_digit(c) for c in local):
        raise InvalidValue("email", EMAIL_LOCAL_RULE)
    if not _mail_domain(domain):
        raise InvalidValue("email", EMAIL_DOMAIN_RULE)
    return trimmed


def sign_up_problems(username: str, email: str, password: str) -> list[InvalidValue]:
    """Every rule a sign-up breaks, one per field, in the order :func:`sign_up` checks them
    (it refuses the first); empty when the values may be stored. A form shows them all at once."""
    checks: tuple[Callable[[], object], ...] = (
        lambda: validate_username(username),
        lambda: validate_email(email),
        lambda: check_password(password, username=username, email=email),
    )
    problems: list[InvalidValue] = []
    for check in checks:
        try:
            check()
        except InvalidValue as error:
            problems.append(error)
    return problems


# What a closed sign-up answers (the operator's setting; the operator adds accounts instead).
SIGN_UP_CLOSED = "sign-up is closed on this instance: ask its operator for an account"


async def sign_up(
    uow: UnitOfWork, hasher: PasswordHasher, clock: Clock, *, username: str, email: str, password: str
) -> User:
    if problems := sign_up_problems(username, email, password):
        raise problems[0]
    email = normalise_email(email)
    password_hash = await hasher.hash(password)
    async with uow:
        taken = await uow.users.username_or_email_taken(username, email)
        if taken is not None:
            raise Conflict(f"{taken} already registered", field=taken)
        user = await uow.users.add(
            User(username=username, email=email, password_hash=password_hash, created_at=clock.now())
        )
        await uow.commit()
    return user


async def _issue_pair(
    uow: UnitOfWork, tokens: TokenIssuer, clock: Clock, user_id: int, family_id: str
) -> TokenPair:
    access = tokens.issue_access(user_id, family_id)
    refresh = tokens.new_refresh_token()
    now = clock.now()
    await uow.refresh_tokens.add(
        RefreshToken(
            digest=refresh_digest(refresh),
            family_id=family_id,
            user_id=user_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=tokens.refresh_lifetime_seconds),
        )
    )
    return TokenPair(access_token=access.token, expires_in=access.expires_in, refresh_token=refresh)


async def find_account(uow: UnitOfWork, login: str) -> User | None:
    """The account a login name names: its username, or its e-mail address (usernames never
    hold "@"), either in any case. InvalidValue naming ``username`` (the log-in form's field)
    for a name with a control character, which no account has: no store is asked for it."""
    ONE_LINE.check("username", login)
    if "@" in login:
        return await uow.users.get_by_email(normalise_email(login))
    return await uow.users.get_by_username(login)


async def log_in(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    tokens: TokenIssuer,
    clock: Clock,
    *,
    username: str,
    password: str,
) -> TokenPair:
    async with uow:
        user = await find_account(uow, username)
        if user is None:
            await hasher.dummy_verify(password)
            raise AuthenticationFailed(INVALID_CREDENTIALS)
        if not await hasher.verify(user.password_hash, password):
            raise AuthenticationFailed(INVALID_CREDENTIALS)
        if user.disabled_at is not None:
            # Said only to who knows the password: anyone else gets the one message above.
            raise AuthenticationFailed(DISABLED)
        if hasher.needs_rehash(user.password_hash):
            await uow.users.set_password_hash(user.id, await hasher.hash(password))
        pair = await _issue_pair(uow, tokens, clock, user.id, uuid.uuid4().hex)
        await uow.commit()
    return pair


async def refresh_tokens(
    uow: UnitOfWork, tokens: TokenIssuer, clock: Clock, *, refresh_token: str
) -> TokenPair:
    """Rotates a refresh token; replaying a spent one revokes that login's whole family. A token
    of a revoked login is refused, also one a refresh added to it while a revocation ran, and
    one a revocation revoked between this refresh reading it and spending it."""
    async with uow:
        user, stored, _ = await _spend(uow, clock, refresh_token, grace=timedelta(0))
        pair = await _issue_pair(uow, tokens, clock, user.id, stored.family_id)
        await uow.commit()
    return pair


@dataclass(frozen=True, slots=True)
class Renewal:
    """A dashboard session renewed from its login's refresh token: whom it is for, a new access
    token of the login, and the refresh token rotated from the one sent; None when that one had
    been spent moments before (within the grace) by a renewal running alongside (another tab),
    whose answer carries the rotated token: the browser keeps that one."""

    user: User
    access_token: str
    expires_in: int
    refresh_token: str | None


async def renew_session(
    uow: UnitOfWork, tokens: TokenIssuer, clock: Clock, *, refresh_token: str, grace: timedelta
) -> Renewal:
    """:func:`refresh_tokens` for a browser's session, whose tabs may send the same refresh
    token at once: every check and the rotation are the same (a revoked login, a disabled
    account, a password change, an expired token are refused; a replay ends the login), except
    that a token spent at most ``grace`` ago answers with a new access token of its login and
    no refresh token, instead of ending the login as a replay."""
    async with uow:
        user, stored, spent_now = await _spend(uow, clock, refresh_token, grace=grace)
        if not spent_now:
            access = tokens.issue_access(user.id, stored.family_id)
            return Renewal(
                user=user, access_token=access.token, expires_in=access.expires_in, refresh_token=None
            )
        pair = await _issue_pair(uow, tokens, clock, user.id, stored.family_id)
        await uow.commit()
    return Renewal(
        user=user,
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
    )


async def _spend(
    uow: UnitOfWork, clock: Clock, refresh_token: str, *, grace: timedelta
) -> tuple[User, RefreshToken, bool]:
    """In ``uow``: the account and stored token of a refresh token that may be rotated, marked
    spent now (True), or spent by another at most ``grace`` ago (False: only with a grace).
    AuthenticationFailed otherwise, as for a token that was never issued: a blank or too long
    one too; a replay (spent longer ago) revokes the login, committed."""
    if not refresh_token.strip() or len(refresh_token) > REFRESH_TOKEN_MAX_LENGTH:
        raise AuthenticationFailed(INVALID_REFRESH)
    stored = await uow.refresh_tokens.get_by_digest(refresh_digest(refresh_token))
    now = clock.now()
    user = None if stored is None else await uow.users.get(stored.user_id)
    if stored is None or user is None:
        raise AuthenticationFailed(INVALID_REFRESH)
    if user.disabled_at is not None:
        # Before the revoked check: disabling revokes the account's logins, and who holds
        # one of its refresh tokens logged in with the password (as log_in says it).
        raise AuthenticationFailed(DISABLED)
    if (
        stored.revoked
        or stored.expires_at <= now
        or await uow.refresh_tokens.family_revoked(stored.family_id)
    ):
        raise AuthenticationFailed(INVALID_REFRESH)
    if stored.used_at is None and await uow.refresh_tokens.mark_used(stored.id, now):
        return user, stored, True
    if await uow.refresh_tokens.family_revoked(stored.family_id):
        raise AuthenticationFailed(INVALID_REFRESH)  # revoked meanwhile: not a replay
    # Spent, by another: just now (our read found it unspent), or when its row says.
    if grace > timedelta(0) and (stored.used_at is None or now - stored.used_at <= grace):
        return user, stored, False
    await uow.refresh_tokens.revoke_family(stored.family_id)
    await uow.commit()
    raise AuthenticationFailed("Refresh token already used; this login has been revoked")


ENDED = "This login has ended: log in again"


async def authenticate(uow: UnitOfWork, tokens: TokenIssuer, token: str) -> User:
    """The user an access token speaks for; AuthenticationFailed otherwise: also for a token
    logged out, one of a login that was revoked (its refresh-token family: by
    :func:`revoke_tokens`, a replayed refresh token, disabling the account or a password
    change), or one issued before the account's password last changed (a token issued at that
    very instant, as the change's own new login may be, still counts). A token issued before
    tokens named their login (no ``fid``) cannot be tied to one and counts until it expires
    (30 minutes by default), unless logged out itself."""
    claims = tokens.read_access(token)
    async with uow:
        user = await uow.users.get(claims.user_id)
        revoked = user is not None and (
            await uow.revoked_access_tokens.is_revoked(claims.token_id)
            or (claims.family_id is not None and await uow.refresh_tokens.family_revoked(claims.family_id))
        )
    if user is None:
        raise AuthenticationFailed("Invalid token")
    if user.disabled_at is not None:
        raise AuthenticationFailed(DISABLED)
    if revoked or (user.tokens_valid_after is not None and claims.issued_at < user.tokens_valid_after):
        raise AuthenticationFailed(ENDED)
    return user


async def log_out(
    uow: UnitOfWork, tokens: TokenIssuer, clock: Clock, token: str | None, *, refresh_token: str | None = None
) -> None:
    """Ends an access token before it expires: from now on it is refused. Its id is kept until
    it expires (those of tokens expired by now are forgotten on the way). A token that is not
    valid (expired, forged) has nothing to end. A ``refresh_token`` (the dashboard's cookie)
    ends its whole login, as :func:`revoke_tokens` does: whoever holds it could use the login,
    so may end it; one that names no login has nothing to end."""
    claims = None
    if token:
        with contextlib.suppress(AuthenticationFailed):
            claims = tokens.read_access(token)
    if claims is None and refresh_token is None:
        return
    async with uow:
        if refresh_token is not None and (stored := await _stored(uow, refresh_token)) is not None:
            await uow.refresh_tokens.revoke_family(stored.family_id)
        if claims is not None:
            await _revoke_access(uow, clock, claims)
        await uow.commit()


async def _stored(uow: UnitOfWork, refresh_token: str) -> RefreshToken | None:
    return await uow.refresh_tokens.get_by_digest(refresh_digest(refresh_token))


NOT_YOURS = "This refresh token is another account's: nothing was revoked"


async def revoke_tokens(
    uow: UnitOfWork, tokens: TokenIssuer, clock: Clock, access_token: str, *, refresh_token: str | None = None
) -> None:
    """Token revocation (RFC 7009) by an API client, for an access token that authenticated:
    it is refused from then on, as after :func:`log_out`. A ``refresh_token`` of the same
    account ends its whole login (its refresh-token family), as when a spent one is replayed:
    every refresh token of the login is refused from then on, one rotated from it meanwhile (by
    the client, or by a thief) too, even by a refresh running at the same time; and so is every
    access token issued for the login by log-in or refresh (the thief's too), see
    :func:`authenticate`, except those issued before tokens named their login, which count until
    they expire. Other logins of the account go on (a password change ends them all). One that
    names no login (never issued, expired and forgotten) has nothing to end and is ignored, as
    RFC 7009 says; one of another account is refused with Forbidden, and nothing is revoked."""
    claims = tokens.read_access(access_token)
    async with uow:
        if refresh_token is not None and (stored := await _stored(uow, refresh_token)) is not None:
            if stored.user_id != claims.user_id:
                raise Forbidden(NOT_YOURS)
            await uow.refresh_tokens.revoke_family(stored.family_id)
        await _revoke_access(uow, clock, claims)
        await uow.commit()


async def _revoke_access(uow: UnitOfWork, clock: Clock, claims: AccessClaims) -> None:
    """Records the access token as revoked until it expires, forgetting those expired by now."""
    await uow.revoked_access_tokens.prune(clock.now())
    await uow.revoked_access_tokens.add(claims.token_id, claims.expires_at)


async def set_disabled(uow: UnitOfWork, clock: Clock, username: str, *, disabled: bool) -> User:
    """The operator disables the account (from now; one already disabled keeps its time; every
    login it has is revoked) or enables it again; the account as it now is. Its readings stay:
    removing them is :func:`marketscout.domain.usecases.moderation.remove_readings_sent_by`."""
    async with uow:
        user = await uow.users.get_by_username(username)
        if user is None:
            raise NotFound("user", username)
        disabled_at = (user.disabled_at or clock.now()) if disabled else None
        if disabled_at != user.disabled_at:
            await uow.users.set_disabled(user.id, disabled_at)
            if disabled:
                # Its logins end with it: enabled again, it comes back only by a new log-in.
                await uow.refresh_tokens.revoke_user(user.id)
            await uow.commit()
    return dataclasses.replace(user, disabled_at=disabled_at)


def _new_password(password: str, field: str, user: User) -> None:
    """The sign-up's password rules for ``user``'s account, said of ``field``."""
    try:
        check_password(password, username=user.username, email=user.email)
    except InvalidValue as error:
        raise InvalidValue(field, error.rule) from None


async def change_password(
    uow: UnitOfWork, hasher: PasswordHasher, clock: Clock, user_id: int, *, current: str, new: str
) -> None:
    """The user sets a new password, giving the current one; every login of the account ends:
    its refresh tokens are revoked and every access token issued before now is refused, the
    caller's own included."""
    async with uow:
        user = await uow.users.get(user_id)
        if user is None:
            raise AuthenticationFailed("Invalid token")
        if not await hasher.verify(user.password_hash, current):
            raise InvalidValue("current_password", "is wrong")
        _new_password(new, "new_password", user)
        if new == current:
            raise InvalidValue("new_password", "is the current password; choose another")
        await _set_password(uow, hasher, clock, user.id, new)


async def reset_password(
    uow: UnitOfWork, hasher: PasswordHasher, clock: Clock, username: str, new: str
) -> User:
    """The operator sets the password of an account whose user forgot it, by the sign-up's
    rules; every login of the account ends (as on a change)."""
    async with uow:
        user = await uow.users.get_by_username(username)
        if user is None:
            raise NotFound("user", username)
        _new_password(new, "password", user)
        await _set_password(uow, hasher, clock, user.id, new)
    return user


async def _set_password(
    uow: UnitOfWork, hasher: PasswordHasher, clock: Clock, user_id: int, new: str
) -> None:
    """Stores the new password's hash and ends every login of the account, committed: its
    refresh tokens are revoked, and its access tokens issued before now no longer count."""
    password_hash = await hasher.hash(new)
    await uow.users.set_password_hash(user_id, password_hash)
    await uow.users.set_tokens_valid_after(user_id, clock.now())
    await uow.refresh_tokens.revoke_user(user_id)
    await uow.commit()


async def list_accounts(uow: UnitOfWork, *, skip: int = 0, limit: int = 1000) -> list[User]:
    """The accounts by id (the operator's list), ``limit`` of them after the first ``skip``."""
    async with uow:
        return await uow.users.list(skip=skip, limit=limit)
