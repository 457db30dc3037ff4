"""Limits and abuse protection (SPEC): query cost and depth before execution, the cost-point
bucket, the auth attempt limits, request body sizes and deadlines.

The limited app below has small limits and trusts 127.0.0.1 as a proxy, so each test speaks
from an address of its own (X-Forwarded-For) and never shares a bucket with another test."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId
from graphql import get_introspection_query, parse
from starlette.applications import Starlette

from tests import given
from tests.accounts import Account, make_account
from tests.app_resources import lifespan, resources_of
from tests.graphql_client import GraphQLClient
from tests.names import unique
from warehouse_gql.api.graphql.cost import measure
from warehouse_gql.api.graphql.schema import build_schema
from warehouse_gql.api.http import Resources, client_address
from warehouse_gql.api.parse.errors import CODES as PARSE_CODES
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.settings import Settings

# The 90-byte query: 112 MB of answer and 27 s of CPU before the limits.
NESTED_ATTACK = "{ bins(first:100){ edges{ node{ items{ bin{ items{ bin{ items{ id }}}}}}}}}"
# bins: 100 nodes; per bin 100 items; per item its bin (1) holding 100 items, each with its
# bin (1) holding 100 items.
NESTED_ATTACK_COST = 100 + 100 * (100 + 100 * (1 + 100 + 100 * (1 + 100)))
SCHEMA = build_schema()._schema
LIMITED_POINTS = 1000
LIMITED_AUTH = 3
LIMITED_BODY = 64 * 1024


def cost_of(query: str, variables: dict[str, Any] | None = None) -> int:
    return measure(SCHEMA, parse(query), None, variables).cost


def depth_of(query: str) -> int:
    return measure(SCHEMA, parse(query)).depth


def address() -> str:
    """A client address of this test's own (documentation range 198.18.0.0/15)."""
    n = uuid.uuid4().int
    return f"198.18.{n % 250}.{(n >> 8) % 250 + 1}"


@pytest.fixture(scope="module")
def limited_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        max_query_depth=6,
        rate_limit_points=LIMITED_POINTS,
        auth_rate_limit=LIMITED_AUTH,
        trusted_proxies=("127.0.0.1",),
        max_body_bytes=LIMITED_BODY,
        request_timeout_s=1.0,
    )


@pytest.fixture(scope="module")
async def limited(limited_settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(limited_settings)
    async with lifespan(app):
        yield app


@pytest.fixture(scope="module")
async def limited_http(limited: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def post(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    client: str | None = None,
) -> httpx.Response:
    headers = {"X-Forwarded-For": client} if client else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


class Untouchable:
    """Stands in for a collection: any use of it fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was touched ({name})")


# Cost, as a pure rule


def test_a_connection_counts_its_first_and_its_wrappers_add_nothing() -> None:
    assert cost_of("{ bins(first: 7) { edges { cursor node { id } } totalCount } }") == 7
    assert cost_of("{ bins { edges { node { id } } } }") == 50
    assert cost_of("{ bins(first: 7) { pageInfo { hasNextPage } } }") == 8


def test_plain_lists_count_100_multiplied_through_nesting() -> None:
    assert cost_of("{ bins(first: 2) { edges { node { items { sku } } } } }") == 2 + 2 * 100
    assert cost_of("{ orders(first: 3) { edges { node { picks { bin { id } } } } } }") == 3 + 3 * (
        100 + 100 * 1
    )
    assert cost_of("{ me { id } }") == 1


def test_the_nested_attack_costs_over_a_hundred_million() -> None:
    assert len(NESTED_ATTACK) <= 90
    assert cost_of(NESTED_ATTACK) == NESTED_ATTACK_COST == 102_020_100


def test_fragments_and_variables_are_measured_like_inline_fields() -> None:
    inline = "{ bins(first: 10) { edges { node { items { sku } } } } }"
    with_fragments = (
        "query($n: Int) { ...Page } "
        "fragment Page on Query { bins(first: $n) { edges { node { ...Stock } } } } "
        "fragment Stock on Bin { ... on Bin { items { sku } } }"
    )
    assert cost_of(with_fragments, {"n": 10}) == cost_of(inline) == 1010
    assert cost_of(with_fragments, {}) == 50 * 101  # no value: the default page
    defaulted = "query($n: Int = 4) { bins(first: $n) { edges { node { id } } } }"
    assert cost_of(defaulted) == 4


def test_a_fragment_used_many_times_is_measured_once_per_place() -> None:
    # 2^20 expansions if walked naively; linear here.
    fragments = ["fragment F0 on Bin { id }"]
    for i in range(1, 21):
        fragments.append(
            f"fragment F{i} on Bin {{ ...F{i - 1} items {{ bin {{ ...F{i - 1} }} }} }}"
        )
    query = '{ bin(id: "x") { ...F20 } } ' + " ".join(fragments)
    assert cost_of(query) > 10**30
    assert depth_of(query) == 2 + 2 * 20


def test_introspection_counts_one_and_is_not_walked() -> None:
    found = measure(SCHEMA, parse(get_introspection_query(descriptions=True)))
    assert found.cost == 1
    assert found.depth == 1


def test_the_root_field_is_depth_one() -> None:
    assert depth_of("{ me { id } }") == 2
    assert depth_of('{ stockLevel(sku: "X") }') == 1


# Cost and depth over HTTP


async def test_the_nested_attack_is_refused_with_its_cost_before_touching_the_database(
    http: httpx.AsyncClient, manager: Account, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources.db, "bins", Untouchable())
    monkeypatch.setattr(resources.db, "items", Untouchable())
    response = await post(http, NESTED_ATTACK, token=manager.token)
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": NESTED_ATTACK_COST,
        "limit": 50_000,
    }
    assert "50000" in error["message"]
    assert body["extensions"]["cost"]["requested"] == NESTED_ATTACK_COST


async def test_every_response_carries_its_cost(gql: GraphQLClient, manager: Account) -> None:
    body = await gql.post("{ me { id } bins(first: 3) { totalCount } }", token=manager.token)
    assert body["extensions"]["cost"] == {
        "requested": 4,
        "limit": 50_000,
        "remaining": None,  # RATE_LIMIT_POINTS=0 in the suite's app
        "resetSeconds": None,
    }
    refused = await gql.post("{ nosuchfield }", token=manager.token)
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert refused["extensions"]["cost"]["requested"] == 0


async def test_a_query_at_the_cost_limit_runs_and_one_point_over_is_refused(
    gql: GraphQLClient, manager: Account
) -> None:
    # 50 bins of 100 items, nine times over: 9 * (50 + 50 * 100) = 45,450 <= 50,000.
    page = "bins(first: $n) { edges { node { items { sku } } } }"
    aliases = " ".join(f"a{i}: {page}" for i in range(9))
    query = f"query($n: Int!) {{ {aliases} }}"
    allowed = await gql.post(query, {"n": 50}, manager.token)
    assert "errors" not in allowed, allowed.get("errors")
    assert allowed["extensions"]["cost"]["requested"] == 45_450
    # 9 * (55 + 55 * 100) = 49,995; one more connection of 5 bins tips it over.
    over = f"query($n: Int!) {{ {aliases} x: bins(first: 1) {{ totalCount }} y: bins(first: 5) {{ totalCount }} }}"
    error = await gql.error(over, {"n": 55}, manager.token)
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 50_001, "limit": 50_000}


async def test_graphiqls_introspection_query_passes(gql: GraphQLClient, manager: Account) -> None:
    body = await gql.post(get_introspection_query(descriptions=True), token=manager.token)
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    assert body["extensions"]["cost"]["requested"] == 1


async def test_a_query_at_the_depth_limit_runs(
    limited_http: httpx.AsyncClient, limited: Starlette
) -> None:
    account = await make_account(resources_of(limited), Role.MANAGER)
    six = "{ bins(first: 1) { edges { node { items { bin { location } } } } } }"
    assert depth_of(six) == 6
    ok = (await post(limited_http, six, token=account.token, client=address())).json()
    assert "errors" not in ok
    seven = "{ bins(first: 1) { edges { node { items { bin { items { sku } } } } } } }"
    body = (await post(limited_http, seven, token=account.token, client=address())).json()
    assert body["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": cost_of(seven),
        "limit": 50_000,
        "depth": 7,
        "maxDepth": 6,
    }


# The cost-point bucket


async def test_a_users_points_run_out_with_429_and_retry_after(
    limited_http: httpx.AsyncClient, limited: Starlette
) -> None:
    account = await make_account(resources_of(limited), Role.MANAGER)
    query = "{ bins(first: 100) { edges { node { id } } } }"  # 100 points
    remaining = []
    for _ in range(LIMITED_POINTS // 100):
        response = await post(limited_http, query, token=account.token, client=address())
        assert response.status_code == 200
        cost = response.json()["extensions"]["cost"]
        assert cost["requested"] == 100
        remaining.append(cost["remaining"])
        assert 0 < cost["resetSeconds"] <= 120
    # Points come back continuously (the last minute's weight decays): a little more than
    # spent may be left when a minute turns during the test, never less.
    for spent, left in enumerate(remaining, start=1):
        assert LIMITED_POINTS - 100 * spent <= left <= LIMITED_POINTS - 100 * spent + 20
    refused = await post(limited_http, query, token=account.token, client=address())
    assert refused.status_code == 429
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    # Up to two minutes: points spent early in a minute only start to come back once it is
    # the previous minute of the sliding window.
    assert 1 <= error["extensions"]["retryAfter"] <= 120
    assert refused.headers["retry-after"] == str(error["extensions"]["retryAfter"])
    # The bucket is the user's, wherever they speak from; another user's is full.
    other = await make_account(resources_of(limited), Role.MANAGER)
    fine = await post(limited_http, query, token=other.token, client=address())
    assert fine.status_code == 200


async def test_anonymous_callers_spend_the_points_of_their_address(
    limited_http: httpx.AsyncClient,
) -> None:
    mine, theirs = address(), address()
    # Anonymous and unauthorised, yet measured and charged: 100 points each.
    query = "{ bins(first: 100) { totalCount } }"
    for _ in range(LIMITED_POINTS // 100):
        response = await post(limited_http, query, client=mine)
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refused = await post(limited_http, query, client=mine)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other = await post(limited_http, query, client=theirs)
    assert other.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# Auth attempts


LOG_IN = "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }"
SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token } }"


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


async def test_log_ins_from_one_address_are_limited_per_minute(
    limited_http: httpx.AsyncClient,
) -> None:
    mine = address()
    for _ in range(LIMITED_AUTH):
        response = await post(
            limited_http, LOG_IN, {"u": unique("ghost"), "p": "x" * 12}, client=mine
        )
        assert codes(response) == ["UNAUTHENTICATED"]
    refused = await post(limited_http, LOG_IN, {"u": unique("ghost"), "p": "x" * 12}, client=mine)
    assert refused.status_code == 429
    assert codes(refused) == ["RATE_LIMITED"]
    assert int(refused.headers["retry-after"]) >= 1
    # Sign-up shares the address's attempts.
    fields = {
        "username": unique("new"),
        "email": f"{unique('n')}@example.com",
        "password": "x" * 12,
    }
    assert codes(await post(limited_http, SIGN_UP, {"i": fields}, client=mine)) == ["RATE_LIMITED"]
    assert codes(await post(limited_http, SIGN_UP, {"i": fields}, client=address())) == []


async def test_log_ins_for_one_username_are_limited_whatever_the_address(
    limited_http: httpx.AsyncClient, limited: Starlette
) -> None:
    account = await make_account(resources_of(limited), Role.PICKER)
    for _ in range(LIMITED_AUTH):
        wrong = {"u": account.username, "p": "not the password"}
        assert codes(await post(limited_http, LOG_IN, wrong, client=address())) == [
            "UNAUTHENTICATED"
        ]
    right = {"u": account.username, "p": "correct horse battery"}
    refused = await post(limited_http, LOG_IN, right, client=address())
    assert codes(refused) == ["RATE_LIMITED"]
    assert "username" in refused.json()["errors"][0]["message"]


async def test_auth_limits_are_shared_by_processes_through_redis(
    limited_settings: Settings, redis_url: str
) -> None:
    shared = dataclasses.replace(limited_settings, redis_url=redis_url)
    first, second = create_app(shared), create_app(shared)
    mine = address()
    async with lifespan(first), lifespan(second):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://test")
            for a in (first, second)
        ]
        try:
            answers = []
            for i in range(LIMITED_AUTH + 1):
                response = await post(
                    clients[i % 2], LOG_IN, {"u": unique("ghost"), "p": "x" * 12}, client=mine
                )
                answers.append(codes(response))
        finally:
            for client in clients:
                await client.aclose()
    assert answers == [["UNAUTHENTICATED"]] * LIMITED_AUTH + [["RATE_LIMITED"]]


def test_the_client_address_is_the_peer_unless_it_is_a_trusted_proxy() -> None:
    def scope(peer: str, forwarded: str | None) -> dict[str, Any]:
        headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
        return {"client": (peer, 5000), "headers": headers}

    assert client_address(scope("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    proxies = ("10.0.0.0/8",)
    assert client_address(scope("203.0.113.9", "1.2.3.4"), proxies) == "203.0.113.9"
    assert client_address(scope("10.0.0.5", "1.2.3.4"), proxies) == "1.2.3.4"
    # A client cannot choose its address by writing the header itself: the rightmost
    # address our proxies did not add is the client.
    assert client_address(scope("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.7"), proxies) == "1.2.3.4"
    assert client_address(scope("10.0.0.5", None), proxies) == "10.0.0.5"


# Sizes


async def test_a_body_declared_over_the_limit_is_refused_with_413_in_graphql_shape(
    limited_http: httpx.AsyncClient,
) -> None:
    big = {"query": "{ me { id } }", "variables": {"pad": "x" * LIMITED_BODY}}
    response = await limited_http.post("/graphql", json=big)
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": LIMITED_BODY}


async def test_a_streamed_body_over_the_limit_is_refused_without_reading_the_rest(
    limited_http: httpx.AsyncClient,
) -> None:
    chunk = b"x" * 4096
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ me { id } }", "variables": {"pad": "'
        for _ in range(1000):  # 4 MB, no Content-Length
            sent += 1
            yield chunk

    response = await limited_http.post(
        "/graphql", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert sent <= LIMITED_BODY // len(chunk) + 2


async def test_other_doors_get_413_as_json_with_a_code(limited_http: httpx.AsyncClient) -> None:
    response = await limited_http.post("/api/v1/items", content=b"x" * (LIMITED_BODY + 1))
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


# Deadlines


@pytest.fixture
def slow_stock_level(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """stockLevel takes 30 s; the event is set when the slow call is cancelled."""
    import warehouse_gql.store.items

    cancelled = asyncio.Event()

    async def slow(*args: Any, **kwargs: Any) -> int:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    monkeypatch.setattr(warehouse_gql.store.items, "stock_level", slow)
    return cancelled


async def test_an_operation_past_the_deadline_is_cancelled_with_service_unavailable(
    limited_http: httpx.AsyncClient, limited: Starlette, slow_stock_level: asyncio.Event
) -> None:
    account = await make_account(resources_of(limited), Role.PICKER)
    response = await post(
        limited_http, '{ stockLevel(sku: "SLOW") }', token=account.token, client=address()
    )
    assert response.status_code == 503
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "1 seconds" in error["message"]
    assert slow_stock_level.is_set()


@contextlib.contextmanager
def delivery_past_the_deadline(resources: Resources) -> Iterator[list[str]]:
    """Each write's delivery, after its commit, takes 1.3 s: the limited app's 1 s deadline
    passes meanwhile. Yields the steps held."""
    held: list[str] = []

    async def slow_delivery(step: str) -> None:
        if step == "transaction.committed":
            held.append(step)
            await asyncio.sleep(1.3)

    resources.db.fault_injector = slow_delivery
    try:
        yield held
    finally:
        resources.db.fault_injector = None


async def new_item(http: httpx.AsyncClient, account: Account, client: str, prefix: str) -> str:
    """A fresh bin with one item of quantity 1; the item's id."""
    made = await post(
        http,
        given.CREATE_BIN,
        {"i": {"location": unique(prefix), "capacity": 100}},
        token=account.token,
        client=client,
    )
    bin_id = made.json()["data"]["createBin"]["id"]
    fields = {"name": "Bolt", "sku": unique(prefix), "binId": bin_id, "quantity": 1}
    made = await post(http, given.CREATE_ITEM, {"i": fields}, token=account.token, client=client)
    item_id: str = made.json()["data"]["createItem"]["id"]
    return item_id


async def stored_quantity(resources: Resources, item_id: str) -> int:
    stored = await resources.db.items.find_one({"_id": ObjectId(item_id)})
    assert stored is not None
    quantity: int = stored["quantity"]
    return quantity


async def test_a_write_that_committed_before_the_deadline_gets_its_own_answer_not_retry(
    limited_http: httpx.AsyncClient, limited: Starlette
) -> None:
    # Its changes' delivery runs past the 1 s deadline (a slow feed): answering 503 "retry"
    # would have the client apply it a second time.
    resources = resources_of(limited)
    account = await make_account(resources, Role.MANAGER)
    client = address()

    async def ok(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await post(limited_http, query, variables, token=account.token, client=client)
        body = response.json()
        assert "errors" not in body, body
        assert response.status_code == 200
        data: dict[str, Any] = body["data"]
        return data

    item_id = await new_item(limited_http, account, client, "DL")
    with delivery_past_the_deadline(resources) as held:
        adjusted = await ok(given.ADJUST, {"id": item_id, "d": 2, "r": "receive"})
    assert held == ["transaction.committed"]
    assert adjusted["adjustItemQuantity"]["quantity"] == 3
    assert await stored_quantity(resources, item_id) == 3


async def test_a_mutation_that_would_start_past_the_deadline_is_not_run_and_says_the_ones_before_were(
    limited_http: httpx.AsyncClient, limited: Starlette
) -> None:
    # The first adjustment commits, then its answer runs past the 1 s deadline; the request is
    # no longer cancelled (its write is in), so the second must refuse to start on its own.
    resources = resources_of(limited)
    account = await make_account(resources, Role.MANAGER)
    client = address()
    item_id = await new_item(limited_http, account, client, "DM")

    both = """mutation($id: ID!) {
      first: adjustItemQuantity(id: $id, delta: 2, reason: "first") { quantity }
      second: adjustItemQuantity(id: $id, delta: 5, reason: "second") { quantity }
    }"""
    with delivery_past_the_deadline(resources) as held:
        response = await post(
            limited_http, both, {"id": item_id}, token=account.token, client=client
        )
    body = response.json()
    assert held == ["transaction.committed"]
    assert response.status_code == 200
    [error] = body["errors"]
    assert error["path"] == ["second"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "before it in this request were applied" in error["message"]
    assert await stored_quantity(resources, item_id) == 3
    reasons = [
        m["reason"] async for m in resources.db.movements.find({"itemId": ObjectId(item_id)})
    ]
    assert sorted(reasons) == ["create", "first"]


async def test_a_parse_batch_request_that_would_start_past_the_deadline_is_not_run(
    limited_http: httpx.AsyncClient, limited: Starlette
) -> None:
    resources = resources_of(limited)
    account = await make_account(resources, Role.MANAGER)
    client = address()
    item_id = await new_item(limited_http, account, client, "DB")
    increment = {"quantity": {"__op": "Increment", "amount": 2}}
    path = f"/parse/classes/Item/{item_id}"
    requests = [{"method": "PUT", "path": path, "body": increment} for _ in range(2)]
    with delivery_past_the_deadline(resources) as held:
        response = await limited_http.post(
            "/parse/batch",
            json={"requests": requests},
            headers={
                "X-Parse-Application-Id": resources.settings.parse_app_id,
                "X-Parse-Session-Token": f"r:{account.token}",
                "X-Forwarded-For": client,
            },
        )
    assert held == ["transaction.committed"]
    assert response.status_code == 200
    first, second = response.json()
    assert "success" in first, first
    assert second["error"]["code"] == PARSE_CODES["SERVICE_UNAVAILABLE"][1], second
    assert second["error"]["error"].startswith("Not run: the batch had run past")
    assert await stored_quantity(resources, item_id) == 3


# Production mode


async def test_production_errors_suggest_no_field_names(settings: Settings) -> None:
    typo = '{ bins(frist: 1) { totalCount } stockLevl(sku: "X") }'
    production = dataclasses.replace(settings, production=True, graphiql=False)
    answers = {}
    for name, variant in (("development", settings), ("production", production)):
        app = create_app(variant)
        async with lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                body = (await post(http, typo)).json()
        answers[name] = [e["message"] for e in body["errors"]]
        assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    assert any("Did you mean" in m for m in answers["development"])
    assert len(answers["production"]) == len(answers["development"]) == 2
    assert not any("Did you mean" in m or "stockLevel" in m for m in answers["production"])
    assert any("stockLevl" in m for m in answers["production"])


def test_warehouse_env_is_exactly_production_or_development() -> None:
    from warehouse_gql.settings import SettingsError

    assert Settings.from_env({"WAREHOUSE_ENV": "production"}).production
    assert not Settings.from_env({"WAREHOUSE_ENV": "development"}).production
    assert not Settings.from_env({}).production
    for wrong in ("prod", "Production", "dev", "staging"):
        with pytest.raises(SettingsError, match="WAREHOUSE_ENV must be production or development"):
            Settings.from_env({"WAREHOUSE_ENV": wrong})


def test_serve_refuses_an_unknown_warehouse_env_with_one_line(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "WAREHOUSE_ENV": "prod"}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("warehouse-gql")),
            "serve",
            "--data-dir",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "warehouse-gql: WAREHOUSE_ENV must be production or development, got 'prod'."
    ]
    assert not list(tmp_path.iterdir())  # nothing was started


# The database down


async def test_with_the_database_down_reads_and_writes_fail_fast_and_recovery_needs_no_restart(
    settings: Settings, tmp_path: Path
) -> None:
    import time

    from warehouse_gql.embedded import free_port, start_secantus, stop

    port = free_port()
    child, url = start_secantus(tmp_path / "db", tmp_path / "db.log", port=port)
    try:
        app = create_app(dataclasses.replace(settings, mongodb_url=url))
        async with lifespan(app):
            account = await make_account(resources_of(app), Role.MANAGER)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                read = "{ bins(first: 1) { totalCount } }"
                write = "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }"
                assert "errors" not in (await post(http, read, token=account.token)).json()
                child.kill()  # kill -9: no goodbye to the open connections
                child.wait()

                for query, variables in (
                    (read, {}),
                    (write, {"i": {"location": unique("DOWN"), "capacity": 5}}),
                ):
                    started = time.monotonic()
                    body = (await post(http, query, variables, token=account.token)).json()
                    assert time.monotonic() - started < 2.0
                    assert [e["extensions"]["code"] for e in body["errors"]] == [
                        "SERVICE_UNAVAILABLE"
                    ]
                started = time.monotonic()
                ready = await http.get("/readyz")
                assert time.monotonic() - started < 1.0
                assert ready.status_code == 503

                child, _ = start_secantus(tmp_path / "db", tmp_path / "db.log", port=port)
                # The same process, the same client: it finds the database again by itself.
                deadline = time.monotonic() + 30
                while (await http.get("/readyz")).status_code != 200:
                    assert time.monotonic() < deadline, "never became ready again"
                location = unique("BACK")
                body = (
                    await post(
                        http,
                        write,
                        {"i": {"location": location, "capacity": 5}},
                        token=account.token,
                    )
                ).json()
                assert "errors" not in body, body
    finally:
        stop(child)
