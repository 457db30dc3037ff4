"""The /api/v1 door: one Starlette route per path, dispatching on the method to the declared
endpoints; problem details for every failure, including unknown routes (404) and methods (405)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.types import Receive, Scope, Send

from warehouse_gql.api.http import Resources, cancellation, record_request, request_id
from warehouse_gql.api.rest import accounts, feed, floor, inventory, orders, problems, webhooks
from warehouse_gql.api.rest.endpoints import (
    Call,
    Endpoint,
    Endpoints,
    NotJson,
    Reply,
    dump,
    parse_body,
    parse_query,
    read_body,
)
from warehouse_gql.api.rest.openapi import build_document
from warehouse_gql.domain.errors import ServiceUnavailable, WarehouseError
from warehouse_gql.store.errors import is_unreachable

# The areas, in the order of the document. The change feed's module (api/rest/changes.py)
# declares its routes with an Endpoints of its own and is added here like the others.
AREAS: tuple[Endpoints, ...] = (
    accounts.routes,
    inventory.routes,
    orders.routes,
    floor.routes,
    feed.routes,
    webhooks.routes,
)
JSON = "application/json"
DEFAULT_BODY_LIMIT = 1 << 20


def _problem(status: int, body: bytes, rid: str, headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status, headers, media_type=problems.PROBLEM_JSON)
    response.headers["x-request-id"] = rid
    return response


def error_response(exc: BaseException, rid: str, where: str) -> tuple[Response, str]:
    """Any failure as problem details, and its code: expected errors with their own, the
    rest masked as INTERNAL_SERVER_ERROR (and logged with the request id)."""
    if isinstance(exc, NotJson):
        status, body = problems.problem_body("BAD_USER_INPUT", exc.message, rid, status=400)
        return _problem(status, body, rid), "BAD_USER_INPUT"
    if is_unreachable(exc):
        exc = ServiceUnavailable()
    if isinstance(exc, WarehouseError):
        status, body, headers = problems.from_error(exc, rid)
        return _problem(status, body, rid, headers), exc.code
    status, body = problems.unexpected(exc, rid, where)
    return _problem(status, body, rid), "INTERNAL_SERVER_ERROR"


def not_modified(request: Request, reply: Reply) -> bool:
    """A GET whose `If-None-Match` names the current ETag: the client's copy is current."""
    tag = reply.headers.get("etag")
    wanted = request.headers.get("if-none-match")
    if request.method not in ("GET", "HEAD") or tag is None or wanted is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return "*" in tags or tag in tags


class RestMount(Mount):
    """Mounts the door at its prefix for every path under it. Starlette's Mount matches with
    a regex whose `.` stops at a newline, so `/api/v1/orders/a%0Ab` would fall through to the
    app's plain-text 404; under /api/v1 every answer must be a problem."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        root_path = scope.get("root_path", "")
        path: str = scope["path"]
        route_path = path[len(root_path) :] if root_path and path.startswith(root_path) else path
        if route_path != self.path and not route_path.startswith(self.path + "/"):
            return Match.NONE, {}
        return Match.FULL, {
            "path_params": dict(scope.get("path_params", {})),
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + self.path,
            "endpoint": self.app,
        }


class RestApi:
    """Built with the app; `resources` is attached by the app's lifespan once they are open."""

    def __init__(self, areas: Sequence[Endpoints] = AREAS) -> None:
        self.resources: Resources | None = None
        self.areas = tuple(areas)
        self.document = build_document(self.areas)
        self._document_json = json.dumps(self.document).encode()
        by_path: dict[str, dict[str, Endpoint]] = {}
        for area in self.areas:
            for endpoint in area.all:
                by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
        routes = [
            Route(path, self._dispatcher(methods), methods=list(methods))
            for path, methods in by_path.items()
        ]
        routes.append(Route("/openapi.json", self.openapi, methods=["GET"]))
        self.app = Starlette(routes=routes, exception_handlers={HTTPException: self.http_error})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def openapi(self, request: Request) -> Response:
        return Response(self._document_json, media_type=JSON)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Starlette's own refusals: no such route (404), no such method on it (405)."""
        assert isinstance(exc, HTTPException)
        rid = request_id(request.headers.get("x-request-id"))
        if exc.status_code == 405:
            allow = (exc.headers or {}).get("Allow", "")
            _, body = problems.problem_body(
                "BAD_USER_INPUT",
                f"{request.method} is not allowed on {request.url.path}; use {allow}.",
                rid,
                status=405,
            )
            return _problem(405, body, rid, {"allow": allow})
        if exc.status_code == 404:
            _, body = problems.problem_body(
                "NOT_FOUND", f"There is no route {request.url.path}; see /api/docs.", rid
            )
            return _problem(404, body, rid)
        _, body = problems.problem_body(
            "BAD_USER_INPUT", str(exc.detail), rid, status=exc.status_code
        )
        return _problem(exc.status_code, body, rid)

    def _dispatcher(self, methods: dict[str, Endpoint]):  # type: ignore[no-untyped-def]
        async def dispatch(request: Request) -> Response:
            method = "GET" if request.method == "HEAD" else request.method
            return await self.handle(methods[method], request)

        return dispatch

    async def handle(self, endpoint: Endpoint, request: Request) -> Response:
        started = time.perf_counter()
        rid = request_id(request.headers.get("x-request-id"))
        call: Call | None = None
        try:
            if self.resources is None:
                raise ServiceUnavailable("The server is starting; try again shortly.")
            body = None
            if endpoint.body is not None:
                limit = getattr(self.resources.settings, "max_body_bytes", DEFAULT_BODY_LIMIT)
                body = parse_body(endpoint.body, await read_body(request, limit))
            query = None if endpoint.query is None else parse_query(endpoint.query, request)
            call = Call(request, self.resources, rid, body, query, endpoint.operation_id)
            reply = await endpoint.handler(call)
        except asyncio.CancelledError:
            reason = cancellation(request.scope)
            if reason is not None:  # the guard's: past the deadline, or the client left
                record_request(
                    door="rest",
                    operation=endpoint.operation_id,
                    code=reason[0],
                    duration=time.perf_counter() - started,
                    request_id=rid,
                    user_id=call.known_user_id() if call is not None else None,
                    status=reason[1],
                )
            raise
        except Exception as exc:
            response, code = error_response(exc, rid, endpoint.operation_id)
        else:
            if reply.raw is not None:
                response = reply.raw
            elif not_modified(request, reply):
                response = Response(status_code=304, headers={"etag": reply.headers["etag"]})
            else:
                content = b"" if reply.body is None else dump(reply.body)
                response = Response(
                    content,
                    reply.status,
                    reply.headers,
                    media_type=None if reply.status == 204 else JSON,
                )
            response.headers["x-request-id"] = rid
            code = "OK"
        record_request(
            door="rest",
            operation=endpoint.operation_id,
            code=code,
            duration=time.perf_counter() - started,
            request_id=rid,
            user_id=call.known_user_id() if call is not None else None,
            status=response.status_code,
        )
        return response
