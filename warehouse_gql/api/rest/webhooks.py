"""/webhooks: the same services as createWebhook, webhooks, deleteWebhook and
webhookDeliveries (MANAGER)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from warehouse_gql.api import http
from warehouse_gql.api.rest.endpoints import (
    After,
    Body,
    Call,
    Endpoints,
    Id,
    Int32,
    Limit,
    Query,
    Reply,
    Resource,
    Time,
    resource_reply,
)
from warehouse_gql.api.rest.pages import Page, page_reply
from warehouse_gql.domain import webhooks as rules
from warehouse_gql.domain.errors import NotFound
from warehouse_gql.services import webhooks
from warehouse_gql.store.ids import parse_id

routes = Endpoints(
    "webhooks",
    "Endpoints that receive signed POSTs (Standard Webhooks) of warehouse events, and their "
    "delivery logs (MANAGER).",
)


def _event(value: Any) -> Any:
    """Events by their GraphQL names (ORDER_CREATED), as every enum of this API."""
    if isinstance(value, str) and value in rules.WebhookEvent.__members__:
        return rules.WebhookEvent[value]
    return value


Event = Annotated[
    rules.WebhookEvent,
    BeforeValidator(_event),
    PlainSerializer(lambda event: event.name, return_type=str),
    WithJsonSchema({"type": "string", "enum": [e.name for e in rules.WebhookEvent]}),
]


class Webhook(Resource):
    """An endpoint that receives signed POSTs of warehouse events."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6650a1c2e4b0f1a2b3c4d5e6",
                    "url": "https://erp.example.com/hooks/warehouse",
                    "events": ["ORDER_CREATED", "ITEM_LOW_STOCK"],
                    "description": "ERP",
                    "lowStockThreshold": 5,
                    "enabled": True,
                    "failingSince": None,
                    "disabledAt": None,
                    "disabledReason": None,
                    "createdAt": "2026-05-24T10:15:30.123000+00:00",
                }
            ]
        }
    )

    id: Id
    url: str
    events: list[Event]
    description: str | None
    low_stock_threshold: int | None = Field(
        description="ITEM_LOW_STOCK fires when an item's quantity falls to this or below."
    )
    enabled: bool = Field(description="False once the endpoint has failed for 24 hours.")
    failing_since: Time | None = Field(description="Since when every attempt has failed.")
    disabled_at: Time | None
    disabled_reason: str | None
    created_at: Time

    @classmethod
    def of(cls, webhook: rules.Webhook) -> Webhook:
        return cls(
            id=webhook.id,
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


class CreatedWebhook(Resource):
    """A new webhook and its signing secret, which is shown only here."""

    webhook: Webhook
    secret: str = Field(
        description="The Standard Webhooks signing secret; it cannot be read again.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookList(Page[Webhook]):
    """Every webhook, oldest first, on one page."""


class Attempt(Resource):
    at: Time
    status_code: int | None = Field(description="The status answered; null without an answer.")
    error: str | None = Field(description="Why there was no answer.")


class Delivery(Resource):
    """One event sent (or being sent) to a webhook, with every attempt."""

    id: Id
    event: Event
    message_id: str = Field(description="The `webhook-id` header, the same on every retry.")
    payload: str = Field(description="The JSON body, exactly as sent and signed.")
    state: rules.DeliveryState
    attempts: list[Attempt]
    next_attempt_at: Time | None = Field(description="Null once delivered or given up.")
    created_at: Time

    @classmethod
    def of(cls, delivery: rules.WebhookDelivery) -> Delivery:
        return cls(
            id=delivery.id,
            event=delivery.event,
            message_id=delivery.message_id,
            payload=delivery.payload,
            state=delivery.state,
            attempts=[
                Attempt(at=a.at, status_code=a.status_code, error=a.error)
                for a in delivery.attempts
            ],
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
        )


class DeliveryPage(Page[Delivery]):
    """A page of a webhook's deliveries, oldest first."""


class CreateWebhook(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.example.com/hooks/warehouse",
                    "events": ["ORDER_CREATED", "ITEM_LOW_STOCK"],
                    "lowStockThreshold": 5,
                }
            ]
        }
    )

    url: str = Field(description="http(s); in production no loopback or private address.")
    events: list[Event]
    description: str | None = None
    low_stock_threshold: Int32 | None = Field(
        default=None, description="Needed with ITEM_LOW_STOCK (and only then)."
    )


class DeliveriesQuery(Query):
    limit: Limit = None
    after: After = None


@routes.route(
    "GET",
    "/webhooks",
    operation_id="webhooks",
    summary="Every webhook, oldest first (MANAGER)",
    response=WebhookList,
    errors=("FORBIDDEN",),
)
async def list_webhooks(call: Call) -> Reply:
    await call.authorize("webhooks")
    found = [Webhook.of(w) for w in await webhooks.list_webhooks(call.db)]
    return Reply(WebhookList(data=found, next_cursor=None, total_count=len(found)))


@routes.route(
    "POST",
    "/webhooks",
    operation_id="createWebhook",
    summary="Register a webhook (MANAGER); its signing secret is shown once",
    description="It receives the events of changes committed from now on.",
    body=CreateWebhook,
    response=CreatedWebhook,
    status=201,
    location=True,
    etag=True,
    errors=("FORBIDDEN",),
)
async def create_webhook(call: Call) -> Reply:
    user = await call.authorize("createWebhook")
    body = call.body(CreateWebhook)
    created = await webhooks.create_webhook(
        call.db,
        url=body.url,
        events=body.events,
        description=body.description,
        low_stock_threshold=body.low_stock_threshold,
        production=call.resources.settings.production,
        by=user,
    )
    reply = resource_reply(
        CreatedWebhook(webhook=Webhook.of(created.webhook), secret=created.secret),
        created.webhook,
        status=201,
    )
    reply.headers["location"] = call.url(f"/webhooks/{created.webhook.id}")
    return reply


@routes.route(
    "GET",
    "/webhooks/{id}",
    operation_id="webhook",
    summary="A webhook (MANAGER)",
    response=Webhook,
    etag=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def get_webhook(call: Call) -> Reply:
    await call.authorize("webhooks")
    found = await webhooks.get_webhook(call.db, call.path["id"])
    if found is None:
        raise NotFound("webhook", call.path["id"])
    return resource_reply(Webhook.of(found), found)


@routes.route(
    "DELETE",
    "/webhooks/{id}",
    operation_id="deleteWebhook",
    summary="Delete a webhook and its delivery log (MANAGER)",
    status=204,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def delete_webhook(call: Call) -> Reply:
    await call.authorize("deleteWebhook")
    await webhooks.delete_webhook(
        call.db, webhook_id=call.path["id"], precondition=call.precondition
    )
    return Reply(status=204)


@routes.route(
    "GET",
    "/webhooks/{id}/deliveries",
    operation_id="webhookDeliveries",
    summary="A webhook's deliveries, oldest first, with every attempt (MANAGER)",
    query=DeliveriesQuery,
    response=DeliveryPage,
    link=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def list_deliveries(call: Call) -> Reply:
    await call.authorize("webhookDeliveries")
    query = call.query(DeliveriesQuery)
    first = http.page_size(query.limit, field="limit")
    after = parse_id(http.decode_cursor(query.after))
    webhook_id = call.path["id"]
    found, more = await webhooks.deliveries(
        call.db, webhook_id=webhook_id, first=first, after=after
    )
    total = await webhooks.count_deliveries(call.db, webhook_id=webhook_id)
    return page_reply(call, DeliveryPage, [Delivery.of(d) for d in found], more, total)
