"""Database round trips per request: a page and its nested records cost one query per kind.

A second client, built like the server's own, carries a PyMongo command listener; a GraphQL
view that uses it counts the commands one request sends, whatever the size of the page.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from starlette.applications import Starlette
from starlette.routing import Route

from tests import given
from tests.accounts import Account, make_account
from tests.graphql_client import GraphQLClient
from tests.invariants import assert_invariants
from tests.names import unique
from warehouse_gql.api.graphql import loaders
from warehouse_gql.api.graphql.view import GraphQLView
from warehouse_gql.api.http import Resources
from warehouse_gql.app import mongo_client
from warehouse_gql.domain.access import Role
from warehouse_gql.services import inventory, orders
from warehouse_gql.settings import Settings
from warehouse_gql.store import items, users
from warehouse_gql.store import orders as orders_store
from warehouse_gql.store.database import Database

# Connection handshakes, heartbeats, authentication and session bookkeeping: not the
# request's reads and writes.
NOT_COUNTED = {
    "hello",
    "ismaster",
    "ping",
    "endsessions",
    "buildinfo",
    "saslstart",
    "saslcontinue",
    "authenticate",
    "getnonce",
    "killcursors",
}


class CommandCounter(CommandListener):
    """A PyMongo command listener that remembers the names of the commands started."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        # The same, with the collection each command names.
        self.targets: list[tuple[str, str]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name.lower() not in NOT_COUNTED:
            self.commands.append(event.command_name)
            target = event.command.get(event.command_name)
            self.targets.append((event.command_name, target if isinstance(target, str) else ""))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


@dataclass
class Counted:
    client: httpx.AsyncClient
    counter: CommandCounter
    db: Database

    async def commands_of(self, query: str, variables: dict[str, Any], token: str) -> list[str]:
        """The database commands one GraphQL request sends; the request must succeed."""
        self.counter.commands.clear()
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return list(self.counter.commands)


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pacing here: once an operation has run SLICE_S, its loads take turns with the rest
    of the event loop (api/graphql/loaders.py Pacer), which on a loaded machine can split one
    batch of a page's loads in two. These tests count what one page asks for; the pacing
    has tests of its own."""
    monkeypatch.setattr(loaders, "SLICE_S", 60.0)


@pytest.fixture(scope="module")
async def counted(settings: Settings, resources: Resources) -> AsyncIterator[Counted]:
    counter = CommandCounter()
    assert settings.mongodb_url is not None
    client = mongo_client(settings.mongodb_url, event_listeners=[counter])
    view = GraphQLView(settings)
    # The server's resources, reading through the counting client.
    db = Database(client, settings.mongodb_db)
    view.resources = dataclasses.replace(resources, db=db)
    app = Starlette(routes=[Route("/graphql", view, methods=["GET", "POST"])])
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            yield Counted(http, counter, db)
    finally:
        await client.close()


@dataclass
class Floor:
    prefix: str
    sku: str


async def stock_floor(gql: GraphQLClient, manager: Account, bins: int) -> Floor:
    """`bins` bins under one location prefix, each holding one shared sku and two of its own."""
    floor = Floor(prefix=unique("RT"), sku=unique("SHARED"))
    for n in range(bins):
        data = await gql.ok(
            "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }",
            {"i": {"location": f"{floor.prefix}-{n:02d}", "capacity": 1000}},
            manager.token,
        )
        bin_id = data["createBin"]["id"]
        for sku in (floor.sku, unique("OWN"), unique("OWN")):
            await gql.ok(
                "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }",
                {"i": {"name": "Thing", "sku": sku, "binId": bin_id, "quantity": n + 1}},
                manager.token,
            )
    return floor


@pytest.fixture(scope="module")
async def small_floor(gql: GraphQLClient, manager: Account) -> Floor:
    return await stock_floor(gql, manager, 2)


@pytest.fixture(scope="module")
async def large_floor(gql: GraphQLClient, manager: Account) -> Floor:
    return await stock_floor(gql, manager, 20)


BINS_WITH_ITEMS = (
    "query($p: String!) { bins(first: 20, locationPrefix: $p) "
    "{ edges { node { location items { sku quantity } } } } }"
)
ITEMS_WITH_BINS = (
    "query($s: String!) { items(first: 20, sku: $s) "
    "{ edges { node { sku quantity bin { location } } } } }"
)
MOVEMENTS_WITH_BINS = (
    "query($s: String!) { movements(first: 20, sku: $s) "
    "{ edges { node { delta bin { location } } } } }"
)


async def test_a_page_of_20_bins_with_their_items_costs_at_most_4_commands(
    counted: Counted, gql: GraphQLClient, manager: Account, large_floor: Floor
) -> None:
    data = await gql.ok(BINS_WITH_ITEMS, {"p": large_floor.prefix}, manager.token)
    edges = data["bins"]["edges"]
    assert len(edges) == 20
    assert all(len(e["node"]["items"]) == 3 for e in edges)

    commands = await counted.commands_of(BINS_WITH_ITEMS, {"p": large_floor.prefix}, manager.token)
    # The session, its user, the page of bins, the items of all those bins.
    assert len(commands) <= 4, commands


async def test_a_page_of_20_items_with_their_bins_costs_at_most_4_commands(
    counted: Counted, gql: GraphQLClient, manager: Account, large_floor: Floor
) -> None:
    data = await gql.ok(ITEMS_WITH_BINS, {"s": large_floor.sku}, manager.token)
    edges = data["items"]["edges"]
    assert len(edges) == 20
    assert len({e["node"]["bin"]["location"] for e in edges}) == 20

    commands = await counted.commands_of(ITEMS_WITH_BINS, {"s": large_floor.sku}, manager.token)
    # The session, its user, the page of items, the bins of all those items.
    assert len(commands) <= 4, commands


async def test_one_item_with_its_bin_is_one_command_and_without_it_one_find(
    counted: Counted, gql: GraphQLClient, manager: Account
) -> None:
    made = await given.stocked(gql, manager.token, sku=unique("ONE"), quantity=3)
    with_bin = "query($id: ID!) { item(id: $id) { quantity bin { id location } } }"
    data = await gql.ok(with_bin, {"id": made["id"]}, manager.token)
    assert data["item"] == {
        "quantity": 3,
        "bin": {"id": made["bin"]["id"], "location": made["bin"]["location"]},
    }

    async def commands(query: str) -> list[tuple[str, str]]:
        counted.counter.targets.clear()
        await counted.commands_of(query, {"id": made["id"]}, manager.token)
        return [t for t in counted.counter.targets if t[1] not in {"sessions", "users"}]

    # The item and its bin in one aggregate ($lookup on the bins' _id).
    assert await commands(with_bin) == [("aggregate", "items")]
    assert await commands("query($id: ID!) { item(id: $id) { quantity } }") == [("find", "items")]


async def test_a_page_of_movements_with_their_bins_costs_at_most_4_commands(
    counted: Counted, manager: Account, large_floor: Floor
) -> None:
    commands = await counted.commands_of(MOVEMENTS_WITH_BINS, {"s": large_floor.sku}, manager.token)
    assert len(commands) <= 4, commands


@pytest.mark.parametrize(
    ("query", "variable", "value"),
    [
        (BINS_WITH_ITEMS, "p", "prefix"),
        (ITEMS_WITH_BINS, "s", "sku"),
        (MOVEMENTS_WITH_BINS, "s", "sku"),
    ],
    ids=["bins", "items", "movements"],
)
async def test_the_number_of_commands_does_not_grow_with_the_page(
    counted: Counted,
    manager: Account,
    small_floor: Floor,
    large_floor: Floor,
    query: str,
    variable: str,
    value: str,
) -> None:
    async def commands(floor: Floor) -> list[tuple[str, str]]:
        counted.counter.targets.clear()
        await counted.commands_of(query, {variable: getattr(floor, value)}, manager.token)
        # The session lookup (sessions, users) is the session cache's, not the page's: it runs
        # once a second per token, whenever the cache entry happens to expire.
        return sorted(t for t in counted.counter.targets if t[1] not in {"sessions", "users"})

    assert await commands(small_floor) == await commands(large_floor)


async def test_the_counter_sees_the_requests_commands(
    counted: Counted, resources: Resources
) -> None:
    # Guards the bound above against a listener that counts nothing. A session not used in
    # the last second is not in the session cache: its lookup is two finds (session, user).
    fresh = await make_account(resources, Role.MANAGER)
    commands = await counted.commands_of("{ me { id } }", {}, fresh.token)
    assert commands == ["find", "find"]


async def test_an_items_bin_is_read_once_then_remembered_for_its_next_adjustments(
    counted: Counted, gql: GraphQLClient, manager: Account
) -> None:
    bin_id = (
        await gql.ok(
            "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }",
            {"i": {"location": unique("RT"), "capacity": 10}},
            manager.token,
        )
    )["createBin"]["id"]
    item_id = (
        await gql.ok(
            "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }",
            {"i": {"name": "Thing", "sku": unique("HOT"), "binId": bin_id, "quantity": 1}},
            manager.token,
        )
    )["createItem"]["id"]
    counted.counter.commands.clear()
    assert await items.bin_of(counted.db, ObjectId(item_id)) == bin_id
    assert counted.counter.commands == ["find"]
    counted.counter.commands.clear()
    # Every adjustment asks which bin to queue on (services.inventory): the answer never
    # changes, so a hot item costs that read once per process.
    assert await items.bin_of(counted.db, ObjectId(item_id)) == bin_id
    assert counted.counter.commands == []
    assert await items.bin_of(counted.db, ObjectId()) is None


async def test_an_adjustment_on_its_own_is_seven_commands_and_so_is_a_group_of_five(
    counted: Counted, gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    bin_id = (
        await gql.ok(
            "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }",
            {"i": {"location": unique("RT"), "capacity": 100}},
            manager.token,
        )
    )["createBin"]["id"]
    item_ids = [
        (
            await gql.ok(
                "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }",
                {"i": {"name": "Thing", "sku": unique("HOT"), "binId": bin_id, "quantity": 1}},
                manager.token,
            )
        )["createItem"]["id"]
        for _ in range(5)
    ]
    for item_id in item_ids:
        await items.bin_of(counted.db, ObjectId(item_id))
    user = await users.get_user(resources.db, ObjectId(manager.id))
    assert user is not None

    async def adjust(item_id: str) -> None:
        await inventory.adjust_item_quantity(
            counted.db, resources.events, item_id=item_id, delta=1, reason="count", user=user
        )

    counted.counter.commands.clear()
    await adjust(item_ids[0])
    the_item, the_bin, the_ledger, the_outbox = ("items", "bins", "movements", "changes")
    alone = [
        ("update", the_item),
        ("find", the_item),
        ("update", the_bin),
        ("find", the_bin),
        ("insert", the_ledger),
        ("insert", the_outbox),
        ("commitTransaction", ""),
    ]
    assert counted.counter.targets[-7:] == alone
    assert len(counted.counter.commands) == 7
    counted.counter.commands.clear()
    counted.counter.targets.clear()
    # Five waiting together (started in one go): one update command for the five items
    # (five statements), the rest once.
    await asyncio.gather(*(adjust(item_id) for item_id in item_ids))
    assert counted.counter.targets == alone


async def test_a_fulfilment_of_three_lines_from_two_bins_is_ten_commands(
    counted: Counted, gql: GraphQLClient, manager: Account, customer: Account, resources: Resources
) -> None:
    shared_bin = (await given.bin(gql, manager.token, capacity=100))["id"]
    skus = [unique("FUL") for _ in range(3)]
    await given.item(gql, manager.token, bin_id=shared_bin, quantity=5, sku=skus[0])
    await given.item(gql, manager.token, bin_id=shared_bin, quantity=5, sku=skus[1])
    await given.stocked(gql, manager.token, sku=skus[2], quantity=5)
    placed = await given.order(gql, customer.token, [(sku, 2) for sku in skus])
    user = await users.get_user(resources.db, ObjectId(manager.id))
    assert user is not None
    counted.counter.targets.clear()
    done = await orders.fulfil_order(counted.db, resources.events, order_id=placed["id"], user=user)
    assert [p.quantity for p in done.picks] == [2, 2, 2]
    # The three items in one update, their two bins in another: no command per pick.
    assert counted.counter.targets == [
        ("find", "orders"),
        ("find", "items"),
        ("update", "items"),
        ("find", "items"),
        ("update", "bins"),
        ("find", "bins"),
        ("insert", "movements"),
        ("update", "orders"),
        ("insert", "changes"),
        ("commitTransaction", ""),
    ]
    # The order after the update is made from the one the transaction read: as stored.
    assert done == await orders_store.get_order(resources.db, ObjectId(placed["id"]))
    await assert_invariants(resources.db, bin_ids=[shared_bin])
