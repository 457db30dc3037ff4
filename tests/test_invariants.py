"""The invariant checker the suite and the benchmark share (store/invariants.py) reports each
kind of inconsistency, and nothing for a consistent warehouse."""

from __future__ import annotations

from typing import Any

from warehouse_gql.store.invariants import broken

BIN = {"_id": "b1", "location": "A-01-1", "capacity": 10, "currentLoad": 7, "freeCapacity": 3}
ITEM = {"_id": "i1", "sku": "BOLT", "binId": "b1", "quantity": 7}
OPENED = {"_id": "m1", "itemId": "i1", "sku": "BOLT", "delta": 9, "reason": "create"}
PICKED = {
    "_id": "m2",
    "itemId": "i1",
    "sku": "BOLT",
    "delta": -2,
    "reason": "fulfil",
    "orderId": "o1",
}
ORDER = {
    "_id": "o1",
    "status": "FULFILLED",
    "lines": [{"sku": "BOLT", "quantity": 2}],
    "picks": [{"sku": "BOLT", "quantity": 2}],
}


def check(**changed: Any) -> list[str]:
    documents: dict[str, Any] = {
        "items": [ITEM],
        "bins": [BIN],
        "movements": [OPENED, PICKED],
        "orders": [ORDER],
    }
    return broken(**documents | changed)


def test_a_consistent_warehouse_has_no_problems() -> None:
    assert check() == []


def test_a_load_that_is_not_the_sum_of_its_items_is_reported() -> None:
    assert check(bins=[BIN | {"currentLoad": 8, "freeCapacity": 2}]) == [
        "bin A-01-1: currentLoad 8 != sum of items 7"
    ]


def test_a_load_beyond_capacity_and_a_wrong_free_capacity_are_reported() -> None:
    assert check(bins=[BIN | {"capacity": 5}]) == [
        "bin A-01-1: load 7 beyond capacity 5",
        "bin A-01-1: freeCapacity 3 != capacity 5 - currentLoad 7",
    ]


def test_a_quantity_that_is_not_its_ledger_is_reported_and_a_negative_one_too() -> None:
    item = ITEM | {"quantity": -1}
    assert check(items=[item], bins=[BIN | {"currentLoad": -1, "freeCapacity": 11}]) == [
        "item BOLT in b1: quantity -1",
        "bin A-01-1: load -1 beyond capacity 10",
        "item BOLT in b1: quantity -1 != sum of movements 7",
    ]


def test_an_order_whose_picks_or_ledger_miss_its_lines_is_reported() -> None:
    assert check(orders=[ORDER | {"lines": [{"sku": "BOLT", "quantity": 3}]}]) == [
        "order o1: picks {'BOLT': 2} != lines {'BOLT': 3}",
        "order o1: ledger {'BOLT': 2} != lines {'BOLT': 3}",
    ]


def test_a_pending_order_that_took_stock_is_reported() -> None:
    assert check(orders=[ORDER | {"status": "PENDING", "picks": []}]) == [
        "PENDING order o1 took stock"
    ]
