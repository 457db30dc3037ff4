"""Relay-style connections: opaque keyset cursors, `first` between 1 and 100, lazy totalCount."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.store.ids import DocumentId, parse_id

DEFAULT_PAGE = 50
MAX_PAGE = 100
_PREFIX = "c1:"

T = TypeVar("T")


def encode_cursor(node_id: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + node_id).encode()).decode()


def decode_cursor(cursor: str | None) -> DocumentId | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        after = parse_id(raw[len(_PREFIX) :]) if raw.startswith(_PREFIX) else None
        if after is None:
            raise ValueError(cursor)
        return after
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadUserInput(
            f"after {cursor!r} is not a cursor this API gave out; pass an endCursor or cursor value.",
            field="after",
        ) from None


def check_first(first: int | None) -> int:
    """The page size; an explicit null means the default, as when `first` is left out."""
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}, got {first}.", field="first")
    return first


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
