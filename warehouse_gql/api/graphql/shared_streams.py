"""One execution per event for every subscriber of the same subscription.

Dashboards open the same subscription many times over (same document, same variables, same
role). Executing it once per subscriber would resolve every event's selection S times; instead
the first subscriber of a group starts the one underlying stream and every later subscriber of
the group gets the same results, so the work per extra subscriber is one WebSocket send.

Only subscriptions whose results depend on nothing but the event and what the caller may see
are shared (`SHAREABLE`): lowStock starts with a snapshot of its own for each subscriber, so it
never is. The group key holds the role, and but for managers the user (domain/access.py), so a result is
only ever shared among subscribers who may see exactly the same records and fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLError

from warehouse_gql.domain import access
from warehouse_gql.domain.models import User

log = logging.getLogger(__name__)

SHAREABLE = frozenset({"itemChanged", "shipmentChanged"})

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
    return all(
        isinstance(s, FieldNode) and s.name.value in SHAREABLE and not s.directives
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


class _Group:
    """One underlying stream and its subscribers.

    Results form a chain of futures, each resolving to (result, the next future): every member
    awaits the same future, so a result wakes all of them at once, and a member that lags
    behind keeps its place in the chain without a queue of its own.
    """

    def __init__(self, registry: SharedStreams, key: Hashable) -> None:
        self.registry = registry
        self.key = key
        self.members = 0
        self.task: asyncio.Task[None] | None = None
        self.next: asyncio.Future[tuple[Any, Any]] = asyncio.get_running_loop().create_future()

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
            self._deliver(exc)
        finally:
            self.registry._forget(self)
            self._deliver(_END)
            if source is not None and hasattr(source, "aclose"):
                with contextlib.suppress(Exception):
                    await source.aclose()

    def _deliver(self, item: Any) -> None:
        if self.next.done():
            return  # already ended
        following: asyncio.Future[tuple[Any, Any]] = asyncio.get_running_loop().create_future()
        self.next.set_result((item, following))
        self.next = following

    async def member(self, waiting: asyncio.Future[tuple[Any, Any]]) -> AsyncGenerator[Any, None]:
        """The results after `waiting` (the group's next future when the member joined)."""
        try:
            while True:
                # Shielded: a member leaving must not cancel the future the others await.
                item, waiting = await asyncio.shield(waiting)
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.members -= 1
            if not self.members and self.task is not None and not self.task.done():
                # The last subscriber left: stop the underlying stream.
                self.registry._forget(self)
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.task


class SharedStreams:
    """The groups of this process's open subscriptions (one registry per schema)."""

    def __init__(self) -> None:
        self._groups: dict[Hashable, _Group] = {}

    def join(self, key: Hashable, start: Callable[[], Awaitable[Any]]) -> AsyncIterator[Any]:
        """Results of the group's stream from now on; `start` opens it for the first member."""
        group = self._groups.get(key)
        if group is None:
            group = _Group(self, key)
            self._groups[key] = group
            group.task = asyncio.create_task(group.pump(start), name="shared-subscription")
        group.members += 1
        return group.member(group.next)

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
