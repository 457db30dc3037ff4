"""GraphQL over HTTP and WebSocket at /graphql: Strawberry's ASGI view with our context."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from warehouse_gql.api.graphql.context import Context
from warehouse_gql.api.graphql.errors import translate
from warehouse_gql.api.graphql.schema import build_schema
from warehouse_gql.api.graphql.sockets import LegacyWSHandler, TransportWSHandler
from warehouse_gql.api.http import (
    HTTP_STATUS,
    Resources,
    bearer_token,
    cancellation,
    client_address,
    json_bytes,
    record_request,
    request_id,
)
from warehouse_gql.domain.errors import RateLimited, WarehouseError
from warehouse_gql.live import metrics
from warehouse_gql.live.sessions import OpenSocket
from warehouse_gql.services import sessions
from warehouse_gql.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
# GraphiQL from the package's own files (web/graphiql.html, web/vendor/graphiql/), never a CDN.
GRAPHIQL_PAGE = Path(__file__).resolve().parent.parent.parent / "web" / "graphiql.html"
# Scripts and styles from this server only, each pinned by its integrity hash; GraphiQL's
# editors set inline styles, and its fonts are data: URLs inside its stylesheet.
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
ENCODED_RESULTS = 64


def wants_graphql_response(request: Request | WebSocket) -> bool:
    """GraphQL-over-HTTP: answer in application/graphql-response+json when the client asks."""
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")


class EncodedResults:
    """The JSON of the last few subscription results, by identity.

    A result shared by a group of subscribers (api/graphql/shared_streams.py) is the same object for
    each of them: encode it once, not once per subscriber. Holding the object keeps its id
    from being reused while it is remembered.
    """

    def __init__(self, size: int = ENCODED_RESULTS) -> None:
        self.size = size
        self._texts: OrderedDict[int, tuple[object, str]] = OrderedDict()

    def encode(self, data: object) -> str:
        found = self._texts.get(id(data))
        if found is not None and found[0] is data:
            return found[1]
        text = json_bytes(data).decode()
        self._texts[id(data)] = (data, text)
        if len(self._texts) > self.size:
            self._texts.popitem(last=False)
        return text


def graphql_refusal(
    error: WarehouseError, scope: Scope
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A request refused before GraphQL ran (too large, past its deadline): a request error in
    GraphQL's shape, with the code's HTTP status."""
    extensions: dict[str, object] = {"code": error.code, **error.details()}
    body = json.dumps({"errors": [{"message": error.message, "extensions": extensions}]})
    accept = b""
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            accept = value
    media = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE.encode() in accept else "application/json"
    headers = [(b"content-type", media.encode())]
    if isinstance(error, RateLimited):
        headers.append((b"retry-after", str(error.retry_after).encode()))
    return HTTP_STATUS.get(error.code, 500), headers, body.encode()


def _refused_for_rate(body: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> int | None:
    """retryAfter when every error is RATE_LIMITED and nothing else was answered, else None."""
    if not isinstance(body, dict):
        return None
    errors: list[Any] = list(body.get("errors") or [])
    data = body.get("data")
    if not errors or (isinstance(data, dict) and any(v is not None for v in data.values())):
        return None
    waits: list[int] = []
    for error in errors:
        extensions = error.get("extensions") or {} if isinstance(error, dict) else {}
        if extensions.get("code") != "RATE_LIMITED":
            return None
        wait = extensions.get("retryAfter")
        waits.append(wait if isinstance(wait, int) else 1)
    return max(waits)


class GraphQLView(GraphQL[Context, None]):
    """Built with the app; `resources` is attached by the app's lifespan once they are open."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            keep_alive=True,
            keep_alive_interval=15,
            # Subscriptions are counted by api/graphql/sockets.py, queries not at all.
            max_subscriptions_per_connection=None,
            **kwargs,
        )
        self.resources: Resources | None = None
        self.encoded_results = EncodedResults()
        self.hide_suggestions = settings.production
        self.graphiql_page = GRAPHIQL_PAGE.read_text(encoding="utf-8") if settings.graphiql else ""

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(
            self.graphiql_page,
            headers={"content-security-policy": GRAPHIQL_CSP, "cache-control": "no-cache"},
        )

    def encode_json(self, data: object) -> str | bytes:
        if (
            isinstance(data, dict)
            and data.get("type") == "next"
            and isinstance(data.get("payload"), dict)
            and data["payload"].keys() == {"data"}
            and data.keys() == {"id", "type", "payload"}
        ):
            # A subscription event: only the operation id differs between its subscribers.
            body = self.encoded_results.encode(data["payload"]["data"])
            return f'{{"id":{json.dumps(data["id"])},"type":"next","payload":{{"data":{body}}}}}'
        # Text, not bytes: a WebSocket sends bytes as binary frames.
        return json_bytes(data).decode()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if self.resources is None:
            raise RuntimeError("the app's lifespan has not run")
        context = Context(
            resources=self.resources,
            request_id=request_id(request.headers.get("x-request-id")),
            token=bearer_token(request.headers.get("authorization")),
            request=request,
            response=response,
            client=client_address(request.scope, self.resources.settings.trusted_proxies),
        )
        request.state.context = context
        if isinstance(response, Response):
            request.state.request_id = context.request_id
            response.headers["x-request-id"] = context.request_id
            if wants_graphql_response(request):
                response.headers["content-type"] = GRAPHQL_RESPONSE
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A socket needs a live session from connection_init; it acts for that session, with
        the user's role as of each message (api/graphql/sockets.py), and ends with it."""
        token = context.session_token()
        generation = context.events.sessions.generation
        found = None if token is None else await sessions.session_of(context.db, token)
        if token is None or found is None:
            # graphql-transport-ws closes with 4403, legacy graphql-ws answers connection_error.
            raise ConnectionRejectionError(
                {
                    "message": 'A valid session is required: send {"authorization": "Bearer <token>"}.'
                }
            )
        user, expires_at = found
        context.socket = OpenSocket(
            token_hash=sessions.hash_token(token),
            user=user,
            expires_at=expires_at,
            seen_generation=generation,
        )
        accepted: UnsetType = UNSET
        return accepted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if scope["type"] != "websocket":
            await self._http(scope, receive, send, started)
            return
        websocket = WebSocket(scope, receive=receive, send=send)
        metrics.OPEN_SOCKETS.inc()
        try:
            await self.run(websocket)
        finally:
            metrics.OPEN_SOCKETS.dec()
            context = getattr(websocket.state, "context", None)
            if context is not None and context.socket is not None:
                context.events.sessions.sockets.remove(context.socket)
            record_request(
                door="graphql-ws",
                operation="socket",
                code="OK",
                duration=time.perf_counter() - started,
                request_id=context.request_id if context is not None else "-",
                user_id=context.known_user_id() if context is not None else None,
            )

    async def _http(self, scope: Scope, receive: Receive, send: Send, started: float) -> None:
        """Serve one HTTP request, then record it once: metrics and the request's log line."""
        status: list[int] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await super().__call__(scope, receive, sending)
        finally:
            state = scope.get("state", {})
            context: Context | None = state.get("context")
            http_status = status[0] if status else 500
            code = state.get("code") or ("OK" if http_status < 400 else "BAD_USER_INPUT")
            if http_status >= 500 and code == "OK":
                code = "INTERNAL_SERVER_ERROR"
            cancelled = cancellation(scope)
            if cancelled is not None and not status:
                code, http_status = cancelled
            is_ide = scope.get("method") == "GET" and context is None
            record_request(
                door="graphql",
                operation="graphiql" if is_ide else context.operation if context else "invalid",
                code=code,
                duration=time.perf_counter() - started,
                request_id=state.get("request_id") or "-",
                user_id=context.known_user_id() if context is not None else None,
                status=http_status,
            )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            # Parse errors end the operation before extensions see a result: code them here.
            request_id = getattr(request.state, "request_id", "-")
            result.errors = [
                translate(e, request_id, hide_suggestions=self.hide_suggestions)
                for e in result.errors
            ]
            first = result.errors[0].extensions or {}
            request.state.code = first.get("code", "INTERNAL_SERVER_ERROR")
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
        retry_after = _refused_for_rate(response_data)
        if retry_after is not None:
            # Refused as a whole by a rate limit: HTTP says so too (SPEC).
            response.status_code = 429
            response.headers["retry-after"] = str(retry_after)
        if sub_response.headers.get("content-type") == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            # A request error (nothing executed, no `data`) is a 400 in this media type.
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400
        return response

    async def run(self, request: Request | WebSocket, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, WebSocket):
            return await super().run(request, *args, **kwargs)
        try:
            return await super().run(request, *args, **kwargs)
        except HTTPException as exc:
            return self.request_error(request, exc)

    def request_error(self, request: Request, exc: HTTPException) -> Response:
        """Strawberry's plain-text refusals as GraphQL errors with a code; nothing ran: no data."""
        status, message, headers = exc.status_code, exc.reason, {}
        if isinstance(exc.__cause__, InvalidOperationTypeError) and request.method == "GET":
            # GraphQL-over-HTTP: a mutation over GET is 405 Method Not Allowed.
            status, message = 405, "Mutations are not allowed over GET; send them with POST."
            headers["allow"] = "POST"
        headers["x-request-id"] = getattr(request.state, "request_id", "-")
        request.state.code = "BAD_USER_INPUT"
        body = {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
        return Response(
            self.encode_json(body),
            status_code=status,
            headers=headers,
            media_type=GRAPHQL_RESPONSE if wants_graphql_response(request) else "application/json",
        )
