"""The warehouse's records as plain dataclasses. The store maps documents to these; the API
and the live feed are built from them. Ids are hex strings here, ObjectIds only in the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from warehouse_gql.domain.access import Role
from warehouse_gql.domain.layout import Slot, parse_location
from warehouse_gql.domain.orders import OrderStatus, ShipmentStatus


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    email: str
    role: Role
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A live session as its user may list it; never the token or its hash."""

    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Bin:
    id: str
    location: str
    capacity: int
    current_load: int
    created_at: datetime
    updated_at: datetime
    # Incremented by every write of the bin: a cycle count compares it to spot a stale count.
    version: int = 0

    @property
    def free_capacity(self) -> int:
        return self.capacity - self.current_load

    @property
    def slot(self) -> Slot | None:
        """Aisle, rack and shelf, when the location has the form AISLE-RACK-SHELF."""
        return parse_location(self.location)


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    name: str
    sku: str
    bin_id: str
    quantity: int
    # Incremented by every write, so live subscribers can order one item's events.
    revision: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Movement:
    id: str
    item_id: str
    sku: str
    bin_id: str
    bin_location: str
    delta: int
    quantity_after: int
    reason: str
    user_id: str | None
    order_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PickRecord:
    sku: str
    quantity: int
    bin_id: str
    bin_location: str


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    customer_name: str
    lines: tuple[OrderLine, ...]
    status: OrderStatus
    created_by: str
    picks: tuple[PickRecord, ...]
    created_at: datetime
    updated_at: datetime
    # Incremented by every committed write (the change feed's per-document order).
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Shipment:
    id: str
    order_id: str
    # The customer who placed the order: what visibility checks need, without a lookup.
    order_owner: str
    carrier: str
    tracking_number: str
    status: ShipmentStatus
    revision: int
    created_at: datetime
    updated_at: datetime
