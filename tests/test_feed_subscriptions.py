"""Subscriptions on the change feed over real sockets on two server processes: `cursor` on every
event, resuming with `after:` on another process, `orderChanged`, `lowStock(after:)` and
CURSOR_EXPIRED past the retention."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from tests import given
from tests.accounts import Account, make_account
from tests.graphql_client import GraphQLClient
from tests.livekit import LiveServer, Subscriptions
from tests.names import unique
from tests.waiting import wait_for
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.changes import parse_cursor
from warehouse_gql.settings import Settings
from warehouse_gql.store import changes
from warehouse_gql.store.database import Database

ITEM_EVENTS = """subscription($sku: String, $after: String) {
  itemChanged(sku: $sku, after: $after) { kind cursor item { sku quantity } }
}"""
ORDER_EVENTS = """subscription($id: ID, $status: OrderStatus, $after: String) {
  orderChanged(id: $id, status: $status, after: $after) { kind cursor order { id status } }
}"""
LOW_STOCK = """subscription($sku: String, $after: String) {
  lowStock(threshold: 3, sku: $sku, after: $after) { kind cursor item { id quantity } }
}"""
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustItemQuantity(id: $id, delta: $d, reason: "t") { quantity } }'


@pytest.fixture
async def clients(
    servers: tuple[LiveServer, LiveServer],
) -> AsyncIterator[tuple[GraphQLClient, GraphQLClient]]:
    a, b = servers
    async with (
        httpx.AsyncClient(base_url=a.http_url, timeout=30) as on_a,
        httpx.AsyncClient(base_url=b.http_url, timeout=30) as on_b,
    ):
        yield GraphQLClient(on_a), GraphQLClient(on_b)


async def connected(server: LiveServer, account: Account) -> Subscriptions:
    client = Subscriptions(server.ws_url)
    ack = await client.connect({"authorization": f"Bearer {account.token}"})
    assert ack["type"] == "connection_ack", ack
    return client


async def test_item_changed_resumed_on_the_other_process_gets_exactly_the_missed_changes_in_order(
    servers: tuple[LiveServer, LiveServer],
    clients: tuple[GraphQLClient, GraphQLClient],
    manager: Account,
) -> None:
    a, b = servers
    gql_a, gql_b = clients
    sku = unique("SKU")
    item = await given.stocked(gql_b, manager.token, sku=sku, quantity=0)
    first = await connected(a, manager)
    await first.subscribe(ITEM_EVENTS, {"sku": sku})
    await a.caught_up()
    await gql_b.ok(ADJUST, {"id": item["id"], "d": 1}, manager.token)
    seen = (await first.next_data())["itemChanged"]
    assert (seen["kind"], seen["item"]["quantity"]) == ("UPDATED", 1)
    await first.close()

    # Missed while disconnected: three changes, made on both processes.
    for n, gql in enumerate([gql_a, gql_b, gql_a]):
        assert (await gql.ok(ADJUST, {"id": item["id"], "d": 1}, manager.token))[
            "adjustItemQuantity"
        ]["quantity"] == n + 2

    again = await connected(b, manager)
    await again.subscribe(ITEM_EVENTS, {"sku": sku, "after": seen["cursor"]})
    missed = [(await again.next_data())["itemChanged"] for _ in range(3)]
    assert [m["item"]["quantity"] for m in missed] == [2, 3, 4]
    cursors = [parse_cursor(seen["cursor"]), *(parse_cursor(m["cursor"]) for m in missed)]
    assert cursors == sorted(set(cursors)), cursors
    # Then live, with nothing repeated between the catch-up and the live changes.
    await gql_a.ok(ADJUST, {"id": item["id"], "d": 1}, manager.token)
    live = (await again.next_data())["itemChanged"]
    assert live["item"]["quantity"] == 5
    assert parse_cursor(live["cursor"]) > cursors[-1]
    await again.close()


async def test_order_changed_follows_one_order_through_its_life_and_resumes_from_a_cursor(
    servers: tuple[LiveServer, LiveServer],
    clients: tuple[GraphQLClient, GraphQLClient],
    manager: Account,
) -> None:
    a, _ = servers
    gql_a, gql_b = clients
    customer = await make_account(a.resources, Role.CUSTOMER, unique("buyer"))
    sku = unique("SKU")
    await given.stocked(gql_b, manager.token, sku=sku, quantity=10)
    # From before this order's life: the feed's end now, as a client's last cursor would be.
    before = str(await changes.high_water(a.resources.db))
    order = await given.order(gql_a, customer.token, [(sku, 2)])
    other = await given.order(gql_a, customer.token, [(sku, 1)])
    watcher = await connected(a, customer)
    await watcher.subscribe(ORDER_EVENTS, {"id": order["id"], "after": before})
    first = (await watcher.next_data())["orderChanged"]
    assert (first["kind"], first["order"]) == (
        "CREATED",
        {"id": order["id"], "status": "PENDING"},
    )
    assert parse_cursor(first["cursor"]) > parse_cursor(before)

    await gql_b.ok(
        "mutation($id: ID!) { cancelOrder(id: $id) { status } }", {"id": other["id"]}, manager.token
    )
    await gql_b.ok(given.FULFILL, {"id": order["id"]}, manager.token)
    fulfilled = (await watcher.next_data())["orderChanged"]
    # The other order's cancellation is not this subscription's: the next event is the fulfilment.
    assert (fulfilled["kind"], fulfilled["order"]) == (
        "UPDATED",
        {"id": order["id"], "status": "FULFILLED"},
    )
    assert parse_cursor(fulfilled["cursor"]) > parse_cursor(first["cursor"])
    await watcher.close()


async def test_a_customer_following_orders_gets_only_their_own(
    servers: tuple[LiveServer, LiveServer],
    clients: tuple[GraphQLClient, GraphQLClient],
    manager: Account,
) -> None:
    a, b = servers
    gql_a, gql_b = clients
    mine = await make_account(a.resources, Role.CUSTOMER, unique("mine"))
    theirs = await make_account(a.resources, Role.CUSTOMER, unique("theirs"))
    sku = unique("SKU")
    await given.stocked(gql_b, manager.token, sku=sku, quantity=10)
    watcher = await connected(b, mine)
    await watcher.subscribe(ORDER_EVENTS, {})
    await b.caught_up()
    await given.order(gql_a, theirs.token, [(sku, 1)])
    own = await given.order(gql_a, mine.token, [(sku, 1)])
    event = (await watcher.next_data())["orderChanged"]
    assert (event["kind"], event["order"]["id"]) == ("CREATED", own["id"])
    await watcher.close()


async def test_low_stock_after_a_cursor_sends_the_current_set_again_then_goes_live(
    servers: tuple[LiveServer, LiveServer],
    clients: tuple[GraphQLClient, GraphQLClient],
    manager: Account,
) -> None:
    a, b = servers
    gql_a, gql_b = clients
    sku = unique("SKU")
    low = await given.stocked(gql_a, manager.token, sku=sku, quantity=1)
    high = await given.stocked(gql_a, manager.token, sku=sku, quantity=9)
    first = await connected(a, manager)
    await first.subscribe(LOW_STOCK, {"sku": sku})
    entered = (await first.next_data())["lowStock"]
    assert (entered["kind"], entered["item"]) == ("ENTER", {"id": low["id"], "quantity": 1})
    await first.close()

    # While away: the low one recovers, the high one falls low.
    await gql_b.ok(ADJUST, {"id": low["id"], "d": 5}, manager.token)
    await gql_b.ok(ADJUST, {"id": high["id"], "d": -8}, manager.token)

    again = await connected(b, manager)
    await again.subscribe(LOW_STOCK, {"sku": sku, "after": entered["cursor"]})
    resent = (await again.next_data())["lowStock"]
    assert (resent["kind"], resent["item"]) == ("ENTER", {"id": high["id"], "quantity": 1})
    await gql_a.ok(ADJUST, {"id": high["id"], "d": 4}, manager.token)
    left = (await again.next_data())["lowStock"]
    assert (left["kind"], left["item"]) == ("LEAVE", {"id": high["id"], "quantity": 5})
    await again.close()


@pytest.fixture(scope="module")
async def expiring(settings: Settings, redis_url: str) -> AsyncIterator[LiveServer]:
    """A server on a database of its own, whose oldest changes this module removes as the
    retention (a TTL index) would."""
    own = dataclasses.replace(
        settings, mongodb_db=unique("wgql_expiry").replace("-", "_"), redis_url=None
    )
    server = LiveServer(create_app(own))
    await server.start()
    yield server
    await server.stop()


async def test_a_cursor_older_than_the_kept_changes_is_cursor_expired_on_every_door(
    expiring: LiveServer,
) -> None:
    boss = await make_account(expiring.resources, Role.MANAGER, unique("boss"))
    async with httpx.AsyncClient(base_url=expiring.http_url, timeout=30) as http:
        gql = GraphQLClient(http)
        bin = await given.bin(gql, boss.token)
        item = await given.item(gql, boss.token, bin_id=bin["id"], quantity=1)
        for _ in range(3):
            await gql.ok(ADJUST, {"id": item["id"], "d": 1}, boss.token)
        db = expiring.resources.db
        numbers = sorted(d["seq"] for d in await db.changes.find({"seq": {"$gt": 0}}).to_list())
        # A bin, an item, three adjustments (each also changing the bin's load), in order.
        assert numbers == list(range(1, 10))
        # The retention removed the two oldest: a reader who saw only the first one missed one.
        await db.changes.delete_many({"seq": {"$in": numbers[:2]}})
        stale, whole = str(numbers[0]), str(numbers[1])

        query = "query($a: String) { changes(after: $a, first: 10) { edges { node { id } } } }"
        refused = await gql.post(query, {"a": stale}, boss.token)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["CURSOR_EXPIRED"]
        # A reader who saw the last removed change misses nothing.
        kept = (await gql.ok(query, {"a": whole}, boss.token))["changes"]["edges"]
        assert len(kept) == 7

        rest = await http.get(
            "/api/v1/changes",
            params={"after": stale},
            headers={"authorization": f"Bearer {boss.token}"},
        )
        assert (rest.status_code, rest.json()["code"]) == (410, "CURSOR_EXPIRED")

    client = await connected(expiring, boss)
    await client.subscribe(ITEM_EVENTS, {"after": stale})
    message = await client.receive()
    await client.close()
    assert message["type"] in {"error", "next"}, message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["CURSOR_EXPIRED"]


async def test_a_second_deployment_on_the_same_redis_is_never_heard(
    servers: tuple[LiveServer, LiveServer],
    clients: tuple[GraphQLClient, GraphQLClient],
    settings: Settings,
    redis_url: str,
    manager: Account,
) -> None:
    a, _ = servers
    gql_a, _ = clients
    sku = unique("SKU")
    item = await given.stocked(gql_a, manager.token, sku=sku, quantity=0)
    watcher = await connected(a, manager)
    await watcher.subscribe(ITEM_EVENTS, {"sku": sku})
    await a.caught_up()
    # Another deployment: its own database, the same Redis, and feed numbers that go on
    # exactly where ours stand, the worst case: heard, they would look like our next ones.
    ours = await changes.high_water(a.resources.db)
    other_db = unique("wgql_other").replace("-", "_")
    await Database(a.resources.db.client, other_db).leases.insert_one(
        {
            "_id": changes.LEASE_ID,
            "owner": "gone",
            "expiresAt": datetime(2000, 1, 1, tzinfo=UTC),
            "seq": ours,
        }
    )
    other = LiveServer(
        create_app(dataclasses.replace(settings, mongodb_db=other_db, redis_url=redis_url))
    )
    await other.start()
    try:
        boss = await make_account(other.resources, Role.MANAGER, unique("boss"))
        async with httpx.AsyncClient(base_url=other.http_url, timeout=30) as http:
            theirs = GraphQLClient(http)
            for _ in range(3):
                await given.bin(theirs, boss.token)
        await wait_for(lambda: other.resources.events.position == ours + 3)

        await gql_a.ok(ADJUST, {"id": item["id"], "d": 1}, manager.token)
        event = (await watcher.next_data())["itemChanged"]
        assert (event["item"]["quantity"], event["cursor"]) == (1, str(ours + 1))
        assert a.resources.events.position == await changes.high_water(a.resources.db)
    finally:
        await watcher.close()
        await other.stop()
