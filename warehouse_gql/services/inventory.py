"""Bins and stock: every quantity change updates the item, its bin's load and the ledger in
one transaction, with the change records of every item and bin it wrote (the change feed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from warehouse_gql.domain import inventory as rules
from warehouse_gql.domain import preconditions
from warehouse_gql.domain.changes import ChangeKind
from warehouse_gql.domain.errors import BadUserInput, NotFound, WarehouseError
from warehouse_gql.domain.models import Bin, Item, User
from warehouse_gql.domain.preconditions import Precondition
from warehouse_gql.live.bus import EventBus
from warehouse_gql.store import bins, items
from warehouse_gql.store.database import Database, Session
from warehouse_gql.store.ids import DocumentId, require_id


async def _check_item(
    db: Database, session: Session, item_id: str, precondition: Precondition | None
) -> None:
    """Inside the writing transaction: a change since the client's read is a write conflict,
    and the retry sees the new revision and refuses."""
    if precondition is not None:
        preconditions.check(
            precondition, await items.require_item(db, require_id(item_id, "item"), session)
        )


async def create_bin(db: Database, *, location: str, capacity: int) -> Bin:
    location = rules.clean_location(location)
    capacity = rules.check_capacity(capacity)

    async def work(session: Session) -> Bin:
        return await bins.insert_bin(db, session, location=location, capacity=capacity)

    return await db.transaction(work)


async def update_bin(
    db: Database,
    *,
    bin_id: str,
    location: str | None,
    capacity: int | None,
    precondition: Precondition | None = None,
) -> Bin:
    oid = require_id(bin_id, "bin")
    new_location = None if location is None else rules.clean_location(location)
    new_capacity = None if capacity is None else rules.check_capacity(capacity)

    async def work(session: Session) -> Bin:
        if precondition is not None:
            preconditions.check(precondition, await bins.require_bin(db, oid, session))
        return await bins.update_bin(db, session, oid, location=new_location, capacity=new_capacity)

    return await db.transaction(work)


async def delete_bin(db: Database, *, bin_id: str, precondition: Precondition | None = None) -> str:
    oid = require_id(bin_id, "bin")

    async def work(session: Session) -> None:
        if precondition is not None:
            preconditions.check(precondition, await bins.require_bin(db, oid, session))
        await bins.delete_bin(db, session, oid)

    await db.transaction(work)
    return bin_id


async def create_item(
    db: Database, events: EventBus, *, name: str, sku: str, bin_id: str, quantity: int, user: User
) -> Item:
    name = rules.clean_name(name)
    sku = rules.check_sku(sku)
    quantity = rules.check_quantity(quantity)
    bin_oid = require_id(bin_id, "bin")

    async def work(session: Session) -> tuple[Item, Bin]:
        # The sku already in the bin is a CONFLICT whatever the quantity, so insert first.
        found = await bins.require_bin(db, bin_oid, session)
        item = await items.insert_item(
            db, session, name=name, sku=sku, bin=found, quantity=quantity
        )
        # Touching the bin even for 0 units makes a concurrent deleteBin a write conflict.
        bin = await bins.change_load(db, session, bin_oid, quantity)
        if quantity:
            await items.record_movements(
                db,
                session,
                [
                    items.movement(
                        item=item,
                        bin=bin,
                        delta=quantity,
                        reason=rules.MovementReason.CREATE,
                        user_id=user.id,
                    )
                ],
            )
        return item, bin

    item, _ = await db.transaction(work)
    return item


async def update_item(
    db: Database,
    events: EventBus,
    *,
    item_id: str,
    name: str | None,
    precondition: Precondition | None = None,
) -> Item:
    oid = require_id(item_id, "item")
    if name is None:
        raise BadUserInput("Nothing to update: give a new name.", field="name")
    new_name = rules.clean_name(name)

    async def work(session: Session) -> tuple[Item, Bin]:
        await _check_item(db, session, item_id, precondition)
        item = await items.rename(db, session, oid, new_name)
        return item, await bins.require_bin(db, require_id(item.bin_id, "bin"), session)

    item, _ = await db.transaction(work)
    return item


async def adjust_item_quantity(
    db: Database,
    events: EventBus,
    *,
    item_id: str,
    delta: int,
    reason: str,
    user: User,
    precondition: Precondition | None = None,
) -> Item:
    oid = require_id(item_id, "item")
    delta = rules.check_delta(delta)
    reason = rules.clean_reason(reason)
    bin_id = await items.bin_of(db, oid)
    if bin_id is None:
        raise NotFound("item", item_id)
    # Every adjustment of a bin's items updates the bin's load: those waiting for the bin run
    # together, one transaction for several items (each item once, so each write keeps its
    # own change and answer).
    return await db.transaction_grouped(
        ("bin", bin_id),
        _adjust,
        _Adjustment(oid, delta, reason, user.id, precondition),
        joins=lambda group, part: all(a.item != part.item for a in group),
    )


@dataclass(frozen=True, slots=True)
class _Adjustment:
    item: DocumentId
    delta: int
    reason: str
    user_id: str
    precondition: Precondition | None


async def _adjust(db: Database, session: Session, parts: Sequence[_Adjustment]) -> list[Item]:
    """Adjustments of distinct items of one bin, in one transaction: each item's update, the
    bin's load once for all, the ledger lines in one insert."""
    for part in parts:
        await _check_item(db, session, str(part.item), part.precondition)
    adjusted = await items.change_quantities(db, session, [(p.item, p.delta) for p in parts])
    await db.checkpoint("adjust.items")
    bin_oid = require_id(adjusted[0].bin_id, "bin")
    # The sum fits exactly when the writes fit one after another, decreases first.
    bin = await bins.change_load(db, session, bin_oid, sum(p.delta for p in parts))
    await items.record_movements(
        db,
        session,
        [
            items.movement(item=item, bin=bin, delta=p.delta, reason=p.reason, user_id=p.user_id)
            for item, p in zip(adjusted, parts, strict=True)
        ],
    )
    return adjusted


async def move_item(
    db: Database,
    events: EventBus,
    *,
    item_id: str,
    to_bin_id: str,
    quantity: int,
    user: User,
    precondition: Precondition | None = None,
) -> Item:
    """Take units out of one item and into the same sku's item in another bin, atomically."""
    source_oid = require_id(item_id, "item")
    target_bin_oid = require_id(to_bin_id, "bin")
    quantity = rules.check_move_quantity(quantity)

    async def work(session: Session) -> tuple[Item, Bin, Item, Bin]:
        # A move into the item's own bin is wrong input whatever the stock: check it first.
        found = await items.require_item(db, source_oid, session)
        # If-Match names the source item, the one the client read.
        preconditions.check(precondition, found)
        if found.bin_id == to_bin_id:
            raise BadUserInput("toBinId is the bin the item is already in.", field="toBinId")
        source = await items.change_quantity(db, session, source_oid, -quantity)
        source_bin, target_bin = await bins.change_loads(
            db, session, [(require_id(source.bin_id, "bin"), -quantity), (target_bin_oid, quantity)]
        )
        target = await items.add_to_bin(
            db, session, sku=source.sku, name=source.name, bin=target_bin, delta=quantity
        )
        await items.record_movements(
            db,
            session,
            [
                items.movement(
                    item=source,
                    bin=source_bin,
                    delta=-quantity,
                    reason=rules.MovementReason.MOVE,
                    user_id=user.id,
                ),
                items.movement(
                    item=target,
                    bin=target_bin,
                    delta=quantity,
                    reason=rules.MovementReason.MOVE,
                    user_id=user.id,
                ),
            ],
        )
        return source, source_bin, target, target_bin

    _, _, target, _ = await db.transaction(work)
    return target


async def delete_item(
    db: Database, events: EventBus, *, item_id: str, precondition: Precondition | None = None
) -> str:
    oid = require_id(item_id, "item")

    async def work(session: Session) -> tuple[Item, Bin]:
        await _check_item(db, session, item_id, precondition)
        item = await items.delete_empty(db, session, oid)
        # Touch the bin so deleteBin and a delete of its last item serialise.
        bin = await bins.change_load(db, session, require_id(item.bin_id, "bin"), 0)
        return item, bin

    await db.transaction(work)
    return item_id


@dataclass(frozen=True)
class StockRow:
    """One line of an item import: `quantity` units of `sku` (named `name`) in the bin at
    `location`; `line` is its line number in the file, for messages."""

    line: int
    sku: str
    name: str
    location: str
    quantity: int


class ImportRowError(BadUserInput):
    """A row of an import that cannot be applied; nothing of the import was written."""

    def __init__(self, line: int, message: str, *, field: str | None = None) -> None:
        super().__init__(f"Line {line}: {message}", field=field)
        self.line = line


async def import_stock(
    db: Database, events: EventBus, *, rows: Sequence[StockRow], user_id: str | None = None
) -> tuple[int, int, int]:
    """Set each row's item to its quantity, all rows or none, in one transaction.

    An item missing from its bin is created there; a quantity that differs becomes one
    `import` movement of the difference, with the bin's load, so the ledger and loads stay
    exact. Bins must exist. Returns (items created, items changed, rows unchanged).
    """
    checked: list[StockRow] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        try:
            row = StockRow(
                line=row.line,
                sku=rules.check_sku(row.sku),
                name=rules.clean_name(row.name),
                location=rules.clean_location(row.location),
                quantity=rules.check_quantity(row.quantity),
            )
        except BadUserInput as exc:
            raise ImportRowError(row.line, exc.message, field=exc.field) from None
        key = (row.sku, rules.location_key(row.location))
        if key in seen:
            raise ImportRowError(
                row.line, f"{row.sku} in bin {row.location} is already on line {seen[key]}."
            )
        seen[key] = row.line
        checked.append(row)

    async def work(session: Session) -> tuple[list[ChangeKind], int]:
        changes: list[ChangeKind] = []
        unchanged = 0
        for row in checked:
            try:
                change = await _apply_row(db, session, row, user_id)
            except ImportRowError:
                raise
            except WarehouseError as exc:
                raise ImportRowError(row.line, exc.message) from None
            if change is None:
                unchanged += 1
            else:
                changes.append(change)
        return changes, unchanged

    changes, unchanged = await db.transaction(work)
    created = sum(1 for c in changes if c is ChangeKind.CREATED)
    return created, len(changes) - created, unchanged


async def _apply_row(
    db: Database, session: Session, row: StockRow, user_id: str | None
) -> ChangeKind | None:
    bin = await bins.bin_by_location(db, row.location, session)
    if bin is None:
        raise ImportRowError(row.line, f"No bin at location {row.location!r}.", field="bin")
    bin_oid = require_id(bin.id, "bin")
    existing = await items.item_of_sku_in_bin(db, session, sku=row.sku, bin_id=bin_oid)
    if existing is None:
        item = await items.insert_item(
            db, session, name=row.name, sku=row.sku, bin=bin, quantity=row.quantity
        )
        bin = await bins.change_load(db, session, bin_oid, row.quantity)
        if row.quantity:
            await items.record_movements(
                db,
                session,
                [
                    items.movement(
                        item=item, bin=bin, delta=row.quantity, reason="import", user_id=user_id
                    )
                ],
            )
        return ChangeKind.CREATED
    item_oid = require_id(existing.id, "item")
    delta = row.quantity - existing.quantity
    item = existing
    if row.name != existing.name:
        item = await items.rename(db, session, item_oid, row.name)
    if delta:
        item = await items.change_quantity(db, session, item_oid, delta)
        bin = await bins.change_load(db, session, bin_oid, delta)
        await items.record_movements(
            db,
            session,
            [items.movement(item=item, bin=bin, delta=delta, reason="import", user_id=user_id)],
        )
    if item is existing:
        return None
    return ChangeKind.UPDATED
