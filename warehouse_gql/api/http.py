"""What every front door shares: the resources the lifespan opens, credentials from a request,
who may use an operation, page sizes and cursors, request ids, the client's address, the
error-code -> HTTP status table, and the ASGI guard that bounds every request (body size,
deadline, client gone). Nothing here knows GraphQL, REST or Parse: each door gives the guard
its own way of answering a refusal."""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warehouse_gql.domain import access
from warehouse_gql.domain.errors import (
    BadUserInput,
    Forbidden,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthenticated,
    WarehouseError,
)
from warehouse_gql.domain.models import User
from warehouse_gql.live import metrics
from warehouse_gql.live.bus import EventBus
from warehouse_gql.services import sessions
from warehouse_gql.services.limits import RateLimits
from warehouse_gql.services.passwords import Passwords
from warehouse_gql.settings import Settings
from warehouse_gql.store.database import Commits, Database, request_commits

request_log = logging.getLogger("warehouse_gql.requests")

# SPEC "REST API": the HTTP status of each error code, for every door that speaks plain HTTP.
HTTP_STATUS: dict[str, int] = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "BAD_USER_INPUT": 422,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "INSUFFICIENT_STOCK": 409,
    "CAPACITY_EXCEEDED": 409,
    "INVALID_TRANSITION": 409,
    "PRECONDITION_FAILED": 412,
    "PAYLOAD_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    "CURSOR_EXPIRED": 410,
    "QUERY_TOO_COMPLEX": 422,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_SERVER_ERROR": 500,
}


@dataclass(frozen=True)
class Resources:
    """What the app's lifespan opens once and every request shares."""

    db: Database
    events: EventBus
    passwords: Passwords
    settings: Settings
    # The rate limits of this deployment (cost points, auth attempts), made from the settings.
    limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "limits",
            RateLimits(
                points_per_minute=self.settings.rate_limit_points,
                auth_per_minute=self.settings.auth_rate_limit,
                redis_url=self.settings.redis_url,
            ),
        )


def bearer_token(value: object) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, or None."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def request_id(header: str | None) -> str:
    """The caller's `X-Request-Id` (at most 64 characters), or a new one."""
    return (header or os.urandom(8).hex())[:64]


def json_bytes(value: object) -> bytes:
    """Compact JSON of an answer (orjson); what orjson refuses (integers beyond 64 bits,
    keys that are not strings) through the standard library."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def client_address(scope: Scope, trusted_proxies: tuple[str, ...] = ()) -> str:
    """The client's address: the socket peer, or the X-Forwarded-For hop before our trusted
    proxies when the peer is one of them (the rightmost untrusted address: a client can put
    anything on the left of that header, never on the right)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "-"
    if not trusted_proxies:
        return peer
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    if not trusted(peer):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(","))
    for hop in reversed([h for h in forwarded if h]):
        if not trusted(hop):
            return hop
    return forwarded[0] if forwarded else peer


# A door's answer to a refused request: (error, scope) -> (status, headers, body).
Refusal = Callable[[WarehouseError, Scope], tuple[int, list[tuple[bytes, bytes]], bytes]]


def json_refusal(
    error: WarehouseError, scope: Scope
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The default answer: {"code", "message"} as JSON with the code's HTTP status."""
    body = json.dumps({"code": error.code, "message": error.message, **error.details()})
    return (
        HTTP_STATUS.get(error.code, 500),
        [(b"content-type", b"application/json")],
        body.encode(),
    )


class _TooLarge(Exception):
    pass


# Why the guard cancelled a request, as its door records it (metrics and the request's log
# line): past its deadline it is answered SERVICE_UNAVAILABLE; a client that went away gets
# no answer, and the record says CANCELLED with nginx's 499 "client closed request".
DEADLINE = ("SERVICE_UNAVAILABLE", 503)
# A request whose write has reached its commit is answered with that write, not "retry", for
# at least this long past its deadline: what is left of it is bounded (its changes' delivery
# wait, reads that time out on their own), so only a fault ever reaches the end of it.
COMMITTED_GRACE_S = 10.0
CLIENT_GONE = ("CANCELLED", 499)


def cancelled_because(scope: Scope, reason: tuple[str, int]) -> None:
    scope.setdefault("state", {})["cancelled"] = reason


def cancellation(scope: Scope) -> tuple[str, int] | None:
    """(code, status) of a request the guard cancelled, or None."""
    found: tuple[str, int] | None = scope.get("state", {}).get("cancelled")
    return found


log = logging.getLogger(__name__)


class RequestGuard:
    """ASGI middleware for every door: bodies over `max_body_bytes` are refused with 413 as
    soon as the declared length or the bytes received pass it (the rest is never read); a
    request that has not started its answer within `timeout` seconds is cancelled and answered
    503 (one whose write has reached its commit is waited for, the longer of
    `COMMITTED_GRACE_S` and `timeout` more, and only then gets a 503 that says so); a request
    whose client disconnects is cancelled. WebSocket messages over the size end the socket
    with 1009 (message too big). `refusals` maps a path prefix to its door's answer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        timeout: float,
        refusals: Mapping[str, Refusal] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        self.grace = max(timeout, COMMITTED_GRACE_S)
        self.refusals = dict(refusals or {})

    def refusal_for(self, scope: Scope) -> Refusal:
        path = str(scope.get("path", ""))
        for prefix, refusal in sorted(self.refusals.items(), key=lambda kv: -len(kv[0])):
            if path.startswith(prefix):
                return refusal
        return json_refusal

    async def refuse(self, error: WarehouseError, scope: Scope, send: Send) -> None:
        status, headers, body = self.refusal_for(scope)(error, scope)
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        if error.code == "PAYLOAD_TOO_LARGE":
            # The unread rest of the body is not worth keeping the connection for.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, self._websocket_receive(receive, send), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_body_bytes:
                    await self.refuse(PayloadTooLarge(self.max_body_bytes), scope, send)
                    return
        await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False
        disconnected = asyncio.Event()
        watcher: asyncio.Task[Message] | None = None
        app_task: asyncio.Task[None] | None = None

        async def watch() -> Message:
            # The body is read: the next message can only be the client going away.
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                if app_task is not None and not started:
                    cancelled_because(scope, CLIENT_GONE)
                    app_task.cancel()
            return message

        async def guarded_receive() -> Message:
            nonlocal received, watcher
            if watcher is not None:
                return await asyncio.shield(watcher)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge
                if not message.get("more_body", False):
                    watcher = asyncio.ensure_future(watch())
            elif message["type"] == "http.disconnect":
                disconnected.set()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        commits = Commits()
        # The app's task starts with a copy of this context: its writes tell it here.
        telling = request_commits.set(commits)
        try:
            app_task = asyncio.ensure_future(self.app(scope, guarded_receive, guarded_send))
        finally:
            request_commits.reset(telling)
        try:
            done, _ = await asyncio.wait({app_task}, timeout=self.timeout)
            if not done and not started and commits.committed:
                # A write of it has reached its commit: "retry" could apply it twice. Its own
                # answer, which waits (bounded) for its changes' delivery, is waited for.
                done, _ = await asyncio.wait({app_task}, timeout=self.grace)
            if not done and not started:
                cancelled_because(scope, DEADLINE)
                app_task.cancel()
                await asyncio.gather(app_task, return_exceptions=True)
                if not disconnected.is_set():
                    log.warning(
                        "%s %s ran past the deadline", scope.get("method"), scope.get("path")
                    )
                    await self.refuse(
                        ServiceUnavailable(
                            f"The request ran longer than {self.timeout + self.grace:g} "
                            "seconds and was stopped after its write was sent to the "
                            "database; read before retrying."
                            if commits.committed
                            else f"The request ran longer than {self.timeout:g} seconds and "
                            "was stopped; simplify it or retry shortly."
                        ),
                        scope,
                        send,
                    )
                return
            await app_task
        except _TooLarge:
            if not started:
                await self.refuse(PayloadTooLarge(self.max_body_bytes), scope, send)
        except asyncio.CancelledError:
            if not disconnected.is_set():
                raise
            # The client went away: its request was cancelled, nobody is left to answer.
        finally:
            if not app_task.done():
                app_task.cancel()
            if watcher is not None and not watcher.done():
                watcher.cancel()

    def _websocket_receive(self, receive: Receive, send: Send) -> Receive:
        limit = self.max_body_bytes

        async def guarded() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                size = len(message.get("text") or "") + len(message.get("bytes") or b"")
                if size > limit:
                    await send(
                        {"type": "websocket.close", "code": 1009, "reason": "Message too big"}
                    )
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        return guarded


def record_request(
    *,
    door: str,
    operation: str,
    code: str,
    duration: float,
    request_id: str,
    user_id: str | None,
    status: int | None = None,
) -> None:
    """The one record of an answered request, for every door: its metrics and its log line.

    `operation` must come from the server's own names (a root field, a route), never from the
    caller's text: it is a metric label, and labels must stay few.
    """
    metrics.REQUESTS.labels(door, operation, code).inc()
    metrics.REQUEST_DURATION.labels(door, operation).observe(duration)
    request_log.info(
        "%s %s %s",
        door,
        operation,
        code,
        extra={
            "request_id": request_id,
            "user_id": user_id,
            "door": door,
            "operation": operation,
            "code": code,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
        },
    )


async def authenticate(resources: Resources, token: str | None) -> User | None:
    """The user of a session token from any door (through the per-process session cache)."""
    if token is None:
        return None
    return await sessions.authenticate(resources.db, resources.events, token=token)


def authorize(user: User | None, operation: str, *, name: str | None = None) -> User:
    """The caller, if the matrix of domain/access.py lets their role use `operation`; else
    UNAUTHENTICATED (no valid session) or FORBIDDEN. Every door asks this one function.

    `name` is what the caller asked for in the door's own terms (a GraphQL field, a REST
    operation): the message names it, never the matrix's internal key (several fields share
    "readStock")."""
    if user is None:
        raise Unauthenticated()
    if not access.allowed(operation, user.role):
        raise Forbidden(name or operation, user.role.value)
    return user


DEFAULT_PAGE = 50
MAX_PAGE = 100
_CURSOR_PREFIX = "c1:"
_NODE_ID = re.compile(r"[0-9a-fA-F]{24}")


def page_size(value: int | None, *, field: str) -> int:
    """A page size (GraphQL `first`, REST `limit`): 1 to 100; left out (or null) means 50."""
    if value is None:
        return DEFAULT_PAGE
    if not 1 <= value <= MAX_PAGE:
        raise BadUserInput(f"{field} must be between 1 and {MAX_PAGE}, got {value}.", field=field)
    return value


def encode_cursor(node_id: str) -> str:
    """An opaque cursor pointing at a record of a list (every door gives out the same ones)."""
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + node_id).encode()).decode()


def decode_cursor(cursor: str | None, *, field: str = "after") -> str | None:
    """The record id a cursor points at; BAD_USER_INPUT for anything this API did not give out."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, binascii.Error, UnicodeError):
        raw = ""
    node_id = raw[len(_CURSOR_PREFIX) :]
    if not raw.startswith(_CURSOR_PREFIX) or not _NODE_ID.fullmatch(node_id):
        raise BadUserInput(
            f"{field} {cursor!r} is not a cursor this API gave out; pass an endCursor or cursor value.",
            field=field,
        )
    return node_id
