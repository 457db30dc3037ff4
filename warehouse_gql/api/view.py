"""GraphQL over HTTP and WebSocket at /graphql: Strawberry's ASGI view with our context."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from warehouse_gql.api.context import Context, Resources, bearer_token
from warehouse_gql.api.errors import translate
from warehouse_gql.api.schema import build_schema
from warehouse_gql.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


class GraphQLView(GraphQL[Context, None]):
    """Built with the app; `resources` is attached by the app's lifespan once they are open."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            keep_alive=True,
            keep_alive_interval=15,
            **kwargs,
        )
        self.resources: Resources | None = None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if self.resources is None:
            raise RuntimeError("the app's lifespan has not run")
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        context = Context(
            resources=self.resources,
            request_id=request_id[:64],
            token=bearer_token(request.headers.get("authorization")),
            request=request,
            response=response,
        )
        if isinstance(response, Response):
            request.state.request_id = context.request_id
            response.headers["x-request-id"] = context.request_id
            # GraphQL-over-HTTP: answer in the media type the client prefers.
            accept = request.headers.get("accept", "")
            if GRAPHQL_RESPONSE in accept:
                response.headers["content-type"] = GRAPHQL_RESPONSE
        return context

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            # Parse errors end the operation before extensions see a result: code them here.
            request_id = getattr(request.state, "request_id", "-")
            result.errors = [translate(e, request_id) for e in result.errors]
        body = process_result(result)
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # Nothing executed (syntax, validation or variable errors): a request error has no data.
            body.pop("data", None)
        return body

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.headers.get("content-type") == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            # A request error (nothing executed, no `data`) is a 400 in this media type.
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400
        return response
