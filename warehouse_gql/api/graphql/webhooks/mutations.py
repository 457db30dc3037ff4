"""Register and delete webhooks (MANAGER)."""

from __future__ import annotations

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.api.graphql.webhooks.types import (
    CreateWebhookInput,
    CreateWebhookPayload,
    Webhook,
)
from warehouse_gql.services import webhooks


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(
        description="Register an endpoint for events of changes committed from now on "
        "(MANAGER). Returns its signing secret, once."
    )
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
        user = await authorize(info, "createWebhook")
        created = await webhooks.create_webhook(
            info.context.db,
            url=input.url,
            events=input.events,
            description=input.description,
            low_stock_threshold=input.low_stock_threshold,
            production=info.context.resources.settings.production,
            by=user,
        )
        return CreateWebhookPayload(
            webhook=Webhook.from_model(created.webhook), secret=created.secret
        )

    @strawberry.mutation(
        description="Delete a webhook and its delivery log (MANAGER); nothing more is sent to "
        "it. Returns its id."
    )
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        await authorize(info, "deleteWebhook")
        deleted = await webhooks.delete_webhook(info.context.db, webhook_id=id)
        return strawberry.ID(deleted.id)
