"""The event bus: publishes committed changes through broadcaster and fans them out here.

Each process holds one broadcaster subscription per channel; an event is decoded once and put
on the queue of every local subscriber. Publishing never fails a committed write: errors are
logged and the write stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable

from broadcaster import Broadcast
from broadcaster._base import Unsubscribed

from warehouse_gql.live.events import (
    ITEMS_CHANNEL,
    SESSIONS_CHANNEL,
    SHIPMENTS_CHANNEL,
    Event,
    RoleChanged,
    SessionRevoked,
    decode,
    encode,
)
from warehouse_gql.live.sessions import SessionWatch

log = logging.getLogger(__name__)

CHANNELS = (ITEMS_CHANNEL, SHIPMENTS_CHANNEL, SESSIONS_CHANNEL)


class EventBus:
    def __init__(self, broadcast: Broadcast) -> None:
        self.broadcast = broadcast
        self.sessions = SessionWatch()
        # Called with every SessionRevoked and RoleChanged, on every process (session caches).
        self.session_listeners: list[Callable[[SessionRevoked | RoleChanged], None]] = []
        self._local: dict[str, set[asyncio.Queue[Event]]] = {c: set() for c in CHANNELS}
        self._pumps: list[asyncio.Task[None]] = []

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
        async with self.broadcast.subscribe(channel=channel) as subscriber:
            ready.set()
            while True:
                try:
                    message = await subscriber.get()
                except Unsubscribed:
                    return
                try:
                    event = decode(message.channel, message.message)
                except Exception:
                    log.exception("dropped an undecodable event on %s", channel)
                    continue
                if isinstance(event, SessionRevoked | RoleChanged):
                    for listener in self.session_listeners:
                        listener(event)
                if isinstance(event, SessionRevoked):
                    await self.sessions.revoke(event.token_hash)
                for queue in list(self._local[channel]):
                    queue.put_nowait(event)

    async def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            channel, text = encode(event)
            try:
                await self.broadcast.publish(channel=channel, message=text)
            except Exception:
                log.exception(
                    "could not publish an event on %s; the change itself is committed", channel
                )

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._local[channel].add(queue)

        async def events() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._local[channel].discard(queue)
