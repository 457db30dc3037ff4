"""Filtered, sorted, offset reads of any record kind from `domain.filters` conditions.

Field names are the model's attribute names (`bin_id`, `current_load`, ...); this module maps
them to document fields and ids to ObjectIds. Which conditions an index serves is listed in
the README ("Coming from Back4app / Parse Server"); everything else is a collection scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING

from warehouse_gql.domain.filters import Condition, Op, Sort
from warehouse_gql.domain.models import Bin, Item, Order, Shipment, User
from warehouse_gql.store.bins import to_bin
from warehouse_gql.store.changes import bin_revision
from warehouse_gql.store.database import Collection, Database, Document
from warehouse_gql.store.ids import parse_id
from warehouse_gql.store.items import to_item
from warehouse_gql.store.orders import to_order, to_shipment
from warehouse_gql.store.users import to_user

Record = Item | Bin | Order | Shipment | User

_OPS = {
    Op.NE: "$ne",
    Op.LT: "$lt",
    Op.LTE: "$lte",
    Op.GT: "$gt",
    Op.GTE: "$gte",
    Op.IN: "$in",
    Op.NIN: "$nin",
    Op.EXISTS: "$exists",
}


@dataclass(frozen=True)
class Kind:
    collection: Callable[[Database], Collection]
    to_model: Callable[[Document], Any]
    # model attribute -> document field
    fields: dict[str, str]
    # attributes stored as ObjectIds
    ids: frozenset[str]
    # attributes stored twice, as given and as a case-folded unique key: conditions on them
    # also constrain the key, so the unique index serves them
    keyed: dict[str, tuple[str, Callable[[str], str]]]
    # The document's revision as the change feed numbers it (what live queries dedupe by).
    revision: Callable[[Document], int] = lambda doc: int(doc.get("revision", 0))


_TIMES = {"created_at": "createdAt", "updated_at": "updatedAt"}

KINDS: dict[str, Kind] = {
    "items": Kind(
        lambda db: db.items,
        to_item,
        {"id": "_id", "name": "name", "sku": "sku", "bin_id": "binId", "quantity": "quantity"}
        | _TIMES,
        frozenset({"id", "bin_id"}),
        {},
    ),
    "bins": Kind(
        lambda db: db.bins,
        to_bin,
        {
            "id": "_id",
            "location": "location",
            "capacity": "capacity",
            "current_load": "currentLoad",
        }
        | _TIMES,
        frozenset({"id"}),
        {"location": ("locationKey", lambda v: v.strip().upper())},
        lambda doc: bin_revision(int(doc.get("version", 0))),
    ),
    "orders": Kind(
        lambda db: db.orders,
        to_order,
        {
            "id": "_id",
            "customer_name": "customerName",
            "status": "status",
            "created_by": "createdBy",
        }
        | _TIMES,
        frozenset({"id", "created_by"}),
        {},
    ),
    "shipments": Kind(
        lambda db: db.shipments,
        to_shipment,
        {
            "id": "_id",
            "order_id": "orderId",
            "order_owner": "orderOwner",
            "carrier": "carrier",
            "tracking_number": "trackingNumber",
            "status": "status",
        }
        | _TIMES,
        frozenset({"id", "order_id", "order_owner"}),
        {},
    ),
    "users": Kind(
        lambda db: db.users,
        to_user,
        {"id": "_id", "username": "username", "role": "role"} | _TIMES,
        frozenset({"id"}),
        {"username": ("usernameKey", lambda v: v.lower())},
    ),
}

# Matches no document: an id that is not an ObjectId names nothing.
_NOTHING: dict[str, Any] = {"$in": []}


def _id_value(op: Op, value: Any) -> Any:
    if op in (Op.IN, Op.NIN):
        return [oid for v in value if (oid := parse_id(v) if isinstance(v, str) else None)]
    if op is Op.EXISTS:
        return value
    return parse_id(value) if isinstance(value, str) else None


def _operator(op: Op, value: Any) -> tuple[str, Any]:
    if op is Op.EQ:
        return "$eq", value
    if op is Op.PREFIX:
        # Anchored and escaped: MongoDB (and SecantusDB) serve it as a range scan on an index.
        return "$regex", "^" + re.escape(value)
    return _OPS[op], value


def mongo_filter(kind: str, conditions: Sequence[Condition]) -> Document:
    spec = KINDS[kind]
    query: dict[str, dict[str, Any]] = {}
    for c in conditions:
        field = spec.fields[c.field]
        value = c.value
        if c.field in spec.ids:
            value = _id_value(c.op, value)
            if value is None:
                if c.op in (Op.EQ, Op.LT, Op.LTE, Op.GT, Op.GTE):
                    query.setdefault(field, {}).update(_NOTHING)
                continue  # $ne of a non-id: every document
        elif c.field in spec.keyed and c.op in (Op.EQ, Op.PREFIX) and isinstance(value, str):
            key_field, fold = spec.keyed[c.field]
            name, folded = _operator(c.op, fold(value))
            query.setdefault(key_field, {})[name] = folded
        name, converted = _operator(c.op, value)
        query.setdefault(field, {})[name] = converted
    return dict(query)


def _sort(kind: str, order: Sequence[Sort]) -> list[tuple[str, int]]:
    spec = KINDS[kind]
    keys: list[tuple[str, int]] = []
    for s in order:
        # Creation order is id order, which the _id index serves.
        field = "_id" if s.field == "created_at" else spec.fields[s.field]
        keys.append((field, DESCENDING if s.descending else ASCENDING))
    if not any(field == "_id" for field, _ in keys):
        keys.append(("_id", DESCENDING if keys and keys[0][1] == DESCENDING else ASCENDING))
    return keys


async def find(
    db: Database,
    kind: str,
    conditions: Sequence[Condition],
    *,
    order: Sequence[Sort] = (),
    skip: int = 0,
    limit: int = 100,
) -> list[Any]:
    spec = KINDS[kind]
    cursor = spec.collection(db).find(mongo_filter(kind, conditions)).sort(_sort(kind, order))
    if skip:
        cursor = cursor.skip(skip)
    docs = await cursor.limit(limit).to_list()
    return [spec.to_model(d) for d in docs]


async def count(db: Database, kind: str, conditions: Sequence[Condition]) -> int:
    return await KINDS[kind].collection(db).count_documents(mongo_filter(kind, conditions))


async def ids_matching(
    db: Database, kind: str, conditions: Sequence[Condition], *, limit: int
) -> dict[str, int]:
    """Id -> revision (as the change feed counts it) of up to `limit` matching records: a live
    query's starting set."""
    spec = KINDS[kind]
    cursor = spec.collection(db).find(mongo_filter(kind, conditions), {"revision": 1, "version": 1})
    docs = await cursor.limit(limit).to_list()
    return {str(d["_id"]): spec.revision(d) for d in docs}


async def by_ids(db: Database, kind: str, ids: Sequence[str]) -> dict[str, Any]:
    """Records by id (for `include`): one query for every pointer of a page."""
    oids = [oid for i in ids if (oid := parse_id(i)) is not None]
    if not oids:
        return {}
    spec = KINDS[kind]
    docs = await spec.collection(db).find({"_id": {"$in": oids}}).to_list()
    return {str(d["_id"]): spec.to_model(d) for d in docs}
