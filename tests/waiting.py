"""Waiting for what a test needs to be true, instead of sleeping a guessed time.

A condition is checked every 10 ms until it holds; a timeout only bounds a failure, so a fast
machine never waits longer than the condition takes. `wait_for` runs inside the event loop
(server state, a scraped metric); `wait_until` blocks, for processes outside it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.01


# ASYNC109 prefers asyncio.timeout around the call; this timeout only bounds a failure, and
# failing here names the condition instead of raising a bare TimeoutError.
async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 5.0,  # noqa: ASYNC109
    what: str = "the condition",
) -> None:
    """Until `condition()` (a plain or an async function) is true; fails after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        assert loop.time() < deadline, f"{what} did not hold within {timeout} s"
        await asyncio.sleep(POLL_S)


def wait_until(
    condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "the condition"
) -> None:
    """The blocking `wait_for`, for state outside the event loop (another process)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout} s"
        time.sleep(POLL_S)
