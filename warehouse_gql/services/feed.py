"""The change feed after commit: the sequencer that numbers committed change records, the
relay that hands them to this process's subscribers, and reading the feed from a cursor.

Writers insert change records inside their own transaction (store.changes) and nudge the
sequencer. One process at a time holds the sequencer lease; it numbers pending records in the
order it finds them committed and publishes each numbered change on the bus. Every process
runs a relay: it delivers changes to its subscribers in number order, each number once, and
reads the database whenever it sees a gap or hears nothing for a while, so a change whose bus
message was lost (Redis down, publisher killed) still arrives. The outbox is the buffer, never
a process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import dataclass
from typing import Protocol, TypeVar

from warehouse_gql.domain import access, clock
from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind, cursor_of, parse_cursor
from warehouse_gql.domain.errors import CursorExpired
from warehouse_gql.domain.models import User
from warehouse_gql.live import metrics
from warehouse_gql.live.bus import EventBus, FellBehind
from warehouse_gql.live.events import (
    FEED_CHANNEL,
    ITEMS_CHANNEL,
    SHIPMENTS_CHANNEL,
    Event,
    ItemChanged,
    Nudge,
    ShipmentChanged,
)
from warehouse_gql.live.revisions import Revisions
from warehouse_gql.store import changes
from warehouse_gql.store.database import Database, Document

log = logging.getLogger(__name__)

# A dead sequencer's lease passes to another process this long after its last renewal.
LEASE_SECONDS = 5.0
RENEW_SECONDS = 1.0
# Safety nets when no nudge or bus message comes: the sequencer looks for pending records,
# the relay for numbered changes it has not delivered.
SEQUENCER_POLL_SECONDS = 0.5
RELAY_POLL_SECONDS = 1.0
# While a write waits for its changes, the relay looks at the database this often.
RELAY_WAITING_POLL_SECONDS = 0.05
# A write returns once this process delivered its changes, or after this long at most (the
# change is committed and will be delivered; the wait only orders it before the answer).
DELIVERY_WAIT_SECONDS = 2.0
BATCH = 500
PAGE = 200
# How many numbered record ids the sequencer remembers (a few batches: the race it guards
# against spans one poll).
REMEMBERED_IDS = 4 * BATCH


class Feed:
    """This process's sequencer candidate and relay (one per app, made in the lifespan)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        lease_seconds: float = LEASE_SECONDS,
        relay_poll_seconds: float = RELAY_POLL_SECONDS,
    ) -> None:
        self.db = db
        self.bus = bus
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.relay_poll_seconds = relay_poll_seconds
        self.holding = False
        # The sequencer's last number, read from the database when it takes the lease.
        self._numbered = 0
        # The relay's last delivered number, and changes that arrived ahead of a gap.
        self.delivered = 0
        self._ahead: dict[int, Change] = {}
        self._work = asyncio.Event()
        self._gap = asyncio.Event()
        self._nudge_others = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # This process's committed records, for the sequencer when it holds the lease.
        self._committed: list[Document] = []
        self._nudged = False
        self._saved = 0
        # The ids of the records this sequencer numbered last (see _number), oldest first.
        self._numbered_ids: OrderedDict[object, None] = OrderedDict()
        # Writes of this process waiting for their changes: (entity, id, revision) -> futures.
        self._waiting: dict[tuple[str, str, int], list[asyncio.Future[None]]] = {}

    async def start(self) -> None:
        # A point read, not a sorted scan of the feed, so a process starts at once however
        # long the feed is; what was numbered after the saved mark is caught up at once.
        self.delivered = await changes.saved_high_water(self.db)
        self.bus.position = self.delivered
        self.bus.on_change = self.receive
        self.bus.on_nudge = self._nudge
        self.db.on_changes = self.committed
        self._tasks = [
            asyncio.create_task(self._sequence_forever(), name="feed-sequencer"),
            asyncio.create_task(self._catch_up_forever(), name="feed-relay"),
            asyncio.create_task(self._nudge_forever(), name="feed-nudger"),
        ]

    async def stop(self) -> None:
        self.db.on_changes = None
        self.bus.on_change = None
        self.bus.on_nudge = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.holding:
            with contextlib.suppress(Exception):
                await changes.release_lease(self.db, self.owner)

    async def committed(self, records: list[Document]) -> None:
        """A transaction of this process committed these change records: have them numbered
        and wait (bounded) until this process delivered them, so a write's answer comes after
        its events and a subscription opened here after the answer never receives them."""
        loop = asyncio.get_running_loop()
        futures = []
        for record in records:
            future: asyncio.Future[None] = loop.create_future()
            key = (record["entity"], record["docId"], record["revision"])
            self._waiting.setdefault(key, []).append(future)
            futures.append(future)
        if self.holding:
            # Numbered straight away, in commit order, without looking them up.
            self._committed.extend(records)
        else:
            self._nudge_others.set()
            # If the bus does not bring them soon, the relay reads them from the database.
            loop.call_later(RELAY_WAITING_POLL_SECONDS, self._gap.set)
        self._work.set()
        try:
            await asyncio.wait(futures, timeout=DELIVERY_WAIT_SECONDS)
        finally:
            for record, future in zip(records, futures, strict=True):
                key = (record["entity"], record["docId"], record["revision"])
                waiters = self._waiting.get(key)
                if waiters is not None:
                    with contextlib.suppress(ValueError):
                        waiters.remove(future)
                    if not waiters:
                        del self._waiting[key]

    # The sequencer.

    async def _sequence_forever(self) -> None:
        renew_at = 0.0
        loop = asyncio.get_running_loop()
        polled_at = 0.0
        while True:
            try:
                if loop.time() >= renew_at:
                    await self._renew()
                    renew_at = loop.time() + RENEW_SECONDS
                if self.holding:
                    if self._committed:
                        await self._number(self._take_committed())
                    if loop.time() - polled_at >= SEQUENCER_POLL_SECONDS or self._nudged:
                        # Records of other processes (nudged) and of dead ones (the poll).
                        self._nudged = False
                        polled_at = loop.time()
                        await self._number_pending()
                else:
                    self._committed.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the change feed sequencer paused: %s", exc)
                self.holding = False
                renew_at = 0.0
            if not self._committed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._work.wait(), SEQUENCER_POLL_SECONDS)
                self._work.clear()

    def _take_committed(self) -> list[Document]:
        taken = list(self._committed)
        self._committed.clear()
        return taken

    def _nudge(self) -> None:
        """Another process committed change records."""
        self._nudged = True
        self._work.set()

    async def _renew(self) -> None:
        held = await changes.take_lease(self.db, self.owner, seconds=self.lease_seconds)
        if held and not self.holding:
            # The mark the last holder saved may be behind its last number (it saves once a
            # renewal, and a dead one never saves again): saved again at once below, so that a
            # relay whose next number went unused (see catch_up) reads on past it.
            self._saved = await changes.saved_high_water(self.db)
            self._numbered = await changes.high_water(self.db)
            log.info("this process numbers the change feed from %d", self._numbered)
        self.holding = held
        if held and self._saved < self._numbered:
            await changes.save_high_water(self.db, self.owner, self._numbered)
            self._saved = self._numbered

    async def _number_pending(self) -> None:
        while self.holding:
            records = await changes.pending(self.db, limit=BATCH)
            if not records:
                metrics.FEED_LAG.set(0)
                return
            metrics.FEED_LAG.set(max(0.0, (clock.now() - records[0]["at"]).total_seconds()))
            await self._number(records)
            if len(records) < BATCH:
                return

    async def _number(self, records: list[Document]) -> None:
        """Give each committed record the next number, in the order given, in one round trip;
        deliver and publish them."""
        # A record of this process may have been found by the pending poll before its commit
        # handed it over (or the other way round): numbered once, never given a second number,
        # which would go unused and leave a gap that relays wait on.
        records = [r for r in records if r["_id"] not in self._numbered_ids]
        if not records:
            return
        start = self._numbered
        numbers = [(r["_id"], start + n) for n, r in enumerate(records, start=1)]
        try:
            done = await changes.number_many(self.db, numbers)
        except changes.NumberTaken:
            # Another process took the lease while this one stalled: it numbers from now on.
            self.holding = False
            done = -1
        if done == len(numbers):
            self._numbered = start + done
            ours = numbers
        else:
            # Some were numbered elsewhere meanwhile: keep only what carries our numbers.
            found = await changes.numbers_of(self.db, [n[0] for n in numbers])
            ours = [(record_id, seq) for record_id, seq in numbers if found.get(record_id) == seq]
            self._numbered = max([start, *(seq for _, seq in ours)])
        mine = {seq for _, seq in ours}
        numbered = [
            changes.to_change({**r, "seq": seq})
            for r, (_, seq) in zip(records, numbers, strict=True)
            if seq in mine
        ]
        # Only what carries our numbers: a record this process failed to number (it lost the
        # lease) is still pending, and whoever holds the lease next must number it.
        self._numbered_ids.update((record_id, None) for record_id, _ in ours)
        while len(self._numbered_ids) > REMEMBERED_IDS:
            self._numbered_ids.popitem(last=False)
        if self._committed:
            # Committed here, found by the poll first (a backlog may be longer than the ids
            # remembered): not handed over again.
            taken = {record_id for record_id, _ in ours}
            self._committed = [r for r in self._committed if r["_id"] not in taken]
        for change in numbered:
            self.receive(change)
        if numbered:
            await self.bus.publish(numbered)

    async def _nudge_forever(self) -> None:
        """Tell the sequencer elsewhere, at most one message per wake-up however many commits."""
        while True:
            await self._nudge_others.wait()
            self._nudge_others.clear()
            if not self.holding:
                await self.bus.publish([Nudge()])

    # The relay.

    def receive(self, change: Change) -> None:
        """A numbered change from the bus or this process's sequencer: deliver it in order."""
        if change.seq <= self.delivered:
            return  # already delivered (at-least-once on the bus)
        if change.seq != self.delivered + 1:
            self._ahead[change.seq] = change
            self._gap.set()
            return
        self._deliver(change)
        while self.delivered + 1 in self._ahead:
            self._deliver(self._ahead.pop(self.delivered + 1))

    def _deliver(self, change: Change) -> None:
        self.delivered = change.seq
        self.bus.deliver(change)
        for future in self._waiting.pop((change.entity.value, change.id, change.revision), ()):
            if not future.done():
                future.set_result(None)

    async def _catch_up_forever(self) -> None:
        while True:
            # A process's waiting writes hurry its relay, unless it numbers them itself: the
            # sequencer then delivers them as it numbers them, without a read.
            hurry = self._waiting and not self.holding
            wait = RELAY_WAITING_POLL_SECONDS if hurry else self.relay_poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gap.wait(), wait)
            self._gap.clear()
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the change feed relay could not read the database: %s", exc)

    async def catch_up(self) -> None:
        """Deliver from the database what the bus did not bring (one point read when idle)."""
        if not self._ahead and not await changes.anything_after(self.db, self.delivered):
            return
        while True:
            page = await changes.read_after(self.db, self.delivered, limit=PAGE)
            for change in page:
                # In the database's order: a number never used (a sequencer that lost its
                # lease mid-batch) is passed over instead of waited for.
                if change.seq > self.delivered:
                    self._ahead.pop(change.seq, None)
                    self._deliver(change)
            for seq in [s for s in self._ahead if s <= self.delivered]:
                del self._ahead[seq]
            while self.delivered + 1 in self._ahead:
                self._deliver(self._ahead.pop(self.delivered + 1))
            if len(page) < PAGE:
                return


async def follow(
    db: Database,
    bus: EventBus,
    *,
    after: str | None,
    entities: Collection[ChangeEntity] | None = None,
) -> AsyncGenerator[Change, None]:
    """Changes in commit order: with a cursor, first every change after it from the database,
    then live ones, with no gap and no duplicate; without, live ones from now."""
    wanted = None if entities is None else frozenset(entities)
    # Items and shipments come on their own local channels (fewer events per subscriber).
    channel = FEED_CHANNEL
    if wanted == frozenset({ChangeEntity.ITEM}):
        channel = ITEMS_CHANNEL
    elif wanted == frozenset({ChangeEntity.SHIPMENT}):
        channel = SHIPMENTS_CHANNEL
    # Subscribed before reading the database: whatever commits meanwhile is queued here, and
    # the queue drops what the database read already delivered.
    async with bus.subscribe(channel) as live:
        last = 0
        try:
            if after is None:
                # From now: the relay's position when the queue opened. Nothing is awaited
                # first, because a change numbered while we waited would count as "before"
                # and be lost to a client that wrote right after subscribing. A write answers
                # only once its own process delivered its change, so no change of a write
                # this process answered before is sent; one answered by another process just
                # before may be (at least once, never lost).
                last = bus.position
            else:
                last = parse_cursor(after)
                if await changes.is_expired(db, last):
                    raise CursorExpired()
                while True:
                    page = await changes.read_after(db, last, limit=PAGE, entities=wanted)
                    for change in page:
                        last = change.seq
                        yield change
                    if len(page) < PAGE:
                        break
            async for event in live:
                found: Event | None = (
                    event.change if isinstance(event, ItemChanged | ShipmentChanged) else event
                )
                if found is None and isinstance(event, ItemChanged | ShipmentChanged):
                    # Published straight on the bus, not from the feed: passed on unnumbered.
                    yield unnumbered(event.kind, event)
                    continue
                if not isinstance(found, Change) or found.seq <= last:
                    continue
                last = found.seq
                if wanted is not None and found.entity not in wanted:
                    continue
                yield found
        except FellBehind as behind:
            raise FellBehind(behind.limit, cursor_of(last) if last else None) from None


class Revisioned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def revision(self) -> int: ...


R = TypeVar("R", bound=Revisioned)


async def follow_records(
    db: Database,
    bus: EventBus,
    *,
    user: User,
    entity: ChangeEntity,
    record_of: Callable[[Change], R],
    after: str | None,
) -> AsyncGenerator[tuple[Change, R], None]:
    """One entity's changes as `follow` gives them, only those `user` may see, each record
    revision once (a change heard from the bus and read from the database is one change)."""
    revisions = Revisions()
    async for change in follow(db, bus, after=after, entities=[entity]):
        if access.visible_change(user.role, user.id, change) is None:
            continue
        record = record_of(change)
        if revisions.is_new(record.id, record.revision):
            yield change, record


# Delta sync: the feed read in pages, as a reader may see it.

# How many changes one page may look through for a reader who sees few of them (a customer).
SCAN_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class ChangePage:
    changes: list[Change]
    # Where the next page starts: past the last change looked at, seen or not.
    end_cursor: str | None
    has_next: bool


async def page(
    db: Database,
    *,
    user: User,
    after: str | None,
    first: int,
    entities: Collection[ChangeEntity] | None = None,
) -> ChangePage:
    """Up to `first` changes after the cursor that `user` may see, in commit order."""
    last = parse_cursor(after)
    if await changes.is_expired(db, last):
        raise CursorExpired()
    found: list[Change] = []
    scanned = 0
    while True:
        # One more than the page holds tells whether another page follows.
        batch = await changes.read_after(db, last, limit=first + 1, entities=entities)
        for change in batch:
            visible = access.visible_change(user.role, user.id, change)
            if visible is not None:
                if len(found) == first:
                    return ChangePage(found, cursor_of(last), True)
                found.append(visible)
            last = change.seq
        scanned += len(batch)
        if len(batch) < first + 1:
            return ChangePage(found, cursor_of(last) if last else None, False)
        if scanned >= SCAN_LIMIT:
            return ChangePage(found, cursor_of(last), True)


def unnumbered(kind: ChangeKind, event: ItemChanged | ShipmentChanged) -> Change:
    """A change for an event published on the bus without the feed (seq 0, no cursor order)."""
    if isinstance(event, ItemChanged):
        item = event.item
        return Change(
            0,
            ChangeEntity.ITEM,
            item.id,
            kind,
            item.revision,
            item.updated_at,
            changes.item_data(item, previous_quantity=event.previous_quantity),
        )
    shipment = event.shipment
    return Change(
        0,
        ChangeEntity.SHIPMENT,
        shipment.id,
        kind,
        shipment.revision,
        shipment.updated_at,
        changes.shipment_data(shipment),
    )
