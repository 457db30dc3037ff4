"""Parse classes <-> our records and service calls.

Reads go to the store through one filtered query (a get is a query on objectId), limited by the
visibility rule of domain/access.py; writes map each Parse field change to the one service
operation that owns its rule. Nothing here decides a permission, a visibility or a state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from warehouse_gql.api.parse import query as q
from warehouse_gql.api.parse.call import Call
from warehouse_gql.api.parse.errors import (
    VALIDATION_ERROR,
    ParseError,
    invalid_query,
    not_found,
    read_only,
    unknown_class,
)
from warehouse_gql.domain import access
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import InvalidTransition
from warehouse_gql.domain.filters import Condition, Op
from warehouse_gql.domain.models import Bin, Item, Order, Shipment, User
from warehouse_gql.domain.orders import OrderStatus, ShipmentStatus
from warehouse_gql.services import accounts, floor, inventory, orders
from warehouse_gql.store import search

ORDER_WORDS = {
    OrderStatus.PENDING: "pending",
    OrderStatus.FULFILLED: "fulfilled",
    OrderStatus.SHIPPED: "shipped",
    OrderStatus.CANCELLED: "cancelled",
}
SHIPMENT_WORDS = {ShipmentStatus.IN_TRANSIT: "in transit", ShipmentStatus.DELIVERED: "delivered"}
ROLE_WORDS = {Role.MANAGER: "Manager", Role.PICKER: "Picker", Role.CUSTOMER: "Customer"}


def _accepted(words: Mapping[Any, str]) -> dict[str, str]:
    """Normalised spelling (upper case, `_` for spaces) -> our enum value."""
    return {w.upper().replace(" ", "_"): e.value for e, w in words.items()} | {
        e.value: e.value for e in words
    }


ORDER_STATUS = q.word(_accepted(ORDER_WORDS))
SHIPMENT_STATUS = q.word(_accepted(SHIPMENT_WORDS))
ROLE = q.word(_accepted(ROLE_WORDS))


def iso(value: datetime) -> str:
    """Parse's timestamps: `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def pointer(class_name: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def _stamps(record: Item | Bin | Order | Shipment | User) -> dict[str, Any]:
    return {
        "objectId": record.id,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
    }


# Model -> Parse JSON, as the viewer may see it.


def item_json(item: Item, viewer: User) -> dict[str, Any]:
    return _stamps(item) | {
        "name": item.name,
        "sku": item.sku,
        "bin": pointer("Bin", item.bin_id),
        "quantity": item.quantity,
    }


def bin_json(bin: Bin, viewer: User) -> dict[str, Any]:
    return _stamps(bin) | {
        "location": bin.location,
        "capacity": bin.capacity,
        "currentLoad": bin.current_load,
    }


def order_json(order: Order, viewer: User) -> dict[str, Any]:
    sees_bins = access.may_see_stock(viewer.role)
    picks = []
    for p in order.picks:
        pick: dict[str, Any] = {"sku": p.sku, "quantity": p.quantity}
        if sees_bins:
            pick["bin"] = pointer("Bin", p.bin_id)
        picks.append(pick)
    return _stamps(order) | {
        "customerName": order.customer_name,
        "items": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
        "status": ORDER_WORDS[order.status],
        "createdBy": pointer("_User", order.created_by),
        "picks": picks,
    }


def shipment_json(shipment: Shipment, viewer: User) -> dict[str, Any]:
    return _stamps(shipment) | {
        "order": pointer("Order", shipment.order_id),
        "carrier": shipment.carrier,
        "trackingNumber": shipment.tracking_number,
        "status": SHIPMENT_WORDS[shipment.status],
    }


def user_json(user: User, viewer: User) -> dict[str, Any]:
    body = _stamps(user) | {"username": user.username, "role": ROLE_WORDS[user.role]}
    if access.may_see_email(viewer.role, viewer.id, user.id):
        body["email"] = user.email
    return body


_TIMES = {
    "objectId": q.Field("id", q.text, sortable=False),
    "createdAt": q.Field("created_at", q.date),
    "updatedAt": q.Field("updated_at", q.date),
}


@dataclass(frozen=True)
class ParseClass:
    name: str
    kind: str  # the store's record kind
    read: str  # the permission that reads the class
    fields: dict[str, q.Field]
    to_json: Callable[[Any, User], dict[str, Any]]
    # pointer field -> (class it points to, our attribute holding the id)
    includes: dict[str, tuple[str, str]]
    # the attribute limited to the reader's own id by access.owner_scope, if any
    owner: str | None = None

    def scope(self, viewer: User) -> tuple[Condition, ...]:
        if self.owner is None:
            return ()
        owner = access.owner_scope(viewer.role, viewer.id)
        return () if owner is None else (Condition(self.owner, Op.EQ, owner),)


CLASSES: dict[str, ParseClass] = {
    "Item": ParseClass(
        "Item",
        "items",
        "readStock",
        _TIMES
        | {
            "name": q.Field("name", q.text, text=True),
            "sku": q.Field("sku", q.text, text=True),
            "bin": q.Field("bin_id", q.pointer("Bin"), sortable=False),
            "quantity": q.Field("quantity", q.number),
        },
        item_json,
        {"bin": ("Bin", "bin_id")},
    ),
    "Bin": ParseClass(
        "Bin",
        "bins",
        "readStock",
        _TIMES
        | {
            "location": q.Field("location", q.text, text=True),
            "capacity": q.Field("capacity", q.number),
            "currentLoad": q.Field("current_load", q.number),
        },
        bin_json,
        {},
    ),
    "Order": ParseClass(
        "Order",
        "orders",
        "readOrders",
        _TIMES
        | {
            "customerName": q.Field("customer_name", q.text, text=True),
            "status": q.Field("status", ORDER_STATUS),
            "createdBy": q.Field("created_by", q.pointer("_User"), sortable=False),
        },
        order_json,
        {"createdBy": ("_User", "created_by")},
        owner="created_by",
    ),
    "Shipment": ParseClass(
        "Shipment",
        "shipments",
        "readShipments",
        _TIMES
        | {
            "order": q.Field("order_id", q.pointer("Order"), sortable=False),
            "carrier": q.Field("carrier", q.text, text=True),
            "trackingNumber": q.Field("tracking_number", q.text, text=True),
            "status": q.Field("status", SHIPMENT_STATUS),
        },
        shipment_json,
        {"order": ("Order", "order_id")},
        owner="order_owner",
    ),
    "_User": ParseClass(
        "_User",
        "users",
        "users",
        _TIMES
        | {
            "username": q.Field("username", q.text, text=True),
            "role": q.Field("role", ROLE),
        },
        user_json,
        {},
    ),
}


def parse_class(name: str) -> ParseClass:
    found = CLASSES.get(name)
    if found is None:
        raise unknown_class(name)
    return found


def as_object(cls: ParseClass, record: Any, viewer: User) -> dict[str, Any]:
    """A record as an embedded Parse object (include, function results, LiveQuery events)."""
    return {"__type": "Object", "className": cls.name} | cls.to_json(record, viewer)


def _keep(body: dict[str, Any], keys: frozenset[str] | None) -> dict[str, Any]:
    if keys is None:
        return body
    always = {"objectId", "createdAt", "updatedAt", "__type", "className"}
    return {k: v for k, v in body.items() if k in keys or k in always}


async def _render(
    call: Call, cls: ParseClass, records: list[Any], viewer: User, query: q.Query
) -> list[dict[str, Any]]:
    bodies = [cls.to_json(r, viewer) for r in records]
    for name in query.include:
        target_name, attribute = cls.includes[name]
        target = CLASSES[target_name]
        # One query per included field for the whole page.
        found = await search.by_ids(
            call.resources.db, target.kind, [getattr(r, attribute) for r in records]
        )
        for record, body in zip(records, bodies, strict=True):
            included = found.get(getattr(record, attribute))
            if included is not None:
                body[name] = as_object(target, included, viewer)
    return [_keep(b, query.keys) for b in bodies]


async def _reader(call: Call, cls: ParseClass, object_id: str | None = None) -> User:
    """The caller, if their role reads this class (anyone reads their own _User)."""
    if cls.name == "_User" and object_id is not None:
        user = await call.user()
        if user.id == object_id:
            return user
    return await call.authorize(cls.read)


async def find(call: Call, cls: ParseClass, params: Mapping[str, Any]) -> dict[str, Any]:
    viewer = await _reader(call, cls)
    query = q.parse_query(params, cls.fields, frozenset(cls.includes))
    conditions = query.conditions + cls.scope(viewer)
    db = call.resources.db
    records = (
        []
        if query.limit == 0
        else await search.find(
            db, cls.kind, conditions, order=query.order, skip=query.skip, limit=query.limit
        )
    )
    body: dict[str, Any] = {"results": await _render(call, cls, records, viewer, query)}
    if query.count:
        body["count"] = await search.count(db, cls.kind, conditions)
    return body


async def get(
    call: Call, cls: ParseClass, object_id: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    viewer = await _reader(call, cls, object_id)
    query = q.parse_query(params, cls.fields, frozenset(cls.includes))
    if query.conditions:
        raise invalid_query("where is not taken by a get; query the class instead.")
    scope = () if cls.name == "_User" and viewer.id == object_id else cls.scope(viewer)
    records = await search.find(
        call.resources.db,
        cls.kind,
        (Condition("id", Op.EQ, object_id), *scope),
        limit=1,
    )
    if not records:
        # Unknown and invisible are one answer: another customer's order does not exist for you.
        raise not_found()
    body = (await _render(call, cls, records, viewer, query))[0]
    if cls.name == "_User" and viewer.id == object_id and call.token is not None:
        # As Parse Server does: the SDK's fetch() of the current user keeps its session.
        body["sessionToken"] = parse_token(call.token)
    return body


# Writes


def _unsupported_op(name: str, value: Any) -> None:
    if isinstance(value, dict) and "__op" in value:
        raise ParseError(
            400,
            VALIDATION_ERROR,
            f"The operation {value['__op']} on {name} is not supported.",
            "BAD_USER_INPUT",
        )


def _string(body: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    _unsupported_op(name, value)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ParseError(400, VALIDATION_ERROR, f"{name} must be a string.", "BAD_USER_INPUT")
    return value


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ParseError(400, VALIDATION_ERROR, f"{name} must be a whole number.", "BAD_USER_INPUT")
    return int(value)


def _pointer_id(body: Mapping[str, Any], name: str, class_name: str) -> str:
    value = body.get(name)
    if (
        isinstance(value, dict)
        and value.get("__type") in ("Pointer", "Object")
        and value.get("className") == class_name
        and isinstance(value.get("objectId"), str)
    ):
        return str(value["objectId"])
    raise ParseError(
        400, VALIDATION_ERROR, f"{name} must be a Pointer to {class_name}.", "BAD_USER_INPUT"
    )


def _only(body: Mapping[str, Any], allowed: set[str], hints: Mapping[str, str] = {}) -> None:
    for name in body:
        if name not in allowed:
            raise read_only(name, hints.get(name, ""))


def _increment(value: Any) -> int | None:
    if isinstance(value, dict) and value.get("__op") == "Increment":
        return _whole("amount", value.get("amount"))
    return None


def _word(convert: Callable[[str, Any], str], name: str, value: Any) -> str:
    try:
        return convert(name, value)
    except ParseError as exc:
        raise ParseError(400, VALIDATION_ERROR, exc.message, "BAD_USER_INPUT") from None


ITEM_HINTS = {
    "bin": "Use the moveItem function.",
    "sku": "Use the moveItem function or a new Item.",
    "ACL": "Permissions come from roles.",
}


async def create(call: Call, cls: ParseClass, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /classes/{C}: the created object's objectId and createdAt (201)."""
    db, events = call.resources.db, call.resources.events
    created: Item | Bin | Order | Shipment
    if cls.name == "Item":
        _only(body, {"name", "sku", "bin", "quantity"}, ITEM_HINTS)
        user = await call.authorize("createItem")
        raw = body.get("quantity", 0)
        quantity = _increment(raw)
        created = await inventory.create_item(
            db,
            events,
            name=_string(body, "name") or "",
            sku=_string(body, "sku") or "",
            bin_id=_pointer_id(body, "bin", "Bin"),
            quantity=_whole("quantity", raw) if quantity is None else quantity,
            user=user,
        )
    elif cls.name == "Bin":
        _only(body, {"location", "capacity"}, {"ACL": ITEM_HINTS["ACL"]})
        await call.authorize("createBin")
        created = await inventory.create_bin(
            db,
            location=_string(body, "location") or "",
            capacity=_whole("capacity", body.get("capacity")),
        )
    elif cls.name == "Order":
        _only(body, {"customerName", "items", "status"}, {"ACL": ITEM_HINTS["ACL"]})
        if "status" in body and _word(ORDER_STATUS, "status", body["status"]) != "PENDING":
            raise read_only("status", "An order starts pending.")
        user = await call.authorize("createOrder")
        lines = body.get("items")
        if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
            raise ParseError(
                400,
                VALIDATION_ERROR,
                "items must be an array of {sku, quantity}.",
                "BAD_USER_INPUT",
            )
        created = await orders.create_order(
            db,
            customer_name=_string(body, "customerName") or "",
            lines=[
                (_string(line, "sku") or "", _whole("quantity", line.get("quantity")))
                for line in lines
            ],
            idempotency_key=call.request_key,
            user=user,
        )
    elif cls.name == "Shipment":
        _only(body, {"order", "carrier", "trackingNumber", "status"}, {"ACL": ITEM_HINTS["ACL"]})
        if "status" in body and _word(SHIPMENT_STATUS, "status", body["status"]) != "IN_TRANSIT":
            raise read_only("status", "A shipment starts in transit.")
        await call.authorize("createShipment")
        created = await orders.create_shipment(
            db,
            events,
            order_id=_pointer_id(body, "order", "Order"),
            carrier=_string(body, "carrier") or "",
            tracking_number=_string(body, "trackingNumber") or "",
        )
    else:
        return await sign_up(call, body)
    answer: dict[str, Any] = {"objectId": created.id, "createdAt": iso(created.created_at)}
    # Fields the server set, as Parse returns what beforeSave added: the SDK merges them.
    if isinstance(created, Order):
        answer["status"] = ORDER_WORDS[created.status]
    elif isinstance(created, Shipment):
        answer["status"] = SHIPMENT_WORDS[created.status]
    elif isinstance(created, Bin):
        answer["currentLoad"] = created.current_load
    return answer


async def sign_up(call: Call, body: Mapping[str, Any]) -> dict[str, Any]:
    _only(body, {"username", "password", "email"}, {"role": "Sign-up makes a Customer."})
    resources = call.resources
    session = await accounts.sign_up(
        resources.db,
        resources.events,
        resources.passwords,
        username=_string(body, "username") or "",
        email=_string(body, "email") or "",
        password=_string(body, "password") or "",
        ttl=timedelta(hours=resources.settings.session_ttl_hours),
        limits=resources.limits,
        client=call.client,
    )
    return {
        "objectId": session.user.id,
        "createdAt": iso(session.user.created_at),
        "sessionToken": parse_token(session.token),
    }


def parse_token(token: str) -> str:
    """Session tokens handed out by /parse carry Parse's `r:` (revocable) prefix: the SDKs only
    send logOut for those. Every door ignores the prefix (services/accounts.py)."""
    return token if token.startswith("r:") else f"r:{token}"


async def update(
    call: Call, cls: ParseClass, object_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """PUT /classes/{C}/{id}: each field change as its operation; `updatedAt` and what changed."""
    db, events = call.resources.db, call.resources.events
    answer: dict[str, Any] = {}
    if cls.name == "Item":
        _only(body, {"name", "quantity", "reason"}, ITEM_HINTS)
        item: Item | None = None
        if "name" in body:
            await call.authorize("updateItem")
            item = await inventory.update_item(
                db, events, item_id=object_id, name=_string(body, "name")
            )
        if "quantity" in body:
            delta = _increment(body["quantity"])
            if delta is not None:
                user = await call.authorize("adjustItemQuantity")
                item = await inventory.adjust_item_quantity(
                    db,
                    events,
                    item_id=object_id,
                    delta=delta,
                    reason=_string(body, "reason", required=False) or "parse",
                    user=user,
                )
            else:
                item = await _count(call, object_id, _whole("quantity", body["quantity"]))
            answer["quantity"] = item.quantity
        if item is None:
            raise read_only("reason", "It goes with a quantity change.")
        stamp = item.updated_at
    elif cls.name == "Bin":
        _only(body, {"location", "capacity"}, {"currentLoad": "It follows the items."})
        await call.authorize("updateBin")
        bin = await inventory.update_bin(
            db,
            bin_id=object_id,
            location=_string(body, "location", required=False),
            capacity=None if "capacity" not in body else _whole("capacity", body["capacity"]),
        )
        stamp = bin.updated_at
    elif cls.name == "Order":
        _only(body, {"status"})
        order = await _order_status(call, object_id, body.get("status"))
        answer["status"] = ORDER_WORDS[order.status]
        answer["picks"] = order_json(order, await call.user())["picks"]
        stamp = order.updated_at
    elif cls.name == "Shipment":
        _only(body, {"status"})
        await call.authorize("updateShipmentStatus")
        shipment = await orders.update_shipment_status(
            db,
            events,
            shipment_id=object_id,
            status=ShipmentStatus(_word(SHIPMENT_STATUS, "status", body.get("status"))),
        )
        stamp = shipment.updated_at
    else:
        _only(body, {"role"})
        await call.authorize("setUserRole")
        user = await accounts.set_user_role(
            db, events, user_id=object_id, role=Role(_word(ROLE, "role", body.get("role")))
        )
        stamp = user.updated_at
    return {"updatedAt": iso(stamp)} | answer


async def _count(call: Call, item_id: str, quantity: int) -> Item:
    """A plain quantity is a recorded count of the item's sku in its bin (movement `count`)."""
    user = await call.authorize("countBin")
    db = call.resources.db
    found = await search.find(db, "items", (Condition("id", Op.EQ, item_id),), limit=1)
    if not found:
        raise not_found()
    item: Item = found[0]
    await floor.count_bin(
        db,
        call.resources.events,
        bin_id=item.bin_id,
        lines=[(item.sku, quantity)],
        complete=False,
        expected_version=None,
        user=user,
    )
    after: list[Item] = await search.find(db, "items", (Condition("id", Op.EQ, item_id),), limit=1)
    if not after:
        raise not_found()
    return after[0]


async def _order_status(call: Call, order_id: str, value: Any) -> Order:
    """`fulfilled` fulfils, `cancelled` cancels; any other target is an invalid transition."""
    target = OrderStatus(_word(ORDER_STATUS, "status", value))
    db = call.resources.db
    if target is OrderStatus.FULFILLED:
        user = await call.authorize("fulfillOrder")
        return await orders.fulfil_order(db, call.resources.events, order_id=order_id, user=user)
    if target is OrderStatus.CANCELLED:
        user = await call.authorize("cancelOrder")
        return await orders.cancel_order(db, order_id=order_id, user=user)
    user = await call.authorize("readOrders")
    current = await orders.require_visible_order(db, order_id, user)
    raise InvalidTransition("order", current.status.value, target.value)


async def delete(call: Call, cls: ParseClass, object_id: str) -> dict[str, Any]:
    db, events = call.resources.db, call.resources.events
    if cls.name == "Item":
        await call.authorize("deleteItem")
        await inventory.delete_item(db, events, item_id=object_id)
    elif cls.name == "Bin":
        await call.authorize("deleteBin")
        await inventory.delete_bin(db, bin_id=object_id)
    elif cls.name == "Order":
        await call.authorize("deleteOrder")
        await orders.delete_order(db, order_id=object_id)
    elif cls.name == "Shipment":
        await call.authorize("deleteShipment")
        await orders.delete_shipment(db, events, shipment_id=object_id)
    else:
        raise read_only("_User", "Users are not deleted through /parse.")
    return {}
