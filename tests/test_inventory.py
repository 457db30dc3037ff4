"""Bins, items, the ledger and stock reads, through GraphQL against the real database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bson import ObjectId

from tests import given
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.invariants import assert_invariants
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.errors import InsufficientStock
from warehouse_gql.domain.models import Item, User
from warehouse_gql.services import inventory
from warehouse_gql.store import items, users

UPDATE_BIN = (
    f"mutation($id: ID!, $i: UpdateBinInput!) {{ updateBin(id: $id, input: $i) {{ {given.BIN} }} }}"
)
DELETE_BIN = "mutation($id: ID!) { deleteBin(id: $id) }"
GET_BIN = f"query($id: ID!) {{ bin(id: $id) {{ {given.BIN} items {{ id sku quantity }} }} }}"
UPDATE_ITEM = (
    "mutation($id: ID!, $i: UpdateItemInput!) "
    f"{{ updateItem(id: $id, input: $i) {{ {given.ITEM} }} }}"
)
DELETE_ITEM = "mutation($id: ID!) { deleteItem(id: $id) }"
GET_ITEM = f"query($id: ID!) {{ item(id: $id) {{ {given.ITEM} }} }}"
MOVEMENTS = (
    "query($s: String) { movements(sku: $s, first: 100) { totalCount "
    "edges { node { sku delta quantityAfter reason orderId bin { id location } } } } }"
)
MISSING = str(ObjectId())


async def movements_of(gql: GraphQLClient, token: str, sku: str) -> list[dict[str, Any]]:
    data = await gql.ok(MOVEMENTS, {"s": sku}, token)
    assert data["movements"]["totalCount"] == len(data["movements"]["edges"])
    return [edge["node"] for edge in data["movements"]["edges"]]


async def fetch_bin(gql: GraphQLClient, token: str, bin_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await gql.ok(GET_BIN, {"id": bin_id}, token))["bin"]
    return found


# Bins


async def test_a_new_bin_has_a_trimmed_location_and_is_empty(
    gql: GraphQLClient, manager: Account
) -> None:
    location = unique("A")
    data = await gql.ok(
        given.CREATE_BIN, {"i": {"location": f"  {location} ", "capacity": 40}}, manager.token
    )
    assert data["createBin"] == {
        "id": data["createBin"]["id"],
        "location": location,
        "capacity": 40,
        "currentLoad": 0,
        "freeCapacity": 40,
    }


async def test_a_bin_of_capacity_zero_is_allowed(gql: GraphQLClient, manager: Account) -> None:
    created = await given.bin(gql, manager.token, capacity=0)
    assert created["capacity"] == 0
    assert created["freeCapacity"] == 0


async def test_a_duplicate_location_is_a_conflict_whatever_its_case(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    location = unique("dup").lower()
    await gql.ok(given.CREATE_BIN, {"i": {"location": location, "capacity": 5}}, manager.token)
    for again in (location, location.upper(), f" {location.title()} "):
        error = await gql.error(
            given.CREATE_BIN, {"i": {"location": again, "capacity": 9}}, manager.token
        )
        assert error["extensions"]["code"] == "CONFLICT"
        assert again.strip() in error["message"]
    assert await resources.db.bins.count_documents({"locationKey": location.upper()}) == 1


async def test_a_capacity_out_of_bounds_is_bad_user_input_and_creates_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    for capacity in (-1, 1_000_000_001):
        location = unique("cap")
        error = await gql.error(
            given.CREATE_BIN, {"i": {"location": location, "capacity": capacity}}, manager.token
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "capacity"
        assert await resources.db.bins.count_documents({"location": location}) == 0


async def test_an_empty_or_overlong_location_is_bad_user_input(
    gql: GraphQLClient, manager: Account
) -> None:
    for location in ("   ", "L" * 65):
        error = await gql.error(
            given.CREATE_BIN, {"i": {"location": location, "capacity": 1}}, manager.token
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "location"


async def test_a_bin_cannot_shrink_below_its_load_and_stays_unchanged(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=50)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=30)
    before = await given.raw_state(resources.db, bin_ids=[b["id"]])
    error = await gql.error(UPDATE_BIN, {"id": b["id"], "i": {"capacity": 29}}, manager.token)
    assert error["extensions"]["code"] == "CAPACITY_EXCEEDED"
    assert b["location"] in error["message"]
    assert await given.raw_state(resources.db, bin_ids=[b["id"]]) == before


async def test_a_bin_can_shrink_to_exactly_its_load(gql: GraphQLClient, manager: Account) -> None:
    b = await given.bin(gql, manager.token, capacity=50)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=30)
    data = await gql.ok(UPDATE_BIN, {"id": b["id"], "i": {"capacity": 30}}, manager.token)
    assert data["updateBin"]["capacity"] == 30
    assert data["updateBin"]["currentLoad"] == 30
    assert data["updateBin"]["freeCapacity"] == 0


async def test_growing_a_bin_frees_capacity(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=10)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=4)
    data = await gql.ok(UPDATE_BIN, {"id": b["id"], "i": {"capacity": 100}}, manager.token)
    assert data["updateBin"]["freeCapacity"] == 96
    await assert_invariants(resources.db, bin_ids=[b["id"]])


async def test_renaming_a_bin_keeps_its_stock_and_frees_the_old_location(
    gql: GraphQLClient, manager: Account
) -> None:
    b = await given.bin(gql, manager.token, capacity=10)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=3)
    new_location = unique("R")
    data = await gql.ok(
        UPDATE_BIN, {"id": b["id"], "i": {"location": f" {new_location} "}}, manager.token
    )
    assert data["updateBin"]["location"] == new_location
    assert data["updateBin"]["currentLoad"] == 3
    assert data["updateBin"]["capacity"] == 10
    # The old location is free again.
    await gql.ok(given.CREATE_BIN, {"i": {"location": b["location"], "capacity": 1}}, manager.token)


async def test_renaming_a_bin_onto_another_bins_location_is_a_conflict(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    first = await given.bin(gql, manager.token)
    second = await given.bin(gql, manager.token)
    before = await given.raw_state(resources.db, bin_ids=[first["id"], second["id"]])
    error = await gql.error(
        UPDATE_BIN,
        {"id": second["id"], "i": {"location": first["location"].lower()}},
        manager.token,
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert await given.raw_state(resources.db, bin_ids=[first["id"], second["id"]]) == before


async def test_updating_an_unknown_bin_is_not_found(gql: GraphQLClient, manager: Account) -> None:
    for bin_id in (MISSING, "not-an-id"):
        code = await gql.code(UPDATE_BIN, {"id": bin_id, "i": {"capacity": 5}}, manager.token)
        assert code == "NOT_FOUND"


async def test_a_bin_that_holds_items_cannot_be_deleted_until_they_are_gone(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=2)
    error = await gql.error(DELETE_BIN, {"id": b["id"]}, manager.token)
    assert error["extensions"]["code"] == "CONFLICT"
    assert b["location"] in error["message"]
    # An empty item is still an item in the bin.
    await gql.ok(given.ADJUST, {"id": item["id"], "d": -2, "r": "count"}, manager.token)
    assert await gql.code(DELETE_BIN, {"id": b["id"]}, manager.token) == "CONFLICT"
    assert (await fetch_bin(gql, manager.token, b["id"]))["location"] == b["location"]

    await gql.ok(DELETE_ITEM, {"id": item["id"]}, manager.token)
    data = await gql.ok(DELETE_BIN, {"id": b["id"]}, manager.token)
    assert data["deleteBin"] == b["id"]
    assert (await gql.ok(GET_BIN, {"id": b["id"]}, manager.token))["bin"] is None
    assert await resources.db.bins.count_documents({"_id": ObjectId(b["id"])}) == 0


async def test_deleting_an_unknown_bin_is_not_found(gql: GraphQLClient, manager: Account) -> None:
    assert await gql.code(DELETE_BIN, {"id": MISSING}, manager.token) == "NOT_FOUND"


# Items


async def test_creating_an_item_loads_its_bin_and_writes_a_create_movement(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=100)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=30, name=" Widget ")
    assert item["name"] == "Widget"
    assert item["quantity"] == 30
    assert item["bin"] == {**item["bin"], "id": b["id"], "currentLoad": 30, "freeCapacity": 70}
    assert await movements_of(gql, manager.token, item["sku"]) == [
        {
            "sku": item["sku"],
            "delta": 30,
            "quantityAfter": 30,
            "reason": "create",
            "orderId": None,
            "bin": {"id": b["id"], "location": b["location"]},
        }
    ]
    await assert_invariants(resources.db, skus=[item["sku"]])


async def test_creating_an_empty_item_writes_no_movement(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=0)
    assert item["quantity"] == 0
    assert item["bin"]["currentLoad"] == 0
    assert await movements_of(gql, manager.token, item["sku"]) == []
    await assert_invariants(resources.db, skus=[item["sku"]])


async def test_the_same_sku_twice_in_one_bin_is_a_conflict_and_changes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=5)
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]])
    error = await gql.error(
        given.CREATE_ITEM,
        {"i": {"name": "Other", "sku": item["sku"], "binId": b["id"], "quantity": 3}},
        manager.token,
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert item["sku"] in error["message"]
    assert b["location"] in error["message"]
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]]) == before


async def test_the_same_sku_twice_in_one_bin_is_a_conflict_even_when_it_would_not_fit(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=10)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=8)
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]])
    fields = {"name": "Again", "sku": item["sku"], "binId": b["id"], "quantity": 5}
    assert await gql.code(given.CREATE_ITEM, {"i": fields}, manager.token) == "CONFLICT"
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]]) == before


async def test_the_same_sku_may_sit_in_several_bins(gql: GraphQLClient, manager: Account) -> None:
    first = await given.bin(gql, manager.token)
    second = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=first["id"], quantity=1)
    other = await given.item(gql, manager.token, bin_id=second["id"], quantity=2, sku=item["sku"])
    assert other["id"] != item["id"]
    assert other["bin"]["id"] == second["id"]


async def test_creating_more_than_a_bin_holds_is_capacity_exceeded_and_changes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=10)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=6)
    sku = unique("SKU")
    before = await given.raw_state(resources.db, skus=[sku], bin_ids=[b["id"]])
    error = await gql.error(
        given.CREATE_ITEM,
        {"i": {"name": "Big", "sku": sku, "binId": b["id"], "quantity": 5}},
        manager.token,
    )
    assert error["extensions"]["code"] == "CAPACITY_EXCEEDED"
    assert b["location"] in error["message"]
    assert await given.raw_state(resources.db, skus=[sku], bin_ids=[b["id"]]) == before


async def test_an_item_with_bad_fields_is_bad_user_input(
    gql: GraphQLClient, manager: Account
) -> None:
    b = await given.bin(gql, manager.token)
    for fields, field in (
        ({"sku": "has space"}, "sku"),
        ({"name": " "}, "name"),
        ({"quantity": -1}, "quantity"),
    ):
        values = {"name": "Widget", "sku": unique("SKU"), "binId": b["id"], "quantity": 1}
        error = await gql.error(given.CREATE_ITEM, {"i": {**values, **fields}}, manager.token)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == field


async def test_an_item_in_an_unknown_bin_is_not_found(gql: GraphQLClient, manager: Account) -> None:
    values = {"name": "Widget", "sku": unique("SKU"), "binId": MISSING, "quantity": 1}
    assert await gql.code(given.CREATE_ITEM, {"i": values}, manager.token) == "NOT_FOUND"


async def test_renaming_an_item_changes_only_its_name(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, picker.token, bin_id=b["id"], quantity=7)
    data = await gql.ok(UPDATE_ITEM, {"id": item["id"], "i": {"name": "Sprocket"}}, picker.token)
    assert data["updateItem"] == {**item, "name": "Sprocket"}
    assert len(await movements_of(gql, manager.token, item["sku"])) == 1
    error = await gql.error(UPDATE_ITEM, {"id": item["id"], "i": {"name": "  "}}, picker.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "name"
    assert (await gql.ok(GET_ITEM, {"id": item["id"]}, picker.token))["item"]["name"] == "Sprocket"
    await assert_invariants(resources.db, skus=[item["sku"]])


# adjustItemQuantity


async def test_each_adjustment_writes_one_movement_with_its_reason_and_quantity_after(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=100)
    item = await given.item(gql, picker.token, bin_id=b["id"], quantity=10)
    received = await gql.ok(
        given.ADJUST, {"id": item["id"], "d": 15, "r": "delivery 42"}, picker.token
    )
    assert received["adjustItemQuantity"]["quantity"] == 25
    assert received["adjustItemQuantity"]["bin"]["currentLoad"] == 25
    written_off = await gql.ok(
        given.ADJUST, {"id": item["id"], "d": -4, "r": "damaged"}, picker.token
    )
    assert written_off["adjustItemQuantity"]["quantity"] == 21
    assert written_off["adjustItemQuantity"]["bin"]["freeCapacity"] == 79
    ledger = await movements_of(gql, manager.token, item["sku"])
    assert [(m["delta"], m["quantityAfter"], m["reason"]) for m in ledger] == [
        (10, 10, "create"),
        (15, 25, "delivery 42"),
        (-4, 21, "damaged"),
    ]
    # The ledger also says who made each change.
    raw = await resources.db.movements.find({"sku": item["sku"]}).sort("_id").to_list()
    assert [m["userId"] for m in raw] == [ObjectId(picker.id)] * 3
    await assert_invariants(resources.db, skus=[item["sku"]])


async def test_adjusting_to_exactly_zero_and_exactly_full_is_allowed(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=12)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=5)
    full = await gql.ok(given.ADJUST, {"id": item["id"], "d": 7, "r": "fill"}, manager.token)
    assert full["adjustItemQuantity"]["bin"]["freeCapacity"] == 0
    empty = await gql.ok(given.ADJUST, {"id": item["id"], "d": -12, "r": "empty"}, manager.token)
    assert empty["adjustItemQuantity"]["quantity"] == 0
    assert empty["adjustItemQuantity"]["bin"]["currentLoad"] == 0
    await assert_invariants(resources.db, skus=[item["sku"]])


async def test_a_delta_of_zero_is_bad_user_input_and_writes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=5)
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]])
    error = await gql.error(given.ADJUST, {"id": item["id"], "d": 0, "r": "noop"}, manager.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "delta"
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]]) == before


async def test_taking_more_than_an_item_holds_is_insufficient_stock_and_changes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=5)
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]])
    error = await gql.error(given.ADJUST, {"id": item["id"], "d": -6, "r": "loss"}, manager.token)
    assert error["extensions"]["code"] == "INSUFFICIENT_STOCK"
    assert f"{item['sku']} (short by 1)" in error["message"]
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]]) == before


async def test_receiving_more_than_the_bin_has_room_for_is_capacity_exceeded_and_changes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=10)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=4)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=4)
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]])
    error = await gql.error(given.ADJUST, {"id": item["id"], "d": 3, "r": "in"}, manager.token)
    assert error["extensions"]["code"] == "CAPACITY_EXCEEDED"
    assert "room for 2" in error["message"]
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]]) == before


async def test_adjusting_an_unknown_item_is_not_found(gql: GraphQLClient, manager: Account) -> None:
    assert (
        await gql.code(given.ADJUST, {"id": MISSING, "d": 1, "r": "x"}, manager.token)
        == "NOT_FOUND"
    )


async def test_an_empty_reason_is_bad_user_input(gql: GraphQLClient, manager: Account) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=5)
    error = await gql.error(given.ADJUST, {"id": item["id"], "d": 1, "r": " "}, manager.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "reason"


# moveItem


async def test_moving_creates_the_target_item_with_the_same_name_and_returns_it(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    source_bin = await given.bin(gql, manager.token, capacity=50)
    target_bin = await given.bin(gql, manager.token, capacity=50)
    item = await given.item(gql, picker.token, bin_id=source_bin["id"], quantity=20, name="Gear")
    data = await gql.ok(
        given.MOVE, {"id": item["id"], "to": target_bin["id"], "q": 8}, picker.token
    )
    target = data["moveItem"]
    assert target["id"] != item["id"]
    assert (target["name"], target["sku"], target["quantity"]) == ("Gear", item["sku"], 8)
    assert target["bin"]["id"] == target_bin["id"]
    assert target["bin"]["currentLoad"] == 8
    source = (await gql.ok(GET_ITEM, {"id": item["id"]}, picker.token))["item"]
    assert source["quantity"] == 12
    assert source["bin"]["currentLoad"] == 12
    ledger = await movements_of(gql, manager.token, item["sku"])
    assert [(m["delta"], m["quantityAfter"], m["reason"], m["bin"]["id"]) for m in ledger] == [
        (20, 20, "create", source_bin["id"]),
        (-8, 12, "move", source_bin["id"]),
        (8, 8, "move", target_bin["id"]),
    ]
    await assert_invariants(resources.db, skus=[item["sku"]])


async def test_moving_into_an_existing_item_adds_to_it(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    source_bin = await given.bin(gql, manager.token)
    target_bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=source_bin["id"], quantity=10)
    existing = await given.item(
        gql, manager.token, bin_id=target_bin["id"], quantity=5, sku=item["sku"], name="Kept"
    )
    data = await gql.ok(
        given.MOVE, {"id": item["id"], "to": target_bin["id"], "q": 10}, manager.token
    )
    assert data["moveItem"]["id"] == existing["id"]
    assert data["moveItem"]["name"] == "Kept"
    assert data["moveItem"]["quantity"] == 15
    source = (await gql.ok(GET_ITEM, {"id": item["id"]}, manager.token))["item"]
    assert source["quantity"] == 0
    assert source["bin"]["currentLoad"] == 0
    await assert_invariants(resources.db, skus=[item["sku"]])


async def test_moving_more_than_the_item_holds_is_insufficient_stock_and_changes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    source_bin = await given.bin(gql, manager.token)
    target_bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=source_bin["id"], quantity=3)
    bins = [source_bin["id"], target_bin["id"]]
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=bins)
    error = await gql.error(
        given.MOVE, {"id": item["id"], "to": target_bin["id"], "q": 4}, manager.token
    )
    assert error["extensions"]["code"] == "INSUFFICIENT_STOCK"
    assert item["sku"] in error["message"]
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=bins) == before


async def test_moving_into_a_full_bin_is_capacity_exceeded_and_leaves_the_source_alone(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    source_bin = await given.bin(gql, manager.token, capacity=100)
    target_bin = await given.bin(gql, manager.token, capacity=5)
    item = await given.item(gql, manager.token, bin_id=source_bin["id"], quantity=30)
    bins = [source_bin["id"], target_bin["id"]]
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=bins)
    error = await gql.error(
        given.MOVE, {"id": item["id"], "to": target_bin["id"], "q": 6}, manager.token
    )
    assert error["extensions"]["code"] == "CAPACITY_EXCEEDED"
    assert target_bin["location"] in error["message"]
    after = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=bins)
    assert after == before
    assert [i["binId"] for i in after["items"]] == [ObjectId(source_bin["id"])]


async def test_moving_less_than_one_unit_is_bad_user_input(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    source_bin = await given.bin(gql, manager.token)
    target_bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=source_bin["id"], quantity=3)
    bins = [source_bin["id"], target_bin["id"]]
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=bins)
    for quantity in (0, -2):
        error = await gql.error(
            given.MOVE, {"id": item["id"], "to": target_bin["id"], "q": quantity}, manager.token
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "quantity"
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=bins) == before


async def test_moving_into_the_items_own_bin_is_bad_user_input(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=3)
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]])
    # Whether or not the item holds enough: the target is the input at fault.
    for quantity in (1, 4):
        error = await gql.error(
            given.MOVE, {"id": item["id"], "to": b["id"], "q": quantity}, manager.token
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "toBinId"
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]]) == before


async def test_moving_into_an_unknown_bin_is_not_found_and_changes_nothing(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=3)
    before = await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]])
    code = await gql.code(given.MOVE, {"id": item["id"], "to": MISSING, "q": 1}, manager.token)
    assert code == "NOT_FOUND"
    assert await given.raw_state(resources.db, skus=[item["sku"]], bin_ids=[b["id"]]) == before


# deleteItem


async def test_an_item_holding_stock_cannot_be_deleted_but_an_empty_one_can(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=2)
    error = await gql.error(DELETE_ITEM, {"id": item["id"]}, manager.token)
    assert error["extensions"]["code"] == "CONFLICT"
    assert item["sku"] in error["message"]
    assert (await gql.ok(GET_ITEM, {"id": item["id"]}, manager.token))["item"]["quantity"] == 2

    await gql.ok(given.ADJUST, {"id": item["id"], "d": -2, "r": "count"}, manager.token)
    assert (await gql.ok(DELETE_ITEM, {"id": item["id"]}, manager.token))["deleteItem"] == item[
        "id"
    ]
    assert (await gql.ok(GET_ITEM, {"id": item["id"]}, manager.token))["item"] is None
    assert (await fetch_bin(gql, manager.token, b["id"]))["items"] == []
    assert await gql.code(DELETE_ITEM, {"id": item["id"]}, manager.token) == "NOT_FOUND"
    await assert_invariants(resources.db, bin_ids=[b["id"]])


# Reads


async def test_stock_level_sums_a_sku_over_its_bins_and_is_zero_for_an_unknown_sku(
    gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    sku = unique("SKU")
    for quantity in (4, 0, 11):
        b = await given.bin(gql, manager.token)
        await given.item(gql, manager.token, bin_id=b["id"], quantity=quantity, sku=sku)
    query = "query($s: String!) { stockLevel(sku: $s) }"
    assert (await gql.ok(query, {"s": sku}, customer.token))["stockLevel"] == 15
    assert (await gql.ok(query, {"s": unique("NONE")}, customer.token))["stockLevel"] == 0


async def test_items_filter_by_sku_bin_and_maximum_quantity(
    gql: GraphQLClient, manager: Account
) -> None:
    sku = unique("SKU")
    first = await given.bin(gql, manager.token)
    second = await given.bin(gql, manager.token)
    a = await given.item(gql, manager.token, bin_id=first["id"], quantity=3, sku=sku)
    b = await given.item(gql, manager.token, bin_id=second["id"], quantity=9, sku=sku)
    c = await given.item(gql, manager.token, bin_id=first["id"], quantity=1)
    query = (
        "query($s: String, $b: ID, $m: Int) { items(sku: $s, binId: $b, maxQuantity: $m) "
        "{ totalCount edges { node { id } } } }"
    )

    async def ids(**filters: Any) -> tuple[int, list[str]]:
        found = (await gql.ok(query, filters, manager.token))["items"]
        return found["totalCount"], [e["node"]["id"] for e in found["edges"]]

    assert await ids(s=sku) == (2, [a["id"], b["id"]])
    assert await ids(b=first["id"]) == (2, [a["id"], c["id"]])
    assert await ids(s=sku, b=second["id"]) == (1, [b["id"]])
    assert await ids(s=sku, m=3) == (1, [a["id"]])
    assert await ids(b=first["id"], m=2) == (1, [c["id"]])
    assert await ids(s=sku, m=2) == (0, [])
    assert await ids(b="not-an-id") == (0, [])


async def test_movements_list_a_skus_ledger_oldest_first(
    gql: GraphQLClient, manager: Account
) -> None:
    b = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=1)
    for delta in (1, 2, -3):
        await gql.ok(given.ADJUST, {"id": item["id"], "d": delta, "r": f"r{delta}"}, manager.token)
    ledger = await movements_of(gql, manager.token, item["sku"])
    assert [(m["delta"], m["quantityAfter"], m["reason"]) for m in ledger] == [
        (1, 1, "create"),
        (1, 2, "r1"),
        (2, 4, "r2"),
        (-3, 1, "r-3"),
    ]
    assert {m["sku"] for m in ledger} == {item["sku"]}


# Concurrency


def outcome(body: dict[str, Any]) -> str:
    if body.get("errors"):
        code: str = body["errors"][0]["extensions"]["code"]
        return code
    return "ok"


async def test_forty_concurrent_takes_of_one_unit_from_thirty_take_exactly_thirty(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=30)
    item = await given.item(gql, picker.token, bin_id=b["id"], quantity=30)
    retried = resources.db.stats.retried
    bodies = await asyncio.gather(
        *(
            gql.post(given.ADJUST, {"id": item["id"], "d": -1, "r": "pick"}, picker.token)
            for _ in range(40)
        )
    )
    outcomes = [outcome(body) for body in bodies]
    print(
        f"\n40 concurrent adjust(-1) over 30 units: {outcomes.count('ok')} succeeded, "
        f"{outcomes.count('INSUFFICIENT_STOCK')} INSUFFICIENT_STOCK, "
        f"{resources.db.stats.retried - retried} transaction retries"
    )
    assert outcomes.count("ok") == 30
    assert outcomes.count("INSUFFICIENT_STOCK") == 10
    # Every success saw a distinct quantity on its way down to zero.
    after = sorted(
        body["data"]["adjustItemQuantity"]["quantity"] for body in bodies if body.get("data")
    )
    assert after == list(range(30))
    raw = await resources.db.items.find_one({"_id": ObjectId(item["id"])})
    assert raw is not None
    assert raw["quantity"] == 0
    raw_bin = await resources.db.bins.find_one({"_id": ObjectId(b["id"])})
    assert raw_bin is not None
    assert raw_bin["currentLoad"] == 0
    assert await resources.db.movements.count_documents({"itemId": ObjectId(item["id"])}) == 31
    await assert_invariants(resources.db, skus=[item["sku"]])


async def test_concurrent_adjustments_of_one_bins_items_queue_in_the_process_instead_of_conflicting(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=1000)
    items = [await given.item(gql, picker.token, bin_id=b["id"], quantity=10) for _ in range(5)]
    retried = resources.db.stats.retried
    bodies = await asyncio.gather(
        *(
            gql.post(given.ADJUST, {"id": items[n % 5]["id"], "d": 1, "r": "count"}, picker.token)
            for n in range(30)
        )
    )
    assert [outcome(body) for body in bodies] == ["ok"] * 30
    # Every adjustment also writes the bin's load: one process runs them one at a time.
    assert resources.db.stats.retried == retried
    raw_bin = await resources.db.bins.find_one({"_id": ObjectId(b["id"])})
    assert raw_bin is not None
    assert raw_bin["currentLoad"] == 50 + 30
    await assert_invariants(resources.db, skus=[i["sku"] for i in items])


async def test_concurrent_receipts_into_one_bin_stop_exactly_at_its_capacity(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    # Two skus share a 50-unit bin; 40 concurrent receipts of 3 units would need 120.
    b = await given.bin(gql, manager.token, capacity=50)
    first = await given.item(gql, picker.token, bin_id=b["id"], quantity=0)
    second = await given.item(gql, picker.token, bin_id=b["id"], quantity=0)
    retried = resources.db.stats.retried
    bodies = await asyncio.gather(
        *(
            gql.post(given.ADJUST, {"id": target["id"], "d": 3, "r": "receive"}, picker.token)
            for _ in range(20)
            for target in (first, second)
        )
    )
    outcomes = [outcome(body) for body in bodies]
    print(
        f"\n40 concurrent adjust(+3) into a 50-unit bin: {outcomes.count('ok')} succeeded, "
        f"{outcomes.count('CAPACITY_EXCEEDED')} CAPACITY_EXCEEDED, "
        f"{resources.db.stats.retried - retried} transaction retries"
    )
    assert outcomes.count("ok") == 16
    assert outcomes.count("CAPACITY_EXCEEDED") == 24
    loads = [
        body["data"]["adjustItemQuantity"]["bin"]["currentLoad"]
        for body in bodies
        if body.get("data")
    ]
    assert max(loads) <= 50
    raw_bin = await resources.db.bins.find_one({"_id": ObjectId(b["id"])})
    assert raw_bin is not None
    assert (raw_bin["currentLoad"], raw_bin["freeCapacity"]) == (48, 2)
    await assert_invariants(resources.db, bin_ids=[b["id"]])


# One transaction for the adjustments waiting for one bin (Database.transaction_grouped)


async def _one_bin(
    gql: GraphQLClient,
    resources: Resources,
    manager: Account,
    picker: Account,
    *,
    items: int,
    quantity: int,
) -> tuple[User, str, list[dict[str, Any]]]:
    """The picker, as the services see them, and a bin holding `items` items of `quantity`."""
    user = await users.get_user(resources.db, ObjectId(picker.id))
    assert user is not None
    b = await given.bin(gql, manager.token, capacity=1000)
    stock = [
        await given.item(gql, picker.token, bin_id=b["id"], quantity=quantity) for _ in range(items)
    ]
    return user, b["id"], stock


async def _adjust_together(
    resources: Resources, user: User, adjustments: list[tuple[str, int]]
) -> list[Item | BaseException]:
    """The adjustments started in one go, as concurrent requests arrive: each item's bin is
    known already (a first adjustment of each read it), so all of them are waiting for the bin
    before its first transaction starts."""
    for item_id in {item_id for item_id, _ in adjustments}:
        assert await items.bin_of(resources.db, ObjectId(item_id)) is not None
    return await asyncio.gather(
        *(
            inventory.adjust_item_quantity(
                resources.db,
                resources.events,
                item_id=item_id,
                delta=delta,
                reason="count",
                user=user,
            )
            for item_id, delta in adjustments
        ),
        return_exceptions=True,
    )


async def _changes_of(resources: Resources, doc_id: str, since: int) -> list[dict[str, Any]]:
    found = await resources.db.changes.find({"docId": doc_id, "revision": {"$gt": since}}).to_list()
    return sorted(found, key=lambda c: c["revision"])


async def test_adjustments_waiting_for_one_bin_commit_in_one_transaction_each_with_its_own_change(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    user, bin_id, stock = await _one_bin(gql, resources, manager, picker, items=8, quantity=10)
    started = resources.db.stats.started
    results = await _adjust_together(
        resources, user, [(i["id"], n + 1) for n, i in enumerate(stock)]
    )
    # Each write has its own answer: its item after its own delta.
    assert [(r.id, r.quantity) for r in results if isinstance(r, Item)] == [
        (i["id"], 10 + n + 1) for n, i in enumerate(stock)
    ]
    assert resources.db.stats.started == started + 1
    for n, i in enumerate(stock):
        # Its own change record (revision 1 created, 2 this), quantity and ledger line.
        [change] = await _changes_of(resources, i["id"], 1)
        assert (change["revision"], change["data"]["quantity"]) == (2, 10 + n + 1)
        assert change["data"]["previousQuantity"] == 10
        lines = await movements_of(gql, picker.token, i["sku"])
        assert [(m["delta"], m["quantityAfter"]) for m in lines if m["reason"] == "count"] == [
            (n + 1, 10 + n + 1)
        ]
    raw_bin = await resources.db.bins.find_one({"_id": ObjectId(bin_id)})
    assert raw_bin is not None
    assert raw_bin["currentLoad"] == 80 + sum(range(1, 9))
    await assert_invariants(resources.db, bin_ids=[bin_id])


async def test_one_short_adjustment_in_a_group_gets_its_own_error_and_the_others_commit(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    user, bin_id, stock = await _one_bin(gql, resources, manager, picker, items=6, quantity=5)
    results = await _adjust_together(
        resources, user, [(i["id"], -7 if n == 3 else -1) for n, i in enumerate(stock)]
    )
    short = results[3]
    assert isinstance(short, InsufficientStock)
    assert short.details() == InsufficientStock({stock[3]["sku"]: 2}).details()
    assert [r.quantity for r in results if isinstance(r, Item)] == [4] * 5
    quantities = {
        str(doc["_id"]): doc["quantity"]
        for doc in await resources.db.items.find(
            {"_id": {"$in": [ObjectId(i["id"]) for i in stock]}}
        ).to_list()
    }
    assert quantities == {i["id"]: 5 if n == 3 else 4 for n, i in enumerate(stock)}
    assert await _changes_of(resources, stock[3]["id"], 1) == []
    await assert_invariants(resources.db, bin_ids=[bin_id])


async def test_two_adjustments_of_one_item_waiting_together_are_two_changes(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    user, _, (first, other) = await _one_bin(gql, resources, manager, picker, items=2, quantity=5)
    started = resources.db.stats.started
    results = await _adjust_together(
        resources, user, [(first["id"], 1), (other["id"], 1), (first["id"], 1)]
    )
    assert [(r.id, r.quantity) for r in results if isinstance(r, Item)] == [
        (first["id"], 6),
        (other["id"], 6),
        (first["id"], 7),
    ]
    # The item twice would be one change (a transaction records a document's last state):
    # its second adjustment waits for the next transaction.
    assert resources.db.stats.started == started + 2
    assert [
        (c["revision"], c["data"]["quantity"]) for c in await _changes_of(resources, first["id"], 1)
    ] == [(2, 6), (3, 7)]


async def test_a_write_whose_caller_stops_waiting_before_its_group_commits_changes_nothing(
    gql: GraphQLClient, picker: Account, manager: Account, resources: Resources
) -> None:
    # A request past REQUEST_TIMEOUT_S, or whose client went away, is cancelled and answered
    # "retry": its write must not commit with the others of its group.
    user, bin_id, (first, gone, kept) = await _one_bin(
        gql, resources, manager, picker, items=3, quantity=5
    )
    for i in (first, gone, kept):
        assert await items.bin_of(resources.db, ObjectId(i["id"])) is not None
    held = 0
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold_two_groups(step: str) -> None:
        nonlocal held
        if step == "adjust.items" and held < 2:
            held += 1
            holding.set()
            await release.wait()

    def adjust(item: dict[str, Any]) -> asyncio.Task[Item]:
        return asyncio.create_task(
            inventory.adjust_item_quantity(
                resources.db, resources.events, item_id=item["id"], delta=1, reason="r", user=user
            )
        )

    resources.db.fault_injector = hold_two_groups
    try:
        alone = adjust(first)
        await holding.wait()
        holding.clear()
        waiting = [adjust(gone), adjust(kept)]
        await asyncio.sleep(0)  # both reach the bin's queue (no I/O before it)
        assert len(resources.db._groups[("bin", bin_id)]) == 2
        release.set()
        assert (await alone).quantity == 6
        release.clear()
        await holding.wait()  # the group of the other two is inside its transaction
        waiting[0].cancel()
        release.set()
        assert (await waiting[1]).quantity == 6
        with pytest.raises(asyncio.CancelledError):
            await waiting[0]
    finally:
        resources.db.fault_injector = None
    quantities = {
        str(doc["_id"]): doc["quantity"]
        for doc in await resources.db.items.find(
            {"_id": {"$in": [ObjectId(i["id"]) for i in (first, gone, kept)]}}
        ).to_list()
    }
    assert quantities == {first["id"]: 6, gone["id"]: 5, kept["id"]: 6}
    assert await _changes_of(resources, gone["id"], 1) == []
    await assert_invariants(resources.db, bin_ids=[bin_id])
