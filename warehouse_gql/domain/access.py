"""Roles and the permission matrix, as data.

Each operation names the roles that may use it. Anonymous callers get UNAUTHENTICATED for
everything not in PUBLIC; a role missing from an operation's set gets FORBIDDEN. Reads that a
customer may make only of their own records ("own only") are scoped, not forbidden: another
customer's order is invisible, never an error.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

from warehouse_gql.domain.changes import Change, ChangeEntity


class Role(str, Enum):
    MANAGER = "MANAGER"
    PICKER = "PICKER"
    CUSTOMER = "CUSTOMER"


_ALL = frozenset(Role)
_STAFF = frozenset({Role.MANAGER, Role.PICKER})
_MANAGER = frozenset({Role.MANAGER})
_MANAGER_OR_CUSTOMER = frozenset({Role.MANAGER, Role.CUSTOMER})

PUBLIC = frozenset({"signUp", "logIn"})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "me": _ALL,
    "logOut": _ALL,
    "stockLevel": _ALL,
    # bins, items, movements
    "readStock": _STAFF,
    "createBin": _MANAGER,
    "updateBin": _MANAGER,
    "deleteBin": _MANAGER,
    "createItem": _STAFF,
    "updateItem": _STAFF,
    "adjustItemQuantity": _STAFF,
    "moveItem": _STAFF,
    "deleteItem": _MANAGER,
    # orders and shipments
    "createOrder": _MANAGER_OR_CUSTOMER,
    "readOrders": _ALL,
    "cancelOrder": _MANAGER_OR_CUSTOMER,
    "fulfillOrder": _STAFF,
    "createShipment": _STAFF,
    "updateShipmentStatus": _STAFF,
    "readShipments": _ALL,
    "deleteOrder": _MANAGER,
    "deleteShipment": _MANAGER,
    # the floor: pick walks, putaway, slotting, cycle counts
    "binByLocation": _STAFF,
    "pickList": _STAFF,
    "suggestPutaway": _STAFF,
    "slottingReport": _MANAGER,
    "countBin": _STAFF,
    # accounts
    "setUserRole": _MANAGER,
    "users": _MANAGER,
    "createUser": _MANAGER,
    "changePassword": _ALL,
    "sessions": _ALL,  # me.sessions: one's own
    "revokeSessions": _ALL,  # managers: anyone's; others: their own (may_revoke_sessions)
    # webhooks: endpoints, their secrets and delivery logs
    "createWebhook": _MANAGER,
    "webhooks": _MANAGER,
    "deleteWebhook": _MANAGER,
    "webhookDeliveries": _MANAGER,
    # subscriptions, by root field: they follow the read rules
    "itemChanged": _STAFF,
    "lowStock": _STAFF,
    "shipmentChanged": _ALL,
    "orderChanged": _ALL,
    # the change feed (query, REST, SSE): each change filtered by visible_change below
    "changes": _ALL,
}


def allowed(operation: str, role: Role | None) -> bool:
    if operation in PUBLIC:
        return True
    if role is None:
        return False
    return role in PERMISSIONS[operation]


def sees_only_own(role: Role) -> bool:
    """Customers see only the orders they placed and the shipments of those orders."""
    return role is Role.CUSTOMER


# The visibility rule, once for every door, every nested field and every event (SPEC "Visibility
# is one rule"). Ask these; never compare roles or owners anywhere else.


def owner_scope(role: Role, user_id: str) -> str | None:
    """The owner a reader's order and shipment reads are limited to: the customer's own id,
    or None for staff, who see every order and shipment."""
    return user_id if sees_only_own(role) else None


def may_see_order(role: Role, user_id: str, order_owner: str) -> bool:
    """Whether the reader sees an order (or a shipment of it) placed by `order_owner`."""
    return not sees_only_own(role) or order_owner == user_id


def may_see_stock(role: Role) -> bool:
    """Bins, items and movements are for staff: a customer never sees them, not even nested in
    an order's picks (Pick.bin is null for them) or in an event's payload."""
    return role in _STAFF


def may_see_email(role: Role, user_id: str, subject_id: str) -> bool:
    """A user's email is for managers and for the user alone (null for anyone else)."""
    return role is Role.MANAGER or user_id == subject_id


def may_revoke_sessions(role: Role, user_id: str, subject_id: str) -> bool:
    """Managers end anyone's sessions; everyone else only their own."""
    return role is Role.MANAGER or user_id == subject_id


def subscription_survives(operation: str, was: Role, now: Role) -> bool:
    """Whether a subscription opened under role `was` goes on once the user's role is `now`:
    only if `now` may use it and sees at least what `was` saw (a customer's own-orders view
    stays within what staff see; staff becoming a customer would see too much)."""
    if not allowed(operation, now):
        return False
    return not sees_only_own(now) or sees_only_own(was)


def visibility_group(role: Role, user_id: str) -> tuple[Role, str | None]:
    """Readers in one group see exactly the same records and fields, so one result may be
    shared among them: managers see everything alike; anyone else at least sees their own
    email where others see null (and customers only their own orders)."""
    return (role, None if role is Role.MANAGER else user_id)


def visible_change(role: Role, user_id: str, change: Change) -> Change | None:
    """The change as this reader may see it, or None: bins and items for staff only; orders
    and shipments per may_see_order; a customer's own order without the bins of its picks."""
    if change.entity in (ChangeEntity.BIN, ChangeEntity.ITEM):
        return change if may_see_stock(role) else None
    owner = change.data.get("createdById" if change.entity is ChangeEntity.ORDER else "orderOwner")
    if not may_see_order(role, user_id, str(owner)):
        return None
    if change.entity is ChangeEntity.ORDER and not may_see_stock(role):
        picks = [{"sku": p["sku"], "quantity": p["quantity"]} for p in change.data.get("picks", ())]
        return replace(change, data={**change.data, "picks": picks})
    return change
