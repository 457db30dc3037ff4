"""/parse driven by the real Parse JavaScript SDK (`parse` 8.x, `require('parse/node')`, Node 20)
against two real server processes sharing one SecantusDB and one valkey.

The SDK is installed by the tests: `npm ci` from tests/parse_sdk/package-lock.json into a cache
directory once per lock file. Without Node these tests skip, except under `CI=true`, where they
fail (`.ci/run` installs Node).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import given
from tests.accounts import Account, make_account
from tests.graphql_client import GraphQLClient
from tests.names import unique
from tests.servers import ServerProcess
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.access import Role
from warehouse_gql.settings import Settings

SDK = Path(__file__).parent / "parse_sdk"
PASSWORD = "correct horse battery"  # what make_account gives every account
EVENT_TIMEOUT = 20.0


def node_missing(reason: str) -> None:
    """CI must run the SDK tests (`.ci/run` installs Node); a laptop without it skips."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: the Parse SDK tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sdk_modules() -> Path:
    """node_modules holding the pinned Parse SDK, installed with `npm ci` on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        node_missing("Node.js and npm are needed for the Parse SDK tests")
    lock = (SDK / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "warehouse-gql" / f"parse-sdk-{hashlib.sha256(lock).hexdigest()[:12]}"
    if not (target / "node_modules" / "parse" / "package.json").exists():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SDK / name, target / name)
        subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=target,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return target / "node_modules"


@pytest.fixture(scope="session")
def parse_servers(
    settings: Settings, mongodb_url: str, redis_url: str, sdk_modules: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {"MONGODB_URL": mongodb_url, "MONGODB_DB": settings.mongodb_db, "REDIS_URL": redis_url}
    a, b = ServerProcess(env), ServerProcess(env)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
async def floor_b(
    parse_servers: tuple[ServerProcess, ServerProcess],
) -> AsyncIterator[GraphQLClient]:
    """GraphQL on the second process: the changes LiveQuery subscribers on the first one see."""
    async with httpx.AsyncClient(base_url=parse_servers[1].url, timeout=30) as client:
        yield GraphQLClient(client)


def _env(server: ServerProcess, modules: Path, params: dict[str, Any]) -> dict[str, str]:
    return os.environ | {
        "NODE_PATH": str(modules),
        "SERVER_URL": f"{server.url}/parse",
        "SCENARIO": json.dumps(params),
    }


async def scenario(
    name: str, server: ServerProcess, modules: Path, **params: Any
) -> dict[str, Any]:
    """Run one SDK scenario of tests/parse_sdk/scenarios.js; its JSON result."""
    child = await asyncio.create_subprocess_exec(
        "node",
        str(SDK / "scenarios.js"),
        name,
        env=_env(server, modules, params),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), 120)
    lines = stdout.decode().strip().splitlines()
    assert child.returncode == 0, (lines[-1:], stderr.decode()[-2000:])
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class Listener:
    """A LiveQuery subscriber in its own Node process: one JSON line per message it gets."""

    def __init__(self, child: asyncio.subprocess.Process) -> None:
        self.child = child

    async def next(self, op: str | None = None) -> dict[str, Any]:
        """The next message (of kind `op`, skipping others only if they are `open`)."""
        assert self.child.stdout is not None
        while True:
            line = await asyncio.wait_for(self.child.stdout.readline(), EVENT_TIMEOUT)
            assert line, "the listener exited"
            message: dict[str, Any] = json.loads(line)
            if op is None or message["op"] == op:
                return message

    async def close(self) -> None:
        if self.child.stdin is not None:
            self.child.stdin.close()
        try:
            await asyncio.wait_for(self.child.wait(), 10)
        except TimeoutError:
            self.child.kill()
            await self.child.wait()


async def listen(
    server: ServerProcess, modules: Path, token: str, subscriptions: list[dict[str, Any]]
) -> Listener:
    child = await asyncio.create_subprocess_exec(
        "node",
        str(SDK / "scenarios.js"),
        "listen",
        env=_env(server, modules, {"token": token, "subscriptions": subscriptions}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    return Listener(child)


async def test_the_sdk_signs_up_logs_out_and_logs_in_with_r_tokens_graphql_accepts(
    parse_servers: tuple[ServerProcess, ServerProcess], sdk_modules: Path, floor_b: GraphQLClient
) -> None:
    a, _ = parse_servers
    username = unique("sdk")
    seen = await scenario("accounts", a, sdk_modules, username=username, password=PASSWORD)
    assert seen["signedUp"]["role"] == "Customer"
    assert seen["signedUp"]["token"].startswith("r:")
    assert seen["afterLogout"] is True
    assert seen["badPassword"]["code"] == 101
    assert seen["loggedIn"]["id"] == seen["signedUp"]["id"] == seen["become"]
    assert seen["loggedIn"]["email"] == f"{username}@example.com"
    assert seen["setRole"]["code"] == 119  # a customer may not promote themself
    # The SDK logged out the sign-up session on the server; the login session works elsewhere.
    assert await floor_b.code("{ me { id } }", token=seen["signedUp"]["token"]) == (
        "UNAUTHENTICATED"
    )
    me = await floor_b.ok("{ me { id role } }", token=seen["loggedIn"]["token"])
    assert me["me"] == {"id": seen["signedUp"]["id"], "role": "CUSTOMER"}


async def test_the_sdk_saves_objects_with_pointers_includes_and_increments_and_an_over_take_changes_nothing(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    resources: Resources,
    manager: Account,
    customer: Account,
) -> None:
    sku = unique("SDK").upper()
    seen = await scenario(
        "objects",
        parse_servers[0],
        sdk_modules,
        managerToken=manager.token,
        customerToken=customer.token,
        location=unique("L"),
        sku=sku,
    )
    assert seen["found"] == [
        {
            "id": seen["itemId"],
            "sku": sku,
            "binLocation": seen["found"][0]["binLocation"],
            "binLoad": 4,
        }
    ]
    assert seen["got"] == {"id": seen["itemId"], "quantity": 4, "binId": seen["binId"]}
    assert seen["prefixed"] == [seen["itemId"]]
    assert seen["afterIncrement"] == 9
    assert seen["refused"]["code"] == 142
    assert seen["afterRefusal"] == 9
    assert seen["unsupported"]["code"] == 102
    assert seen["customerRead"]["code"] == 119
    assert seen["createdAt"] is True
    from bson import ObjectId

    item = await resources.db.items.find_one({"_id": ObjectId(seen["itemId"])})
    bin = await resources.db.bins.find_one({"_id": ObjectId(seen["binId"])})
    assert item is not None
    assert bin is not None
    assert (item["quantity"], bin["currentLoad"]) == (9, 9)
    ledger = await resources.db.movements.find({"itemId": ObjectId(seen["itemId"])}).to_list()
    assert sorted((m["delta"], m["reason"]) for m in ledger) == [(4, "create"), (5, "parse")]


async def test_the_sdk_places_an_order_fulfills_it_by_status_and_ships_it(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
    picker: Account,
    customer: Account,
    other_customer: Account,
) -> None:
    b = await given.bin(floor_b, manager.token)
    item = await given.item(floor_b, manager.token, bin_id=b["id"], quantity=5)
    seen = await scenario(
        "orders",
        parse_servers[0],
        sdk_modules,
        customerToken=customer.token,
        pickerToken=picker.token,
        otherToken=other_customer.token,
        sku=item["sku"],
        tracking=unique("TRK"),
    )
    assert seen["pending"] == "pending"
    assert seen["mine"] == seen["orderId"]
    assert seen["fulfilled"] == {
        "status": "fulfilled",
        "picks": [{"sku": item["sku"], "quantity": 2}],  # a customer sees no bins
    }
    assert seen["shipments"] == [{"status": "delivered", "orderStatus": "shipped"}]
    assert seen["othersSee"] == 0
    assert seen["backwards"]["code"] == 142
    order = await floor_b.ok(
        "query($id: ID!) { order(id: $id) { status picks { quantity } } }",
        {"id": seen["orderId"]},
        manager.token,
    )
    assert order["order"] == {"status": "SHIPPED", "picks": [{"quantity": 2}]}
    stock = await floor_b.ok(
        "query($id: ID!) { item(id: $id) { quantity } }", {"id": item["id"]}, manager.token
    )
    assert stock["item"]["quantity"] == 3


async def test_the_sdk_runs_cloud_functions(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
    picker: Account,
    customer: Account,
) -> None:
    b = await given.bin(floor_b, manager.token)
    other = await given.bin(floor_b, manager.token)
    item = await given.item(floor_b, manager.token, bin_id=b["id"], quantity=4)
    seen = await scenario(
        "functions",
        parse_servers[0],
        sdk_modules,
        pickerToken=picker.token,
        customerToken=customer.token,
        sku=item["sku"],
        itemId=item["id"],
        otherBinId=other["id"],
    )
    assert seen["level"] == 4
    assert seen["adjusted"] == {"className": "Item", "quantity": 7}
    assert seen["moved"]["quantity"] == 2
    assert seen["moved"]["binId"] == other["id"]
    assert seen["putaway"] is True
    assert seen["unknown"]["code"] == 141
    assert seen["customer"]["code"] == 119


async def test_the_sdk_save_all_creates_every_object_through_one_batch(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
) -> None:
    b = await given.bin(floor_b, manager.token)
    skus = [unique("BATCH").upper() for _ in range(3)]
    seen = await scenario(
        "batch", parse_servers[0], sdk_modules, managerToken=manager.token, binId=b["id"], skus=skus
    )
    assert len(set(seen["ids"])) == 3
    loaded = await floor_b.ok(
        "query($id: ID!) { bin(id: $id) { currentLoad } }", {"id": b["id"]}, manager.token
    )
    assert loaded["bin"]["currentLoad"] == 3


async def test_live_query_sends_create_update_leave_enter_and_delete_for_changes_made_on_the_other_process(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
    picker: Account,
) -> None:
    sku = unique("LQ").upper()
    b = await given.bin(floor_b, manager.token, capacity=1000)
    listener = await listen(
        parse_servers[0],
        sdk_modules,
        picker.token,
        [
            {"className": "Item", "equalTo": {"sku": sku}, "greaterThan": ["quantity", 5]},
            {"className": "Item", "equalTo": {"sku": sku}},
        ],
    )
    try:
        await listener.next("open")
        await listener.next("open")
        item = await given.item(floor_b, manager.token, bin_id=b["id"], quantity=10, sku=sku)

        async def adjust(delta: int) -> None:
            await floor_b.ok(
                given.ADJUST, {"id": item["id"], "d": delta, "r": "test"}, manager.token
            )

        seen = [await listener.next(), await listener.next()]
        assert sorted((m["op"], m["subscription"], m["quantity"]) for m in seen) == [
            ("create", 0, 10),
            ("create", 1, 10),
        ]
        await adjust(-7)
        seen = sorted(
            [await listener.next(), await listener.next()], key=lambda m: m["subscription"]
        )
        assert [(m["op"], m["quantity"], m["original"]) for m in seen] == [
            ("leave", 3, 10),
            ("update", 3, 10),
        ]
        await adjust(4)
        seen = sorted(
            [await listener.next(), await listener.next()], key=lambda m: m["subscription"]
        )
        assert [(m["op"], m["quantity"]) for m in seen] == [("enter", 7), ("update", 7)]
        await adjust(-7)
        await listener.next()
        await listener.next()
        await floor_b.ok(
            "mutation($id: ID!) { deleteItem(id: $id) }", {"id": item["id"]}, manager.token
        )
        deleted = await listener.next()
        assert (deleted["op"], deleted["subscription"], deleted["id"]) == ("delete", 1, item["id"])
    finally:
        await listener.close()


async def test_live_query_refuses_items_to_a_customer_and_sends_only_their_own_shipments(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
    customer: Account,
    other_customer: Account,
) -> None:
    listener = await listen(
        parse_servers[0],
        sdk_modules,
        customer.token,
        [{"className": "Item"}, {"className": "Shipment"}],
    )
    try:
        refused = await listener.next("error")
        assert refused["subscription"] == 0
        assert "may not subscribe" in json.dumps(refused["error"])
        await listener.next("open")
        b = await given.bin(floor_b, manager.token)
        item = await given.item(floor_b, manager.token, bin_id=b["id"], quantity=4)
        shipments = {}
        for owner in (other_customer, customer):
            order = await given.order(floor_b, owner.token, [(item["sku"], 1)])
            await floor_b.ok(given.FULFILL, {"id": order["id"]}, manager.token)
            made = await floor_b.ok(
                given.CREATE_SHIPMENT,
                {"i": {"orderId": order["id"], "carrier": "UPS", "trackingNumber": unique("T")}},
                manager.token,
            )
            shipments[owner.id] = made["createShipment"]["id"]
        created = await listener.next()
        assert (created["op"], created["id"], created["status"]) == (
            "create",
            shipments[customer.id],
            "in transit",
        )
    finally:
        await listener.close()


async def test_live_query_sends_order_create_and_leave_when_the_other_process_fulfils_it(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
    picker: Account,
    customer: Account,
) -> None:
    name = unique("Customer")
    b = await given.bin(floor_b, manager.token)
    item = await given.item(floor_b, manager.token, bin_id=b["id"], quantity=5)
    # Pending before anyone subscribes: the subscription's starting set holds it.
    early = await given.order(floor_b, customer.token, [(item["sku"], 1)], customer_name=name)
    listener = await listen(
        parse_servers[0],
        sdk_modules,
        picker.token,
        [
            {"className": "Order", "equalTo": {"customerName": name, "status": "pending"}},
            {"className": "Order", "equalTo": {"customerName": name}},
        ],
    )

    async def both() -> list[tuple[str, int, str, str]]:
        seen = [await listener.next(), await listener.next()]
        return sorted((m["op"], m["subscription"], m["id"], m["status"]) for m in seen)

    try:
        await listener.next("open")
        await listener.next("open")
        late = await given.order(floor_b, customer.token, [(item["sku"], 2)], customer_name=name)
        assert await both() == [
            ("create", 0, late["id"], "pending"),
            ("create", 1, late["id"], "pending"),
        ]
        # Fulfilled through REST, then through GraphQL, both on the other process.
        async with httpx.AsyncClient(base_url=parse_servers[1].url, timeout=30) as rest:
            response = await rest.post(
                f"/api/v1/orders/{early['id']}/fulfill",
                headers={"Authorization": f"Bearer {manager.token}"},
            )
            assert response.status_code == 200, response.text
        assert await both() == [
            ("leave", 0, early["id"], "fulfilled"),
            ("update", 1, early["id"], "fulfilled"),
        ]
        await floor_b.ok(given.FULFILL, {"id": late["id"]}, manager.token)
        assert await both() == [
            ("leave", 0, late["id"], "fulfilled"),
            ("update", 1, late["id"], "fulfilled"),
        ]
    finally:
        await listener.close()


async def test_live_query_refuses_bins_to_a_customer_and_sends_only_their_own_orders(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
    customer: Account,
    other_customer: Account,
) -> None:
    listener = await listen(
        parse_servers[0],
        sdk_modules,
        customer.token,
        [{"className": "Bin"}, {"className": "Order", "equalTo": {"status": "pending"}}],
    )
    try:
        refused = await listener.next("error")
        assert refused["subscription"] == 0
        assert "may not subscribe" in json.dumps(refused["error"])
        await listener.next("open")
        b = await given.bin(floor_b, manager.token)
        item = await given.item(floor_b, manager.token, bin_id=b["id"], quantity=4)
        theirs = await given.order(floor_b, other_customer.token, [(item["sku"], 1)])
        mine = await given.order(floor_b, customer.token, [(item["sku"], 1)])
        # The other customer's order came first: the first event being ours shows it was held back.
        created = await listener.next()
        assert (created["op"], created["id"], created["status"]) == (
            "create",
            mine["id"],
            "pending",
        )
        await floor_b.ok(given.FULFILL, {"id": theirs["id"]}, manager.token)
        await floor_b.ok(given.FULFILL, {"id": mine["id"]}, manager.token)
        left = await listener.next()
        assert (left["op"], left["id"], left["status"]) == ("leave", mine["id"], "fulfilled")
    finally:
        await listener.close()


async def test_live_query_sends_bin_create_update_enter_leave_and_delete_made_through_graphql_on_the_other_process(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    manager: Account,
    picker: Account,
) -> None:
    location = unique("LQB")
    listener = await listen(
        parse_servers[0],
        sdk_modules,
        picker.token,
        [
            {"className": "Bin", "equalTo": {"location": location}},
            {
                "className": "Bin",
                "equalTo": {"location": location},
                "greaterThan": ["capacity", 50],
            },
        ],
    )

    async def capacity(value: int) -> None:
        await floor_b.ok(
            "mutation($id: ID!, $c: Int!) { updateBin(id: $id, input: {capacity: $c}) { id } }",
            {"id": made["id"], "c": value},
            manager.token,
        )

    async def both() -> list[tuple[str, int, int]]:
        seen = [await listener.next(), await listener.next()]
        assert {m["id"] for m in seen} == {made["id"]}
        return sorted((m["op"], m["subscription"], m["capacity"]) for m in seen)

    try:
        await listener.next("open")
        await listener.next("open")
        data = await floor_b.ok(
            given.CREATE_BIN, {"i": {"location": location, "capacity": 40}}, manager.token
        )
        made = data["createBin"]
        created = await listener.next()
        assert (created["op"], created["subscription"], created["id"]) == ("create", 0, made["id"])
        assert (created["location"], created["capacity"]) == (location, 40)
        await capacity(60)
        assert await both() == [("enter", 1, 60), ("update", 0, 60)]
        await capacity(45)
        assert await both() == [("leave", 1, 45), ("update", 0, 45)]
        await floor_b.ok(
            "mutation($id: ID!) { deleteBin(id: $id) }", {"id": made["id"]}, manager.token
        )
        deleted = await listener.next()
        assert (deleted["op"], deleted["subscription"], deleted["id"]) == ("delete", 0, made["id"])
    finally:
        await listener.close()


async def test_live_query_ends_with_209_at_logout_and_refuses_the_token_when_the_sdk_reconnects(
    parse_servers: tuple[ServerProcess, ServerProcess],
    sdk_modules: Path,
    floor_b: GraphQLClient,
    resources: Resources,
) -> None:
    account = await make_account(resources, Role.PICKER)
    listener = await listen(parse_servers[0], sdk_modules, account.token, [{"className": "Item"}])
    try:
        await listener.next("open")
        # Logged out through GraphQL on the other process.
        await floor_b.ok("mutation { logOut }", token=account.token)
        ended = await listener.next("client-error")
        assert "Invalid session token" in ended["error"]
        await listener.next("close")
        # The SDK reconnects regardless; the revoked token is refused again.
        again = await listener.next("client-error")
        assert "Invalid session token" in again["error"]
    finally:
        await listener.close()
