"""Live feed of shipment changes; a customer only receives those of their own orders."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.orders.types import Shipment
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import access
from warehouse_gql.domain.models import User
from warehouse_gql.live import events as live
from warehouse_gql.live.revisions import Revisions


@strawberry.type(
    description="A shipment was created, changed or deleted; carries the state after it."
)
class ShipmentEvent:
    kind: live.ChangeKind
    shipment: Shipment


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
    ) -> AsyncGenerator[ShipmentEvent, None]:
        # Authorised before the stream starts: a refusal is an error at subscribe time.
        user = await authorize(info, "shipmentChanged")
        return _shipment_events(info, user, order_id, tracking_number)


async def _shipment_events(
    info: Info, user: User, order_id: str | None, tracking_number: str | None
) -> AsyncGenerator[ShipmentEvent, None]:
    revisions = Revisions()
    async with info.context.events.subscribe(live.SHIPMENTS_CHANNEL) as feed:
        async for event in feed:
            if not isinstance(event, live.ShipmentChanged):
                continue
            shipment = event.shipment
            if not revisions.is_new(shipment.id, shipment.revision):
                continue
            if not access.may_see_order(user.role, user.id, shipment.order_owner):
                continue
            if order_id is not None and shipment.order_id != order_id:
                continue
            if tracking_number is not None and shipment.tracking_number != tracking_number:
                continue
            info.context.fresh_loaders()
            yield ShipmentEvent(kind=event.kind, shipment=Shipment.from_model(shipment))
