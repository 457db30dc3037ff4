"""Orders and shipments: placing, fulfilling all-or-nothing, cancelling, shipping, delivering."""

from __future__ import annotations

import asyncio
from typing import Any

from bson import ObjectId

from tests import given
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.invariants import assert_invariants
from tests.names import unique
from warehouse_gql.api.http import Resources

UPDATE_SHIPMENT = (
    "mutation($id: ID!, $s: ShipmentStatus!) "
    "{ updateShipmentStatus(id: $id, status: $s) { id status updatedAt order { id status } } }"
)
DELETE_ORDER = "mutation($id: ID!) { deleteOrder(id: $id) }"
GET_ORDER = (
    "query($id: ID!) { order(id: $id) { id status picks { sku quantity bin { id } } "
    "createdBy { id username role } shipments { id carrier trackingNumber status } } }"
)
GET_SHIPMENT = (
    "query($id: ID!) { shipment(id: $id) { id status "
    "order { id customerName status createdBy { id } shipments { id } } } }"
)
ORDER_MOVEMENTS = (
    "query($s: String) { movements(sku: $s, first: 100) "
    "{ edges { node { delta quantityAfter reason orderId bin { id } } } } }"
)


async def stocked_sku(
    gql: GraphQLClient, token: str, quantities: list[int], capacity: int = 100
) -> tuple[str, list[dict[str, Any]]]:
    """A fresh sku held in one fresh bin per quantity; returns the sku and the items."""
    sku = unique("SKU")
    made = []
    for quantity in quantities:
        b = await given.bin(gql, token, capacity=capacity)
        made.append(await given.item(gql, token, bin_id=b["id"], quantity=quantity, sku=sku))
    return sku, made


async def fulfilled_order(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account
) -> dict[str, Any]:
    sku, _ = await stocked_sku(gql, manager.token, [5])
    placed = await given.order(gql, customer.token, [(sku, 2)])
    fulfilled: dict[str, Any] = (await gql.ok(given.FULFILL, {"id": placed["id"]}, picker.token))[
        "fulfillOrder"
    ]
    return fulfilled


async def ship(
    gql: GraphQLClient, token: str, order_id: str, carrier: str = "DHL"
) -> dict[str, Any]:
    fields = {"orderId": order_id, "carrier": carrier, "trackingNumber": unique("TRK")}
    shipment: dict[str, Any] = (await gql.ok(given.CREATE_SHIPMENT, {"i": fields}, token))[
        "createShipment"
    ]
    return shipment


async def orders_by(resources: Resources, account: Account) -> int:
    return await resources.db.orders.count_documents({"createdBy": ObjectId(account.id)})


# createOrder


async def test_a_customer_places_a_pending_order_for_themselves(
    gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [3])
    placed = await given.order(gql, customer.token, [(sku, 2)], customer_name="  Grace Hopper ")
    assert placed["customerName"] == "Grace Hopper"
    assert placed["status"] == "PENDING"
    assert placed["items"] == [{"sku": sku, "quantity": 2}]
    assert placed["picks"] == []
    assert placed["createdBy"] == {"id": customer.id, "username": customer.username}


async def test_an_order_may_ask_for_more_than_is_in_stock(
    gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    # Stock is checked at fulfilment, not when ordering.
    sku, _ = await stocked_sku(gql, manager.token, [1])
    assert (await given.order(gql, customer.token, [(sku, 50)]))["status"] == "PENDING"


async def test_invalid_orders_are_bad_user_input_naming_the_field_and_create_nothing(
    gql: GraphQLClient, manager: Account, customer: Account, resources: Resources
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [3])
    other, _ = await stocked_sku(gql, manager.token, [3])
    unknown = unique("NOPE")
    cases: list[tuple[str, list[tuple[str, int]], str, str | None]] = [
        ("Ada", [], "items", "0"),
        ("Ada", [(f"{sku}-{i}", 1) for i in range(101)], "items", "101"),
        ("Ada", [(sku, 1), (other, 1), (sku, 2)], "items.sku", sku),
        ("Ada", [(sku, 1), (unknown, 1)], "items.sku", unknown),
        ("Ada", [(sku, 1), (other, 0)], "items.quantity", other),
        ("Ada", [(sku, -1)], "items.quantity", sku),
        ("   ", [(sku, 1)], "customerName", None),
        ("", [(sku, 1)], "customerName", None),
    ]
    before = await orders_by(resources, customer)
    for customer_name, lines, field, named in cases:
        fields = {
            "customerName": customer_name,
            "items": [{"sku": s, "quantity": q} for s, q in lines],
        }
        error = await gql.error(given.CREATE_ORDER, {"i": fields}, customer.token)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (lines, error)
        assert error["extensions"]["field"] == field, (lines, error)
        if named is not None:
            assert named in error["message"], error
    assert await orders_by(resources, customer) == before


async def test_a_hundred_lines_are_accepted(
    gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    b = await given.bin(gql, manager.token, capacity=100)
    skus = [
        (await given.item(gql, manager.token, bin_id=b["id"], quantity=1))["sku"]
        for _ in range(100)
    ]
    placed = await given.order(gql, customer.token, [(s, 1) for s in skus])
    assert len(placed["items"]) == 100


async def test_repeating_an_idempotency_key_returns_the_first_order(
    gql: GraphQLClient, manager: Account, customer: Account, resources: Resources
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [3])
    key = unique("key")
    first = await given.order(gql, customer.token, [(sku, 1)], idempotency_key=key)
    again = await given.order(
        gql, customer.token, [(sku, 2)], customer_name="Someone else", idempotency_key=key
    )
    assert again == first
    assert await resources.db.orders.count_documents({"idempotencyId": f"{customer.id}:{key}"}) == 1


# fulfillOrder


async def test_fulfilment_takes_the_fullest_bin_first_and_records_the_picks(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    sku, made = await stocked_sku(gql, manager.token, [5, 12, 8])
    small, full, middle = made
    placed = await given.order(gql, customer.token, [(sku, 15)])
    fulfilled = (await gql.ok(given.FULFILL, {"id": placed["id"]}, picker.token))["fulfillOrder"]
    assert fulfilled["status"] == "FULFILLED"
    assert fulfilled["picks"] == [
        {
            "sku": sku,
            "quantity": 12,
            "bin": {"id": full["bin"]["id"], "location": full["bin"]["location"]},
        },
        {
            "sku": sku,
            "quantity": 3,
            "bin": {"id": middle["bin"]["id"], "location": middle["bin"]["location"]},
        },
    ]
    ledger = (await gql.ok(ORDER_MOVEMENTS, {"s": sku}, manager.token))["movements"]["edges"]
    fulfill_lines = [e["node"] for e in ledger if e["node"]["reason"] == "fulfil"]
    assert fulfill_lines == [
        {
            "delta": -12,
            "quantityAfter": 0,
            "reason": "fulfil",
            "orderId": placed["id"],
            "bin": {"id": full["bin"]["id"]},
        },
        {
            "delta": -3,
            "quantityAfter": 5,
            "reason": "fulfil",
            "orderId": placed["id"],
            "bin": {"id": middle["bin"]["id"]},
        },
    ]
    level = await gql.ok("query($s: String!) { stockLevel(sku: $s) }", {"s": sku}, manager.token)
    assert level["stockLevel"] == 10
    raw = await resources.db.items.find_one({"_id": ObjectId(small["id"])})
    assert raw is not None
    assert raw["quantity"] == 5
    picked_by = await resources.db.movements.distinct("userId", {"orderId": ObjectId(placed["id"])})
    assert picked_by == [ObjectId(picker.id)]
    await assert_invariants(resources.db, skus=[sku], order_ids=[placed["id"]])


async def test_fulfilment_picks_every_line(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    first, _ = await stocked_sku(gql, manager.token, [4])
    second, _ = await stocked_sku(gql, manager.token, [2, 2])
    placed = await given.order(gql, customer.token, [(first, 4), (second, 3)])
    fulfilled = (await gql.ok(given.FULFILL, {"id": placed["id"]}, manager.token))["fulfillOrder"]
    picked: dict[str, int] = {}
    for pick in fulfilled["picks"]:
        picked[pick["sku"]] = picked.get(pick["sku"], 0) + pick["quantity"]
    assert picked == {first: 4, second: 3}
    await assert_invariants(resources.db, skus=[first, second], order_ids=[placed["id"]])


async def test_a_short_line_fails_the_whole_fulfilment_naming_the_sku_and_changes_nothing(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    plenty, _ = await stocked_sku(gql, manager.token, [10])
    scarce, _ = await stocked_sku(gql, manager.token, [2, 1])
    placed = await given.order(gql, customer.token, [(plenty, 5), (scarce, 7)])
    skus = [plenty, scarce]
    before = await given.raw_state(resources.db, skus=skus, order_ids=[placed["id"]])
    error = await gql.error(given.FULFILL, {"id": placed["id"]}, picker.token)
    assert error["extensions"]["code"] == "INSUFFICIENT_STOCK"
    assert f"{scarce} (short by 4)" in error["message"]
    assert plenty not in error["message"]
    assert await given.raw_state(resources.db, skus=skus, order_ids=[placed["id"]]) == before
    order = (await gql.ok(GET_ORDER, {"id": placed["id"]}, picker.token))["order"]
    assert order["status"] == "PENDING"
    assert order["picks"] == []


async def test_an_order_cannot_be_fulfilled_twice(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [10])
    placed = await given.order(gql, customer.token, [(sku, 3)])
    await gql.ok(given.FULFILL, {"id": placed["id"]}, picker.token)
    before = await given.raw_state(resources.db, skus=[sku], order_ids=[placed["id"]])
    error = await gql.error(given.FULFILL, {"id": placed["id"]}, picker.token)
    assert error["extensions"]["code"] == "INVALID_TRANSITION"
    assert "FULFILLED" in error["message"]
    assert await given.raw_state(resources.db, skus=[sku], order_ids=[placed["id"]]) == before
    await assert_invariants(resources.db, skus=[sku], order_ids=[placed["id"]])


async def test_a_cancelled_order_cannot_be_fulfilled(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [10])
    placed = await given.order(gql, customer.token, [(sku, 3)])
    await gql.ok(given.CANCEL, {"id": placed["id"]}, customer.token)
    before = await given.raw_state(resources.db, skus=[sku], order_ids=[placed["id"]])
    assert await gql.code(given.FULFILL, {"id": placed["id"]}, picker.token) == "INVALID_TRANSITION"
    assert await given.raw_state(resources.db, skus=[sku], order_ids=[placed["id"]]) == before


async def test_fulfilling_an_unknown_order_is_not_found(
    gql: GraphQLClient, picker: Account
) -> None:
    for order_id in (str(ObjectId()), "nonsense"):
        assert await gql.code(given.FULFILL, {"id": order_id}, picker.token) == "NOT_FOUND"


# cancelOrder and deleteOrder


async def test_a_pending_order_can_be_cancelled_once(
    gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [1])
    placed = await given.order(gql, customer.token, [(sku, 1)])
    cancelled = (await gql.ok(given.CANCEL, {"id": placed["id"]}, customer.token))["cancelOrder"]
    assert cancelled["status"] == "CANCELLED"
    error = await gql.error(given.CANCEL, {"id": placed["id"]}, manager.token)
    assert error["extensions"]["code"] == "INVALID_TRANSITION"


async def test_a_fulfilled_order_cannot_be_cancelled(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    fulfilled = await fulfilled_order(gql, manager, customer, picker)
    before = await given.raw_state(resources.db, order_ids=[fulfilled["id"]])
    error = await gql.error(given.CANCEL, {"id": fulfilled["id"]}, manager.token)
    assert error["extensions"]["code"] == "INVALID_TRANSITION"
    assert "FULFILLED" in error["message"]
    assert "CANCELLED" in error["message"]
    assert await given.raw_state(resources.db, order_ids=[fulfilled["id"]]) == before


async def test_an_order_with_shipments_cannot_be_deleted_but_one_without_can(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account
) -> None:
    shipped = await fulfilled_order(gql, manager, customer, picker)
    await ship(gql, picker.token, shipped["id"])
    assert await gql.code(DELETE_ORDER, {"id": shipped["id"]}, manager.token) == "CONFLICT"
    assert (await gql.ok(GET_ORDER, {"id": shipped["id"]}, manager.token))["order"] is not None

    unshipped = await fulfilled_order(gql, manager, customer, picker)
    deleted = await gql.ok(DELETE_ORDER, {"id": unshipped["id"]}, manager.token)
    assert deleted["deleteOrder"] == unshipped["id"]
    assert (await gql.ok(GET_ORDER, {"id": unshipped["id"]}, manager.token))["order"] is None
    assert await gql.code(DELETE_ORDER, {"id": unshipped["id"]}, manager.token) == "NOT_FOUND"


# Shipments


async def test_a_pending_order_cannot_be_shipped(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [1])
    placed = await given.order(gql, customer.token, [(sku, 1)])
    tracking = unique("TRK")
    fields = {"orderId": placed["id"], "carrier": "DHL", "trackingNumber": tracking}
    error = await gql.error(given.CREATE_SHIPMENT, {"i": fields}, picker.token)
    assert error["extensions"]["code"] == "INVALID_TRANSITION"
    assert "PENDING" in error["message"]
    assert await resources.db.shipments.count_documents({"trackingNumber": tracking}) == 0
    order = (await gql.ok(GET_ORDER, {"id": placed["id"]}, picker.token))["order"]
    assert order["status"] == "PENDING"
    assert order["shipments"] == []


async def test_a_cancelled_order_cannot_be_shipped(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account
) -> None:
    sku, _ = await stocked_sku(gql, manager.token, [1])
    placed = await given.order(gql, customer.token, [(sku, 1)])
    await gql.ok(given.CANCEL, {"id": placed["id"]}, customer.token)
    fields = {"orderId": placed["id"], "carrier": "DHL", "trackingNumber": unique("TRK")}
    assert (
        await gql.code(given.CREATE_SHIPMENT, {"i": fields}, picker.token) == "INVALID_TRANSITION"
    )


async def test_shipping_a_fulfilled_order_makes_it_shipped_and_the_shipment_in_transit(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account
) -> None:
    fulfilled = await fulfilled_order(gql, manager, customer, picker)
    tracking = unique("TRK")
    fields = {"orderId": fulfilled["id"], "carrier": " UPS ", "trackingNumber": tracking}
    shipment = (await gql.ok(given.CREATE_SHIPMENT, {"i": fields}, picker.token))["createShipment"]
    assert shipment["carrier"] == "UPS"
    assert shipment["trackingNumber"] == tracking
    assert shipment["status"] == "IN_TRANSIT"
    assert shipment["order"] == {"id": fulfilled["id"], "status": "SHIPPED"}
    # A second parcel for an order already shipped is allowed.
    second = await ship(gql, picker.token, fulfilled["id"], carrier="UPS")
    assert second["order"]["status"] == "SHIPPED"


async def test_a_tracking_number_is_unique_per_carrier(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    first = await fulfilled_order(gql, manager, customer, picker)
    second = await fulfilled_order(gql, manager, customer, picker)
    tracking = unique("TRK")
    await gql.ok(
        given.CREATE_SHIPMENT,
        {"i": {"orderId": first["id"], "carrier": "DHL", "trackingNumber": tracking}},
        picker.token,
    )
    error = await gql.error(
        given.CREATE_SHIPMENT,
        {"i": {"orderId": second["id"], "carrier": "DHL", "trackingNumber": tracking}},
        picker.token,
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert tracking in error["message"]
    # The failed shipment changed nothing: the second order is still only FULFILLED.
    order = (await gql.ok(GET_ORDER, {"id": second["id"]}, picker.token))["order"]
    assert order["status"] == "FULFILLED"
    assert order["shipments"] == []
    # The same number with another carrier is a different parcel.
    await gql.ok(
        given.CREATE_SHIPMENT,
        {"i": {"orderId": second["id"], "carrier": "FedEx", "trackingNumber": tracking}},
        picker.token,
    )
    assert await resources.db.shipments.count_documents({"trackingNumber": tracking}) == 2


async def test_a_shipment_is_delivered_once_and_delivering_again_is_a_noop(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account
) -> None:
    fulfilled = await fulfilled_order(gql, manager, customer, picker)
    shipment = await ship(gql, picker.token, fulfilled["id"])
    # Setting IN_TRANSIT again is a no-op too.
    same = (await gql.ok(UPDATE_SHIPMENT, {"id": shipment["id"], "s": "IN_TRANSIT"}, picker.token))[
        "updateShipmentStatus"
    ]
    assert same["status"] == "IN_TRANSIT"
    delivered = (
        await gql.ok(UPDATE_SHIPMENT, {"id": shipment["id"], "s": "DELIVERED"}, picker.token)
    )["updateShipmentStatus"]
    assert delivered["status"] == "DELIVERED"
    assert delivered["order"] == {"id": fulfilled["id"], "status": "SHIPPED"}
    again = (await gql.ok(UPDATE_SHIPMENT, {"id": shipment["id"], "s": "DELIVERED"}, picker.token))[
        "updateShipmentStatus"
    ]
    assert again == delivered
    error = await gql.error(
        UPDATE_SHIPMENT, {"id": shipment["id"], "s": "IN_TRANSIT"}, picker.token
    )
    assert error["extensions"]["code"] == "INVALID_TRANSITION"
    assert "DELIVERED" in error["message"]
    found = (await gql.ok(GET_SHIPMENT, {"id": shipment["id"]}, picker.token))["shipment"]
    assert found["status"] == "DELIVERED"


async def test_concurrent_deliveries_of_one_shipment_all_return_it_delivered(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account, resources: Resources
) -> None:
    fulfilled = await fulfilled_order(gql, manager, customer, picker)
    shipment = await ship(gql, picker.token, fulfilled["id"])
    bodies = await asyncio.gather(
        *(
            gql.post(UPDATE_SHIPMENT, {"id": shipment["id"], "s": "DELIVERED"}, picker.token)
            for _ in range(10)
        )
    )
    assert [body.get("errors") for body in bodies] == [None] * 10
    assert {body["data"]["updateShipmentStatus"]["status"] for body in bodies} == {"DELIVERED"}
    raw = await resources.db.shipments.find_one({"_id": ObjectId(shipment["id"])})
    # One real change: created at revision 1, delivered at revision 2.
    assert raw is not None
    assert raw["status"] == "DELIVERED"
    assert raw["revision"] == 2


async def test_updating_an_unknown_shipment_is_not_found(
    gql: GraphQLClient, picker: Account
) -> None:
    code = await gql.code(UPDATE_SHIPMENT, {"id": str(ObjectId()), "s": "DELIVERED"}, picker.token)
    assert code == "NOT_FOUND"


async def test_orders_and_shipments_resolve_each_other_and_their_creator(
    gql: GraphQLClient, manager: Account, customer: Account, picker: Account
) -> None:
    fulfilled = await fulfilled_order(gql, manager, customer, picker)
    first = await ship(gql, picker.token, fulfilled["id"])
    second = await ship(gql, picker.token, fulfilled["id"], carrier="UPS")
    order = (await gql.ok(GET_ORDER, {"id": fulfilled["id"]}, customer.token))["order"]
    assert order["createdBy"] == {
        "id": customer.id,
        "username": customer.username,
        "role": "CUSTOMER",
    }
    assert [(s["id"], s["carrier"], s["status"]) for s in order["shipments"]] == [
        (first["id"], "DHL", "IN_TRANSIT"),
        (second["id"], "UPS", "IN_TRANSIT"),
    ]
    shipment = (await gql.ok(GET_SHIPMENT, {"id": first["id"]}, customer.token))["shipment"]
    assert shipment["order"]["id"] == fulfilled["id"]
    assert shipment["order"]["status"] == "SHIPPED"
    assert shipment["order"]["createdBy"] == {"id": customer.id}
    assert shipment["order"]["shipments"] == [{"id": first["id"]}, {"id": second["id"]}]
