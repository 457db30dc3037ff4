"""/bins/{id}/count, /pick-list and /putaway: the same services as countBin, pickList and
suggestPutaway."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from warehouse_gql.api.rest.endpoints import (
    Body,
    Call,
    Endpoints,
    Id,
    Int32,
    Query,
    Reply,
    Resource,
    resource_reply,
)
from warehouse_gql.api.rest.inventory import Bin
from warehouse_gql.domain.routing import Strategy
from warehouse_gql.services import floor

routes = Endpoints("floor", "Cycle counts, batch pick walks and putaway suggestions.")


class CountLine(Body):
    sku: str
    quantity: Int32 = Field(description="Units found, at least 0.")


class CountBin(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"lines": [{"sku": "WID-BLUE", "quantity": 118}], "complete": False}]
        }
    )

    lines: list[CountLine]
    complete: bool = Field(
        default=False, description="The count covers the whole bin: unlisted skus are 0."
    )
    expected_version: Int32 | None = Field(
        default=None,
        description="The bin's version when counting started; CONFLICT when it changed since.",
    )


class PickStop(Resource):
    sequence: int = Field(description="1 for the first stop of the walk, and so on.")
    sku: str
    quantity: int
    order_id: Id
    bin_id: Id
    bin_location: str


class PickList(Resource):
    """A walk from the depot through every stop and back; distances in bay lengths."""

    stops: list[PickStop]
    strategy: Strategy = Field(description="The strategy whose walk this is.")
    distance: float
    baseline_distance: float = Field(description="The walk in input order, for comparison.")


class PutawaySuggestion(Resource):
    bin: Bin
    quantity: int


class PutawayPlan(Resource):
    """Where arriving stock should go; nothing is reserved."""

    suggestions: list[PutawaySuggestion]
    unplaced: int = Field(description="Units no bin has room for.")


class PickListQuery(Query):
    order_id: list[str] = Field(
        default_factory=list, description="The orders to walk (repeat the parameter), 1 to 50."
    )
    strategy: Strategy = Strategy.BEST


class PutawayQuery(Query):
    sku: str
    quantity: Int32


@routes.route(
    "POST",
    "/bins/{id}/count",
    operation_id="countBin",
    summary="Record a cycle count of one bin",
    description=(
        "One `count` ledger line per sku whose count differs, in one transaction. CONFLICT "
        "when expectedVersion is given and the bin changed since; CAPACITY_EXCEEDED when the "
        "count exceeds the capacity. Returns the bin."
    ),
    body=CountBin,
    response=Bin,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "CONFLICT", "CAPACITY_EXCEEDED"),
)
async def count_bin(call: Call) -> Reply:
    user = await call.authorize("countBin")
    body = call.body(CountBin)
    after = await floor.count_bin(
        call.db,
        call.events,
        bin_id=call.path["id"],
        lines=[(line.sku, line.quantity) for line in body.lines],
        complete=body.complete,
        expected_version=body.expected_version,
        user=user,
        precondition=call.precondition,
    )
    return resource_reply(Bin.of(after), after)


@routes.route(
    "GET",
    "/pick-list",
    operation_id="pickList",
    summary="One batch pick walk over several orders",
    description=(
        "Recorded picks of fulfilled orders, and the picks fulfilment would make now for "
        "pending ones."
    ),
    query=PickListQuery,
    response=PickList,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def pick_list(call: Call) -> Reply:
    await call.authorize("pickList")
    query = call.query(PickListQuery)
    found = await floor.pick_list(
        call.db, call.resources.settings, order_ids=query.order_id, strategy=query.strategy
    )
    return Reply(
        PickList(
            stops=[
                PickStop(
                    sequence=s.sequence,
                    sku=s.sku,
                    quantity=s.quantity,
                    order_id=s.order_id,
                    bin_id=s.bin_id,
                    bin_location=s.bin_location,
                )
                for s in found.stops
            ],
            strategy=found.strategy,
            distance=found.distance,
            baseline_distance=found.baseline_distance,
        )
    )


@routes.route(
    "GET",
    "/putaway",
    operation_id="suggestPutaway",
    summary="Where to put arriving units of a sku",
    query=PutawayQuery,
    response=PutawayPlan,
    errors=("FORBIDDEN",),
)
async def putaway(call: Call) -> Reply:
    await call.authorize("suggestPutaway")
    query = call.query(PutawayQuery)
    plan = await floor.suggest_putaway(call.db, sku=query.sku, quantity=query.quantity)
    return Reply(
        PutawayPlan(
            suggestions=[PutawaySuggestion(bin=Bin.of(b), quantity=q) for b, q in plan.suggestions],
            unplaced=plan.unplaced,
        )
    )
