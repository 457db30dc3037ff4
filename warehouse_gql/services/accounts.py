"""Sign-up, log-in, sessions and roles."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from warehouse_gql.domain import accounts as rules
from warehouse_gql.domain import preconditions
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import NotFound, PreconditionFailed, Unauthenticated
from warehouse_gql.domain.models import User
from warehouse_gql.domain.preconditions import Precondition
from warehouse_gql.live.bus import EventBus
from warehouse_gql.live.events import RoleChanged, SessionRevoked
from warehouse_gql.services.passwords import Passwords
from warehouse_gql.store import users as store
from warehouse_gql.store.database import Database
from warehouse_gql.store.ids import require_id

TOKEN_BYTES = 32  # 256 bits
# A process may answer from a session it looked up this long ago: logOut and role changes
# also clear it at once on every process (through the event bus), this bounds it anyway.
SESSION_CACHE_SECONDS = 1.0
SESSION_CACHE_ENTRIES = 10_000


@dataclass(frozen=True)
class Session:
    token: str
    user: User


class SessionCache:
    """Sessions this process authenticated in the last second: token hash -> user, expiry.

    Saves the two lookups (session, user) of every request made in a burst on one token;
    concurrent requests on a token that is not cached share one lookup. Unknown tokens are
    never remembered, so guessing cannot fill it.
    """

    def __init__(
        self, ttl: float = SESSION_CACHE_SECONDS, max_entries: int = SESSION_CACHE_ENTRIES
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, User, datetime]] = {}
        self._pending: dict[str, asyncio.Future[tuple[User, datetime] | None]] = {}
        # Bumped by every forget(): a lookup that began before a logOut or role change
        # finished must not put back what they cleared.
        self._generation = 0

    def get(self, token_hash: str) -> User | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        cached_at, user, expires_at = entry
        if time.monotonic() - cached_at > self.ttl or expires_at <= datetime.now(UTC):
            del self._entries[token_hash]
            return None
        return user

    def put(self, token_hash: str, user: User, expires_at: datetime) -> None:
        if len(self._entries) >= self.max_entries:
            # Bounded: drop the stale entries, or all of them if a burst filled it with live ones.
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if now - v[0] <= self.ttl}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[token_hash] = (time.monotonic(), user, expires_at)

    async def lookup(
        self, token_hash: str, find: Callable[[], Awaitable[tuple[User, datetime] | None]]
    ) -> tuple[User, datetime] | None:
        """`find()` once for every concurrent caller of one token hash; remembers the answer."""
        pending = self._pending.get(token_hash)
        if pending is None:
            generation = self._generation

            async def run() -> tuple[User, datetime] | None:
                try:
                    found = await find()
                finally:
                    if self._pending.get(token_hash) is task:
                        del self._pending[token_hash]
                if found is not None and generation == self._generation:
                    self.put(token_hash, *found)
                return found

            pending = task = asyncio.ensure_future(run())
            self._pending[token_hash] = pending
        # Shielded: one caller going away does not cancel the others' lookup.
        return await asyncio.shield(pending)

    def forget(self, event: SessionRevoked | RoleChanged) -> None:
        """Drop what a logOut or role change made stale (called on every process)."""
        self._generation += 1
        self._pending.clear()
        if isinstance(event, SessionRevoked):
            self._entries.pop(event.token_hash, None)
        else:
            self._entries = {k: v for k, v in self._entries.items() if v[1].id != event.user_id}


def hash_token(token: str) -> str:
    """What the sessions collection keys a token by. Parse's `r:` (revocable session) prefix,
    which /parse puts on the tokens it hands out, is ignored: one session works on every API."""
    return hashlib.sha256(token.removeprefix("r:").encode()).hexdigest()


async def create_user(
    db: Database, passwords: Passwords, *, username: str, email: str, password: str, role: Role
) -> User:
    username = rules.check_username(username)
    email = rules.check_email(email)
    rules.check_password(password)
    return await store.insert_user(
        db, username=username, email=email, password_hash=await passwords.hash(password), role=role
    )


async def _open_session(db: Database, user: User, ttl: timedelta) -> Session:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await store.insert_session(
        db, token_hash=hash_token(token), user_id=user.id, expires_at=datetime.now(UTC) + ttl
    )
    return Session(token=token, user=user)


async def sign_up(
    db: Database, passwords: Passwords, *, username: str, email: str, password: str, ttl: timedelta
) -> Session:
    """Sign-up always makes a CUSTOMER; managers promote people with setUserRole."""
    user = await create_user(
        db, passwords, username=username, email=email, password=password, role=Role.CUSTOMER
    )
    return await _open_session(db, user, ttl)


async def log_in(
    db: Database, passwords: Passwords, *, username: str, password: str, ttl: timedelta
) -> Session:
    found = await store.find_credentials(db, username)
    if found is None:
        # Same work and the same error as a wrong password: usernames cannot be probed.
        await passwords.verify(passwords.dummy_hash, password)
        raise Unauthenticated("Wrong username or password.")
    user, password_hash = found
    if not await passwords.verify(password_hash, password):
        raise Unauthenticated("Wrong username or password.")
    if passwords.needs_rehash(password_hash):
        await store.set_password_hash(db, user.id, await passwords.hash(password))
    return await _open_session(db, user, ttl)


async def session_of(db: Database, token: str) -> tuple[User, datetime] | None:
    """The user of a live session and when the session expires."""
    return await store.find_session_user(db, hash_token(token))


async def authenticate(db: Database, token: str, cache: SessionCache | None = None) -> User | None:
    token_hash = hash_token(token)
    if cache is None:
        found = await store.find_session_user(db, token_hash)
    elif (user := cache.get(token_hash)) is not None:
        return user
    else:
        found = await cache.lookup(token_hash, lambda: store.find_session_user(db, token_hash))
    return None if found is None else found[0]


async def log_out(
    db: Database, events: EventBus, *, token_hash: str, cache: SessionCache | None = None
) -> bool:
    deleted = await store.delete_session(db, token_hash)
    if cache is not None:
        # This process at once; the others when the event reaches them.
        cache.forget(SessionRevoked(token_hash=token_hash))
    # Every process closes the subscriptions opened with this token.
    await events.publish([SessionRevoked(token_hash=token_hash)])
    return deleted


async def set_user_role(
    db: Database,
    *,
    user_id: str,
    role: Role,
    events: EventBus | None = None,
    cache: SessionCache | None = None,
    precondition: Precondition | None = None,
) -> User:
    oid = require_id(user_id, "user")
    if precondition is not None:
        current = await store.get_user(db, oid)
        if current is None:
            raise NotFound("user", user_id)
        preconditions.check(precondition, current)
        # Compare-and-set on the state just checked: a write in between makes this one fail.
        if not await store.set_role_if_unchanged(db, oid, role, updated_at=current.updated_at):
            raise PreconditionFailed()
    updated = (
        await store.set_role(db, oid, role)
        if precondition is None
        else await store.get_user(db, oid)
    )
    if updated is None:
        raise NotFound("user", user_id)
    # The new role counts from the user's next request, on every process.
    if cache is not None:
        cache.forget(RoleChanged(user_id=updated.id))
    if events is not None:
        await events.publish([RoleChanged(user_id=updated.id)])
    return updated
