"""What an operator does about an account whose readings should not count (a faked trend, a
broken collector): see what each account has sent, and remove one account's readings, after
which the products they were of are scored again from the readings kept.

Every stored reading remembers the account that sent it (the operator's own collectors and
commands send as nobody). Removing is the operator's decision, made outside the API: the
contract lets any account send readings about any ad, so no account can remove another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketscout.domain.errors import NotFound
from marketscout.domain.model import User
from marketscout.domain.ports import Clock, SenderActivity, SentReadings, UnitOfWork
from marketscout.domain.usecases.pipeline import rescore_and_alert


@dataclass(frozen=True, slots=True)
class Sender:
    """An account with stored readings, and what it sent."""

    user: User | None  # None: the account's id is not a known user's (never, while none is deleted)
    activity: SenderActivity


async def reading_senders(uow: UnitOfWork) -> list[Sender]:
    """Every account with stored readings, by id."""
    async with uow:
        activity = await uow.engagement.senders()
        return [Sender(await uow.users.get(a.sender), a) for a in activity]


async def _user(uow: UnitOfWork, username: str) -> tuple[User, int]:
    """The account of that name, and its id."""
    user = await uow.users.get_by_username(username)
    if user is None or user.id is None:
        raise NotFound("user", username)
    return user, user.id


async def readings_sent_by(
    uow: UnitOfWork, username: str, *, since: datetime | None = None
) -> tuple[User, SentReadings]:
    """The stored readings the account sent (observed at or after ``since``, when given)."""
    async with uow:
        user, user_id = await _user(uow, username)
        return user, await uow.engagement.sent_by(user_id, since=since)


async def remove_readings_sent_by(
    uow: UnitOfWork, clock: Clock, username: str, *, since: datetime | None = None
) -> tuple[User, SentReadings]:
    """Removes the stored readings the account sent (observed at or after ``since``, when
    given), then re-scores their products and evaluates the alert rules that cover them. As
    after an ingest, each step is its own unit of work: once removed, the readings stay
    removed even if scoring fails, and re-scoring can be run again."""
    async with uow:
        user, user_id = await _user(uow, username)
        removed = await uow.engagement.remove_sent_by(user_id, since=since)
        await uow.commit()
    if removed.product_ids:
        await rescore_and_alert(uow, clock, removed.product_ids)
    return user, removed
