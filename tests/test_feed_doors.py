"""The change feed through the doors: the `changes` query, GET /api/v1/changes and its
Server-Sent Events stream, with cursors, paging and the one visibility rule."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests import given
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.livekit import LiveServer
from tests.names import unique

CHANGES = """query($after: String, $first: Int, $entities: [ChangeEntity!]) {
  changes(after: $after, first: $first, entities: $entities) {
    edges { cursor node { cursor entity id kind revision data } }
    pageInfo { hasNextPage endCursor }
  }
}"""
FULFILL = "mutation($id: ID!) { fulfillOrder(id: $id) { status } }"


async def latest_cursor(gql: GraphQLClient, token: str) -> str | None:
    """The end of the feed as a manager sees it now."""
    cursor = None
    while True:
        page = (await gql.ok(CHANGES, {"after": cursor, "first": 100}, token))["changes"]
        if page["pageInfo"]["endCursor"] is not None:
            cursor = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return cursor


async def all_after(
    gql: GraphQLClient, token: str, cursor: str | None, first: int = 3
) -> list[dict[str, Any]]:
    found = []
    while True:
        page = (await gql.ok(CHANGES, {"after": cursor, "first": first}, token))["changes"]
        found += [e["node"] for e in page["edges"]]
        assert [e["cursor"] for e in page["edges"]] == [e["node"]["cursor"] for e in page["edges"]]
        cursor = page["pageInfo"]["endCursor"] or cursor
        if not page["pageInfo"]["hasNextPage"]:
            return found


async def test_changes_pages_through_every_change_in_commit_order_once(
    gql: GraphQLClient, manager: Account
) -> None:
    start = await latest_cursor(gql, manager.token)
    bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=bin["id"], quantity=4)
    order = await given.order(gql, manager.token, [(item["sku"], 4)])
    await gql.ok(FULFILL, {"id": order["id"]}, manager.token)
    mine = [
        (c["entity"], c["kind"], c["revision"])
        for c in await all_after(gql, manager.token, start)
        if c["id"] in {bin["id"], item["id"], order["id"]}
    ]
    assert mine == [
        ("BIN", "CREATED", 1),
        ("ITEM", "CREATED", 1),
        ("BIN", "UPDATED", 2),
        ("ORDER", "CREATED", 1),
        ("ITEM", "UPDATED", 2),
        ("BIN", "UPDATED", 3),
        ("ORDER", "UPDATED", 2),
    ]


async def test_a_customer_sees_only_their_own_orders_in_the_feed_and_no_bins(
    gql: GraphQLClient, manager: Account, customer: Account, other_customer: Account
) -> None:
    start = await latest_cursor(gql, manager.token)
    bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=bin["id"], quantity=4)
    mine = await given.order(gql, customer.token, [(item["sku"], 1)])
    theirs = await given.order(gql, other_customer.token, [(item["sku"], 1)])
    await gql.ok(FULFILL, {"id": mine["id"]}, manager.token)
    seen = await all_after(gql, customer.token, start, first=1)
    assert {c["entity"] for c in seen} == {"ORDER"}
    assert {c["id"] for c in seen} == {mine["id"]}
    fulfilled = seen[-1]["data"]
    assert fulfilled["status"] == "FULFILLED"
    # The picks of their own order, without the bins customers never see.
    assert fulfilled["picks"] == [{"sku": item["sku"], "quantity": 1}]
    assert theirs["id"] not in {c["id"] for c in seen}


async def test_changes_refuses_a_malformed_cursor_and_a_bad_page_size(
    gql: GraphQLClient, manager: Account
) -> None:
    assert await gql.code(CHANGES, {"after": "not-a-cursor"}, manager.token) == "BAD_USER_INPUT"
    assert await gql.code(CHANGES, {"first": 0}, manager.token) == "BAD_USER_INPUT"
    assert await gql.code(CHANGES, {}, None) == "UNAUTHENTICATED"


async def test_rest_changes_and_the_event_stream_resume_after_the_last_event_id(
    servers: tuple[LiveServer, LiveServer], gql: GraphQLClient, manager: Account
) -> None:
    # A real server: the event stream is read as it is written (ASGITransport buffers).
    http = httpx.AsyncClient(base_url=servers[0].http_url, timeout=30)
    headers = {"Authorization": f"Bearer {manager.token}"}
    start = await latest_cursor(gql, manager.token)
    bin = await given.bin(gql, manager.token)
    first = await http.get(
        "/api/v1/changes", params={"after": start, "limit": 1, "entities": "BIN"}, headers=headers
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert [(c["id"], c["kind"]) for c in body["data"]] == [(bin["id"], "CREATED")]
    cursor = body["nextCursor"]
    assert body["data"][0]["cursor"] == cursor
    gone = await http.get("/api/v1/changes", params={"after": "x"}, headers=headers)
    assert gone.status_code == 422

    renamed = unique("R")
    await gql.ok(
        "mutation($id: ID!, $l: String!) { updateBin(id: $id, input: {location: $l}) { id } }",
        {"id": bin["id"], "l": renamed},
        manager.token,
    )
    async with http.stream(
        "GET", "/api/v1/changes/stream", headers={**headers, "Last-Event-ID": cursor}
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        async for line in stream.aiter_lines():
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                event[name] = value.strip()
            if line == "" and "data" in event:
                change = json.loads(event["data"])
                if change["id"] == bin["id"]:
                    break
                event = {}
    assert event["event"] == "change"
    assert int(event["id"]) > int(cursor)
    assert change["kind"] == "UPDATED"
    assert change["data"]["location"] == renamed
    assert change["cursor"] == event["id"]
    await http.aclose()
