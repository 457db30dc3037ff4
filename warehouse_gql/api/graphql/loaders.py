"""Per-request DataLoaders: a page of N items and their bins costs one query per kind, not N.

They also pace long executions. Nested lists (`bins { items { bin { items ... } } }`) make
an operation resolve up to MAX_QUERY_COST objects, and one raised by an operator can make it
millions; once a loader has its values cached, awaiting them never gives the event loop a
turn, and the tasks of such an operation keep the loop's every iteration busy: no /healthz,
no other request, no deadline, no cancellation when the client leaves, no SIGTERM until it
ends. The loaders make a long operation take turns with everything else (Pacer).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader

from warehouse_gql.domain.errors import ServiceUnavailable
from warehouse_gql.domain.models import Bin, Item, Order, Shipment, User
from warehouse_gql.store import bins, items, orders, users
from warehouse_gql.store.database import Database, request_committed
from warehouse_gql.store.ids import known_ids

K = TypeVar("K")
T = TypeVar("T")

# The longest an operation's resolvers run before they take turns with the rest of the loop.
SLICE_S = 0.02


class Pacer:
    """Turns for one operation's loads, so the event loop keeps turning while it runs.

    Until the operation has run SLICE_S, loads go straight through. After that, and for as long
    as any of its loads are waiting, a load waits its turn: once per iteration of the event
    loop (after its timers and sockets) a batch of waiting loads is let through, each running
    its task on to its next load; the batch doubles while a batch takes less than SLICE_S and
    halves when it takes more. Waking tasks in batches matters: an operation over nested lists
    has as many tasks as objects, and waking them all in every iteration would itself block
    the loop. Past its deadline the operation's loads fail with SERVICE_UNAVAILABLE on the
    spot, without waiting for the deadline's timer.
    """

    __slots__ = ("batch", "deadline", "released", "since", "timeout", "waiting")

    def __init__(self, timeout: float) -> None:
        self.since = time.monotonic()
        self.timeout = timeout
        self.deadline = self.since + timeout
        # Made at the first wait: most operations never wait, and every subscription's
        # context has a pacer of its own.
        self.waiting: collections.deque[asyncio.Future[None]] | None = None
        self.batch = 64
        self.released = 0.0

    def past_deadline(self) -> bool:
        return time.monotonic() > self.deadline

    def check(self) -> None:
        # A request whose write has reached its commit answers with it (RequestGuard gives it time).
        if self.past_deadline() and not request_committed():
            raise ServiceUnavailable(
                f"The request ran longer than {self.timeout:g} seconds and was stopped; "
                "simplify it or retry shortly."
            )

    def due(self) -> bool:
        """Whether a load must wait its turn (raises past the deadline)."""
        self.check()
        return bool(self.waiting) or time.monotonic() - self.since > SLICE_S

    async def turn(self) -> None:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        if self.waiting is None:
            self.waiting = collections.deque()
        if not self.waiting:
            self.released = time.monotonic()
            loop.call_soon(self._release)
        self.waiting.append(waiter)
        await waiter
        self.check()

    def _release(self) -> None:
        now = time.monotonic()
        took = now - self.released
        self.batch = min(self.batch * 2, 4096) if took < SLICE_S else max(self.batch // 2, 1)
        self.released = now
        let_through = 0
        waiting = self.waiting
        while waiting and let_through < self.batch:
            waiter = waiting.popleft()
            if not waiter.done():  # a cancelled task leaves its turn behind
                waiter.set_result(None)
                let_through += 1
        self.since = now
        if self.waiting:
            # Runs in the next iteration, after the tasks just let through.
            asyncio.get_running_loop().call_soon(self._release)


class PacedLoader(DataLoader[K, T]):
    """A DataLoader whose loads take turns when their operation has run long (Pacer)."""

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[T]]], pacer: Pacer) -> None:
        super().__init__(load_fn=load_fn)
        self.pacer = pacer

    def load(self, key: K) -> Awaitable[T]:
        if self.pacer.due():
            return self._in_turn(key)
        return super().load(key)

    async def _in_turn(self, key: K) -> T:
        await self.pacer.turn()
        return await super().load(key)


class Loaders:
    """Made per request (and per subscription event); each loader only when first used, since
    most operations need one or two of them."""

    def __init__(self, db: Database, *, timeout: float) -> None:
        self.db = db
        self.pacer = Pacer(timeout)

    @cached_property
    def bins_by_id(self) -> DataLoader[str, Bin | None]:
        db = self.db

        async def load_bins(keys: list[str]) -> list[Bin | None]:
            found = await bins.bins_by_ids(db, known_ids(keys))
            return [found.get(k) for k in keys]

        return PacedLoader(load_bins, self.pacer)

    @cached_property
    def items_by_bin(self) -> DataLoader[str, list[Item]]:
        db = self.db

        async def load_bin_items(keys: list[str]) -> list[list[Item]]:
            grouped: dict[str, list[Item]] = {k: [] for k in keys}
            for item in await items.items_in_bins(db, known_ids(keys)):
                grouped[item.bin_id].append(item)
            return [grouped[k] for k in keys]

        return PacedLoader(load_bin_items, self.pacer)

    @cached_property
    def users_by_id(self) -> DataLoader[str, User | None]:
        db = self.db

        async def load_users(keys: list[str]) -> list[User | None]:
            found = await users.users_by_ids(db, known_ids(keys))
            return [found.get(k) for k in keys]

        return PacedLoader(load_users, self.pacer)

    @cached_property
    def orders_by_id(self) -> DataLoader[str, Order | None]:
        db = self.db

        async def load_orders(keys: list[str]) -> list[Order | None]:
            found = await orders.orders_by_ids(db, known_ids(keys))
            return [found.get(k) for k in keys]

        return PacedLoader(load_orders, self.pacer)

    @cached_property
    def shipments_by_order(self) -> DataLoader[str, list[Shipment]]:
        db = self.db

        async def load_order_shipments(keys: list[str]) -> list[list[Shipment]]:
            grouped = await orders.shipments_of_orders(db, known_ids(keys))
            return [grouped.get(k, []) for k in keys]

        return PacedLoader(load_order_shipments, self.pacer)
