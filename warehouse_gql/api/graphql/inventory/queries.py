"""Reads of bins, items, stock levels and the ledger (MANAGER and PICKER; stockLevel: anyone)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.inventory.types import Bin, Item, Movement
from warehouse_gql.api.graphql.pagination import (
    NEWEST_FIRST,
    Connection,
    check_first,
    connection,
    decode_cursor,
)
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.api.graphql.selection import selects
from warehouse_gql.domain import inventory as rules
from warehouse_gql.store import bins, items
from warehouse_gql.store.ids import parse_id


def _empty() -> Connection[Any]:
    async def zero() -> int:
        return 0

    return connection([], [], False, zero)


@strawberry.type
class InventoryQuery:
    @strawberry.field(description="A bin by id; null when there is none.")
    async def bin(self, info: Info, id: strawberry.ID) -> Bin | None:
        await authorize(info, "readStock")
        oid = parse_id(id)
        found = None if oid is None else await info.context.loaders.bins_by_id.load(str(oid))
        return None if found is None else Bin.from_model(found)

    @strawberry.field(
        description="Bins in creation order, optionally those whose location starts with a prefix (case-insensitive)."
    )
    async def bins(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        location_prefix: str | None = None,
    ) -> Connection[Bin]:
        await authorize(info, "readStock")
        db = info.context.db
        found, more = await bins.page_bins(
            db,
            first=check_first(first),
            after=decode_cursor(after),
            location_prefix=location_prefix,
        )
        for b in found:
            info.context.loaders.bins_by_id.prime(b.id, b)

        async def count() -> int:
            return await bins.count_bins(db, location_prefix=location_prefix)

        return connection([Bin.from_model(b) for b in found], [b.id for b in found], more, count)

    @strawberry.field(description="An item by id; null when there is none.")
    async def item(self, info: Info, id: strawberry.ID) -> Item | None:
        await authorize(info, "readStock")
        oid = parse_id(id)
        if oid is None:
            return None
        db = info.context.db
        if not selects(info, ("bin",)):
            found = await items.get_item(db, oid)
            return None if found is None else Item.from_model(found)
        # With its bin in the same read: the item then completes without a second one.
        pair = await items.get_item_with_bin(db, oid)
        if pair is None:
            return None
        item, bin = pair
        if bin is not None:
            info.context.loaders.bins_by_id.prime(bin.id, bin)
        return Item.from_model(item, None if bin is None else Bin.from_model(bin))

    @strawberry.field(
        description="Items in creation order, filtered by sku (or its start), bin and at most a quantity."
    )
    async def items(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        sku: str | None = None,
        bin_id: strawberry.ID | None = None,
        max_quantity: int | None = None,
        sku_prefix: Annotated[
            str | None,
            strawberry.argument(
                description="Skus starting with this (case-sensitive); ignored when sku is given."
            ),
        ] = None,
        newest_first: NEWEST_FIRST = False,
    ) -> Connection[Item]:
        await authorize(info, "readStock")
        first = check_first(first)
        cursor = decode_cursor(after)
        bin_oid = parse_id(bin_id)
        if bin_id is not None and bin_oid is None:
            return _empty()  # a malformed bin id names no bin, so no items
        db = info.context.db
        found, more = await items.page_items(
            db,
            first=first,
            after=cursor,
            sku=sku,
            bin_id=bin_oid,
            max_quantity=max_quantity,
            sku_prefix=sku_prefix,
            newest_first=bool(newest_first),
        )

        async def count() -> int:
            return await items.count_items(
                db, sku=sku, bin_id=bin_oid, max_quantity=max_quantity, sku_prefix=sku_prefix
            )

        bins_of: dict[str, Bin] = {}
        if found and selects(info, ("edges", "node", "bin")):
            # The page's bins in the one read the DataLoader would make, before the page is
            # returned: each item then completes without an awaitable of its own.
            ids = list(dict.fromkeys(i.bin_id for i in found))
            try:
                loaded = await info.context.loaders.bins_by_id.load_many(ids)
            except Exception:
                # The loader keeps the failure: each item's bin reports it, as without this.
                loaded = []
            # One object per bin: the page's items that share a bin share its answer.
            bins_of = {b.id: Bin.from_model(b) for b in loaded if b is not None}
        return connection(
            [Item.from_model(i, bins_of.get(i.bin_id)) for i in found],
            [i.id for i in found],
            more,
            count,
        )

    @strawberry.field(description="Units of a sku over all bins; 0 for an unknown sku.")
    async def stock_level(self, info: Info, sku: str) -> int:
        await authorize(info, "stockLevel")
        return await items.stock_level(info.context.db, rules.check_sku(sku))

    @strawberry.field(
        description="The stock ledger in creation order, optionally of one sku, one item or one bin."
    )
    async def movements(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        sku: str | None = None,
        item_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The history of one stock record."),
        ] = None,
        bin_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The history of one bin, every sku in it."),
        ] = None,
        newest_first: NEWEST_FIRST = False,
    ) -> Connection[Movement]:
        await authorize(info, "readStock")
        db = info.context.db
        first = check_first(first)
        cursor = decode_cursor(after)
        item_oid, bin_oid = parse_id(item_id), parse_id(bin_id)
        if (item_id is not None and item_oid is None) or (bin_id is not None and bin_oid is None):
            return _empty()  # a malformed id names nothing, so it has no history
        found, more = await items.page_movements(
            db,
            first=first,
            after=cursor,
            sku=sku,
            item_id=item_oid,
            bin_id=bin_oid,
            newest_first=bool(newest_first),
        )

        async def count() -> int:
            return await items.count_movements(db, sku=sku, item_id=item_oid, bin_id=bin_oid)

        return connection(
            [Movement.from_model(m) for m in found], [m.id for m in found], more, count
        )
