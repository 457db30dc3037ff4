"""Pick lists, putaway plans, the slotting report and cycle counts as GraphQL types."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.inventory.types import Bin, load_bin
from warehouse_gql.domain.routing import Strategy
from warehouse_gql.services import floor

PickStrategy = strawberry.enum(
    Strategy,
    name="PickStrategy",
    description=(
        "How to sequence a pick walk. S_SHAPE: every aisle with a pick, up one and down the "
        "next. LARGEST_GAP: first and last aisle traversed, the others entered from front and "
        "back up to their largest gap between picks. NEAREST_NEIGHBOUR: always the closest "
        "stop next. INPUT_ORDER: as the orders list them. BEST: the shortest of all of them "
        "after 2-opt/or-opt improvement."
    ),
)


@strawberry.type(description="One stop of a pick walk: take `quantity` of `sku` from `bin`.")
class PickStop:
    sequence: int = strawberry.field(description="1 for the first stop of the walk, and so on.")
    sku: str
    quantity: int
    order_id: strawberry.ID = strawberry.field(description="The order this pick is for.")
    bin_id: strawberry.Private[str]
    bin_location: strawberry.Private[str]

    @strawberry.field(description="Where to pick (a deleted bin shows as an empty one).")
    async def bin(self, info: Info) -> Bin:
        return await load_bin(info, self.bin_id, self.bin_location, datetime.now(UTC))


@strawberry.type(
    description=(
        "A walk from the depot (front of the first aisle) through every stop and back. "
        "Distances are in bay lengths; stops whose location does not parse go last."
    )
)
class PickList:
    stops: list[PickStop]
    strategy: Strategy = strawberry.field(
        description=(
            "The strategy whose walk this is; for BEST, the winning heuristic, or BEST when "
            "the improvement pass shortened it further."
        )
    )
    distance: float = strawberry.field(description="Length of this walk, in bay lengths.")
    baseline_distance: float = strawberry.field(
        description="Length of the walk in input order, for comparison."
    )

    @classmethod
    def from_service(cls, found: floor.PickList) -> PickList:
        return cls(
            stops=[
                PickStop(
                    sequence=s.sequence,
                    sku=s.sku,
                    quantity=s.quantity,
                    order_id=strawberry.ID(s.order_id),
                    bin_id=s.bin_id,
                    bin_location=s.bin_location,
                )
                for s in found.stops
            ],
            strategy=found.strategy,
            distance=found.distance,
            baseline_distance=found.baseline_distance,
        )


@strawberry.type(description="Put `quantity` units into `bin`.")
class PutawaySuggestion:
    bin: Bin
    quantity: int


@strawberry.type(
    description=(
        "Where arriving stock should go: bins already holding the sku, then the tightest bin "
        "taking all of it, then the roomiest. Nothing is reserved."
    )
)
class PutawayPlan:
    suggestions: list[PutawaySuggestion]
    unplaced: int = strawberry.field(description="Units no bin has room for.")

    @classmethod
    def from_service(cls, plan: floor.PutawayPlan) -> PutawayPlan:
        return cls(
            suggestions=[
                PutawaySuggestion(bin=Bin.from_model(b), quantity=q) for b, q in plan.suggestions
            ],
            unplaced=plan.unplaced,
        )


@strawberry.type(description="How often a sku was picked in the window, and where it lives.")
class SlottingRow:
    sku: str
    pick_lines: int = strawberry.field(description="Fulfilment picks of the sku in the window.")
    units: int = strawberry.field(description="Units those picks took.")
    abc_class: str = strawberry.field(
        description="A: within the top 80% of cumulative pick lines; B: up to 95%; C: the rest."
    )
    bins: list[Bin] = strawberry.field(description="Bins holding the sku now, fullest first.")
    suggested_bin: Bin | None = strawberry.field(
        description=(
            "For an A sku whose main bin is in the far half of the floor: the nearest bin to "
            "the depot with room for that bin's stock. A suggestion only."
        )
    )

    @classmethod
    def from_service(cls, row: floor.SlottingRow) -> SlottingRow:
        return cls(
            sku=row.sku,
            pick_lines=row.pick_lines,
            units=row.units,
            abc_class=row.abc_class,
            bins=[Bin.from_model(b) for b in row.bins],
            suggested_bin=None if row.suggested_bin is None else Bin.from_model(row.suggested_bin),
        )


@strawberry.input(description="Units of one sku found in the bin.")
class CountLineInput:
    sku: str
    quantity: int = strawberry.field(description="Units found, at least 0.")
