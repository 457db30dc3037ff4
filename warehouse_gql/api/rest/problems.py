"""Errors as RFC 9457 problem details (`application/problem+json`), with the SPEC's codes and
the HTTP status of each from api/http.py. Nothing unexpected leaves as more than its request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pydantic import Field

from warehouse_gql.api.http import HTTP_STATUS, request_id
from warehouse_gql.api.rest.endpoints import EXAMPLE_ID, Resource
from warehouse_gql.domain.errors import CODES, RateLimited, Unauthenticated, WarehouseError

log = logging.getLogger("warehouse_gql.errors")

PROBLEM_JSON = "application/problem+json"


class Problem(Resource):
    """What went wrong, for people (`detail`) and programs (`code`)."""

    type: str = Field(
        description="A URI naming the kind of problem: one per code.",
        examples=["urn:warehouse-gql:problem:NOT_FOUND"],
    )
    title: str = Field(description="The HTTP status phrase.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="One sentence a person can act on, naming the field or value at fault.",
        examples=[f"No bin with id '{EXAMPLE_ID}' exists."],
    )
    code: str = Field(
        description="The error code, the same as GraphQL's `extensions.code`.",
        json_schema_extra={"enum": list(CODES)},
        examples=["NOT_FOUND"],
    )
    request_id: str = Field(
        description="Quote it when reporting a problem; also the `x-request-id` header.",
        examples=["3f9c2a61b0d84e7a"],
    )
    field: str | None = Field(
        default=None, description="The input field at fault, where there is one."
    )
    retry_after: int | None = Field(
        default=None, description="RATE_LIMITED: seconds until a retry can succeed."
    )


def problem_body(
    code: str,
    detail: str,
    request_id: str,
    *,
    field: str | None = None,
    status: int | None = None,
    **extra: object,
) -> tuple[int, bytes]:
    """The status and body; `status` only where the SPEC overrides the code's own (a body
    that is not JSON is 400, a wrong method 405, both BAD_USER_INPUT)."""
    status = status or HTTP_STATUS.get(code, 500)
    body: dict[str, object] = {
        "type": f"urn:warehouse-gql:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": request_id,
    }
    if field:
        body["field"] = field
    body.update({k: v for k, v in extra.items() if v is not None})
    return status, json.dumps(body, separators=(",", ":")).encode()


def error_headers(error: WarehouseError) -> dict[str, str]:
    if isinstance(error, RateLimited):
        return {"retry-after": str(error.retry_after)}
    if isinstance(error, Unauthenticated):
        return {"www-authenticate": 'Bearer realm="warehouse-gql"'}
    return {}


def from_error(error: WarehouseError, request_id: str) -> tuple[int, bytes, dict[str, str]]:
    status, body = problem_body(
        error.code,
        error.message,
        request_id,
        field=getattr(error, "field", None),
        retryAfter=getattr(error, "retry_after", None),
    )
    return status, body, error_headers(error)


def unexpected(exc: BaseException, request_id: str, where: str) -> tuple[int, bytes]:
    log.error("request %s: unexpected error at %s", request_id, where, exc_info=exc)
    return problem_body(
        "INTERNAL_SERVER_ERROR",
        f"Something went wrong on our side; quote request id {request_id} when reporting it.",
        request_id,
    )


def refusal(
    error: WarehouseError, scope: Mapping[str, Any]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A request refused before it reached the door (by the body-size limit or the deadline of
    the middleware every door shares), answered as /api/v1 answers everything: a problem."""
    header = next(
        (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), None
    )
    rid = request_id(header)
    status, body, headers = from_error(error, rid)
    return (
        status,
        [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"x-request-id", rid.encode()),
            *((k.encode(), v.encode()) for k, v in headers.items()),
        ],
        body,
    )
