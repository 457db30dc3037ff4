"""Order and shipment workflows; each goes through services.orders."""

from __future__ import annotations

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.orders.types import (
    CreateOrderInput,
    CreateShipmentInput,
    Order,
    Shipment,
)
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import orders as rules
from warehouse_gql.services import orders


@strawberry.type
class OrdersMutation:
    @strawberry.mutation(description="Place an order (MANAGER, or a CUSTOMER for themselves).")
    async def create_order(self, info: Info, input: CreateOrderInput) -> Order:
        user = await authorize(info, "createOrder")
        created = await orders.create_order(
            info.context.db,
            customer_name=input.customer_name,
            lines=[(line.sku, line.quantity) for line in input.items],
            idempotency_key=input.idempotency_key,
            user=user,
        )
        return Order.from_model(created)

    @strawberry.mutation(
        description="Pick every line of a PENDING order, fullest bin first: all or nothing."
    )
    async def fulfill_order(self, info: Info, id: strawberry.ID) -> Order:
        user = await authorize(info, "fulfillOrder")
        fulfilled = await orders.fulfil_order(
            info.context.db, info.context.events, order_id=id, user=user
        )
        return Order.from_model(fulfilled)

    @strawberry.mutation(description="Cancel a PENDING order (MANAGER, or its CUSTOMER).")
    async def cancel_order(self, info: Info, id: strawberry.ID) -> Order:
        user = await authorize(info, "cancelOrder")
        return Order.from_model(await orders.cancel_order(info.context.db, order_id=id, user=user))

    @strawberry.mutation(description="Delete an order without shipments (MANAGER).")
    async def delete_order(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        await authorize(info, "deleteOrder")
        return strawberry.ID(await orders.delete_order(info.context.db, order_id=id))

    @strawberry.mutation(
        description="Ship a FULFILLED (or already SHIPPED) order; the order becomes SHIPPED."
    )
    async def create_shipment(self, info: Info, input: CreateShipmentInput) -> Shipment:
        await authorize(info, "createShipment")
        created = await orders.create_shipment(
            info.context.db,
            info.context.events,
            order_id=input.order_id,
            carrier=input.carrier,
            tracking_number=input.tracking_number,
        )
        return Shipment.from_model(created)

    @strawberry.mutation(
        description="IN_TRANSIT → DELIVERED; setting the current status again is a no-op."
    )
    async def update_shipment_status(
        self, info: Info, id: strawberry.ID, status: rules.ShipmentStatus
    ) -> Shipment:
        await authorize(info, "updateShipmentStatus")
        updated = await orders.update_shipment_status(
            info.context.db,
            info.context.events,
            shipment_id=id,
            status=status,
        )
        return Shipment.from_model(updated)

    @strawberry.mutation(description="Delete a shipment (MANAGER).")
    async def delete_shipment(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        await authorize(info, "deleteShipment")
        return strawberry.ID(
            await orders.delete_shipment(info.context.db, info.context.events, shipment_id=id)
        )
