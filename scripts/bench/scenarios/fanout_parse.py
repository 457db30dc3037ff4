"""fanout-parse: the fanout scenario over Parse LiveQuery: S live queries on Item where sku is
the item's, each on its own /parse WebSocket with the bench manager's session token; the same
mutations, the same measurement (subscribers.py), rows named "fan-out-parse S=..."."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from ..load import Bench, Result
from ..subscribers import Protocol, Unexpected, fanout

NAME = "fanout-parse"
DEFAULT = False
APP_ID = "warehouse"


class LiveQuery(Protocol):
    path = "/parse"

    async def subscribe(self, ws: ClientConnection, token: str, sku: str, count: int) -> None:
        await ws.send(
            json.dumps({"op": "connect", "applicationId": APP_ID, "sessionToken": f"r:{token}"})
        )
        connected = json.loads(await ws.recv())
        if connected.get("op") != "connected":
            raise Unexpected(f"not connected: {connected}")
        query = {"className": "Item", "where": {"sku": sku}}
        for n in range(1, count + 1):
            await ws.send(json.dumps({"op": "subscribe", "requestId": n, "query": query}))
            subscribed = json.loads(await ws.recv())
            if subscribed.get("op") != "subscribed":
                raise Unexpected(f"not subscribed: {subscribed}")

    async def quantity(self, ws: ClientConnection, message: dict[str, Any]) -> int | None:
        if message.get("op") != "update":
            raise Unexpected(str(message))
        quantity: int = message["object"]["quantity"]
        return quantity


async def run(bench: Bench) -> list[Result]:
    return [
        await fanout(
            bench, LiveQuery(), "fan-out-parse", subscribers, workers=2, per_socket=bench.per_socket
        )
        for subscribers in bench.subscribers
    ]
