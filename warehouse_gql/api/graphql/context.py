"""The typed per-request context and the `Info` alias every resolver takes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import strawberry

from warehouse_gql.api.graphql.loaders import Loaders
from warehouse_gql.api.http import Resources, authenticate, bearer_token
from warehouse_gql.domain.models import User
from warehouse_gql.live.bus import EventBus
from warehouse_gql.live.sessions import OpenSocket
from warehouse_gql.store.database import Database


@dataclass
class Context:
    resources: Resources
    request_id: str
    token: str | None
    request: Any = None
    response: Any = None
    # The client's address (api/http.py client_address): whose limits an anonymous caller uses.
    client: str = "-"
    # Filled from the connection_init payload on WebSockets.
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(init=False)
    # A WebSocket's session and the user it acts for now; set when the connection is accepted,
    # kept current by every message and by every change to the user's sessions or role.
    socket: OpenSocket | None = field(default=None, init=False)
    # The root field that runs, set by the OperationLabel extension (metrics and logs).
    operation: str = field(default="-", init=False)
    _user: asyncio.Future[User | None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.fresh_loaders()

    @property
    def db(self) -> Database:
        return self.resources.db

    @property
    def events(self) -> EventBus:
        return self.resources.events

    def session_token(self) -> str | None:
        if self.token is not None:
            return self.token
        params = self.connection_params or {}
        return bearer_token(params.get("authorization") or params.get("Authorization")) or (
            params["token"] if isinstance(params.get("token"), str) and params["token"] else None
        )

    def fresh_loaders(self) -> None:
        """New DataLoaders: a WebSocket's context outlives many events, and nested fields of
        each event (item.bin, shipment.order) must be read as of that event, not from a cache."""
        self.loaders = Loaders(self.resources.db, timeout=self.resources.settings.request_timeout_s)

    @classmethod
    def acting_as(cls, resources: Resources, user: User, request_id: str) -> Context:
        """A context that reads as `user` sees, for one shared subscription stream whose
        members all see the same records (api/graphql/shared_streams.py)."""
        context = cls(resources=resources, request_id=request_id, token=None)
        context._user = asyncio.get_running_loop().create_future()
        context._user.set_result(user)
        return context

    def known_user_id(self) -> str | None:
        """The caller's id if it has been looked up already (for logs; never looks it up)."""
        if self.socket is not None:
            return self.socket.user.id
        found = self._user
        if found is None or not found.done() or found.exception() is not None:
            return None
        user = found.result()
        return None if user is None else user.id

    async def user(self) -> User | None:
        """The caller: on a WebSocket the socket's user as of now; over HTTP looked up once
        per request (concurrent resolvers share the lookup)."""
        if self.socket is not None:
            return self.socket.user
        if self._user is None:
            self._user = asyncio.get_running_loop().create_future()
            token = self.session_token()
            try:
                found = await authenticate(self.resources, token)
            except BaseException as exc:
                # Concurrent resolvers waiting on it get the same; nobody else reads it, so it
                # is marked read (a cancelled request would log "never retrieved").
                pending, self._user = self._user, None
                if isinstance(exc, asyncio.CancelledError):
                    pending.cancel()
                else:
                    pending.set_exception(exc)
                    pending.exception()
                raise
            self._user.set_result(found)
        return await self._user


Info = strawberry.Info[Context, None]
