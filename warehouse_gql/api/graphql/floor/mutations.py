"""Cycle counts; they go through services.floor."""

from __future__ import annotations

from typing import Annotated

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.floor.types import CountLineInput
from warehouse_gql.api.graphql.inventory.types import Bin
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.services import floor


@strawberry.type
class FloorMutation:
    @strawberry.mutation(
        description=(
            "Record a cycle count of one bin: a COUNT movement (reason count) for every sku "
            "whose count differs, in one transaction. CONFLICT when expectedVersion is given "
            "and the bin changed since; CAPACITY_EXCEEDED when the count exceeds capacity."
        )
    )
    async def count_bin(
        self,
        info: Info,
        bin_id: strawberry.ID,
        lines: list[CountLineInput],
        complete: Annotated[
            bool,
            strawberry.argument(description="The count covers the whole bin: unlisted skus are 0."),
        ] = False,
        expected_version: Annotated[
            int | None,
            strawberry.argument(description="The bin's version when counting started."),
        ] = strawberry.UNSET,
    ) -> Bin:
        user = await authorize(info, "countBin")
        after = await floor.count_bin(
            info.context.db,
            info.context.events,
            bin_id=bin_id,
            lines=[(line.sku, line.quantity) for line in lines],
            complete=complete,
            expected_version=None if expected_version is strawberry.UNSET else expected_version,
            user=user,
        )
        return Bin.from_model(after)
