"""Orders, picks and shipments as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from warehouse_gql.api.graphql.accounts.types import User
from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.inventory.types import Bin, load_bin
from warehouse_gql.domain import access, models
from warehouse_gql.domain import orders as rules

strawberry.enum(
    rules.OrderStatus, description="PENDING → FULFILLED → SHIPPED, or PENDING → CANCELLED."
)
strawberry.enum(rules.ShipmentStatus, description="IN_TRANSIT → DELIVERED.")


@strawberry.type(description="One line of an order: how many units of a sku.")
class OrderLine:
    sku: str
    quantity: int


@strawberry.type(description="What fulfilment took from one bin.")
class Pick:
    sku: str
    quantity: int
    bin_id: strawberry.Private[str]
    bin_location: strawberry.Private[str]
    picked_at: strawberry.Private[datetime]

    @strawberry.field(
        description="The bin it was taken from; null for customers, who never see bins."
    )
    async def bin(self, info: Info) -> Bin | None:
        reader = await info.context.user()
        if reader is None or not access.may_see_stock(reader.role):
            return None
        return await load_bin(info, self.bin_id, self.bin_location, self.picked_at)


@strawberry.type(description="A customer's order.")
class Order:
    id: strawberry.ID
    customer_name: str
    items: list[OrderLine]
    status: rules.OrderStatus
    picks: list[Pick] = strawberry.field(description="Empty until the order is fulfilled.")
    created_at: datetime
    updated_at: datetime
    owner_id: strawberry.Private[str]

    @strawberry.field(description="The user who placed the order.")
    async def created_by(self, info: Info) -> User | None:
        found = await info.context.loaders.users_by_id.load(self.owner_id)
        return None if found is None else User.from_model(found, await info.context.user())

    @strawberry.field(description="The order's shipments, oldest first.")
    async def shipments(self, info: Info) -> list[Shipment]:
        found = await info.context.loaders.shipments_by_order.load(str(self.id))
        return [Shipment.from_model(s) for s in found]

    @classmethod
    def from_model(cls, order: models.Order) -> Order:
        return cls(
            id=strawberry.ID(order.id),
            customer_name=order.customer_name,
            items=[OrderLine(sku=line.sku, quantity=line.quantity) for line in order.lines],
            status=order.status,
            picks=[
                Pick(
                    sku=p.sku,
                    quantity=p.quantity,
                    bin_id=p.bin_id,
                    bin_location=p.bin_location,
                    picked_at=order.updated_at,
                )
                for p in order.picks
            ],
            created_at=order.created_at,
            updated_at=order.updated_at,
            owner_id=order.created_by,
        )


@strawberry.type(description="A parcel that left the building for an order.")
class Shipment:
    id: strawberry.ID
    carrier: str
    tracking_number: str = strawberry.field(description="Unique per carrier.")
    status: rules.ShipmentStatus
    created_at: datetime
    updated_at: datetime
    order_id: strawberry.Private[str]

    @strawberry.field
    async def order(self, info: Info) -> Order:
        found = await info.context.loaders.orders_by_id.load(self.order_id)
        assert found is not None, "an order with shipments cannot be deleted"
        return Order.from_model(found)

    @classmethod
    def from_model(cls, s: models.Shipment) -> Shipment:
        return cls(
            id=strawberry.ID(s.id),
            carrier=s.carrier,
            tracking_number=s.tracking_number,
            status=s.status,
            created_at=s.created_at,
            updated_at=s.updated_at,
            order_id=s.order_id,
        )


@strawberry.input
class OrderLineInput:
    sku: str
    quantity: int = strawberry.field(description="At least 1.")


@strawberry.input
class CreateOrderInput:
    customer_name: str
    items: list[OrderLineInput] = strawberry.field(description="1–100 lines, each sku once.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Repeating a createOrder with the same key returns the first order.",
    )


@strawberry.input
class CreateShipmentInput:
    order_id: strawberry.ID
    carrier: str
    tracking_number: str
