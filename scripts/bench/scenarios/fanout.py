"""fanout: one itemChanged subscription held S times over graphql-transport-ws, a mutation every
half second, and when the last subscriber got each event (subscribers.py measures it)."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from ..load import Bench, Result
from ..subscribers import Protocol, Unexpected, fanout

NAME = "fanout"
DEFAULT = True

ITEM_CHANGED = """subscription($sku: String) { itemChanged(sku: $sku) { kind
  item { id sku quantity bin { id location } } } }"""


class GraphQLWs(Protocol):
    path = "/graphql"
    subprotocols = ("graphql-transport-ws",)

    async def subscribe(self, ws: ClientConnection, token: str, sku: str, count: int) -> None:
        payload = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise Unexpected(f"not acknowledged: {ack}")
        for n in range(1, count + 1):
            await ws.send(
                json.dumps(
                    {
                        "id": str(n),
                        "type": "subscribe",
                        "payload": {"query": ITEM_CHANGED, "variables": {"sku": sku}},
                    }
                )
            )

    async def quantity(self, ws: ClientConnection, message: dict[str, Any]) -> int | None:
        kind = message.get("type")
        if kind == "ping":
            await ws.send('{"type":"pong"}')
            return None
        if kind != "next" or message["payload"].get("errors"):
            raise Unexpected(str(message))
        quantity: int = message["payload"]["data"]["itemChanged"]["item"]["quantity"]
        return quantity


async def run(bench: Bench) -> list[Result]:
    return [
        await fanout(
            bench, GraphQLWs(), "fan-out", subscribers, workers=2, per_socket=bench.per_socket
        )
        for subscribers in bench.subscribers
    ]
