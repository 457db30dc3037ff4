"""Orders and shipments: placing, fulfilling (all or nothing), cancelling and shipping.

Every write runs in one transaction that also records its changes (store.changes): the
change feed delivers them, so nothing here publishes events itself."""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_gql.domain import access, preconditions
from warehouse_gql.domain import inventory as stock_rules
from warehouse_gql.domain import orders as rules
from warehouse_gql.domain.errors import BadUserInput, InvalidTransition, NotFound
from warehouse_gql.domain.models import Order, PickRecord, Shipment, User
from warehouse_gql.domain.orders import OrderStatus, ShipmentStatus
from warehouse_gql.domain.preconditions import Precondition
from warehouse_gql.live.bus import EventBus
from warehouse_gql.store import bins, items
from warehouse_gql.store import orders as store
from warehouse_gql.store.database import Database, Session
from warehouse_gql.store.ids import require_id


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    # False when an idempotency key named an order this user had already placed.
    created: bool


async def create_order(
    db: Database,
    *,
    customer_name: str,
    lines: list[tuple[str, int]],
    idempotency_key: str | None,
    user: User,
) -> Order:
    placed = await place_order(
        db,
        customer_name=customer_name,
        lines=lines,
        idempotency_key=idempotency_key,
        user=user,
    )
    return placed.order


async def place_order(
    db: Database,
    *,
    customer_name: str,
    lines: list[tuple[str, int]],
    idempotency_key: str | None,
    user: User,
) -> Placed:
    """Place an order; a repeat of an idempotency key returns the first order, not created."""
    customer_name = rules.clean_customer_name(customer_name)
    lines = rules.check_lines(lines)
    idempotency_key = rules.check_idempotency_key(idempotency_key)
    skus = [sku for sku, _ in lines]
    unknown = sorted(set(skus) - await items.known_skus(db, skus))
    if unknown:
        raise BadUserInput(
            f"The warehouse does not know sku {', '.join(unknown)}.", field="items.sku"
        )

    async def work(session: Session) -> tuple[Order, bool]:
        return await store.insert_order(
            db,
            session,
            customer_name=customer_name,
            lines=lines,
            created_by=user.id,
            idempotency_key=idempotency_key,
        )

    try:
        order, created = await db.transaction(work)
    except store.DuplicateIdempotencyKey as repeat:
        assert idempotency_key is not None  # only keyed orders collide
        return Placed(
            await store.first_order_of_key(db, repeat.idempotency_id, idempotency_key), False
        )
    return Placed(order, created)


def _visible_order(order: Order | None, user: User) -> Order | None:
    """Another customer's order is invisible to a customer, never forbidden."""
    if order is None or not access.may_see_order(user.role, user.id, order.created_by):
        return None
    return order


async def require_visible_order(db: Database, order_id: str, user: User) -> Order:
    order = _visible_order(await store.get_order(db, require_id(order_id, "order")), user)
    if order is None:
        raise NotFound("order", order_id)
    return order


async def fulfil_order(
    db: Database,
    events: EventBus,
    *,
    order_id: str,
    user: User,
    precondition: Precondition | None = None,
) -> Order:
    """Pick every line, fullest bin first, in one transaction: all lines or nothing."""
    oid = require_id(order_id, "order")

    async def work(session: Session) -> Order:
        order = await store.require_order(db, oid, session)
        preconditions.check(precondition, order)
        rules.check_order_transition(order.status, OrderStatus.FULFILLED)
        lines = [(line.sku, line.quantity) for line in order.lines]
        stock = await items.stock_of_skus(db, [sku for sku, _ in lines], session)
        plan = stock_rules.allocate_picks(
            lines,
            [
                stock_rules.StockSource(
                    sku=i.sku, item_id=i.id, bin_id=i.bin_id, quantity=i.quantity
                )
                for i in stock
            ],
        )
        # Each sku once per order, so each item once; a bin may hold several of the skus.
        # If another transaction touched these documents since our snapshot, this is a write
        # conflict and the whole fulfilment is retried against fresh stock.
        taken = await items.change_quantities(
            db, session, [(require_id(p.item_id, "item"), -p.quantity) for p in plan]
        )
        await db.checkpoint("fulfill.items")
        by_bin: dict[str, int] = {}
        for pick in plan:
            by_bin[pick.bin_id] = by_bin.get(pick.bin_id, 0) - pick.quantity
        emptied = await bins.change_loads(
            db, session, [(require_id(b, "bin"), delta) for b, delta in by_bin.items()]
        )
        bin_of = {b.id: b for b in emptied}
        picks = [
            PickRecord(
                sku=p.sku,
                quantity=p.quantity,
                bin_id=p.bin_id,
                bin_location=bin_of[p.bin_id].location,
            )
            for p in plan
        ]
        ledger = [
            items.movement(
                item=item,
                bin=bin_of[p.bin_id],
                delta=-p.quantity,
                reason=stock_rules.MovementReason.FULFILL,
                user_id=user.id,
                order_id=order.id,
            )
            for item, p in zip(taken, plan, strict=True)
        ]
        await items.record_movements(db, session, ledger)
        fulfilled = await store.set_order_status(
            db,
            session,
            oid,
            expected=[OrderStatus.PENDING],
            status=OrderStatus.FULFILLED,
            picks=picks,
            read=order,
        )
        if fulfilled is None:
            raise InvalidTransition("order", order.status.value, OrderStatus.FULFILLED.value)
        return fulfilled

    return await db.transaction(work)


async def cancel_order(
    db: Database, *, order_id: str, user: User, precondition: Precondition | None = None
) -> Order:
    order = await require_visible_order(db, order_id, user)
    rules.check_order_transition(order.status, OrderStatus.CANCELLED)
    oid = require_id(order_id, "order")

    async def work(session: Session) -> Order:
        if precondition is not None:
            preconditions.check(precondition, await store.require_order(db, oid, session))
        cancelled = await store.set_order_status(
            db, session, oid, expected=[OrderStatus.PENDING], status=OrderStatus.CANCELLED
        )
        if cancelled is None:
            current = await store.require_order(db, oid, session)
            raise InvalidTransition("order", current.status.value, OrderStatus.CANCELLED.value)
        return cancelled

    return await db.transaction(work)


async def delete_order(
    db: Database, *, order_id: str, precondition: Precondition | None = None
) -> str:
    oid = require_id(order_id, "order")

    async def work(session: Session) -> None:
        if precondition is not None:
            preconditions.check(precondition, await store.require_order(db, oid, session))
        await store.delete_order(db, session, oid)

    await db.transaction(work)
    return order_id


async def create_shipment(
    db: Database, events: EventBus, *, order_id: str, carrier: str, tracking_number: str
) -> Shipment:
    oid = require_id(order_id, "order")
    carrier = rules.clean_carrier(carrier)
    tracking_number = rules.clean_tracking_number(tracking_number)

    async def work(session: Session) -> Shipment:
        order = await store.require_order(db, oid, session)
        if (
            order.status not in rules.SHIPPABLE
            or await store.set_order_status(
                db,
                session,
                oid,
                expected=list(rules.SHIPPABLE),
                status=OrderStatus.SHIPPED,
                read=order,
            )
            is None
        ):
            raise InvalidTransition("order", order.status.value, OrderStatus.SHIPPED.value)
        return await store.insert_shipment(
            db, session, order=order, carrier=carrier, tracking_number=tracking_number
        )

    return await db.transaction(work)


async def update_shipment_status(
    db: Database,
    events: EventBus,
    *,
    shipment_id: str,
    status: ShipmentStatus,
    precondition: Precondition | None = None,
) -> Shipment:
    oid = require_id(shipment_id, "shipment")

    async def work(session: Session) -> tuple[Shipment, bool]:
        current = await store.require_shipment(db, oid, session)
        preconditions.check(precondition, current)
        # Read inside the transaction: when a concurrent request sets the same status first,
        # our write conflicts, the retry sees the new status and this becomes the no-op.
        if rules.shipment_transition_is_noop(current.status, status):
            return current, False
        updated = await store.set_shipment_status(
            db, session, oid, expected=current.status, status=status
        )
        return updated, True

    shipment, _ = await db.transaction(work)
    return shipment


async def delete_shipment(
    db: Database,
    events: EventBus,
    *,
    shipment_id: str,
    precondition: Precondition | None = None,
) -> str:
    oid = require_id(shipment_id, "shipment")

    async def work(session: Session) -> Shipment:
        if precondition is not None:
            preconditions.check(precondition, await store.require_shipment(db, oid, session))
        return await store.delete_shipment(db, session, oid)

    await db.transaction(work)
    return shipment_id


async def require_visible_shipment(db: Database, shipment_id: str, user: User) -> Shipment:
    """A shipment the user may see; a shipment of another customer's order is NOT_FOUND."""
    found = await store.get_shipment(db, require_id(shipment_id, "shipment"))
    if found is None or not access.may_see_order(user.role, user.id, found.order_owner):
        raise NotFound("shipment", shipment_id)
    return found
