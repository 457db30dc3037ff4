"""The SPEC invariants, recomputed from the raw collections.

Restricted to the skus, bins and orders a test names, so tests running against the shared
database never see each other's records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bson import ObjectId

from warehouse_gql.store.database import Database

PICKED = ("FULFILLED", "SHIPPED")


async def assert_invariants(
    db: Database,
    skus: Iterable[str] | None = None,
    bin_ids: Iterable[str] | None = None,
    order_ids: Iterable[str] | None = None,
) -> None:
    """No negative quantity; every bin's load is the sum of its items and within capacity,
    freeCapacity = capacity - currentLoad; every item's quantity is the sum of its movements;
    a picked order's picks cover its lines exactly and match its ledger lines, an unpicked
    order took nothing."""
    sku_list = sorted(set(skus or ()))
    bin_oids = {ObjectId(b) for b in bin_ids or ()}
    items: list[dict[str, Any]] = []
    if sku_list:
        items += await db.items.find({"sku": {"$in": sku_list}}).to_list()
    bin_oids |= {item["binId"] for item in items}
    bins = await db.bins.find({"_id": {"$in": sorted(bin_oids)}}).to_list()
    # A bin's load counts every item in it, whatever its sku.
    in_bins = await db.items.find({"binId": {"$in": sorted(bin_oids)}}).to_list()
    by_id = {item["_id"]: item for item in items + in_bins}

    for item in by_id.values():
        assert item["quantity"] >= 0, f"negative quantity: {item}"
    loads: dict[ObjectId, int] = defaultdict(int)
    for item in in_bins:
        loads[item["binId"]] += item["quantity"]
    for b in bins:
        where = f"bin {b['location']}"
        assert b["currentLoad"] == loads[b["_id"]], (
            f"{where}: currentLoad {b['currentLoad']} != sum of items {loads[b['_id']]}"
        )
        assert 0 <= b["currentLoad"] <= b["capacity"], f"{where}: load beyond capacity: {b}"
        assert b["freeCapacity"] == b["capacity"] - b["currentLoad"], f"{where}: {b}"

    ledger: dict[ObjectId, int] = defaultdict(int)
    async for movement in db.movements.find({"itemId": {"$in": list(by_id)}}):
        ledger[movement["itemId"]] += movement["delta"]
    for oid, item in by_id.items():
        assert item["quantity"] == ledger[oid], (
            f"item {item['sku']} in {item['binId']}: quantity {item['quantity']} "
            f"!= sum of movements {ledger[oid]}"
        )

    for order_id in order_ids or ():
        await _assert_order_consistent(db, ObjectId(order_id))


async def _assert_order_consistent(db: Database, oid: ObjectId) -> None:
    order = await db.orders.find_one({"_id": oid})
    if order is None:
        return
    picked: dict[str, int] = defaultdict(int)
    for pick in order.get("picks", []):
        assert pick["quantity"] >= 1, order
        picked[pick["sku"]] += pick["quantity"]
    taken: dict[str, int] = defaultdict(int)
    async for movement in db.movements.find({"orderId": oid}):
        assert movement["reason"] == "fulfil", movement
        taken[movement["sku"]] -= movement["delta"]
    if order["status"] in PICKED:
        wanted = {line["sku"]: line["quantity"] for line in order["lines"]}
        assert dict(picked) == wanted, f"order {oid}: picks {dict(picked)} != lines {wanted}"
        assert dict(taken) == wanted, f"order {oid}: ledger {dict(taken)} != lines {wanted}"
    else:
        assert not picked, f"{order['status']} order {oid} picked stock"
        assert not taken, f"{order['status']} order {oid} took stock"
