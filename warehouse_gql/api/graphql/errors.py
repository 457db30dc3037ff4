"""WarehouseError -> GraphQL error with `extensions.code`; everything unexpected is masked.

Every error that leaves the server carries one of the SPEC codes. Document errors (syntax,
validation, variable coercion) are the client's: BAD_USER_INPUT. An unexpected exception is
logged with the request id and reaches the client only as INTERNAL_SERVER_ERROR with that id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from warehouse_gql.domain.errors import ServiceUnavailable, WarehouseError
from warehouse_gql.store.errors import is_unreachable

log = logging.getLogger("warehouse_gql.errors")


def _with_code(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


# graphql-core's "Did you mean ...?" tails (fields, arguments, types, enum values): production
# leaves them out so the schema cannot be read through error messages with introspection off.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?\s*$")


def without_suggestion(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return _with_code(error, message, dict(error.extensions or {}))


def translate(
    error: GraphQLError, request_id: str, *, hide_suggestions: bool = False
) -> GraphQLError:
    if hide_suggestions:
        return without_suggestion(translate(error, request_id))
    original = error.original_error
    # Strawberry wraps resolver exceptions; unwrap nested GraphQLErrors to the real cause.
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if original is not None and is_unreachable(original):
        log.warning("request %s: database unreachable: %s", request_id, original)
        original = ServiceUnavailable()
    if isinstance(original, WarehouseError):
        extensions: dict[str, Any] = {"code": original.code, **original.details()}
        field = getattr(original, "field", None)
        if field:
            extensions["field"] = field
        return _with_code(error, original.message, extensions)
    if original is None or isinstance(original, GraphQLError):
        if error.extensions and error.extensions.get("code"):
            return error
        # Parse, validation and variable errors: the document or its inputs are at fault.
        return _with_code(
            error, error.message, {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
        )
    log.error(
        "request %s: unexpected error at %s",
        request_id,
        ".".join(str(p) for p in error.path or ()),
        exc_info=original,
    )
    return _with_code(
        error,
        f"Something went wrong on our side; quote request id {request_id} when reporting it.",
        {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", "-")
        result.errors = [translate(e, request_id) for e in errors]
