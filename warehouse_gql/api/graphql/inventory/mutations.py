"""Changes to bins and stock; each goes through services.inventory."""

from __future__ import annotations

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.inventory.types import (
    Bin,
    CreateBinInput,
    CreateItemInput,
    Item,
    UpdateBinInput,
    UpdateItemInput,
)
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.services import inventory


@strawberry.type
class InventoryMutation:
    @strawberry.mutation(description="Create a bin (MANAGER).")
    async def create_bin(self, info: Info, input: CreateBinInput) -> Bin:
        await authorize(info, "createBin")
        created = await inventory.create_bin(
            info.context.db, location=input.location, capacity=input.capacity
        )
        return Bin.from_model(created)

    @strawberry.mutation(description="Rename a bin or change its capacity (MANAGER).")
    async def update_bin(self, info: Info, id: strawberry.ID, input: UpdateBinInput) -> Bin:
        await authorize(info, "updateBin")
        updated = await inventory.update_bin(
            info.context.db, bin_id=id, location=input.location, capacity=input.capacity
        )
        return Bin.from_model(updated)

    @strawberry.mutation(
        description="Delete an empty bin (MANAGER); CONFLICT while it holds items."
    )
    async def delete_bin(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        await authorize(info, "deleteBin")
        return strawberry.ID(await inventory.delete_bin(info.context.db, bin_id=id))

    @strawberry.mutation(
        description="Put a new sku into a bin; CONFLICT when the bin already holds it."
    )
    async def create_item(self, info: Info, input: CreateItemInput) -> Item:
        user = await authorize(info, "createItem")
        created = await inventory.create_item(
            info.context.db,
            info.context.events,
            name=input.name,
            sku=input.sku,
            bin_id=input.bin_id,
            quantity=input.quantity,
            user=user,
        )
        return Item.from_model(created)

    @strawberry.mutation(description="Rename an item.")
    async def update_item(self, info: Info, id: strawberry.ID, input: UpdateItemInput) -> Item:
        await authorize(info, "updateItem")
        updated = await inventory.update_item(
            info.context.db, info.context.events, item_id=id, name=input.name
        )
        return Item.from_model(updated)

    @strawberry.mutation(
        description="Receive (positive delta) or write off (negative) stock, with a reason for the ledger."
    )
    async def adjust_item_quantity(
        self, info: Info, id: strawberry.ID, delta: int, reason: str
    ) -> Item:
        user = await authorize(info, "adjustItemQuantity")
        adjusted = await inventory.adjust_item_quantity(
            info.context.db, info.context.events, item_id=id, delta=delta, reason=reason, user=user
        )
        return Item.from_model(adjusted)

    @strawberry.mutation(
        description="Move units to the same sku in another bin; returns the target item."
    )
    async def move_item(
        self, info: Info, id: strawberry.ID, to_bin_id: strawberry.ID, quantity: int
    ) -> Item:
        user = await authorize(info, "moveItem")
        target = await inventory.move_item(
            info.context.db,
            info.context.events,
            item_id=id,
            to_bin_id=to_bin_id,
            quantity=quantity,
            user=user,
        )
        return Item.from_model(target)

    @strawberry.mutation(description="Delete an item whose quantity is 0 (MANAGER).")
    async def delete_item(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        await authorize(info, "deleteItem")
        return strawberry.ID(
            await inventory.delete_item(info.context.db, info.context.events, item_id=id)
        )
