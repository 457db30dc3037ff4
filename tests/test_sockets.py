"""Sockets follow the account: two server processes sharing the database and Redis; a socket on
one, the change made through the other. Both WebSocket protocols."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from tests.accounts import Account, make_account
from tests.livekit import LiveServer, Subscriptions
from tests.names import unique
from tests.test_live import ITEM_CHANGED, connected, stocked_item
from tests.waiting import wait_for
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.access import Role

PROTOCOLS = [pytest.param(False, id="graphql-transport-ws"), pytest.param(True, id="graphql-ws")]
SET_ROLE = "mutation($id: ID!, $r: Role!) { setUserRole(userId: $id, role: $r) { role } }"
SHIPMENTS = "subscription { shipmentChanged { kind shipment { trackingNumber } } }"


async def run(client: Subscriptions, query: str, variables: dict[str, Any] | None = None) -> Any:
    """A query or mutation over the socket: its one result's payload (then `complete`)."""
    sub_id = await client.subscribe(query, variables)
    message = await client.receive()
    assert message["id"] == sub_id, message
    if message["type"] in {"next", "data"}:
        assert (await client.receive())["type"] == "complete"
    return message


def codes(message: dict[str, Any]) -> list[str]:
    """The error codes of a result or error message, either protocol."""
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors") or [payload]
    return [e["extensions"]["code"] for e in errors]


@pytest.mark.parametrize("legacy", PROTOCOLS)
async def test_a_manager_demoted_to_picker_cannot_make_themselves_manager_again_over_their_open_socket(
    servers: tuple[LiveServer, LiveServer], resources: Resources, manager: Account, legacy: bool
) -> None:
    a, b = servers
    demoted = await make_account(resources, Role.MANAGER)
    client = await connected(a, demoted, legacy=legacy)
    assert (await run(client, "{ users(first: 1) { totalCount } }"))["payload"].get(
        "errors"
    ) is None
    await b.ok(SET_ROLE, {"id": demoted.id, "r": "PICKER"}, manager.token)
    # The very next message over the socket that was opened as a manager acts as a picker.
    answer = await run(client, SET_ROLE, {"id": demoted.id, "r": "MANAGER"})
    assert codes(answer) == ["FORBIDDEN"]
    me = await a.ok("{ me { role } }", token=demoted.token)
    assert me["me"]["role"] == "PICKER"
    assert (await run(client, "{ me { role } }"))["payload"]["data"] == {"me": {"role": "PICKER"}}
    await client.close()


@pytest.mark.parametrize("legacy", PROTOCOLS)
async def test_a_subscription_the_new_role_may_not_see_ends_with_forbidden_and_the_socket_stays(
    servers: tuple[LiveServer, LiveServer], resources: Resources, manager: Account, legacy: bool
) -> None:
    a, b = servers
    picker = await make_account(resources, Role.PICKER)
    client = await connected(a, picker, legacy=legacy)
    sku = unique("SKU")
    items = await client.subscribe(ITEM_CHANGED, {"sku": sku})
    await stocked_item(b, manager, sku, 3)
    assert (await client.next_data())["itemChanged"]["item"]["quantity"] == 3
    await b.ok(SET_ROLE, {"id": picker.id, "r": "CUSTOMER"}, manager.token)
    # Ended at the role change, not at the next event: nothing else has happened yet.
    ended = await client.receive(within=2.0)
    assert (ended["id"], ended["type"], codes(ended)) == (items, "error", ["FORBIDDEN"])
    if legacy:
        assert await client.receive() == {"type": "complete", "id": items}
    # The socket goes on, as a customer now.
    assert (await run(client, "{ me { role } }"))["payload"]["data"] == {"me": {"role": "CUSTOMER"}}
    assert codes(await run(client, ITEM_CHANGED)) == ["FORBIDDEN"]
    await client.close()


async def test_staff_demoted_to_customer_stop_receiving_everyones_shipments(
    servers: tuple[LiveServer, LiveServer],
    resources: Resources,
    manager: Account,
    other_customer: Account,
) -> None:
    # shipmentChanged is allowed to customers, but only for their own orders: a manager's
    # all-orders subscription must not go on under a customer's role.
    a, b = servers
    from tests.test_live import _shipped_order

    boss = await make_account(resources, Role.MANAGER)
    client = await connected(a, boss)
    shipments = await client.subscribe(SHIPMENTS)
    await _running(a, boss)
    await b.ok(SET_ROLE, {"id": boss.id, "r": "CUSTOMER"}, manager.token)
    ended = await client.receive(within=2.0)
    assert (ended["id"], codes(ended)) == (shipments, ["FORBIDDEN"])
    await _shipped_order(b, manager, other_customer)
    with pytest.raises(TimeoutError):
        await client.receive(within=0.5)
    await client.close()


async def test_a_customer_promoted_to_picker_keeps_their_shipments_and_may_now_read_stock(
    servers: tuple[LiveServer, LiveServer], resources: Resources, manager: Account
) -> None:
    a, b = servers
    user = await make_account(resources, Role.CUSTOMER)
    client = await connected(a, user)
    await client.subscribe(SHIPMENTS)
    await _running(a, user)
    await b.ok(SET_ROLE, {"id": user.id, "r": "PICKER"}, manager.token)
    sku = unique("SKU")
    await client.subscribe(ITEM_CHANGED, {"sku": sku})
    await stocked_item(b, manager, sku, 4)
    # The next message is the item event: the shipments subscription was not ended.
    assert (await client.next_data())["itemChanged"]["item"]["sku"] == sku
    await client.close()


@pytest.mark.parametrize("legacy", PROTOCOLS)
async def test_revoke_sessions_closes_every_socket_of_the_user_on_every_process_with_4401(
    servers: tuple[LiveServer, LiveServer], resources: Resources, manager: Account, legacy: bool
) -> None:
    a, b = servers
    user = await make_account(resources, Role.PICKER)
    on_a = await connected(a, user, legacy=legacy)
    await on_a.subscribe(ITEM_CHANGED)
    on_b = await connected(b, user, legacy=legacy)
    answer = await b.ok(
        "mutation($id: ID!) { revokeSessions(userId: $id) }", {"id": user.id}, manager.token
    )
    assert answer["revokeSessions"] == 1
    started = asyncio.get_running_loop().time()
    assert await on_a.closed_with(within=1.0) == 4401
    assert await on_b.closed_with(within=1.0) == 4401
    assert asyncio.get_running_loop().time() - started < 1.0
    body = await a.graphql("{ me { id } }", token=user.token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_users_may_revoke_their_own_sessions_but_not_anyone_elses(
    servers: tuple[LiveServer, LiveServer], resources: Resources, picker: Account
) -> None:
    a, _ = servers
    user = await make_account(resources, Role.PICKER)
    revoke = "mutation($id: ID!) { revokeSessions(userId: $id) }"
    body = await a.graphql(revoke, {"id": picker.id}, token=user.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await a.ok("{ me { id } }", token=picker.token))["me"]["id"] == picker.id
    socket = await connected(a, user)
    assert (await a.ok(revoke, {"id": user.id}, token=user.token))["revokeSessions"] == 1
    assert await socket.closed_with(within=1.0) == 4401


async def test_revoking_the_sessions_of_an_unknown_user_is_not_found(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    a, _ = servers
    revoke = "mutation($id: ID!) { revokeSessions(userId: $id) }"
    for unknown in ("0" * 24, "not-an-id"):
        body = await a.graphql(revoke, {"id": unknown}, token=manager.token)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_logout_over_the_socket_itself_closes_it_with_4401(
    servers: tuple[LiveServer, LiveServer], resources: Resources
) -> None:
    a, _ = servers
    user = await make_account(resources, Role.PICKER)
    client = await connected(a, user)
    await client.subscribe("mutation { logOut }")
    assert await client.closed_with(within=1.0) == 4401


@pytest.mark.parametrize("legacy", PROTOCOLS)
async def test_a_customers_item_changed_is_refused_at_subscribe_time(
    servers: tuple[LiveServer, LiveServer], customer: Account, legacy: bool
) -> None:
    a, _ = servers
    client = await connected(a, customer, legacy=legacy)
    for document in (ITEM_CHANGED, "subscription { lowStock(threshold: 5) { kind } }"):
        sub_id = await client.subscribe(document)
        refused = await client.receive(within=2.0)
        assert (refused["id"], refused["type"], codes(refused)) == (sub_id, "error", ["FORBIDDEN"])
    await client.close()


async def test_the_legacy_protocol_runs_queries_mutations_and_subscriptions(
    servers: tuple[LiveServer, LiveServer], manager: Account
) -> None:
    a, b = servers
    client = await connected(a, manager, legacy=True)
    me = await run(client, "query Me { me { id role } }")
    assert (me["type"], me["payload"]["data"]) == (
        "data",
        {"me": {"id": manager.id, "role": "MANAGER"}},
    )
    location = unique("L")
    created = await run(
        client,
        "mutation($i: CreateBinInput!) { createBin(input: $i) { location } }",
        {"i": {"location": location, "capacity": 10}},
    )
    assert created["payload"]["data"] == {"createBin": {"location": location}}
    bad = await run(client, "{ bin(id: 1) { nope } }")
    assert codes(bad) == ["BAD_USER_INPUT"]
    sku = unique("SKU")
    await client.subscribe(ITEM_CHANGED, {"sku": sku})
    await stocked_item(b, manager, sku, 6)
    assert (await client.next_data())["itemChanged"]["item"]["quantity"] == 6
    await client.close()


@pytest.mark.parametrize("legacy", PROTOCOLS)
async def test_a_session_opens_at_most_twenty_sockets_the_next_is_closed_with_4429(
    servers: tuple[LiveServer, LiveServer], resources: Resources, legacy: bool
) -> None:
    a, _ = servers
    user = await make_account(resources, Role.PICKER)
    sockets = [await connected(a, user, legacy=legacy) for _ in range(20)]
    extra = Subscriptions(a.ws_url, legacy=legacy)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await extra.connect({"authorization": f"Bearer {user.token}"})
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4429
    # Closing one makes room for another.
    await sockets.pop().close()
    await wait_for(lambda: a.resources.events.sessions.sockets.count(_hash(user.token)) == 19)
    sockets.append(await connected(a, user, legacy=legacy))
    for socket in sockets:
        await socket.close()


async def _running(server: LiveServer, user: Account, count: int = 1) -> None:
    """Until the server runs `count` subscriptions on the user's sockets."""
    sockets = server.resources.events.sessions.sockets
    await wait_for(
        lambda: sum(len(getattr(s.owner, "running", ())) for s in sockets.of_user(user.id)) >= count
    )


def _hash(token: str) -> str:
    from warehouse_gql.services.sessions import hash_token

    return hash_token(token)


@pytest.mark.parametrize("legacy", PROTOCOLS)
async def test_a_socket_runs_at_most_a_hundred_subscriptions_the_next_is_rate_limited(
    servers: tuple[LiveServer, LiveServer], resources: Resources, legacy: bool
) -> None:
    a, _ = servers
    user = await make_account(resources, Role.PICKER)
    client = await connected(a, user, legacy=legacy)
    for n in range(100):
        await client.subscribe(ITEM_CHANGED, {"sku": f"cap-{n}"})
    over = await client.subscribe(ITEM_CHANGED)
    refused = await client.receive(within=30.0)  # 100 session reads first, on a busy machine
    assert (refused["id"], refused["type"], codes(refused)) == (over, "error", ["RATE_LIMITED"])
    # Completing one makes room for the next, which is admitted (and counted) again.
    await client.complete("1")
    await wait_for(lambda: _subscriptions_of(a, user) == 99)
    await client.subscribe(ITEM_CHANGED, {"sku": "cap-again"})
    await wait_for(lambda: _subscriptions_of(a, user) == 100)
    await client.close()


def _subscriptions_of(server: LiveServer, user: Account) -> int:
    sockets = server.resources.events.sessions.sockets.of_user(user.id)
    return sum(len(getattr(s.owner, "running", ())) for s in sockets)


async def test_closing_sockets_gives_back_every_subscription_queue_and_slot(
    servers: tuple[LiveServer, LiveServer], resources: Resources
) -> None:
    a, _ = servers
    here = a.resources.events
    await wait_for(lambda: len(here.sessions.sockets) == 0 and here.subscribers() == 0)
    users = [await make_account(resources, Role.PICKER) for _ in range(3)]
    clients = [await connected(a, u) for u in users for _ in range(3)]
    for n, client in enumerate(clients):
        await client.subscribe(ITEM_CHANGED, {"sku": f"leak-{n}"})
        await client.subscribe('subscription { lowStock(threshold: 0, sku: "none") { kind } }')
    await wait_for(lambda: here.sessions.subscriptions.running == 2 * len(clients))
    for client in clients:
        await client.close()
    await wait_for(
        lambda: (
            len(here.sessions.sockets) == 0
            and here.subscribers() == 0
            and here.sessions.subscriptions.running == 0
        )
    )
