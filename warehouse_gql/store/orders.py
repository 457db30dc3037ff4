"""Orders and shipments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from warehouse_gql.domain import clock
from warehouse_gql.domain.changes import ChangeKind
from warehouse_gql.domain.errors import Conflict, Duplicate, NotFound
from warehouse_gql.domain.models import Order, OrderLine, PickRecord, Shipment
from warehouse_gql.domain.orders import OrderStatus, ShipmentStatus
from warehouse_gql.store import changes
from warehouse_gql.store.database import Database, Document, Session, page


def to_order(doc: Document) -> Order:
    return Order(
        id=str(doc["_id"]),
        customer_name=doc["customerName"],
        lines=tuple(OrderLine(sku=line["sku"], quantity=line["quantity"]) for line in doc["lines"]),
        status=OrderStatus(doc["status"]),
        created_by=str(doc["createdBy"]),
        picks=tuple(
            PickRecord(
                sku=p["sku"],
                quantity=p["quantity"],
                bin_id=str(p["binId"]),
                bin_location=p["binLocation"],
            )
            for p in doc.get("picks", ())
        ),
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
        revision=doc.get("revision", 0),
    )


async def insert_order(
    db: Database,
    session: Session,
    *,
    customer_name: str,
    lines: Sequence[tuple[str, int]],
    created_by: str,
    idempotency_key: str | None,
) -> tuple[Order, bool]:
    """Insert an order; with an idempotency key, a repeat returns the user's first order.
    The flag says whether this call created it."""
    now = clock.now()
    doc: Document = {
        "customerName": customer_name,
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "status": OrderStatus.PENDING.value,
        "createdBy": ObjectId(created_by),
        "picks": [],
        "revision": 1,
        "createdAt": now,
        "updatedAt": now,
    }
    if idempotency_key is not None:
        # The unique index on idempotencyId makes concurrent repeats collide on insert.
        doc["idempotencyId"] = f"{created_by}:{idempotency_key}"
    try:
        await db.orders.insert_one(doc, session=session)
    except DuplicateKeyError:
        raise DuplicateIdempotencyKey(doc["idempotencyId"]) from None
    order = to_order(doc)
    changes.note_order(db, session, ChangeKind.CREATED, order)
    return order, True


class DuplicateIdempotencyKey(Exception):
    """The user already placed an order with this key (the transaction is aborted)."""

    def __init__(self, idempotency_id: str) -> None:
        super().__init__(idempotency_id)
        self.idempotency_id = idempotency_id


async def first_order_of_key(db: Database, idempotency_id: str, idempotency_key: str) -> Order:
    """The order a repeated idempotency key names, after its insert collided."""
    first = await db.orders.find_one({"idempotencyId": idempotency_id})
    if first is None:  # the first one was deleted in between
        raise Conflict(
            f"idempotencyKey {idempotency_key!r} was used for an order that has since been deleted."
        )
    return to_order(first)


async def get_order(
    db: Database, order_id: ObjectId, session: Session | None = None
) -> Order | None:
    doc = await db.orders.find_one({"_id": order_id}, session=session)
    return None if doc is None else to_order(doc)


async def require_order(db: Database, order_id: ObjectId, session: Session | None = None) -> Order:
    found = await get_order(db, order_id, session)
    if found is None:
        raise NotFound("order", str(order_id))
    return found


async def orders_by_ids(db: Database, ids: list[ObjectId]) -> dict[str, Order]:
    docs = await db.orders.find({"_id": {"$in": ids}}).to_list()
    return {str(d["_id"]): to_order(d) for d in docs}


def _order_query(status: OrderStatus | None, owner: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status.value
    if owner is not None:
        query["createdBy"] = ObjectId(owner)
    return query


async def page_orders(
    db: Database,
    *,
    first: int,
    after: ObjectId | None,
    status: OrderStatus | None,
    owner: str | None,
    newest_first: bool = False,
) -> tuple[list[Order], bool]:
    docs, more = await page(
        db.orders,
        _order_query(status, owner),
        first=first,
        after=after,
        newest_first=newest_first,
    )
    return [to_order(d) for d in docs], more


async def count_orders(db: Database, *, status: OrderStatus | None, owner: str | None) -> int:
    return await db.orders.count_documents(_order_query(status, owner))


async def set_order_status(
    db: Database,
    session: Session,
    order_id: ObjectId,
    *,
    expected: Sequence[OrderStatus],
    status: OrderStatus,
    picks: Sequence[PickRecord] | None = None,
    read: Order | None = None,
) -> Order | None:
    """Move an order to `status` only if it is still in one of `expected`: the order as it
    now is, or None when it was not in one of them.

    `read` is the order as this transaction read it, if it did: the order after the update is
    then made from it without reading again (a write of it since the transaction's snapshot
    would have been a write conflict)."""
    now = clock.now()
    fields: Document = {"status": status.value, "updatedAt": now}
    if picks is not None:
        fields["picks"] = [
            {
                "sku": p.sku,
                "quantity": p.quantity,
                "binId": ObjectId(p.bin_id),
                "binLocation": p.bin_location,
            }
            for p in picks
        ]
    result = await db.orders.update_one(
        {"_id": order_id, "status": {"$in": [s.value for s in expected]}},
        {"$set": fields, "$inc": {"revision": 1}},
        session=session,
    )
    if result.matched_count != 1:
        return None
    if read is None:
        moved = await require_order(db, order_id, session)
    else:
        moved = replace(
            read,
            status=status,
            picks=read.picks if picks is None else tuple(picks),
            updated_at=now,
            revision=read.revision + 1,
        )
    changes.note_order(db, session, ChangeKind.UPDATED, moved)
    return moved


async def delete_order(db: Database, session: Session, order_id: ObjectId) -> None:
    current = await require_order(db, order_id, session)
    if await db.shipments.find_one({"orderId": order_id}, {"_id": 1}, session=session) is not None:
        raise Conflict("This order has shipments; delete them before deleting the order.")
    await db.orders.delete_one({"_id": order_id}, session=session)
    changes.note_order(db, session, ChangeKind.DELETED, current)


# Shipments


def to_shipment(doc: Document) -> Shipment:
    return Shipment(
        id=str(doc["_id"]),
        order_id=str(doc["orderId"]),
        order_owner=str(doc["orderOwner"]),
        carrier=doc["carrier"],
        tracking_number=doc["trackingNumber"],
        status=ShipmentStatus(doc["status"]),
        revision=doc.get("revision", 0),
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
    )


async def insert_shipment(
    db: Database, session: Session, *, order: Order, carrier: str, tracking_number: str
) -> Shipment:
    now = clock.now()
    doc: Document = {
        "orderId": ObjectId(order.id),
        "orderOwner": ObjectId(order.created_by),
        "carrier": carrier,
        "trackingNumber": tracking_number,
        "status": ShipmentStatus.IN_TRANSIT.value,
        "revision": 1,
        "createdAt": now,
        "updatedAt": now,
    }
    try:
        await db.shipments.insert_one(doc, session=session)
    except DuplicateKeyError:
        raise Duplicate(
            f"Carrier {carrier} already has a shipment with tracking number {tracking_number}."
        ) from None
    shipment = to_shipment(doc)
    changes.note_shipment(db, session, ChangeKind.CREATED, shipment)
    return shipment


async def get_shipment(
    db: Database, shipment_id: ObjectId, session: Session | None = None
) -> Shipment | None:
    doc = await db.shipments.find_one({"_id": shipment_id}, session=session)
    return None if doc is None else to_shipment(doc)


async def require_shipment(
    db: Database, shipment_id: ObjectId, session: Session | None = None
) -> Shipment:
    found = await get_shipment(db, shipment_id, session)
    if found is None:
        raise NotFound("shipment", str(shipment_id))
    return found


async def shipments_of_orders(db: Database, order_ids: list[ObjectId]) -> dict[str, list[Shipment]]:
    docs = await db.shipments.find({"orderId": {"$in": order_ids}}).sort("_id", ASCENDING).to_list()
    grouped: dict[str, list[Shipment]] = {}
    for doc in docs:
        grouped.setdefault(str(doc["orderId"]), []).append(to_shipment(doc))
    return grouped


def _shipment_query(
    order_id: ObjectId | None, status: ShipmentStatus | None, owner: str | None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if order_id is not None:
        query["orderId"] = order_id
    if status is not None:
        query["status"] = status.value
    if owner is not None:
        query["orderOwner"] = ObjectId(owner)
    return query


async def page_shipments(
    db: Database,
    *,
    first: int,
    after: ObjectId | None,
    order_id: ObjectId | None,
    status: ShipmentStatus | None,
    owner: str | None,
    newest_first: bool = False,
) -> tuple[list[Shipment], bool]:
    docs, more = await page(
        db.shipments,
        _shipment_query(order_id, status, owner),
        first=first,
        after=after,
        newest_first=newest_first,
    )
    return [to_shipment(d) for d in docs], more


async def count_shipments(
    db: Database, *, order_id: ObjectId | None, status: ShipmentStatus | None, owner: str | None
) -> int:
    return await db.shipments.count_documents(_shipment_query(order_id, status, owner))


async def set_shipment_status(
    db: Database,
    session: Session,
    shipment_id: ObjectId,
    *,
    expected: ShipmentStatus,
    status: ShipmentStatus,
) -> Shipment:
    result = await db.shipments.update_one(
        {"_id": shipment_id, "status": expected.value},
        {"$set": {"status": status.value, "updatedAt": clock.now()}, "$inc": {"revision": 1}},
        session=session,
    )
    if result.matched_count == 0:
        raise Conflict("The shipment changed while it was being updated; try again.")
    shipment = await require_shipment(db, shipment_id, session)
    changes.note_shipment(db, session, ChangeKind.UPDATED, shipment)
    return shipment


async def delete_shipment(db: Database, session: Session, shipment_id: ObjectId) -> Shipment:
    current = await require_shipment(db, shipment_id, session)
    await db.shipments.delete_one({"_id": shipment_id}, session=session)
    changes.note_shipment(db, session, ChangeKind.DELETED, current)
    return current
