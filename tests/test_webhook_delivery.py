"""Webhook delivery against a real HTTP receiver, and end to end from real writes: signed per Standard Webhooks (verified with
the `standardwebhooks` library), retried with the same webhook-id and logged attempt by
attempt, in order per endpoint, sent by exactly one of several workers, carried on after a
restart, given up and disabled after the give-up period, and never sent to a private address
in production."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from standardwebhooks.webhooks import Webhook as Verifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.accounts import make_account
from tests.livekit import LiveServer
from warehouse_gql.app import create_app, mongo_client
from warehouse_gql.domain import webhooks as rules
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind
from warehouse_gql.domain.webhooks import DeliveryState, RetryPolicy, WebhookEvent
from warehouse_gql.live import metrics
from warehouse_gql.services.webhook_delivery import WebhookWorker
from warehouse_gql.settings import Settings
from warehouse_gql.store import changes
from warehouse_gql.store import webhooks as store
from warehouse_gql.store.database import Database, Session
from warehouse_gql.store.migrations import prepare

# Fast enough for a test, in the SPEC's shape: the first retry well within 10 s.
FAST = RetryPolicy(
    first=timedelta(milliseconds=200),
    longest=timedelta(milliseconds=400),
    give_up=timedelta(hours=1),
)
WAIT_S = 60.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    def payload(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


@dataclass
class Receiver:
    """An HTTP endpoint per path: answers each POST with the next scripted status (then 204),
    or holds it until released (`hang`), and hands every request to the test."""

    server: LiveServer | None = None
    scripts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    hang: set[str] = field(default_factory=set)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    inboxes: dict[str, asyncio.Queue[Received]] = field(
        default_factory=lambda: defaultdict(asyncio.Queue)
    )

    async def hook(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.inboxes[name].put_nowait(Received(dict(request.headers), await request.body()))
        if name in self.hang:
            await self.released.wait()
        script = self.scripts[name]
        return Response(status_code=script.pop(0) if script else 204)

    def url(self, name: str) -> str:
        assert self.server is not None
        return f"{self.server.http_url}/hooks/{name}"

    async def next(self, name: str) -> Received:
        return await asyncio.wait_for(self.inboxes[name].get(), WAIT_S)


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    found.server = LiveServer(
        Starlette(routes=[Route("/hooks/{name}", found.hook, methods=["POST"])])
    )
    await found.server.start()
    yield found
    found.released.set()
    await found.server.stop()


@pytest.fixture(scope="module")
async def db(mongodb_url: str) -> AsyncIterator[Database]:
    """A database of its own: no app's worker competes for these webhooks."""
    client = mongo_client(mongodb_url)
    database = Database(client, f"wgql_hooks_{uuid.uuid4().hex[:8]}")
    await prepare(database)
    yield database
    await client.close()


@pytest.fixture(autouse=True)
async def _earlier_webhooks_retired(db: Database) -> None:
    """Each test's workers work on that test's webhooks only: what earlier tests registered
    (some with receivers that keep failing) is disabled, as a manager would delete it."""
    await db.webhooks.update_many({"enabled": True}, {"$set": {"enabled": False}})


async def commit(
    db: Database, entity: ChangeEntity, kind: ChangeKind, data: dict[str, Any]
) -> Change:
    """One committed change, written and numbered through the feed's store as a write would."""
    doc_id = str(data.get("id") or ObjectId())

    async def write(session: Session) -> None:
        changes.note(
            db,
            session,
            entity=entity,
            doc_id=doc_id,
            kind=kind,
            revision=1,
            data={"id": doc_id, **data},
        )

    await db.transaction(write)
    start = await changes.high_water(db)
    for n, record in enumerate(await changes.pending(db, limit=1000), start=1):
        assert await changes.number(db, record["_id"], start + n)
    found = [c for c in await changes.read_after(db, start, limit=1000) if c.id == doc_id]
    return found[-1]


async def order_created(db: Database) -> Change:
    return await commit(
        db,
        ChangeEntity.ORDER,
        ChangeKind.CREATED,
        {"status": "PENDING", "customerName": "Ada", "createdById": "u1", "lines": []},
    )


async def register(
    db: Database, url: str, events: list[WebhookEvent], threshold: int | None = None
) -> tuple[str, str]:
    """A webhook, as createWebhook makes it; its id and secret."""
    secret = rules.new_secret()
    webhook = await store.insert_webhook(
        db,
        url=url,
        events=rules.check_events(events),
        description=None,
        secret=secret,
        low_stock_threshold=threshold,
        cursor=await changes.high_water(db),
        created_by="test",
    )
    return webhook.id, secret


async def until(check: Callable[[], Awaitable[Any]]) -> Any:
    """The first truthy answer of `check`, asked again while the worker catches up."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        answer = await check()
        if answer:
            return answer
        assert asyncio.get_running_loop().time() < deadline, "the worker never got there"
        await asyncio.sleep(0.02)


async def log_of(db: Database, webhook_id: str) -> list[rules.WebhookDelivery]:
    found, _ = await store.page_deliveries(db, ObjectId(webhook_id), first=100, after=None)
    return found


def settled(db: Database, webhook_id: str, count: int) -> Callable[[], Awaitable[Any]]:
    async def check() -> list[rules.WebhookDelivery] | None:
        log = await log_of(db, webhook_id)
        done = [d for d in log if d.state is not DeliveryState.PENDING]
        return log if len(log) == count and len(done) == count else None

    return check


def worker(db: Database, **options: Any) -> WebhookWorker:
    options.setdefault("policy", FAST)
    options.setdefault("poll_interval", 0.1)
    options.setdefault("timeout", 5.0)
    return WebhookWorker(db, production=options.pop("production", False), **options)


def verified(received: Received, secret: str) -> dict[str, Any]:
    payload: dict[str, Any] = Verifier(secret).verify(received.body, received.headers)
    return payload


async def test_a_receiver_that_fails_first_gets_the_same_signed_message_again_and_the_log_shows_both(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    receiver.scripts[name] = [500]
    webhook_id, secret = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    running = worker(db)
    await running.start()
    try:
        change = await order_created(db)
        first = await receiver.next(name)
        second = await receiver.next(name)
        log = await until(settled(db, webhook_id, 1))
    finally:
        await running.stop()

    assert first.message_id == second.message_id
    for received in (first, second):
        payload = verified(received, secret)
        assert payload["type"] == "order.created"
        assert payload["data"]["id"] == change.id
        assert payload["data"]["cursor"] == change.cursor
        assert payload["data"]["object"]["status"] == "PENDING"
        assert received.headers["content-type"] == "application/json"
        assert received.headers["webhook-signature"].startswith("v1,")
    # Signed with another secret, it does not verify.
    with pytest.raises(Exception, match="signature"):
        Verifier(rules.new_secret()).verify(first.body, first.headers)

    [delivery] = log
    assert delivery.state is DeliveryState.DELIVERED
    assert delivery.message_id == first.message_id
    assert delivery.event is WebhookEvent.ORDER_CREATED
    assert delivery.payload.encode() == first.body == second.body
    assert [a.status_code for a in delivery.attempts] == [500, 204]
    assert delivery.next_attempt_at is None
    webhook = await store.get_webhook(db, ObjectId(webhook_id))
    assert webhook is not None
    assert webhook.enabled
    assert webhook.failing_since is None


async def test_the_retry_is_scheduled_by_the_backoff_and_the_schedule_is_logged(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    receiver.scripts[name] = [503, 502]
    # The first retry one second after the failure, then two: far apart enough to read.
    policy = RetryPolicy(
        first=timedelta(seconds=1), longest=timedelta(seconds=30), give_up=timedelta(hours=1)
    )
    webhook_id, _ = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    running = worker(db, policy=policy)
    await running.start()
    try:
        await order_created(db)
        await receiver.next(name)
        pending = await until(lambda: _with_attempts(db, webhook_id, 1))
        assert pending.state is DeliveryState.PENDING
        assert pending.next_attempt_at == pending.attempts[0].at + timedelta(seconds=1)
        webhook = await store.get_webhook(db, ObjectId(webhook_id))
        assert webhook is not None
        assert webhook.failing_since == pending.attempts[0].at
        await receiver.next(name)
        pending = await until(lambda: _with_attempts(db, webhook_id, 2))
        assert pending.next_attempt_at == pending.attempts[1].at + timedelta(seconds=2)
        await receiver.next(name)
        [done] = await until(settled(db, webhook_id, 1))
    finally:
        await running.stop()
    assert [a.status_code for a in done.attempts] == [503, 502, 204]
    # Each retry waited at least its delay after the attempt before it.
    gaps = [b.at - a.at for a, b in zip(done.attempts, done.attempts[1:], strict=False)]
    assert gaps[0] >= timedelta(seconds=1)
    assert gaps[1] >= timedelta(seconds=2)
    webhook = await store.get_webhook(db, ObjectId(webhook_id))
    assert webhook is not None
    assert webhook.failing_since is None


async def _with_attempts(db: Database, webhook_id: str, count: int) -> rules.WebhookDelivery | None:
    log = await log_of(db, webhook_id)
    return log[0] if log and len(log[0].attempts) == count else None


async def test_deliveries_to_one_endpoint_go_out_in_feed_order_each_waiting_for_the_one_before(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    receiver.scripts[name] = [500, 500]
    webhook_id, secret = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    made = [await order_created(db) for _ in range(3)]
    running = worker(db)
    await running.start()
    try:
        seen = [await receiver.next(name) for _ in range(5)]
        await until(settled(db, webhook_id, 3))
    finally:
        await running.stop()
    ids = [verified(r, secret)["data"]["id"] for r in seen]
    assert ids == [made[0].id, made[0].id, made[0].id, made[1].id, made[2].id]
    assert receiver.inboxes[name].empty()


async def test_several_workers_send_each_delivery_exactly_once(
    db: Database, receiver: Receiver
) -> None:
    names = [uuid.uuid4().hex for _ in range(4)]
    hooks = [await register(db, receiver.url(n), [WebhookEvent.ORDER_CREATED]) for n in names]
    workers = [worker(db) for _ in range(3)]
    for w in workers:
        await w.start()
    try:
        made = [await order_created(db) for _ in range(3)]
        for webhook_id, _ in hooks:
            await until(settled(db, webhook_id, 3))
    finally:
        for w in workers:
            await w.stop()
    for name, (webhook_id, secret) in zip(names, hooks, strict=True):
        inbox = receiver.inboxes[name]
        got = [inbox.get_nowait() for _ in range(inbox.qsize())]
        assert [verified(r, secret)["data"]["id"] for r in got] == [c.id for c in made]
        for delivery in await log_of(db, webhook_id):
            assert len(delivery.attempts) == 1


async def test_a_delivery_survives_a_restart_and_the_next_process_sends_the_same_message(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    receiver.scripts[name] = [500]
    webhook_id, secret = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    slow = RetryPolicy(first=timedelta(hours=1), give_up=timedelta(days=1))
    before = worker(db, policy=slow)
    await before.start()
    change = await order_created(db)
    first = await receiver.next(name)
    await until(lambda: _with_attempts(db, webhook_id, 1))
    await before.stop()

    # The retry is due now: a new process (another owner, a fresh start) carries on.
    await db.webhook_deliveries.update_one(
        {"webhookId": ObjectId(webhook_id)},
        {"$set": {"nextAttemptAt": (await log_of(db, webhook_id))[0].attempts[0].at}},
    )
    after = worker(db)
    await after.start()
    try:
        second = await receiver.next(name)
        [done] = await until(settled(db, webhook_id, 1))
    finally:
        await after.stop()
    assert second.message_id == first.message_id
    assert verified(second, secret)["data"]["id"] == change.id
    assert [a.status_code for a in done.attempts] == [500, 204]


async def test_an_endpoint_failing_for_the_give_up_period_is_disabled_and_flagged(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    receiver.scripts[name] = [500] * 1000
    webhook_id, _ = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    policy = RetryPolicy(
        first=timedelta(milliseconds=100),
        longest=timedelta(milliseconds=200),
        give_up=timedelta(seconds=1),
    )
    running = worker(db, policy=policy)
    await running.start()
    try:
        await order_created(db)
        [failed] = await until(settled(db, webhook_id, 1))
        webhook = await store.get_webhook(db, ObjectId(webhook_id))
        # Nothing more is made or sent for a disabled endpoint.
        await order_created(db)
        await order_created(db)
    finally:
        await running.stop()
    assert failed.state is DeliveryState.FAILED
    assert failed.next_attempt_at is None
    assert len(failed.attempts) >= 2
    assert all(a.status_code == 500 for a in failed.attempts)
    assert failed.attempts[-1].at - failed.attempts[0].at >= timedelta(seconds=1)
    assert webhook is not None
    assert webhook.enabled is False
    assert webhook.disabled_at == failed.attempts[-1].at
    assert webhook.disabled_reason is not None
    assert "HTTP 500" in webhook.disabled_reason
    assert len(await log_of(db, webhook_id)) == 1


async def test_an_endpoint_that_does_not_answer_in_time_is_a_failed_attempt(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    receiver.hang.add(name)
    webhook_id, _ = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    slow = RetryPolicy(first=timedelta(hours=1), give_up=timedelta(days=1))
    running = worker(db, policy=slow, timeout=0.5)
    await running.start()
    try:
        await order_created(db)
        await receiver.next(name)
        delivery = await until(lambda: _with_attempts(db, webhook_id, 1))
    finally:
        await running.stop()
    [attempt] = delivery.attempts
    assert attempt.status_code is None
    assert attempt.error == "no answer within 0.5 s"
    assert delivery.state is DeliveryState.PENDING


async def test_in_production_the_worker_never_calls_a_private_address(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    # Registered while it was allowed (or its name has since resolved to loopback).
    webhook_id, _ = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    slow = RetryPolicy(first=timedelta(hours=1), give_up=timedelta(days=1))
    running = worker(db, policy=slow, production=True)
    await running.start()
    try:
        await order_created(db)
        delivery = await until(lambda: _with_attempts(db, webhook_id, 1))
    finally:
        await running.stop()
    [attempt] = delivery.attempts
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "public addresses" in attempt.error
    assert receiver.inboxes[name].empty()


async def test_only_the_chosen_events_are_sent_and_low_stock_fires_when_an_item_becomes_low(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    webhook_id, secret = await register(
        db,
        receiver.url(name),
        [
            WebhookEvent.ITEM_LOW_STOCK,
            WebhookEvent.ORDER_FULFILLED,
            WebhookEvent.SHIPMENT_DELIVERED,
        ],
        threshold=5,
    )
    item = str(ObjectId())

    async def quantity(kind: ChangeKind, before: int | None, after: int) -> Change:
        return await commit(
            db,
            ChangeEntity.ITEM,
            kind,
            {"id": item, "sku": "SKU-1", "quantity": after, "previousQuantity": before},
        )

    order = str(ObjectId())
    shipment = str(ObjectId())
    await order_created(db)  # not chosen
    await quantity(ChangeKind.CREATED, None, 10)  # above: nothing
    low = await quantity(ChangeKind.UPDATED, 10, 5)  # becomes low (at the threshold)
    await quantity(ChangeKind.UPDATED, 5, 3)  # stays low: nothing
    await quantity(ChangeKind.UPDATED, 3, 8)  # recovers: nothing
    again = await quantity(ChangeKind.UPDATED, 8, 0)  # low again
    await commit(db, ChangeEntity.ORDER, ChangeKind.UPDATED, {"id": order, "status": "FULFILLED"})
    # The same order saying FULFILLED again is the same event: not sent twice.
    await commit(db, ChangeEntity.ORDER, ChangeKind.UPDATED, {"id": order, "status": "FULFILLED"})
    await commit(
        db, ChangeEntity.SHIPMENT, ChangeKind.CREATED, {"id": shipment, "status": "IN_TRANSIT"}
    )
    await commit(
        db, ChangeEntity.SHIPMENT, ChangeKind.UPDATED, {"id": shipment, "status": "DELIVERED"}
    )
    await commit(db, ChangeEntity.BIN, ChangeKind.UPDATED, {"currentLoad": 3})
    running = worker(db)
    await running.start()
    try:
        got = [verified(await receiver.next(name), secret) for _ in range(4)]
        await until(settled(db, webhook_id, 4))
    finally:
        await running.stop()
    assert [(p["type"], p["data"]["id"]) for p in got] == [
        ("item.low_stock", item),
        ("item.low_stock", item),
        ("order.fulfilled", order),
        ("shipment.delivered", shipment),
    ]
    assert [p["data"]["cursor"] for p in got[:2]] == [low.cursor, again.cursor]
    assert got[0]["data"]["lowStockThreshold"] == 5
    assert got[0]["data"]["object"]["quantity"] == 5
    assert receiver.inboxes[name].empty()


async def test_a_webhook_leased_by_another_process_waits_until_that_lease_runs_out(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    webhook_id, secret = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    # Another process holds it (and has died holding it).
    await db.webhooks.update_one(
        {"_id": ObjectId(webhook_id)},
        {"$set": {"leaseOwner": "gone", "leaseUntil": datetime.now(UTC) + timedelta(hours=1)}},
    )
    change = await order_created(db)
    running = worker(db)
    await running.start()
    try:
        await until(lambda: _rounds_at_least(running, 5))
        assert receiver.inboxes[name].empty()
        assert await log_of(db, webhook_id) == []
        await db.webhooks.update_one(
            {"_id": ObjectId(webhook_id)},
            {"$set": {"leaseUntil": datetime.now(UTC) - timedelta(seconds=1)}},
        )
        got = await receiver.next(name)
        await until(settled(db, webhook_id, 1))
    finally:
        await running.stop()
    assert verified(got, secret)["data"]["id"] == change.id
    after = await db.webhooks.find_one({"_id": ObjectId(webhook_id)})
    assert after is not None
    assert after["leaseOwner"] is None


async def _rounds_at_least(running: WebhookWorker, count: int) -> bool:
    return running.rounds >= count


async def test_the_backlog_gauge_counts_the_deliveries_waiting_to_be_sent(
    db: Database, receiver: Receiver
) -> None:
    name = uuid.uuid4().hex
    receiver.scripts[name] = [500]
    webhook_id, _ = await register(db, receiver.url(name), [WebhookEvent.ORDER_CREATED])
    slow = RetryPolicy(first=timedelta(hours=1), give_up=timedelta(days=1))
    first = worker(db, policy=slow)
    await first.start()
    try:
        await order_created(db)
        await until(lambda: _with_attempts(db, webhook_id, 1))
    finally:
        await first.stop()
    enabled = [d["_id"] for d in await db.webhooks.find({"enabled": True}).to_list()]
    waiting = await db.webhook_deliveries.count_documents(
        {"webhookId": {"$in": enabled}, "state": "PENDING"}
    )
    assert waiting >= 1
    # A worker that counts on every round. (Other apps of this test process count their own
    # databases into the same gauge now and then; in a deployment all count one database.)
    counting = worker(db, policy=slow, backlog_every_s=0)
    await counting.start()
    try:
        await until(lambda: _gauge_is(waiting))
    finally:
        await counting.stop()


async def _gauge_is(value: int) -> bool:
    return bool(metrics.WEBHOOK_BACKLOG._value.get() == value)


@pytest.fixture(scope="module")
async def live(settings: Settings, receiver: Receiver) -> AsyncIterator[LiveServer]:
    """A real server of its own database, quick to poll and to retry."""
    server = LiveServer(
        create_app(
            dataclasses.replace(
                settings,
                mongodb_db=f"wgql_hooks_live_{uuid.uuid4().hex[:8]}",
                webhook_poll_s=0.05,
                webhook_retry_first_s=0.2,
                webhook_retry_longest_s=0.4,
            )
        )
    )
    await server.start()
    yield server
    await server.stop()


async def test_writes_on_graphql_and_rest_reach_the_webhook_as_signed_events(
    live: LiveServer, receiver: Receiver
) -> None:
    resources = live.resources
    manager = await make_account(resources, Role.MANAGER)
    customer = await make_account(resources, Role.CUSTOMER)
    name = uuid.uuid4().hex
    receiver.scripts[name] = [500]
    created = await live.ok(
        """mutation($i: CreateWebhookInput!) {
             createWebhook(input: $i) { secret webhook { id } } }""",
        {
            "i": {
                "url": receiver.url(name),
                "events": ["ORDER_CREATED", "ORDER_FULFILLED", "ITEM_LOW_STOCK"],
                "lowStockThreshold": 2,
            }
        },
        manager.token,
    )
    secret = created["createWebhook"]["secret"]
    webhook_id = created["createWebhook"]["webhook"]["id"]
    bin_id = (
        await live.ok(
            "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }",
            {"i": {"location": f"H-{uuid.uuid4().hex[:4]}-1", "capacity": 100}},
            manager.token,
        )
    )["createBin"]["id"]
    sku = f"HOOK-{uuid.uuid4().hex[:6]}".upper()
    await live.ok(
        "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }",
        {"i": {"name": "Hook", "sku": sku, "binId": bin_id, "quantity": 3}},
        manager.token,
    )
    order_id = (
        await live.ok(
            "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id } }",
            {"i": {"customerName": "Ada", "items": [{"sku": sku, "quantity": 2}]}},
            customer.token,
        )
    )["createOrder"]["id"]
    async with httpx.AsyncClient(base_url=live.http_url) as client:
        response = await client.post(
            f"/api/v1/orders/{order_id}/fulfill",
            headers={"Authorization": f"Bearer {manager.token}"},
        )
        assert response.status_code == 200, response.text

    refused, *got = [await receiver.next(name) for _ in range(4)]
    payloads = [verified(r, secret) for r in got]
    assert refused.message_id == got[0].message_id
    assert [(p["type"], p["data"]["id"]) for p in payloads[:1]] == [("order.created", order_id)]
    # Fulfilment takes the item from 3 to 1 (low at 2) and fulfils the order: two events, in
    # the order the feed has them.
    assert sorted(p["type"] for p in payloads[1:]) == ["item.low_stock", "order.fulfilled"]
    low = next(p for p in payloads if p["type"] == "item.low_stock")
    assert low["data"]["object"]["sku"] == sku
    assert low["data"]["object"]["quantity"] == 1
    cursors = [int(p["data"]["cursor"]) for p in payloads]
    assert cursors == sorted(cursors)

    log = await live.ok(
        """query($id: ID!) { webhookDeliveries(webhookId: $id) {
             totalCount edges { node { messageId state attempts { statusCode } } } } }""",
        {"id": webhook_id},
        manager.token,
    )
    assert log["webhookDeliveries"]["totalCount"] == 3
    first = log["webhookDeliveries"]["edges"][0]["node"]
    assert first["messageId"] == refused.message_id
    assert first["attempts"] == [{"statusCode": 500}, {"statusCode": 204}]
