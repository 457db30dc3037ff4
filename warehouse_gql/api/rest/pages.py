"""Lists: `{data, nextCursor, totalCount}` in creation order, and a `Link: rel="next"` header
when another page follows. Cursors are the same as GraphQL's (api/http.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import Field

from warehouse_gql.api.http import encode_cursor
from warehouse_gql.api.rest.endpoints import Call, Reply, Resource

T = TypeVar("T")
P = TypeVar("P", bound="Page")  # type: ignore[type-arg]


class Page(Resource, Generic[T]):
    data: list[T] = Field(description="This page, oldest first.")
    next_cursor: str | None = Field(
        description="Pass it as `after` for the next page; null on the last page."
    )
    total_count: int = Field(description="How many records the whole filtered list holds.")


def page_reply(
    call: Call,
    model: type[P],
    nodes: Sequence[Resource],
    has_next: bool,
    total: int,
) -> Reply:
    ids = [getattr(n, "id") for n in nodes]  # noqa: B009 - every listed resource has an id
    cursor = encode_cursor(ids[-1]) if has_next and ids else None
    headers: dict[str, str] = {}
    if cursor is not None:
        url = call.request.url.include_query_params(after=cursor)
        headers["link"] = f'<{url}>; rel="next"'
    return Reply(model(data=list(nodes), next_cursor=cursor, total_count=total), 200, headers)
