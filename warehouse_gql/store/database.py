"""The database handle: collections, indexes, transactions with bounded retry, keyset pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from warehouse_gql.domain.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# How long a transaction keeps retrying write conflicts before the caller is told to retry.
TRANSACTION_RETRY_S = 5.0
PING_TIMEOUT_S = 0.8
# How many items' bins a process remembers (store/items.bin_of) before it starts again.
ITEM_BINS_REMEMBERED = 100_000
# A commit that the server cannot finish in this time fails instead of hanging.
COMMIT_TIMEOUT_MS = 2000

T = TypeVar("T")
Document = dict[str, Any]
Collection = AsyncCollection[Document]
# What a transaction's closure receives: every read and write inside it goes through this.
Session = AsyncClientSession

FREE_CAPACITY_INDEX = "bins_by_free_capacity"

INDEXES: dict[str, list[IndexModel]] = {
    "users": [
        IndexModel([("usernameKey", ASCENDING)], unique=True, name="username_unique"),
        IndexModel([("emailKey", ASCENDING)], unique=True, name="email_unique"),
    ],
    "sessions": [
        # Expired sessions are removed by MongoDB; lookups also check expiresAt themselves.
        IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0, name="session_expiry"),
        IndexModel([("userId", ASCENDING)], name="session_user"),
    ],
    "bins": [
        IndexModel([("locationKey", ASCENDING)], unique=True, name="location_unique"),
        # Putaway: bins with room, tightest fit first, ties in location order.
        IndexModel(
            [("freeCapacity", ASCENDING), ("locationKey", ASCENDING)], name=FREE_CAPACITY_INDEX
        ),
        # The layout: distinct aisles and the largest rack (see bins.floor_extent).
        IndexModel([("aisle", ASCENDING)], name="bins_by_aisle", sparse=True),
        IndexModel([("rack", ASCENDING)], name="bins_by_rack", sparse=True),
    ],
    "items": [
        IndexModel([("sku", ASCENDING), ("binId", ASCENDING)], unique=True, name="sku_bin_unique"),
        IndexModel([("binId", ASCENDING), ("_id", ASCENDING)], name="items_by_bin"),
        IndexModel([("quantity", ASCENDING), ("_id", ASCENDING)], name="items_by_quantity"),
    ],
    "movements": [
        IndexModel([("sku", ASCENDING), ("_id", ASCENDING)], name="movements_by_sku"),
        IndexModel([("itemId", ASCENDING), ("_id", ASCENDING)], name="movements_by_item"),
        # A bin's history, newest first: the same index read backwards.
        IndexModel([("binId", ASCENDING), ("_id", ASCENDING)], name="movements_by_bin"),
        IndexModel([("orderId", ASCENDING)], name="movements_by_order", sparse=True),
        # The slotting report: fulfilment picks in a time window.
        IndexModel([("reason", ASCENDING), ("createdAt", ASCENDING)], name="movements_by_reason"),
    ],
    "orders": [
        IndexModel([("createdBy", ASCENDING), ("_id", ASCENDING)], name="orders_by_owner"),
        IndexModel([("status", ASCENDING), ("_id", ASCENDING)], name="orders_by_status"),
        # One order per (user, idempotencyKey); orders without a key are not indexed.
        IndexModel(
            [("idempotencyId", ASCENDING)], unique=True, sparse=True, name="order_idempotency"
        ),
    ],
    "shipments": [
        IndexModel(
            [("carrier", ASCENDING), ("trackingNumber", ASCENDING)],
            unique=True,
            name="tracking_unique",
        ),
        IndexModel([("orderId", ASCENDING), ("_id", ASCENDING)], name="shipments_by_order"),
        IndexModel([("orderOwner", ASCENDING), ("_id", ASCENDING)], name="shipments_by_owner"),
        IndexModel([("status", ASCENDING), ("_id", ASCENDING)], name="shipments_by_status"),
    ],
    "changes": [
        # The feed in commit order; unique, so two sequencers can never hand out one number.
        IndexModel([("seq", ASCENDING)], unique=True, sparse=True, name="changes_by_seq"),
        # What the sequencer has still to number: only pending records carry the field.
        IndexModel([("pending", ASCENDING)], sparse=True, name="changes_pending"),
        # The retention TTL index on `at` is made by migrations.prepare (its length is a setting).
    ],
    "webhooks": [
        # The delivery worker's round: every enabled webhook.
        IndexModel([("enabled", ASCENDING)], name="webhooks_by_enabled"),
    ],
    "webhook_deliveries": [
        # One delivery per (webhook, change): a re-read change never makes a second one.
        IndexModel(
            [("webhookId", ASCENDING), ("seq", ASCENDING)], unique=True, name="delivery_of_change"
        ),
        # An order is fulfilled once: one message, however many changes say FULFILLED.
        IndexModel([("messageId", ASCENDING)], unique=True, name="delivery_message"),
        # The next delivery of a webhook to send, in feed order.
        IndexModel(
            [("webhookId", ASCENDING), ("state", ASCENDING), ("seq", ASCENDING)],
            name="deliveries_pending",
        ),
        # The delivery log, page by page.
        IndexModel([("webhookId", ASCENDING), ("_id", ASCENDING)], name="deliveries_by_webhook"),
    ],
}


class KeyedLocks:
    """One asyncio lock per key, made on first use and dropped when nobody holds or awaits it
    (asyncio.Lock wakes its waiters in arrival order)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class TransactionStats:
    """Counts since start: how often transactions ran and how often they had to be retried."""

    started: int = 0
    retried: int = 0


class Database:
    """Owns the client's collections. Made in the app's lifespan, never at import time."""

    def __init__(self, client: AsyncMongoClient[Document], name: str) -> None:
        self.client = client
        self.db = client.get_database(name)
        self.users: Collection = self.db["users"]
        self.sessions: Collection = self.db["sessions"]
        self.bins: Collection = self.db["bins"]
        self.items: Collection = self.db["items"]
        self.movements: Collection = self.db["movements"]
        self.orders: Collection = self.db["orders"]
        self.shipments: Collection = self.db["shipments"]
        self.changes: Collection = self.db["changes"]
        self.leases: Collection = self.db["leases"]
        # Change records of each running transaction, inserted just before it commits.
        self._outboxes: dict[Session, dict[tuple[str, str], Document]] = {}
        # Awaited after a commit that wrote change records, with those records: the change
        # feed numbers them and returns once this process has delivered them.
        self.on_changes: Callable[[list[Document]], Awaitable[None]] | None = None
        self.webhooks: Collection = self.db["webhooks"]
        self.webhook_deliveries: Collection = self.db["webhook_deliveries"]
        self.stats = TransactionStats()
        # Transactions that lost a write conflict retry here one at a time (see transaction).
        self._retry_lane = asyncio.Lock()
        # Writers of one hot document queue here instead of conflicting (see transaction).
        self._serial = KeyedLocks()
        # Item id -> its bin's id, which never changes (store/items.bin_of).
        self.item_bins: dict[ObjectId, str] = {}
        # Test hook: called between the steps of multi-step writes (see services.orders).
        self.fault_injector: Callable[[str], Awaitable[None]] | None = None

    async def ping(self, within: float = PING_TIMEOUT_S) -> None:
        """Raises when the database does not answer `within` seconds (/readyz answers in 1 s)."""
        async with asyncio.timeout(within):
            await self.client.admin.command("ping")

    async def transaction(
        self, work: Callable[[Session], Awaitable[T]], *, serial: Hashable | None = None
    ) -> T:
        """Run `work` in one multi-document transaction, retried for a bounded time.

        With `serial` (e.g. the bin every write of an adjustment updates), this process runs
        the transactions of one key one at a time, in arrival order: its writers of one hot
        bin queue for a few milliseconds each instead of all starting together, conflicting
        and retrying. Other processes' writers may still conflict; the retries handle them.

        Write conflicts under concurrency surface as TransientTransactionError. The first
        attempt runs concurrently with everything else; a transaction that lost a conflict
        retries in this process's retry lane, one at a time, so a hot document (one bin, many
        writers) is written at least at the single-writer rate instead of every writer
        conflicting again and backing off. After TRANSACTION_RETRY_S of conflicts the caller gets
        SERVICE_UNAVAILABLE ("busy, retry"); an unreachable database fails at once. `work` must
        be safe to run again: it only touches the database through the session.
        """
        if serial is not None:
            async with self._serial.hold(serial):
                result, records = await self._transaction(work)
        else:
            result, records = await self._transaction(work)
        # After the serial lane is free: the next writer of the key need not wait for this
        # write's changes to reach the feed.
        if records and self.on_changes is not None:
            await self.on_changes(records)
        return result

    async def _transaction(
        self, work: Callable[[Session], Awaitable[T]]
    ) -> tuple[T, list[Document]]:
        self.stats.started += 1
        deadline = time.monotonic() + TRANSACTION_RETRY_S
        attempt = 0
        async with self.client.start_session() as session:
            while True:
                attempt += 1
                try:
                    if attempt == 1:
                        return await self._attempt(session, work)
                    async with self._retry_lane:
                        return await self._attempt(session, work)
                except PyMongoError as exc:
                    if isinstance(exc, ConnectionFailure) or not exc.has_error_label(
                        "TransientTransactionError"
                    ):
                        raise
                    if time.monotonic() >= deadline:
                        log.warning("transaction gave up after %d conflicting attempts", attempt)
                        raise ServiceUnavailable(
                            "The warehouse is busy with the same records; retry shortly."
                        ) from None
                    self.stats.retried += 1

    def outbox_of(self, session: Session) -> dict[tuple[str, str], Document]:
        """The change records the transaction running on `session` will insert."""
        try:
            return self._outboxes[session]
        except KeyError:
            raise RuntimeError("change records are written inside db.transaction only") from None

    async def _attempt(
        self, session: Session, work: Callable[[Session], Awaitable[T]]
    ) -> tuple[T, list[Document]]:
        await session.start_transaction(
            read_concern=ReadConcern("snapshot"),
            write_concern=WriteConcern("majority"),
            max_commit_time_ms=COMMIT_TIMEOUT_MS,
        )
        self._outboxes[session] = {}
        try:
            result = await work(session)
            records = list(self._outboxes[session].values())
            if records:
                # The outbox: the changes commit with the write or not at all.
                await self.changes.insert_many(records, ordered=True, session=session)
        except BaseException:
            if session.in_transaction:
                with contextlib.suppress(PyMongoError):
                    await session.abort_transaction()
            raise
        finally:
            self._outboxes.pop(session, None)
        for _ in range(3):
            try:
                await session.commit_transaction()
                break
            except PyMongoError as exc:
                # The commit may have happened: committing again is safe and tells.
                if exc.has_error_label("UnknownTransactionCommitResult") and not isinstance(
                    exc, ConnectionFailure
                ):
                    continue
                raise
        else:
            await session.commit_transaction()
        return result, records

    async def checkpoint(self, step: str) -> None:
        if self.fault_injector is not None:
            await self.fault_injector(step)


async def page(
    collection: Collection,
    query: Mapping[str, Any],
    *,
    first: int,
    after: ObjectId | None,
    newest_first: bool = False,
) -> tuple[list[Document], bool]:
    """A keyset page in creation order (or its reverse): `first` documents after the cursor,
    and whether more follow. Every (filter field, _id) index serves both directions."""
    filt = dict(query)
    if after is not None:
        filt["_id"] = {"$lt" if newest_first else "$gt": after}
    direction = DESCENDING if newest_first else ASCENDING
    docs = await collection.find(filt).sort("_id", direction).limit(first + 1).to_list()
    return docs[:first], len(docs) > first
