"""Optimising the floor: pick walks, putaway plans, velocity slotting and cycle counts.

Everything here but countBin only reads; countBin writes its COUNT movements, item quantities
and the bin's load in one transaction, then publishes the items' events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from warehouse_gql.domain import counting, preconditions, putaway, routing, slotting
from warehouse_gql.domain import inventory as stock_rules
from warehouse_gql.domain.errors import BadUserInput, NotFound
from warehouse_gql.domain.layout import Layout
from warehouse_gql.domain.models import Bin, Item, User
from warehouse_gql.domain.orders import OrderStatus
from warehouse_gql.domain.preconditions import Precondition
from warehouse_gql.live.bus import EventBus
from warehouse_gql.settings import Settings
from warehouse_gql.store import bins, items, orders
from warehouse_gql.store.database import Database, Session
from warehouse_gql.store.ids import known_id, known_ids, parse_id, require_id

MAX_BATCH = 50


async def floor_layout(db: Database, settings: Settings) -> Layout:
    aisles, largest_rack = await bins.floor_extent(db)
    return Layout.of(
        aisles,
        largest_rack=largest_rack,
        bays_per_aisle=settings.layout_bays_per_aisle,
        spacing=settings.layout_aisle_spacing,
    )


# Pick lists


@dataclass(frozen=True, slots=True)
class PickStop:
    sequence: int
    bin_id: str
    bin_location: str
    sku: str
    quantity: int
    order_id: str


@dataclass(frozen=True, slots=True)
class PickList:
    stops: tuple[PickStop, ...]
    strategy: routing.Strategy
    distance: float
    baseline_distance: float


def _order_ids(order_ids: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(order_ids))
    if not 1 <= len(unique) <= MAX_BATCH:
        raise BadUserInput(
            f"orderIds must name 1 to {MAX_BATCH} orders, got {len(unique)}.", field="orderIds"
        )
    for order_id in unique:
        if parse_id(order_id) is None:
            raise NotFound("order", order_id)
    return unique


async def pick_list(
    db: Database, settings: Settings, *, order_ids: Sequence[str], strategy: routing.Strategy
) -> PickList:
    """One batch walk over the picks of these orders: the recorded picks of fulfilled (and
    shipped) orders, and for pending orders the picks fulfillOrder would make now."""
    wanted = _order_ids(order_ids)
    found = await orders.orders_by_ids(db, known_ids(wanted))
    for order_id in wanted:
        if order_id not in found:
            raise NotFound("order", order_id)
        if found[order_id].status is OrderStatus.CANCELLED:
            raise BadUserInput(
                f"Order {order_id} is CANCELLED: it has nothing to pick.", field="orderIds"
            )
    pending = [found[o] for o in wanted if found[o].status is OrderStatus.PENDING]
    planned: dict[str, list[stock_rules.Pick]] = {}
    if pending:
        skus = sorted({line.sku for order in pending for line in order.lines})
        stock = await items.stock_of_skus(db, skus)
        batches = stock_rules.allocate_batch(
            [[(line.sku, line.quantity) for line in order.lines] for order in pending],
            [
                stock_rules.StockSource(
                    sku=i.sku, item_id=i.id, bin_id=i.bin_id, quantity=i.quantity
                )
                for i in stock
            ],
        )
        planned = {order.id: picks for order, picks in zip(pending, batches, strict=True)}
    locations = await bins.bins_by_ids(
        db, known_ids(p.bin_id for picks in planned.values() for p in picks)
    )

    # One unnumbered stop per pick, in input order: orders as listed, picks as made.
    unnumbered: list[PickStop] = []
    for order_id in wanted:
        if order_id in planned:
            unnumbered += [
                PickStop(0, p.bin_id, locations[p.bin_id].location, p.sku, p.quantity, order_id)
                for p in planned[order_id]
            ]
        else:
            unnumbered += [
                PickStop(0, p.bin_id, p.bin_location, p.sku, p.quantity, order_id)
                for p in found[order_id].picks
            ]
    walk = routing.plan_walk(
        [stop.bin_location for stop in unnumbered], strategy, await floor_layout(db, settings)
    )
    stops = tuple(replace(unnumbered[i], sequence=n) for n, i in enumerate(walk.order, start=1))
    return PickList(stops, walk.strategy, walk.distance, walk.baseline_distance)


# Putaway


@dataclass(frozen=True, slots=True)
class PutawayPlan:
    suggestions: tuple[tuple[Bin, int], ...]
    unplaced: int


async def suggest_putaway(db: Database, *, sku: str, quantity: int) -> PutawayPlan:
    """Where `quantity` units of `sku` should go; reads only, reserves nothing."""
    sku = stock_rules.check_sku(sku)
    quantity = putaway.check_putaway_quantity(quantity)
    holding = known_ids(i.bin_id for i in await items.stock_of_skus(db, [sku]))
    by_id: dict[str, Bin] = {}
    rooms: list[putaway.Room] = []

    def room(b: Bin) -> putaway.Room:
        by_id[b.id] = b
        return putaway.Room(b.id, b.location, b.free_capacity)

    # Consolidation: the bins already holding the sku, in fit order.
    held_bins = await bins.bins_by_ids(db, holding) if holding else {}
    held = [room(b) for b in held_bins.values() if b.free_capacity]
    rooms += sorted(held, key=lambda r: putaway.fit_key(r, quantity))
    placed, left = putaway.fill(quantity, rooms)
    if left:
        # The tightest bin that takes everything left, from the freeCapacity index...
        whole = [
            room(b) async for b in bins.bins_with_room(db, at_least=left, exclude=holding, limit=1)
        ]
        if whole:
            more, left = putaway.fill(left, whole)
            placed += more
        else:
            # ...or, when none can, the roomiest bins first until it is all placed.
            async for b in bins.bins_with_room(
                db, at_least=1, below=left, exclude=holding, largest_first=True
            ):
                more, left = putaway.fill(left, [room(b)])
                placed += more
                if not left:
                    break
    return PutawayPlan(tuple((by_id[p.bin_id], p.quantity) for p in placed), left)


# Slotting


@dataclass(frozen=True, slots=True)
class SlottingRow:
    sku: str
    pick_lines: int
    units: int
    abc_class: str
    bins: tuple[Bin, ...]
    suggested_bin: Bin | None


async def slotting_report(db: Database, settings: Settings, *, days: int) -> list[SlottingRow]:
    """Per sku picked in the last `days` days: pick lines, units, ABC class, where it sits, and
    for fast movers far from the depot a nearer bin with room."""
    days = slotting.check_days(days)
    velocity = await items.pick_velocity(db, since=datetime.now(UTC) - timedelta(days=days))
    if not velocity:
        return []
    classes = slotting.abc_classes([lines for _, lines, _ in velocity])
    stock = [
        i for i in await items.stock_of_skus(db, [sku for sku, _, _ in velocity]) if i.quantity
    ]
    found = await bins.bins_by_ids(db, known_ids(sorted({i.bin_id for i in stock})))
    held: dict[str, list[Item]] = {}
    for item in sorted(stock, key=lambda i: (-i.quantity, found[i.bin_id].location.upper())):
        held.setdefault(item.sku, []).append(item)

    layout = await floor_layout(db, settings)
    movers: list[slotting.FastMover] = []
    for (sku, _, _), abc in zip(velocity, classes, strict=True):
        if abc != "A" or sku not in held:
            continue
        # The sku's main bin: the one holding most of it.
        main = held[sku][0]
        position = layout.position(found[main.bin_id].location)
        if position is not None:
            movers.append(slotting.FastMover(sku, position, main.quantity))
    suggested: dict[str, str] = {}
    candidates: dict[str, Bin] = {}
    if movers:
        async for b in bins.bins_with_room(db, at_least=min(m.quantity for m in movers)):
            candidates[b.id] = b
        suggested = slotting.suggest_bins(
            movers,
            [
                slotting.Candidate(b.id, b.location, p, b.free_capacity)
                for b in candidates.values()
                if (p := layout.position(b.location)) is not None
            ],
            layout,
        )
    return [
        SlottingRow(
            sku=sku,
            pick_lines=lines,
            units=units,
            abc_class=abc,
            bins=tuple(found[i.bin_id] for i in held.get(sku, [])),
            suggested_bin=candidates[suggested[sku]] if sku in suggested else None,
        )
        for (sku, lines, units), abc in zip(velocity, classes, strict=True)
    ]


# Cycle counts


async def count_bin(
    db: Database,
    events: EventBus,
    *,
    bin_id: str,
    lines: Sequence[tuple[str, int]],
    complete: bool,
    expected_version: int | None,
    user: User,
    precondition: Precondition | None = None,
) -> Bin:
    """Record what a count found in a bin: one COUNT movement per difference, in one transaction."""
    oid = require_id(bin_id, "bin")
    counted = counting.check_count_lines(lines, complete=complete)

    async def work(session: Session) -> Bin:
        current = await bins.require_bin(db, oid, session)
        preconditions.check(precondition, current)
        # Read in the snapshot: a write since then is a write conflict below, and the retry
        # sees the new version and refuses the now stale count.
        counting.check_version(current.location, current.version, expected_version)
        recorded_items = {i.sku: i for i in await items.items_in_bin(db, oid, session)}
        deltas = counting.count_differences(
            {sku: i.quantity for sku, i in recorded_items.items()}, counted, complete=complete
        )
        if not deltas:
            return current
        total = sum(deltas.values())
        counting.check_count_fits(current.location, current.capacity, current.current_load, total)
        # The bin is written even when the deltas cancel out, so its version moves on.
        after = await bins.change_load(db, session, oid, total)
        new_skus = [sku for sku in deltas if sku not in recorded_items]
        names = await items.names_of_skus(db, new_skus, session) if new_skus else {}
        counted_skus = sorted(deltas)
        known = [sku for sku in counted_skus if sku in recorded_items]
        changed = await items.change_quantities(
            db, session, [(known_id(recorded_items[sku].id), deltas[sku]) for sku in known]
        )
        by_sku = dict(zip(known, changed, strict=True))
        for sku in counted_skus:
            if sku not in by_sku:
                # Stock found where none was recorded; it goes by the sku's name elsewhere.
                by_sku[sku] = await items.add_to_bin(
                    db, session, sku=sku, name=names.get(sku, sku), bin=after, delta=deltas[sku]
                )
        await items.record_movements(
            db,
            session,
            [
                items.movement(
                    item=by_sku[sku],
                    bin=after,
                    delta=deltas[sku],
                    reason=counting.COUNT_REASON,
                    user_id=user.id,
                )
                for sku in counted_skus
            ],
        )
        return after

    # The items' changes are recorded by the transaction (the change feed delivers them).
    after = await db.transaction(work)
    return after
