"""/changes and /changes/stream: the change feed for clients that do not speak GraphQL, the
same changes, cursors and visibility as the `changes` query and `after:` subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import Field
from starlette.responses import StreamingResponse

from warehouse_gql.api import http
from warehouse_gql.api.rest.endpoints import Call, Endpoints, Id, Query, Reply, Resource, Time
from warehouse_gql.domain import access
from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind, parse_cursor
from warehouse_gql.domain.errors import CursorExpired, WarehouseError
from warehouse_gql.live.bus import FellBehind
from warehouse_gql.services import feed
from warehouse_gql.store import changes as store

routes = Endpoints(
    "changes",
    "The change feed: every committed change of a bin, item, order or shipment, in commit "
    "order, filtered by what you may see. Store the last cursor; ask for what came after it.",
)

# A comment line this often keeps proxies from closing an idle stream; the session is
# checked again each time, so a stream ends when its session does.
KEEPALIVE_SECONDS = 15.0


class ChangeResource(Resource):
    """One committed change; `data` is the record's state after it (the last one on DELETED)."""

    cursor: str = Field(description="Its place in commit order; opaque.")
    entity: ChangeEntity
    id: Id
    kind: ChangeKind
    revision: int = Field(description="Counts the record's committed writes.")
    at: Time
    data: dict[str, Any]

    @classmethod
    def of(cls, change: Change) -> ChangeResource:
        return cls(
            cursor=change.cursor,
            entity=change.entity,
            id=change.id,
            kind=change.kind,
            revision=change.revision,
            at=change.at,
            data=change.data,
        )


class ChangePage(Resource):
    data: list[ChangeResource] = Field(description="Changes in commit order.")
    next_cursor: str | None = Field(
        description="Where the next page starts; keep it even when `data` is empty (null "
        "only when the feed has nothing yet)."
    )
    has_more: bool = Field(description="Whether more changes follow already.")


class ChangesQuery(Query):
    after: str | None = Field(default=None, description="A cursor the feed returned.")
    limit: int | None = Field(
        default=None,
        description="Page size, 1 to 100 (default 100).",
        json_schema_extra={"minimum": 1, "maximum": 100},
    )
    entities: list[ChangeEntity] = Field(
        default_factory=list, description="Only these kinds of record (repeat the parameter)."
    )


class StreamQuery(Query):
    after: str | None = Field(
        default=None,
        description="Start after this cursor (`Last-Event-ID` wins); absent: from now.",
    )


@routes.route(
    "GET",
    "/changes",
    operation_id="changes",
    summary="Changes after a cursor, in commit order (customers: their own orders)",
    query=ChangesQuery,
    response=ChangePage,
    errors=("CURSOR_EXPIRED",),
    link=True,
)
async def list_changes(call: Call) -> Reply:
    user = await call.authorize("changes")
    query = call.query(ChangesQuery)
    found = await feed.page(
        call.db,
        user=user,
        after=query.after,
        first=http.page_size(100 if query.limit is None else query.limit, field="limit"),
        entities=query.entities or None,
    )
    headers: dict[str, str] = {}
    if found.has_next and found.end_cursor is not None:
        url = call.request.url.include_query_params(after=found.end_cursor)
        headers["link"] = f'<{url}>; rel="next"'
    body = ChangePage(
        data=[ChangeResource.of(c) for c in found.changes],
        next_cursor=found.end_cursor,
        has_more=found.has_next,
    )
    return Reply(body, 200, headers)


@routes.route(
    "GET",
    "/changes/stream",
    operation_id="changeStream",
    summary="The change feed as Server-Sent Events (`id:` is the cursor)",
    description=(
        "Each change is an event `change` whose `id` is its cursor and whose `data` is the "
        "change as in GET /changes. A reconnecting EventSource sends `Last-Event-ID` and "
        "resumes right after it: no change missed, none twice. A client that falls too far "
        "behind gets an event `error` (code RATE_LIMITED, with the last cursor) and the end."
    ),
    query=StreamQuery,
    errors=("CURSOR_EXPIRED",),
    media_type="text/event-stream",
)
async def stream_changes(call: Call) -> Reply:
    await call.authorize("changes")
    after = call.request.headers.get("last-event-id") or call.query(StreamQuery).after
    last = parse_cursor(after)
    # Checked before the stream starts, so an old cursor is a 410 problem, not an event.
    if after is not None and await store.is_expired(call.db, last):
        raise CursorExpired()
    token = call.token()
    resources = call.resources

    async def events() -> AsyncIterator[str]:
        stream = feed.follow(resources.db, resources.events, after=after)
        yield ": connected\n\n"
        upcoming: asyncio.Future[Change] | None = None
        try:
            while True:
                # Waited for without cancelling it: cancelling would close the feed.
                upcoming = upcoming or asyncio.ensure_future(anext(stream))
                done, _ = await asyncio.wait({upcoming}, timeout=KEEPALIVE_SECONDS)
                # Each event, and each keepalive, with the reader's current role and session:
                # a demotion, logout or revocation ends the stream with an `error` event.
                current = http.authorize(
                    await http.authenticate(resources, token), "changes", name="changeStream"
                )
                if not done:
                    yield ": keepalive\n\n"
                    continue
                change, upcoming = upcoming.result(), None
                visible = access.visible_change(current.role, current.id, change)
                if visible is None:
                    continue
                text = ChangeResource.of(visible).model_dump_json()
                yield f"id: {visible.cursor}\nevent: change\ndata: {text}\n\n"
        except (FellBehind, WarehouseError) as exc:
            problem: dict[str, Any] = {"code": exc.code, "detail": exc.message, **exc.details()}
            yield f"event: error\ndata: {json.dumps(problem)}\n\n"
        finally:
            if upcoming is not None:
                upcoming.cancel()
                with contextlib.suppress(BaseException):
                    await upcoming
            with contextlib.suppress(Exception):
                await stream.aclose()

    response = StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
    return Reply(raw=response)
