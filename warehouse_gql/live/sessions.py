"""What this process remembers of sessions, and the one way it forgets.

Two things follow a session here: the session cache (token hash -> user, for at most a
second, so a burst of requests on one token costs one lookup) and the open sockets (each with
the user as of its last check). `Sessions.changed(user_id)` is the only way either learns that
a user's sessions or role changed; it runs on every process, called by the event bus for every
`SessionsChanged` and by the process that made the change, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from warehouse_gql.domain.models import User

log = logging.getLogger(__name__)

# A process may answer from a session it looked up this long ago; changes also clear it at
# once on every process (through the event bus), this bounds it when the bus is late.
SESSION_CACHE_SECONDS = 1.0
SESSION_CACHE_ENTRIES = 10_000

Found = tuple[User, datetime]


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
        self._pending: dict[str, asyncio.Future[Found | None]] = {}
        # Bumped by every forget_user(): a lookup that began before a change finished must
        # not put back what the change cleared.
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

    def _put(self, token_hash: str, user: User, expires_at: datetime) -> None:
        if len(self._entries) >= self.max_entries:
            # Bounded: drop the stale entries, or all of them if a burst filled it with live ones.
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if now - v[0] <= self.ttl}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[token_hash] = (time.monotonic(), user, expires_at)

    async def lookup(
        self, token_hash: str, find: Callable[[], Awaitable[Found | None]]
    ) -> Found | None:
        """`find()` once for every concurrent caller of one token hash; remembers the answer."""
        pending = self._pending.get(token_hash)
        if pending is None:
            generation = self._generation

            async def run() -> Found | None:
                try:
                    found = await find()
                finally:
                    if self._pending.get(token_hash) is task:
                        del self._pending[token_hash]
                if found is not None and generation == self._generation:
                    self._put(token_hash, *found)
                return found

            pending = task = asyncio.ensure_future(run())
            self._pending[token_hash] = pending
        # Shielded: one caller going away does not cancel the others' lookup.
        return await asyncio.shield(pending)

    def forget_user(self, user_id: str) -> None:
        self._generation += 1
        self._pending.clear()
        self._entries = {k: v for k, v in self._entries.items() if v[1].id != user_id}

    def __len__(self) -> int:
        return len(self._entries)


class SocketOwner(Protocol):
    """The door's side of an open socket: it knows how to re-read the session and close."""

    async def recheck(self, socket: OpenSocket) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class OpenSocket:
    """One accepted socket and the user it acts for, as of its last check.

    Its owner's `recheck` reads the session again and applies what changed: it closes the
    socket when the session is gone and ends what the new role may not see.
    """

    token_hash: str
    user: User
    expires_at: datetime
    # Sessions.generation before the session was read: a change since then is re-checked.
    seen_generation: int
    owner: SocketOwner | None = None
    # Set while a recheck runs: events wait for it, so none is delivered under a role the
    # user no longer has.
    checking: asyncio.Future[None] | None = field(default=None, init=False)
    _again: bool = field(default=False, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _expiry: asyncio.TimerHandle | None = field(default=None, init=False, repr=False)

    async def close(self, code: int, reason: str) -> None:
        if self.owner is not None:
            await self.owner.close(code, reason)

    def start_recheck(self) -> None:
        if self.checking is not None:
            # The running check may have read the session before this change: read again.
            self._again = True
            return
        self.checking = asyncio.get_running_loop().create_future()
        self._task = asyncio.ensure_future(self._run_rechecks(self.checking))

    async def _run_rechecks(self, done: asyncio.Future[None]) -> None:
        try:
            while True:
                self._again = False
                try:
                    if self.owner is not None:
                        await self.owner.recheck(self)
                except Exception:
                    log.exception("could not re-check a socket's session; closing it")
                    with contextlib.suppress(Exception):
                        await self.close(4401, "Session could not be verified")
                    return
                if not self._again:
                    return
        finally:
            self.checking = None
            self._task = None
            if not done.done():
                done.set_result(None)


class OpenSockets:
    """The open sockets of this process, by session and by user."""

    def __init__(self) -> None:
        self._by_token: dict[str, set[OpenSocket]] = {}
        self._by_user: dict[str, set[OpenSocket]] = {}

    def count(self, token_hash: str) -> int:
        return len(self._by_token.get(token_hash, ()))

    def add(self, socket: OpenSocket, *, limit: int) -> bool:
        """Track a socket unless its session already has `limit` open here."""
        sockets = self._by_token.setdefault(socket.token_hash, set())
        if len(sockets) >= limit:
            if not sockets:
                del self._by_token[socket.token_hash]
            return False
        sockets.add(socket)
        self._by_user.setdefault(socket.user.id, set()).add(socket)
        delay = max(0.0, (socket.expires_at - datetime.now(UTC)).total_seconds())
        # An expired session ends its sockets at once, without waiting for a change.
        socket._expiry = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._expire(socket))
        )
        return True

    async def _expire(self, socket: OpenSocket) -> None:
        with contextlib.suppress(Exception):
            await socket.close(4401, "Session expired")

    def moved(self, socket: OpenSocket, previous_user_id: str) -> None:
        """The socket's user record was re-read; keep the by-user index on its id."""
        if previous_user_id == socket.user.id:
            return
        self._discard(self._by_user, previous_user_id, socket)
        self._by_user.setdefault(socket.user.id, set()).add(socket)

    def renewed(self, socket: OpenSocket, expires_at: datetime) -> None:
        if expires_at == socket.expires_at:
            return
        socket.expires_at = expires_at
        if socket._expiry is not None:
            socket._expiry.cancel()
        delay = max(0.0, (expires_at - datetime.now(UTC)).total_seconds())
        socket._expiry = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._expire(socket))
        )

    def remove(self, socket: OpenSocket) -> None:
        if socket._expiry is not None:
            socket._expiry.cancel()
            socket._expiry = None
        self._discard(self._by_token, socket.token_hash, socket)
        self._discard(self._by_user, socket.user.id, socket)

    @staticmethod
    def _discard(index: dict[str, set[OpenSocket]], key: str, socket: OpenSocket) -> None:
        sockets = index.get(key)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del index[key]

    def of_user(self, user_id: str) -> list[OpenSocket]:
        return list(self._by_user.get(user_id, ()))

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_token.values())


class SubscriptionSlots:
    """This process's count of running subscriptions, against MAX_SUBSCRIPTIONS."""

    def __init__(self) -> None:
        self.running = 0

    def take(self, limit: int) -> bool:
        if self.running >= limit:
            return False
        self.running += 1
        return True

    def give_back(self) -> None:
        self.running = max(0, self.running - 1)


class Sessions:
    def __init__(self) -> None:
        self.cache = SessionCache()
        self.sockets = OpenSockets()
        self.subscriptions = SubscriptionSlots()
        # Counts every change on this process: a socket registered after reading its session
        # compares it to see whether a change may have slipped in between.
        self.generation = 0

    def changed(self, user_id: str) -> None:
        """A user's sessions or role changed: forget them, re-check their sockets.

        Synchronous up to the re-check's start, so an event handled after this call waits for
        the re-check instead of being delivered under the old role.
        """
        self.generation += 1
        self.cache.forget_user(user_id)
        for socket in self.sockets.of_user(user_id):
            socket.start_recheck()
