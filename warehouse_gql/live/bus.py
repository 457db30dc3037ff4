"""The event bus: carries events between processes through broadcaster, fans them out here.

Each process holds one broadcaster subscription per channel; an event is decoded once and put
on the queue of every local subscriber. Numbered changes (CHANGES_CHANNEL) go to the relay
(`on_change`), which hands them on in commit order (`deliver`); the bus is only a fast path
for them, the database is their record. Publishing never fails a committed write: errors are
logged and the write stands. A subscriber's queue is bounded: one that falls further behind
than that is ended with RATE_LIMITED instead of holding memory without end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable

from broadcaster import Broadcast
from broadcaster._base import Unsubscribed

from warehouse_gql.domain.changes import Change
from warehouse_gql.domain.errors import RateLimited
from warehouse_gql.live.events import (
    CHANGES_CHANNEL,
    FEED_CHANNEL,
    ITEMS_CHANNEL,
    NUDGE_CHANNEL,
    SESSIONS_CHANNEL,
    SHIPMENTS_CHANNEL,
    Event,
    Nudge,
    SessionsChanged,
    decode,
    encode,
    local_events,
)
from warehouse_gql.live.sessions import Sessions

log = logging.getLogger(__name__)

CHANNELS = (ITEMS_CHANNEL, SHIPMENTS_CHANNEL, SESSIONS_CHANNEL, CHANGES_CHANNEL, NUDGE_CHANNEL)
# What local subscribers may read.
LOCAL_CHANNELS = (ITEMS_CHANNEL, SHIPMENTS_CHANNEL, SESSIONS_CHANNEL, FEED_CHANNEL)


DEFAULT_QUEUE_SIZE = 1000


class FellBehind(RateLimited):
    def __init__(self, limit: int, cursor: str | None = None) -> None:
        resume = (
            f"subscribe again with after: {cursor!r} to resume."
            if cursor is not None
            else "read the current state and subscribe again."
        )
        super().__init__(
            f"This subscription fell more than {limit} events behind and was ended; {resume}"
        )
        self.limit = limit
        # The last change delivered before it ended: where a resumed subscription starts.
        self.cursor = cursor

    def details(self) -> dict[str, object]:
        found = super().details()
        if self.cursor is not None:
            found["cursor"] = self.cursor
        return found


class _Queue:
    """One local subscriber's events, at most `limit` of them."""

    __slots__ = ("events", "limit", "overflowed", "waiter")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.events: collections.deque[Event] = collections.deque()
        self.overflowed = False
        self.waiter: asyncio.Future[None] | None = None

    def put(self, event: Event) -> None:
        if self.overflowed:
            return
        if len(self.events) >= self.limit:
            # Drop what it holds: the subscriber ends at its next read.
            self.overflowed = True
            self.events.clear()
        else:
            self.events.append(event)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> Event:
        while not self.events:
            if self.overflowed:
                raise FellBehind(self.limit)
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.events.popleft()


class EventBus:
    def __init__(
        self, broadcast: Broadcast, *, queue_size: int = DEFAULT_QUEUE_SIZE, namespace: str = ""
    ) -> None:
        self.broadcast = broadcast
        # One deployment's channels on a shared Redis: its database's name before each, so a
        # second deployment (or a test database) on the same Redis never hears its numbers.
        self._prefix = f"{namespace}/" if namespace else ""
        self.queue_size = queue_size
        self.sessions = Sessions()
        self._local: dict[str, set[_Queue]] = {c: set() for c in LOCAL_CHANNELS}
        self._pumps: list[asyncio.Task[None]] = []
        # Set by the relay: numbered changes and nudges from other processes go to it.
        self.on_change: Callable[[Change], None] | None = None
        self.on_nudge: Callable[[], None] | None = None
        # The number of the last change handed to local subscribers (the relay keeps it).
        self.position = 0

    async def start(self) -> None:
        ready = [asyncio.Event() for _ in CHANNELS]
        self._pumps = [
            asyncio.create_task(self._pump(channel, flag), name=f"pump-{channel}")
            for channel, flag in zip(CHANNELS, ready, strict=True)
        ]
        for flag in ready:
            await flag.wait()

    async def stop(self) -> None:
        for task in self._pumps:
            task.cancel()
        for task in self._pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self, channel: str, ready: asyncio.Event) -> None:
        async with self.broadcast.subscribe(channel=self._prefix + channel) as subscriber:
            ready.set()
            while True:
                try:
                    message = await subscriber.get()
                except Unsubscribed:
                    return
                try:
                    event = decode(channel, message.message)
                except Exception:
                    log.exception("dropped an undecodable event on %s", channel)
                    continue
                if isinstance(event, Change):
                    if self.on_change is not None:
                        self.on_change(event)
                    continue
                if isinstance(event, Nudge):
                    if self.on_nudge is not None:
                        self.on_nudge()
                    continue
                if isinstance(event, SessionsChanged):
                    self.sessions.changed(event.user_id)
                for queue in list(self._local[channel]):
                    queue.put(event)

    def deliver(self, change: Change) -> None:
        """Hand one numbered change to this process's subscribers (the relay calls this once
        per change, in commit order)."""
        self.position = change.seq
        for channel, event in local_events(change):
            for queue in list(self._local[channel]):
                queue.put(event)

    async def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            channel, text = encode(event)
            try:
                await self.broadcast.publish(channel=self._prefix + channel, message=text)
            except Exception:
                log.exception(
                    "could not publish an event on %s; the change itself is committed", channel
                )

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue = _Queue(self.queue_size)
        self._local[channel].add(queue)

        async def events() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._local[channel].discard(queue)

    def subscribers(self) -> int:
        """Local subscriber queues open now (every channel)."""
        return sum(len(q) for q in self._local.values())

    def listeners(self, channel: str) -> frozenset[_Queue]:
        """The local subscriber queues of `channel` now: a subscription listens from the moment
        its queue is here, so a new member of this set is a subscription that will get the
        next event."""
        return frozenset(self._local[channel])
