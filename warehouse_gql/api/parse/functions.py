"""Cloud functions (`POST /parse/functions/{name}`): each one of our operations, by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from warehouse_gql.api.parse.call import Call
from warehouse_gql.api.parse.classes import CLASSES, as_object, pointer
from warehouse_gql.api.parse.errors import SCRIPT_FAILED, VALIDATION_ERROR, ParseError
from warehouse_gql.domain import routing
from warehouse_gql.services import floor, inventory, orders
from warehouse_gql.store import items

Params = Mapping[str, Any]


def _param(params: Params, name: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    value = params.get(name)
    if value is None and not required:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ParseError(
            400,
            VALIDATION_ERROR,
            f"The parameter {name} must be {getattr(kind, '__name__', 'valid')}.",
            "BAD_USER_INPUT",
        )
    return value


def _int(params: Params, name: str) -> int:
    value = _param(params, name, (int, float))
    if value != int(value):
        raise ParseError(400, VALIDATION_ERROR, f"{name} must be a whole number.", "BAD_USER_INPUT")
    return int(value)


async def stock_level(call: Call, params: Params) -> Any:
    await call.authorize("stockLevel")
    return await items.stock_level(call.resources.db, _param(params, "sku", str))


async def adjust_item_quantity(call: Call, params: Params) -> Any:
    user = await call.authorize("adjustItemQuantity")
    item = await inventory.adjust_item_quantity(
        call.resources.db,
        call.resources.events,
        item_id=_param(params, "itemId", str),
        delta=_int(params, "delta"),
        reason=_param(params, "reason", str, required=False) or "parse",
        user=user,
    )
    return as_object(CLASSES["Item"], item, user)


async def move_item(call: Call, params: Params) -> Any:
    user = await call.authorize("moveItem")
    item = await inventory.move_item(
        call.resources.db,
        call.resources.events,
        item_id=_param(params, "itemId", str),
        to_bin_id=_param(params, "toBinId", str),
        quantity=_int(params, "quantity"),
        user=user,
    )
    return as_object(CLASSES["Item"], item, user)


async def count_bin(call: Call, params: Params) -> Any:
    user = await call.authorize("countBin")
    lines = _param(params, "lines", list)
    if not all(isinstance(line, dict) for line in lines):
        raise ParseError(
            400, VALIDATION_ERROR, "lines must be [{sku, quantity}].", "BAD_USER_INPUT"
        )
    expected = params.get("expectedVersion")
    bin = await floor.count_bin(
        call.resources.db,
        call.resources.events,
        bin_id=_param(params, "binId", str),
        lines=[(_param(line, "sku", str), _int(line, "quantity")) for line in lines],
        complete=bool(_param(params, "complete", bool, required=False)),
        expected_version=None if expected is None else _int(params, "expectedVersion"),
        user=user,
    )
    return as_object(CLASSES["Bin"], bin, user)


async def fulfill_order(call: Call, params: Params) -> Any:
    user = await call.authorize("fulfillOrder")
    order = await orders.fulfil_order(
        call.resources.db, call.resources.events, order_id=_param(params, "orderId", str), user=user
    )
    return as_object(CLASSES["Order"], order, user)


async def cancel_order(call: Call, params: Params) -> Any:
    user = await call.authorize("cancelOrder")
    order = await orders.cancel_order(
        call.resources.db, order_id=_param(params, "orderId", str), user=user
    )
    return as_object(CLASSES["Order"], order, user)


async def pick_list(call: Call, params: Params) -> Any:
    await call.authorize("pickList")
    ids = _param(params, "orderIds", list)
    strategy = _param(params, "strategy", str, required=False) or routing.Strategy.BEST.value
    try:
        chosen = routing.Strategy(strategy.upper())
    except ValueError:
        raise ParseError(
            400, VALIDATION_ERROR, f"strategy has no value {strategy!r}.", "BAD_USER_INPUT"
        ) from None
    found = await floor.pick_list(
        call.resources.db,
        call.resources.settings,
        order_ids=[str(i) for i in ids],
        strategy=chosen,
    )
    return {
        "strategy": found.strategy.value,
        "distance": found.distance,
        "baselineDistance": found.baseline_distance,
        "stops": [
            {
                "sequence": s.sequence,
                "bin": pointer("Bin", s.bin_id),
                "binLocation": s.bin_location,
                "sku": s.sku,
                "quantity": s.quantity,
                "order": pointer("Order", s.order_id),
            }
            for s in found.stops
        ],
    }


async def suggest_putaway(call: Call, params: Params) -> Any:
    user = await call.authorize("suggestPutaway")
    plan = await floor.suggest_putaway(
        call.resources.db, sku=_param(params, "sku", str), quantity=_int(params, "quantity")
    )
    return {
        "suggestions": [
            {"bin": as_object(CLASSES["Bin"], bin, user), "quantity": quantity}
            for bin, quantity in plan.suggestions
        ],
        "unplaced": plan.unplaced,
    }


FUNCTIONS: dict[str, Callable[[Call, Params], Awaitable[Any]]] = {
    "stockLevel": stock_level,
    "adjustItemQuantity": adjust_item_quantity,
    "moveItem": move_item,
    "countBin": count_bin,
    "fulfillOrder": fulfill_order,
    "cancelOrder": cancel_order,
    "pickList": pick_list,
    "suggestPutaway": suggest_putaway,
}


async def run(call: Call, name: str, params: Params) -> dict[str, Any]:
    function = FUNCTIONS.get(name)
    if function is None:
        raise ParseError(400, SCRIPT_FAILED, f'Invalid function: "{name}"', "NOT_FOUND")
    return {"result": await function(call, params)}
