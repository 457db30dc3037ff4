"""Optimising the floor through GraphQL, against the real database: scanner lookups, pick lists,
putaway plans, the slotting report and cycle counts.

Pick lists, putaway and slotting read the whole floor, so those tests each get a floor of their
own (a fresh database behind a fresh app); counts and lookups use the shared one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from graphql import build_schema

from tests import given, test_schema
from tests.accounts import Account, make_account
from tests.app_resources import lifespan
from tests.graphql_client import GraphQLClient
from tests.invariants import assert_invariants
from tests.names import unique
from warehouse_gql.api.graphql.schema import export_sdl
from warehouse_gql.api.http import Resources
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.layout import Layout
from warehouse_gql.domain.routing import Strategy, plan_walk
from warehouse_gql.settings import Settings
from warehouse_gql.store import bins, migrations

FLOOR_BIN = "id location aisle rack shelf version capacity currentLoad freeCapacity"
BIN_BY_LOCATION = f"query($l: String!) {{ binByLocation(location: $l) {{ {FLOOR_BIN} }} }}"
PICK_LIST = (
    "query($o: [ID!]!, $s: PickStrategy) { pickList(orderIds: $o, strategy: $s) { "
    "strategy distance baselineDistance "
    "stops { sequence sku quantity orderId bin { id location } } } }"
)
PUTAWAY = (
    "query($s: String!, $q: Int!) { suggestPutaway(sku: $s, quantity: $q) { "
    "unplaced suggestions { quantity bin { id location freeCapacity } } } }"
)
SLOTTING = (
    "query($d: Int) { slottingReport(days: $d) { sku pickLines units abcClass "
    "bins { location } suggestedBin { location } } }"
)
COUNT = (
    "mutation($b: ID!, $l: [CountLineInput!]!, $c: Boolean! = false, $v: Int) "
    f"{{ countBin(binId: $b, lines: $l, complete: $c, expectedVersion: $v) {{ {FLOOR_BIN} "
    "items { sku name quantity } } }"
)


@dataclass
class Floor:
    """A warehouse of its own: app, database, and a manager, picker and customer."""

    gql: GraphQLClient
    resources: Resources
    manager: Account
    picker: Account
    customer: Account

    async def bin(self, location: str, capacity: int = 100) -> str:
        data = await self.gql.ok(
            given.CREATE_BIN,
            {"i": {"location": location, "capacity": capacity}},
            self.manager.token,
        )
        bin_id: str = data["createBin"]["id"]
        return bin_id

    async def stock(self, bin_id: str, sku: str, quantity: int) -> None:
        await given.item(self.gql, self.manager.token, bin_id=bin_id, quantity=quantity, sku=sku)

    async def order(self, lines: list[tuple[str, int]]) -> str:
        created = await given.order(self.gql, self.manager.token, lines)
        order_id: str = created["id"]
        return order_id

    async def fulfill(self, order_id: str) -> dict[str, Any]:
        data = await self.gql.ok(given.FULFILL, {"id": order_id}, self.picker.token)
        fulfilled: dict[str, Any] = data["fulfillOrder"]
        return fulfilled


@asynccontextmanager
async def open_floor(settings: Settings, **overrides: Any) -> AsyncIterator[Floor]:
    own = dataclasses.replace(
        settings, mongodb_db=f"wgql_floor_{uuid.uuid4().hex[:8]}", **overrides
    )
    app = create_app(own)
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        resources = next(
            r.app.resources  # type: ignore[attr-defined]
            for r in app.routes
            if isinstance(getattr(getattr(r, "app", None), "resources", None), Resources)
        )
        accounts = {role: await make_account(resources, role) for role in Role}
        yield Floor(
            GraphQLClient(http),
            resources,
            accounts[Role.MANAGER],
            accounts[Role.PICKER],
            accounts[Role.CUSTOMER],
        )
        await resources.db.client.drop_database(own.mongodb_db)


@pytest.fixture
async def floor(settings: Settings) -> AsyncIterator[Floor]:
    async with open_floor(settings) as opened:
        yield opened


# binByLocation and the layout fields


async def test_bin_by_location_finds_the_exact_bin_whatever_the_case(
    gql: GraphQLClient, manager: Account, picker: Account
) -> None:
    aisle = unique("Q").replace("-", "").upper()
    location = f"{aisle}-07-2"
    data = await gql.ok(
        given.CREATE_BIN, {"i": {"location": location, "capacity": 10}}, manager.token
    )
    found = (await gql.ok(BIN_BY_LOCATION, {"l": f"  {location.lower()} "}, picker.token))[
        "binByLocation"
    ]
    assert found["id"] == data["createBin"]["id"]
    assert (found["aisle"], found["rack"], found["shelf"]) == (aisle, 7, 2)
    assert (await gql.ok(BIN_BY_LOCATION, {"l": f"{aisle}-07"}, picker.token))[
        "binByLocation"
    ] is None


async def test_a_bin_whose_location_does_not_parse_has_no_aisle_rack_or_shelf(
    gql: GraphQLClient, manager: Account
) -> None:
    created = await given.bin(gql, manager.token)
    found = (await gql.ok(BIN_BY_LOCATION, {"l": created["location"]}, manager.token))[
        "binByLocation"
    ]
    assert (found["aisle"], found["rack"], found["shelf"], found["version"]) == (
        None,
        None,
        None,
        0,
    )


async def test_every_write_of_a_bin_increments_its_version(
    gql: GraphQLClient, manager: Account
) -> None:
    first = await given.bin(gql, manager.token)
    second = await given.bin(gql, manager.token)

    async def versions() -> tuple[int, int]:
        out = []
        for b in (first, second):
            found = await gql.ok(BIN_BY_LOCATION, {"l": b["location"]}, manager.token)
            out.append(found["binByLocation"]["version"])
        return out[0], out[1]

    assert await versions() == (0, 0)
    item = await given.item(gql, manager.token, bin_id=first["id"], quantity=5)
    assert await versions() == (1, 0)
    await gql.ok(given.ADJUST, {"id": item["id"], "d": 2, "r": "delivery"}, manager.token)
    assert await versions() == (2, 0)
    await gql.ok(given.MOVE, {"id": item["id"], "to": second["id"], "q": 3}, manager.token)
    assert await versions() == (3, 1)
    await gql.ok(
        "mutation($id: ID!) { updateBin(id: $id, input: { capacity: 90 }) { id } }",
        {"id": second["id"]},
        manager.token,
    )
    assert await versions() == (3, 2)
    counted = await gql.ok(
        COUNT, {"b": first["id"], "l": [{"sku": item["sku"], "quantity": 1}]}, manager.token
    )
    assert counted["countBin"]["version"] == 4
    assert await versions() == (4, 2)


# Permissions


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (BIN_BY_LOCATION, {"l": "A-01-1"}),
        (PICK_LIST, {"o": [str(ObjectId())]}),
        (PUTAWAY, {"s": "SKU-1", "q": 1}),
        (SLOTTING, {}),
        (COUNT, {"b": str(ObjectId()), "l": [{"sku": "SKU-1", "quantity": 1}]}),
    ],
    ids=["binByLocation", "pickList", "suggestPutaway", "slottingReport", "countBin"],
)
async def test_the_floor_is_for_staff_only(
    gql: GraphQLClient, customer: Account, query: str, variables: dict[str, Any]
) -> None:
    assert await gql.code(query, variables, customer.token) == "FORBIDDEN"
    assert await gql.code(query, variables) == "UNAUTHENTICATED"


async def test_the_slotting_report_is_for_managers_only(
    gql: GraphQLClient, manager: Account, picker: Account
) -> None:
    assert await gql.code(SLOTTING, {}, picker.token) == "FORBIDDEN"
    assert isinstance((await gql.ok(SLOTTING, {"d": 1}, manager.token))["slottingReport"], list)


# Pick lists


async def test_a_batch_pick_list_walks_fulfilled_and_pending_orders_in_one_tour(
    floor: Floor,
) -> None:
    # Given a floor of five aisles of ten bays, stock spread over it, one order already
    # fulfilled and one pending.
    bins = {
        loc: await floor.bin(loc)
        for loc in ["A-02-1", "A-10-1", "B-09-2", "C-03-1", "D-08-1", "E-01-1", "E-10-1"]
    }
    for loc, sku in [
        ("E-10-1", "BOLT"),
        ("A-02-1", "NUT"),
        ("D-08-1", "GEAR"),
        ("B-09-2", "CAM"),
        ("C-03-1", "PIN"),
        ("A-10-1", "AXLE"),
        ("E-01-1", "HUB"),
    ]:
        await floor.stock(bins[loc], sku, 20)
    fulfilled = await floor.order([("BOLT", 2), ("NUT", 5), ("GEAR", 1)])
    picks = (await floor.fulfill(fulfilled))["picks"]
    pending = await floor.order([("CAM", 3), ("PIN", 4), ("AXLE", 1), ("HUB", 2)])

    # When a picker asks for the best walk over both.
    data = await floor.gql.ok(PICK_LIST, {"o": [fulfilled, pending]}, floor.picker.token)
    walk = data["pickList"]

    # Then every recorded and planned pick is a stop, in a walk no longer than input order.
    stops = walk["stops"]
    assert [s["sequence"] for s in stops] == list(range(1, 8))
    assert sorted((s["sku"], s["quantity"], s["orderId"]) for s in stops) == sorted(
        [(p["sku"], p["quantity"], fulfilled) for p in picks]
        + [("CAM", 3, pending), ("PIN", 4, pending), ("AXLE", 1, pending), ("HUB", 2, pending)]
    )
    input_order = ["E-10-1", "A-02-1", "D-08-1", "B-09-2", "C-03-1", "A-10-1", "E-01-1"]
    layout = Layout.of("ABCDE", largest_rack=10)
    expected = plan_walk(input_order, Strategy.BEST, layout)
    assert [s["bin"]["location"] for s in stops] == [input_order[i] for i in expected.order]
    assert walk["distance"] == expected.distance
    assert walk["baselineDistance"] == plan_walk(input_order, Strategy.INPUT_ORDER, layout).distance
    assert walk["distance"] < walk["baselineDistance"]
    assert walk["strategy"] in {s.value for s in Strategy}
    saving = 1 - walk["distance"] / walk["baselineDistance"]
    print(
        f"\nworked example: {' → '.join(s['bin']['location'] for s in stops)}; "
        f"{walk['strategy']} {walk['distance']:g} vs input order {walk['baselineDistance']:g} "
        f"({saving:.0%} shorter)"
    )

    # And each heuristic can be asked for by name; none beats BEST.
    for strategy in ("S_SHAPE", "LARGEST_GAP", "NEAREST_NEIGHBOUR", "INPUT_ORDER"):
        single = await floor.gql.ok(
            PICK_LIST, {"o": [fulfilled, pending], "s": strategy}, floor.picker.token
        )
        assert single["pickList"]["strategy"] == strategy
        assert single["pickList"]["distance"] >= walk["distance"]
        assert single["pickList"]["baselineDistance"] == walk["baselineDistance"]


async def test_a_pending_order_is_walked_with_the_picks_fulfilment_then_makes(
    floor: Floor,
) -> None:
    full, half, far = (
        await floor.bin("A-01-1"),
        await floor.bin("B-05-1"),
        await floor.bin("C-09-1"),
    )
    await floor.stock(full, "WID", 30)
    await floor.stock(half, "WID", 12)
    await floor.stock(far, "GIZ", 4)
    order_id = await floor.order([("WID", 35), ("GIZ", 4)])
    planned = (await floor.gql.ok(PICK_LIST, {"o": [order_id]}, floor.manager.token))["pickList"]
    made = (await floor.fulfill(order_id))["picks"]
    assert sorted((s["sku"], s["quantity"], s["bin"]["id"]) for s in planned["stops"]) == sorted(
        (p["sku"], p["quantity"], p["bin"]["id"]) for p in made
    )
    # Fulfilled now, the same order is walked from its recorded picks: the same walk.
    again = (await floor.gql.ok(PICK_LIST, {"o": [order_id]}, floor.manager.token))["pickList"]
    assert again["distance"] == planned["distance"]


async def test_pending_orders_in_one_batch_never_plan_the_same_units_twice(floor: Floor) -> None:
    big, small = await floor.bin("A-01-1"), await floor.bin("B-01-1")
    await floor.stock(big, "WID", 6)
    await floor.stock(small, "WID", 4)
    first, second = await floor.order([("WID", 5)]), await floor.order([("WID", 5)])
    walk = (await floor.gql.ok(PICK_LIST, {"o": [first, second]}, floor.picker.token))["pickList"]
    taken: dict[str, int] = {}
    for stop in walk["stops"]:
        taken[stop["bin"]["location"]] = taken.get(stop["bin"]["location"], 0) + stop["quantity"]
    assert taken == {"A-01-1": 6, "B-01-1": 4}
    third = await floor.order([("WID", 1)])
    error = await floor.gql.error(PICK_LIST, {"o": [first, second, third]}, floor.picker.token)
    assert error["extensions"]["code"] == "INSUFFICIENT_STOCK"
    assert "WID" in error["message"]


async def test_a_bin_whose_location_does_not_parse_is_visited_last(floor: Floor) -> None:
    dock, shelf, back = (
        await floor.bin("Dock"),
        await floor.bin("A-03-1"),
        await floor.bin("B-04-1"),
    )
    for b, sku in [(dock, "D1"), (shelf, "S1"), (back, "S2")]:
        await floor.stock(b, sku, 5)
    order_id = await floor.order([("D1", 1), ("S2", 1), ("S1", 1)])
    walk = (await floor.gql.ok(PICK_LIST, {"o": [order_id]}, floor.picker.token))["pickList"]
    assert [s["bin"]["location"] for s in walk["stops"]] == ["A-03-1", "B-04-1", "Dock"]
    # Four bays per aisle (the largest rack): depot → A-03 (3) → round the back to B-04
    # (2 + 3 + 1) → depot (4 + 3).
    assert walk["distance"] == 16


async def test_the_layout_settings_set_aisle_spacing_and_bays_per_aisle(
    settings: Settings,
) -> None:
    async def distance(**layout: Any) -> float:
        async with open_floor(settings, **layout) as floor:
            for location, sku in [("A-03-1", "S1"), ("B-04-1", "S2")]:
                await floor.stock(await floor.bin(location), sku, 5)
            order_id = await floor.order([("S1", 1), ("S2", 1)])
            data = await floor.gql.ok(PICK_LIST, {"o": [order_id]}, floor.picker.token)
            found: float = data["pickList"]["distance"]
            return found

    # Depot → A-03 → B-04 → depot: round the back with 4 bays per aisle (the largest rack),
    # round the front with 40; aisles 3 (the default) or 1 apart.
    assert await distance() == 3 + (2 + 3 + 1) + (4 + 3)
    assert await distance(layout_bays_per_aisle=40) == 3 + (3 + 3 + 4) + (4 + 3)
    assert await distance(layout_aisle_spacing=1.0) == 3 + (2 + 1 + 1) + (4 + 1)


async def test_a_pick_list_names_what_it_cannot_walk(floor: Floor) -> None:
    b = await floor.bin("A-01-1")
    await floor.stock(b, "WID", 5)
    cancelled = await floor.order([("WID", 1)])
    await floor.gql.ok(given.CANCEL, {"id": cancelled}, floor.manager.token)
    token = floor.picker.token
    assert await floor.gql.code(PICK_LIST, {"o": [cancelled]}, token) == "BAD_USER_INPUT"
    assert await floor.gql.code(PICK_LIST, {"o": []}, token) == "BAD_USER_INPUT"
    assert await floor.gql.code(PICK_LIST, {"o": [str(ObjectId())]}, token) == "NOT_FOUND"
    assert await floor.gql.code(PICK_LIST, {"o": ["nonsense"]}, token) == "NOT_FOUND"


# Putaway


async def test_putaway_consolidates_then_fits_whole_then_fills_the_roomiest(floor: Floor) -> None:
    # Two bins already hold the sku; four others have room from 0 to 50.
    held_5 = await floor.bin("C-01-1", capacity=10)
    held_3 = await floor.bin("C-02-1", capacity=10)
    await floor.stock(held_5, "WID", 5)
    await floor.stock(held_3, "WID", 7)
    roomy = await floor.bin("D-01-1", capacity=50)
    exact = await floor.bin("D-02-1", capacity=12)
    small = await floor.bin("D-03-1", capacity=8)
    full = await floor.bin("D-04-1", capacity=4)
    await floor.stock(full, "OTHER", 4)
    await floor.bin("D-05-1", capacity=0)

    async def plan(quantity: int) -> tuple[list[tuple[str, int]], int]:
        data = await floor.gql.ok(PUTAWAY, {"s": "WID", "q": quantity}, floor.picker.token)
        found = data["suggestPutaway"]
        for s in found["suggestions"]:
            assert 1 <= s["quantity"] <= s["bin"]["freeCapacity"]
        return [(s["bin"]["id"], s["quantity"]) for s in found["suggestions"]], found["unplaced"]

    assert await plan(4) == ([(held_5, 4)], 0)
    assert await plan(20) == ([(held_5, 5), (held_3, 3), (exact, 12)], 0)
    assert await plan(30) == ([(held_5, 5), (held_3, 3), (roomy, 22)], 0)
    assert await plan(100) == ([(held_5, 5), (held_3, 3), (roomy, 50), (exact, 12), (small, 8)], 22)
    # A plan changes nothing.
    assert await plan(20) == ([(held_5, 5), (held_3, 3), (exact, 12)], 0)
    token = floor.picker.token
    assert await floor.gql.code(PUTAWAY, {"s": "WID", "q": 0}, token) == "BAD_USER_INPUT"
    assert await floor.gql.code(PUTAWAY, {"s": "no spaces", "q": 1}, token) == "BAD_USER_INPUT"


async def test_putaway_of_a_new_sku_picks_the_tightest_whole_fit_in_location_order(
    floor: Floor,
) -> None:
    await floor.bin("B-01-1", capacity=40)
    second = await floor.bin("A-02-1", capacity=15)
    await floor.bin("A-03-1", capacity=15)
    data = await floor.gql.ok(PUTAWAY, {"s": "NEW", "q": 15}, floor.manager.token)
    assert data["suggestPutaway"] == {
        "unplaced": 0,
        "suggestions": [
            {"quantity": 15, "bin": {"id": second, "location": "A-02-1", "freeCapacity": 15}}
        ],
    }


async def test_putaway_reads_bins_through_the_free_capacity_index(floor: Floor) -> None:
    for n in range(5):
        await floor.bin(f"A-0{n + 1}-1", capacity=10 * n)
    cursor = bins.room_cursor(floor.resources.db, at_least=15, exclude=[ObjectId()], limit=1)
    plan = await cursor.explain()
    assert "bins_by_free_capacity" in str(plan["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"])


async def test_bins_written_before_the_layout_fields_get_them_at_start_up(floor: Floor) -> None:
    db = floor.resources.db
    now = datetime.now(UTC)
    old = {"capacity": 5, "currentLoad": 0, "freeCapacity": 5, "createdAt": now, "updatedAt": now}
    await db.bins.insert_many(
        [
            {**old, "location": "F-12-3", "locationKey": "F-12-3", "version": 2},
            {**old, "location": "Yard", "locationKey": "YARD", "version": 0},
        ]
    )
    await migrations.prepare(db)
    found = {
        d["location"]: d async for d in db.bins.find({"location": {"$in": ["F-12-3", "Yard"]}})
    }
    assert [found["F-12-3"][k] for k in ("aisle", "rack", "shelf", "version")] == ["F", 12, 3, 3]
    assert [found["Yard"][k] for k in ("aisle", "rack", "shelf", "version")] == [
        None,
        None,
        None,
        1,
    ]
    await migrations.prepare(db)
    assert (await db.bins.find_one({"location": "F-12-3"}) or {})["version"] == 3


# Slotting


async def test_the_slotting_report_classes_skus_by_pick_lines_and_moves_far_fast_movers_near(
    floor: Floor,
) -> None:
    # Given a floor of ten aisles of twenty bays: the fastest mover sits at the far end, the
    # second fastest by the depot, and there is room near the depot.
    far = await floor.bin("J-18-1", capacity=500)
    near = await floor.bin("A-01-1", capacity=100)
    await floor.bin("A-02-1", capacity=100)
    await floor.bin("J-20-1", capacity=1000)
    slow = await floor.bin("E-10-1", capacity=500)
    await floor.stock(far, "FAST", 100)
    await floor.stock(near, "SECOND", 100)
    for sku in ("B1", "B2", "C1"):
        await floor.stock(slow, sku, 50)
    # 12 orders: 12 pick lines of FAST, 4 of SECOND, 2 of B1, 1 of B2, 1 of C1 (20 in all).
    for i in range(12):
        lines = [("FAST", 1)]
        lines += [("SECOND", 2)] if i < 4 else []
        lines += [("B1", 1)] if i < 2 else []
        lines += [("B2", 3), ("C1", 1)] if i == 0 else []
        await floor.fulfill(await floor.order(lines))
    # A pick long ago (outside a 90-day window) and an unfulfilled order count for nothing.
    await floor.resources.db.movements.insert_one(
        {
            "itemId": ObjectId(),
            "sku": "C1",
            "binId": ObjectId(slow),
            "binLocation": "E-10-1",
            "delta": -40,
            "quantityAfter": 10,
            "reason": "fulfil",
            "userId": None,
            "createdAt": datetime.now(UTC) - timedelta(days=200),
        }
    )
    await floor.order([("C1", 5)])

    report = (await floor.gql.ok(SLOTTING, {}, floor.manager.token))["slottingReport"]
    assert [(r["sku"], r["pickLines"], r["units"], r["abcClass"]) for r in report] == [
        ("FAST", 12, 12, "A"),  # 60% of pick lines
        ("SECOND", 4, 8, "A"),  # 80%
        ("B1", 2, 2, "B"),  # 90%
        ("B2", 1, 3, "B"),  # 95%
        ("C1", 1, 1, "C"),
    ]
    rows = {r["sku"]: r for r in report}
    assert rows["FAST"]["bins"] == [{"location": "J-18-1"}]
    # FAST has 88 units left in J-18-1: A-01-1 has room for 8 only, A-02-1 for 100.
    assert rows["FAST"]["suggestedBin"] == {"location": "A-02-1"}
    assert rows["SECOND"]["suggestedBin"] is None
    assert rows["B1"]["suggestedBin"] is None

    wider = (await floor.gql.ok(SLOTTING, {"d": 365}, floor.manager.token))["slottingReport"]
    assert {r["sku"]: (r["pickLines"], r["units"]) for r in wider}["C1"] == (2, 41)
    assert await floor.gql.code(SLOTTING, {"d": 0}, floor.manager.token) == "BAD_USER_INPUT"


# Cycle counts


async def count(
    gql: GraphQLClient, token: str, bin_id: str, lines: list[tuple[str, int]], **extra: Any
) -> dict[str, Any]:
    variables = {"b": bin_id, "l": [{"sku": s, "quantity": q} for s, q in lines], **extra}
    return await gql.post(COUNT, variables, token)


async def test_a_count_writes_a_count_movement_for_each_difference(
    gql: GraphQLClient, manager: Account, picker: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=100)
    short = await given.item(gql, manager.token, bin_id=b["id"], quantity=10)
    right = await given.item(gql, manager.token, bin_id=b["id"], quantity=5)
    elsewhere = await given.bin(gql, manager.token)
    found = await given.item(gql, manager.token, bin_id=elsewhere["id"], quantity=1, name="Cog")
    body = await count(
        gql,
        picker.token,
        b["id"],
        [(short["sku"], 7), (right["sku"], 5), (found["sku"], 2)],
        v=2,
    )
    assert not body.get("errors"), body
    counted = body["data"]["countBin"]
    assert counted["currentLoad"] == 14
    assert counted["version"] == 3
    assert sorted((i["sku"], i["name"], i["quantity"]) for i in counted["items"]) == sorted(
        [(short["sku"], "Widget", 7), (right["sku"], "Widget", 5), (found["sku"], "Cog", 2)]
    )
    ledger = await resources.db.movements.find(
        {"binId": ObjectId(b["id"]), "reason": "count"}
    ).to_list()
    assert sorted((m["sku"], m["delta"], m["quantityAfter"]) for m in ledger) == sorted(
        [(short["sku"], -3, 7), (found["sku"], 2, 2)]
    )
    assert all(str(m["userId"]) == picker.id for m in ledger)
    skus = [short["sku"], right["sku"], found["sku"]]
    await assert_invariants(resources.db, skus=skus, bin_ids=[b["id"], elsewhere["id"]])


async def test_a_complete_count_finds_unlisted_skus_empty(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    kept = await given.item(gql, manager.token, bin_id=b["id"], quantity=4)
    gone = await given.item(gql, manager.token, bin_id=b["id"], quantity=6)
    body = await count(gql, manager.token, b["id"], [(kept["sku"], 4)], c=True)
    assert not body.get("errors"), body
    assert {i["sku"]: i["quantity"] for i in body["data"]["countBin"]["items"]} == {
        kept["sku"]: 4,
        gone["sku"]: 0,
    }
    empty = await count(gql, manager.token, b["id"], [], c=True)
    assert empty["data"]["countBin"]["currentLoad"] == 0
    await assert_invariants(resources.db, skus=[kept["sku"], gone["sku"]], bin_ids=[b["id"]])


async def test_a_count_that_matches_changes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    it = await given.item(gql, manager.token, bin_id=b["id"], quantity=4)
    before = await given.raw_state(resources.db, skus=[it["sku"]], bin_ids=[b["id"]])
    body = await count(gql, manager.token, b["id"], [(it["sku"], 4)], c=True, v=1)
    assert body["data"]["countBin"]["version"] == 1
    assert await given.raw_state(resources.db, skus=[it["sku"]], bin_ids=[b["id"]]) == before


async def test_a_stale_count_is_rejected_and_changes_nothing(
    gql: GraphQLClient, manager: Account, picker: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    it = await given.item(gql, manager.token, bin_id=b["id"], quantity=8)
    started_at = (await gql.ok(BIN_BY_LOCATION, {"l": b["location"]}, picker.token))[
        "binByLocation"
    ]["version"]
    # Someone picks while the count is going on.
    await gql.ok(given.ADJUST, {"id": it["id"], "d": -2, "r": "damaged"}, manager.token)
    before = await given.raw_state(resources.db, skus=[it["sku"]], bin_ids=[b["id"]])
    body = await count(gql, picker.token, b["id"], [(it["sku"], 8)], v=started_at)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert "recount" in error["message"]
    assert await given.raw_state(resources.db, skus=[it["sku"]], bin_ids=[b["id"]]) == before


async def test_a_count_beyond_the_bins_capacity_is_refused(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=10)
    it = await given.item(gql, manager.token, bin_id=b["id"], quantity=8)
    before = await given.raw_state(resources.db, skus=[it["sku"]], bin_ids=[b["id"]])
    body = await count(gql, manager.token, b["id"], [(it["sku"], 8), (unique("SKU"), 3)])
    assert body["errors"][0]["extensions"]["code"] == "CAPACITY_EXCEEDED"
    assert "11" in body["errors"][0]["message"]
    assert await given.raw_state(resources.db, skus=[it["sku"]], bin_ids=[b["id"]]) == before


async def test_a_count_refuses_bad_lines_and_unknown_bins(
    gql: GraphQLClient, manager: Account
) -> None:
    b = await given.bin(gql, manager.token)
    sku = unique("SKU")
    for lines in [[(sku, 1), (sku, 2)], [(sku, -1)], []]:
        body = await count(gql, manager.token, b["id"], lines)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    body = await count(gql, manager.token, str(ObjectId()), [(sku, 1)])
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_concurrent_counts_and_picks_keep_every_invariant(
    gql: GraphQLClient, manager: Account, picker: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=200)
    items = [await given.item(gql, manager.token, bin_id=b["id"], quantity=20) for _ in range(3)]
    skus = [i["sku"] for i in items]

    async def recount(n: int) -> None:
        await count(gql, picker.token, b["id"], [(skus[n % 3], 10 + n)], c=n % 2 == 0)

    async def take(n: int) -> None:
        await gql.post(given.ADJUST, {"id": items[n % 3]["id"], "d": -1, "r": "pick"}, picker.token)

    await asyncio.gather(*(recount(n) for n in range(6)), *(take(n) for n in range(6)))
    await assert_invariants(resources.db, skus=skus, bin_ids=[b["id"]])
    ledger = await resources.db.movements.count_documents(
        {"binId": ObjectId(b["id"]), "reason": "count"}
    )
    assert ledger >= 1


# The contract of the floor's additions


FLOOR_CONTRACT_SDL = """
enum PickStrategy { BEST S_SHAPE LARGEST_GAP NEAREST_NEIGHBOUR INPUT_ORDER }
type PickStop { sequence: Int! bin: Bin! sku: String! quantity: Int! orderId: ID! }
type PickList { stops: [PickStop!]! strategy: PickStrategy! distance: Float! baselineDistance: Float! }
type PutawaySuggestion { bin: Bin! quantity: Int! }
type PutawayPlan { suggestions: [PutawaySuggestion!]! unplaced: Int! }
type SlottingRow { sku: String! pickLines: Int! units: Int! abcClass: String! bins: [Bin!]! suggestedBin: Bin }
input CountLineInput { sku: String! quantity: Int! }
extend type Bin { aisle: String rack: Int shelf: Int version: Int! }
extend type Query {
  binByLocation(location: String!): Bin
  pickList(orderIds: [ID!]!, strategy: PickStrategy = BEST): PickList!
  suggestPutaway(sku: String!, quantity: Int!): PutawayPlan!
  slottingReport(days: Int = 90): [SlottingRow!]!
}
extend type Mutation {
  countBin(binId: ID!, lines: [CountLineInput!]!, complete: Boolean! = false, expectedVersion: Int): Bin!
}
"""


def test_the_published_schema_keeps_the_floor_contract() -> None:
    contract = build_schema(
        "\n".join(
            [test_schema.CONTRACT_SDL, test_schema.SAME_SHAPE_CONNECTIONS, FLOOR_CONTRACT_SDL]
        )
    )
    published = build_schema(export_sdl())
    test_schema.test_every_contract_type_exists_with_the_same_kind(contract, published)
    test_schema.test_every_enum_has_the_contract_values(contract, published)
    test_schema.test_every_contract_field_and_argument_exists_with_the_same_type(
        contract, published
    )
    test_schema.test_every_contract_input_field_exists_with_the_same_type(contract, published)
