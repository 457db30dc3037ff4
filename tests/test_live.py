"""Subscriptions end to end: two server instances sharing one Redis and one database."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from tests.accounts import Account
from tests.livekit import LiveServer, Subscriptions
from tests.names import unique
from tests.servers import ValkeyServer
from tests.waiting import wait_for
from warehouse_gql.api.graphql.shared_streams import group_key
from warehouse_gql.app import create_app
from warehouse_gql.domain.changes import Change, ChangeEntity
from warehouse_gql.domain.models import Item, User
from warehouse_gql.live.events import ITEMS_CHANNEL, SHIPMENTS_CHANNEL, ChangeKind
from warehouse_gql.live.shared import SharedStreams
from warehouse_gql.settings import Settings
from warehouse_gql.store import changes

CREATE_BIN = "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }"
CREATE_ITEM = "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustItemQuantity(id: $id, delta: $d, reason: "test") { quantity } }'
ITEM_CHANGED = """subscription($sku: String, $binId: ID) {
  itemChanged(sku: $sku, binId: $binId) { kind item { sku quantity bin { location } } }
}"""


async def connected(server: LiveServer, account: Account, legacy: bool = False) -> Subscriptions:
    client = Subscriptions(server.ws_url, legacy=legacy)
    ack = await client.connect({"authorization": f"Bearer {account.token}"})
    assert ack["type"] == "connection_ack", ack
    return client


async def stocked_item(
    server: LiveServer, manager: Account, sku: str, quantity: int, capacity: int = 1000
) -> tuple[str, str]:
    bin_id = (
        await server.ok(
            CREATE_BIN, {"i": {"location": unique("L"), "capacity": capacity}}, manager.token
        )
    )["createBin"]["id"]
    item = await server.ok(
        CREATE_ITEM,
        {"i": {"name": "Thing", "sku": sku, "binId": bin_id, "quantity": quantity}},
        manager.token,
    )
    return bin_id, item["createItem"]["id"]


async def test_item_changed_delivers_only_matching_items_made_through_the_other_instance(
    servers: tuple[LiveServer, LiveServer], manager: Account, picker: Account
) -> None:
    a, b = servers
    sku = unique("SKU")
    client = await connected(a, picker)
    await client.subscribe(ITEM_CHANGED, {"sku": sku})
    await stocked_item(b, manager, unique("OTHER"), 5)  # not matching: never delivered
    _, item_id = await stocked_item(b, manager, sku, 5)
    await b.ok(ADJUST, {"id": item_id, "d": 2}, manager.token)
    first = await client.next_data()
    second = await client.next_data()
    assert first["itemChanged"]["kind"] == "CREATED"
    assert first["itemChanged"]["item"]["quantity"] == 5
    assert first["itemChanged"]["item"]["sku"] == sku
    assert second["itemChanged"] == {**second["itemChanged"], "kind": "UPDATED"}
    assert second["itemChanged"]["item"]["quantity"] == 7
    await client.close()


async def test_item_changed_filters_by_bin(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    a, b = servers
    sku = unique("SKU")
    bin_one, item_one = await stocked_item(a, manager, sku, 1)
    _, item_two = await stocked_item(a, manager, sku, 1)
    client = await connected(a, manager)
    await client.subscribe(ITEM_CHANGED, {"binId": bin_one})
    await b.ok(ADJUST, {"id": item_two, "d": 1}, manager.token)
    await b.ok(ADJUST, {"id": item_one, "d": 3}, manager.token)
    event = await client.next_data()
    assert event["itemChanged"]["item"]["quantity"] == 4  # the other bin's change was skipped
    await client.close()


async def test_a_subscriber_sees_one_items_changes_in_commit_order_from_both_instances(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    a, b = servers
    sku = unique("SKU")
    _, item_id = await stocked_item(a, manager, sku, 0)
    client = await connected(a, manager)
    await client.subscribe(ITEM_CHANGED, {"sku": sku})
    await asyncio.gather(
        *[(a if n % 2 else b).ok(ADJUST, {"id": item_id, "d": 1}, manager.token) for n in range(20)]
    )
    seen: list[int] = []
    while not seen or seen[-1] < 20:
        seen.append((await client.next_data())["itemChanged"]["item"]["quantity"])
    # Every +1 raises the quantity, so commit order is increasing quantity; stale ones dropped.
    assert seen == sorted(set(seen)), seen
    assert seen[-1] == 20
    await client.close()


async def test_low_stock_sends_enter_update_and_leave(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    a, b = servers
    sku = unique("SKU")
    _, item_id = await stocked_item(a, manager, sku, 3)
    client = await connected(a, manager)
    await client.subscribe(
        "subscription($s: String) { lowStock(threshold: 5, sku: $s) { kind item { sku quantity } } }",
        {"s": sku},
    )

    async def step() -> tuple[str, int]:
        event = (await client.next_data())["lowStock"]
        return event["kind"], event["item"]["quantity"]

    assert await step() == ("ENTER", 3)  # the initial snapshot
    await b.ok(ADJUST, {"id": item_id, "d": 1}, manager.token)
    assert await step() == ("UPDATE", 4)
    await b.ok(ADJUST, {"id": item_id, "d": 10}, manager.token)
    assert await step() == ("LEAVE", 14)
    await b.ok(ADJUST, {"id": item_id, "d": 5}, manager.token)  # still above: nothing sent
    await b.ok(ADJUST, {"id": item_id, "d": -19}, manager.token)
    assert await step() == ("ENTER", 0)
    await b.ok("mutation($id: ID!) { deleteItem(id: $id) }", {"id": item_id}, manager.token)
    assert await step() == ("LEAVE", 0)
    await client.close()


async def _shipped_order(server: LiveServer, manager: Account, owner: Account) -> tuple[str, str]:
    sku = unique("SKU")
    await stocked_item(server, manager, sku, 5)
    order = await server.ok(
        "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id } }",
        {"i": {"customerName": "C", "items": [{"sku": sku, "quantity": 1}]}},
        owner.token,
    )
    order_id = order["createOrder"]["id"]
    await server.ok(
        "mutation($id: ID!) { fulfillOrder(id: $id) { status } }", {"id": order_id}, manager.token
    )
    tracking = unique("TRK")
    await server.ok(
        "mutation($i: CreateShipmentInput!) { createShipment(input: $i) { id } }",
        {"i": {"orderId": order_id, "carrier": "DHL", "trackingNumber": tracking}},
        manager.token,
    )
    return order_id, tracking


async def test_a_customer_receives_shipment_events_of_their_own_orders_only(
    servers: tuple[LiveServer, LiveServer],
    manager: Account,
    customer: Account,
    other_customer: Account,
) -> None:
    a, b = servers
    client = await connected(a, customer)
    await client.subscribe(
        "subscription { shipmentChanged { kind shipment { trackingNumber status order { id } } } }"
    )
    await _shipped_order(b, manager, other_customer)  # invisible to `customer`
    own_order, own_tracking = await _shipped_order(b, manager, customer)
    event = (await client.next_data())["shipmentChanged"]
    assert event["kind"] == "CREATED"
    assert event["shipment"]["trackingNumber"] == own_tracking
    assert event["shipment"]["order"]["id"] == own_order
    await client.close()


async def test_shipment_changed_filters_by_tracking_number(
    servers: tuple[LiveServer, LiveServer], manager: Account, customer: Account
) -> None:
    a, b = servers
    order_id, _ = await _shipped_order(b, manager, customer)
    client = await connected(a, manager)
    tracking = unique("TRK")
    await client.subscribe(
        "subscription($t: String) { shipmentChanged(trackingNumber: $t) { kind shipment { trackingNumber status } } }",
        {"t": tracking},
    )
    await _shipped_order(b, manager, customer)
    created = await b.ok(
        "mutation($i: CreateShipmentInput!) { createShipment(input: $i) { id } }",
        {"i": {"orderId": order_id, "carrier": "UPS", "trackingNumber": tracking}},
        manager.token,
    )
    await b.ok(
        "mutation($id: ID!) { updateShipmentStatus(id: $id, status: DELIVERED) { status } }",
        {"id": created["createShipment"]["id"]},
        manager.token,
    )
    assert (await client.next_data())["shipmentChanged"]["shipment"] == {
        "trackingNumber": tracking,
        "status": "IN_TRANSIT",
    }
    assert (await client.next_data())["shipmentChanged"] == {
        "kind": "UPDATED",
        "shipment": {"trackingNumber": tracking, "status": "DELIVERED"},
    }
    await client.close()


async def test_customers_cannot_subscribe_to_item_events(
    servers: tuple[LiveServer, LiveServer], customer: Account
) -> None:
    a, _ = servers
    client = await connected(a, customer)
    await client.subscribe(ITEM_CHANGED)
    message = await client.receive()
    # Refused at subscribe time: the operation's `error` message, which also completes it.
    assert message["type"] == "error", message
    assert [e["extensions"]["code"] for e in message["payload"]] == ["FORBIDDEN"]
    await client.close()


async def test_a_connection_without_a_valid_session_is_refused(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    a, _ = servers
    client = Subscriptions(a.ws_url)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await client.connect({"authorization": "Bearer not-a-token"})
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    legacy = Subscriptions(a.ws_url, legacy=True)
    answer = await legacy.connect({})
    assert answer["type"] == "connection_error"
    await legacy.close()


async def test_the_legacy_protocol_and_the_token_payload_work(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    a, b = servers
    client = Subscriptions(a.ws_url, legacy=True)
    assert (await client.connect({"token": manager.token}))["type"] == "connection_ack"
    sku = unique("SKU")
    await client.subscribe(ITEM_CHANGED, {"sku": sku})
    await stocked_item(b, manager, sku, 2)
    assert (await client.next_data())["itemChanged"]["item"]["quantity"] == 2
    await client.close()


async def test_logout_on_one_instance_closes_that_sessions_subscriptions_on_the_other(
    servers: tuple[LiveServer, LiveServer], resources: Any
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    a, b = servers
    leaving = await make_account(resources, Role.PICKER)
    staying = await make_account(resources, Role.PICKER)
    closing = await connected(a, leaving)
    await closing.subscribe(ITEM_CHANGED)
    open_one = await connected(a, staying)
    await open_one.subscribe(ITEM_CHANGED)
    assert (await b.ok("mutation { logOut }", token=leaving.token))["logOut"] is True
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await closing.receive(within=1.0)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    # The other session's subscription is untouched.
    sku = unique("SKU")
    manager = await make_account(resources, Role.MANAGER)
    await stocked_item(b, manager, sku, 1)
    assert (await open_one.next_data())["itemChanged"]["item"]["sku"] == sku
    await open_one.close()


async def _wait_for_readiness(server: LiveServer, ready: bool) -> dict[str, Any]:
    import httpx

    body: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.http_url) as client:

        async def answers() -> bool:
            body.update((await client.get("/readyz")).json())
            return body["ready"] is ready

        await wait_for(answers, timeout=20.0, what=f"/readyz ready = {ready}")
    return body


async def test_a_subscription_survives_a_redis_outage_and_gets_the_events_made_during_it(
    servers: tuple[LiveServer, LiveServer], valkey: ValkeyServer | None, manager: Account
) -> None:
    if valkey is None:
        pytest.skip("REDIS_URL points at a Redis this suite does not own; it cannot stop it")
    a, b = servers
    sku = unique("SKU")
    _, item_id = await stocked_item(a, manager, sku, 0)
    client = await connected(a, manager)
    await client.subscribe(ITEM_CHANGED, {"sku": sku})
    await a.ok(ADJUST, {"id": item_id, "d": 1}, manager.token)
    assert (await client.next_data())["itemChanged"]["item"]["quantity"] == 1

    valkey.stop()
    assert (await _wait_for_readiness(a, False))["redis"] == "unavailable"
    # Writes go on while Redis is down; their events wait in the bridge's buffer.
    assert (await a.ok(ADJUST, {"id": item_id, "d": 1}, manager.token))["adjustItemQuantity"][
        "quantity"
    ] == 2
    assert (await a.ok(ADJUST, {"id": item_id, "d": 1}, manager.token))["adjustItemQuantity"][
        "quantity"
    ] == 3

    valkey.start()
    await _wait_for_readiness(a, True)
    await _wait_for_readiness(b, True)
    await a.ok(ADJUST, {"id": item_id, "d": 1}, manager.token)
    received = [(await client.next_data())["itemChanged"]["item"]["quantity"] for _ in range(3)]
    assert received == [2, 3, 4]
    await client.close()


async def test_the_gql_client_library_receives_item_events(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    from gql import Client, gql
    from gql.transport.websockets import WebsocketsTransport

    a, b = servers
    sku = unique("SKU")
    transport = WebsocketsTransport(
        url=a.ws_url, init_payload={"authorization": f"Bearer {manager.token}"}
    )
    async with Client(transport=transport) as session:
        request = gql(ITEM_CHANGED)
        request.variable_values = {"sku": sku}
        subscription = session.subscribe(request)
        first = asyncio.ensure_future(anext(subscription))
        # Until the server has the subscription, a change would be missed: make changes until one arrives.
        _, item_id = await stocked_item(b, manager, sku, 1)
        done, _ = await asyncio.wait({first}, timeout=2)
        while not done:
            await b.ok(ADJUST, {"id": item_id, "d": 1}, manager.token)
            done, _ = await asyncio.wait({first}, timeout=2)
        result = first.result()
        assert result["itemChanged"]["item"]["sku"] == sku
        await subscription.aclose()


async def test_the_demo_seed_script_fills_a_running_server(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    import sys
    from pathlib import Path

    a, _ = servers
    script = Path(__file__).parent.parent / "scripts" / "seed_demo.py"
    command = [sys.executable, str(script), "--url", f"{a.http_url}/graphql"]
    command += ["--username", manager.username, "--password", "correct horse battery"]
    for _ in range(2):  # a second run skips what exists
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, out
    data = await a.ok(
        '{ stockLevel(sku: "WID-BLUE") bins(first: 100, locationPrefix: "B-0") { edges { node { location } } } }',
        token=manager.token,
    )
    locations = {edge["node"]["location"] for edge in data["bins"]["edges"]}
    assert {"B-01-1", "B-02-1", "B-03-1", "B-04-1"} <= locations
    assert data["stockLevel"] == 3 * 40


async def test_a_subscription_ends_when_its_session_expires(
    servers: tuple[LiveServer, LiveServer], resources: Any, picker: Account
) -> None:
    import secrets
    from datetime import UTC, datetime, timedelta

    from warehouse_gql.services.sessions import hash_token
    from warehouse_gql.store import users

    a, _ = servers
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(milliseconds=800)
    await users.insert_session(
        resources.db, token_hash=hash_token(token), user_id=picker.id, expires_at=expires_at
    )
    client = Subscriptions(a.ws_url)
    assert (await client.connect({"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
    await client.subscribe(ITEM_CHANGED)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await client.receive(within=5.0)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert datetime.now(UTC) >= expires_at


# A User for group_key, which reads only its id and role.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _members(server: LiveServer, account: Account, document: str, variables: dict[str, Any]) -> int:
    """How many subscribers share the account's group for this subscription on `server`."""
    user = User(account.id, account.username, "", account.role, EPOCH, EPOCH)
    for route in server.app.routes:
        schema = getattr(getattr(route, "app", None), "schema", None)
        streams = getattr(schema, "shared_streams", None)
        if isinstance(streams, SharedStreams):
            return streams.members(group_key(document, variables, None, user))
    raise AssertionError("the server has no shared subscription streams")


async def test_identical_subscriptions_each_get_every_event_while_others_come_and_go(
    servers: tuple[LiveServer, LiveServer], manager: Account, picker: Account
) -> None:
    # Identical subscriptions share one execution per event (api/graphql/shared_streams.py).
    a, b = servers
    sku = unique("SKU")
    _, item_id = await stocked_item(b, manager, sku, 1)
    await a.caught_up()
    before = a.resources.events.listeners(ITEMS_CHANNEL)
    first, second = await connected(a, manager), await connected(a, picker)
    for client in (first, second):
        await client.subscribe(ITEM_CHANGED, {"sku": sku})
    # A manager's group and a picker's (they see different emails), each on the bus.
    await wait_for(lambda: len(a.resources.events.listeners(ITEMS_CHANNEL) - before) == 2)
    await b.ok(ADJUST, {"id": item_id, "d": 1}, manager.token)
    for client in (first, second):
        assert (await client.next_data())["itemChanged"]["item"]["quantity"] == 2
    await first.close()
    late = await connected(a, picker)
    await late.subscribe(ITEM_CHANGED, {"sku": sku})
    # The same picker again: it joins the group `second` is in, which already listens.
    await wait_for(lambda: _members(a, picker, ITEM_CHANGED, {"sku": sku}) == 2)
    await b.ok(ADJUST, {"id": item_id, "d": 1}, manager.token)
    for client in (second, late):
        assert (await client.next_data())["itemChanged"]["item"]["quantity"] == 3
    await second.close()
    await late.close()


async def test_a_manager_and_a_customer_with_the_same_subscription_each_see_only_their_own_view(
    servers: tuple[LiveServer, LiveServer],
    manager: Account,
    customer: Account,
    other_customer: Account,
) -> None:
    a, b = servers
    document = "subscription { shipmentChanged { kind shipment { trackingNumber } } }"
    before = a.resources.events.listeners(SHIPMENTS_CHANNEL)
    boss, own = await connected(a, manager), await connected(a, customer)
    for client in (boss, own):
        await client.subscribe(document)
    await wait_for(lambda: len(a.resources.events.listeners(SHIPMENTS_CHANNEL) - before) == 2)
    _, theirs = await _shipped_order(b, manager, other_customer)
    _, mine = await _shipped_order(b, manager, customer)
    assert (await boss.next_data())["shipmentChanged"]["shipment"]["trackingNumber"] == theirs
    assert (await boss.next_data())["shipmentChanged"]["shipment"]["trackingNumber"] == mine
    assert (await own.next_data())["shipmentChanged"]["shipment"]["trackingNumber"] == mine
    await boss.close()
    await own.close()


async def _code(server: LiveServer, query: str, token: str) -> str | None:
    body = await server.graphql(query, token=token)
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def test_logout_on_one_instance_refuses_the_token_on_the_other_within_a_second(
    servers: tuple[LiveServer, LiveServer], resources: Any
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    a, b = servers
    leaving = await make_account(resources, Role.PICKER)
    assert await _code(a, "{ me { id } }", leaving.token) is None  # now in a's session cache
    await b.ok("mutation { logOut }", token=leaving.token)
    # Well inside the cache's 1 s life: the bus clears it, not its age.

    async def refused() -> bool:
        return await _code(a, "{ me { id } }", leaving.token) == "UNAUTHENTICATED"

    await wait_for(refused, timeout=0.5, what="the logout, seen on the other instance")


async def test_a_role_change_on_one_instance_counts_on_the_other_within_a_second(
    servers: tuple[LiveServer, LiveServer], resources: Any, manager: Account
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    a, b = servers
    user = await make_account(resources, Role.CUSTOMER)
    bins = "{ bins(first: 1) { totalCount } }"
    assert await _code(a, bins, user.token) == "FORBIDDEN"  # now in a's session cache
    await b.ok(
        "mutation($id: ID!) { setUserRole(userId: $id, role: PICKER) { role } }",
        {"id": user.id},
        manager.token,
    )

    async def allowed() -> bool:
        return await _code(a, bins, user.token) is None

    await wait_for(allowed, timeout=0.5, what="the role change, seen on the other instance")


async def test_a_manager_demoted_on_the_other_process_no_longer_gets_the_managers_view_of_a_shared_subscription(
    servers: tuple[LiveServer, LiveServer], resources: Any, manager: Account, customer: Account
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    a, b = servers
    boss = await make_account(resources, Role.MANAGER)
    document = "subscription { shipmentChanged { shipment { trackingNumber order { createdBy { email } } } } }"
    demoted, stays = await connected(a, boss), await connected(a, manager)
    for client in (demoted, stays):
        await client.subscribe(document)
    # Both managers read one shared stream, made as a manager sees it (with emails).
    await wait_for(lambda: _members(a, manager, document, {}) == 2)
    await b.ok(
        "mutation($id: ID!) { setUserRole(userId: $id, role: PICKER) { role } }",
        {"id": boss.id},
        manager.token,
    )

    async def demoted_on_a() -> bool:
        role: str = (await a.ok("{ me { role } }", token=boss.token))["me"]["role"]
        return role == "PICKER"

    await wait_for(demoted_on_a, what="the role change, seen on the other instance")
    _, tracking = await _shipped_order(b, manager, customer)
    seen = (await stays.next_data())["shipmentChanged"]["shipment"]
    assert seen["trackingNumber"] == tracking
    assert seen["order"]["createdBy"]["email"] == f"{customer.username}@example.com"
    # A picker may not see the customer's email: the stream made for a manager ends for them.
    message = await demoted.receive()
    assert message["type"] == "next", message
    assert message["payload"]["data"] is None
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (
        "Your role PICKER may not use this subscription as opened by a MANAGER" in error["message"]
    )
    assert (await demoted.receive())["type"] == "complete"
    # Subscribing again joins what a picker sees: the next event has no email.
    await demoted.subscribe(document)
    await wait_for(lambda: _members(a, manager, document, {}) == 1)
    _, again = await _shipped_order(b, manager, customer)
    assert (await stays.next_data())["shipmentChanged"]["shipment"]["trackingNumber"] == again
    event = (await demoted.next_data())["shipmentChanged"]["shipment"]
    assert event == {"trackingNumber": again, "order": {"createdBy": {"email": None}}}
    await demoted.close()
    await stays.close()


async def test_a_customer_cannot_reach_bins_or_items_through_shipment_events(
    servers: tuple[LiveServer, LiveServer], manager: Account, customer: Account
) -> None:
    a, b = servers
    client = await connected(a, customer)
    await client.subscribe(
        "subscription { shipmentChanged { shipment { trackingNumber order { picks { sku "
        "bin { location items { sku quantity } } } } } } }"
    )
    _, tracking = await _shipped_order(b, manager, customer)
    event = (await client.next_data())["shipmentChanged"]["shipment"]
    assert event["trackingNumber"] == tracking
    assert [pick["bin"] for pick in event["order"]["picks"]] == [None]
    await client.close()


async def test_a_picker_subscribed_beside_a_manager_gets_null_emails(
    servers: tuple[LiveServer, LiveServer], manager: Account, picker: Account, customer: Account
) -> None:
    a, b = servers
    document = "subscription { shipmentChanged { shipment { trackingNumber order { createdBy { email } } } } }"
    boss, staff = await connected(a, manager), await connected(a, picker)
    for client in (boss, staff):
        await client.subscribe(document)
    _, tracking = await _shipped_order(b, manager, customer)
    seen = [(await c.next_data())["shipmentChanged"]["shipment"] for c in (boss, staff)]
    assert seen == [
        {
            "trackingNumber": tracking,
            "order": {"createdBy": {"email": f"{customer.username}@example.com"}},
        },
        {"trackingNumber": tracking, "order": {"createdBy": {"email": None}}},
    ]
    await boss.close()
    await staff.close()


EVENTS = 1500


@dataclasses.dataclass
class Stalled:
    """A graphql-transport-ws client over a plain socket with a tiny receive buffer, which
    reads nothing until asked: the server's sends to it block once the buffers are full."""

    sock: socket.socket
    protocol: ClientProtocol
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    async def send(self, message: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.sock, b"".join(self.protocol.data_to_send()))

    async def receive(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        while not self.messages:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), 10)
            assert data, "the server closed the socket"
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    self.messages.append(json.loads(bytes(event.data)))
        return self.messages.pop(0)


async def opened(port: int, path: str, subprotocols: list[str]) -> Stalled:
    """A Stalled client with its WebSocket handshake done."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    protocol = ClientProtocol(
        parse_uri(f"ws://127.0.0.1:{port}{path}"),
        subprotocols=[Subprotocol(p) for p in subprotocols] or None,
    )
    protocol.send_request(protocol.connect())
    await loop.sock_sendall(sock, b"".join(protocol.data_to_send()))
    client = Stalled(sock, protocol)
    while protocol.handshake_exc is None and protocol.state is not State.OPEN:
        protocol.receive_data(await asyncio.wait_for(loop.sock_recv(sock, 65536), 10))
    assert protocol.state is State.OPEN
    protocol.events_received()  # the handshake response
    return client


async def stalled(port: int, token: str, document: str, variables: dict[str, Any]) -> Stalled:
    """A subscribed Stalled client."""
    client = await opened(port, "/graphql", ["graphql-transport-ws"])
    await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert (await client.receive())["type"] == "connection_ack"
    await client.send(
        {"id": "1", "type": "subscribe", "payload": {"query": document, "variables": variables}}
    )
    return client


def _item_changes(start: int, sku: str, count: int) -> list[Change]:
    """`count` numbered changes of one item with an 8 KB name, as the relay hands them over:
    more than a slow socket's buffers (the kernel's and uvicorn's) hold."""
    now = datetime.now(UTC)
    found = []
    for n in range(1, count + 1):
        item = Item("i1", "x" * 8000, sku, "b1", n, n, now, now)
        found.append(
            Change(
                start + n,
                ChangeEntity.ITEM,
                item.id,
                ChangeKind.UPDATED,
                n,
                now,
                changes.item_data(item, previous_quantity=n - 1),
            )
        )
    return found


async def test_a_subscriber_that_stops_reading_ends_rate_limited_and_holds_back_no_one(
    settings: Settings, manager: Account
) -> None:
    # A server of its own, whose subscribers may fall 20 events behind.
    server = LiveServer(create_app(dataclasses.replace(settings, max_queued_events=20)))
    await server.start()
    try:
        sku = unique("SKU")
        document = "subscription($sku: String) { itemChanged(sku: $sku) { cursor item { name quantity } } }"
        reader = await connected(server, manager)
        await reader.subscribe(document, {"sku": sku})
        slow = await stalled(server.port, manager.token, document, {"sku": sku})
        await wait_for(lambda: _members(server, manager, document, {"sku": sku}) == 2)

        start = await changes.high_water(server.resources.db)
        for n, change in enumerate(_item_changes(start, sku, EVENTS), start=1):
            server.resources.events.deliver(change)
            # The reader gets every event while the slow one stops reading.
            assert (await reader.next_data())["itemChanged"]["item"]["quantity"] == n

        # The slow one gets what its buffers held, then RATE_LIMITED, then complete.
        seen, ending = [], None
        while ending is None:
            message = await slow.receive()
            if message["payload"].get("errors"):
                ending = message["payload"]["errors"][0]
            else:
                seen.append(message["payload"]["data"]["itemChanged"]["item"]["quantity"])
        assert seen == list(range(1, len(seen) + 1))
        assert len(seen) < EVENTS - 20
        assert ending["extensions"]["code"] == "RATE_LIMITED"
        assert "fell more than 20 events behind" in ending["message"]
        # Where to resume: the cursor of the last event it got.
        assert ending["extensions"]["cursor"] == str(start + seen[-1])
        assert await slow.receive() == {"id": "1", "type": "complete"}
        slow.sock.close()
        await reader.close()
    finally:
        await server.stop()


class LiveQueryReader:
    """A Parse LiveQuery client that reads every message (websockets)."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def connected(cls, port: int, app_id: str, token: str) -> LiveQueryReader:
        reader = cls(await websockets.connect(f"ws://127.0.0.1:{port}/parse"))
        await reader.send({"op": "connect", "applicationId": app_id, "sessionToken": token})
        assert (await reader.receive())["op"] == "connected"
        return reader

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        return message

    async def subscribe(self, request_id: int, query: dict[str, Any]) -> None:
        await self.send({"op": "subscribe", "requestId": request_id, "query": query})
        assert await self.receive() == {
            "op": "subscribed",
            "clientId": ANY_STRING,
            "requestId": request_id,
        }


class _AnyString(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)

    __hash__ = str.__hash__


ANY_STRING = _AnyString()


async def test_identical_live_queries_share_one_stream_and_one_that_stops_reading_ends_with_a_coded_error(
    settings: Settings, manager: Account, picker: Account
) -> None:
    server = LiveServer(create_app(dataclasses.replace(settings, max_queued_events=20)))
    await server.start()
    try:
        sku = unique("SKU")
        query = {"className": "Item", "where": {"sku": sku}}
        before = server.resources.events.listeners(ITEMS_CHANNEL)
        # A manager's and a picker's, on one connection each: one stream, one bus listener.
        reader = await LiveQueryReader.connected(server.port, settings.parse_app_id, picker.token)
        await reader.subscribe(7, query)
        slow = await opened(server.port, "/parse", [])
        await slow.send(
            {"op": "connect", "applicationId": settings.parse_app_id, "sessionToken": manager.token}
        )
        assert (await slow.receive())["op"] == "connected"
        await slow.send({"op": "subscribe", "requestId": 1, "query": query})
        assert (await slow.receive())["op"] == "subscribed"
        assert len(server.resources.events.listeners(ITEMS_CHANNEL) - before) == 1

        start = await changes.high_water(server.resources.db)
        for n, change in enumerate(_item_changes(start, sku, EVENTS), start=1):
            server.resources.events.deliver(change)
            # The reader gets every event while the slow one stops reading.
            message = await reader.receive()
            assert (message["op"], message["requestId"], message["object"]["quantity"]) == (
                "update",
                7,
                n,
            )

        # What its buffers held, in order, then the error for its query; then nothing more.
        seen, ending = [], None
        while ending is None:
            message = await slow.receive()
            if message["op"] == "error":
                ending = message
            else:
                assert message["op"] == "update", message
                seen.append(message["object"]["quantity"])
        assert seen == list(range(1, len(seen) + 1))
        assert len(seen) < EVENTS - 20
        assert (ending["code"], ending["requestId"]) == (100, 1)
        assert "fell more than 20 events behind" in ending["error"]
        slow.sock.close()
        await reader.ws.close()
        # The last subscriber gone, so is the group's stream.
        await wait_for(lambda: server.resources.events.listeners(ITEMS_CHANNEL) <= before)
    finally:
        await server.stop()


async def test_a_live_query_of_a_user_demoted_on_the_other_process_ends_forbidden_at_the_next_event(
    servers: tuple[LiveServer, LiveServer], resources: Any, manager: Account, settings: Settings
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    a, b = servers
    staff = await make_account(resources, Role.PICKER)
    sku = unique("SKU")
    query = {"className": "Item", "where": {"sku": sku}}
    # The manager's live query is the same query: it shares the group and goes on.
    demoted = await LiveQueryReader.connected(a.port, settings.parse_app_id, staff.token)
    await demoted.subscribe(1, query)
    boss = await LiveQueryReader.connected(a.port, settings.parse_app_id, manager.token)
    await boss.subscribe(2, query)
    await b.ok(
        "mutation($id: ID!) { setUserRole(userId: $id, role: CUSTOMER) { role } }",
        {"id": staff.id},
        manager.token,
    )

    async def demoted_on_a() -> bool:
        return await _code(a, "{ bins(first: 1) { totalCount } }", staff.token) == "FORBIDDEN"

    await wait_for(demoted_on_a, what="the role change, seen on the other instance")
    await stocked_item(b, manager, sku, 3)
    assert (await boss.receive())["op"] == "create"
    refused = await demoted.receive()
    assert (refused["op"], refused["code"], refused["requestId"]) == ("error", 119, 1)
    assert "Your role CUSTOMER may not subscribe to Item" in refused["error"]
    await demoted.ws.close()
    await boss.ws.close()


async def test_members_that_leave_a_quiet_shared_stream_leave_nothing_behind() -> None:
    # A dashboard on a stream that rarely changes, beside clients that keep reconnecting: the
    # group must not keep one waiting future per member that has left.
    quiet = asyncio.Event()

    async def stream() -> AsyncGenerator[int, None]:
        await quiet.wait()
        yield 1

    async def start() -> AsyncGenerator[int, None]:
        return stream()

    shared = SharedStreams(limit=10)
    staying = asyncio.create_task(anext(shared.join("k", start)))
    await asyncio.sleep(0)  # to its wait
    for _ in range(100):
        leaving = asyncio.create_task(anext(shared.join("k", start)))
        await asyncio.sleep(0)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
    group = shared._groups["k"]
    assert (group.members, len(group.waiting)) == (1, 1)
    quiet.set()
    assert await staying == 1
