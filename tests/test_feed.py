"""The change feed: records written with every write, numbered in commit order, read back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from broadcaster import Broadcast
from starlette.applications import Starlette

from tests.accounts import Account
from tests.names import unique
from tests.waiting import wait_for
from warehouse_gql.api.http import Resources
from warehouse_gql.app import mongo_client
from warehouse_gql.domain import clock
from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind, parse_cursor
from warehouse_gql.domain.errors import BadUserInput, Conflict
from warehouse_gql.domain.filters import Condition, Op
from warehouse_gql.live import events as live
from warehouse_gql.live.bus import EventBus
from warehouse_gql.services import feed, inventory, orders
from warehouse_gql.services.feed import Feed
from warehouse_gql.store import bins as bins_store
from warehouse_gql.store import changes, items, migrations, search, users
from warehouse_gql.store import orders as orders_store
from warehouse_gql.store.database import Database
from warehouse_gql.store.ids import known_id


def test_a_cursor_is_a_decimal_sequence_number_and_anything_else_is_bad_input() -> None:
    assert parse_cursor(None) == 0
    assert parse_cursor("42") == 42
    for bad in ("", "-1", "abc", "1.5", "9" * 30):
        with pytest.raises(BadUserInput):
            parse_cursor(bad)


async def test_every_write_of_a_bin_item_order_or_shipment_leaves_one_numbered_change(
    app: Starlette, resources: Resources, manager: Account
) -> None:
    db = resources.db
    start = await changes.high_water(db)
    bin = await inventory.create_bin(db, location=unique("CH"), capacity=10)
    sku = unique("SKU")
    user = await users.get_user(db, known_id(manager.id))
    assert user is not None
    item = await inventory.create_item(
        db, resources.events, name="n", sku=sku, bin_id=bin.id, quantity=2, user=user
    )
    await inventory.adjust_item_quantity(
        db, resources.events, item_id=item.id, delta=3, reason="r", user=user
    )
    order = await orders.create_order(
        db, customer_name="C", lines=[(sku, 5)], idempotency_key=None, user=user
    )
    await orders.fulfil_order(db, resources.events, order_id=order.id, user=user)

    mine = [
        c
        for c in await changes.read_after(db, start, limit=1000)
        if c.id in {bin.id, item.id, order.id}
    ]
    assert [(c.entity, c.kind, c.revision) for c in mine] == [
        (ChangeEntity.BIN, ChangeKind.CREATED, 1),
        # The item's creation moved the bin's load: one change each, in one transaction.
        (ChangeEntity.ITEM, ChangeKind.CREATED, 1),
        (ChangeEntity.BIN, ChangeKind.UPDATED, 2),
        (ChangeEntity.ITEM, ChangeKind.UPDATED, 2),
        (ChangeEntity.BIN, ChangeKind.UPDATED, 3),
        (ChangeEntity.ORDER, ChangeKind.CREATED, 1),
        (ChangeEntity.ITEM, ChangeKind.UPDATED, 3),
        (ChangeEntity.BIN, ChangeKind.UPDATED, 4),
        (ChangeEntity.ORDER, ChangeKind.UPDATED, 2),
    ]
    assert [c.seq for c in mine] == sorted(c.seq for c in mine)
    assert mine[-3].data["quantity"] == 0
    assert mine[-3].data["previousQuantity"] == 5
    assert mine[-2].data["currentLoad"] == 0
    assert mine[-1].data["status"] == "FULFILLED"
    assert mine[-1].data["createdById"] == manager.id
    assert mine[-1].data["lines"] == [{"sku": sku, "quantity": 5}]
    only_orders = await changes.read_after(db, start, limit=1000, entities=[ChangeEntity.ORDER])
    assert [c.id for c in only_orders if c.id in {bin.id, item.id, order.id}] == [order.id] * 2


async def test_a_live_query_starting_set_and_the_feed_agree_on_bin_and_order_revisions(
    app: Starlette, resources: Resources, manager: Account
) -> None:
    db = resources.db
    start = await changes.high_water(db)
    bin = await inventory.create_bin(db, location=unique("CH"), capacity=10)
    bin = await inventory.update_bin(db, bin_id=bin.id, location=None, capacity=12)
    user = await users.get_user(db, known_id(manager.id))
    assert user is not None
    sku = unique("SKU")
    await inventory.create_item(
        db, resources.events, name="n", sku=sku, bin_id=bin.id, quantity=1, user=user
    )
    order = await orders.create_order(
        db, customer_name="C", lines=[(sku, 1)], idempotency_key=None, user=user
    )
    last = {
        c.id: c
        for c in await changes.read_after(db, start, limit=1000)
        if c.id in {bin.id, order.id}
    }
    # The bin was created, updated and loaded by the item: three changes. A live query's
    # starting set records the revision of the last one, so that change is not delivered
    # again; and the change data rebuilds the stored record.
    bins = await search.ids_matching(db, "bins", [Condition("id", Op.EQ, bin.id)], limit=2)
    assert bins == {bin.id: last[bin.id].revision} == {bin.id: 3}
    found = await search.ids_matching(db, "orders", [Condition("id", Op.EQ, order.id)], limit=2)
    assert found == {order.id: last[order.id].revision} == {order.id: 1}
    assert live.bin_of(last[bin.id]) == await bins_store.get_bin(db, known_id(bin.id))
    assert live.order_of(last[order.id]) == await orders_store.get_order(db, known_id(order.id))


async def test_a_failed_write_leaves_no_change(app: Starlette, resources: Resources) -> None:
    db = resources.db
    location = unique("CH")
    await inventory.create_bin(db, location=location, capacity=10)
    start = await changes.high_water(db)
    with pytest.raises(Conflict):
        await inventory.create_bin(db, location=location, capacity=10)
    # Other tests' records may still wait for the app's sequencer: only this bin's matter.
    pending = await changes.pending(db, limit=1000)
    assert [r for r in pending if r["data"].get("location") == location] == []
    assert [
        c
        for c in await changes.read_after(db, start, limit=1000)
        if c.data.get("location") == location
    ] == []


async def test_a_change_that_commits_after_a_read_cursor_gets_a_later_cursor(
    app: Starlette, resources: Resources, manager: Account
) -> None:
    # The trap of ObjectIds and insert times: the slow transaction starts (and stamps its
    # record) first but commits last; a reader that saw the fast one must still get it.
    db = resources.db
    user = await users.get_user(db, known_id(manager.id))
    assert user is not None
    slow_bin = await inventory.create_bin(db, location=unique("SLOW"), capacity=10)
    fast_bin = await inventory.create_bin(db, location=unique("FAST"), capacity=10)
    holding = asyncio.Event()
    release = asyncio.Event()
    real_checkpoint = db.fault_injector

    async def hold(step: str) -> None:
        if step == "fulfill.items" and not release.is_set():
            holding.set()
            await release.wait()

    sku_slow, sku_fast = unique("SKU"), unique("SKU")
    for sku, bin in ((sku_slow, slow_bin), (sku_fast, fast_bin)):
        await inventory.create_item(
            db, resources.events, name="n", sku=sku, bin_id=bin.id, quantity=5, user=user
        )
    slow_order = await orders.create_order(
        db, customer_name="C", lines=[(sku_slow, 1)], idempotency_key=None, user=user
    )
    db.fault_injector = hold
    try:
        slow = asyncio.create_task(
            orders.fulfil_order(db, resources.events, order_id=slow_order.id, user=user)
        )
        await holding.wait()
        fast = await inventory.adjust_item_quantity(
            db,
            resources.events,
            item_id=(await _item_of(resources, sku_fast)),
            delta=1,
            reason="r",
            user=user,
        )
        seen = [c for c in await changes.read_after(db, 0, limit=100_000) if c.id == fast.id]
        cursor = seen[-1].seq
        release.set()
        await slow
    finally:
        db.fault_injector = real_checkpoint
    later = await changes.read_after(db, cursor, limit=100_000)
    assert slow_order.id in {c.id for c in later}


async def _item_of(resources: Resources, sku: str) -> str:
    found = await items.stock_of_skus(resources.db, [sku])
    return found[0].id


async def test_concurrent_writers_and_a_paging_reader_see_every_change_once(
    app: Starlette, resources: Resources, manager: Account
) -> None:
    db = resources.db
    user = await users.get_user(db, known_id(manager.id))
    assert user is not None
    sku = unique("PAGE")
    item_ids = []
    for _ in range(10):
        bin = await inventory.create_bin(db, location=unique("PG"), capacity=1000)
        item = await inventory.create_item(
            db, resources.events, name="n", sku=sku, bin_id=bin.id, quantity=0, user=user
        )
        item_ids.append(item.id)
    cursor = max(c.seq for c in await changes.read_after(db, 0, limit=100_000))
    writing = True

    async def writer(item_id: str) -> None:
        for _ in range(10):
            await inventory.adjust_item_quantity(
                db, resources.events, item_id=item_id, delta=1, reason="r", user=user
            )

    seen: list[Change] = []

    async def reader() -> None:
        nonlocal cursor
        while True:
            done = not writing
            page = await changes.read_after(db, cursor, limit=7, entities=[ChangeEntity.ITEM])
            seen.extend(c for c in page if c.id in item_ids)
            if page:
                cursor = page[-1].seq
            elif done:
                return
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(i) for i in item_ids))
    writing = False
    await reading
    keys = [(c.id, c.revision) for c in seen]
    assert len(keys) == len(set(keys)) == 100
    for item_id in item_ids:
        assert [c.data["quantity"] for c in seen if c.id == item_id] == list(range(1, 11))


# The sequencer's numbers under its own races and a takeover (two processes' feeds, each on a
# bus of its own: Redis down, only the database between them).


def _record(doc_id: str) -> dict[str, Any]:
    return {
        "entity": "BIN",
        "docId": doc_id,
        "kind": "UPDATED",
        "revision": 1,
        "at": clock.now(),
        "data": {"id": doc_id},
        "pending": True,
    }


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    """A process's bus that reaches no other process."""
    async with Broadcast("memory://") as broadcast:
        yield EventBus(broadcast)


@pytest.fixture
async def feed_db(mongodb_url: str) -> AsyncIterator[Database]:
    client = mongo_client(mongodb_url)
    db = Database(client, f"wgql_seq_{uuid.uuid4().hex[:8]}")
    await migrations.prepare(db)
    try:
        yield db
    finally:
        await client.drop_database(db.db.name)
        await client.close()


async def _numbers(db: Database) -> list[int]:
    return sorted(d["seq"] for d in await db.changes.find({"seq": {"$gt": 0}}).to_list())


async def _holding_sequencer(db: Database, bus: EventBus) -> Feed:
    """A process's feed that holds the lease, driven step by step by the test (not started)."""
    sequencer = Feed(db, bus)
    assert await changes.take_lease(db, sequencer.owner, seconds=5)
    await sequencer._renew()
    return sequencer


async def test_records_the_pending_poll_numbered_are_not_numbered_again_when_handed_over(
    feed_db: Database, bus: EventBus
) -> None:
    db = feed_db
    sequencer = await _holding_sequencer(db, bus)
    first = [_record(f"b{n}") for n in range(4)]
    await db.changes.insert_many(first)
    await sequencer._number_pending()
    # Two commits of this process: the poll finds them before their commit hands them over.
    polled = [_record("b4"), _record("b5")]
    await db.changes.insert_many(polled)
    await sequencer._number_pending()
    later = [_record("b6"), _record("b7")]
    await db.changes.insert_many(later)
    sequencer._committed.extend([*polled, *later])
    await sequencer._number(sequencer._take_committed())
    # Each record once, and no number left unused for relays to wait on.
    assert await _numbers(db) == list(range(1, 9))
    assert sequencer._numbered == 8


async def test_a_record_the_poll_numbered_in_a_long_backlog_is_not_numbered_again_when_handed_over(
    feed_db: Database, bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After an outage the poll works through a backlog many batches long: this process's
    # records in it are numbered there, long before their commit hands them over.
    monkeypatch.setattr(feed, "BATCH", 2)
    monkeypatch.setattr(feed, "REMEMBERED_IDS", 4)
    db = feed_db
    sequencer = await _holding_sequencer(db, bus)
    backlog = [_record(f"b{n}") for n in range(12)]
    await db.changes.insert_many(backlog)
    sequencer._committed.extend(backlog[:1])
    await sequencer._number_pending()
    # Handed over with a record committed since: each numbered once, no number left unused.
    late = _record("late")
    await db.changes.insert_one(late)
    sequencer._committed.append(late)
    await sequencer._number(sequencer._take_committed())
    assert await _numbers(db) == list(range(1, 14))
    assert sequencer._numbered == 13


async def test_a_relay_stuck_before_a_dead_sequencers_unused_number_reads_on_after_the_takeover(
    feed_db: Database, bus: EventBus
) -> None:
    db = feed_db
    # A sequencer numbered 1-6, saved its mark at 4, numbered 9-10 (7 and 8 went unused) and
    # died; its lease runs out a second later.
    docs = [_record(f"b{n}") for n in range(8)]
    for doc, seq in zip(docs, [1, 2, 3, 4, 5, 6, 9, 10], strict=True):
        del doc["pending"]
        doc["seq"] = seq
    await db.changes.insert_many(docs[:6])
    until = clock.now() + timedelta(seconds=1)
    await db.leases.insert_one({"_id": "sequencer", "owner": "dead", "expiresAt": until, "seq": 4})
    reader = Feed(db, bus, relay_poll_seconds=0.05)
    await reader.start()
    try:
        await wait_for(lambda: reader.delivered == 6, what="the changes before the gap")
        await db.changes.insert_many(docs[6:])
        # The reader takes the lease; nothing is pending, so it numbers nothing new.
        await wait_for(lambda: reader.holding, what="the takeover")
        await wait_for(lambda: reader.delivered == 10, what="the changes after the gap")
    finally:
        await reader.stop()
