"""The LiveQuery WebSocket at /parse, speaking Parse's LiveQuery protocol.

A subscription is a live query over its `where`, fed by the same event bus and revision gate as
the GraphQL subscriptions: `create`/`delete` for objects born or removed matching, `enter` when
an object starts matching, `update` while it matches, `leave` when it stops. Identical live
queries (class, `where` and the reader's own-records scope) share one stream, as identical
GraphQL subscriptions do (live/shared.py): the event is decoded, gated by revision and
evaluated once per group, its object encoded once per group of readers who may see the same
(_Encoded), and each subscriber only checks its own role and sends. Every event is checked
against the subscriber's current role (its open session, which live/sessions.py re-reads on
every process at logOut and role changes); a revoked session ends the connection with error 209.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from warehouse_gql.api.http import Resources
from warehouse_gql.api.parse.classes import CLASSES, ParseClass
from warehouse_gql.api.parse.errors import (
    CONNECTION_FAILED,
    INVALID_CLASS_NAME,
    INVALID_SESSION_TOKEN,
    OPERATION_FORBIDDEN,
    ParseError,
)
from warehouse_gql.api.parse.query import parse_where
from warehouse_gql.domain import access
from warehouse_gql.domain.changes import ChangeEntity
from warehouse_gql.domain.filters import Condition, fields_of, matches
from warehouse_gql.domain.models import Bin, Item, Order, Shipment, User
from warehouse_gql.live import events as live
from warehouse_gql.live.bus import FellBehind
from warehouse_gql.live.revisions import Revisions
from warehouse_gql.live.sessions import OpenSocket
from warehouse_gql.live.shared import SharedStreams
from warehouse_gql.services import sessions
from warehouse_gql.store import search

log = logging.getLogger(__name__)

# A live query whose `where` needs its starting set (see _Membership) holds at most this many ids.
MAX_LIVE_SET = 10_000

# Fields whose value before a change each event lets us know: the item's quantity travels with
# its event, the rest never change after creation. A `where` on only these needs no starting set.
KNOWN_BEFORE = {
    "Item": frozenset({"id", "sku", "bin_id", "quantity", "created_at"}),
    "Shipment": frozenset(
        {"id", "order_id", "order_owner", "carrier", "tracking_number", "created_at"}
    ),
    # A bin's location, capacity and load all change; an order's status does.
    "Bin": frozenset({"id", "created_at"}),
    "Order": frozenset({"id", "customer_name", "created_by", "created_at"}),
}
# Where each class's events come from: items and shipments have their own local channels, bins
# and orders are read from the whole feed.
CHANNELS = {
    "Item": live.ITEMS_CHANNEL,
    "Shipment": live.SHIPMENTS_CHANNEL,
    "Bin": live.FEED_CHANNEL,
    "Order": live.FEED_CHANNEL,
}
ENTITIES = {
    "Item": ChangeEntity.ITEM,
    "Shipment": ChangeEntity.SHIPMENT,
    "Bin": ChangeEntity.BIN,
    "Order": ChangeEntity.ORDER,
}


def _record(model: Any) -> dict[str, Any]:
    return {name: getattr(model, name) for name in model.__slots__}


@dataclass
class Change:
    """One event as a live query sees it: the record after, and before when known."""

    entity: ChangeEntity
    kind: live.ChangeKind
    after: Item | Shipment | Bin | Order
    before: Item | Shipment | Bin | Order | None
    revision: int

    @classmethod
    def of(cls, event: live.Event) -> Change | None:
        if isinstance(event, live.ItemChanged):
            item = event.item
            before: Item | None = (
                None
                if event.kind is live.ChangeKind.CREATED or event.previous_quantity is None
                else replace(item, quantity=event.previous_quantity)
            )
            return cls(ChangeEntity.ITEM, event.kind, item, before, item.revision)
        if isinstance(event, live.ShipmentChanged):
            shipment = event.shipment
            # Only the fields in KNOWN_BEFORE are read from `before`: they never change.
            was = None if event.kind is live.ChangeKind.CREATED else shipment
            return cls(ChangeEntity.SHIPMENT, event.kind, shipment, was, shipment.revision)
        if isinstance(event, live.Change) and event.entity in (
            ChangeEntity.BIN,
            ChangeEntity.ORDER,
        ):
            record = (
                live.bin_of(event) if event.entity is ChangeEntity.BIN else live.order_of(event)
            )
            # As for shipments: `before` is read only for the fields in KNOWN_BEFORE.
            known = None if event.kind is live.ChangeKind.CREATED else record
            return cls(event.entity, event.kind, record, known, event.revision)
        return None


@dataclass
class LiveSet:
    """What one group of identical live queries tracks: which objects match its `where`."""

    cls: ParseClass
    conditions: tuple[Condition, ...]
    # The readers' own-records scope (access.owner_scope): it bounds the starting set only;
    # every event is still checked against each subscriber's current role.
    scope: tuple[Condition, ...] = ()
    # Ids currently matching, when the `where` reads a field whose old value events do not carry.
    members: set[str] | None = None
    revisions: Revisions = field(default_factory=Revisions)

    @property
    def key(self) -> Hashable:
        # Conditions may hold lists (`$in`): their repr is the same for the same `where`.
        return (self.cls.name, repr(self.conditions + self.scope))

    def was_in(self, change: Change) -> bool:
        if self.members is not None:
            return change.after.id in self.members
        return change.before is not None and matches(self.conditions, _record(change.before))

    def transition(self, change: Change) -> str | None:
        """create/enter/update/leave/delete for this live query, or None if unaffected."""
        was = self.was_in(change)
        deleted = change.kind is live.ChangeKind.DELETED
        now = not deleted and matches(self.conditions, _record(change.after))
        if self.members is not None:
            if now:
                self.members.add(change.after.id)
            else:
                self.members.discard(change.after.id)
        if deleted:
            return "delete" if was else None
        if change.kind is live.ChangeKind.CREATED:
            return "create" if now else None
        if now:
            return "update" if was else "enter"
        return "leave" if was else None


# One event as a group's stream yields it: the event, how its live set sees it, and the op.
Matched = tuple[live.Event, Change, str]


@dataclass
class Subscription:
    """One client's live query: its group's events, sent as its session's user may see them."""

    request_id: int
    cls: ParseClass
    keys: frozenset[str] | None
    # The session it reads with, kept current by live/sessions.py.
    socket: OpenSocket
    task: asyncio.Task[None] | None = None


def _visible(viewer: User, record: Item | Shipment | Bin | Order) -> bool:
    """The visibility rule of domain/access.py (as visible_change applies it to the feed)."""
    if isinstance(record, Shipment):
        return access.may_see_order(viewer.role, viewer.id, record.order_owner)
    if isinstance(record, Order):
        return access.may_see_order(viewer.role, viewer.id, record.created_by)
    return access.may_see_stock(viewer.role)


class _Encoded:
    """The JSON text of recent events' `object` and `original`, per class, keys and what the
    viewer may see (access.visibility_group): every subscriber of one such group gets the same
    bytes, so they are built and encoded once per event in this process, not once per
    subscriber. Only the envelope (op, clientId, requestId) is written per subscriber."""

    def __init__(self, events: int) -> None:
        self.events = events
        # id(event) -> (the event, its texts per group): holding the event keeps its id from
        # being reused while it is here.
        self.recent: collections.OrderedDict[
            int, tuple[object, dict[Hashable, tuple[str, str | None]]]
        ] = collections.OrderedDict()

    def get(
        self, event: object, group: Hashable, build: Callable[[], tuple[str, str | None]]
    ) -> tuple[str, str | None]:
        entry = self.recent.get(id(event))
        if entry is None:
            entry = self.recent[id(event)] = (event, {})
            while len(self.recent) > self.events:
                self.recent.popitem(last=False)
        texts = entry[1].get(group)
        if texts is None:
            texts = entry[1][group] = build()
        return texts


# A subscriber that lags further behind than this many events encodes its own (same) bytes.
_ENCODED = _Encoded(events=64)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class LiveQueries:
    """This process's live queries, one stream per group of identical ones (LiveSet.key).

    A subscriber that falls `limit` events behind its group's stream gets the FellBehind as its
    last result (and ends with error 100), as GraphQL's shared subscriptions end RATE_LIMITED.
    """

    def __init__(self, limit: int) -> None:
        self.streams = SharedStreams(limit)

    async def join(
        self, resources: Resources, live_set: LiveSet
    ) -> AsyncGenerator[Matched | FellBehind, None]:
        """The group's events from now on; the first subscriber of a group opens its stream,
        and learns here (ParseError) when its starting set is too large."""

        async def opened() -> AsyncGenerator[Matched | None, None]:
            source = _matches(resources, live_set)
            await anext(source)  # subscribed and the starting set read
            return source

        return await self.streams.join_opened(live_set.key, opened)


async def _matches(resources: Resources, live_set: LiveSet) -> AsyncGenerator[Matched | None, None]:
    """A group's one stream: None once it listens and holds its starting set, then every event
    that changes what matches its `where`."""
    name = live_set.cls.name
    async with resources.events.subscribe(CHANNELS[name]) as feed:
        # Subscribed before the starting set is read, so no change falls between them; events
        # already reflected in it are dropped by revision.
        await _starting_set(resources, live_set)
        yield None
        async for event in feed:
            change = Change.of(event)
            if change is None or change.entity is not ENTITIES[name]:
                continue
            if not live_set.revisions.is_new(change.after.id, change.revision):
                continue
            op = live_set.transition(change)
            if op is not None:
                yield event, change, op


async def _starting_set(resources: Resources, live_set: LiveSet) -> None:
    known = KNOWN_BEFORE.get(live_set.cls.name, frozenset())
    if fields_of(live_set.conditions) <= known:
        return
    found = await search.ids_matching(
        resources.db,
        live_set.cls.kind,
        live_set.conditions + live_set.scope,
        limit=MAX_LIVE_SET + 1,
    )
    if len(found) > MAX_LIVE_SET:
        raise ParseError(
            400,
            102,
            f"This live query matches more than {MAX_LIVE_SET} objects; narrow its where.",
        )
    live_set.members = set(found)
    for object_id, revision in found.items():
        live_set.revisions.is_new(object_id, revision)


class LiveClient:
    def __init__(
        self, websocket: WebSocket, resources: Resources, app_id: str, queries: LiveQueries
    ) -> None:
        self.websocket = websocket
        self.resources = resources
        self.app_id = app_id
        self.queries = queries
        self.client_id: str | None = None
        self.token: str | None = None
        # The sessions this connection reads with, by token.
        self.sockets: dict[str, OpenSocket] = {}
        self.subscriptions: dict[int, Subscription] = {}
        self.unwatch: list[Callable[[], None]] = []
        self.send_lock = asyncio.Lock()
        self.closed = False

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.send_text(_json(message))

    async def send_text(self, text: str) -> None:
        if self.closed:
            return
        async with self.send_lock:
            with contextlib.suppress(Exception):
                await self.websocket.send_text(text)

    async def error(
        self, code: int, message: str, *, reconnect: bool = True, request_id: int | None = None
    ) -> None:
        await self.send(
            {
                "op": "error",
                "error": message,
                "code": code,
                "reconnect": reconnect,
                "requestId": request_id,
            }
        )

    async def end_session(self) -> None:
        """logOut or revocation of the connection's session: 209, no reconnect, closed."""
        await self.error(INVALID_SESSION_TOKEN, "Invalid session token", reconnect=False)
        await self.close()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for subscription in self.subscriptions.values():
            if subscription.task is not None:
                subscription.task.cancel()
        with contextlib.suppress(Exception):
            if self.websocket.application_state is not WebSocketState.DISCONNECTED:
                await self.websocket.close(code=1000)

    async def run(self) -> None:
        await self.websocket.accept()
        try:
            while not self.closed:
                try:
                    text = await self.websocket.receive_text()
                except (WebSocketDisconnect, RuntimeError):
                    break
                try:
                    message = json.loads(text)
                except ValueError:
                    await self.error(1, "The message is not valid JSON.")
                    continue
                if not isinstance(message, dict):
                    await self.error(1, "The message must be a JSON object.")
                    continue
                await self.handle(message)
        finally:
            self.closed = True
            for unwatch in self.unwatch:
                unwatch()
            for subscription in self.subscriptions.values():
                if subscription.task is not None:
                    subscription.task.cancel()

    async def handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "connect":
            await self.connect(message)
        elif self.client_id is None:
            await self.error(2, "Connect before subscribing.")
        elif op in ("subscribe", "update"):
            if op == "update":
                await self.unsubscribe(message, notify=False)
            await self.subscribe(message)
        elif op == "unsubscribe":
            await self.unsubscribe(message)
        else:
            await self.error(3, "Get unknown operation")

    async def _session(self, token: str) -> User | None:
        """The live session's user, tracked so its revocation or expiry closes this connection
        (live/sessions.py re-checks it at every change to the user's sessions or role)."""
        known = self.sockets.get(token)
        if known is not None:
            return known.user
        here = self.resources.events.sessions
        generation = here.generation
        found = await sessions.session_of(self.resources.db, token)
        if found is None:
            return None
        user, expires_at = found
        socket = OpenSocket(
            token_hash=sessions.hash_token(token),
            user=user,
            expires_at=expires_at,
            seen_generation=generation,
            owner=_SessionOwner(self, token),
        )
        # One session may be named by many LiveQuery connections: not capped here.
        here.sockets.add(socket, limit=1 << 30)
        if here.generation != generation:
            socket.start_recheck()
        self.sockets[token] = socket
        self.unwatch.append(lambda: here.sockets.remove(socket))
        return user

    async def connect(self, message: dict[str, Any]) -> None:
        if message.get("applicationId") != self.app_id:
            await self.error(4, "Key in request is not valid", reconnect=False)
            await self.close()
            return
        if message.get("masterKey"):
            await self.error(OPERATION_FORBIDDEN, "There is no master key.", reconnect=False)
            await self.close()
            return
        token = message.get("sessionToken")
        if isinstance(token, str) and token:
            # A revoked or expired token is refused at every connect: the SDK reconnects anyway.
            if await self._session(token) is None:
                await self.end_session()
                return
            self.token = token
        self.client_id = self.client_id or str(uuid.uuid4())
        await self.send({"op": "connected", "clientId": self.client_id})

    async def subscribe(self, message: dict[str, Any]) -> None:
        request_id = message.get("requestId")
        if not isinstance(request_id, int) or isinstance(request_id, bool):
            await self.error(1, "requestId must be a number.")
            return
        query = message.get("query")
        if not isinstance(query, dict):
            await self.error(1, "query is required.", request_id=request_id)
            return
        token = message.get("sessionToken") or self.token
        if token != self.token and isinstance(token, str) and await self._session(token) is None:
            await self.error(
                INVALID_SESSION_TOKEN,
                "Invalid session token",
                reconnect=False,
                request_id=request_id,
            )
            return
        try:
            cls = CLASSES.get(str(query.get("className")))
            if cls is None or cls.name == "_User":
                raise ParseError(
                    400, INVALID_CLASS_NAME, f"Class {query.get('className')!r} is not live."
                )
            viewer = await self._viewer(token)
            if viewer is None or not access.allowed(cls.read, viewer.role):
                role = "anonymous" if viewer is None else viewer.role.value
                raise ParseError(
                    403, OPERATION_FORBIDDEN, f"Your role {role} may not subscribe to {cls.name}."
                )
            conditions = parse_where(query.get("where") or {}, cls.fields)
            keys = query.get("keys") or query.get("fields")
            socket = self.sockets.get(token) if isinstance(token, str) else None
            if socket is None:  # a viewer has a token, and its session is open here
                raise ParseError(403, OPERATION_FORBIDDEN, "Log in to subscribe.")
            subscription = Subscription(
                request_id, cls, frozenset(keys) if isinstance(keys, list) else None, socket
            )
            results = await self.queries.join(
                self.resources, LiveSet(cls, conditions, cls.scope(viewer))
            )
            subscription.task = asyncio.create_task(self._deliver(subscription, results))
        except ParseError as exc:
            await self.error(exc.code, exc.message, reconnect=False, request_id=request_id)
            return
        previous = self.subscriptions.pop(request_id, None)
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        self.subscriptions[request_id] = subscription
        await self.send({"op": "subscribed", "clientId": self.client_id, "requestId": request_id})

    async def _viewer(self, token: str | None) -> User | None:
        if token is None:
            return None
        return await sessions.authenticate(self.resources.db, self.resources.events, token=token)

    async def unsubscribe(self, message: dict[str, Any], notify: bool = True) -> None:
        request_id = message.get("requestId")
        subscription = self.subscriptions.pop(request_id, None)  # type: ignore[arg-type]
        if subscription is None:
            if notify:
                await self.error(2, f"No subscription with requestId {request_id}.")
            return
        if subscription.task is not None:
            subscription.task.cancel()
        if notify:
            await self.send(
                {"op": "unsubscribed", "clientId": self.client_id, "requestId": request_id}
            )

    async def _deliver(
        self, subscription: Subscription, results: AsyncGenerator[Matched | FellBehind, None]
    ) -> None:
        """The group's events to this subscriber, each as its session's user may see it now."""
        cls = subscription.cls
        try:
            async for result in results:
                if isinstance(result, FellBehind):
                    # A reader too slow for its queue: this query ends with a coded error
                    # (Parse's code for a connection problem; the SDK may reconnect).
                    self.subscriptions.pop(subscription.request_id, None)
                    await self.error(
                        CONNECTION_FAILED, result.message, request_id=subscription.request_id
                    )
                    return
                event, change, op = result
                socket = subscription.socket
                if socket.checking is not None:
                    # Its session is being re-read after a change: wait for the current role.
                    await asyncio.shield(socket.checking)
                if self.closed:
                    return
                viewer = socket.user
                if not access.allowed(cls.read, viewer.role):
                    # The role changed since subscribing: this query ends, nothing is sent.
                    self.subscriptions.pop(subscription.request_id, None)
                    await self.error(
                        OPERATION_FORBIDDEN,
                        f"Your role {viewer.role.value} may not subscribe to {cls.name}.",
                        reconnect=False,
                        request_id=subscription.request_id,
                    )
                    return
                if _visible(viewer, change.after):
                    await self.send_text(self._event(subscription, op, event, change, viewer))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a LiveQuery subscription failed")
        finally:
            await results.aclose()

    def _event(
        self,
        subscription: Subscription,
        op: str,
        event: live.Event,
        change: Change,
        viewer: User,
    ) -> str:
        """The event's message as JSON text, its objects encoded once per group (_Encoded)."""
        cls = subscription.cls

        def body(record: Any) -> dict[str, Any]:
            full = {"className": cls.name} | cls.to_json(record, viewer)
            if subscription.keys is None:
                return full
            always = {"className", "objectId", "createdAt", "updatedAt"}
            return {k: v for k, v in full.items() if k in subscription.keys or k in always}

        def build() -> tuple[str, str | None]:
            before = change.before
            original = (
                _json(body(before))
                if isinstance(before, Item)
                and isinstance(change.after, Item)
                and before.quantity != change.after.quantity
                else None
            )
            return _json(body(change.after)), original

        group = (cls.name, subscription.keys, access.visibility_group(viewer.role, viewer.id))
        after, original = _ENCODED.get(event, group, build)
        # The same bytes as _json of {op, clientId, requestId, object, original?}: op is one of
        # transition's words, the client id a uuid4 and the request id an int, so none needs
        # escaping.
        tail = "" if original is None else f',"original":{original}'
        return (
            f'{{"op":"{op}","clientId":"{self.client_id}","requestId":{subscription.request_id},'
            f'"object":{after}{tail}}}'
        )


async def serve(
    websocket: WebSocket, resources: Resources, app_id: str, queries: LiveQueries
) -> None:
    await LiveClient(websocket, resources, app_id, queries).run()


class _SessionOwner:
    """A LiveQuery connection's side of one session it uses (live/sessions.py SocketOwner)."""

    def __init__(self, connection: Any, token: str) -> None:
        self.connection = connection
        self.token = token

    async def recheck(self, socket: OpenSocket) -> None:
        found = await sessions.session_of(self.connection.resources.db, self.token)
        if found is None:
            await self.connection.end_session()
            return
        socket.user, expires_at = found
        socket.expires_at = expires_at

    async def close(self, code: int, reason: str) -> None:
        await self.connection.end_session()
