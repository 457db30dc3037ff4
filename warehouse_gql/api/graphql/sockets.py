"""WebSockets that follow the account, for both protocols (graphql-transport-ws and the legacy
graphql-ws).

A socket acts for a session, never for the role it had at connect: every operation message
reads the session from the database before it runs, and every change to the user's sessions
or role (on any process, through the event bus) makes the socket read it again at once. A
session gone closes the socket with 4401; a subscription the new role may not see ends with
FORBIDDEN. The caps of SPEC "Sizes" are applied here: sockets per session (4429), subscriptions
per socket and per process (RATE_LIMITED for the refused subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLFormattedError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportError,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyError

from warehouse_gql.api.graphql.context import Context
from warehouse_gql.api.graphql.errors import translate
from warehouse_gql.domain import access
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import Forbidden, RateLimited, ServiceUnavailable, WarehouseError
from warehouse_gql.live.sessions import OpenSocket
from warehouse_gql.services import sessions

log = logging.getLogger(__name__)

SESSION_ENDED = 4401
TOO_MANY = 4429


@dataclass(frozen=True)
class Shape:
    """What a document asks for, as far as the socket needs to know."""

    subscription: bool
    root_fields: tuple[str, ...]


@lru_cache(maxsize=1024)
def shape_of(query: str, operation_name: str | None) -> Shape | None:
    """The operation's kind and root fields; None when it does not parse or name one
    operation (execution then reports that itself)."""
    try:
        document: DocumentNode = parse(query)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name is not None and o.name.value == operation_name
        ]
    if len(operations) != 1:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    fields: list[str] = []

    def collect(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    collect(fragments[name].selection_set, seen | {name})

    operation = operations[0]
    collect(operation.selection_set, frozenset())
    return Shape(operation.operation is OperationType.SUBSCRIPTION, tuple(fields))


@dataclass
class Running:
    """A subscription running on this socket: what it reads and the role it began under."""

    fields: tuple[str, ...]
    role: Role


class FollowsTheAccount:
    """What both protocol handlers share; mixed in ahead of Strawberry's handler classes."""

    context: Context
    websocket: Any
    running: dict[str, Running]

    # Protocol-specific, provided by the two handlers below.
    async def send_operation_error(self, operation_id: str, error: GraphQLFormattedError) -> None:
        raise NotImplementedError

    async def end_operation(self, operation_id: str, error: GraphQLFormattedError) -> None:
        raise NotImplementedError

    def error_payload(self, exc: WarehouseError) -> GraphQLFormattedError:
        return translate(
            GraphQLError(exc.message, original_error=exc), self.context.request_id
        ).formatted

    # The socket's owner (live/sessions.py).
    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)

    async def recheck(self, socket: OpenSocket) -> None:
        """The user's sessions or role changed: read the session, apply what changed."""
        await self.refresh(socket)

    async def refresh(self, socket: OpenSocket) -> bool:
        """Read the session again; False (and the socket closed) when it is gone."""
        here = self.context.events.sessions
        registry = here.sockets
        token = self.context.session_token()
        for _ in range(5):  # bounded: changes of other users also move the generation
            generation = here.generation
            found = None if token is None else await sessions.session_of(self.context.db, token)
            # A change that arrived during the read may postdate it: never keep a stale role.
            if found is None or here.generation == generation:
                break
        if found is None:
            await self.close(SESSION_ENDED, "Session ended")
            return False
        user, expires_at = found
        was = socket.user
        socket.user = user
        registry.moved(socket, was.id)
        registry.renewed(socket, expires_at)
        if user.role is not was.role:
            for operation_id, running in list(self.running.items()):
                if not all(
                    access.subscription_survives(f, running.role, user.role) for f in running.fields
                ):
                    self.running.pop(operation_id, None)
                    refusal = Forbidden(", ".join(running.fields), user.role.value)
                    await self.end_operation(operation_id, self.error_payload(refusal))
        return True

    async def accepted(self) -> None:
        """After connection_ack: track the socket, unless its session has too many here."""
        socket = self.context.socket
        if socket is None:
            return
        socket.owner = self
        sessions_here = self.context.events.sessions
        limit = self.context.resources.settings.max_sockets_per_session
        if not sessions_here.sockets.add(socket, limit=limit):
            self.context.socket = None
            await self.close(TOO_MANY, "Too many sockets for this session")
        elif sessions_here.generation != socket.seen_generation:
            socket.start_recheck()  # a change may have come between reading and tracking

    def too_many_sockets(self, payload: object) -> bool:
        """Before connection_init is handled: is this session already at its socket limit?"""
        if not isinstance(payload, dict):
            return False
        self.context.connection_params = payload
        token = self.context.session_token()
        if token is None:
            return False
        limit = self.context.resources.settings.max_sockets_per_session
        return self.context.events.sessions.sockets.count(sessions.hash_token(token)) >= limit

    async def admit(self, operation_id: str, payload: object) -> bool:
        """Before an operation runs: the session read afresh, then the subscription caps."""
        socket = self.context.socket
        if socket is None:
            return True  # not acknowledged: Strawberry refuses it
        try:
            if not await self.refresh(socket):
                return False
        except Exception:
            log.exception("request %s: could not read the session", self.context.request_id)
            await self.send_operation_error(operation_id, self.error_payload(ServiceUnavailable()))
            return False
        self.context.fresh_loaders()
        query = payload.get("query") if isinstance(payload, dict) else None
        name = payload.get("operationName") if isinstance(payload, dict) else None
        shape = shape_of(query, name) if isinstance(query, str) else None
        if shape is None or not shape.subscription:
            return True
        settings = self.context.resources.settings
        if len(self.running) >= settings.max_subscriptions_per_socket:
            refusal = RateLimited(
                f"This socket already runs {settings.max_subscriptions_per_socket} "
                "subscriptions, the most one socket may; complete one first."
            )
            await self.send_operation_error(operation_id, self.error_payload(refusal))
            return False
        slots = self.context.events.sessions.subscriptions
        if not slots.take(settings.max_subscriptions):
            refusal = RateLimited(
                "This server runs as many subscriptions as it may; try again shortly."
            )
            await self.send_operation_error(operation_id, self.error_payload(refusal))
            return False
        self.running[operation_id] = Running(shape.root_fields, socket.user.role)
        return True

    def follow(self, operation_id: str, task: asyncio.Task[Any] | None) -> None:
        """The subscription's task started: its slot is given back when it ends."""
        if operation_id not in self.running:
            return
        entry = self.running[operation_id]
        slots = self.context.events.sessions.subscriptions

        def ended(_: object) -> None:
            slots.give_back()
            if self.running.get(operation_id) is entry:
                del self.running[operation_id]

        if task is None:
            ended(None)
        else:
            task.add_done_callback(ended)


class TransportWSHandler(FollowsTheAccount, BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running = {}

    async def handle_connection_init(self, message: Any) -> None:
        if not self.connection_init_received and self.too_many_sockets(message.get("payload")):
            await self.close(TOO_MANY, "Too many sockets for this session")
            return
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            await self.accepted()

    async def handle_subscribe(self, message: Any) -> None:
        operation_id = message["id"]
        if (
            self.connection_acknowledged
            and operation_id not in self.operations
            and not await self.admit(operation_id, message.get("payload"))
        ):
            return
        await super().handle_subscribe(message)
        operation = self.operations.get(operation_id)
        self.follow(operation_id, None if operation is None else operation.task)

    async def send_operation_error(self, operation_id: str, error: GraphQLFormattedError) -> None:
        await self.send_message(TransportError(id=operation_id, type="error", payload=[error]))

    async def end_operation(self, operation_id: str, error: GraphQLFormattedError) -> None:
        operation = self.operations.get(operation_id)
        if operation is None:
            return
        # The error message completes the operation (graphql-transport-ws "error").
        await operation.send_operation_message(
            TransportError(id=operation_id, type="error", payload=[error])
        )
        if operation.task is not None:
            operation.task.cancel()


class LegacyWSHandler(FollowsTheAccount, BaseGraphQLWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running = {}

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_acknowledged:
            return  # one session per socket: a second connection_init changes nothing
        if self.too_many_sockets(message.get("payload")):
            await self.close(TOO_MANY, "Too many sockets for this session")
            return
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            await self.accepted()

    async def handle_start(self, message: Any) -> None:
        operation_id = message["id"]
        if self.connection_acknowledged:
            if operation_id in self.tasks:
                await self.cleanup_operation(operation_id)
            if not await self.admit(operation_id, message.get("payload")):
                return
        await super().handle_start(message)
        self.follow(operation_id, self.tasks.get(operation_id))

    async def send_operation_error(self, operation_id: str, error: GraphQLFormattedError) -> None:
        await self.send_message(LegacyError(type="error", id=operation_id, payload=error))

    async def end_operation(self, operation_id: str, error: GraphQLFormattedError) -> None:
        await self.send_operation_error(operation_id, error)
        # Cancels the operation, which then sends its `complete`.
        await self.cleanup_operation(operation_id)
