"""Live feeds of order and shipment changes; a customer only receives those of their own orders."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.feed import streams
from warehouse_gql.api.graphql.feed.types import ChangeKind
from warehouse_gql.api.graphql.orders.types import Order, Shipment
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import models
from warehouse_gql.domain import orders as rules
from warehouse_gql.domain.changes import ChangeEntity, parse_cursor
from warehouse_gql.domain.models import User
from warehouse_gql.live import events as live

FeedAfter = Annotated[
    str | None,
    strawberry.argument(
        description="Resume after this change cursor: first every matching change after it, then live."
    ),
]


@strawberry.type(
    description="A shipment was created, changed or deleted; carries the state after it."
)
class ShipmentEvent:
    kind: ChangeKind
    shipment: Shipment
    cursor: str = strawberry.field(
        description="This change's place in the change feed; pass it as `after` to resume."
    )


@strawberry.type(
    description="An order was created, changed or deleted; carries the state after it."
)
class OrderEvent:
    kind: ChangeKind
    order: Order
    cursor: str = strawberry.field(
        description="This change's place in the change feed; pass it as `after` to resume."
    )


@strawberry.type
class OrdersSubscription:
    @strawberry.subscription(
        description="Every create, status change and delete of matching shipments."
    )
    async def shipment_changed(
        self,
        info: Info,
        order_id: strawberry.ID | None = None,
        tracking_number: str | None = None,
        after: FeedAfter = None,
    ) -> AsyncGenerator[ShipmentEvent, None]:
        # Authorised before the stream starts: a refusal is an error at subscribe time.
        user = await authorize(info, "shipmentChanged")
        parse_cursor(after)
        return _shipment_events(info, user, order_id, tracking_number, after)

    @strawberry.subscription(
        description="Every create, status change and delete of matching orders (customers: "
        "their own)."
    )
    async def order_changed(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        status: rules.OrderStatus | None = None,
        after: FeedAfter = None,
    ) -> AsyncGenerator[OrderEvent, None]:
        user = await authorize(info, "orderChanged")
        parse_cursor(after)
        return _order_events(info, user, id, status, after)


async def _shipment_events(
    info: Info, user: User, order_id: str | None, tracking_number: str | None, after: str | None
) -> AsyncGenerator[ShipmentEvent, None]:
    def wanted(shipment: models.Shipment) -> bool:
        return (order_id is None or shipment.order_id == order_id) and (
            tracking_number is None or shipment.tracking_number == tracking_number
        )

    async for change, shipment in streams.records(
        info, user, ChangeEntity.SHIPMENT, live.shipment_of, after=after, keep=wanted
    ):
        yield ShipmentEvent(
            kind=change.kind, shipment=Shipment.from_model(shipment), cursor=change.cursor
        )


async def _order_events(
    info: Info,
    user: User,
    order_id: str | None,
    status: rules.OrderStatus | None,
    after: str | None,
) -> AsyncGenerator[OrderEvent, None]:
    def wanted(order: models.Order) -> bool:
        return (order_id is None or order.id == order_id) and (
            status is None or order.status is status
        )

    async for change, order in streams.records(
        info, user, ChangeEntity.ORDER, live.order_of, after=after, keep=wanted
    ):
        yield OrderEvent(kind=change.kind, order=Order.from_model(order), cursor=change.cursor)
