"""Sign-up, the OAuth2 password flow with rotating refresh tokens, and token revocation."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import JSONBody, URLEncodedBody
from msgspec import Meta

from marketscout.domain.errors import Conflict, Forbidden
from marketscout.domain.model import User
from marketscout.domain.ports import Clock, PasswordHasher, TokenIssuer, UnitOfWork
from marketscout.domain.usecases import accounts
from marketscout.entrypoints.api.params import NO_CONTROL
from marketscout.entrypoints.authentication import bearer_token
from marketscout.entrypoints.schemas import (
    ErrorBody,
    PasswordChangeIn,
    RefreshIn,
    RevokeIn,
    SignUpIn,
    TokenOut,
    UserOut,
)

ERRORS = {"description": "The error shape", "model": ErrorBody}
# RFC 6749 §5.1: an answer carrying tokens is never stored by a cache.
NO_STORE = [
    ResponseHeader(name="Cache-Control", value="no-store", description="Tokens are never cached"),
    ResponseHeader(name="Pragma", value="no-cache", description="Tokens are never cached (HTTP/1.0)"),
]


class TokenForm(msgspec.Struct, kw_only=True):
    """OAuth2 password grant form; other OAuth2 fields (grant_type, scope, client_id) are ignored.
    ``username`` may also be the account's e-mail address (any case)."""

    username: Annotated[str, Meta(min_length=1, max_length=254, pattern=NO_CONTROL)]
    password: Annotated[str, Meta(min_length=1, max_length=1024)]


def _pair(pair: accounts.TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
    )


class AuthController(Controller):
    tags = ["authentication"]

    @post("/signup", status_code=201, summary="Create an account")
    async def sign_up(
        self,
        data: JSONBody[SignUpIn],
        uow: NamedDependency[UnitOfWork],
        hasher: NamedDependency[PasswordHasher],
        clock: NamedDependency[Clock],
        state: State,
    ) -> UserOut:
        """400 when the username or e-mail is taken (case-insensitively); 422 for an invalid field;
        403 when the operator closed sign-up (``MARKETSCOUT_SIGNUP_OPEN=false``)."""
        if not state.container.settings().signup_open:
            raise Forbidden(accounts.SIGN_UP_CLOSED)
        try:
            user = await accounts.sign_up(
                uow, hasher, clock, username=data.username, email=data.email, password=data.password
            )
        except Conflict as error:
            raise HTTPException(
                status_code=400,
                detail=error.message,
                extra=[
                    {"key": error.field or "body", "message": "is already registered (case-insensitively)"}
                ],
            ) from None
        return UserOut.of(user)

    @post("/token", status_code=200, summary="Log in (OAuth2 password flow)", response_headers=NO_STORE)
    async def token(
        self,
        data: URLEncodedBody[TokenForm],
        uow: NamedDependency[UnitOfWork],
        hasher: NamedDependency[PasswordHasher],
        tokens: NamedDependency[TokenIssuer],
        clock: NamedDependency[Clock],
    ) -> TokenOut:
        """``username`` is the username or the account's e-mail address, either in any case;
        401 with one message for an unknown user and a wrong password."""
        pair = await accounts.log_in(
            uow, hasher, tokens, clock, username=data.username, password=data.password
        )
        return _pair(pair)

    @post("/token/refresh", status_code=200, summary="Rotate a refresh token", response_headers=NO_STORE)
    async def refresh(
        self,
        data: JSONBody[RefreshIn],
        uow: NamedDependency[UnitOfWork],
        tokens: NamedDependency[TokenIssuer],
        clock: NamedDependency[Clock],
    ) -> TokenOut:
        """The used refresh token stops working; replaying it revokes the whole login."""
        pair = await accounts.refresh_tokens(uow, tokens, clock, refresh_token=data.refresh_token)
        return _pair(pair)

    @post("/token/revoke", status_code=204, summary="End this login's tokens (token revocation)")
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        uow: NamedDependency[UnitOfWork],
        tokens: NamedDependency[TokenIssuer],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
        data: JSONBody[RevokeIn | None] = None,
    ) -> None:
        """RFC 7009 in spirit: the bearer access token this request is sent with is refused
        (401) from then on, this route's too. The body is optional: ``{"refresh_token": ...}``, a
        refresh token of the same account, also ends that login: every refresh token of it (one
        rotated from the token given, by the client or a thief, too) and every access token
        issued for it (401), except those issued before access tokens named their login, which
        last until they expire; the account's other logins go on. Without it only the access
        token ends, and the login can still be refreshed. A refresh token that names no login (never issued, or
        expired) has nothing to end and is ignored; one of another account is a 403, and then
        nothing is revoked. Rate-limited with log-in."""
        await accounts.revoke_tokens(
            uow,
            tokens,
            clock,
            bearer_token(request.scope),
            refresh_token=data.refresh_token if data is not None else None,
        )

    @post("/me/password", status_code=204, summary="Change the account's password")
    async def change_password(
        self,
        data: JSONBody[PasswordChangeIn],
        uow: NamedDependency[UnitOfWork],
        hasher: NamedDependency[PasswordHasher],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
    ) -> None:
        """The current password, then the new one by the sign-up's rules: 422 naming
        ``current_password`` when it is not the account's, or ``new_password`` and the rule it
        breaks. Every login of the account ends: its refresh tokens are revoked, and every access
        token issued before the change answers 401 from then on, the one of this request too
        (log in again with the new password). Rate-limited with log-in."""
        await accounts.change_password(
            uow, hasher, clock, user.id, current=data.current_password, new=data.new_password
        )
