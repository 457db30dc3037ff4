"""Live feeds of item changes and the lowStock live query (MANAGER and PICKER)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from warehouse_gql.api.context import Info
from warehouse_gql.api.inventory.types import Item
from warehouse_gql.api.loaders import Loaders
from warehouse_gql.api.permissions import authorize
from warehouse_gql.live import events as live
from warehouse_gql.live.livequery import LiveKind as DomainLiveKind
from warehouse_gql.live.livequery import low_stock_transition
from warehouse_gql.store import items

strawberry.enum(live.ChangeKind, description="What happened to a record.")
strawberry.enum(DomainLiveKind, description="How a record relates to a live query's result set.")


@strawberry.type(description="An item was created, changed or deleted; carries the state after it.")
class ItemEvent:
    kind: live.ChangeKind
    item: Item


@strawberry.type(description="An item entered, changed within, or left a live query's result set.")
class LowStockEvent:
    kind: DomainLiveKind
    item: Item


def _fresh(info: Info) -> None:
    # The context lives as long as the WebSocket: give each event fresh loaders so nested
    # fields (item.bin) are read as of the event, not from a cache of an earlier one.
    info.context.loaders = Loaders(info.context.db)


@strawberry.type
class InventorySubscription:
    @strawberry.subscription(description="Every create, change, move and delete of matching items.")
    async def item_changed(
        self, info: Info, sku: str | None = None, bin_id: strawberry.ID | None = None
    ) -> AsyncGenerator[ItemEvent, None]:
        await authorize(info, "readStock")
        latest: dict[str, int] = {}
        async with info.context.events.subscribe(live.ITEMS_CHANNEL) as feed:
            async for event in feed:
                if not isinstance(event, live.ItemChanged):
                    continue
                if sku is not None and event.item.sku != sku:
                    continue
                if bin_id is not None and event.item.bin_id != bin_id:
                    continue
                # Two processes may publish one item's changes out of commit order: a
                # revision older than one already delivered is stale, and dropped.
                if event.item.revision <= latest.get(event.item.id, 0):
                    continue
                latest[event.item.id] = event.item.revision
                _fresh(info)
                yield ItemEvent(kind=event.kind, item=Item.from_model(event.item))

    @strawberry.subscription(
        description="Live query over items with quantity ≤ threshold: ENTER for each current match, then ENTER/UPDATE/LEAVE."
    )
    async def low_stock(
        self, info: Info, threshold: int, sku: str | None = None
    ) -> AsyncGenerator[LowStockEvent, None]:
        await authorize(info, "readStock")
        db = info.context.db
        async with info.context.events.subscribe(live.ITEMS_CHANNEL) as feed:
            # Subscribed before the snapshot, so no change falls between the two; events
            # already reflected in the snapshot are dropped by revision.
            seen: dict[str, int] = {}
            for item in await items.low_stock(db, threshold=threshold, sku=sku):
                seen[item.id] = item.revision
                yield LowStockEvent(kind=DomainLiveKind.ENTER, item=Item.from_model(item))
            async for event in feed:
                if not isinstance(event, live.ItemChanged):
                    continue
                if sku is not None and event.item.sku != sku:
                    continue
                if event.item.revision <= seen.get(event.item.id, 0):
                    continue
                seen[event.item.id] = event.item.revision
                kind = low_stock_transition(event, threshold)
                if kind is not None:
                    _fresh(info)
                    yield LowStockEvent(kind=kind, item=Item.from_model(event.item))
