"""fanout: one itemChanged subscription held S times, a mutation every half second, and when
the last subscriber got each event. Subscribers live in worker processes, so receiving does
not compete with sending."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import statistics
import time
from multiprocessing.connection import Connection

import websockets

from ..load import Bench, Result
from .write import ADJUST

NAME = "fanout"
DEFAULT = True

ITEM_CHANGED = """subscription($sku: String) { itemChanged(sku: $sku) { kind
  item { id sku quantity bin { id location } } } }"""


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


async def fanout(bench: Bench, subscribers: int, workers: int) -> Result:
    api, srv, data, token, events = bench.api, bench.server, bench.data, bench.token, bench.events
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


async def run(bench: Bench) -> list[Result]:
    return [await fanout(bench, subscribers, workers=2) for subscribers in bench.subscribers]
