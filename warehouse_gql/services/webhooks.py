"""Webhooks: register, list and delete endpoints, and read their delivery log (managers; the
doors check the permission). Delivery itself is services/webhook_delivery.py."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from warehouse_gql.domain import preconditions
from warehouse_gql.domain import webhooks as rules
from warehouse_gql.domain.errors import BadUserInput, NotFound
from warehouse_gql.domain.models import User
from warehouse_gql.domain.preconditions import Precondition
from warehouse_gql.domain.webhooks import Webhook, WebhookDelivery, WebhookEvent
from warehouse_gql.store import changes
from warehouse_gql.store import webhooks as store
from warehouse_gql.store.database import Database
from warehouse_gql.store.ids import DocumentId, parse_id, require_id

RESOLVE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class CreatedWebhook:
    webhook: Webhook
    # Shown once, here: only the delivery worker reads it again.
    secret: str


async def addresses_of(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the host itself when it is an address)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host.strip("[]")]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_S):
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


async def check_target(url: str, *, production: bool) -> None:
    """In production a webhook may only call public addresses: every address its host resolves
    to is checked (at registration and again before each attempt, as DNS can change)."""
    if not production:
        return
    host, port = rules.url_host(url)
    try:
        addresses = await addresses_of(host, port)
    except (OSError, TimeoutError):
        raise BadUserInput(f"url host {host!r} does not resolve.", field="url") from None
    refused = [a for a in addresses if rules.refused_address(a)]
    if refused or not addresses:
        raise BadUserInput(
            f"url host {host!r} is a loopback, private or reserved address ({refused[0] if refused else 'none'}); "
            "webhooks may only call public addresses.",
            field="url",
        )


async def create_webhook(
    db: Database,
    *,
    url: str,
    events: list[WebhookEvent],
    description: str | None,
    low_stock_threshold: int | None,
    production: bool,
    by: User,
) -> CreatedWebhook:
    """A new endpoint; it receives the events of changes committed from now on."""
    url = rules.check_url(url)
    chosen = rules.check_events(events)
    threshold = rules.check_threshold(low_stock_threshold, chosen)
    description = rules.check_description(description)
    await check_target(url, production=production)
    secret = rules.new_secret()
    webhook = await store.insert_webhook(
        db,
        url=url,
        events=chosen,
        description=description,
        secret=secret,
        low_stock_threshold=threshold,
        # Changes numbered later than this are its to deliver; earlier ones are history.
        cursor=await changes.high_water(db),
        created_by=by.id,
    )
    return CreatedWebhook(webhook=webhook, secret=secret)


async def list_webhooks(db: Database) -> list[Webhook]:
    return await store.list_webhooks(db)


async def get_webhook(db: Database, webhook_id: str) -> Webhook | None:
    oid = parse_id(webhook_id)
    return None if oid is None else await store.get_webhook(db, oid)


async def delete_webhook(
    db: Database, *, webhook_id: str, precondition: Precondition | None = None
) -> Webhook:
    """The endpoint and its delivery log; nothing more is sent to it."""
    deleted = await store.delete_webhook(
        db,
        require_id(webhook_id, "webhook"),
        lambda found: preconditions.check(precondition, found),
    )
    if deleted is None:
        raise NotFound("webhook", webhook_id)
    return deleted


async def deliveries(
    db: Database, *, webhook_id: str, first: int, after: DocumentId | None
) -> tuple[list[WebhookDelivery], bool]:
    """A page of a webhook's delivery log, oldest first. NOT_FOUND for an unknown webhook (a
    log of nothing would hide a wrong id)."""
    oid = require_id(webhook_id, "webhook")
    if await store.get_webhook(db, oid) is None:
        raise NotFound("webhook", webhook_id)
    return await store.page_deliveries(db, oid, first=first, after=after)


async def count_deliveries(db: Database, *, webhook_id: str) -> int:
    return await store.count_deliveries(db, require_id(webhook_id, "webhook"))
