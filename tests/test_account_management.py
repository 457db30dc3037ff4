"""Account management (SPEC "Users and sessions"): createUser, changePassword, me.sessions, the
50-session limit, and the rules behind them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from broadcaster import Broadcast

from tests.accounts import Account, make_account
from tests.graphql_client import GraphQLClient
from tests.names import unique
from tests.waiting import wait_for
from warehouse_gql.api.http import Resources
from warehouse_gql.domain import access
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import RateLimited
from warehouse_gql.domain.models import Item
from warehouse_gql.live.bus import EventBus
from warehouse_gql.live.events import ITEMS_CHANNEL, ChangeKind, ItemChanged

CREATE_USER = "mutation($i: CreateUserInput!) { createUser(input: $i) { id username role } }"
LOG_IN = "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }"
CHANGE = (
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
)
PASSWORD = "correct horse battery"


def test_subscriptions_go_on_only_under_a_role_that_sees_at_least_as_much() -> None:
    assert access.subscription_survives("itemChanged", Role.MANAGER, Role.PICKER)
    assert not access.subscription_survives("itemChanged", Role.PICKER, Role.CUSTOMER)
    assert not access.subscription_survives("shipmentChanged", Role.MANAGER, Role.CUSTOMER)
    assert access.subscription_survives("shipmentChanged", Role.CUSTOMER, Role.PICKER)
    assert access.subscription_survives("shipmentChanged", Role.CUSTOMER, Role.CUSTOMER)


def test_managers_revoke_anyones_sessions_others_only_their_own() -> None:
    assert access.may_revoke_sessions(Role.MANAGER, "a", "b")
    assert access.may_revoke_sessions(Role.PICKER, "a", "a")
    assert not access.may_revoke_sessions(Role.PICKER, "a", "b")
    assert not access.may_revoke_sessions(Role.CUSTOMER, "a", "b")


async def test_a_manager_creates_a_staff_account_that_can_log_in(
    gql: GraphQLClient, manager: Account
) -> None:
    username = unique("staff")
    made = await gql.ok(
        CREATE_USER,
        {
            "i": {
                "username": username,
                "email": f"{username}@example.com",
                "password": PASSWORD,
                "role": "PICKER",
            }
        },
        manager.token,
    )
    assert made["createUser"]["role"] == "PICKER"
    token = (await gql.ok(LOG_IN, {"u": username, "p": PASSWORD}))["logIn"]["token"]
    assert (await gql.ok("{ me { role } }", token=token))["me"]["role"] == "PICKER"


async def test_create_user_is_for_managers_and_checks_its_input(
    gql: GraphQLClient, manager: Account, picker: Account
) -> None:
    username = unique("staff")
    good = {
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
        "role": "MANAGER",
    }
    assert await gql.code(CREATE_USER, {"i": good}, picker.token) == "FORBIDDEN"
    assert await gql.code(CREATE_USER, {"i": good}) == "UNAUTHENTICATED"
    assert (
        await gql.code(CREATE_USER, {"i": good | {"password": "short"}}, manager.token)
        == "BAD_USER_INPUT"
    )
    await gql.ok(CREATE_USER, {"i": good}, manager.token)
    assert await gql.code(CREATE_USER, {"i": good}, manager.token) == "CONFLICT"


async def test_change_password_ends_the_other_sessions_keeps_this_one_and_the_new_password_works(
    gql: GraphQLClient, resources: Resources
) -> None:
    user = await make_account(resources, Role.CUSTOMER)
    other = (await gql.ok(LOG_IN, {"u": user.username, "p": PASSWORD}))["logIn"]["token"]
    assert (
        await gql.code(CHANGE, {"c": "wrong password", "n": "new password 1"}, user.token)
        == "BAD_USER_INPUT"
    )
    assert await gql.code(CHANGE, {"c": PASSWORD, "n": "short"}, user.token) == "BAD_USER_INPUT"
    assert (await gql.ok(CHANGE, {"c": PASSWORD, "n": "new password 1"}, user.token))[
        "changePassword"
    ] is True
    assert await gql.code("{ me { id } }", token=other) == "UNAUTHENTICATED"
    assert (await gql.ok("{ me { id } }", token=user.token))["me"]["id"] == user.id
    assert await gql.code(LOG_IN, {"u": user.username, "p": PASSWORD}) == "UNAUTHENTICATED"
    await gql.ok(LOG_IN, {"u": user.username, "p": "new password 1"})


async def test_me_lists_ones_own_sessions_newest_first_with_their_user_agent(
    gql: GraphQLClient, resources: Resources, manager: Account
) -> None:
    user = await make_account(resources, Role.PICKER)
    response = await gql.http.post(
        "/graphql",
        json={"query": LOG_IN, "variables": {"u": user.username, "p": PASSWORD}},
        headers={"User-Agent": "Scanner/2.1"},
    )
    newer = response.json()["data"]["logIn"]["token"]
    listed = await gql.ok(
        "{ me { sessions { id createdAt lastUsedAt userAgent current } } }", token=newer
    )
    sessions = listed["me"]["sessions"]
    assert [s["userAgent"] for s in sessions] == ["Scanner/2.1", None]
    assert [s["current"] for s in sessions] == [True, False]
    assert all(len(s["id"]) == 32 for s in sessions)
    assert sessions[0]["id"] != sessions[1]["id"]
    others = await gql.post(
        "{ users(first: 100) { edges { node { id sessions { id } } } } }", token=manager.token
    )
    assert {e["extensions"]["code"] for e in others["errors"]} == {"FORBIDDEN"}


async def test_a_user_keeps_at_most_fifty_sessions_the_oldest_ends_first(
    gql: GraphQLClient, resources: Resources
) -> None:
    user = await make_account(resources, Role.CUSTOMER)
    tokens = [user.token]
    for _ in range(50):
        tokens.append((await gql.ok(LOG_IN, {"u": user.username, "p": PASSWORD}))["logIn"]["token"])
    assert await gql.code("{ me { id } }", token=tokens[0]) == "UNAUTHENTICATED"
    for token in (tokens[1], tokens[-1]):
        assert (await gql.ok("{ me { id } }", token=token))["me"]["id"] == user.id
    listed = await gql.ok("{ me { sessions { id } } }", token=tokens[-1])
    assert len(listed["me"]["sessions"]) == 50


async def test_a_subscriber_that_falls_behind_its_bounded_queue_is_ended_with_rate_limited() -> (
    None
):
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    bus = EventBus(broadcast, queue_size=3)
    await bus.start()
    now = datetime.now(UTC)
    item = Item(
        id="i1",
        name="Thing",
        sku="S",
        bin_id="b1",
        quantity=1,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    try:
        async with bus.subscribe(ITEMS_CHANNEL) as slow:
            for _ in range(5):
                await bus.publish([ItemChanged(ChangeKind.UPDATED, item, 0)])
            # The memory backend hands events over asynchronously: wait for the overflow.
            await wait_for(lambda: any(q.overflowed for q in bus.listeners(ITEMS_CHANNEL)))
            with pytest.raises(RateLimited) as ended:
                await anext(slow)
            assert "fell more than 3 events behind" in ended.value.message
        assert bus.subscribers() == 0
    finally:
        await bus.stop()
        await broadcast.disconnect()
