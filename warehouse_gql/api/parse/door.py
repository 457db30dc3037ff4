"""/parse over HTTP: both credential conventions, the routes, batch, and Parse error bodies.

Parse clients send credentials as `X-Parse-*` headers, or (the JavaScript SDK) inside a
`text/plain` POST body holding JSON with `_method`, `_ApplicationId`, `_SessionToken`, ... beside
the real parameters. Both arrive here as one `Incoming` and take the same route.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from warehouse_gql.api.http import Resources, client_address, request_id
from warehouse_gql.api.parse import classes, functions, livequery
from warehouse_gql.api.parse.call import Call
from warehouse_gql.api.parse.errors import (
    INVALID_JSON,
    VALIDATION_ERROR,
    ParseError,
    no_master_key,
    translate,
)
from warehouse_gql.domain.errors import ServiceUnavailable, Unauthenticated
from warehouse_gql.services import accounts, sessions
from warehouse_gql.settings import Settings

log = logging.getLogger(__name__)

MAX_BATCH = 100
# Keys of a JavaScript SDK body that carry credentials or client details, not parameters.
_SDK_KEYS = {
    "_ApplicationId": "app_id",
    "_SessionToken": "token",
    "_MasterKey": "master_key",
    "_MaintenanceKey": "master_key",
    "_RequestId": "request_key",
}
_IGNORED = {
    "_ClientVersion",
    "_InstallationId",
    "_JavaScriptKey",
    "_ClientKey",
    "_RevocableSession",
    "_ContentType",
    "_context",
}
_READS = {"GET"}


@dataclass
class Incoming:
    method: str
    path: str
    params: dict[str, Any]
    app_id: str | None = None
    token: str | None = None
    master_key: str | None = None
    request_key: str | None = None
    base_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ParseError(
            400, INVALID_JSON, "The body is not valid JSON.", "BAD_USER_INPUT"
        ) from None
    if not isinstance(body, dict):
        raise ParseError(400, INVALID_JSON, "The body must be a JSON object.", "BAD_USER_INPUT")
    return body


async def incoming(request: Request) -> Incoming:
    """Method, parameters and credentials of a request, from headers or a JavaScript SDK body."""
    headers = request.headers
    method = request.method.upper()
    params: dict[str, Any] = dict(request.query_params)
    if method in ("POST", "PUT"):
        body = _body(await request.body())
        override = body.pop("_method", None)
        if method == "POST" and isinstance(override, str):
            method = override.upper()
        params = body if method != "GET" or not params else params | body
    found = Incoming(
        method=method,
        path=request.path_params.get("rest", ""),
        params=params,
        app_id=headers.get("x-parse-application-id"),
        token=headers.get("x-parse-session-token") or None,
        master_key=headers.get("x-parse-master-key"),
        request_key=headers.get("x-parse-request-id") or None,
        base_url=str(request.base_url).rstrip("/") + "/parse",
    )
    for key, attribute in _SDK_KEYS.items():
        value = params.pop(key, None)
        if isinstance(value, str) and value and getattr(found, attribute) is None:
            setattr(found, attribute, value)
    for key in _IGNORED:
        params.pop(key, None)
    return found


def _path(path: str) -> list[str]:
    path = path.strip("/")
    # Batch requests name their paths with the mount ("/parse/classes/Item").
    if path.startswith("parse/"):
        path = path[len("parse/") :]
    return [p for p in path.split("/") if p]


async def _log_in(call: Call, params: Mapping[str, Any]) -> dict[str, Any]:
    username, password = params.get("username"), params.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ParseError(400, 200, "username and password are required.", "BAD_USER_INPUT")
    resources = call.resources
    try:
        session = await accounts.log_in(
            resources.db,
            resources.events,
            resources.passwords,
            username=username,
            password=password,
            ttl=timedelta(hours=resources.settings.session_ttl_hours),
            limits=resources.limits,
            client=call.client,
        )
    except Unauthenticated as exc:
        raise ParseError(404, 101, exc.message, exc.code) from None
    return classes.user_json(session.user, session.user) | {
        "sessionToken": classes.parse_token(session.token)
    }


async def _log_out(call: Call) -> dict[str, Any]:
    if call.token is not None:
        user = await call.user()  # 209 for a token that names no session
        await sessions.log_out(
            call.resources.db, call.resources.events, token=call.token, user_id=user.id
        )
    return {}


async def _me(call: Call) -> dict[str, Any]:
    if call.token is None:
        raise ParseError(400, 209, "Invalid session token", "UNAUTHENTICATED")
    user = await call.user()
    return classes.user_json(user, user) | {"sessionToken": classes.parse_token(call.token)}


def _unknown(method: str, path: str) -> ParseError:
    return ParseError(404, 101, f"Cannot {method} /parse/{path}", "NOT_FOUND")


async def route(call: Call, found: Incoming) -> tuple[int, Any, str | None]:
    """(status, body, Location) of one request; raises ParseError or our errors."""
    method, parts, params = found.method, _path(found.path), found.params
    if parts == ["health"]:
        return 200, {"status": "ok"}, None
    if parts == ["login"] and method in ("GET", "POST"):
        return 200, await _log_in(call, params), None
    if parts == ["logout"] and method == "POST":
        return 200, await _log_out(call), None
    if parts == ["users", "me"] and method == "GET":
        return 200, await _me(call), None
    if parts == ["functions", *parts[1:]] and len(parts) == 2 and method == "POST":
        return 200, await functions.run(call, parts[1], params), None
    if parts == ["batch"] and method == "POST":
        return 200, await _batch(call, found), None
    if parts and parts[0] == "users":
        parts = ["classes", "_User", *parts[1:]]
    if len(parts) in (2, 3) and parts[0] == "classes":
        cls = classes.parse_class(parts[1])
        where = "users" if cls.name == "_User" else f"classes/{cls.name}"
        if len(parts) == 2 and method == "GET":
            return 200, await classes.find(call, cls, params), None
        if len(parts) == 2 and method == "POST":
            created = await classes.create(call, cls, params)
            return 201, created, f"{found.base_url}/{where}/{created['objectId']}"
        if len(parts) == 3 and method == "GET":
            return 200, await classes.get(call, cls, parts[2], params), None
        if len(parts) == 3 and method == "PUT":
            return 200, await classes.update(call, cls, parts[2], params), None
        if len(parts) == 3 and method == "DELETE":
            return 200, await classes.delete(call, cls, parts[2]), None
    raise _unknown(method, found.path)


async def _batch(call: Call, found: Incoming) -> list[dict[str, Any]]:
    """Each request in order, not atomic, as Parse does; a failure does not stop the rest.
    One that would start past the request's deadline is not run (a batch whose write has
    committed is no longer cancelled at its deadline, api/http.py): its error says so."""
    timeout = call.resources.settings.request_timeout_s
    deadline = time.monotonic() + timeout
    params = found.params
    if params.get("transaction"):
        raise ParseError(
            400,
            VALIDATION_ERROR,
            "Batch transactions are not supported: every operation is atomic on its own.",
            "BAD_USER_INPUT",
        )
    requests = params.get("requests")
    if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
        raise ParseError(400, 107, "requests must be an array of {method, path, body}.")
    if len(requests) > MAX_BATCH:
        raise ParseError(
            400, VALIDATION_ERROR, f"A batch holds at most {MAX_BATCH} requests.", "BAD_USER_INPUT"
        )
    results: list[dict[str, Any]] = []
    for index, sub in enumerate(requests):
        body = sub.get("body") if isinstance(sub.get("body"), dict) else {}
        sub_call = replace(
            call,
            request_key=None if call.request_key is None else f"{call.request_key}:{index}",
        )
        sub_found = replace(
            found,
            method=str(sub.get("method", "")).upper(),
            path=str(sub.get("path", "")),
            params=dict(body or {}),
        )
        try:
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"Not run: the batch had run past its {timeout:g} s deadline. The "
                    "requests before it were answered; read before retrying them."
                )
            if _path(sub_found.path) == ["batch"]:
                raise _unknown(sub_found.method, sub_found.path)
            _, answer, _ = await route(sub_call, sub_found)
            results.append({"success": answer})
        except Exception as exc:
            error = translate(exc, call.request_id)
            results.append({"error": {"code": error.code, "error": error.message}})
    return results


class ParseDoor:
    """The /parse routes; `resources` is set by the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.resources: Resources | None = None
        self.live_queries = livequery.LiveQueries(settings.max_queued_events)

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PUT", "DELETE"]
        return [
            WebSocketRoute("/parse", self.websocket),
            WebSocketRoute("/parse/", self.websocket),
            Route("/parse/{rest:path}", self.http, methods=methods),
        ]

    async def http(self, request: Request) -> Response:
        rid = request_id(request.headers.get("x-request-id"))
        headers = {"x-request-id": rid}
        try:
            if self.resources is None:
                raise ParseError(503, 1, "The server is starting.", "SERVICE_UNAVAILABLE")
            found = await incoming(request)
            if _path(found.path) == ["health"]:
                return JSONResponse({"status": "ok"}, headers=headers)
            if found.app_id != self.settings.parse_app_id:
                return JSONResponse({"error": "unauthorized"}, status_code=403, headers=headers)
            if found.master_key is not None:
                raise no_master_key()
            call = Call(
                self.resources,
                rid,
                token=found.token,
                request_key=found.request_key,
                client=client_address(request.scope, self.settings.trusted_proxies),
            )
            await call.caller()  # a bad token is 209 on every route, as Parse answers
            status, body, location = await route(call, found)
        except Exception as exc:
            error = translate(exc, rid)
            return JSONResponse(error.body(), status_code=error.status, headers=headers)
        if location is not None:
            headers["location"] = location
        return JSONResponse(body, status_code=status, headers=headers)

    async def websocket(self, websocket: WebSocket) -> None:
        if self.resources is None:
            await websocket.close(code=1013)
            return
        await livequery.serve(
            websocket, self.resources, self.settings.parse_app_id, self.live_queries
        )
