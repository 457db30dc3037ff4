"""The change records (the outbox): written inside the transaction of every write of a Bin,
Item, Order or Shipment, numbered in commit order afterwards by the sequencer.

A writer never touches a shared document: it inserts its records with `pending: true` and no
number, so a writer killed with its transaction open blocks only the documents it wrote. The
sequencer (one process at a time, under the lease below) gives each committed record the next
`seq` and clears `pending`. Only committed records are visible to it and numbers only grow,
so a record numbered after a client read cursor c gets a number above c: reading `seq > c`
never skips a change that commits later.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from warehouse_gql.domain import clock
from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind
from warehouse_gql.domain.models import Bin, Item, Order, Shipment
from warehouse_gql.store.database import Database, Document, Session

LEASE_ID = "sequencer"
DUPLICATE_KEY = 11000


def _ts(value: datetime) -> str:
    return value.isoformat()


# The state after a change, with the GraphQL field names, JSON-ready.


def item_data(item: Item, *, previous_quantity: int | None) -> Document:
    return {
        "id": item.id,
        "name": item.name,
        "sku": item.sku,
        "binId": item.bin_id,
        "quantity": item.quantity,
        # What live queries need to tell ENTER from UPDATE without a read (None: created).
        "previousQuantity": previous_quantity,
        "createdAt": _ts(item.created_at),
        "updatedAt": _ts(item.updated_at),
    }


def bin_data(bin: Bin) -> Document:
    return {
        "id": bin.id,
        "location": bin.location,
        "capacity": bin.capacity,
        "currentLoad": bin.current_load,
        "freeCapacity": bin.free_capacity,
        "createdAt": _ts(bin.created_at),
        "updatedAt": _ts(bin.updated_at),
    }


def order_data(order: Order) -> Document:
    return {
        "id": order.id,
        "customerName": order.customer_name,
        "status": order.status.value,
        "createdById": order.created_by,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
        "picks": [
            {"sku": p.sku, "quantity": p.quantity, "binId": p.bin_id, "binLocation": p.bin_location}
            for p in order.picks
        ],
        "createdAt": _ts(order.created_at),
        "updatedAt": _ts(order.updated_at),
    }


def shipment_data(shipment: Shipment) -> Document:
    return {
        "id": shipment.id,
        "orderId": shipment.order_id,
        "orderOwner": shipment.order_owner,
        "carrier": shipment.carrier,
        "trackingNumber": shipment.tracking_number,
        "status": shipment.status.value,
        "createdAt": _ts(shipment.created_at),
        "updatedAt": _ts(shipment.updated_at),
    }


# Writing, inside the write's transaction.


def note(
    db: Database,
    session: Session,
    *,
    entity: ChangeEntity,
    doc_id: str,
    kind: ChangeKind,
    revision: int,
    data: Document,
) -> None:
    """Record a change of one document in the running transaction's outbox.

    The records are inserted just before the commit (Database.transaction), one per document
    and transaction: a document written twice in one transaction has one change, with its
    final state; created-then-updated stays CREATED."""
    outbox = db.outbox_of(session)
    key = (entity.value, doc_id)
    earlier = outbox.get(key)
    if earlier is not None and earlier["kind"] == ChangeKind.CREATED.value:
        if kind is ChangeKind.DELETED:
            del outbox[key]  # born and gone in one transaction: nobody ever saw it
            return
        kind = ChangeKind.CREATED
    outbox[key] = {
        "entity": entity.value,
        "docId": doc_id,
        "kind": kind.value,
        "revision": revision,
        "at": clock.now(),
        "data": data,
        "pending": True,
    }


def note_item(
    db: Database,
    session: Session,
    kind: ChangeKind,
    item: Item,
    *,
    previous_quantity: int | None,
) -> None:
    earlier = db.outbox_of(session).get((ChangeEntity.ITEM.value, item.id))
    if earlier is not None:
        # The quantity before the transaction, not before its last step.
        previous_quantity = earlier["data"]["previousQuantity"]
    note(
        db,
        session,
        entity=ChangeEntity.ITEM,
        doc_id=item.id,
        kind=kind,
        # A deleted document's last state, one revision on: it orders after every other.
        revision=item.revision + (kind is ChangeKind.DELETED),
        data=item_data(item, previous_quantity=previous_quantity),
    )


def bin_revision(version: int) -> int:
    """A bin's revision in the feed: its version starts at 0 and counts its writes, so the
    revision (which counts from 1, as every document's does) is one more."""
    return version + 1


def note_bin(db: Database, session: Session, kind: ChangeKind, bin: Bin) -> None:
    note(
        db,
        session,
        entity=ChangeEntity.BIN,
        doc_id=bin.id,
        kind=kind,
        revision=bin_revision(bin.version) + (kind is ChangeKind.DELETED),
        data=bin_data(bin),
    )


def note_order(db: Database, session: Session, kind: ChangeKind, order: Order) -> None:
    note(
        db,
        session,
        entity=ChangeEntity.ORDER,
        doc_id=order.id,
        kind=kind,
        revision=order.revision + (kind is ChangeKind.DELETED),
        data=order_data(order),
    )


def note_shipment(db: Database, session: Session, kind: ChangeKind, shipment: Shipment) -> None:
    note(
        db,
        session,
        entity=ChangeEntity.SHIPMENT,
        doc_id=shipment.id,
        kind=kind,
        revision=shipment.revision + (kind is ChangeKind.DELETED),
        data=shipment_data(shipment),
    )


# Reading numbered changes.


def to_change(doc: Document) -> Change:
    return Change(
        seq=doc["seq"],
        entity=ChangeEntity(doc["entity"]),
        id=doc["docId"],
        kind=ChangeKind(doc["kind"]),
        revision=doc["revision"],
        at=doc["at"],
        data=doc["data"],
    )


async def read_after(
    db: Database,
    after: int,
    *,
    limit: int,
    entities: Collection[ChangeEntity] | None = None,
) -> list[Change]:
    """Numbered changes with seq > after, in seq (commit) order, at most `limit`."""
    query: Document = {"seq": {"$gt": after}}
    if entities is not None:
        query["entity"] = {"$in": [e.value for e in entities]}
    docs = await db.changes.find(query).sort("seq", ASCENDING).limit(limit).to_list()
    return [to_change(d) for d in docs]


async def oldest_seq(db: Database) -> int | None:
    """The lowest number still kept (older ones expired), None when none is kept."""
    doc = await db.changes.find_one({"seq": {"$gt": 0}}, {"seq": 1}, sort=[("seq", ASCENDING)])
    return None if doc is None else int(doc["seq"])


async def is_expired(db: Database, after: int) -> bool:
    """Whether changes after `after` may have been removed by the retention (TTL) already.

    Numbers are consecutive, so a cursor is whole while the change right after it is kept,
    or nothing was ever numbered after it."""
    if after <= 0:
        return False
    if await db.changes.find_one({"seq": after + 1}, {"_id": 1}) is not None:
        return False
    if await db.changes.find_one({"seq": after}, {"_id": 1}) is not None:
        return False  # the client is up to date
    oldest = await oldest_seq(db)
    if oldest is not None:
        return oldest > after
    # Nothing kept at all: expired if anything was ever numbered after the cursor.
    return await high_water(db) > after


# The sequencer's side.


async def pending(db: Database, *, limit: int) -> list[Document]:
    """Committed records not numbered yet (equality on an indexed field), oldest first."""
    docs = await db.changes.find({"pending": True}).limit(limit).to_list()
    docs.sort(key=lambda d: (d["at"], d["_id"]))
    # One document's records in revision order, whatever the clocks of their writers said:
    # each keeps the places its records took in the batch.
    places: dict[tuple[str, str], list[int]] = {}
    for index, doc in enumerate(docs):
        places.setdefault((doc["entity"], doc["docId"]), []).append(index)
    ordered = list(docs)
    for positions in places.values():
        if len(positions) > 1:
            records = sorted((docs[i] for i in positions), key=lambda d: d["revision"])
            for position, record in zip(positions, records, strict=True):
                ordered[position] = record
    return ordered


async def last_numbered(db: Database) -> int:
    doc = await db.changes.find_one({"seq": {"$gt": 0}}, {"seq": 1}, sort=[("seq", DESCENDING)])
    return 0 if doc is None else int(doc["seq"])


async def saved_high_water(db: Database) -> int:
    """The number the sequencer saved last (a point read; it saves on each lease renewal, so
    about a second behind its newest number). A relay starting here reads what was numbered
    since from the database; a subscriber may get such a change twice, never miss it."""
    lease = await db.leases.find_one({"_id": LEASE_ID}, {"seq": 1})
    return 0 if lease is None else int(lease.get("seq", 0))


async def high_water(db: Database) -> int:
    """The highest number ever handed out, kept on the lease so it survives the retention."""
    lease = await db.leases.find_one({"_id": LEASE_ID}, {"seq": 1})
    return max(0 if lease is None else int(lease.get("seq", 0)), await last_numbered(db))


class NumberTaken(Exception):
    """Another sequencer used this number: this one lost its lease."""


async def number(db: Database, record_id: ObjectId, seq: int) -> bool:
    """Give a pending record its number; False when someone numbered it already."""
    try:
        result = await db.changes.update_one(
            {"_id": record_id, "pending": True},
            {"$set": {"seq": seq}, "$unset": {"pending": ""}},
        )
    except DuplicateKeyError:
        raise NumberTaken from None
    return result.modified_count == 1


async def number_many(db: Database, numbers: Sequence[tuple[ObjectId, int]]) -> int:
    """Give pending records their numbers in one ordered round trip; how many were numbered.

    Ordered: a number is written only after the one before it. NumberTaken when another
    sequencer used one of the numbers (those before it are written)."""
    if not numbers:
        return 0
    try:
        result = await db.changes.bulk_write(
            [
                UpdateOne(
                    {"_id": record_id, "pending": True},
                    {"$set": {"seq": seq}, "$unset": {"pending": ""}},
                )
                for record_id, seq in numbers
            ],
            ordered=True,
        )
    except BulkWriteError as exc:
        if any(e.get("code") == DUPLICATE_KEY for e in exc.details.get("writeErrors", ())):
            raise NumberTaken from None
        raise
    return result.modified_count


async def numbers_of(db: Database, ids: Sequence[ObjectId]) -> dict[ObjectId, int]:
    """The numbers these records carry now (those numbered), by id (point reads on _id)."""
    docs = await db.changes.find({"_id": {"$in": list(ids)}}, {"seq": 1}).to_list()
    return {d["_id"]: int(d["seq"]) for d in docs if "seq" in d}


async def take_lease(db: Database, owner: str, *, seconds: float) -> bool:
    """Hold (or renew) the sequencer lease for `seconds`; False when another process holds it.

    Conditional update_one, never findAndModify: one point write per renewal."""
    now = clock.now()
    until = now + timedelta(seconds=seconds)
    result = await db.leases.update_one(
        {"_id": LEASE_ID, "$or": [{"owner": owner}, {"expiresAt": {"$lte": now}}]},
        {"$set": {"owner": owner, "expiresAt": until}},
    )
    if result.matched_count == 1:
        return True
    try:
        await db.leases.insert_one({"_id": LEASE_ID, "owner": owner, "expiresAt": until, "seq": 0})
    except DuplicateKeyError:
        return False  # it exists and someone else holds it
    return True


async def save_high_water(db: Database, owner: str, seq: int) -> None:
    await db.leases.update_one(
        {"_id": LEASE_ID, "owner": owner, "seq": {"$not": {"$gte": seq}}}, {"$set": {"seq": seq}}
    )


async def release_lease(db: Database, owner: str) -> None:
    await db.leases.update_one(
        {"_id": LEASE_ID, "owner": owner}, {"$set": {"expiresAt": datetime(2000, 1, 1, tzinfo=UTC)}}
    )


def retention_seconds(days: int) -> int:
    return days * 24 * 3600


async def exists(db: Database, seq: int) -> bool:
    """Whether change number `seq` is kept (a point read on the unique index)."""
    return await db.changes.find_one({"seq": seq}, {"_id": 1}) is not None


async def anything_after(db: Database, after: int) -> bool:
    """Whether a change may be numbered after `after`, in two point reads, so that followers
    polling an idle feed never run the range query of read_after.

    The next number is there, or the sequencer's saved mark is past `after` (a number a
    sequencer lost mid-batch is never used: the feed goes on after such a gap)."""
    return await exists(db, after + 1) or await saved_high_water(db) > after
