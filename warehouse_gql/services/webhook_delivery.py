"""The webhook delivery worker: every process runs one; each webhook is worked on by exactly
one process at a time, the holder of its lease.

For a webhook it holds, a worker (1) sends the oldest pending delivery when it is due, or
(2) when none is pending, reads the feed after the webhook's cursor, turns the changes that are
events for it into deliveries and moves the cursor past them. So deliveries go out in feed
order, one at a time per endpoint, and everything the worker knows is in the database: a
restarted or another process carries on where this one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import timedelta

from warehouse_gql.domain import clock
from warehouse_gql.domain import webhooks as rules
from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.domain.webhooks import (
    DeliveryAttempt,
    DeliveryState,
    DeliveryTarget,
    RetryPolicy,
    WebhookDelivery,
)
from warehouse_gql.live import metrics
from warehouse_gql.live.webhooks import WebhookSender
from warehouse_gql.services.webhooks import check_target
from warehouse_gql.store import changes
from warehouse_gql.store import webhooks as store
from warehouse_gql.store.database import Database

log = logging.getLogger(__name__)


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        *,
        production: bool,
        policy: RetryPolicy | None = None,
        poll_interval: float = 1.0,
        timeout: float = 10.0,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 100,
        owner: str | None = None,
        backlog_every_s: float = 10.0,
    ) -> None:
        self.db = db
        self.production = production
        self.policy = policy or RetryPolicy()
        self.poll_interval = poll_interval
        self.timeout = timeout
        # Longer than one attempt can take, so a holder never loses its lease mid-send.
        self.lease = max(lease, timedelta(seconds=timeout * 3))
        self.batch = batch
        self.owner = owner or f"webhooks-{uuid.uuid4().hex[:12]}"
        self._sender: WebhookSender | None = None
        self._loop: asyncio.Task[None] | None = None
        self._working: dict[str, asyncio.Task[None]] = {}
        # Rounds finished since start (tests wait on it).
        self.rounds = 0
        self._backlog_every = max(1, round(backlog_every_s / poll_interval))

    async def start(self) -> None:
        self._sender = WebhookSender(timeout=self.timeout)
        self._loop = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._working.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._working.clear()
        # Hand the webhooks over at once instead of when the leases run out (with the
        # database down they run out by themselves: do not hold up the shutdown).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(3):
                for webhook_id in await store.enabled_webhook_ids(self.db):
                    await store.release(self.db, webhook_id, owner=self.owner)
        if self._sender is not None:
            await self._sender.close()

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be down: try again next round, the state is all there.
                # Said once per outage, not once per round.
                if not failing:
                    log.warning("webhook delivery paused: a round failed", exc_info=True)
                failing = True
            else:
                if failing:
                    log.info("webhook delivery resumed")
                failing = False
            await asyncio.sleep(self.poll_interval)

    async def round(self) -> None:
        """Claim every enabled webhook not in hand and work on those this process holds; a
        slow endpoint has its own task, so it delays nobody else."""
        enabled = await store.enabled_webhook_ids(self.db)
        if self.rounds % self._backlog_every == 0:
            # Every process counts all endpoints' backlog alike (the gauge reports the max).
            metrics.WEBHOOK_BACKLOG.set(await store.count_pending(self.db, enabled))
        for webhook_id in enabled:
            running = self._working.get(webhook_id)
            if running is not None and not running.done():
                continue
            target = await store.claim(
                self.db, webhook_id, owner=self.owner, now=clock.now(), lease=self.lease
            )
            if target is None:
                continue
            self._working[webhook_id] = asyncio.create_task(
                self._work_logged(target), name=f"webhook-{webhook_id}"
            )
        for webhook_id in [w for w, t in self._working.items() if t.done()]:
            del self._working[webhook_id]
        self.rounds += 1

    async def _work_logged(self, target: DeliveryTarget) -> None:
        try:
            await self.work_on(target)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("webhook %s: work failed", target.webhook.id, exc_info=True)

    async def work_on(self, target: DeliveryTarget) -> None:
        """Send what is due and turn new changes into deliveries, until there is nothing to do
        now (the next retry is later, or the feed has nothing new)."""
        webhook_id = target.webhook.id
        while True:
            # Renew the lease on every step: a long backlog never outlives it.
            renewed = await store.claim(
                self.db, webhook_id, owner=self.owner, now=clock.now(), lease=self.lease
            )
            if renewed is None:
                return
            target = renewed
            head = await store.head_delivery(self.db, webhook_id)
            if head is not None:
                if head.next_attempt_at is not None and head.next_attempt_at > clock.now():
                    return  # in order: nothing after it goes out first
                if not await self._attempt(target, head):
                    return
                continue
            if not await self._make_deliveries(target):
                return

    async def _make_deliveries(self, target: DeliveryTarget) -> bool:
        """Turn the next batch of changes after the cursor into deliveries and move the
        cursor; False when the feed has nothing new (or the lease is gone)."""
        webhook = target.webhook
        cursor = target.cursor
        # Every change is read and the cursor moves past all of them, so an idle endpoint's
        # next round is two point reads (anything_after), not a range query.
        if not await changes.anything_after(self.db, cursor):
            return False
        found = await changes.read_after(self.db, cursor, limit=self.batch)
        if not found:
            return False
        made = []
        for change in found:
            event = rules.event_of(change, threshold=webhook.low_stock_threshold)
            if event is None or event not in webhook.events:
                continue
            body = rules.payload_of(event, change, threshold=webhook.low_stock_threshold)
            made.append(
                store.NewDelivery(
                    seq=change.seq,
                    event=event,
                    message_id=rules.message_id(webhook.id, event, change),
                    payload=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                )
            )
        return await store.advance(
            self.db, webhook.id, owner=self.owner, deliveries=made, cursor=found[-1].seq
        )

    async def _attempt(self, target: DeliveryTarget, delivery: WebhookDelivery) -> bool:
        """Try a due delivery once and record it; True when it was delivered."""
        assert self._sender is not None, "start() opens the sender"
        webhook = target.webhook
        now = clock.now()
        try:
            # DNS may have changed since registration: check the address again before each try.
            await check_target(webhook.url, production=self.production)
        except BadUserInput as refused:
            attempt = DeliveryAttempt(at=now, status_code=None, error=refused.message)
        else:
            attempt = await self._sender.send(
                webhook.url,
                secret=target.secret,
                message_id=delivery.message_id,
                payload=delivery.payload,
                at=now,
            )
        if attempt.status_code is not None and rules.is_success(attempt.status_code):
            # Recovered first: whoever sees the delivery DELIVERED sees the endpoint healthy.
            await store.mark_succeeding(self.db, webhook.id)
            await store.record_attempt(
                self.db, delivery, attempt, state=DeliveryState.DELIVERED, next_attempt_at=None
            )
            return True
        await self._failed(target, delivery, attempt)
        return False

    async def _failed(
        self, target: DeliveryTarget, delivery: WebhookDelivery, attempt: DeliveryAttempt
    ) -> None:
        webhook_id = target.webhook.id
        failing_since = await store.mark_failing(self.db, webhook_id, attempt.at)
        if self.policy.gives_up(failing_since, attempt.at):
            # Disabled first: whoever sees the delivery FAILED sees the endpoint disabled.
            await store.disable(
                self.db,
                webhook_id,
                at=attempt.at,
                reason=f"Every attempt failed since {failing_since.isoformat()}; "
                f"last: {_outcome(attempt)}.",
            )
            await store.record_attempt(
                self.db, delivery, attempt, state=DeliveryState.FAILED, next_attempt_at=None
            )
            log.warning("webhook %s disabled after failing since %s", webhook_id, failing_since)
            return
        retry_at = attempt.at + self.policy.delay(len(delivery.attempts) + 1)
        await store.record_attempt(
            self.db, delivery, attempt, state=DeliveryState.PENDING, next_attempt_at=retry_at
        )


def _outcome(attempt: DeliveryAttempt) -> str:
    return f"HTTP {attempt.status_code}" if attempt.status_code is not None else str(attempt.error)
