"""Webhooks: which changes become which events, who may be called, and when to try again.

A webhook is an endpoint a manager registers for some event types. Each committed change of
the feed that matches one of its events becomes one delivery (a POST signed per the Standard
Webhooks specification). Deliveries of one endpoint go out in feed order: the next waits until
the one before succeeded or was given up. A failing delivery is retried with exponential
backoff; once an endpoint has failed for the give-up period (24 hours) without a success in
between, its delivery is given up and the endpoint is disabled and flagged.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind
from warehouse_gql.domain.errors import BadUserInput

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
MAX_THRESHOLD = 2**31 - 1
SECRET_PREFIX = "whsec_"


class WebhookEvent(str, Enum):
    """GraphQL and REST name an event by the enum name; the payload's `type` is the value."""

    ORDER_CREATED = "order.created"
    ORDER_FULFILLED = "order.fulfilled"
    ORDER_CANCELLED = "order.cancelled"
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_DELIVERED = "shipment.delivered"
    ITEM_LOW_STOCK = "item.low_stock"


class DeliveryState(str, Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    events: tuple[WebhookEvent, ...]
    description: str | None
    low_stock_threshold: int | None
    enabled: bool
    # Since when every attempt has failed (None after a success); the give-up clock.
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    # +1 on every change a reader can see (failing, recovered, disabled): the ETag.
    revision: int


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    at: datetime
    # The HTTP status the endpoint answered, or None when there was no answer (then `error`).
    status_code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: str
    webhook_id: str
    event: WebhookEvent
    # The Standard Webhooks `webhook-id`: the same on every retry of this delivery.
    message_id: str
    payload: str
    state: DeliveryState
    attempts: tuple[DeliveryAttempt, ...]
    next_attempt_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """What the delivery worker needs of a webhook: its secret and the last change it has
    turned into deliveries (the feed sequence number)."""

    webhook: Webhook
    secret: str
    cursor: int


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes one: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host; whether its address may be called is `refused_address`."""
    url = url.strip()
    if not url:
        raise BadUserInput("url must not be empty.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise BadUserInput(f"url must be at most {MAX_URL_LENGTH} characters.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadUserInput(f"url {url!r} is not a valid URL.", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise BadUserInput(f"url must start with http:// or https://, got {url!r}.", field="url")
    if not parts.hostname:
        raise BadUserInput(f"url {url!r} names no host.", field="url")
    if parts.username is not None or parts.password is not None:
        raise BadUserInput("url must not carry a user name or password.", field="url")
    if port == 0:
        raise BadUserInput(f"url {url!r} has port 0.", field="url")
    return url


def url_host(url: str) -> tuple[str, int]:
    """The host and port a checked URL connects to."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def refused_address(address: str) -> bool:
    """Production never calls loopback, private, link-local (cloud metadata), multicast,
    reserved or unspecified addresses: a webhook must not reach into our own network."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_events(events: list[WebhookEvent]) -> tuple[WebhookEvent, ...]:
    if not events:
        raise BadUserInput("events must name at least one event.", field="events")
    # Duplicates collapse; the order is the enum's, so equal sets read the same.
    return tuple(e for e in WebhookEvent if e in set(events))


def check_threshold(threshold: int | None, events: tuple[WebhookEvent, ...]) -> int | None:
    if WebhookEvent.ITEM_LOW_STOCK not in events:
        if threshold is not None:
            raise BadUserInput(
                "lowStockThreshold applies only to ITEM_LOW_STOCK; add that event or leave it out.",
                field="lowStockThreshold",
            )
        return None
    if threshold is None:
        raise BadUserInput(
            "ITEM_LOW_STOCK needs lowStockThreshold (an item is low at or below it).",
            field="lowStockThreshold",
        )
    if not 0 <= threshold <= MAX_THRESHOLD:
        raise BadUserInput(
            f"lowStockThreshold must be between 0 and {MAX_THRESHOLD}, got {threshold}.",
            field="lowStockThreshold",
        )
    return threshold


def check_description(description: str | None) -> str | None:
    if description is None:
        return None
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise BadUserInput(
            f"description must be at most {MAX_DESCRIPTION_LENGTH} characters.",
            field="description",
        )
    return description or None


def becomes_low(change: Change, threshold: int) -> bool:
    """Whether an item change makes the item low: at or below the threshold (as the lowStock
    live query counts it) after the change, and above it before (or new). The change carries
    the quantity before it (`previousQuantity`, null for a new item), so no read is needed; an
    item that stays low fires no second event until it has been above the threshold again."""
    if change.kind is ChangeKind.DELETED:
        return False
    quantity = int(change.data["quantity"])
    before = change.data.get("previousQuantity")
    return quantity <= threshold and (before is None or int(before) > threshold)


def event_of(change: Change, *, threshold: int | None) -> WebhookEvent | None:
    """The event a change is, if any (item.low_stock only with a threshold)."""
    if change.entity is ChangeEntity.ORDER:
        if change.kind is ChangeKind.CREATED:
            return WebhookEvent.ORDER_CREATED
        if change.kind is ChangeKind.UPDATED:
            status = change.data.get("status")
            if status == "FULFILLED":
                return WebhookEvent.ORDER_FULFILLED
            if status == "CANCELLED":
                return WebhookEvent.ORDER_CANCELLED
        return None
    if change.entity is ChangeEntity.SHIPMENT:
        if change.kind is ChangeKind.CREATED:
            return WebhookEvent.SHIPMENT_CREATED
        if change.kind is ChangeKind.UPDATED and change.data.get("status") == "DELIVERED":
            return WebhookEvent.SHIPMENT_DELIVERED
        return None
    if change.entity is ChangeEntity.ITEM and threshold is not None:
        return WebhookEvent.ITEM_LOW_STOCK if becomes_low(change, threshold) else None
    return None


def payload_of(event: WebhookEvent, change: Change, *, threshold: int | None) -> dict[str, Any]:
    """The body Standard Webhooks recommends: `type`, `timestamp` and `data` (the change's
    state after, with its id and the feed cursor, so a receiver can resume from the feed)."""
    data: dict[str, Any] = {
        "entity": change.entity.value,
        "id": change.id,
        "kind": change.kind.value,
        "revision": change.revision,
        "cursor": change.cursor,
        "object": change.data,
    }
    if event is WebhookEvent.ITEM_LOW_STOCK:
        data["lowStockThreshold"] = threshold
    return {"type": event.value, "timestamp": change.at.isoformat(), "data": data}


def message_id(webhook_id: str, event: WebhookEvent, change: Change) -> str:
    """The Standard Webhooks message id, made from what the delivery is of, so a worker that
    re-reads a change after a crash makes the same message. An order or shipment is created,
    fulfilled, cancelled or delivered once: those name the document, and a later change in the
    same status is the same message; an item can become low again and again: that names the
    change."""
    if event is WebhookEvent.ITEM_LOW_STOCK:
        return f"msg_{webhook_id}_{change.seq}"
    return f"msg_{webhook_id}_{change.id}_{event.name.lower()}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: `first` after the first failure, doubling up to `longest`; the
    endpoint is given up once it has been failing for `give_up`."""

    first: timedelta = timedelta(seconds=5)
    longest: timedelta = timedelta(hours=1)
    give_up: timedelta = timedelta(hours=24)

    def delay(self, failures: int) -> timedelta:
        """The wait after the `failures`-th failed attempt of one delivery (1, 2, ...)."""
        factor = 1 << min(max(failures - 1, 0), 40)
        return min(self.first * factor, self.longest)

    def gives_up(self, failing_since: datetime, now: datetime) -> bool:
        return now - failing_since >= self.give_up


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300
