"""Change events: what is published after a commit, and its encoding on the wire.

Events are encoded once per event (broadcaster carries strings) and decoded once per process.
Each carries the state after the change, the item's bin location, the previous quantity (for
live queries) and the document's revision, so subscribers never need a database read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warehouse_gql.domain.changes import ChangeKind
from warehouse_gql.domain.models import Item, Shipment
from warehouse_gql.domain.orders import ShipmentStatus

ITEMS_CHANNEL = "warehouse.items"
SHIPMENTS_CHANNEL = "warehouse.shipments"
SESSIONS_CHANNEL = "warehouse.sessions"


__all__ = ["ChangeKind", "Event", "ItemChanged", "SessionsChanged", "ShipmentChanged"]


@dataclass(frozen=True, slots=True)
class ItemChanged:
    kind: ChangeKind
    item: Item
    bin_location: str
    # None when the item did not exist before (CREATED).
    previous_quantity: int | None


@dataclass(frozen=True, slots=True)
class ShipmentChanged:
    kind: ChangeKind
    shipment: Shipment


@dataclass(frozen=True, slots=True)
class SessionsChanged:
    """A user's sessions or role changed (log-out, revocation, password or role change, the
    user gone): every process forgets what it cached of them and re-checks their open sockets
    against the database."""

    user_id: str


Event = ItemChanged | ShipmentChanged | SessionsChanged


def _ts(value: datetime) -> str:
    return value.isoformat()


def encode(event: Event) -> tuple[str, str]:
    """The channel and JSON text of an event."""
    if isinstance(event, ItemChanged):
        item = event.item
        body: dict[str, Any] = {
            "kind": event.kind.value,
            "binLocation": event.bin_location,
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
    body = json.loads(text)
    if channel == ITEMS_CHANNEL:
        raw = body["item"]
        return ItemChanged(
            kind=ChangeKind(body["kind"]),
            bin_location=body["binLocation"],
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
