"""One stream per group of identical subscriptions, read by all of the group's members.

Dashboards open the same subscription many times over. Running it once per subscriber would do
each event's work S times; instead the first subscriber of a group starts the one underlying
stream and every later subscriber of the group reads the same results, so the work per extra
subscriber is its own send. Both doors that stream use it: GraphQL subscriptions
(api/graphql/shared_streams.py says which are shared) and Parse LiveQuery
(api/parse/livequery.py). A slow member neither holds the others back nor makes the group
hold memory without end (see _Group).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from typing import Any

from warehouse_gql.live.bus import DEFAULT_QUEUE_SIZE, FellBehind

log = logging.getLogger(__name__)

_END = object()


def _no_cursor(result: Any) -> str | None:
    return None


async def _as_is(value: Any) -> Any:
    return value


class _Group:
    """One underlying stream and its subscribers.

    The group keeps its last `limit` results, numbered, in one buffer every member reads;
    each member only remembers the number of the next result it wants, and waits on a future
    of its own, which the next result resolves (a member that leaves cancels only its own). Nobody waits for a slow member (a socket whose
    client stopped reading): the stream goes on, and the buffer never holds more than `limit`
    results, so a member that falls further behind than that finds its next result gone and
    gets the registry's `behind` result for a FellBehind (live/bus.py), as a
    subscriber of the bus would, and ends.
    """

    def __init__(self, registry: SharedStreams, key: Hashable, limit: int) -> None:
        self.registry = registry
        self.key = key
        self.limit = limit
        self.members = 0
        self.task: asyncio.Task[None] | None = None
        # Each result with its change cursor, read once for every member.
        self.results: collections.deque[tuple[Any, str | None]] = collections.deque(maxlen=limit)
        # The number of the next result; results[0] is number `delivered - len(results)`.
        self.delivered = 0
        # Set once: _END, or the exception the stream failed with.
        self.ending: Any = None
        # The members waiting for the next result, in the order they began to wait.
        self.waiting: dict[asyncio.Future[None], None] = {}

    async def pump(self, start: Callable[[], Awaitable[Any]]) -> None:
        source: Any = None
        try:
            source = await start()
            if not hasattr(source, "__aiter__"):
                self._deliver(source)
                return
            async for result in source:
                self._deliver(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("a shared subscription stream failed")
            self._end(exc)
        finally:
            self.registry._forget(self)
            self._end(_END)
            if source is not None and hasattr(source, "aclose"):
                with contextlib.suppress(Exception):
                    await source.aclose()

    def _wake(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for future in waiting:
            if not future.done():  # cancelled: its member is leaving
                future.set_result(None)

    def _deliver(self, result: Any) -> None:
        if self.ending is not None:
            return
        self.results.append((result, self.registry.cursor_of(result)))
        self.delivered += 1
        self._wake()

    def _end(self, ending: Any) -> None:
        if self.ending is None:
            self.ending = ending
            self._wake()

    async def member(self, position: int) -> AsyncGenerator[Any, None]:
        """The results from number `position` on (the next one when the member joined)."""
        # The change cursor of the last result this member got: where it may resume.
        last_cursor: str | None = None
        try:
            while True:
                if position < self.delivered:
                    oldest = self.delivered - len(self.results)
                    if position < oldest:
                        # Its last result says why, with a code; then the operation completes.
                        yield self.registry.behind(FellBehind(self.limit, last_cursor))
                        return
                    result, cursor = self.results[position - oldest]
                    position += 1
                    last_cursor = cursor or last_cursor
                    yield result
                    continue
                if self.ending is _END:
                    return
                if self.ending is not None:
                    raise self.ending
                arrived = asyncio.get_running_loop().create_future()
                self.waiting[arrived] = None
                try:
                    await arrived
                finally:
                    # A member that leaves while waiting takes its future with it.
                    self.waiting.pop(arrived, None)
        finally:
            self.members -= 1
            if not self.members and self.task is not None and not self.task.done():
                # The last subscriber left: stop the underlying stream.
                self.registry._forget(self)
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.task


class SharedStreams:
    """The groups of one door's open subscriptions in this process.

    `limit` is how many results one member may fall behind (MAX_QUEUED_EVENTS); `behind`
    turns the FellBehind of a member that fell further into the last result it gets (the
    door's coded error), and `cursor_of` reads the change cursor of a result, which that
    FellBehind carries so the member knows where to resume.
    """

    def __init__(
        self,
        limit: int = DEFAULT_QUEUE_SIZE,
        *,
        behind: Callable[[FellBehind], Any] = lambda error: error,
        cursor_of: Callable[[Any], str | None] = _no_cursor,
    ) -> None:
        self.limit = limit
        self.behind = behind
        self.cursor_of = cursor_of
        self._groups: dict[Hashable, _Group] = {}

    def join(self, key: Hashable, start: Callable[[], Awaitable[Any]]) -> AsyncGenerator[Any, None]:
        """Results of the group's stream from now on; `start` opens it for the first member."""
        return self._member(self._groups.get(key) or self._open(key, start))

    async def join_opened(
        self, key: Hashable, open_stream: Callable[[], Awaitable[AsyncGenerator[Any, None]]]
    ) -> AsyncGenerator[Any, None]:
        """As `join`, for a stream opened before its first member joins, so that member hears
        at once when opening fails (`open_stream` raises). Two first members that race open
        one stream each; the second finds the group made and closes its own."""
        while True:
            group = self._groups.get(key)
            if group is not None:
                return self._member(group)
            source = await open_stream()
            if key not in self._groups:
                return self._member(self._open(key, functools.partial(_as_is, source)))
            await source.aclose()

    def _open(self, key: Hashable, start: Callable[[], Awaitable[Any]]) -> _Group:
        group = self._groups[key] = _Group(self, key, self.limit)
        group.task = asyncio.create_task(group.pump(start), name="shared-subscription")
        return group

    @staticmethod
    def _member(group: _Group) -> AsyncGenerator[Any, None]:
        group.members += 1
        return group.member(group.delivered)

    def _forget(self, group: _Group) -> None:
        if self._groups.get(group.key) is group:
            del self._groups[group.key]

    def __len__(self) -> int:
        return len(self._groups)

    def members(self, key: Hashable) -> int:
        """The subscribers of one group now (0 when it has none): a member gets every result
        from the moment it joined."""
        group = self._groups.get(key)
        return 0 if group is None else group.members
