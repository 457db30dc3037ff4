"""How much memory subscriptions take and how much comes back when their sockets close.

    python scripts/socket_memory.py --sockets 50 --per-socket 100

Starts SecantusDB and one server in this process (uvicorn on loopback), opens the sockets
(one session per 20 sockets, the per-session limit) with `--per-socket` itemChanged
subscriptions each, then closes them all. Prints the traced Python heap (tracemalloc) and the
process RSS at the start, with everything open, and after closing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
import websockets

from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.embedded import free_port, start_secantus, stop
from warehouse_gql.services import accounts
from warehouse_gql.settings import Settings

DOCUMENT = "subscription($sku: String) { itemChanged(sku: $sku) { kind } }"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def heap_mb() -> float:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / 2**20


async def until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 -- polls counters the server keeps
        await asyncio.sleep(0.05)


async def measure(sockets: int, per_socket: int, top: int = 0) -> dict[str, Any]:
    storage = Path(tempfile.mkdtemp(prefix="wgql-mem-"))
    child, url = start_secantus(storage, storage.parent / f"{storage.name}.log")
    port = free_port()
    settings = Settings(mongodb_url=url, mongodb_db="memory", fast_password_hashing=True)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started)
        found = (getattr(getattr(r, "app", None), "resources", None) for r in app.routes)
        resources = next(r for r in found if r is not None)
        tokens = []
        for n in range((sockets + 19) // 20):
            name = f"mem{n}"
            await accounts.create_user(
                resources.db,
                resources.passwords,
                username=name,
                email=f"{name}@example.com",
                password="correct horse battery",
                role=Role.PICKER,
            )
            session = await accounts.log_in(
                resources.db,
                resources.events,
                resources.passwords,
                username=name,
                password="correct horse battery",
                ttl=timedelta(hours=1),
                limits=None,
            )
            tokens.append(session.token)
        before = (heap_mb(), rss_mb())
        start = tracemalloc.take_snapshot()
        clients = []
        for n in range(sockets):
            ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/graphql",
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            )
            payload = {"authorization": f"Bearer {tokens[n // 20]}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            await ws.recv()
            for k in range(per_socket):
                # One document, as a dashboard sends it; each subscription its own sku.
                operation = {"query": DOCUMENT, "variables": {"sku": f"S-{n}-{k}"}}
                await ws.send(json.dumps({"id": str(k), "type": "subscribe", "payload": operation}))
            clients.append(ws)
        sessions = resources.events.sessions
        await until(lambda: sessions.subscriptions.running >= sockets * per_socket)
        opened = (heap_mb(), rss_mb())
        if top:
            for stat in tracemalloc.take_snapshot().compare_to(start, "lineno")[:top]:
                print(stat)
        for ws in clients:
            await ws.close()
        await until(lambda: not len(sessions.sockets) and not sessions.subscriptions.running)
        closed = (heap_mb(), rss_mb())
        return {
            "subscriptions": sockets * per_socket,
            "heap_mb": {"before": before[0], "open": opened[0], "closed": closed[0]},
            "rss_mb": {"before": before[1], "open": opened[1], "closed": closed[1]},
            "kb_per_subscription": (opened[0] - before[0]) * 1024 / (sockets * per_socket),
            "heap_returned": (opened[0] - closed[0]) / max(opened[0] - before[0], 1e-9),
        }
    finally:
        server.should_exit = True
        await task
        stop(child)
        shutil.rmtree(storage, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--per-socket", type=int, default=100)
    parser.add_argument(
        "--top", type=int, default=0, help="print the N lines that allocated most while open"
    )
    args = parser.parse_args()
    tracemalloc.start(1)
    print(json.dumps(asyncio.run(measure(args.sockets, args.per_socket, args.top)), indent=2))


if __name__ == "__main__":
    main()
