"""Fan-out, whatever the protocol: S subscriptions to one item held in worker processes, a
matching mutation every half second, and when the last subscriber got each event.

Subscribers live in worker processes, so receiving does not compete with sending. What differs
between the GraphQL subscriptions (scenarios/fanout.py) and Parse LiveQuery
(scenarios/fanout_parse.py) is a `Protocol`: where to connect, how to subscribe, and which
quantity an event carries. Both report the same fields, so their rows sit side by side.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from .load import Bench, Result, start_profile, stop_profile


class Unexpected(Exception):
    """A message a subscriber did not expect (an error, a refusal): counted as a failure."""


class Protocol:
    """One subscription protocol's side of a fan-out subscriber. Instances are sent to the
    subscriber processes (spawned), so subclasses live at module level and hold no state."""

    path: str = ""
    subprotocols: tuple[str, ...] = ()

    async def subscribe(self, ws: ClientConnection, token: str, sku: str, count: int) -> None:
        """Authenticate and subscribe `count` times to the item's changes; raise Unexpected if
        refused."""
        raise NotImplementedError

    async def quantity(self, ws: ClientConnection, message: dict[str, Any]) -> int | None:
        """The item's quantity in an event; None for a message that is not one (answered here
        if it needs an answer); raise Unexpected for an error."""
        raise NotImplementedError


def subscriber_process(conn: Connection) -> None:
    """Hold `count` sockets of `per_socket` subscriptions each; record when each event (by
    quantity) arrives, and how many deliveries it had."""
    protocol, url, token, count, per_socket, sku = conn.recv()
    received: dict[int, list[float]] = {}  # quantity -> [deliveries, latest arrival]
    failures: list[str] = []
    # None, not []: an empty list sends an empty Sec-WebSocket-Protocol, which is refused.
    subprotocols = [websockets.Subprotocol(p) for p in protocol.subprotocols] or None

    async def one(ready: asyncio.Event, started: list[int]) -> None:
        # A load generator may retry a refused handshake; a subscription that never opens
        # counts as a failure (and all its deliveries as missed).
        for attempt in range(4):
            try:
                ws = await websockets.connect(
                    url,
                    subprotocols=subprotocols,
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
                await protocol.subscribe(ws, token, sku, per_socket)
                subscribed = True
                started[0] += 1
                if started[0] == count:
                    ready.set()
                async for raw in ws:
                    try:
                        quantity = await protocol.quantity(ws, json.loads(raw))
                    except Unexpected as exc:
                        failures.append(str(exc)[:300])
                        continue
                    if quantity is None:
                        continue
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
    bench: Bench,
    protocol: Protocol,
    label: str,
    subscribers: int,
    workers: int,
    *,
    per_socket: int = 1,
) -> Result:
    """`subscribers` subscriptions over `protocol`, `per_socket` on each socket, in `workers`
    processes, then the events."""
    # Here, not at the top: a subscriber process imports this module before the scenarios.
    from .scenarios.write import ADJUST

    api, srv, data, token, events = bench.api, bench.server, bench.data, bench.token, bench.events
    if subscribers % per_socket:
        raise ValueError(f"{subscribers} subscriptions do not fill sockets of {per_socket}")
    sockets = subscribers // per_socket
    name = f"{label} S={subscribers}" + (f" ({per_socket}/socket)" if per_socket > 1 else "")
    result = Result(name, subscribers)
    item_id = data.item_ids[0]
    sku = (await api.call("query($id: ID!) { item(id: $id) { sku } }", {"id": item_id}))["item"][
        "sku"
    ]
    rss0 = srv.rss_mb()
    ctx = mp.get_context("spawn")
    shares = [sockets // workers + (1 if n < sockets % workers else 0) for n in range(workers)]
    # No process without subscriptions: it would wait for ever for its first one to open.
    shares = [share for share in shares if share]
    pipes, procs = [], []
    ws_url = srv.url.replace("http://", "ws://") + protocol.path
    for share in shares:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=subscriber_process, args=(child,), daemon=True)
        proc.start()
        parent.send((protocol, ws_url, token, share, per_socket, sku))
        pipes.append(parent)
        procs.append(proc)
    loop = asyncio.get_running_loop()
    failed_to_open = 0
    for pipe in pipes:
        _, unopened = await loop.run_in_executor(None, pipe.recv)
        failed_to_open += unopened
    print(f"  {name}: subscribed ({failed_to_open} failed)", flush=True)
    await asyncio.sleep(1.0)
    rss_open = srv.rss_mb()
    # Per event (by the quantity it sets): when the mutation was sent, and when its answer came.
    # A subscriber may get the event before the answer (LiveQuery's local channel does at small
    # S), so the latency from the answer can be negative; the one from the request never is.
    requested: dict[int, float] = {}
    sent: dict[int, float] = {}
    start_profile(srv)
    cpu0 = srv.cpu_seconds()
    t0 = time.monotonic()
    for n in range(events):
        started = time.perf_counter()
        asked = time.monotonic()
        changed = await api.call(ADJUST, {"id": item_id, "d": 1})
        quantity = changed["adjustItemQuantity"]["quantity"]
        sent[quantity] = time.monotonic()
        requested[quantity] = asked
        result.latencies.append(time.perf_counter() - started)
        print(f"\r  {name}: event {n + 1}/{events}", end="", flush=True)
        await asyncio.sleep(bench.interval)
    await asyncio.sleep(2.0)  # stragglers
    result.seconds = time.monotonic() - t0
    result.cpu_seconds = srv.cpu_seconds() - cpu0
    result.profile = await stop_profile(srv)
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
    complete = [q for q in sent if arrivals[q][0] == subscribers]
    spreads = [(arrivals[q][1] - sent[q]) * 1000 for q in complete]
    from_request = [(arrivals[q][1] - requested[q]) * 1000 for q in complete]
    missed = sum(subscribers - arrivals[q][0] for q in sent)
    result.errors = failure_count
    result.first_error = failures[0] if failures else None
    result.extra = {
        "subscribers": subscribers,
        "events": events,
        "all_delivered_median_ms": round(statistics.median(spreads), 1) if spreads else None,
        "all_delivered_max_ms": round(max(spreads), 1) if spreads else None,
        "all_delivered_each_ms": [round(x, 1) for x in spreads],
        "from_request_median_ms": (
            round(statistics.median(from_request), 1) if from_request else None
        ),
        "from_request_max_ms": round(max(from_request), 1) if from_request else None,
        "missed_deliveries": missed,
        "rss_kb_per_subscription": round((rss_open - rss0) * 1000 / subscribers, 1),
        "rss_mb_per_1000_subscriptions": round((rss_open - rss0) * 1000 / subscribers, 2),
    }
    print(
        f"\r  {name}: median {result.extra['all_delivered_median_ms']} ms,"
        f" max {result.extra['all_delivered_max_ms']} ms (from the request: median"
        f" {result.extra['from_request_median_ms']} ms), missed {missed}" + " " * 10
    )
    await asyncio.sleep(1.0)  # the server closes the connections
    return result
