"""The typed per-request context and the `Info` alias every resolver takes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry

from warehouse_gql.api.graphql.loaders import Loaders
from warehouse_gql.api.http import Resources, authenticate, bearer_token
from warehouse_gql.domain.models import User
from warehouse_gql.live.bus import EventBus
from warehouse_gql.store.database import Database


@dataclass
class Context:
    resources: Resources
    request_id: str
    token: str | None
    request: Any = None
    response: Any = None
    # Filled from the connection_init payload on WebSockets.
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(init=False)
    # The root field that runs, set by the OperationLabel extension (metrics and logs).
    operation: str = field(default="-", init=False)
    # Stops this WebSocket's session tracking; set when a connection is accepted.
    on_close: Callable[[], None] | None = field(default=None, init=False)
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
        self.loaders = Loaders(self.resources.db)

    def remember_user(self, user: User) -> None:
        """The user found when a WebSocket connected: kept for the connection's life."""
        self._user = asyncio.get_running_loop().create_future()
        self._user.set_result(user)

    def known_user_id(self) -> str | None:
        """The caller's id if it has been looked up already (for logs; never looks it up)."""
        found = self._user
        if found is None or not found.done() or found.exception() is not None:
            return None
        user = found.result()
        return None if user is None else user.id

    async def user(self) -> User | None:
        """The caller, looked up once per request (concurrent resolvers share the lookup)."""
        if self._user is None:
            self._user = asyncio.get_running_loop().create_future()
            token = self.session_token()
            try:
                found = await authenticate(self.resources, token)
            except BaseException as exc:
                self._user.set_exception(exc)
                self._user = None
                raise
            self._user.set_result(found)
        return await self._user


Info = strawberry.Info[Context, None]
