"""Webhooks and their deliveries as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from warehouse_gql.domain import webhooks as rules

strawberry.enum(
    rules.WebhookEvent,
    description="An event a webhook can receive; the delivered payload's `type` is its "
    "dotted name (ORDER_CREATED is order.created).",
)
strawberry.enum(
    rules.DeliveryState,
    name="WebhookDeliveryState",
    description="PENDING until delivered (a 2xx answer) or FAILED (given up after 24 hours "
    "of failures, when the webhook is disabled).",
)


@strawberry.type(description="An endpoint that receives signed POSTs of warehouse events.")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[rules.WebhookEvent]
    description: str | None
    low_stock_threshold: int | None = strawberry.field(
        description="ITEM_LOW_STOCK fires when an item's quantity falls to this or below."
    )
    enabled: bool = strawberry.field(
        description="False once the endpoint has failed for 24 hours; it is then sent nothing."
    )
    failing_since: datetime | None = strawberry.field(
        description="Since when every attempt has failed; null after a success."
    )
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, webhook: rules.Webhook) -> Webhook:
        return cls(
            id=strawberry.ID(webhook.id),
            url=webhook.url,
            events=list(webhook.events),
            description=webhook.description,
            low_stock_threshold=webhook.low_stock_threshold,
            enabled=webhook.enabled,
            failing_since=webhook.failing_since,
            disabled_at=webhook.disabled_at,
            disabled_reason=webhook.disabled_reason,
            created_at=webhook.created_at,
        )


@strawberry.type(description="A new webhook and its signing secret, which is shown only here.")
class CreateWebhookPayload:
    webhook: Webhook
    secret: str = strawberry.field(
        description="The Standard Webhooks signing secret (whsec_...); verify every delivery "
        "with it. It cannot be read again."
    )


@strawberry.type(description="One try of a delivery.")
class WebhookDeliveryAttempt:
    at: datetime
    status_code: int | None = strawberry.field(
        description="The HTTP status the endpoint answered; null when it did not answer."
    )
    error: str | None = strawberry.field(
        description="Why there was no answer (timeout, refused connection, ...)."
    )


@strawberry.type(description="One event sent (or being sent) to a webhook, with every attempt.")
class WebhookDelivery:
    id: strawberry.ID
    event: rules.WebhookEvent
    message_id: str = strawberry.field(
        description="The `webhook-id` header: the same on every retry of this delivery."
    )
    payload: str = strawberry.field(description="The JSON body, exactly as sent and signed.")
    state: rules.DeliveryState
    attempts: list[WebhookDeliveryAttempt]
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due; null once delivered or given up."
    )
    created_at: datetime

    @classmethod
    def from_model(cls, delivery: rules.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(delivery.id),
            event=delivery.event,
            message_id=delivery.message_id,
            payload=delivery.payload,
            state=delivery.state,
            attempts=[
                WebhookDeliveryAttempt(at=a.at, status_code=a.status_code, error=a.error)
                for a in delivery.attempts
            ],
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
        )


@strawberry.input(description="A new webhook.")
class CreateWebhookInput:
    url: str = strawberry.field(
        description="http(s) URL; in production no loopback, private or reserved address."
    )
    events: list[rules.WebhookEvent]
    description: str | None = None
    low_stock_threshold: int | None = strawberry.field(
        default=None, description="Needed with ITEM_LOW_STOCK (and only then)."
    )
