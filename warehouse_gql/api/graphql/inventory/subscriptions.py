"""Live feeds of item changes and the lowStock live query (MANAGER and PICKER)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.feed import streams
from warehouse_gql.api.graphql.feed.types import ChangeKind
from warehouse_gql.api.graphql.inventory.types import Item
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import models
from warehouse_gql.domain.changes import ChangeEntity, cursor_of, parse_cursor
from warehouse_gql.domain.errors import CursorExpired
from warehouse_gql.domain.models import User
from warehouse_gql.live import events as live
from warehouse_gql.live.bus import FellBehind
from warehouse_gql.live.livequery import LiveKind as DomainLiveKind
from warehouse_gql.live.livequery import low_stock_transition
from warehouse_gql.live.revisions import Revisions
from warehouse_gql.store import changes, items

strawberry.enum(DomainLiveKind, description="How a record relates to a live query's result set.")

FeedAfter = Annotated[
    str | None,
    strawberry.argument(
        description="Resume after this change cursor: first every matching change after it, then live."
    ),
]


@strawberry.type(description="An item was created, changed or deleted; carries the state after it.")
class ItemEvent:
    kind: ChangeKind
    item: Item
    cursor: str = strawberry.field(
        description="This change's place in the change feed; pass it as `after` to resume."
    )


@strawberry.type(description="An item entered, changed within, or left a live query's result set.")
class LowStockEvent:
    kind: DomainLiveKind
    item: Item
    cursor: str = strawberry.field(
        description="The change feed's position of this event (for ENTER of the initial set: "
        "the feed's position when it was read)."
    )


@strawberry.type
class InventorySubscription:
    @strawberry.subscription(description="Every create, change, move and delete of matching items.")
    async def item_changed(
        self,
        info: Info,
        sku: str | None = None,
        bin_id: strawberry.ID | None = None,
        after: FeedAfter = None,
    ) -> AsyncGenerator[ItemEvent, None]:
        # Authorised before the stream starts: a refusal is the subscription's error at
        # subscribe time, not its first event.
        user = await authorize(info, "itemChanged")
        parse_cursor(after)
        return _item_events(info, user, sku, bin_id, after)

    @strawberry.subscription(
        description="Live query over items with quantity ≤ threshold: ENTER for each current match, then ENTER/UPDATE/LEAVE."
    )
    async def low_stock(
        self,
        info: Info,
        threshold: int,
        sku: str | None = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="A cursor this subscriber saw: checked for expiry, then the current set "
                "is sent again (ENTER) and the query goes live."
            ),
        ] = None,
    ) -> AsyncGenerator[LowStockEvent, None]:
        await authorize(info, "lowStock")
        if after is not None and await changes.is_expired(info.context.db, parse_cursor(after)):
            raise CursorExpired()
        return _low_stock_events(info, threshold, sku)


async def _item_events(
    info: Info, user: User, sku: str | None, bin_id: strawberry.ID | None, after: str | None
) -> AsyncGenerator[ItemEvent, None]:
    def wanted(item: models.Item) -> bool:
        return (sku is None or item.sku == sku) and (bin_id is None or item.bin_id == bin_id)

    async for change, item in streams.records(
        info, user, ChangeEntity.ITEM, live.item_of, after=after, keep=wanted
    ):
        yield ItemEvent(kind=change.kind, item=Item.from_model(item), cursor=change.cursor)


async def _low_stock_events(
    info: Info, threshold: int, sku: str | None
) -> AsyncGenerator[LowStockEvent, None]:
    db = info.context.db
    last = 0
    try:
        async with info.context.events.subscribe(live.ITEMS_CHANNEL) as stream:
            # Subscribed before the snapshot, so no change falls between the two; events
            # already reflected in the snapshot are dropped by revision.
            revisions = Revisions()
            bus = info.context.events
            last = bus.position
            for item in await items.low_stock(db, threshold=threshold, sku=sku):
                revisions.is_new(item.id, item.revision)
                yield LowStockEvent(
                    kind=DomainLiveKind.ENTER, item=Item.from_model(item), cursor=cursor_of(last)
                )
            async for event in stream:
                if not isinstance(event, live.ItemChanged):
                    continue
                last = max(last, event.seq)
                if sku is not None and event.item.sku != sku:
                    continue
                if not revisions.is_new(event.item.id, event.item.revision):
                    continue
                kind = low_stock_transition(event, threshold)
                if kind is not None:
                    info.context.fresh_loaders()
                    yield LowStockEvent(
                        kind=kind, item=Item.from_model(event.item), cursor=cursor_of(event.seq)
                    )
    except FellBehind as behind:
        raise FellBehind(behind.limit, cursor_of(last)) from None
