"""Reads of orders and shipments; a customer sees only their own."""

from __future__ import annotations

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.orders.types import Order, Shipment
from warehouse_gql.api.graphql.pagination import (
    NEWEST_FIRST,
    Connection,
    check_first,
    connection,
    decode_cursor,
)
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import access
from warehouse_gql.domain import orders as rules
from warehouse_gql.store import orders
from warehouse_gql.store.ids import parse_id


@strawberry.type
class OrdersQuery:
    @strawberry.field(
        description="An order by id; null when there is none or it is not yours to see."
    )
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        user = await authorize(info, "readOrders")
        oid = parse_id(id)
        found = None if oid is None else await info.context.loaders.orders_by_id.load(str(oid))
        if found is None or not access.may_see_order(user.role, user.id, found.created_by):
            return None
        return Order.from_model(found)

    @strawberry.field(
        description="Orders in creation order, optionally by status (customers: their own)."
    )
    async def orders(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        status: rules.OrderStatus | None = None,
        newest_first: NEWEST_FIRST = False,
    ) -> Connection[Order]:
        user = await authorize(info, "readOrders")
        db = info.context.db
        owner = access.owner_scope(user.role, user.id)
        wanted = status
        found, more = await orders.page_orders(
            db,
            first=check_first(first),
            after=decode_cursor(after),
            status=wanted,
            owner=owner,
            newest_first=bool(newest_first),
        )

        async def count() -> int:
            return await orders.count_orders(db, status=wanted, owner=owner)

        return connection([Order.from_model(o) for o in found], [o.id for o in found], more, count)

    @strawberry.field(
        description="A shipment by id; null when there is none or it is not yours to see."
    )
    async def shipment(self, info: Info, id: strawberry.ID) -> Shipment | None:
        user = await authorize(info, "readShipments")
        oid = parse_id(id)
        found = None if oid is None else await orders.get_shipment(info.context.db, oid)
        if found is None or not access.may_see_order(user.role, user.id, found.order_owner):
            return None
        return Shipment.from_model(found)

    @strawberry.field(
        description="Shipments in creation order, by order and status (customers: of their own orders)."
    )
    async def shipments(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        order_id: strawberry.ID | None = None,
        status: rules.ShipmentStatus | None = None,
        newest_first: NEWEST_FIRST = False,
    ) -> Connection[Shipment]:
        user = await authorize(info, "readShipments")
        db = info.context.db
        owner = access.owner_scope(user.role, user.id)
        first = check_first(first)
        cursor = decode_cursor(after)
        order_oid = parse_id(order_id)
        wanted = status

        async def count() -> int:
            if order_id is not None and order_oid is None:
                return 0
            return await orders.count_shipments(db, order_id=order_oid, status=wanted, owner=owner)

        if order_id is not None and order_oid is None:
            return connection([], [], False, count)
        found, more = await orders.page_shipments(
            db,
            first=first,
            after=cursor,
            order_id=order_oid,
            status=wanted,
            owner=owner,
            newest_first=bool(newest_first),
        )
        return connection(
            [Shipment.from_model(s) for s in found], [s.id for s in found], more, count
        )
