"""The webhooks and their delivery logs (MANAGER)."""

from __future__ import annotations

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.pagination import Connection, check_first, connection, decode_cursor
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.api.graphql.webhooks.types import Webhook, WebhookDelivery
from warehouse_gql.services import webhooks


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Every webhook, oldest first (MANAGER). Secrets are not shown.")
    async def webhooks(self, info: Info) -> list[Webhook]:
        await authorize(info, "webhooks")
        return [Webhook.from_model(w) for w in await webhooks.list_webhooks(info.context.db)]

    @strawberry.field(description="A webhook by id, or null (MANAGER).")
    async def webhook(self, info: Info, id: strawberry.ID) -> Webhook | None:
        await authorize(info, "webhooks")
        found = await webhooks.get_webhook(info.context.db, id)
        return None if found is None else Webhook.from_model(found)

    @strawberry.field(
        description="A webhook's deliveries, oldest first, each with every attempt (MANAGER)."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        webhook_id: strawberry.ID,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        await authorize(info, "webhookDeliveries")
        db = info.context.db
        found, more = await webhooks.deliveries(
            db, webhook_id=webhook_id, first=check_first(first), after=decode_cursor(after)
        )

        async def count() -> int:
            return await webhooks.count_deliveries(db, webhook_id=webhook_id)

        return connection(
            [WebhookDelivery.from_model(d) for d in found], [d.id for d in found], more, count
        )
