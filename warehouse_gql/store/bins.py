"""Bins. `currentLoad` and `freeCapacity` are only ever changed together, inside transactions
that check the new values before they commit, so a bin can never hold more than its capacity
whatever runs concurrently."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import DuplicateKeyError

from warehouse_gql.domain import clock
from warehouse_gql.domain.changes import ChangeKind
from warehouse_gql.domain.errors import CapacityExceeded, Conflict, Duplicate, NotFound
from warehouse_gql.domain.inventory import location_key
from warehouse_gql.domain.layout import parse_location
from warehouse_gql.domain.models import Bin
from warehouse_gql.store import changes
from warehouse_gql.store.database import (
    FREE_CAPACITY_INDEX,
    Database,
    Document,
    Session,
    increment_each,
    page,
)


def to_bin(doc: Document) -> Bin:
    return Bin(
        id=str(doc["_id"]),
        location=doc["location"],
        capacity=doc["capacity"],
        current_load=doc["currentLoad"],
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
        version=doc.get("version", 0),
    )


def slot_fields(location: str) -> Document:
    """The parsed aisle, rack and shelf stored on a bin (null when the location does not
    parse), so the floor's layout is read from indexes rather than by parsing every bin."""
    slot = parse_location(location)
    if slot is None:
        return {"aisle": None, "rack": None, "shelf": None}
    return {"aisle": slot.aisle, "rack": slot.rack, "shelf": slot.shelf}


def _location_taken(location: str) -> Duplicate:
    return Duplicate(f"A bin at location {location} already exists.")


async def insert_bin(db: Database, session: Session, *, location: str, capacity: int) -> Bin:
    now = clock.now()
    doc: Document = {
        "location": location,
        "locationKey": location_key(location),
        **slot_fields(location),
        "capacity": capacity,
        "currentLoad": 0,
        "freeCapacity": capacity,
        "version": 0,
        "createdAt": now,
        "updatedAt": now,
    }
    try:
        await db.bins.insert_one(doc, session=session)
    except DuplicateKeyError:
        raise _location_taken(location) from None
    bin = to_bin(doc)
    changes.note_bin(db, session, ChangeKind.CREATED, bin)
    return bin


async def get_bin(db: Database, bin_id: ObjectId, session: Session | None = None) -> Bin | None:
    doc = await db.bins.find_one({"_id": bin_id}, session=session)
    return None if doc is None else to_bin(doc)


async def require_bin(db: Database, bin_id: ObjectId, session: Session | None = None) -> Bin:
    found = await get_bin(db, bin_id, session)
    if found is None:
        raise NotFound("bin", str(bin_id))
    return found


async def bins_by_ids(db: Database, ids: list[ObjectId]) -> dict[str, Bin]:
    docs = await db.bins.find({"_id": {"$in": ids}}).to_list()
    return {str(d["_id"]): to_bin(d) for d in docs}


def _prefix_query(location_prefix: str | None) -> dict[str, Any]:
    if not location_prefix:
        return {}
    # An anchored, case-folded prefix uses the unique locationKey index as a range scan.
    return {"locationKey": {"$regex": "^" + re.escape(location_key(location_prefix))}}


async def page_bins(
    db: Database, *, first: int, after: ObjectId | None, location_prefix: str | None
) -> tuple[list[Bin], bool]:
    docs, more = await page(db.bins, _prefix_query(location_prefix), first=first, after=after)
    return [to_bin(d) for d in docs], more


async def count_bins(db: Database, *, location_prefix: str | None) -> int:
    return await db.bins.count_documents(_prefix_query(location_prefix))


async def change_load(db: Database, session: Session, bin_id: ObjectId, delta: int) -> Bin:
    """Add `delta` units to a bin's load inside a transaction; CAPACITY_EXCEEDED when they do not fit."""
    return (await change_loads(db, session, [(bin_id, delta)]))[0]


async def change_loads(
    db: Database, session: Session, deltas: Sequence[tuple[ObjectId, int]]
) -> list[Bin]:
    """Add each delta to its bin's load (the bins distinct), in one write and one read inside
    the transaction; CAPACITY_EXCEEDED names the first bin they do not fit, and the
    transaction's writes are undone."""
    found = await increment_each(
        db.bins,
        session,
        [
            (bin_id, {"currentLoad": delta, "freeCapacity": -delta, "version": 1})
            for bin_id, delta in deltas
        ],
        {"updatedAt": clock.now()},
    )
    changed: list[Bin] = []
    for doc, (bin_id, delta) in zip(found, deltas, strict=True):
        if doc is None:
            raise NotFound("bin", str(bin_id))
        current = to_bin(doc)
        if current.free_capacity < 0 or current.current_load < 0:
            # Only a positive delta can fail here: loads are sums of non-negative quantities.
            raise CapacityExceeded.no_room(current.location, delta, current.free_capacity + delta)
        changed.append(current)
    # Even for 0 units: the version and updatedAt moved, so the bin's state changed.
    for current in changed:
        changes.note_bin(db, session, ChangeKind.UPDATED, current)
    return changed


async def update_bin(
    db: Database,
    session: Session,
    bin_id: ObjectId,
    *,
    location: str | None,
    capacity: int | None,
) -> Bin:
    current = await require_bin(db, bin_id, session)
    fields: Document = {"updatedAt": clock.now()}
    if location is not None:
        fields["location"] = location
        fields["locationKey"] = location_key(location)
        fields.update(slot_fields(location))
    if capacity is not None:
        if capacity < current.current_load:
            raise CapacityExceeded.below_load(current.location, capacity, current.current_load)
        fields["capacity"] = capacity
        fields["freeCapacity"] = capacity - current.current_load
    try:
        # Conditional on the load read above: inside the snapshot transaction a concurrent
        # change of the load is a write conflict, and the whole update is retried.
        result = await db.bins.update_one(
            {"_id": bin_id, "currentLoad": current.current_load},
            {"$set": fields, "$inc": {"version": 1}},
            session=session,
        )
    except DuplicateKeyError:
        raise _location_taken(location or "") from None
    if result.matched_count == 0:
        raise Conflict(f"Bin {current.location} changed while it was being updated; try again.")
    updated = await require_bin(db, bin_id, session)
    changes.note_bin(db, session, ChangeKind.UPDATED, updated)
    return updated


async def delete_bin(db: Database, session: Session, bin_id: ObjectId) -> None:
    current = await require_bin(db, bin_id, session)
    if await db.items.find_one({"binId": bin_id}, {"_id": 1}, session=session) is not None:
        raise Conflict(f"Bin {current.location} still holds items; move or delete them first.")
    await db.bins.delete_one({"_id": bin_id}, session=session)
    changes.note_bin(db, session, ChangeKind.DELETED, current)


async def bin_by_location(
    db: Database, location: str, session: Session | None = None
) -> Bin | None:
    """Exact, case-insensitive lookup through the unique locationKey index (for scanners)."""
    doc = await db.bins.find_one({"locationKey": location_key(location)}, session=session)
    return None if doc is None else to_bin(doc)


async def floor_extent(db: Database) -> tuple[list[str], int]:
    """The aisles in use and the largest rack number, both read from indexes."""
    aisles = [a for a in await db.bins.distinct("aisle") if isinstance(a, str)]
    top = await db.bins.find_one({"rack": {"$type": "number"}}, {"rack": 1}, sort=[("rack", -1)])
    return aisles, 0 if top is None else int(top["rack"])


def room_cursor(
    db: Database,
    *,
    at_least: int,
    exclude: Sequence[ObjectId] = (),
    largest_first: bool = False,
    below: int | None = None,
    limit: int = 0,
) -> AsyncCursor[Document]:
    """Bins with at least `at_least` free units (and fewer than `below`), tightest first or
    roomiest first, ties in location order: a range scan of the freeCapacity index."""
    room: Document = {"$gte": at_least}
    if below is not None:
        room["$lt"] = below
    direction = DESCENDING if largest_first else ASCENDING
    query: Document = {"freeCapacity": room}
    if exclude:
        query["_id"] = {"$nin": list(exclude)}
    # The hint keeps planners that would rather scan the collection (the $nin) on the index.
    return db.bins.find(
        query, sort=[("freeCapacity", direction), ("locationKey", ASCENDING)], limit=limit
    ).hint(FREE_CAPACITY_INDEX)


async def bins_with_room(
    db: Database,
    *,
    at_least: int,
    exclude: Sequence[ObjectId] = (),
    largest_first: bool = False,
    below: int | None = None,
    limit: int = 0,
) -> AsyncIterator[Bin]:
    cursor = room_cursor(
        db,
        at_least=at_least,
        exclude=exclude,
        largest_first=largest_first,
        below=below,
        limit=limit,
    )
    async for doc in cursor:
        yield to_bin(doc)
