"""Orders and shipments: what a valid order is, and the state machines as transition tables."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from warehouse_gql.domain.errors import BadUserInput, InvalidTransition
from warehouse_gql.domain.inventory import MAX_NAME, check_sku, trimmed

MAX_LINES = 100
MAX_LINE_QUANTITY = 1_000_000_000
MAX_CARRIER = 64
MAX_TRACKING = 64
MAX_IDEMPOTENCY_KEY = 128


class OrderStatus(str, Enum):
    PENDING = "PENDING"
    FULFILLED = "FULFILLED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"


class ShipmentStatus(str, Enum):
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.FULFILLED, OrderStatus.CANCELLED}),
    OrderStatus.FULFILLED: frozenset({OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

SHIPMENT_TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    ShipmentStatus.IN_TRANSIT: frozenset({ShipmentStatus.DELIVERED}),
    ShipmentStatus.DELIVERED: frozenset(),
}

# A shipment may be created for an order in these states (a second parcel of a shipped order
# is allowed); creating one moves the order to SHIPPED.
SHIPPABLE = frozenset({OrderStatus.FULFILLED, OrderStatus.SHIPPED})


def check_order_transition(current: OrderStatus, target: OrderStatus) -> None:
    if target not in ORDER_TRANSITIONS[current]:
        raise InvalidTransition("order", current.value, target.value)


def shipment_transition_is_noop(current: ShipmentStatus, target: ShipmentStatus) -> bool:
    """Setting a shipment's current status again is a no-op; any other illegal move raises."""
    if current is target:
        return True
    if target not in SHIPMENT_TRANSITIONS[current]:
        raise InvalidTransition("shipment", current.value, target.value)
    return False


def clean_customer_name(name: str) -> str:
    return trimmed(name, "customerName", MAX_NAME)


def check_lines(lines: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """1 to 100 lines, each sku once, each quantity at least 1."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise BadUserInput(
            f"an order needs 1 to {MAX_LINES} lines, got {len(lines)}.", field="items"
        )
    seen: set[str] = set()
    for sku, quantity in lines:
        check_sku(sku, field="items.sku")
        if sku in seen:
            raise BadUserInput(
                f"sku {sku} appears on more than one line; put it on one line.", field="items.sku"
            )
        seen.add(sku)
        if not 1 <= quantity <= MAX_LINE_QUANTITY:
            raise BadUserInput(
                f"quantity of {sku} must be between 1 and {MAX_LINE_QUANTITY:,}, got {quantity}.",
                field="items.quantity",
            )
    return list(lines)


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise BadUserInput(
            f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY} characters.", field="idempotencyKey"
        )
    return key


def clean_carrier(carrier: str) -> str:
    return trimmed(carrier, "carrier", MAX_CARRIER)


def clean_tracking_number(tracking: str) -> str:
    return trimmed(tracking, "trackingNumber", MAX_TRACKING)
