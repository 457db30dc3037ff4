"""Bins, items and the movement ledger as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.domain import models
from warehouse_gql.domain.layout import parse_location


@strawberry.type(
    description="A place on the floor that holds stock, e.g. A-01-03 (aisle-rack-shelf)."
)
class Bin:
    id: strawberry.ID
    location: str
    capacity: int = strawberry.field(description="How many units the bin can hold.")
    current_load: int = strawberry.field(
        description="Units in the bin now: always the sum of its items' quantities."
    )
    free_capacity: int = strawberry.field(description="capacity − currentLoad.")
    aisle: str | None = strawberry.field(
        description="The aisle of an AISLE-RACK-SHELF location (upper case); null when it does not parse."
    )
    rack: int | None = strawberry.field(
        description="The rack (bay along the aisle) of an AISLE-RACK-SHELF location."
    )
    shelf: int | None = strawberry.field(
        description="The shelf (level) of an AISLE-RACK-SHELF location."
    )
    version: int = strawberry.field(
        description="Incremented by every write of the bin; countBin's expectedVersion compares it."
    )
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="The stock records in this bin, oldest first.")
    async def items(self, info: Info) -> list[Item]:
        return [Item.from_model(i) for i in await info.context.loaders.items_by_bin.load(self.id)]

    @classmethod
    def from_model(cls, bin: models.Bin) -> Bin:
        slot = bin.slot
        return cls(
            id=strawberry.ID(bin.id),
            location=bin.location,
            capacity=bin.capacity,
            current_load=bin.current_load,
            free_capacity=bin.free_capacity,
            aisle=None if slot is None else slot.aisle,
            rack=None if slot is None else slot.rack,
            shelf=None if slot is None else slot.shelf,
            version=bin.version,
            created_at=bin.created_at,
            updated_at=bin.updated_at,
        )

    @classmethod
    def gone(cls, bin_id: str, location: str, at: datetime) -> Bin:
        """A bin deleted since the record that names it: kept readable as an empty bin."""
        slot = parse_location(location)
        return cls(
            id=strawberry.ID(bin_id),
            location=location,
            capacity=0,
            current_load=0,
            free_capacity=0,
            aisle=None if slot is None else slot.aisle,
            rack=None if slot is None else slot.rack,
            shelf=None if slot is None else slot.shelf,
            version=0,
            created_at=at,
            updated_at=at,
        )


async def load_bin(info: Info, bin_id: str, location: str, at: datetime) -> Bin:
    found = await info.context.loaders.bins_by_id.load(bin_id)
    return Bin.gone(bin_id, location, at) if found is None else Bin.from_model(found)


@strawberry.type(description="A stock record: one sku in one bin.")
class Item:
    id: strawberry.ID
    name: str
    sku: str
    quantity: int
    created_at: datetime
    updated_at: datetime
    bin_id: strawberry.Private[str]
    # The bin, when the query that made this item read the bins of its page already.
    found_bin: strawberry.Private[Bin | None] = None

    @strawberry.field(description="The bin this stock sits in.")
    def bin(self, info: Info) -> Bin:
        if self.found_bin is not None:
            # No awaitable: graphql-core completes the whole item without suspending.
            return self.found_bin
        # graphql-core awaits what a resolver returns when it is awaitable.
        return self._load_bin(info)  # type: ignore[return-value]

    async def _load_bin(self, info: Info) -> Bin:
        found = await info.context.loaders.bins_by_id.load(self.bin_id)
        assert found is not None, "a bin with items cannot be deleted"
        return Bin.from_model(found)

    @classmethod
    def from_model(cls, item: models.Item, found_bin: Bin | None = None) -> Item:
        return cls(
            id=strawberry.ID(item.id),
            name=item.name,
            sku=item.sku,
            quantity=item.quantity,
            created_at=item.created_at,
            updated_at=item.updated_at,
            bin_id=item.bin_id,
            found_bin=found_bin,
        )


@strawberry.type(description="One line of the stock ledger: a change of one item's quantity.")
class Movement:
    id: strawberry.ID
    sku: str
    delta: int = strawberry.field(description="Units added (positive) or taken (negative).")
    quantity_after: int
    reason: str = strawberry.field(
        description="Why: the reason given to adjustItemQuantity, or create, move, fulfil."
    )
    order_id: strawberry.ID | None
    created_at: datetime
    bin_id: strawberry.Private[str]
    bin_location: strawberry.Private[str]

    @strawberry.field
    async def bin(self, info: Info) -> Bin:
        return await load_bin(info, self.bin_id, self.bin_location, self.created_at)

    @classmethod
    def from_model(cls, m: models.Movement) -> Movement:
        return cls(
            id=strawberry.ID(m.id),
            sku=m.sku,
            delta=m.delta,
            quantity_after=m.quantity_after,
            reason=m.reason,
            order_id=None if m.order_id is None else strawberry.ID(m.order_id),
            created_at=m.created_at,
            bin_id=m.bin_id,
            bin_location=m.bin_location,
        )


@strawberry.input
class CreateBinInput:
    location: str = strawberry.field(
        description="Trimmed, 1–64 characters, unique (case-insensitive)."
    )
    capacity: int = strawberry.field(description="0 to 1,000,000,000 units.")


@strawberry.input
class UpdateBinInput:
    location: str | None = None
    capacity: int | None = strawberry.field(
        default=None, description="May not go below the bin's current load."
    )


@strawberry.input
class CreateItemInput:
    name: str
    sku: str = strawberry.field(description="1–64 characters of letters, digits, '.', '_', '-'.")
    bin_id: strawberry.ID
    quantity: int = strawberry.field(description="Initial units, at least 0; must fit in the bin.")


@strawberry.input
class UpdateItemInput:
    name: str | None = None
