"""The "given" step of tests: bins, items and orders made through the GraphQL API.

Every call uses a fresh location and sku (`unique`), so tests never touch each other's stock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId

from tests.graphql_client import GraphQLClient
from tests.names import unique
from warehouse_gql.store.database import Database

BIN = "id location capacity currentLoad freeCapacity"
ITEM = "id name sku quantity bin { id location currentLoad freeCapacity }"
ORDER = (
    "id customerName status items { sku quantity } "
    "picks { sku quantity bin { id location } } createdBy { id username }"
)
SHIPMENT = "id carrier trackingNumber status order { id status }"

CREATE_BIN = f"mutation($i: CreateBinInput!) {{ createBin(input: $i) {{ {BIN} }} }}"
CREATE_ITEM = f"mutation($i: CreateItemInput!) {{ createItem(input: $i) {{ {ITEM} }} }}"
ADJUST = (
    "mutation($id: ID!, $d: Int!, $r: String!) "
    f"{{ adjustItemQuantity(id: $id, delta: $d, reason: $r) {{ {ITEM} }} }}"
)
MOVE = (
    "mutation($id: ID!, $to: ID!, $q: Int!) "
    f"{{ moveItem(id: $id, toBinId: $to, quantity: $q) {{ {ITEM} }} }}"
)
CREATE_ORDER = f"mutation($i: CreateOrderInput!) {{ createOrder(input: $i) {{ {ORDER} }} }}"
FULFILL = f"mutation($id: ID!) {{ fulfillOrder(id: $id) {{ {ORDER} }} }}"
CANCEL = f"mutation($id: ID!) {{ cancelOrder(id: $id) {{ {ORDER} }} }}"
CREATE_SHIPMENT = (
    f"mutation($i: CreateShipmentInput!) {{ createShipment(input: $i) {{ {SHIPMENT} }} }}"
)


async def bin(gql: GraphQLClient, token: str, *, capacity: int = 100) -> dict[str, Any]:
    data = await gql.ok(CREATE_BIN, {"i": {"location": unique("B"), "capacity": capacity}}, token)
    created: dict[str, Any] = data["createBin"]
    return created


async def item(
    gql: GraphQLClient,
    token: str,
    *,
    bin_id: str,
    quantity: int,
    sku: str | None = None,
    name: str = "Widget",
) -> dict[str, Any]:
    fields = {"name": name, "sku": sku or unique("SKU"), "binId": bin_id, "quantity": quantity}
    data = await gql.ok(CREATE_ITEM, {"i": fields}, token)
    created: dict[str, Any] = data["createItem"]
    return created


async def stocked(
    gql: GraphQLClient, token: str, *, sku: str, quantity: int, capacity: int = 100
) -> dict[str, Any]:
    """An item of `sku` holding `quantity`, in a bin of its own."""
    bin_id = (await bin(gql, token, capacity=capacity))["id"]
    return await item(gql, token, bin_id=bin_id, quantity=quantity, sku=sku)


async def order(
    gql: GraphQLClient,
    token: str,
    lines: list[tuple[str, int]],
    *,
    customer_name: str = "Ada Lovelace",
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "customerName": customer_name,
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
    }
    if idempotency_key is not None:
        fields["idempotencyKey"] = idempotency_key
    data = await gql.ok(CREATE_ORDER, {"i": fields}, token)
    created: dict[str, Any] = data["createOrder"]
    return created


async def raw_state(
    db: Database,
    *,
    skus: Sequence[str] = (),
    bin_ids: Sequence[str] = (),
    order_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """What a failed mutation must leave exactly as it was: the items, bins, ledger and orders."""
    bins = [ObjectId(b) for b in bin_ids]
    query = {"$or": [{"sku": {"$in": list(skus)}}, {"binId": {"$in": bins}}]}
    return {
        "items": await db.items.find(query).sort("_id").to_list(),
        "bins": await db.bins.find({"_id": {"$in": bins}}).sort("_id").to_list(),
        "movements": await db.movements.find(query).sort("_id").to_list(),
        "orders": await db.orders.find({"_id": {"$in": [ObjectId(o) for o in order_ids]}})
        .sort("_id")
        .to_list(),
    }
