"""Open WebSocket sessions of this process, so logOut and expiry can close them at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

log = logging.getLogger(__name__)

Close = Callable[[], Awaitable[None]]


class SessionWatch:
    def __init__(self) -> None:
        self._open: dict[str, set[Close]] = {}

    def register(self, token_hash: str, close: Close, expires_at: datetime) -> Callable[[], None]:
        """Track one connection; returns the function that stops tracking it."""
        self._open.setdefault(token_hash, set()).add(close)
        delay = max(0.0, (expires_at - datetime.now(UTC)).total_seconds())
        timer = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._close(token_hash, close))
        )

        def unregister() -> None:
            timer.cancel()
            closes = self._open.get(token_hash)
            if closes is not None:
                closes.discard(close)
                if not closes:
                    del self._open[token_hash]

        return unregister

    async def revoke(self, token_hash: str) -> None:
        """Close every connection opened with this session (called on every process)."""
        for close in list(self._open.pop(token_hash, ())):
            await self._close(token_hash, close)

    async def _close(self, token_hash: str, close: Close) -> None:
        with contextlib.suppress(Exception):
            await close()

    def __len__(self) -> int:
        return sum(len(c) for c in self._open.values())
