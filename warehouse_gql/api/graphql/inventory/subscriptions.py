"""Live feeds of item changes and the lowStock live query (MANAGER and PICKER)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.inventory.types import Item
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.live import events as live
from warehouse_gql.live.livequery import LiveKind as DomainLiveKind
from warehouse_gql.live.livequery import low_stock_transition
from warehouse_gql.live.revisions import Revisions
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


@strawberry.type
class InventorySubscription:
    @strawberry.subscription(description="Every create, change, move and delete of matching items.")
    async def item_changed(
        self, info: Info, sku: str | None = None, bin_id: strawberry.ID | None = None
    ) -> AsyncGenerator[ItemEvent, None]:
        # Authorised before the stream starts: a refusal is the subscription's error at
        # subscribe time, not its first event.
        await authorize(info, "itemChanged")
        return _item_events(info, sku, bin_id)

    @strawberry.subscription(
        description="Live query over items with quantity ≤ threshold: ENTER for each current match, then ENTER/UPDATE/LEAVE."
    )
    async def low_stock(
        self, info: Info, threshold: int, sku: str | None = None
    ) -> AsyncGenerator[LowStockEvent, None]:
        await authorize(info, "lowStock")
        return _low_stock_events(info, threshold, sku)


async def _item_events(
    info: Info, sku: str | None, bin_id: strawberry.ID | None
) -> AsyncGenerator[ItemEvent, None]:
    revisions = Revisions()
    async with info.context.events.subscribe(live.ITEMS_CHANNEL) as feed:
        async for event in feed:
            if not isinstance(event, live.ItemChanged):
                continue
            if sku is not None and event.item.sku != sku:
                continue
            if bin_id is not None and event.item.bin_id != bin_id:
                continue
            if not revisions.is_new(event.item.id, event.item.revision):
                continue
            info.context.fresh_loaders()
            yield ItemEvent(kind=event.kind, item=Item.from_model(event.item))


async def _low_stock_events(
    info: Info, threshold: int, sku: str | None
) -> AsyncGenerator[LowStockEvent, None]:
    db = info.context.db
    async with info.context.events.subscribe(live.ITEMS_CHANNEL) as feed:
        # Subscribed before the snapshot, so no change falls between the two; events
        # already reflected in the snapshot are dropped by revision.
        revisions = Revisions()
        for item in await items.low_stock(db, threshold=threshold, sku=sku):
            revisions.is_new(item.id, item.revision)
            yield LowStockEvent(kind=DomainLiveKind.ENTER, item=Item.from_model(item))
        async for event in feed:
            if not isinstance(event, live.ItemChanged):
                continue
            if sku is not None and event.item.sku != sku:
                continue
            if not revisions.is_new(event.item.id, event.item.revision):
                continue
            kind = low_stock_transition(event, threshold)
            if kind is not None:
                info.context.fresh_loaders()
                yield LowStockEvent(kind=kind, item=Item.from_model(event.item))
