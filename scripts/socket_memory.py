"""How much memory subscriptions take and how much comes back when their sockets close.

    python scripts/socket_memory.py --sockets 50 --per-socket 100

Starts SecantusDB and one server in this process (uvicorn on loopback, as `serve` runs it).
A second process opens the sockets (one session per 20 sockets, the per-session limit) with
`--per-socket` itemChanged subscriptions each: one document, a sku of their own, or with
`--same` all the same sku, so they share one stream. Then it closes them all, and does the same
once more. Prints the server's traced Python heap (tracemalloc) and RSS at the start, with
everything open and after closing, for both rounds: the second round shows whether what the
first one gave back is used again.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import resource
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import uvicorn
import websockets

from warehouse_gql.app import create_app
from warehouse_gql.cli import server_options
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


def run_clients(
    conn: Connection, port: int, tokens: list[str], sockets: int, per_socket: int, same: bool
) -> None:
    """In the clients' process: open the sockets and subscriptions, close them when told."""

    async def run() -> None:
        opened = []
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
                sku = "S" if same else f"S-{n}-{k}"
                operation = {"query": DOCUMENT, "variables": {"sku": sku}}
                await ws.send(json.dumps({"id": str(k), "type": "subscribe", "payload": operation}))
            opened.append(ws)
        await asyncio.to_thread(conn.recv)
        for ws in opened:
            await ws.close()

    asyncio.run(run())


async def measure(
    sockets: int, per_socket: int, top: int = 0, grouping: str = "lineno", same: bool = False
) -> dict[str, Any]:
    storage = Path(tempfile.mkdtemp(prefix="wgql-mem-"))
    child, url = start_secantus(storage, storage.parent / f"{storage.name}.log")
    port = free_port()
    settings = Settings(mongodb_url=url, mongodb_db="memory", fast_password_hashing=True)
    app = create_app(settings)
    # As `warehouse-gql serve` runs it (no permessage-deflate), on a port of its own.
    options = server_options(settings) | {"host": "127.0.0.1", "port": port, "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
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
        sessions = resources.events.sessions

        async def open_and_close(show: int) -> tuple[tuple[float, float], tuple[float, float]]:
            # The clients live in a process of their own: only the server's memory counts.
            parent, child_end = multiprocessing.get_context("spawn").Pipe()
            clients = multiprocessing.get_context("spawn").Process(
                target=run_clients, args=(child_end, port, tokens, sockets, per_socket, same)
            )
            clients.start()
            await until(lambda: sessions.subscriptions.running >= sockets * per_socket)
            opened = (heap_mb(), rss_mb())
            for stat in tracemalloc.take_snapshot().compare_to(start, grouping)[:show]:
                print(stat)
            parent.send("close")
            await until(lambda: not len(sessions.sockets) and not sessions.subscriptions.running)
            clients.join()
            return opened, (heap_mb(), rss_mb())

        opened, closed = await open_and_close(top)
        # The same again: what the first round gave back is what the second one takes.
        again, closed_again = await open_and_close(0)
        return {
            "subscriptions": sockets * per_socket,
            "heap_mb": {"before": before[0], "open": opened[0], "closed": closed[0]},
            "rss_mb": {"before": before[1], "open": opened[1], "closed": closed[1]},
            "kb_per_subscription": (opened[0] - before[0]) * 1024 / (sockets * per_socket),
            "heap_returned": (opened[0] - closed[0]) / max(opened[0] - before[0], 1e-9),
            "second_round_mb": {
                "heap_open": again[0],
                "heap_closed": closed_again[0],
                "rss_open": again[1],
                "rss_closed": closed_again[1],
            },
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
    parser.add_argument("--by", choices=("lineno", "filename"), default="lineno")
    parser.add_argument(
        "--same", action="store_true", help="every subscription the same (one shared stream)"
    )
    args = parser.parse_args()
    tracemalloc.start(1)
    found = asyncio.run(measure(args.sockets, args.per_socket, args.top, args.by, args.same))
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
