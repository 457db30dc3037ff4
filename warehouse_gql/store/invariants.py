"""The SPEC invariants, recomputed from the raw collections.

A consistent warehouse, in its documents: no item holds a negative quantity; every bin's
currentLoad is the sum of its items' quantities and within its capacity, and freeCapacity is
capacity - currentLoad; every item's quantity is the sum of its movements; a picked order's
picks and its fulfilment movements each cover its lines exactly, and an unpicked order took
nothing.

`broken` judges documents; `broken_in` reads the records a caller names (the test suite shares
one database, so each test checks only its own skus, bins and orders) and `broken_anywhere`
reads a whole database (the benchmark's, after its run). Neither writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from bson import ObjectId

from warehouse_gql.domain.inventory import MovementReason
from warehouse_gql.domain.orders import OrderStatus
from warehouse_gql.store.database import Database, Document

PICKED = frozenset({OrderStatus.FULFILLED.value, OrderStatus.SHIPPED.value})


def broken(
    *,
    items: Iterable[Mapping[str, Any]],
    bins: Iterable[Mapping[str, Any]],
    movements: Iterable[Mapping[str, Any]],
    orders: Iterable[Mapping[str, Any]] = (),
) -> list[str]:
    """What is wrong with these documents, one sentence each; empty when all hold.

    `items` must hold every item of `bins`, `movements` every movement of `items` and of
    `orders`: a load or a ledger is only a sum over all of its parts.
    """
    problems: list[str] = []
    items = list(items)
    loads: dict[Any, int] = defaultdict(int)
    for item in items:
        if item["quantity"] < 0:
            problems.append(f"item {item['sku']} in {item['binId']}: quantity {item['quantity']}")
        loads[item["binId"]] += item["quantity"]
    for b in bins:
        where = f"bin {b['location']}"
        if b["currentLoad"] != loads[b["_id"]]:
            problems.append(
                f"{where}: currentLoad {b['currentLoad']} != sum of items {loads[b['_id']]}"
            )
        if not 0 <= b["currentLoad"] <= b["capacity"]:
            problems.append(f"{where}: load {b['currentLoad']} beyond capacity {b['capacity']}")
        if b["freeCapacity"] != b["capacity"] - b["currentLoad"]:
            problems.append(
                f"{where}: freeCapacity {b['freeCapacity']} != capacity {b['capacity']}"
                f" - currentLoad {b['currentLoad']}"
            )

    ledger: dict[Any, int] = defaultdict(int)
    taken: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for movement in movements:
        ledger[movement["itemId"]] += movement["delta"]
        if movement.get("orderId") is not None:
            if movement["reason"] != MovementReason.FULFILL:
                problems.append(f"order {movement['orderId']}: a {movement['reason']} movement")
            taken[movement["orderId"]][movement["sku"]] -= movement["delta"]
    for item in items:
        if item["quantity"] != ledger[item["_id"]]:
            problems.append(
                f"item {item['sku']} in {item['binId']}: quantity {item['quantity']}"
                f" != sum of movements {ledger[item['_id']]}"
            )

    for order in orders:
        problems += _order_problems(order, dict(taken[order["_id"]]))
    return problems


def _order_problems(order: Mapping[str, Any], taken: dict[str, int]) -> list[str]:
    oid = order["_id"]
    problems: list[str] = []
    picked: dict[str, int] = defaultdict(int)
    for pick in order.get("picks", []):
        if pick["quantity"] < 1:
            problems.append(f"order {oid}: a pick of {pick['quantity']} {pick['sku']}")
        picked[pick["sku"]] += pick["quantity"]
    if order["status"] in PICKED:
        wanted = {line["sku"]: line["quantity"] for line in order["lines"]}
        if dict(picked) != wanted:
            problems.append(f"order {oid}: picks {dict(picked)} != lines {wanted}")
        if taken != wanted:
            problems.append(f"order {oid}: ledger {taken} != lines {wanted}")
    else:
        if picked:
            problems.append(f"{order['status']} order {oid} picked stock")
        if taken:
            problems.append(f"{order['status']} order {oid} took stock")
    return problems


async def broken_in(
    db: Database,
    *,
    skus: Iterable[str] = (),
    bin_ids: Iterable[str] = (),
    order_ids: Iterable[str] = (),
) -> list[str]:
    """The invariants of these skus' items, these bins (with every item in them, whatever its
    sku, and the bins of the skus' items) and these orders."""
    sku_list = sorted(set(skus))
    items: dict[ObjectId, Document] = {}
    if sku_list:
        items |= {i["_id"]: i for i in await db.items.find({"sku": {"$in": sku_list}}).to_list()}
    bin_oids = sorted({ObjectId(b) for b in bin_ids} | {i["binId"] for i in items.values()})
    bins = await db.bins.find({"_id": {"$in": bin_oids}}).to_list()
    items |= {i["_id"]: i for i in await db.items.find({"binId": {"$in": bin_oids}}).to_list()}
    order_oids = [ObjectId(o) for o in order_ids]
    orders = await db.orders.find({"_id": {"$in": order_oids}}).to_list() if order_oids else []
    movements: dict[ObjectId, Document] = {}
    for query in ({"itemId": {"$in": list(items)}}, {"orderId": {"$in": order_oids}}):
        movements |= {m["_id"]: m for m in await db.movements.find(query).to_list()}
    return broken(items=items.values(), bins=bins, movements=movements.values(), orders=orders)


async def broken_anywhere(db: Database) -> list[str]:
    """The invariants of every item, bin and order in the database."""
    fields = {"itemId": 1, "delta": 1, "orderId": 1, "sku": 1, "reason": 1}
    return broken(
        items=await db.items.find({}).to_list(),
        bins=await db.bins.find({}).to_list(),
        movements=await db.movements.find({}, fields).to_list(),
        orders=await db.orders.find({}).to_list(),
    )
