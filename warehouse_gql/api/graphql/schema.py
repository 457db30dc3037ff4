"""The schema: the business areas' Query/Mutation/Subscription merged, plus limits and errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from warehouse_gql.api.graphql.accounts.mutations import AccountsMutation
from warehouse_gql.api.graphql.accounts.queries import AccountsQuery
from warehouse_gql.api.graphql.context import Context
from warehouse_gql.api.graphql.cost import MeasureCache
from warehouse_gql.api.graphql.documents import DocumentCache, PreparedDocuments
from warehouse_gql.api.graphql.errors import ErrorCodes, translate
from warehouse_gql.api.graphql.execution import Executor
from warehouse_gql.api.graphql.feed.queries import FeedQuery
from warehouse_gql.api.graphql.floor.mutations import FloorMutation
from warehouse_gql.api.graphql.floor.queries import FloorQuery
from warehouse_gql.api.graphql.inventory.mutations import InventoryMutation
from warehouse_gql.api.graphql.inventory.queries import InventoryQuery
from warehouse_gql.api.graphql.inventory.subscriptions import InventorySubscription
from warehouse_gql.api.graphql.limits import OperationLimits
from warehouse_gql.api.graphql.observability import OperationLabel
from warehouse_gql.api.graphql.orders.mutations import OrdersMutation
from warehouse_gql.api.graphql.orders.queries import OrdersQuery
from warehouse_gql.api.graphql.orders.subscriptions import OrdersSubscription
from warehouse_gql.api.graphql.shared_streams import group_key, shared_streams
from warehouse_gql.api.graphql.webhooks.mutations import WebhooksMutation
from warehouse_gql.api.graphql.webhooks.queries import WebhooksQuery
from warehouse_gql.domain import access
from warehouse_gql.domain.errors import Forbidden
from warehouse_gql.domain.models import User
from warehouse_gql.live import metrics
from warehouse_gql.live.sessions import OpenSocket
from warehouse_gql.live.shared import SharedStreams
from warehouse_gql.settings import Settings

Query = merge_types(
    "Query", (AccountsQuery, InventoryQuery, OrdersQuery, FloorQuery, WebhooksQuery, FeedQuery)
)
Mutation = merge_types(
    "Mutation",
    (AccountsMutation, InventoryMutation, OrdersMutation, FloorMutation, WebhooksMutation),
)
Subscription = merge_types("Subscription", (InventorySubscription, OrdersSubscription))


class WarehouseSchema(strawberry.Schema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared_streams = SharedStreams()
        # Production: error messages suggest no field, argument or value names.
        self.hide_suggestions = False

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorCodes has already logged what was unexpected, with its request id; expected
        # errors (a short stock, a wrong password) are answers, not incidents.
        return None

    async def subscribe(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> Any:
        """The legacy graphql-ws protocol starts every operation here, queries and mutations
        included (subscriptions-transport-ws ran them all): one result, then complete."""
        return await self.stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
        )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> Any:
        """Streamed results (operations over WebSockets) get the same error codes as queries.

        Identical subscriptions of callers who may see the same records share one execution
        (see api/graphql/shared_streams.py); each member's socket still gates its own events.
        """
        context = context_value

        async def start() -> Any:
            return await self._coded_stream(
                query,
                variable_values,
                context,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )

        key = None
        user = None
        user_of = getattr(context_value, "user", None)
        if query is not None and user_of is not None:
            try:
                user = await user_of()
                key = group_key(query, variable_values, operation_name, user)
            except Exception:
                key = None  # unauthenticated or unreachable: the operation reports it itself
        viewer = None
        if key is None or user is None or not isinstance(context_value, Context):
            results = await start()
            if not hasattr(results, "__aiter__"):
                return results
        else:
            # The group's one execution reads as this user sees now; members whose role later
            # changes are ended by their own socket, never the others' stream.
            context = Context.acting_as(context_value.resources, user, context_value.request_id)
            results = self.shared_streams.join(key, start)
            viewer = user
        socket = getattr(context_value, "socket", None)
        if socket is None:
            return _counted(results)
        request_id = getattr(context_value, "request_id", "-")
        return _counted(_gated(results, socket, viewer, request_id))

    async def _coded_stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None,
        context_value: Any | None,
        root_value: Any | None,
        operation_name: str | None,
        operation_extensions: dict[str, Any] | None,
        allowed_operation_types: Iterable[OperationType] | None,
    ) -> Any:
        results = await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        request_id = getattr(context_value, "request_id", "-")
        if not hasattr(results, "__aiter__"):
            return results

        async def coded() -> AsyncGenerator[Any, None]:
            try:
                async for item in results:
                    result: Any = item
                    errors = getattr(result, "errors", None)
                    if errors:
                        result.errors = [
                            translate(e, request_id, hide_suggestions=self.hide_suggestions)
                            for e in errors
                        ]
                    yield result
            finally:
                await results.aclose()

        return coded()


async def _gated(
    results: Any, socket: OpenSocket, shared_as: User | None, request_id: str
) -> AsyncGenerator[Any, None]:
    """A socket's results, each held back while the socket re-reads its session after a
    change (live/sessions.py), so none goes out under a role the user no longer has.

    A shared stream's results were made for the reader it was joined as (`shared_as`): once
    the user may see other records or fields than that, it ends with FORBIDDEN, and a new
    subscription joins the group of what the user sees now."""
    shared_view = (
        None if shared_as is None else access.visibility_group(shared_as.role, shared_as.id)
    )
    # The socket's user as last compared: it changes only when the session is re-read.
    seen: User | None = None
    try:
        async for result in results:
            checking = socket.checking
            if checking is not None:
                await asyncio.shield(checking)
            now = socket.user
            if shared_as is not None and now is not seen:
                if access.visibility_group(now.role, now.id) != shared_view:
                    refusal = Forbidden(
                        f"this subscription as opened by a {shared_as.role.value}; subscribe again",
                        now.role.value,
                    )
                    error = GraphQLError(refusal.message, original_error=refusal)
                    yield ExecutionResult(data=None, errors=[translate(error, request_id)])
                    return
                seen = now
            yield result
    finally:
        with contextlib.suppress(Exception):
            await results.aclose()


async def _counted(results: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """A subscription's results, counted in `warehouse_subscriptions` while it runs."""
    metrics.SUBSCRIPTIONS.inc()
    try:
        async for result in results:
            yield result
    finally:
        metrics.SUBSCRIPTIONS.dec()
        close = getattr(results, "aclose", None)
        if close is not None:
            await close()


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # The limiters' validation rules are classes made per limiter instance: made once here, so
    # every operation validates with the same rules and the cache by query text holds.
    rules: list[type[ASTValidationRule]] = list(
        MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules
    )
    if not settings.graphiql:
        rules.append(NoSchemaIntrospectionCustomRule)
    documents = DocumentCache(rules=rules, max_tokens=settings.max_tokens)
    # Cost and depth by document text and integer variables, shared by every operation.
    measures = MeasureCache()
    # Factories: Strawberry builds each extension per operation; the caches they hold are made
    # once, here, so they survive across requests.
    extensions: list[Any] = [
        OperationLabel,
        ErrorCodes,
        lambda: PreparedDocuments(cache=documents),
        lambda: OperationLimits(settings=settings, measures=measures),
    ]
    schema = WarehouseSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=Executor,
    )
    schema.hide_suggestions = settings.production
    schema.shared_streams = shared_streams(settings.max_queued_events)
    return schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
