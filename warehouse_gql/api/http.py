"""What every front door shares: the resources the lifespan opens, credentials from a request,
request ids, and the error-code -> HTTP status table. Nothing here knows GraphQL, REST or Parse."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from warehouse_gql.live import metrics
from warehouse_gql.live.bus import EventBus
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
