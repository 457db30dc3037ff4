"""Reads that optimise the floor: scanner lookups, pick walks, putaway plans, slotting."""

from __future__ import annotations

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.floor.types import PickList, PickStrategy, PutawayPlan, SlottingRow
from warehouse_gql.api.graphql.inventory.types import Bin
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain.routing import Strategy
from warehouse_gql.services import floor
from warehouse_gql.store import bins


@strawberry.type
class FloorQuery:
    @strawberry.field(
        description="The bin at exactly this location (case-insensitive), for handheld scanners; null when there is none."
    )
    async def bin_by_location(self, info: Info, location: str) -> Bin | None:
        await authorize(info, "binByLocation")
        found = await bins.bin_by_location(info.context.db, location)
        return None if found is None else Bin.from_model(found)

    @strawberry.field(
        description=(
            "One batch pick walk over these orders: recorded picks of fulfilled orders, the "
            "picks fulfillOrder would make now for pending ones."
        )
    )
    async def pick_list(
        self,
        info: Info,
        order_ids: list[strawberry.ID],
        strategy: PickStrategy | None = Strategy.BEST,  # type: ignore[valid-type]
    ) -> PickList:
        await authorize(info, "pickList")
        found = await floor.pick_list(
            info.context.db,
            info.context.resources.settings,
            order_ids=[str(o) for o in order_ids],
            strategy=strategy or Strategy.BEST,
        )
        return PickList.from_service(found)

    @strawberry.field(description="Where to put arriving units of a sku; changes nothing.")
    async def suggest_putaway(self, info: Info, sku: str, quantity: int) -> PutawayPlan:
        await authorize(info, "suggestPutaway")
        plan = await floor.suggest_putaway(info.context.db, sku=sku, quantity=quantity)
        return PutawayPlan.from_service(plan)

    @strawberry.field(
        description="Skus picked in the last `days` days (null: 90), most picked first, with ABC classes (MANAGER)."
    )
    async def slotting_report(self, info: Info, days: int | None = 90) -> list[SlottingRow]:
        await authorize(info, "slottingReport")
        rows = await floor.slotting_report(
            info.context.db, info.context.resources.settings, days=90 if days is None else days
        )
        return [SlottingRow.from_service(r) for r in rows]
