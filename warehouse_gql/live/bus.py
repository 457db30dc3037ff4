"""The event bus: publishes committed changes through broadcaster, fans them out per process.

Publishing never fails a committed write: an error is logged and the event dropped from this
path, the write itself stands.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from broadcaster import Broadcast
from broadcaster._base import Unsubscribed

from warehouse_gql.live.events import Event, decode, encode

log = logging.getLogger(__name__)


class EventBus:
    def __init__(self, broadcast: Broadcast) -> None:
        self.broadcast = broadcast

    async def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            channel, text = encode(event)
            try:
                await self.broadcast.publish(channel=channel, message=text)
            except Exception:
                log.exception(
                    "could not publish an event on %s; the change itself is committed", channel
                )

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        async with self.broadcast.subscribe(channel=channel) as subscriber:

            async def events() -> AsyncIterator[Event]:
                while True:
                    try:
                        message = await subscriber.get()
                    except Unsubscribed:
                        return
                    yield decode(message.channel, message.message)

            yield events()
