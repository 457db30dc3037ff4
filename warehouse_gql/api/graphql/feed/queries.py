"""`changes`: what changed after a cursor, for a client that was offline (delta sync)."""

from __future__ import annotations

import strawberry

from warehouse_gql.api import http
from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.feed.types import Change, ChangeConnection, ChangeEdge
from warehouse_gql.api.graphql.pagination import PageInfo
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain.changes import ChangeEntity
from warehouse_gql.services import feed


@strawberry.type
class FeedQuery:
    @strawberry.field(
        description="Committed changes after a cursor, in commit order, as you may see them "
        "(customers: their own orders and those orders' shipments). Keep the last endCursor "
        "and ask again for what you missed; CURSOR_EXPIRED past the retention."
    )
    async def changes(
        self,
        info: Info,
        after: str | None = None,
        first: int | None = 100,
        entities: list[ChangeEntity] | None = None,
    ) -> ChangeConnection:
        user = await authorize(info, "changes")
        found = await feed.page(
            info.context.db,
            user=user,
            after=after,
            first=http.page_size(100 if first is None else first, field="first"),
            entities=entities or None,
        )
        edges = [ChangeEdge(cursor=c.cursor, node=Change.from_model(c)) for c in found.changes]
        return ChangeConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=found.has_next, end_cursor=found.end_cursor),
        )
