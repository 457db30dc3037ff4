"""A broadcaster backend for Redis pub/sub that survives outages.

broadcaster 0.3.1's own Redis backend neither reconnects nor reports a dropped connection.
This one keeps broadcaster's backend API and adds what a production feed needs:

- a supervisor task that (re)connects with exponential backoff and re-subscribes every
  channel, so open subscriptions resume without their clients reconnecting;
- publishing that never raises: while Redis is away, events wait in a bounded buffer (oldest
  dropped first when full) and are published in order when it returns;
- `connected` for readiness checks, and one log line per outage rather than per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, cast

import redis.asyncio as redis
from broadcaster import BroadcastBackend, Event
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Failures that mean "Redis is unreachable", as opposed to bugs.
OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)

MAX_BACKOFF = 5.0


class ResilientRedisBackend(BroadcastBackend):
    def __init__(self, url: str, *, buffer_size: int = 10_000) -> None:
        self._url = url
        self._channels: set[str] = set()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._buffer: deque[tuple[str, str]] = deque()
        self._buffer_size = buffer_size
        self._publisher: redis.Redis | None = None
        self._pubsub: Any = None
        self._supervisor: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._pending = asyncio.Event()
        self._connected = asyncio.Event()
        self.connected = False
        self.dropped = 0
        self._outage_logged = False

    async def connect(self) -> None:
        self._publisher = redis.Redis.from_url(
            self._url, socket_connect_timeout=2, socket_timeout=2
        )
        self._supervisor = asyncio.create_task(self._supervise(), name="redis-supervisor")
        self._flusher = asyncio.create_task(self._flush_forever(), name="redis-flusher")
        # Start-up does not wait forever for Redis: the server runs and buffers without it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout=2)

    async def disconnect(self) -> None:
        for task in (self._supervisor, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._publisher is not None:
            await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self.connected and self._pubsub is not None:
            with contextlib.suppress(*OUTAGE):  # the supervisor re-subscribes after an outage
                await self._pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self.connected and self._pubsub is not None:
            with contextlib.suppress(*OUTAGE):
                await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        # Straight to Redis only when nothing older waits in the buffer: order is kept.
        if self.connected and not self._buffer and self._publisher is not None:
            try:
                await self._publisher.publish(channel, message)
                return
            except OUTAGE as exc:
                self._mark_down(exc)
        if len(self._buffer) >= self._buffer_size:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append((channel, str(message)))
        self._pending.set()

    async def next_published(self) -> Event:
        return await self._events.get()

    async def _supervise(self) -> None:
        delay = 0.1
        while True:
            pubsub = None
            try:
                client = redis.Redis.from_url(
                    self._url, socket_connect_timeout=2, health_check_interval=10
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                # A private channel keeps the connection listening even with no subscribers.
                await pubsub.subscribe("warehouse.heartbeat", *self._channels)
                self._pubsub = pubsub
                self._mark_up()
                self._pending.set()
                delay = 0.1
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._events.put_nowait(
                            Event(
                                channel=message["channel"].decode(),
                                message=message["data"].decode(),
                            )
                        )
                raise RedisConnectionError("pub/sub connection ended")
            except OUTAGE as exc:
                self.connected = False
                self._connected.clear()
                self._mark_down(exc)
            finally:
                self._pubsub = None
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        # Any: redis-py types aclose from 8.2 on, not before.
                        await cast(Any, pubsub).aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    async def _flush_forever(self) -> None:
        """Publish buffered events in order whenever there are some, retrying with backoff."""
        assert self._publisher is not None
        delay = 0.1
        while True:
            await self._pending.wait()
            # Only once this process listens again: its own subscribers then get the backlog too.
            await self._connected.wait()
            try:
                while self._buffer:
                    channel, message = self._buffer[0]
                    await self._publisher.publish(channel, message)
                    self._buffer.popleft()
                self._pending.clear()
                delay = 0.1
            except OUTAGE as exc:
                self._mark_down(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def _mark_up(self) -> None:
        if self._outage_logged:
            log.warning(
                "Redis is reachable again; publishing %d buffered events (%d dropped in all)",
                len(self._buffer),
                self.dropped,
            )
        self.connected = True
        self._outage_logged = False
        self._connected.set()

    def _mark_down(self, exc: BaseException) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "Redis is unreachable (%s); writes go on, events wait in a buffer of %d",
                exc,
                self._buffer_size,
            )
