"""/orders and /shipments: the same services and reads as the GraphQL order fields. A customer
sees only their own orders and their shipments; another's is 404, as an unknown id."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from warehouse_gql.api import http
from warehouse_gql.api.rest.endpoints import (
    EXAMPLE_TIME,
    After,
    Body,
    Call,
    Endpoints,
    Id,
    Int32,
    Limit,
    Query,
    Reply,
    Resource,
    Time,
    resource_reply,
)
from warehouse_gql.api.rest.pages import Page, page_reply
from warehouse_gql.domain import access, models
from warehouse_gql.domain.orders import OrderStatus, ShipmentStatus
from warehouse_gql.services import orders
from warehouse_gql.store import orders as store
from warehouse_gql.store.ids import parse_id

routes = Endpoints("orders", "Orders, fulfilment and shipments.")


class OrderLine(Resource):
    sku: str
    quantity: int


class Pick(Resource):
    """What fulfilment took from one bin (the bin is null for customers)."""

    sku: str
    quantity: int
    bin_id: str | None
    bin_location: str | None


class Order(Resource):
    """A customer's order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6650a1c2e4b0f1a2b3c4d5f0",
                    "customerName": "ACME Ltd",
                    "items": [{"sku": "WID-BLUE", "quantity": 25}],
                    "status": "PENDING",
                    "createdById": "6650a1c2e4b0f1a2b3c4d5e1",
                    "picks": [],
                    "createdAt": EXAMPLE_TIME,
                    "updatedAt": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: Id
    customer_name: str
    items: list[OrderLine]
    status: OrderStatus
    created_by_id: Id = Field(description="The user who placed the order.")
    picks: list[Pick] = Field(description="Empty until the order is fulfilled.")
    created_at: Time
    updated_at: Time

    @classmethod
    def of(cls, order: models.Order, viewer: models.User) -> Order:
        stock = access.may_see_stock(viewer.role)
        return cls(
            id=order.id,
            customer_name=order.customer_name,
            items=[OrderLine(sku=line.sku, quantity=line.quantity) for line in order.lines],
            status=order.status,
            created_by_id=order.created_by,
            picks=[
                Pick(
                    sku=p.sku,
                    quantity=p.quantity,
                    bin_id=p.bin_id if stock else None,
                    bin_location=p.bin_location if stock else None,
                )
                for p in order.picks
            ],
            created_at=order.created_at,
            updated_at=order.updated_at,
        )


class Shipment(Resource):
    """What left the building for an order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6650a1c2e4b0f1a2b3c4d5f9",
                    "orderId": "6650a1c2e4b0f1a2b3c4d5f0",
                    "carrier": "DHL",
                    "trackingNumber": "JD0146000001",
                    "status": "IN_TRANSIT",
                    "revision": 1,
                    "createdAt": EXAMPLE_TIME,
                    "updatedAt": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: Id
    order_id: Id
    carrier: str
    tracking_number: str
    status: ShipmentStatus
    revision: int = Field(description="Incremented by every write (also its ETag).")
    created_at: Time
    updated_at: Time

    @classmethod
    def of(cls, shipment: models.Shipment) -> Shipment:
        return cls(
            id=shipment.id,
            order_id=shipment.order_id,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            status=shipment.status,
            revision=shipment.revision,
            created_at=shipment.created_at,
            updated_at=shipment.updated_at,
        )


class OrderPage(Page[Order]):
    """A page of orders in creation order."""


class ShipmentPage(Page[Shipment]):
    """A page of shipments in creation order."""


class OrderLineInput(Body):
    sku: str
    quantity: Int32 = Field(description="At least 1.")


class CreateOrder(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerName": "ACME Ltd",
                    "items": [
                        {"sku": "WID-BLUE", "quantity": 25},
                        {"sku": "GIZ-RED", "quantity": 2},
                    ],
                }
            ]
        }
    )

    customer_name: str = Field(description="1–200 characters.")
    items: list[OrderLineInput] = Field(
        description="1–100 lines, each sku once, every sku known to the warehouse."
    )


class CreateShipment(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "orderId": "6650a1c2e4b0f1a2b3c4d5f0",
                    "carrier": "DHL",
                    "trackingNumber": "JD0146000001",
                }
            ]
        }
    )

    order_id: str
    carrier: str = Field(description="1–64 characters.")
    tracking_number: str = Field(description="1–64 characters, unique per carrier.")


class UpdateShipment(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "DELIVERED"}]})

    status: ShipmentStatus = Field(
        description="IN_TRANSIT → DELIVERED; the current status again is a no-op."
    )


class OrdersQuery(Query):
    limit: Limit = None
    after: After = None
    status: OrderStatus | None = None


class ShipmentsQuery(Query):
    limit: Limit = None
    after: After = None
    order_id: str | None = None
    status: ShipmentStatus | None = None


# Orders


@routes.route(
    "GET",
    "/orders",
    operation_id="orders",
    summary="Orders in creation order (customers: their own)",
    query=OrdersQuery,
    response=OrderPage,
    link=True,
)
async def list_orders(call: Call) -> Reply:
    user = await call.authorize("readOrders")
    query = call.query(OrdersQuery)
    first = http.page_size(query.limit, field="limit")
    after = parse_id(http.decode_cursor(query.after))
    owner = access.owner_scope(user.role, user.id)
    found, more = await store.page_orders(
        call.db, first=first, after=after, status=query.status, owner=owner
    )
    total = await store.count_orders(call.db, status=query.status, owner=owner)
    return page_reply(call, OrderPage, [Order.of(o, user) for o in found], more, total)


@routes.route(
    "POST",
    "/orders",
    operation_id="createOrder",
    summary="Place an order (MANAGER, or a CUSTOMER for themselves)",
    description=(
        "With `Idempotency-Key`, the first request creates the order (201) and every repeat "
        "by the same user answers 200 with that same order, however concurrent."
    ),
    body=CreateOrder,
    response=Order,
    status=201,
    replay_status=200,
    location=True,
    etag=True,
    idempotency_key=True,
    errors=("FORBIDDEN", "CONFLICT"),
)
async def create_order(call: Call) -> Reply:
    user = await call.authorize("createOrder")
    body = call.body(CreateOrder)
    placed = await orders.place_order(
        call.db,
        customer_name=body.customer_name,
        lines=[(line.sku, line.quantity) for line in body.items],
        idempotency_key=call.request.headers.get("idempotency-key"),
        user=user,
    )
    reply = resource_reply(
        Order.of(placed.order, user), placed.order, status=201 if placed.created else 200
    )
    reply.headers["location"] = call.url(f"/orders/{placed.order.id}")
    return reply


@routes.route(
    "GET",
    "/orders/{id}",
    operation_id="order",
    summary="An order (another customer's is 404)",
    response=Order,
    etag=True,
    errors=("NOT_FOUND",),
)
async def get_order(call: Call) -> Reply:
    user = await call.authorize("readOrders")
    found = await orders.require_visible_order(call.db, call.path["id"], user)
    return resource_reply(Order.of(found, user), found)


@routes.route(
    "DELETE",
    "/orders/{id}",
    operation_id="deleteOrder",
    summary="Delete an order without shipments (MANAGER)",
    status=204,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "CONFLICT"),
)
async def delete_order(call: Call) -> Reply:
    await call.authorize("deleteOrder")
    await orders.delete_order(call.db, order_id=call.path["id"], precondition=call.precondition)
    return Reply(status=204)


@routes.route(
    "POST",
    "/orders/{id}/fulfill",
    operation_id="fulfillOrder",
    summary="Pick every line of a PENDING order, fullest bin first: all or nothing",
    response=Order,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "INSUFFICIENT_STOCK", "INVALID_TRANSITION"),
)
async def fulfill_order(call: Call) -> Reply:
    user = await call.authorize("fulfillOrder")
    fulfilled = await orders.fulfil_order(
        call.db, call.events, order_id=call.path["id"], user=user, precondition=call.precondition
    )
    return resource_reply(Order.of(fulfilled, user), fulfilled)


@routes.route(
    "POST",
    "/orders/{id}/cancel",
    operation_id="cancelOrder",
    summary="Cancel a PENDING order (MANAGER, or its CUSTOMER)",
    response=Order,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "INVALID_TRANSITION"),
)
async def cancel_order(call: Call) -> Reply:
    user = await call.authorize("cancelOrder")
    cancelled = await orders.cancel_order(
        call.db, order_id=call.path["id"], user=user, precondition=call.precondition
    )
    return resource_reply(Order.of(cancelled, user), cancelled)


# Shipments


@routes.route(
    "GET",
    "/shipments",
    operation_id="shipments",
    summary="Shipments in creation order (customers: of their own orders)",
    query=ShipmentsQuery,
    response=ShipmentPage,
    link=True,
)
async def list_shipments(call: Call) -> Reply:
    user = await call.authorize("readShipments")
    query = call.query(ShipmentsQuery)
    first = http.page_size(query.limit, field="limit")
    after = parse_id(http.decode_cursor(query.after))
    owner = access.owner_scope(user.role, user.id)
    order_oid = parse_id(query.order_id)
    if query.order_id is not None and order_oid is None:
        # A malformed order id names no order, so no shipments (as GraphQL's shipments(orderId:)).
        return page_reply(call, ShipmentPage, [], False, 0)
    found, more = await store.page_shipments(
        call.db, first=first, after=after, order_id=order_oid, status=query.status, owner=owner
    )
    total = await store.count_shipments(
        call.db, order_id=order_oid, status=query.status, owner=owner
    )
    return page_reply(call, ShipmentPage, [Shipment.of(s) for s in found], more, total)


@routes.route(
    "POST",
    "/shipments",
    operation_id="createShipment",
    summary="Ship a FULFILLED (or already SHIPPED) order",
    description="The order becomes SHIPPED; the shipment starts IN_TRANSIT.",
    body=CreateShipment,
    response=Shipment,
    status=201,
    location=True,
    etag=True,
    errors=("FORBIDDEN", "NOT_FOUND", "CONFLICT", "INVALID_TRANSITION"),
)
async def create_shipment(call: Call) -> Reply:
    await call.authorize("createShipment")
    body = call.body(CreateShipment)
    created = await orders.create_shipment(
        call.db,
        call.events,
        order_id=body.order_id,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    reply = resource_reply(Shipment.of(created), created, status=201)
    reply.headers["location"] = call.url(f"/shipments/{created.id}")
    return reply


@routes.route(
    "GET",
    "/shipments/{id}",
    operation_id="shipment",
    summary="A shipment (of another customer's order: 404)",
    response=Shipment,
    etag=True,
    errors=("NOT_FOUND",),
)
async def get_shipment(call: Call) -> Reply:
    user = await call.authorize("readShipments")
    found = await orders.require_visible_shipment(call.db, call.path["id"], user)
    return resource_reply(Shipment.of(found), found)


@routes.route(
    "PATCH",
    "/shipments/{id}",
    operation_id="updateShipmentStatus",
    summary="Mark a shipment DELIVERED",
    body=UpdateShipment,
    response=Shipment,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "INVALID_TRANSITION"),
)
async def update_shipment(call: Call) -> Reply:
    await call.authorize("updateShipmentStatus")
    updated = await orders.update_shipment_status(
        call.db,
        call.events,
        shipment_id=call.path["id"],
        status=call.body(UpdateShipment).status,
        precondition=call.precondition,
    )
    return resource_reply(Shipment.of(updated), updated)


@routes.route(
    "DELETE",
    "/shipments/{id}",
    operation_id="deleteShipment",
    summary="Delete a shipment (MANAGER)",
    status=204,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def delete_shipment(call: Call) -> Reply:
    await call.authorize("deleteShipment")
    await orders.delete_shipment(
        call.db, call.events, shipment_id=call.path["id"], precondition=call.precondition
    )
    return Reply(status=204)
