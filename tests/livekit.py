"""Real servers on loopback for the realtime tests: uvicorn serving our app inside the test's
event loop, and a minimal graphql-transport-ws / graphql-ws client over `websockets`."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
import websockets
from starlette.applications import Starlette

from tests.app_resources import resources_of
from tests.graphql_client import GraphQLClient
from tests.waiting import wait_for
from warehouse_gql.api.http import Resources
from warehouse_gql.embedded import free_port
from warehouse_gql.store import changes


class LiveServer:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.task: asyncio.Task[None] | None = None

    @property
    def resources(self) -> Resources:
        """What this server's lifespan opened (its event bus, sockets, session cache)."""
        return resources_of(self.app)

    async def caught_up(self) -> None:
        """Wait until this server's relay has delivered every change numbered so far. A
        subscription opened after that starts past them; opened earlier, it may also get a
        change another process committed just before (at least once, never lost)."""
        target = await changes.high_water(self.resources.db)
        await wait_for(lambda: self.resources.events.position >= target)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def start(self) -> None:
        task = self.task = asyncio.create_task(self.server.serve())

        def started() -> bool:
            if task.done():
                task.result()  # it failed to start: its error, not a timeout
            return self.server.started

        await wait_for(started, timeout=60.0, what="uvicorn serving")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.http_url, timeout=30) as client:
            return await GraphQLClient(client).post(query, variables, token)

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a request that must succeed."""
        async with httpx.AsyncClient(base_url=self.http_url, timeout=30) as client:
            return await GraphQLClient(client).ok(query, variables, token)


@dataclass
class Subscriptions:
    """A graphql-transport-ws connection (or legacy graphql-ws with `legacy=True`)."""

    url: str
    legacy: bool = False
    ws: Any = None
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def protocol(self) -> str:
        return "graphql-ws" if self.legacy else "graphql-transport-ws"

    async def connect(
        self, payload: dict[str, Any] | None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[self.protocol],  # type: ignore[list-item]
            additional_headers=headers,
        )
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        return await self.receive(skip_keepalive=True)

    async def complete(self, sub_id: str) -> None:
        """Stop one operation (graphql-transport-ws `complete`, legacy `stop`)."""
        kind = "stop" if self.legacy else "complete"
        await self.ws.send(json.dumps({"id": sub_id, "type": kind}))

    async def closed_with(self, within: float = 5.0) -> int:
        """Read until the server closes the socket; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), within)
        except websockets.ConnectionClosed as closed:
            frame = closed.rcvd
        assert frame is not None, "closed without a close frame"
        return frame.code

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        sub_id = str(next(self.ids))
        kind = "start" if self.legacy else "subscribe"
        await self.ws.send(
            json.dumps(
                {
                    "id": sub_id,
                    "type": kind,
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        return sub_id

    async def receive(self, within: float = 10.0, skip_keepalive: bool = True) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if skip_keepalive and message.get("type") in {"ka", "ping", "pong"}:
                if message.get("type") == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    async def next_data(self, within: float = 10.0) -> dict[str, Any]:
        """The `data` of the next event; fails on an error message."""
        message = await self.receive(within)
        assert message["type"] in {"next", "data"}, message
        assert not message["payload"].get("errors"), message["payload"]["errors"]
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
