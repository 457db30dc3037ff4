"""Webhooks and their delivery log.

`webhooks`: the endpoint, its secret, its `cursor` (the last change sequence number turned into
deliveries) and a lease (`leaseOwner`, `leaseUntil`) that lets exactly one process deliver to it.
`webhook_deliveries`: one document per (webhook, change) that is an event for it, with every
attempt.
Every query of the worker is by `_id`, by equality or a keyset on an index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import BulkWriteError

from warehouse_gql.domain import clock
from warehouse_gql.domain.webhooks import (
    DeliveryAttempt,
    DeliveryState,
    DeliveryTarget,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from warehouse_gql.store.database import Database, Document, page
from warehouse_gql.store.ids import DocumentId, known_id

DUPLICATE_KEY = 11000


def to_webhook(doc: Document) -> Webhook:
    return Webhook(
        id=str(doc["_id"]),
        url=doc["url"],
        events=tuple(WebhookEvent(e) for e in doc["events"]),
        description=doc.get("description"),
        low_stock_threshold=doc.get("lowStockThreshold"),
        enabled=doc["enabled"],
        failing_since=doc.get("failingSince"),
        disabled_at=doc.get("disabledAt"),
        disabled_reason=doc.get("disabledReason"),
        created_at=doc["createdAt"],
        revision=doc.get("revision", 1),
    )


def to_delivery(doc: Document) -> WebhookDelivery:
    return WebhookDelivery(
        id=str(doc["_id"]),
        webhook_id=str(doc["webhookId"]),
        event=WebhookEvent(doc["event"]),
        message_id=doc["messageId"],
        payload=doc["payload"],
        state=DeliveryState(doc["state"]),
        attempts=tuple(
            DeliveryAttempt(at=a["at"], status_code=a.get("statusCode"), error=a.get("error"))
            for a in doc.get("attempts", [])
        ),
        next_attempt_at=doc.get("nextAttemptAt"),
        created_at=doc["createdAt"],
    )


async def insert_webhook(
    db: Database,
    *,
    url: str,
    events: Sequence[WebhookEvent],
    description: str | None,
    secret: str,
    low_stock_threshold: int | None,
    cursor: int,
    created_by: str,
) -> Webhook:
    doc: Document = {
        "url": url,
        "events": [e.value for e in events],
        "description": description,
        "secret": secret,
        "lowStockThreshold": low_stock_threshold,
        "cursor": cursor,
        "enabled": True,
        "failingSince": None,
        "disabledAt": None,
        "disabledReason": None,
        "leaseOwner": None,
        "leaseUntil": None,
        "createdBy": created_by,
        "createdAt": clock.now(),
        "revision": 1,
    }
    await db.webhooks.insert_one(doc)
    return to_webhook(doc)


async def list_webhooks(db: Database) -> list[Webhook]:
    docs = await db.webhooks.find({}, {"secret": 0}).sort("_id", ASCENDING).to_list()
    return [to_webhook(d) for d in docs]


async def get_webhook(db: Database, webhook_id: DocumentId) -> Webhook | None:
    doc = await db.webhooks.find_one({"_id": webhook_id}, {"secret": 0})
    return None if doc is None else to_webhook(doc)


async def delete_webhook(
    db: Database, webhook_id: DocumentId, check: Callable[[Webhook], None] | None = None
) -> Webhook | None:
    """The webhook and its delivery log; the webhook as it was, or None. `check` may refuse
    the state it finds (a precondition); the delete applies only to that very state."""
    doc = await db.webhooks.find_one({"_id": webhook_id}, {"secret": 0})
    if doc is None:
        return None
    found = to_webhook(doc)
    if check is not None:
        check(found)
    gone = await db.webhooks.delete_one({"_id": webhook_id, "revision": doc.get("revision", 1)})
    if gone.deleted_count != 1:
        # Changed (or deleted) since it was read: check the new state, or it is gone.
        return await delete_webhook(db, webhook_id, check)
    await db.webhook_deliveries.delete_many({"webhookId": webhook_id})
    return found


async def page_deliveries(
    db: Database, webhook_id: DocumentId, *, first: int, after: ObjectId | None
) -> tuple[list[WebhookDelivery], bool]:
    docs, more = await page(
        db.webhook_deliveries, {"webhookId": webhook_id}, first=first, after=after
    )
    return [to_delivery(d) for d in docs], more


async def count_deliveries(db: Database, webhook_id: DocumentId) -> int:
    return await db.webhook_deliveries.count_documents({"webhookId": webhook_id})


# The delivery worker's side. A webhook is worked on by the one process holding its lease;
# every write below is conditional on that lease (or on the delivery's own state), so a
# process that lost its lease cannot move the cursor or record an attempt.


async def count_pending(db: Database, webhook_ids: Sequence[str]) -> int:
    """Deliveries of these webhooks waiting to be sent ($in and equality on one index)."""
    if not webhook_ids:
        return 0
    return await db.webhook_deliveries.count_documents(
        {
            "webhookId": {"$in": [known_id(i) for i in webhook_ids]},
            "state": DeliveryState.PENDING.value,
        }
    )


async def enabled_webhook_ids(db: Database) -> list[str]:
    docs = await db.webhooks.find({"enabled": True}, {"_id": 1}).to_list()
    return [str(d["_id"]) for d in docs]


def _leased(webhook_id: str, owner: str) -> Document:
    return {"_id": known_id(webhook_id), "leaseOwner": owner, "enabled": True}


async def claim(
    db: Database, webhook_id: str, *, owner: str, now: datetime, lease: timedelta
) -> DeliveryTarget | None:
    """Take or extend the lease of an enabled webhook: free, expired or already ours. None when
    another process holds it (or the webhook is gone or disabled).

    A conditional update_one, then a read by _id (findAndModify scans on some servers). A lease
    of ours is only written again once half of it has passed: an idle endpoint costs a read
    per round, not a write."""
    oid = known_id(webhook_id)
    await db.webhooks.update_one(
        {
            "_id": oid,
            "enabled": True,
            "$or": [
                {"leaseOwner": owner, "leaseUntil": {"$lte": now + lease / 2}},
                {"leaseUntil": None},
                {"leaseUntil": {"$lte": now}},
            ],
        },
        {"$set": {"leaseOwner": owner, "leaseUntil": now + lease}},
    )
    found = await db.webhooks.find_one(
        {"_id": oid, "enabled": True, "leaseOwner": owner, "leaseUntil": {"$gt": now}}
    )
    if found is None:
        return None
    return DeliveryTarget(webhook=to_webhook(found), secret=found["secret"], cursor=found["cursor"])


async def release(db: Database, webhook_id: str, *, owner: str) -> None:
    await db.webhooks.update_one(
        {"_id": known_id(webhook_id), "leaseOwner": owner},
        {"$set": {"leaseOwner": None, "leaseUntil": None}},
    )


async def head_delivery(db: Database, webhook_id: str) -> WebhookDelivery | None:
    """The oldest delivery of the webhook not yet delivered or given up: deliveries go out in
    feed order, so nothing after it is sent before it."""
    doc = await db.webhook_deliveries.find_one(
        {"webhookId": known_id(webhook_id), "state": DeliveryState.PENDING.value},
        sort=[("seq", ASCENDING)],
    )
    return None if doc is None else to_delivery(doc)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    seq: int
    event: WebhookEvent
    message_id: str
    payload: str


async def advance(
    db: Database,
    webhook_id: str,
    *,
    owner: str,
    deliveries: Sequence[NewDelivery],
    cursor: int,
) -> bool:
    """Record the deliveries made of the changes up to `cursor`, then move the cursor there.

    Deliveries are keyed by (webhook, seq): if this process stops between the two steps, the
    next holder re-reads the same changes, makes the same deliveries and the inserts of the
    ones already there are ignored. False when the lease was lost (nothing moved)."""
    oid = known_id(webhook_id)
    if not await db.webhooks.find_one(_leased(webhook_id, owner), {"_id": 1}):
        return False
    now = clock.now()
    if deliveries:
        await _insert_ignoring_duplicates(
            db,
            db.webhook_deliveries,
            [
                {
                    "webhookId": oid,
                    "seq": d.seq,
                    "event": d.event.value,
                    "messageId": d.message_id,
                    "payload": d.payload,
                    "state": DeliveryState.PENDING.value,
                    "attempts": [],
                    "nextAttemptAt": now,
                    "createdAt": now,
                }
                for d in deliveries
            ],
        )
    result = await db.webhooks.update_one(
        {**_leased(webhook_id, owner), "cursor": {"$lt": cursor}}, {"$set": {"cursor": cursor}}
    )
    return result.matched_count == 1


async def record_attempt(
    db: Database,
    delivery: WebhookDelivery,
    attempt: DeliveryAttempt,
    *,
    state: DeliveryState,
    next_attempt_at: datetime | None,
) -> bool:
    """Append an attempt to a pending delivery; only if no other attempt was recorded since it
    was read (the attempt count is the condition)."""
    fields: dict[str, Any] = {"state": state.value, "nextAttemptAt": next_attempt_at}
    result = await db.webhook_deliveries.update_one(
        {
            "_id": known_id(delivery.id),
            "state": DeliveryState.PENDING.value,
            "attempts": {"$size": len(delivery.attempts)},
        },
        {
            "$set": fields,
            "$push": {
                "attempts": {
                    "at": attempt.at,
                    "statusCode": attempt.status_code,
                    "error": attempt.error,
                }
            },
        },
    )
    return result.modified_count == 1


async def mark_succeeding(db: Database, webhook_id: str) -> None:
    await db.webhooks.update_one(
        {"_id": known_id(webhook_id), "failingSince": {"$ne": None}},
        {"$set": {"failingSince": None}, "$inc": {"revision": 1}},
    )


async def mark_failing(db: Database, webhook_id: str, since: datetime) -> datetime:
    """Start the give-up clock unless it already runs; when it started."""
    await db.webhooks.update_one(
        {"_id": known_id(webhook_id), "failingSince": None},
        {"$set": {"failingSince": since}, "$inc": {"revision": 1}},
    )
    doc = await db.webhooks.find_one({"_id": known_id(webhook_id)}, {"failingSince": 1})
    started: datetime | None = None if doc is None else doc.get("failingSince")
    return since if started is None else started


async def disable(db: Database, webhook_id: str, *, at: datetime, reason: str) -> None:
    await db.webhooks.update_one(
        {"_id": known_id(webhook_id)},
        {
            "$set": {
                "enabled": False,
                "disabledAt": at,
                "disabledReason": reason,
                "leaseOwner": None,
                "leaseUntil": None,
            },
            "$inc": {"revision": 1},
        },
    )


async def _insert_ignoring_duplicates(db: Database, collection: Any, docs: list[Document]) -> None:
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
