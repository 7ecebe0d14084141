"""The SQL unit of work: one session and transaction per use of ``async with``."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from marketscout.adapters.sql.repositories import (
    SqlAdRepository,
    SqlAlertRepository,
    SqlAlertRuleRepository,
    SqlDeliveryRepository,
    SqlEngagementStore,
    SqlProductRepository,
    SqlRefreshTokenRepository,
    SqlRevokedAccessTokenRepository,
    SqlScoreRepository,
    SqlUserRepository,
    SqlWatchlistRepository,
    translate_error,
)
from marketscout.domain.errors import Unavailable
from marketscout.domain.ports import HealthProbe, UnitOfWork

READY_TIMEOUT_SECONDS = 3.0


class SqlUnitOfWork(UnitOfWork):
    """Rolls back on leaving unless ``commit()`` was called; may be entered again after."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        session = self._sessions()
        self._session = session
        self.users = SqlUserRepository(session)
        self.refresh_tokens = SqlRefreshTokenRepository(session)
        self.revoked_access_tokens = SqlRevokedAccessTokenRepository(session)
        self.products = SqlProductRepository(session)
        self.ads = SqlAdRepository(session)
        self.engagement = SqlEngagementStore(session)
        self.scores = SqlScoreRepository(session)
        self.watchlists = SqlWatchlistRepository(session)
        self.alert_rules = SqlAlertRuleRepository(session)
        self.alerts = SqlAlertRepository(session)
        self.deliveries = SqlDeliveryRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        # When the connection is gone, the transaction went with it: nothing left to undo.
        with contextlib.suppress(SQLAlchemyError, OSError):
            await session.rollback()
        with contextlib.suppress(SQLAlchemyError, OSError):
            await session.close()

    async def commit(self) -> None:
        if self._session is None:
            raise RuntimeError("commit() outside the unit of work")
        try:
            await self._session.commit()
        except SQLAlchemyError as error:
            raise translate_error(error) from error
        except OSError as error:
            raise Unavailable("the database is unavailable") from error

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()


class SqlHealthProbe(HealthProbe):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _ping(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def ready(self) -> bool:
        try:
            await asyncio.wait_for(self._ping(), READY_TIMEOUT_SECONDS)
        except (TimeoutError, SQLAlchemyError, OSError):
            return False
        return True
