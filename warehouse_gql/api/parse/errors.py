"""Our error codes -> Parse error codes and HTTP statuses, and Parse's own request errors.

The body is Parse's `{"code", "error"}` plus `reason`, our code. The Parse SDKs retry every 5xx,
so no rule violation is ever answered with one.
"""

from __future__ import annotations

import logging
from typing import Any

from warehouse_gql.domain.errors import Duplicate, Forbidden, ServiceUnavailable, WarehouseError
from warehouse_gql.store.errors import is_unreachable

log = logging.getLogger("warehouse_gql.errors")

# Parse's codes (Parse.Error) that we answer with.
INTERNAL_SERVER_ERROR = 1
CONNECTION_FAILED = 100
OBJECT_NOT_FOUND = 101
INVALID_QUERY = 102
INVALID_CLASS_NAME = 103
INVALID_JSON = 107
DUPLICATE_VALUE = 137
SCRIPT_FAILED = 141
VALIDATION_ERROR = 142
OPERATION_FORBIDDEN = 119
INVALID_SESSION_TOKEN = 209

# our code -> (HTTP status, Parse code)
CODES: dict[str, tuple[int, int]] = {
    "UNAUTHENTICATED": (403, OPERATION_FORBIDDEN),
    "FORBIDDEN": (403, OPERATION_FORBIDDEN),
    "NOT_FOUND": (404, OBJECT_NOT_FOUND),
    "BAD_USER_INPUT": (400, VALIDATION_ERROR),
    "INSUFFICIENT_STOCK": (400, VALIDATION_ERROR),
    "CAPACITY_EXCEEDED": (400, VALIDATION_ERROR),
    "INVALID_TRANSITION": (400, VALIDATION_ERROR),
    "CONFLICT": (400, VALIDATION_ERROR),
    "PRECONDITION_FAILED": (400, VALIDATION_ERROR),
    "PAYLOAD_TOO_LARGE": (400, VALIDATION_ERROR),
    "QUERY_TOO_COMPLEX": (400, INVALID_QUERY),
    "CURSOR_EXPIRED": (400, VALIDATION_ERROR),
    "RATE_LIMITED": (429, CONNECTION_FAILED),
    "SERVICE_UNAVAILABLE": (503, INTERNAL_SERVER_ERROR),
    "INTERNAL_SERVER_ERROR": (500, INTERNAL_SERVER_ERROR),
}


class ParseError(Exception):
    """A failure in Parse's terms: HTTP status, Parse code, message and our reason code."""

    def __init__(self, status: int, code: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "error": self.message}
        if self.reason is not None:
            body["reason"] = self.reason
        return body


def invalid_query(message: str) -> ParseError:
    return ParseError(400, INVALID_QUERY, message, "BAD_USER_INPUT")


def unknown_class(name: str) -> ParseError:
    return ParseError(400, INVALID_CLASS_NAME, f"Class {name!r} is not served here.", "NOT_FOUND")


def read_only(field: str, hint: str = "") -> ParseError:
    message = f"{field} cannot be set through this class." + (f" {hint}" if hint else "")
    return ParseError(403, OPERATION_FORBIDDEN, message, "FORBIDDEN")


def invalid_session() -> ParseError:
    return ParseError(400, INVALID_SESSION_TOKEN, "Invalid session token", "UNAUTHENTICATED")


def no_master_key() -> ParseError:
    return ParseError(
        403,
        OPERATION_FORBIDDEN,
        "There is no master key: managers act with their own session.",
        "FORBIDDEN",
    )


def not_found() -> ParseError:
    return ParseError(404, OBJECT_NOT_FOUND, "Object not found.", "NOT_FOUND")


def translate(exc: BaseException, request_id: str) -> ParseError:
    """Any exception of a request as a ParseError; unexpected ones are logged and masked."""
    if isinstance(exc, ParseError):
        return exc
    if is_unreachable(exc):
        log.warning("request %s: database unreachable: %s", request_id, exc)
        exc = ServiceUnavailable()
    if isinstance(exc, WarehouseError):
        status, code = CODES.get(exc.code, (400, VALIDATION_ERROR))
        if isinstance(exc, Duplicate):
            code = DUPLICATE_VALUE  # a unique value that is taken
        if isinstance(exc, Forbidden):
            status, code = 403, OPERATION_FORBIDDEN
        return ParseError(status, code, exc.message, exc.code)
    log.error("request %s: unexpected error on /parse", request_id, exc_info=exc)
    return ParseError(
        500,
        INTERNAL_SERVER_ERROR,
        f"Something went wrong on our side; quote request id {request_id} when reporting it.",
        "INTERNAL_SERVER_ERROR",
    )
