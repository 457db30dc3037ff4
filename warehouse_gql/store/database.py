"""The database handle: collections, indexes, transactions with bounded retry, keyset pages."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from warehouse_gql.domain.errors import ServiceUnavailable, WarehouseError

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


P = TypeVar("P")
# One write of a group (see Database.transaction_grouped): the parts given, their results.
GroupWork = Callable[["Database", Session, Sequence[P]], Awaitable[Sequence[T]]]
# The most writes one grouped transaction carries.
MAX_GROUP = 64


class Commits:
    """Whether a write of one request has reached its commit (the doors' RequestGuard makes
    one per request, in `request_commits`): from then on the request's answer is that
    write's, never "retry", even past its deadline."""

    __slots__ = ("committed",)

    def __init__(self) -> None:
        self.committed = False


request_commits: contextvars.ContextVar[Commits | None] = contextvars.ContextVar(
    "request_commits", default=None
)


def request_committed() -> bool:
    """Whether a write of the running request has reached its commit."""
    commits = request_commits.get()
    return commits is not None and commits.committed


class _Abandoned(Exception):
    """A grouped write's caller stopped waiting before the group committed."""


@dataclass(eq=False, slots=True)
class _Waiting(Generic[P, T]):
    work: GroupWork[P, T]
    part: P
    joins: Callable[[Sequence[P], P], bool]
    # Resolved with the part's result and the wait for the group's changes to be delivered.
    answer: asyncio.Future[tuple[T, asyncio.Future[None]]]
    # The caller's request's commits.
    commits: Commits | None


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
        # Writes of one hot document waiting to run as one transaction (transaction_grouped),
        # and the task running them, by key.
        self._groups: dict[Hashable, collections.deque[_Waiting[Any, Any]]] = {}
        self._group_tasks: dict[Hashable, asyncio.Task[None]] = {}
        self._deliveries: set[asyncio.Future[None]] = set()
        # Item id -> its bin's id, which never changes (store/items.bin_of).
        self.item_bins: dict[ObjectId, str] = {}
        # Test hook: called between the steps of multi-step writes (see services.orders).
        self.fault_injector: Callable[[str], Awaitable[None]] | None = None

    async def ping(self, within: float = PING_TIMEOUT_S) -> None:
        """Raises when the database does not answer `within` seconds (/readyz answers in 1 s)."""
        async with asyncio.timeout(within):
            await self.client.admin.command("ping")

    async def transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run `work` in one multi-document transaction, retried for a bounded time.

        Write conflicts under concurrency surface as TransientTransactionError. The first
        attempt runs concurrently with everything else; a transaction that lost a conflict
        retries in this process's retry lane, one at a time, so a hot document (one bin, many
        writers) is written at least at the single-writer rate instead of every writer
        conflicting again and backing off. After TRANSACTION_RETRY_S of conflicts the caller gets
        SERVICE_UNAVAILABLE ("busy, retry"); an unreachable database fails at once. `work` must
        be safe to run again: it only touches the database through the session.
        """
        result, records = await self._transaction(work, commits=[request_commits.get()])
        await self.checkpoint("transaction.committed")
        if records and self.on_changes is not None:
            await self.on_changes(records)
        return result

    async def transaction_grouped(
        self,
        key: Hashable,
        work: GroupWork[P, T],
        part: P,
        *,
        joins: Callable[[Sequence[P], P], bool] = lambda group, part: True,
    ) -> T:
        """Run one write (`part`) of a hot document (`key`, e.g. the bin every adjustment of its
        items updates) in a transaction shared with the others of this process waiting for it.

        The first write of an idle key starts at once, alone. Writes that arrive meanwhile wait,
        in arrival order, and the next transaction runs as many of them as `joins` lets in (at
        most MAX_GROUP): `work(db, session, parts)` does them all and gives each its result. So
        a hot bin pays for its own update, the ledger insert, the change records and the commit
        once per group instead of once per write. If the group fails on a warehouse error (one
        write's stock or the bin's room, say), each of its writes runs again alone, so every
        write gets the answer it would have had by itself; other failures (busy, database
        down) are every write's answer. `work` must be one function for one kind of write (the
        group's writes share it) and safe to run again, like transaction's.

        A write whose caller stops waiting (a timeout, a client gone) before its group commits
        is left out: the group's transaction is undone and runs again without it, so a caller
        told "retry" never finds its first write applied too.
        """
        waiting: _Waiting[P, T] = _Waiting(
            work, part, joins, asyncio.get_running_loop().create_future(), request_commits.get()
        )
        self._groups.setdefault(key, collections.deque()).append(waiting)
        if key not in self._group_tasks:
            self._group_tasks[key] = asyncio.create_task(self._run_groups(key))
        result, delivered = await waiting.answer
        await self.checkpoint("transaction.committed")
        # After the group's transaction, outside it: the next group need not wait for this
        # one's changes to reach the feed.
        await asyncio.shield(delivered)
        return result

    async def _run_groups(self, key: Hashable) -> None:
        queue = self._groups[key]
        try:
            while queue:
                group = _take_group(queue)
                try:
                    await self._commit_group(group)
                except BaseException:  # cancelled: the server is stopping
                    _fail([*group, *queue], ServiceUnavailable("The server is stopping; retry."))
                    raise
        finally:
            del self._groups[key]
            del self._group_tasks[key]

    async def _commit_group(self, group: list[_Waiting[Any, Any]]) -> None:
        if not group:
            return
        work = group[0].work
        parts = [w.part for w in group]
        try:
            results, records = await self._transaction(
                lambda s: work(self, s, parts),
                still_wanted=lambda: not any(w.answer.done() for w in group),
                commits=[w.commits for w in group],
            )
        except _Abandoned:
            await self._commit_group([w for w in group if not w.answer.done()])
            return
        except WarehouseError as exc:
            if len(group) == 1 or isinstance(exc, ServiceUnavailable):
                _fail(group, exc)
                return
            for waiting in group:  # one write's error must not be the others'
                if not waiting.answer.done():
                    await self._commit_group([waiting])
            return
        except Exception as exc:
            _fail(group, exc)
            return
        delivered = asyncio.ensure_future(self._deliver(records))
        self._deliveries.add(delivered)
        delivered.add_done_callback(self._deliveries.discard)
        for waiting, result in zip(group, results, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result((result, delivered))

    async def _deliver(self, records: list[Document]) -> None:
        if records and self.on_changes is not None:
            await self.on_changes(records)

    async def _transaction(
        self,
        work: Callable[[Session], Awaitable[T]],
        still_wanted: Callable[[], bool] | None = None,
        commits: Sequence[Commits | None] = (),
    ) -> tuple[T, list[Document]]:
        self.stats.started += 1
        deadline = time.monotonic() + TRANSACTION_RETRY_S
        attempt = 0
        async with self.client.start_session() as session:
            while True:
                attempt += 1
                try:
                    if attempt == 1:
                        return await self._attempt(session, work, still_wanted, commits)
                    async with self._retry_lane:
                        return await self._attempt(session, work, still_wanted, commits)
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
        self,
        session: Session,
        work: Callable[[Session], Awaitable[T]],
        still_wanted: Callable[[], bool] | None = None,
        commits: Sequence[Commits | None] = (),
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
            if still_wanted is not None and not still_wanted():
                raise _Abandoned
            # From the commit command on, the write may be in: its requests are no longer
            # cancelled at their deadline (RequestGuard), so none is answered "retry".
            for request in commits:
                if request is not None:
                    request.committed = True
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


async def increment_each(
    collection: Collection,
    session: Session,
    increments: Sequence[tuple[ObjectId, Document]],
    fields: Document,
) -> list[Document | None]:
    """`$inc` each document (distinct ids) and `$set` the same fields on all, in one command,
    then read them back in one: each document as it now is, None for one that does not exist.

    Inside a transaction only: the caller checks the new values (a quantity below zero, a
    load over capacity) and raises, which aborts every write. A concurrent write of the same
    document is a write conflict, so the values read are the committed ones plus ours."""
    assert session.in_transaction, "increment_each writes unguarded: a transaction must undo"
    if not increments:
        return []
    if len(increments) == 1:
        ((only, inc),) = increments
        await collection.update_one({"_id": only}, {"$inc": inc, "$set": fields}, session=session)
    else:
        await collection.bulk_write(
            [UpdateOne({"_id": oid}, {"$inc": inc, "$set": fields}) for oid, inc in increments],
            session=session,
        )
    ids = [oid for oid, _ in increments]
    found = await collection.find({"_id": {"$in": ids}}, session=session).to_list()
    by_id = {doc["_id"]: doc for doc in found}
    return [by_id.get(oid) for oid in ids]


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


def _take_group(queue: collections.deque[_Waiting[Any, Any]]) -> list[_Waiting[Any, Any]]:
    """The next group: waiting writes in arrival order, of one kind of work, while they join."""
    group: list[_Waiting[Any, Any]] = []
    while queue and len(group) < MAX_GROUP:
        waiting = queue[0]
        if waiting.answer.done():  # its caller stopped waiting
            queue.popleft()
            continue
        if group and (
            waiting.work is not group[0].work
            or not waiting.joins([w.part for w in group], waiting.part)
        ):
            break
        group.append(queue.popleft())
    return group


def _fail(group: list[_Waiting[Any, Any]], exc: BaseException) -> None:
    for waiting in group:
        if not waiting.answer.done():
            waiting.answer.set_exception(exc)
