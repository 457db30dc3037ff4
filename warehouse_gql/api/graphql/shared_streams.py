"""One execution per event for every subscriber of the same subscription.

Dashboards open the same subscription many times over (same document, same variables, same
role). Executing it once per subscriber would resolve every event's selection S times; instead
the first subscriber of a group starts the one underlying stream and every later subscriber of
the group gets the same results, so the work per extra subscriber is one WebSocket send.
A slow subscriber neither holds the others back nor makes the group hold memory without end
(see _Group).

Only subscriptions whose results depend on nothing but the event and what the caller may see
are shared (`SHAREABLE`): lowStock starts with a snapshot of its own for each subscriber, so it
never is. The group key holds the role, and but for managers the user (domain/access.py), so a result is
only ever shared among subscribers who may see exactly the same records and fields.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLError
from strawberry.types.execution import ExecutionResult

from warehouse_gql.api.graphql.errors import translate
from warehouse_gql.domain import access
from warehouse_gql.domain.models import User
from warehouse_gql.live.bus import DEFAULT_QUEUE_SIZE, FellBehind

log = logging.getLogger(__name__)

SHAREABLE = frozenset({"itemChanged", "shipmentChanged", "orderChanged"})

_END = object()


@lru_cache(maxsize=1024)
def _shareable_document(query: str, operation_name: str | None) -> bool:
    """Whether the operation is a subscription whose root fields are all shareable."""
    try:
        document: DocumentNode = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name is not None and o.name.value == operation_name
        ]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return False
    selections = operations[0].selection_set.selections
    # Fragments and directives at the root could hide anything: share only plain fields.
    # A resume (`after`) replays history of its own first: never shared.
    return all(
        isinstance(s, FieldNode)
        and s.name.value in SHAREABLE
        and not s.directives
        and not any(a.name.value == "after" for a in s.arguments or ())
        for s in selections
    )


def group_key(
    query: str | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    user: User | None,
) -> Hashable | None:
    """The group a subscription belongs to, or None when it must run on its own."""
    if query is None or user is None or not _shareable_document(query, operation_name):
        return None
    try:
        frozen = json.dumps(variables or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    # What a subscriber may see depends on the role and, but for managers, on who they are.
    return (query, operation_name, frozen, access.visibility_group(user.role, user.id))


def fell_behind(limit: int, cursor: str | None = None) -> ExecutionResult:
    error = FellBehind(limit, cursor)
    return ExecutionResult(
        data=None, errors=[translate(GraphQLError(error.message, original_error=error), "-")]
    )


class _Group:
    """One underlying stream and its subscribers.

    The group keeps its last `limit` results, numbered, in one buffer every member reads;
    each member only remembers the number of the next result it wants, and one future per
    result wakes all waiting members at once. Nobody waits for a slow member (a socket whose
    client stopped reading): the stream goes on, and the buffer never holds more than `limit`
    results, so a member that falls further behind than that finds its next result gone and
    ends with RATE_LIMITED, as a subscriber of the bus does (live/bus.py FellBehind).
    """

    def __init__(self, registry: SharedStreams, key: Hashable, limit: int) -> None:
        self.registry = registry
        self.key = key
        self.limit = limit
        self.members = 0
        self.task: asyncio.Task[None] | None = None
        self.results: collections.deque[Any] = collections.deque(maxlen=limit)
        # The number of the next result; results[0] is number `delivered - len(results)`.
        self.delivered = 0
        # Set once: _END, or the exception the stream failed with.
        self.ending: Any = None
        self.arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()

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
        arrived, self.arrived = self.arrived, asyncio.get_running_loop().create_future()
        arrived.set_result(None)

    def _deliver(self, result: Any) -> None:
        if self.ending is not None:
            return
        self.results.append(result)
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
                        yield fell_behind(self.limit, last_cursor)
                        return
                    result = self.results[position - oldest]
                    position += 1
                    last_cursor = _cursor_of(result) or last_cursor
                    yield result
                    continue
                if self.ending is _END:
                    return
                if self.ending is not None:
                    raise self.ending
                # Shielded: a member leaving must not cancel the future the others await.
                await asyncio.shield(self.arrived)
        finally:
            self.members -= 1
            if not self.members and self.task is not None and not self.task.done():
                # The last subscriber left: stop the underlying stream.
                self.registry._forget(self)
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.task


def _cursor_of(result: Any) -> str | None:
    """The `cursor` of a subscription result's event, when the document selected it."""
    data = getattr(result, "data", None)
    if not isinstance(data, dict) or len(data) != 1:
        return None
    event = next(iter(data.values()))
    cursor = event.get("cursor") if isinstance(event, dict) else None
    return cursor if isinstance(cursor, str) else None


class SharedStreams:
    """The groups of this process's open subscriptions (one registry per schema); `limit` is
    how many results one member may fall behind (MAX_QUEUED_EVENTS)."""

    def __init__(self, limit: int = DEFAULT_QUEUE_SIZE) -> None:
        self.limit = limit
        self._groups: dict[Hashable, _Group] = {}

    def join(self, key: Hashable, start: Callable[[], Awaitable[Any]]) -> AsyncIterator[Any]:
        """Results of the group's stream from now on; `start` opens it for the first member."""
        group = self._groups.get(key)
        if group is None:
            group = _Group(self, key, self.limit)
            self._groups[key] = group
            group.task = asyncio.create_task(group.pump(start), name="shared-subscription")
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
