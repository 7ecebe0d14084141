"""Password hashing with argon2id and access tokens with PyJWT."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from marketscout.domain.errors import AuthenticationFailed, TokenExpired
from marketscout.domain.ports import AccessClaims, Clock, IssuedAccessToken, PasswordHasher, TokenIssuer

# OWASP Password Storage Cheat Sheet, argon2id minimum: m=19 MiB, t=2, p=1.
OWASP_MEMORY_KIB = 19456
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1
MIN_SECRET_BYTES = 32
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "jti")


def generate_secret() -> str:
    return secrets.token_urlsafe(48)


class Argon2PasswordHasher(PasswordHasher):
    """argon2id; hashing and checking run in a worker thread, off the event loop."""

    def __init__(
        self,
        *,
        memory_cost: int = OWASP_MEMORY_KIB,
        time_cost: int = OWASP_TIME_COST,
        parallelism: int = OWASP_PARALLELISM,
    ) -> None:
        if memory_cost < OWASP_MEMORY_KIB or time_cost < OWASP_TIME_COST or parallelism < 1:
            raise ValueError("argon2id parameters must be at least OWASP's (19456 KiB, 2 passes, 1 lane)")
        self._argon = _Argon2(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        self._dummy_hash = self._argon.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._argon.hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    async def dummy_verify(self, password: str) -> None:
        await asyncio.to_thread(self._verify, self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True


class JwtTokenIssuer(TokenIssuer):
    """HS256 access tokens with every registered claim required, checked against the Clock."""

    def __init__(
        self,
        *,
        secret: str,
        issuer: str,
        audience: str,
        clock: Clock,
        access_ttl_seconds: int = 1800,
        refresh_ttl_seconds: int = 14 * 24 * 3600,
        algorithm: str = "HS256",
        leeway_seconds: int = 5,
    ) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._access_ttl = access_ttl_seconds
        self._refresh_ttl = refresh_ttl_seconds
        self._algorithm = algorithm
        self._leeway = leeway_seconds

    @property
    def refresh_lifetime_seconds(self) -> int:
        return self._refresh_ttl

    def issue_access(self, user_id: int, family_id: str) -> IssuedAccessToken:
        # To the microsecond (NumericDate may hold a fraction): a token issued in the same second
        # as a password change, but after it, still counts; one issued before it does not.
        now = round(self._clock.now().timestamp(), 6)
        token_id = uuid.uuid4().hex
        claims = {
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + self._access_ttl,
            "iss": self._issuer,
            "aud": self._audience,
            "jti": token_id,
            "fid": family_id,  # the login: revoking it ends this token too
        }
        token = jwt.encode(claims, self._secret, algorithm=self._algorithm)
        return IssuedAccessToken(token=token, expires_in=self._access_ttl, token_id=token_id)

    def read_access(self, token: str) -> AccessClaims:
        try:
            # Signature, algorithm (pinned), issuer and audience are PyJWT's to check; times are
            # checked below against our Clock, so that tests and replays are deterministic.
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise AuthenticationFailed("Invalid token") from None
        now = self._clock.now().timestamp()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", claims.get("iat"))
        if not all(isinstance(v, int | float) for v in (exp, iat, nbf)):
            raise AuthenticationFailed("Invalid token")
        # Expired is said last, once every other check passed: only a token that is whole and
        # ours is TokenExpired (a session the dashboard may renew).
        expired = now > float(exp) + self._leeway  # type: ignore[arg-type]
        if now + self._leeway < float(nbf) or now + self._leeway < float(iat):  # type: ignore[arg-type]
            raise AuthenticationFailed("Token not yet valid")
        subject, token_id = claims.get("sub"), claims.get("jti")
        if not isinstance(subject, str) or not subject.isdigit() or not 0 < int(subject) < 2**63:
            raise AuthenticationFailed("Invalid token")
        if not isinstance(token_id, str) or not token_id:
            raise AuthenticationFailed("Invalid token")
        # Optional: tokens issued before they named their login have none (see AccessClaims).
        family_id = claims.get("fid")
        if family_id is not None and (not isinstance(family_id, str) or not family_id):
            raise AuthenticationFailed("Invalid token")
        try:
            issued_at = datetime.fromtimestamp(float(iat), UTC)  # type: ignore[arg-type]
            expires_at = datetime.fromtimestamp(float(exp), UTC)  # type: ignore[arg-type]
        except (OverflowError, OSError, ValueError):
            raise AuthenticationFailed("Invalid token") from None
        if expired:
            raise TokenExpired("Token expired")
        return AccessClaims(
            user_id=int(subject),
            token_id=token_id,
            issued_at=issued_at,
            expires_at=expires_at,
            family_id=family_id,
        )

    def new_refresh_token(self) -> str:
        return secrets.token_urlsafe(48)
