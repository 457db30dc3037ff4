"""Items (one sku in one bin) and the Movement ledger that explains every quantity."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from warehouse_gql.domain import clock
from warehouse_gql.domain.changes import ChangeKind
from warehouse_gql.domain.errors import Conflict, Duplicate, InsufficientStock, NotFound
from warehouse_gql.domain.inventory import MovementReason
from warehouse_gql.domain.models import Bin, Item, Movement
from warehouse_gql.store import changes
from warehouse_gql.store.bins import to_bin
from warehouse_gql.store.database import (
    ITEM_BINS_REMEMBERED,
    Database,
    Document,
    Session,
    increment_each,
    page,
)


def to_item(doc: Document) -> Item:
    return Item(
        id=str(doc["_id"]),
        name=doc["name"],
        sku=doc["sku"],
        bin_id=str(doc["binId"]),
        quantity=doc["quantity"],
        revision=doc.get("revision", 0),
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
    )


def _sku_in_bin_taken(sku: str, location: str) -> Duplicate:
    return Duplicate(
        f"Bin {location} already holds sku {sku}; use adjustItemQuantity to receive more."
    )


async def insert_item(
    db: Database, session: Session, *, name: str, sku: str, bin: Bin, quantity: int
) -> Item:
    now = clock.now()
    doc: Document = {
        "name": name,
        "sku": sku,
        "binId": ObjectId(bin.id),
        "quantity": quantity,
        "revision": 1,
        "createdAt": now,
        "updatedAt": now,
    }
    try:
        await db.items.insert_one(doc, session=session)
    except DuplicateKeyError:
        raise _sku_in_bin_taken(sku, bin.location) from None
    item = to_item(doc)
    changes.note_item(db, session, ChangeKind.CREATED, item, previous_quantity=None)
    return item


async def get_item(db: Database, item_id: ObjectId, session: Session | None = None) -> Item | None:
    doc = await db.items.find_one({"_id": item_id}, session=session)
    return None if doc is None else to_item(doc)


# The item's bin in the same command: a point lookup on the bins' _id per item.
_WITH_BIN: Document = {
    "$lookup": {"from": "bins", "localField": "binId", "foreignField": "_id", "as": "bin"}
}


async def get_item_with_bin(db: Database, item_id: ObjectId) -> tuple[Item, Bin | None] | None:
    """An item and its bin in one round trip: None for no such item; the bin None only for an
    item whose bin is gone, which a bin with items never allows."""
    pipeline: list[Document] = [{"$match": {"_id": item_id}}, {"$limit": 1}, _WITH_BIN]
    found = await (await db.items.aggregate(pipeline)).to_list()
    if not found:
        return None
    doc = found[0]
    bin_docs = doc.pop("bin")
    return to_item(doc), (to_bin(bin_docs[0]) if bin_docs else None)


async def bin_of(db: Database, item_id: ObjectId) -> str | None:
    """The bin an item lies in. It never changes (a move takes units into another item), so
    this process remembers it: a hot item's adjustments read it once, not once each."""
    known = db.item_bins.get(item_id)
    if known is not None:
        return known
    doc = await db.items.find_one({"_id": item_id}, {"binId": 1})
    if doc is None:
        return None
    if len(db.item_bins) >= ITEM_BINS_REMEMBERED:
        db.item_bins.clear()  # bounded; hot items come back at their next write
    found = db.item_bins[item_id] = str(doc["binId"])
    return found


async def require_item(db: Database, item_id: ObjectId, session: Session | None = None) -> Item:
    found = await get_item(db, item_id, session)
    if found is None:
        raise NotFound("item", str(item_id))
    return found


async def change_quantity(db: Database, session: Session, item_id: ObjectId, delta: int) -> Item:
    """Add `delta` (possibly negative) units; the quantity can never go below zero."""
    return (await change_quantities(db, session, [(item_id, delta)]))[0]


async def change_quantities(
    db: Database, session: Session, deltas: Sequence[tuple[ObjectId, int]]
) -> list[Item]:
    """Add each delta to its item (the items distinct), in one write and one read inside the
    transaction. A quantity can never go below zero: INSUFFICIENT_STOCK names the first item
    short, and the transaction's writes are undone."""
    found = await increment_each(
        db.items,
        session,
        [(item_id, {"quantity": delta, "revision": 1}) for item_id, delta in deltas],
        {"updatedAt": clock.now()},
    )
    adjusted: list[Item] = []
    for doc, (item_id, _) in zip(found, deltas, strict=True):
        if doc is None:
            raise NotFound("item", str(item_id))
        item = to_item(doc)
        if item.quantity < 0:
            raise InsufficientStock({item.sku: -item.quantity})
        adjusted.append(item)
    for item, (_, delta) in zip(adjusted, deltas, strict=True):
        changes.note_item(
            db, session, ChangeKind.UPDATED, item, previous_quantity=item.quantity - delta
        )
    return adjusted


async def add_to_bin(
    db: Database, session: Session, *, sku: str, name: str, bin: Bin, delta: int
) -> Item:
    """Put `delta` units of a sku into a bin, creating its item there when it has none."""
    now = clock.now()
    result = await db.items.update_one(
        {"sku": sku, "binId": ObjectId(bin.id)},
        {
            "$inc": {"quantity": delta, "revision": 1},
            "$set": {"updatedAt": now},
            "$setOnInsert": {"name": name, "createdAt": now},
        },
        upsert=True,
        session=session,
    )
    doc = await db.items.find_one({"sku": sku, "binId": ObjectId(bin.id)}, session=session)
    assert doc is not None  # written just above in this transaction
    item = to_item(doc)
    if result.upserted_id is not None:
        changes.note_item(db, session, ChangeKind.CREATED, item, previous_quantity=None)
    else:
        changes.note_item(
            db, session, ChangeKind.UPDATED, item, previous_quantity=item.quantity - delta
        )
    return item


async def rename(db: Database, session: Session, item_id: ObjectId, name: str) -> Item:
    result = await db.items.update_one(
        {"_id": item_id},
        {"$set": {"name": name, "updatedAt": clock.now()}, "$inc": {"revision": 1}},
        session=session,
    )
    if result.matched_count == 0:
        raise NotFound("item", str(item_id))
    item = await require_item(db, item_id, session)
    changes.note_item(db, session, ChangeKind.UPDATED, item, previous_quantity=item.quantity)
    return item


async def delete_empty(db: Database, session: Session, item_id: ObjectId) -> Item:
    current = await require_item(db, item_id, session)
    result = await db.items.delete_one({"_id": item_id, "quantity": 0}, session=session)
    if result.deleted_count == 0:
        raise Conflict(
            f"Item {current.sku} still holds {current.quantity} units; adjust it to 0 before deleting."
        )
    changes.note_item(db, session, ChangeKind.DELETED, current, previous_quantity=current.quantity)
    return current


async def items_in_bins(db: Database, bin_ids: Sequence[ObjectId]) -> list[Item]:
    docs = await db.items.find({"binId": {"$in": list(bin_ids)}}).sort("_id", ASCENDING).to_list()
    return [to_item(d) for d in docs]


async def stock_of_skus(
    db: Database, skus: Sequence[str], session: Session | None = None
) -> list[Item]:
    docs = await db.items.find({"sku": {"$in": list(skus)}}, session=session).to_list()
    return [to_item(d) for d in docs]


async def known_skus(db: Database, skus: Sequence[str]) -> set[str]:
    return set(await db.items.distinct("sku", {"sku": {"$in": list(skus)}}))


async def stock_level(db: Database, sku: str) -> int:
    docs = await db.items.find({"sku": sku}, {"quantity": 1, "_id": 0}).to_list()
    return sum(d["quantity"] for d in docs)


def _item_query(
    sku: str | None,
    bin_id: ObjectId | None,
    max_quantity: int | None,
    sku_prefix: str | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if sku is not None:
        query["sku"] = sku
    elif sku_prefix:
        # Anchored and case-sensitive, as skus are: a range scan of the (sku, binId) index.
        query["sku"] = {"$regex": "^" + re.escape(sku_prefix)}
    if bin_id is not None:
        query["binId"] = bin_id
    if max_quantity is not None:
        query["quantity"] = {"$lte": max_quantity}
    return query


async def page_items(
    db: Database,
    *,
    first: int,
    after: ObjectId | None,
    sku: str | None,
    bin_id: ObjectId | None,
    max_quantity: int | None,
    sku_prefix: str | None = None,
    newest_first: bool = False,
) -> tuple[list[Item], bool]:
    docs, more = await page(
        db.items,
        _item_query(sku, bin_id, max_quantity, sku_prefix),
        first=first,
        after=after,
        newest_first=newest_first,
    )
    return [to_item(d) for d in docs], more


async def count_items(
    db: Database,
    *,
    sku: str | None,
    bin_id: ObjectId | None,
    max_quantity: int | None,
    sku_prefix: str | None = None,
) -> int:
    return await db.items.count_documents(_item_query(sku, bin_id, max_quantity, sku_prefix))


# The ledger


def to_movement(doc: Document) -> Movement:
    return Movement(
        id=str(doc["_id"]),
        item_id=str(doc["itemId"]),
        sku=doc["sku"],
        bin_id=str(doc["binId"]),
        bin_location=doc["binLocation"],
        delta=doc["delta"],
        quantity_after=doc["quantityAfter"],
        reason=doc["reason"],
        user_id=None if doc.get("userId") is None else str(doc["userId"]),
        order_id=None if doc.get("orderId") is None else str(doc["orderId"]),
        created_at=doc["createdAt"],
    )


async def record_movements(db: Database, session: Session, movements: list[Document]) -> None:
    """Write the ledger lines (made by `movement`) of the quantity changes of the running
    transaction, in one insert, so they commit with the changes or not at all."""
    await db.movements.insert_many(movements, ordered=True, session=session)


def movement(
    *,
    item: Item,
    bin: Bin,
    delta: int,
    reason: str,
    user_id: str | None,
    order_id: str | None = None,
) -> Document:
    """The ledger line of a quantity change, for record_movements."""
    doc: Document = {
        "itemId": ObjectId(item.id),
        "sku": item.sku,
        "binId": ObjectId(bin.id),
        "binLocation": bin.location,
        "delta": delta,
        "quantityAfter": item.quantity,
        "reason": str(reason),  # an enum member is stored as its plain value
        "userId": None if user_id is None else ObjectId(user_id),
        "createdAt": clock.now(),
    }
    if order_id is not None:
        doc["orderId"] = ObjectId(order_id)
    return doc


def _movement_query(
    sku: str | None, item_id: ObjectId | None, bin_id: ObjectId | None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if sku is not None:
        query["sku"] = sku
    if item_id is not None:
        query["itemId"] = item_id
    if bin_id is not None:
        query["binId"] = bin_id
    return query


async def page_movements(
    db: Database,
    *,
    first: int,
    after: ObjectId | None,
    sku: str | None,
    item_id: ObjectId | None = None,
    bin_id: ObjectId | None = None,
    newest_first: bool = False,
) -> tuple[list[Movement], bool]:
    docs, more = await page(
        db.movements,
        _movement_query(sku, item_id, bin_id),
        first=first,
        after=after,
        newest_first=newest_first,
    )
    return [to_movement(d) for d in docs], more


async def count_movements(
    db: Database,
    *,
    sku: str | None,
    item_id: ObjectId | None = None,
    bin_id: ObjectId | None = None,
) -> int:
    return await db.movements.count_documents(_movement_query(sku, item_id, bin_id))


async def low_stock(db: Database, *, threshold: int, sku: str | None) -> list[Item]:
    """Every item with quantity ≤ threshold: the snapshot a lowStock live query starts from."""
    query: dict[str, Any] = {"quantity": {"$lte": threshold}}
    if sku is not None:
        query["sku"] = sku
    docs = await db.items.find(query).sort("_id", ASCENDING).to_list()
    return [to_item(d) for d in docs]


async def items_in_bin(
    db: Database, bin_id: ObjectId, session: Session | None = None
) -> list[Item]:
    docs = await db.items.find({"binId": bin_id}, session=session).sort("_id", ASCENDING).to_list()
    return [to_item(d) for d in docs]


async def names_of_skus(
    db: Database, skus: Sequence[str], session: Session | None = None
) -> dict[str, str]:
    """A name each sku already goes by, for stock of it found where it was not recorded."""
    docs = await db.items.find(
        {"sku": {"$in": list(skus)}}, {"sku": 1, "name": 1}, session=session
    ).to_list()
    return {d["sku"]: d["name"] for d in docs}


async def pick_velocity(db: Database, *, since: datetime) -> list[tuple[str, int, int]]:
    """(sku, pick lines, units) of fulfilment picks since a time, most-picked first: grouped by
    the database over the (reason, createdAt) index, never by reading every movement here."""
    pipeline: list[Document] = [
        {"$match": {"reason": MovementReason.FULFILL.value, "createdAt": {"$gte": since}}},
        {"$group": {"_id": "$sku", "pickLines": {"$sum": 1}, "taken": {"$sum": "$delta"}}},
        {"$sort": {"pickLines": -1, "taken": 1, "_id": 1}},
    ]
    cursor = await db.movements.aggregate(pipeline)
    # Fulfilment deltas are negative: units picked is minus their sum.
    return [(d["_id"], d["pickLines"], -d["taken"]) async for d in cursor]


async def item_of_sku_in_bin(
    db: Database, session: Session, *, sku: str, bin_id: ObjectId
) -> Item | None:
    doc = await db.items.find_one({"sku": sku, "binId": bin_id}, session=session)
    return None if doc is None else to_item(doc)


async def stock_rows(db: Database) -> list[tuple[str, str, str, int]]:
    """Every item as (sku, name, bin location, quantity), by location then sku (for export)."""
    locations = {doc["_id"]: doc["location"] async for doc in db.bins.find({}, {"location": 1})}
    rows = [
        (doc["sku"], doc["name"], locations.get(doc["binId"], ""), doc["quantity"])
        async for doc in db.items.find({}, {"sku": 1, "name": 1, "binId": 1, "quantity": 1})
    ]
    rows.sort(key=lambda row: (row[2].upper(), row[0]))
    return rows
