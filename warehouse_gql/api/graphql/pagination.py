"""Relay-style connections: opaque keyset cursors, `first` between 1 and 100, lazy totalCount."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Generic, TypeVar

import strawberry

from warehouse_gql.api import http
from warehouse_gql.api.http import encode_cursor
from warehouse_gql.store.ids import DocumentId, parse_id

T = TypeVar("T")

__all__ = [
    "NEWEST_FIRST",
    "Connection",
    "check_first",
    "connection",
    "decode_cursor",
    "encode_cursor",
]

# The optional reverse order of every list whose screens show the latest first; cursors work
# the same way in both directions.
NEWEST_FIRST = Annotated[
    bool | None,
    strawberry.argument(description="Newest first instead of oldest first (null: false)."),
]


def decode_cursor(cursor: str | None) -> DocumentId | None:
    return parse_id(http.decode_cursor(cursor))


def check_first(first: int | None) -> int:
    """The page size; an explicit null means the default, as when `first` is left out."""
    return http.page_size(first, field="first")


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="One node of a page and the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list in creation order, oldest first.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many nodes the whole filtered list holds, over all pages.")
    async def total_count(self) -> int:
        # Counted only when asked for: a count is a scan of the filtered set.
        return await self.count()


def connection(
    nodes: Sequence[T],
    ids: Sequence[str],
    has_next: bool,
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(i), node=n) for n, i in zip(nodes, ids, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        count=count,
    )
