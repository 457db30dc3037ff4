"""The OpenAPI 3.1 document, built from the endpoint declarations and their pydantic models
(pydantic's JSON Schema is draft 2020-12, the dialect of OpenAPI 3.1). Nothing here is written
by hand per route: change a declaration and the document follows."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from warehouse_gql.api.http import HTTP_STATUS
from warehouse_gql.api.rest.endpoints import EXAMPLE_ID, Endpoint, Endpoints
from warehouse_gql.api.rest.problems import PROBLEM_JSON, Problem

# The version of the /api/v1 contract (not of the package): bumped when the document changes
# in a way clients notice.
API_VERSION = "1.0.0"
PATH_PARAMETER = re.compile(r"{(\w+)}")
REF = "#/components/schemas/{model}"

# Every endpoint can answer these: wrong input (422), a limit (429), an outage (503), a bug (500).
COMMON_ERRORS = ("BAD_USER_INPUT", "RATE_LIMITED", "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR")

DESCRIPTION = """\
A resource API over the same services as the GraphQL API at `/graphql`: the same sessions,
permissions, validation, invariants and events (a change made here reaches every GraphQL
subscription).

* **Auth**: `Authorization: Bearer <token>` from `POST /auth/login` or `POST /auth/signup`.
* **Lists**: `?limit=` (1–100, default 50) and `?after=<nextCursor>`; the body is
  `{data, nextCursor, totalCount}`, oldest first, with a `Link: <…>; rel="next"` header when
  another page follows.
* **Single resources** carry an `ETag` that changes with every change; send it back as
  `If-Match` on PATCH, DELETE and actions: a stale tag is `412 PRECONDITION_FAILED` and
  changes nothing.
* **Errors** are RFC 9457 problem details (`application/problem+json`) with `code` from the
  same list as GraphQL's `extensions.code`.
"""


def _problem_response(status: int) -> dict[str, Any]:
    codes = sorted(
        code for code, s in HTTP_STATUS.items() if s == status and code != "QUERY_TOO_COMPLEX"
    )
    if status == 400:
        description = "The body is not JSON (code BAD_USER_INPUT)."
    else:
        description = f"{HTTPStatus(status).phrase}: code {' or '.join(codes)}."
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds until a retry can succeed.",
                "schema": {"type": "integer"},
            }
        }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"description": "Bearer.", "schema": {"type": "string"}}
        }
    return response


def _error_statuses(endpoint: Endpoint) -> list[int]:
    statuses = {HTTP_STATUS[code] for code in (*COMMON_ERRORS, *endpoint.errors)}
    statuses.add(401)  # no valid session; for logIn, a wrong username or password
    if endpoint.body is not None:
        statuses |= {400, 413}
    if endpoint.if_match:
        statuses.add(412)
    if PATH_PARAMETER.search(endpoint.path):
        statuses.add(404)
    return sorted(statuses)


HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "The version of this state of the resource; send it as If-Match.",
        "schema": {"type": "string", "examples": ['"v3"']},
    },
    "Location": {
        "description": "Where the new resource is read.",
        "schema": {"type": "string", "examples": [f"/api/v1/bins/{EXAMPLE_ID}"]},
    },
    "Link": {
        "description": 'The next page, as `<url>; rel="next"`, when there is one.',
        "schema": {"type": "string"},
    },
}


def _success(endpoint: Endpoint, status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    headers: dict[str, Any] = {}
    if endpoint.etag and status != 204:
        headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    if endpoint.location:
        headers["Location"] = {"$ref": "#/components/headers/Location"}
    if endpoint.link:
        headers["Link"] = {"$ref": "#/components/headers/Link"}
    if headers:
        response["headers"] = headers
    if endpoint.media_type != "application/json" and status != 204:
        response["content"] = {endpoint.media_type: {"schema": {"type": "string"}}}
    elif endpoint.response is not None and status != 204:
        response["content"] = {
            "application/json": {"schema": {"$ref": REF.format(model=endpoint.response.__name__)}}
        }
    return response


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _operation(endpoint: Endpoint, query_schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
    }
    if endpoint.description:
        operation["description"] = endpoint.description.strip()
    if endpoint.public:
        operation["security"] = []
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
        for name in PATH_PARAMETER.findall(endpoint.path)
    ]
    if endpoint.query is not None:
        parameters += _query_parameters(query_schemas[endpoint.query.__name__])
    if endpoint.if_match:
        parameters.append({"$ref": "#/components/parameters/IfMatch"})
    if endpoint.method == "GET" and endpoint.etag:
        parameters.append({"$ref": "#/components/parameters/IfNoneMatch"})
    if endpoint.idempotency_key:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=endpoint.body.__name__)}}
            },
        }
    responses: dict[str, Any] = {
        str(endpoint.status): _success(
            endpoint, endpoint.status, HTTPStatus(endpoint.status).phrase
        )
    }
    if endpoint.method == "GET" and endpoint.etag:
        responses["304"] = {
            "description": "Not Modified: `If-None-Match` names the current ETag.",
            "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
        }
    if endpoint.replay_status is not None:
        responses[str(endpoint.replay_status)] = _success(
            endpoint, endpoint.replay_status, "A repeat of an Idempotency-Key: the first order."
        )
    for status in _error_statuses(endpoint):
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    operation["responses"] = responses
    return operation


def build_document(areas: Sequence[Endpoints], *, version: str = API_VERSION) -> dict[str, Any]:
    endpoints = [e for area in areas for e in area.all]
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for e in endpoints:
        if e.response is not None:
            models.append((e.response, "serialization"))
        if e.body is not None:
            models.append((e.body, "validation"))
        if e.query is not None:
            models.append((e.query, "validation"))
    unique = list(dict.fromkeys(models))
    _, schema = models_json_schema(unique, ref_template=REF)
    schemas: dict[str, Any] = schema.get("$defs", {})
    query_names = {e.query.__name__ for e in endpoints if e.query is not None}
    # Query models become parameters, not schemas of their own.
    query_schemas = {name: schemas.pop(name) for name in query_names}
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, query_schemas)
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    statuses = sorted({s for e in endpoints for s in _error_statuses(e)})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "warehouse-gql REST API",
            "version": version,
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": a.tag, "description": a.description} for a in areas]
        + [{"name": "meta", "description": "The API's own description."}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session token from /auth/login or /auth/signup.",
                }
            },
            "parameters": {
                "IfNoneMatch": {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "description": "The ETag of the copy you hold: 304 with no body while it is current.",
                    "schema": {"type": "string", "examples": ['"v3"']},
                },
                "IfMatch": {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": (
                        "The ETag read earlier: the change applies only if the resource has not "
                        "changed since (else 412, nothing changed)."
                    ),
                    "schema": {"type": "string", "examples": ['"v3"']},
                },
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "1–128 characters: a repeat by the same user returns the first order "
                        "(200) instead of placing another."
                    ),
                    "schema": {"type": "string", "examples": ["checkout-7f3a"]},
                },
            },
            "headers": HEADERS,
            "responses": {f"Problem{s}": _problem_response(s) for s in statuses},
            "schemas": dict(sorted(schemas.items())),
        },
    }


def export_document() -> str:
    """The document as `openapi.json` holds it: sorted keys, two-space indents, a final newline."""
    from warehouse_gql.api.rest.app import RestApi

    return json.dumps(RestApi().document, indent=2, ensure_ascii=False) + "\n"
