"""The records behind the GraphQL change subscriptions (itemChanged, shipmentChanged,
orderChanged): one entity's changes from the feed, as the subscriber may see them, each
revision once, narrowed by the subscription's arguments."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.domain.changes import Change, ChangeEntity
from warehouse_gql.domain.models import User
from warehouse_gql.services import feed


async def records(
    info: Info,
    user: User,
    entity: ChangeEntity,
    record_of: Callable[[Change], feed.R],
    *,
    after: str | None,
    keep: Callable[[feed.R], bool],
) -> AsyncGenerator[tuple[Change, feed.R], None]:
    context = info.context
    async for change, record in feed.follow_records(
        context.db, context.events, user=user, entity=entity, record_of=record_of, after=after
    ):
        if keep(record):
            # Nested fields of this event read the database as it is now.
            context.fresh_loaders()
            yield change, record
