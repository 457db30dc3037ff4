"""What every front door shares: the resources the lifespan opens, credentials from a request,
who may use an operation, page sizes and cursors, request ids, and the error-code -> HTTP
status table. Nothing here knows GraphQL, REST or Parse."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import uuid
from dataclasses import dataclass, field

from warehouse_gql.domain import access
from warehouse_gql.domain.errors import BadUserInput, Forbidden, Unauthenticated
from warehouse_gql.domain.models import User
from warehouse_gql.live import metrics
from warehouse_gql.live.bus import EventBus
from warehouse_gql.services import accounts
from warehouse_gql.services.passwords import Passwords
from warehouse_gql.settings import Settings
from warehouse_gql.store.database import Database

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
    session_cache: accounts.SessionCache = field(default_factory=accounts.SessionCache)

    def __post_init__(self) -> None:
        # logOut and role changes reach every process through the bus: forget them here too.
        self.events.session_listeners.append(self.session_cache.forget)


def bearer_token(value: object) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, or None."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def request_id(header: str | None) -> str:
    """The caller's `X-Request-Id` (at most 64 characters), or a new one."""
    return (header or uuid.uuid4().hex[:16])[:64]


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
    return await accounts.authenticate(resources.db, token, resources.session_cache)


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
