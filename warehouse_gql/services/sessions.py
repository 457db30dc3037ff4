"""Sessions: opening one, finding the user of a token, listing, ending them.

Every change to a user's sessions or role goes through `invalidate`, the one way to make
every process forget what it cached of that user and re-check their open sockets.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from warehouse_gql.domain import access, clock
from warehouse_gql.domain import accounts as rules
from warehouse_gql.domain.errors import Forbidden, NotFound
from warehouse_gql.domain.models import SessionRecord, User
from warehouse_gql.live.bus import EventBus
from warehouse_gql.live.events import SessionsChanged
from warehouse_gql.store import users as store
from warehouse_gql.store.database import Database

TOKEN_BYTES = 32  # 256 bits


@dataclass(frozen=True)
class Session:
    token: str
    user: User


def hash_token(token: str) -> str:
    """What the sessions collection keys a token by. Parse's `r:` (revocable session) prefix,
    which /parse puts on the tokens it hands out, is ignored: one session works on every API."""
    return hashlib.sha256(token.removeprefix("r:").encode()).hexdigest()


async def invalidate(events: EventBus, *, user_id: str) -> None:
    """The user's sessions or role changed: this process forgets them at once, every other
    process when the bus brings the news; open sockets re-read their session either way."""
    events.sessions.changed(user_id)
    await events.publish([SessionsChanged(user_id=user_id)])


async def open_session(
    db: Database, events: EventBus, *, user: User, ttl: timedelta, user_agent: str | None
) -> Session:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await store.insert_session(
        db,
        token_hash=hash_token(token),
        user_id=user.id,
        expires_at=clock.now() + ttl,
        user_agent=rules.clean_user_agent(user_agent),
    )
    # At most MAX_SESSIONS_PER_USER live sessions: a new one ends the oldest. Concurrent
    # log-ins each trim, so the count settles at the limit.
    ended = await store.delete_oldest_sessions(db, user.id, keep=rules.MAX_SESSIONS_PER_USER)
    if ended:
        await invalidate(events, user_id=user.id)
    return Session(token=token, user=user)


async def authenticate(db: Database, events: EventBus, *, token: str) -> User | None:
    """The user of a token, from this process's session cache when it is fresh (≤ 1 s)."""
    token_hash = hash_token(token)
    cache = events.sessions.cache
    if (user := cache.get(token_hash)) is not None:
        return user
    found = await cache.lookup(token_hash, lambda: store.find_session_user(db, token_hash))
    return None if found is None else found[0]


async def session_of(db: Database, token: str) -> tuple[User, datetime] | None:
    """The user of a live session and when it expires, read from the database (no cache)."""
    return await store.find_session_user(db, hash_token(token))


async def log_out(db: Database, events: EventBus, *, token: str, user_id: str) -> bool:
    deleted = await store.delete_session(db, hash_token(token))
    await invalidate(events, user_id=user_id)
    return deleted


async def revoke_sessions(db: Database, events: EventBus, *, user_id: str, by: User) -> int:
    """End every session of a user (managers: anyone's; everyone else: their own)."""
    if not access.may_revoke_sessions(by.role, by.id, user_id):
        raise Forbidden("revokeSessions for another user", by.role.value)
    if not await store.user_exists(db, user_id):
        raise NotFound("user", user_id)
    ended = await store.delete_sessions_of(db, user_id)
    await invalidate(events, user_id=user_id)
    return ended


async def end_other_sessions(db: Database, events: EventBus, *, user_id: str, token: str) -> int:
    """End every session of a user but the one of `token`."""
    ended = await store.delete_sessions_of(db, user_id, keep=hash_token(token))
    await invalidate(events, user_id=user_id)
    return ended


async def sessions_of(db: Database, *, user_id: str) -> list[SessionRecord]:
    """A user's live sessions, newest first."""
    return await store.sessions_of(db, user_id)


def is_current(record: SessionRecord, token: str | None) -> bool:
    return token is not None and record.id == rules.session_id(hash_token(token))
