"""The load generator: loops that each send their next request when the last is answered,
the clients they send with, and what one scenario measured."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import profile
from .dataset import Dataset, Size
from .launcher import Server, cpu_seconds


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
    # The --source label of the server that answered ("" for the installed package).
    source: str = ""
    # The server's CPU samples over the measured window, as folded stacks (with --profile).
    profile: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

        return {
            "scenario": f"{self.name} [{self.source}]" if self.source else self.name,
            "source": self.source,
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
"""One unit of work: returns how many requests it made (0: none, it only waited); raises on an
error response."""


async def drive(
    name: str,
    operation: Operation,
    concurrency: int,
    duration: float,
    warmup: float,
    srv: Server | None,
    db_pid: int | None = None,
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
            if measuring and count:
                result.requests += count
                result.latencies.append((time.perf_counter() - started) / count)

    tasks = [asyncio.create_task(worker(n)) for n in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    if srv is not None:
        start_profile(srv)
    cpu0 = srv.cpu_seconds() if srv else None
    db0 = cpu_seconds(db_pid) if db_pid is not None else None
    client0 = time.process_time()
    t0 = time.monotonic()
    progress = asyncio.create_task(_progress(name, result, t0, duration))
    await asyncio.gather(*tasks)
    progress.cancel()
    result.seconds = time.monotonic() - t0
    if srv is not None and cpu0 is not None:
        result.cpu_seconds = srv.cpu_seconds() - cpu0
        result.rss_mb = srv.rss_mb()
    if srv is not None:
        result.profile = await stop_profile(srv)
    # Where the rest of the machine's CPU went: the load generator and the database.
    per_request = 1000 / max(result.requests, 1)
    result.extra["client_cpu_ms_per_request"] = round(
        (time.process_time() - client0) * per_request, 3
    )
    if db_pid is not None and db0 is not None:
        result.extra["db_cpu_ms_per_request"] = round((cpu_seconds(db_pid) - db0) * per_request, 3)
    print(f"\r  {name}: {result.requests} requests in {result.seconds:.1f} s" + " " * 20)
    return result


def start_profile(srv: Server) -> None:
    """Start sampling the server's CPU, if it runs under the sampler (--profile)."""
    if srv.profile_out is not None:
        srv.profile_out.unlink(missing_ok=True)
        os.kill(srv.pid, signal.SIGUSR1)


async def stop_profile(srv: Server) -> dict[str, int] | None:
    """Stop sampling; the samples since start_profile as folded stacks (None without one)."""
    if srv.profile_out is None:
        return None
    os.kill(srv.pid, signal.SIGUSR2)
    for _ in range(100):
        if srv.profile_out.exists():
            return profile.read_folded(srv.profile_out)
        await asyncio.sleep(0.1)
    return None


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


@dataclass
class Bench:
    """What every scenario runs against: the server, its dataset and the run's settings."""

    api: Api
    server: Server
    data: Dataset
    size: Size
    duration: float
    token: str
    mongodb_url: str
    db_name: str
    db_pid: int | None
    subscribers: tuple[int, ...]
    events: int
    # Fan-out subscriptions per WebSocket (1: a socket each, as one dashboard tab).
    per_socket: int = 1
    # Seconds between fan-out mutations.
    interval: float = 0.5
    # For scenarios that start servers of their own (abuse: limits off and on).
    redis_url: str = ""
    server_log: str = ""
    source: str | None = None

    async def drive(
        self, name: str, operation: Operation, concurrency: int, *, on_server: bool = True
    ) -> Result:
        """`operation` in `concurrency` loops for the run's duration, after its warm-up;
        `on_server=False` for load that bypasses the server (its CPU is not counted)."""
        return await drive(
            name,
            operation,
            concurrency,
            self.duration,
            self.size.warmup,
            self.server if on_server else None,
            self.db_pid,
        )
