"""Which GraphQL subscriptions share one execution per event (live/shared.py runs them).

Dashboards open the same subscription many times over (same document, same variables, same
role). Executing it once per subscriber would resolve every event's selection S times; instead
the subscribers of one group read the results of one execution.

Only subscriptions whose results depend on nothing but the event and what the caller may see
are shared (`SHAREABLE`): lowStock starts with a snapshot of its own for each subscriber, so it
never is. The group key holds the role, and but for managers the user (domain/access.py), so a result is
only ever shared among subscribers who may see exactly the same records and fields.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLError
from strawberry.types.execution import ExecutionResult

from warehouse_gql.api.graphql.errors import translate
from warehouse_gql.domain import access
from warehouse_gql.domain.models import User
from warehouse_gql.live.bus import FellBehind
from warehouse_gql.live.shared import SharedStreams

SHAREABLE = frozenset({"itemChanged", "shipmentChanged", "orderChanged"})


@lru_cache(maxsize=1024)
def _shareable_document(query: str, operation_name: str | None) -> bool:
    """Whether the operation is a subscription whose root fields are all shareable."""
    try:
        document: DocumentNode = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name is not None and o.name.value == operation_name
        ]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return False
    selections = operations[0].selection_set.selections
    # Fragments and directives at the root could hide anything: share only plain fields.
    # A resume (`after`) replays history of its own first: never shared.
    return all(
        isinstance(s, FieldNode)
        and s.name.value in SHAREABLE
        and not s.directives
        and not any(a.name.value == "after" for a in s.arguments or ())
        for s in selections
    )


def group_key(
    query: str | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    user: User | None,
) -> Hashable | None:
    """The group a subscription belongs to, or None when it must run on its own."""
    if query is None or user is None or not _shareable_document(query, operation_name):
        return None
    try:
        frozen = json.dumps(variables or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    # What a subscriber may see depends on the role and, but for managers, on who they are.
    return (query, operation_name, frozen, access.visibility_group(user.role, user.id))


def _fell_behind(error: FellBehind) -> ExecutionResult:
    return ExecutionResult(
        data=None, errors=[translate(GraphQLError(error.message, original_error=error), "-")]
    )


def _cursor_of(result: Any) -> str | None:
    """The `cursor` of a subscription result's event, when the document selected it."""
    data = getattr(result, "data", None)
    if not isinstance(data, dict) or len(data) != 1:
        return None
    event = next(iter(data.values()))
    cursor = event.get("cursor") if isinstance(event, dict) else None
    return cursor if isinstance(cursor, str) else None


def shared_streams(limit: int) -> SharedStreams:
    """The registry of a schema's shared subscriptions: a member that falls `limit` results
    behind ends with RATE_LIMITED and the cursor of the last change it got."""
    return SharedStreams(limit, behind=_fell_behind, cursor_of=_cursor_of)
