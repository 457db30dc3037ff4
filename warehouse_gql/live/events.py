"""Change events: what the bus carries between processes, and its encoding on the wire.

Events are encoded once per event (broadcaster carries strings) and decoded once per process.
The change feed's numbered `Change`s travel on CHANGES_CHANNEL; each process's relay turns
them into the events local subscribers read (`ItemChanged`, `ShipmentChanged`, `Change`),
which carry the state after the change, the previous quantity (for live queries), the
document's revision and the change's number (`seq`), so subscribers never need a read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind
from warehouse_gql.domain.models import Bin, Item, Order, OrderLine, PickRecord, Shipment
from warehouse_gql.domain.orders import OrderStatus, ShipmentStatus

ITEMS_CHANNEL = "warehouse.items"
SHIPMENTS_CHANNEL = "warehouse.shipments"
SESSIONS_CHANNEL = "warehouse.sessions"
# Numbered changes, published by the sequencer; and writers' nudges to it.
CHANGES_CHANNEL = "warehouse.changes"
NUDGE_CHANNEL = "warehouse.nudge"
# Local only (never on the broadcaster): every change, in commit order, as the relay hands it on.
FEED_CHANNEL = "local.feed"


__all__ = [
    "Change",
    "ChangeKind",
    "Event",
    "ItemChanged",
    "Nudge",
    "SessionsChanged",
    "ShipmentChanged",
]


@dataclass(frozen=True, slots=True)
class ItemChanged:
    kind: ChangeKind
    item: Item
    # None when the item did not exist before (CREATED).
    previous_quantity: int | None
    # The change's number in the feed (its cursor); 0 for an event not from the feed.
    seq: int = 0
    # The feed's change it was made from (None for an event not from the feed).
    change: Change | None = None


@dataclass(frozen=True, slots=True)
class ShipmentChanged:
    kind: ChangeKind
    shipment: Shipment
    seq: int = 0
    change: Change | None = None


@dataclass(frozen=True, slots=True)
class Nudge:
    """A writer committed change records: the sequencer, wherever it runs, numbers them now."""


@dataclass(frozen=True, slots=True)
class SessionsChanged:
    """A user's sessions or role changed (log-out, revocation, password or role change, the
    user gone): every process forgets what it cached of them and re-checks their open sockets
    against the database."""

    user_id: str


Event = ItemChanged | ShipmentChanged | SessionsChanged | Change | Nudge


def _ts(value: datetime) -> str:
    return value.isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def item_of(change: Change) -> Item:
    data = change.data
    return Item(
        id=change.id,
        name=data["name"],
        sku=data["sku"],
        bin_id=data["binId"],
        quantity=data["quantity"],
        revision=change.revision,
        created_at=_time(data["createdAt"]),
        updated_at=_time(data["updatedAt"]),
    )


def shipment_of(change: Change) -> Shipment:
    data = change.data
    return Shipment(
        id=change.id,
        order_id=data["orderId"],
        order_owner=data["orderOwner"],
        carrier=data["carrier"],
        tracking_number=data["trackingNumber"],
        status=ShipmentStatus(data["status"]),
        revision=change.revision,
        created_at=_time(data["createdAt"]),
        updated_at=_time(data["updatedAt"]),
    )


def bin_of(change: Change) -> Bin:
    data = change.data
    return Bin(
        id=change.id,
        location=data["location"],
        capacity=data["capacity"],
        current_load=data["currentLoad"],
        created_at=_time(data["createdAt"]),
        updated_at=_time(data["updatedAt"]),
        # The revision is one more than the version (store.changes.bin_revision); the last
        # state of a deleted bin is one further on.
        version=change.revision - 1 - (change.kind is ChangeKind.DELETED),
    )


def order_of(change: Change) -> Order:
    data = change.data
    return Order(
        id=change.id,
        customer_name=data["customerName"],
        lines=tuple(OrderLine(sku=x["sku"], quantity=x["quantity"]) for x in data["lines"]),
        status=OrderStatus(data["status"]),
        created_by=data["createdById"],
        picks=tuple(
            PickRecord(
                sku=p["sku"],
                quantity=p["quantity"],
                bin_id=p["binId"],
                bin_location=p["binLocation"],
            )
            for p in data.get("picks", ())
        ),
        created_at=_time(data["createdAt"]),
        updated_at=_time(data["updatedAt"]),
        revision=change.revision,
    )


def local_events(change: Change) -> list[tuple[str, Event]]:
    """What the relay hands to this process's subscribers for one change, by local channel."""
    found: list[tuple[str, Event]] = [(FEED_CHANNEL, change)]
    if change.entity is ChangeEntity.ITEM:
        found.append(
            (
                ITEMS_CHANNEL,
                ItemChanged(
                    change.kind,
                    item_of(change),
                    change.data.get("previousQuantity"),
                    change.seq,
                    change,
                ),
            )
        )
    elif change.entity is ChangeEntity.SHIPMENT:
        found.append(
            (
                SHIPMENTS_CHANNEL,
                ShipmentChanged(change.kind, shipment_of(change), change.seq, change),
            )
        )
    return found


def encode_change(change: Change) -> str:
    return json.dumps(
        {
            "seq": change.seq,
            "entity": change.entity.value,
            "id": change.id,
            "kind": change.kind.value,
            "revision": change.revision,
            "at": _ts(change.at),
            "data": change.data,
        }
    )


def decode_change(text: str) -> Change:
    body = json.loads(text)
    return Change(
        seq=body["seq"],
        entity=ChangeEntity(body["entity"]),
        id=body["id"],
        kind=ChangeKind(body["kind"]),
        revision=body["revision"],
        at=_time(body["at"]),
        data=body["data"],
    )


def encode(event: Event) -> tuple[str, str]:
    """The channel and JSON text of an event."""
    if isinstance(event, Change):
        return CHANGES_CHANNEL, encode_change(event)
    if isinstance(event, Nudge):
        return NUDGE_CHANNEL, "{}"
    if isinstance(event, ItemChanged):
        item = event.item
        body: dict[str, Any] = {
            "kind": event.kind.value,
            "seq": event.seq,
            "previousQuantity": event.previous_quantity,
            "item": {
                "id": item.id,
                "name": item.name,
                "sku": item.sku,
                "binId": item.bin_id,
                "quantity": item.quantity,
                "revision": item.revision,
                "createdAt": _ts(item.created_at),
                "updatedAt": _ts(item.updated_at),
            },
        }
        return ITEMS_CHANNEL, json.dumps(body)
    if isinstance(event, ShipmentChanged):
        s = event.shipment
        body = {
            "kind": event.kind.value,
            "seq": event.seq,
            "shipment": {
                "id": s.id,
                "orderId": s.order_id,
                "orderOwner": s.order_owner,
                "carrier": s.carrier,
                "trackingNumber": s.tracking_number,
                "status": s.status.value,
                "revision": s.revision,
                "createdAt": _ts(s.created_at),
                "updatedAt": _ts(s.updated_at),
            },
        }
        return SHIPMENTS_CHANNEL, json.dumps(body)
    return SESSIONS_CHANNEL, json.dumps({"userId": event.user_id})


def decode(channel: str, text: str) -> Event:
    if channel == CHANGES_CHANNEL:
        return decode_change(text)
    if channel == NUDGE_CHANNEL:
        return Nudge()
    body = json.loads(text)
    if channel == ITEMS_CHANNEL:
        raw = body["item"]
        return ItemChanged(
            kind=ChangeKind(body["kind"]),
            seq=body.get("seq", 0),
            previous_quantity=body["previousQuantity"],
            item=Item(
                id=raw["id"],
                name=raw["name"],
                sku=raw["sku"],
                bin_id=raw["binId"],
                quantity=raw["quantity"],
                revision=raw["revision"],
                created_at=datetime.fromisoformat(raw["createdAt"]),
                updated_at=datetime.fromisoformat(raw["updatedAt"]),
            ),
        )
    if channel == SHIPMENTS_CHANNEL:
        raw = body["shipment"]
        return ShipmentChanged(
            kind=ChangeKind(body["kind"]),
            seq=body.get("seq", 0),
            shipment=Shipment(
                id=raw["id"],
                order_id=raw["orderId"],
                order_owner=raw["orderOwner"],
                carrier=raw["carrier"],
                tracking_number=raw["trackingNumber"],
                status=ShipmentStatus(raw["status"]),
                revision=raw["revision"],
                created_at=datetime.fromisoformat(raw["createdAt"]),
                updated_at=datetime.fromisoformat(raw["updatedAt"]),
            ),
        )
    return SessionsChanged(user_id=body["userId"])
