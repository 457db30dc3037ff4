"""Query cost, depth and the caller's point budget, enforced before execution.

Every operation is measured on its validated document (api/graphql/cost.py); over
MAX_QUERY_DEPTH or MAX_QUERY_COST it is refused with QUERY_TOO_COMPLEX before any resolver
runs, so before the database is touched. Otherwise its cost is taken from the caller's bucket
of RATE_LIMIT_POINTS per minute (the user, or the client address when anonymous); an empty
bucket refuses it with RATE_LIMITED. Each response says what it cost in `extensions.cost`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from warehouse_gql.api.graphql.cost import MeasureCache
from warehouse_gql.domain.errors import QueryTooComplex
from warehouse_gql.services.limits import Budget
from warehouse_gql.settings import Settings


async def caller_of(context: Any) -> str:
    """Whose bucket pays: the user's, or the client address's for anonymous requests."""
    user = await context.user()
    return f"user:{user.id}" if user is not None else f"address:{context.client}"


class OperationLimits(SchemaExtension):
    def __init__(self, *, settings: Settings, measures: MeasureCache) -> None:
        self.settings = settings
        self.measures = measures
        self.cost = 0
        self.budget: Budget | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None and ec.result is None:
            found = self.measures.measure(
                ec.schema._schema, ec.query, ec.graphql_document, ec.operation_name, ec.variables
            )
            self.cost = found.cost
            settings = self.settings
            if found.depth > settings.max_query_depth:
                raise QueryTooComplex(
                    f"This operation nests {found.depth} fields deep, more than the limit of "
                    f"{settings.max_query_depth}; split it into smaller queries.",
                    cost=found.cost,
                    limit=settings.max_query_cost,
                    depth=found.depth,
                    max_depth=settings.max_query_depth,
                )
            if found.cost > settings.max_query_cost:
                raise QueryTooComplex(
                    f"This operation may return {found.cost} objects, more than the limit of "
                    f"{settings.max_query_cost}; ask for smaller pages (first) or fewer nested "
                    "lists.",
                    cost=found.cost,
                    limit=settings.max_query_cost,
                )
            limits = ec.context.resources.limits
            self.budget = await limits.spend(await caller_of(ec.context), found.cost)
        yield

    async def get_results(self) -> dict[str, Any]:
        ec = self.execution_context
        if ec.graphql_document is not None and ec.operation_type is OperationType.SUBSCRIPTION:
            # Events of a subscription are not responses: the cost was taken at subscribe.
            return {}
        budget = self.budget
        limits = ec.context.resources.limits
        if budget is None and limits.points_per_minute > 0:
            try:
                budget = await limits.budget(await caller_of(ec.context))
            except Exception:
                budget = None  # the caller's budget is unknown (database down): say so
        return {
            "cost": {
                "requested": self.cost,
                "limit": self.settings.max_query_cost,
                "remaining": None if budget is None else budget.remaining,
                "resetSeconds": None if budget is None else budget.reset_seconds,
            }
        }
