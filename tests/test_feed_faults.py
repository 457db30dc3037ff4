"""The change feed under faults, with every server its own OS process: the committing process
killed mid-burst, Redis stopped during writes. Whatever is in the database reaches a subscriber
on another process, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from broadcaster import Broadcast

from tests.livekit import Subscriptions
from tests.servers import ServerProcess, ValkeyServer
from tests.waiting import wait_for
from warehouse_gql.app import mongo_client
from warehouse_gql.domain.access import Role
from warehouse_gql.live.bus import EventBus
from warehouse_gql.services import accounts
from warehouse_gql.services.passwords import Passwords
from warehouse_gql.store.database import Database
from warehouse_gql.store.ids import known_id

ITEM_EVENTS = """subscription($sku: String, $after: String) {
  itemChanged(sku: $sku, after: $after) { kind cursor item { id quantity } }
}"""
CREATE_BIN = "mutation($l: String!) { createBin(input: {location: $l, capacity: 100000}) { id } }"
CREATE_ITEM = """mutation($s: String!, $b: ID!, $q: Int!) {
  createItem(input: {name: "feed", sku: $s, binId: $b, quantity: $q}) { id }
}"""
ADJUST = 'mutation($id: ID!) { adjustItemQuantity(id: $id, delta: 1, reason: "burst") { id } }'

WORKERS = 20
WRITES_PER_WORKER = 10


@dataclass
class Deployment:
    """Server processes sharing one database of their own (so no other test's server holds
    the sequencer lease) and one Redis."""

    mongodb_url: str
    name: str
    redis_url: str
    db: Database
    token: str = ""

    def process(self) -> ServerProcess:
        return ServerProcess(
            {
                "MONGODB_URL": self.mongodb_url,
                "MONGODB_DB": self.name,
                "REDIS_URL": self.redis_url,
                "RATE_LIMIT_POINTS": "0",
                "AUTH_RATE_LIMIT": "0",
                "REQUEST_TIMEOUT_S": "120",
            }
        )

    async def lease_owner(self) -> str | None:
        lease = await self.db.leases.find_one({"_id": "sequencer"})
        return None if lease is None else str(lease["owner"])


@pytest.fixture
async def deployment(mongodb_url: str) -> AsyncIterator[Deployment]:
    valkey = ValkeyServer()
    valkey.start()
    client = mongo_client(mongodb_url)
    name = f"wgql_feed_{uuid.uuid4().hex[:8]}"
    db = Database(client, name)
    bus = EventBus(Broadcast("memory://"))
    passwords = Passwords(fast=True)
    username = f"feed-{uuid.uuid4().hex[:8]}"
    await accounts.create_user(
        db,
        passwords,
        username=username,
        email=f"{username}@example.com",
        password="correct horse battery",
        role=Role.MANAGER,
    )
    session = await accounts.log_in(
        db,
        bus,
        passwords,
        username=username,
        password="correct horse battery",
        ttl=timedelta(hours=1),
        limits=None,
    )
    found = Deployment(mongodb_url, name, valkey.url, db, session.token)
    found.valkey = valkey  # type: ignore[attr-defined]
    yield found
    # The database stays (tests never wipe data): a killed process's open transactions hold
    # its documents for a minute, and dropping it would wait for them.
    await client.close()
    valkey.stop()


async def gql(url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        answer = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = answer.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


async def until(check: Any, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def stock(d: Deployment, url: str, sku: str, count: int) -> list[str]:
    """`count` items of one sku, each in a bin of its own (writers never share a document)."""
    ids = []
    for _ in range(count):
        bin_id = (await gql(url, d.token, CREATE_BIN, {"l": f"F-{uuid.uuid4().hex[:10]}"}))[
            "createBin"
        ]["id"]
        ids.append(
            (await gql(url, d.token, CREATE_ITEM, {"s": sku, "b": bin_id, "q": 1}))["createItem"][
                "id"
            ]
        )
    return ids


async def burst(url: str, token: str, item_ids: list[str], *, on_answer: Any) -> int:
    """WORKERS writers in flight at once, each adjusting its own item; stops at the first
    failure (the server was killed). Returns how many writes were answered."""
    answered = 0

    async def writer(item_id: str) -> None:
        nonlocal answered
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _ in range(WRITES_PER_WORKER):
                try:
                    reply = await http.post(
                        "/graphql",
                        json={"query": ADJUST, "variables": {"id": item_id}},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except httpx.HTTPError:
                    return
                assert not reply.json().get("errors"), reply.json()
                answered += 1
                on_answer(answered)

    await asyncio.gather(*(writer(i) for i in item_ids))
    return answered


async def committed_quantities(d: Deployment, item_ids: list[str]) -> dict[str, int]:
    docs = await d.db.items.find({"_id": {"$in": [known_id(i) for i in item_ids]}}).to_list()
    return {str(doc["_id"]): doc["quantity"] for doc in docs}


async def events_until(sub: Subscriptions, marker_id: str) -> list[dict[str, Any]]:
    """Every itemChanged event up to the marker item's creation (its change is numbered after
    every earlier one, and a subscription delivers in number order)."""
    seen: list[dict[str, Any]] = []
    while True:
        event = (await sub.next_data(within=60))["itemChanged"]
        if event["item"]["id"] == marker_id:
            return seen
        seen.append(event)


def assert_each_committed_write_once(
    events: list[dict[str, Any]], item_ids: list[str], final: dict[str, int]
) -> None:
    got: dict[str, list[int]] = defaultdict(list)
    for event in events:
        got[event["item"]["id"]].append(event["item"]["quantity"])
    for item_id in item_ids:
        # Each write adds 1 to an item created with 1: every quantity 2..final is one write.
        assert got[item_id] == list(range(2, final[item_id] + 1)), (item_id, got[item_id])
    cursors = [int(e["cursor"]) for e in events]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == len(cursors)


async def test_a_committer_killed_mid_burst_loses_nothing_and_duplicates_nothing(
    deployment: Deployment,
) -> None:
    d = deployment
    committer = d.process()
    committer.start()
    # The committer is also the sequencer: the worst case, its numbering dies with it.
    await until(lambda: _holds_lease(d))
    relay = d.process()
    relay.start()
    sub = Subscriptions(relay.url.replace("http", "ws") + "/graphql")
    try:
        sku = f"KILL-{uuid.uuid4().hex[:8]}"
        item_ids = await stock(d, committer.url, sku, WORKERS)
        await sub.connect({"authorization": f"Bearer {d.token}"})
        await sub.subscribe(ITEM_EVENTS, {"sku": sku, "after": await _cursor_now(d)})

        def kill_halfway(answered: int) -> None:
            if answered == WORKERS * WRITES_PER_WORKER // 2 and committer.child is not None:
                os.kill(committer.child.pid, signal.SIGKILL)

        answered = await burst(committer.url, d.token, item_ids, on_answer=kill_halfway)
        assert answered < WORKERS * WRITES_PER_WORKER
        final = await committed_quantities(d, item_ids)
        assert sum(final.values()) - WORKERS >= answered  # answered writes are committed

        marker = await stock(d, relay.url, sku, 1)
        events = await events_until(sub, marker[0])
        assert_each_committed_write_once(events, item_ids, final)
        assert Counter(e["kind"] for e in events) == {"UPDATED": len(events)}
    finally:
        await sub.close()
        relay.stop()
        committer.stop()


# As long as the outage: longer than any buffer or retry a process keeps in memory.
REDIS_OUTAGE_S = 60.0


async def test_redis_stopped_a_minute_during_writes_and_the_committer_killed_loses_nothing(
    deployment: Deployment,
) -> None:
    d = deployment
    valkey: ValkeyServer = d.valkey  # type: ignore[attr-defined]
    writer_process = d.process()
    writer_process.start()
    # The writer is also the sequencer, and dies with Redis down: what it left unnumbered is
    # numbered by the reader, from the database.
    await until(lambda: _holds_lease(d))
    reader_process = d.process()
    reader_process.start()
    sub = Subscriptions(reader_process.url.replace("http", "ws") + "/graphql")
    seen: list[dict[str, Any]] = []

    async def collect() -> None:
        # Read all along, as a dashboard does (an unread socket would stop answering pings).
        while True:
            seen.append((await sub.next_data(within=3 * REDIS_OUTAGE_S))["itemChanged"])

    collector: asyncio.Task[None] | None = None
    try:
        sku = f"REDIS-{uuid.uuid4().hex[:8]}"
        item_ids = await stock(d, writer_process.url, sku, WORKERS)
        await sub.connect({"authorization": f"Bearer {d.token}"})
        await sub.subscribe(ITEM_EVENTS, {"sku": sku, "after": await _cursor_now(d)})
        collector = asyncio.create_task(collect())
        # An event through Redis first, so the subscription is live on the reader.
        await gql(writer_process.url, d.token, ADJUST, {"id": item_ids[0]})
        await wait_for(lambda: len(seen) == 1, what="the first event")

        valkey.stop()
        stopped_at = asyncio.get_running_loop().time()
        answered = await burst(writer_process.url, d.token, item_ids, on_answer=lambda n: None)
        assert answered == WORKERS * WRITES_PER_WORKER
        # Killed before Redis is back: nothing it committed may depend on its memory.
        assert writer_process.child is not None
        os.kill(writer_process.child.pid, signal.SIGKILL)
        writer_process.child.wait()
        final = await committed_quantities(d, item_ids)
        assert sum(final.values()) == WORKERS + 1 + answered

        def all_arrived() -> bool:
            if collector is not None and collector.done():
                collector.result()  # the collector's own error, not "did not hold"
            top: dict[str, int] = {}
            for event in seen:
                top[event["item"]["id"]] = event["item"]["quantity"]
            return top == final

        # Within the outage: the reader's relay reads the database, Redis is not needed.
        left = stopped_at + REDIS_OUTAGE_S - asyncio.get_running_loop().time()
        await wait_for(all_arrived, timeout=max(left, 10.0), what="the burst, without Redis")
        # The outage lasts its full minute (its length is the point of the test).
        await asyncio.sleep(
            max(0.0, stopped_at + REDIS_OUTAGE_S - asyncio.get_running_loop().time())
        )
        valkey.start()

        # After Redis is back (late copies flushed), exactly once each, in order.
        marker = (await stock(d, reader_process.url, sku, 1))[0]
        await wait_for(
            lambda: any(e["item"]["id"] == marker for e in seen), timeout=60, what="the marker"
        )
        events = [e for e in seen if e["item"]["id"] != marker]
        assert_each_committed_write_once(events, item_ids, final)
    finally:
        if collector is not None:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await collector
        await sub.close()
        reader_process.stop()
        writer_process.stop()


async def _holds_lease(d: Deployment) -> bool:
    return await d.lease_owner() is not None


async def _cursor_now(d: Deployment) -> str:
    """The cursor of the latest numbered change: resuming from it sends what follows."""
    latest = await d.db.changes.find_one({"seq": {"$gt": 0}}, sort=[("seq", -1)])
    return str(0 if latest is None else latest["seq"])
