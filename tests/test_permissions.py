"""Every row and column of the SPEC's "Roles and permissions" matrix, and customer scoping.

Each case builds its own targets as a manager, then lets one caller (a role, or anonymous)
try the operation: allowed operations succeed, the others fail with exactly FORBIDDEN or
UNAUTHENTICATED and leave the database as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from bson import ObjectId

from tests.accounts import Account, make_account
from tests.graphql_client import GraphQLClient
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.access import Role

CREATE_BIN = "mutation($i: CreateBinInput!) { createBin(input: $i) { id location capacity } }"
CREATE_ITEM = "mutation($i: CreateItemInput!) { createItem(input: $i) { id sku quantity } }"
CREATE_ORDER = "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id status } }"
FULFILL_ORDER = "mutation($id: ID!) { fulfillOrder(id: $id) { id status } }"
CANCEL_ORDER = "mutation($id: ID!) { cancelOrder(id: $id) { id status } }"
CREATE_SHIPMENT = (
    "mutation($i: CreateShipmentInput!) { createShipment(input: $i) { id status order { id } } }"
)
PASSWORD = "correct horse battery"


@dataclass
class World:
    """Shared targets for the read cases: a roomy bin of one sku, a customer's shipped order."""

    gql: GraphQLClient
    resources: Resources
    manager: Account
    customer: Account
    bin_id: str
    sku: str
    item_id: str
    order_id: str
    shipment_id: str


async def create_bin(gql: GraphQLClient, manager: Account, capacity: int = 1_000_000) -> str:
    data = await gql.ok(
        CREATE_BIN, {"i": {"location": unique("P"), "capacity": capacity}}, manager.token
    )
    bin_id: str = data["createBin"]["id"]
    return bin_id


async def create_item(
    gql: GraphQLClient, manager: Account, bin_id: str, quantity: int, sku: str | None = None
) -> str:
    data = await gql.ok(
        CREATE_ITEM,
        {
            "i": {
                "name": "Widget",
                "sku": sku or unique("SKU"),
                "binId": bin_id,
                "quantity": quantity,
            }
        },
        manager.token,
    )
    item_id: str = data["createItem"]["id"]
    return item_id


async def place_order(gql: GraphQLClient, by: Account, sku: str, quantity: int = 1) -> str:
    data = await gql.ok(
        CREATE_ORDER,
        {"i": {"customerName": unique("Customer"), "items": [{"sku": sku, "quantity": quantity}]}},
        by.token,
    )
    assert data["createOrder"]["status"] == "PENDING"
    order_id: str = data["createOrder"]["id"]
    return order_id


async def fulfilled_order(w: World, by: Account | None = None) -> str:
    order_id = await place_order(w.gql, by or w.customer, w.sku)
    data = await w.gql.ok(FULFILL_ORDER, {"id": order_id}, w.manager.token)
    assert data["fulfillOrder"]["status"] == "FULFILLED"
    return order_id


async def ship(w: World, order_id: str) -> str:
    data = await w.gql.ok(
        CREATE_SHIPMENT,
        {"i": {"orderId": order_id, "carrier": "DHL", "trackingNumber": unique("TRK")}},
        w.manager.token,
    )
    assert data["createShipment"]["status"] == "IN_TRANSIT"
    shipment_id: str = data["createShipment"]["id"]
    return shipment_id


@pytest.fixture(scope="module")
async def world(
    gql: GraphQLClient, resources: Resources, manager: Account, customer: Account
) -> World:
    bin_id = await create_bin(gql, manager, capacity=1_000_000_000)
    sku = unique("STOCK")
    item_id = await create_item(gql, manager, bin_id, 100_000, sku)
    w = World(gql, resources, manager, customer, bin_id, sku, item_id, "", "")
    w.order_id = await fulfilled_order(w)
    w.shipment_id = await ship(w, w.order_id)
    return w


# A probe is (collection, filter): the documents a forbidden mutation must leave untouched.
Probe = tuple[str, dict[str, Any]]


@dataclass
class Case:
    query: str
    variables: dict[str, Any]
    token: str | None
    probes: list[Probe] = field(default_factory=list)
    # Checks the data of an allowed call beyond "no error".
    check: Callable[[dict[str, Any]], None] = lambda data: None


Build = Callable[[World, Account | None], Awaitable[Case]]


def token_of(caller: Account | None) -> str | None:
    return None if caller is None else caller.token


def returns_something(name: str) -> Callable[[dict[str, Any]], None]:
    def check(data: dict[str, Any]) -> None:
        assert data[name] is not None, data

    return check


async def sign_up_case(w: World, caller: Account | None) -> Case:
    username = unique("signup")
    variables = {
        "i": {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    }

    def check(data: dict[str, Any]) -> None:
        assert data["signUp"]["user"]["username"] == username
        assert data["signUp"]["user"]["role"] == "CUSTOMER"

    return Case(
        "mutation($i: SignUpInput!) { signUp(input: $i) { token user { username role } } }",
        variables,
        token_of(caller),
        check=check,
    )


async def log_in_case(w: World, caller: Account | None) -> Case:
    account = await make_account(w.resources, Role.PICKER)

    def check(data: dict[str, Any]) -> None:
        assert data["logIn"]["user"]["id"] == account.id
        assert data["logIn"]["token"]

    return Case(
        "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token user { id } } }",
        {"u": account.username, "p": PASSWORD},
        token_of(caller),
        check=check,
    )


async def me_case(w: World, caller: Account | None) -> Case:
    def check(data: dict[str, Any]) -> None:
        assert caller is not None
        assert data["me"] == {"id": caller.id, "role": caller.role.value}

    return Case("{ me { id role } }", {}, token_of(caller), check=check)


async def log_out_case(w: World, caller: Account | None) -> Case:
    # Logging out must not revoke the shared session fixtures: use a fresh session of that role.
    fresh = None if caller is None else await make_account(w.resources, caller.role)

    def check(data: dict[str, Any]) -> None:
        assert data["logOut"] is True

    return Case("mutation { logOut }", {}, token_of(fresh), check=check)


async def bin_case(w: World, caller: Account | None) -> Case:
    def check(data: dict[str, Any]) -> None:
        assert data["bin"]["id"] == w.bin_id

    return Case(
        "query($id: ID!) { bin(id: $id) { id } }", {"id": w.bin_id}, token_of(caller), check=check
    )


async def bins_case(w: World, caller: Account | None) -> Case:
    def check(data: dict[str, Any]) -> None:
        assert data["bins"]["totalCount"] >= 1

    return Case("{ bins(first: 1) { totalCount } }", {}, token_of(caller), check=check)


async def item_case(w: World, caller: Account | None) -> Case:
    def check(data: dict[str, Any]) -> None:
        assert data["item"]["id"] == w.item_id

    return Case(
        "query($id: ID!) { item(id: $id) { id } }", {"id": w.item_id}, token_of(caller), check=check
    )


async def items_case(w: World, caller: Account | None) -> Case:
    def check(data: dict[str, Any]) -> None:
        assert data["items"]["totalCount"] == 1

    return Case(
        "query($s: String!) { items(sku: $s) { totalCount } }",
        {"s": w.sku},
        token_of(caller),
        check=check,
    )


async def movements_case(w: World, caller: Account | None) -> Case:
    def check(data: dict[str, Any]) -> None:
        assert data["movements"]["totalCount"] >= 2  # the creation and a fulfilment

    return Case(
        "query($s: String!) { movements(sku: $s) { totalCount } }",
        {"s": w.sku},
        token_of(caller),
        check=check,
    )


async def stock_level_case(w: World, caller: Account | None) -> Case:
    sku = unique("LEVEL")
    await create_item(w.gql, w.manager, w.bin_id, 7, sku)

    def check(data: dict[str, Any]) -> None:
        assert data["stockLevel"] == 7

    return Case(
        "query($s: String!) { stockLevel(sku: $s) }", {"s": sku}, token_of(caller), check=check
    )


async def create_bin_case(w: World, caller: Account | None) -> Case:
    location = unique("NEW")
    return Case(
        CREATE_BIN,
        {"i": {"location": location, "capacity": 10}},
        token_of(caller),
        probes=[("bins", {"location": location})],
        check=lambda data: _equal(data["createBin"]["location"], location),
    )


async def update_bin_case(w: World, caller: Account | None) -> Case:
    bin_id = await create_bin(w.gql, w.manager, capacity=10)
    return Case(
        "mutation($id: ID!) { updateBin(id: $id, input: {capacity: 20}) { capacity } }",
        {"id": bin_id},
        token_of(caller),
        probes=[("bins", {"_id": ObjectId(bin_id)})],
        check=lambda data: _equal(data["updateBin"]["capacity"], 20),
    )


async def delete_bin_case(w: World, caller: Account | None) -> Case:
    bin_id = await create_bin(w.gql, w.manager, capacity=10)
    return Case(
        "mutation($id: ID!) { deleteBin(id: $id) }",
        {"id": bin_id},
        token_of(caller),
        probes=[("bins", {"_id": ObjectId(bin_id)})],
        check=lambda data: _equal(data["deleteBin"], bin_id),
    )


async def create_item_case(w: World, caller: Account | None) -> Case:
    sku = unique("NEWSKU")
    return Case(
        CREATE_ITEM,
        {"i": {"name": "Gadget", "sku": sku, "binId": w.bin_id, "quantity": 3}},
        token_of(caller),
        probes=[("items", {"sku": sku}), ("movements", {"sku": sku})],
        check=lambda data: _equal(data["createItem"]["quantity"], 3),
    )


async def adjust_item_quantity_case(w: World, caller: Account | None) -> Case:
    item_id = await create_item(w.gql, w.manager, w.bin_id, 5)
    return Case(
        'mutation($id: ID!) { adjustItemQuantity(id: $id, delta: 2, reason: "received") { quantity } }',
        {"id": item_id},
        token_of(caller),
        probes=[
            ("items", {"_id": ObjectId(item_id)}),
            ("movements", {"itemId": ObjectId(item_id)}),
            ("bins", {"_id": ObjectId(w.bin_id)}),
        ],
        check=lambda data: _equal(data["adjustItemQuantity"]["quantity"], 7),
    )


async def move_item_case(w: World, caller: Account | None) -> Case:
    sku = unique("MOVE")
    item_id = await create_item(w.gql, w.manager, w.bin_id, 5, sku)
    target_bin = await create_bin(w.gql, w.manager, capacity=10)
    return Case(
        "mutation($id: ID!, $to: ID!) { moveItem(id: $id, toBinId: $to, quantity: 2) { quantity bin { id } } }",
        {"id": item_id, "to": target_bin},
        token_of(caller),
        probes=[
            ("items", {"sku": sku}),
            ("movements", {"sku": sku}),
            ("bins", {"_id": ObjectId(target_bin)}),
        ],
        check=lambda data: _equal(data["moveItem"], {"quantity": 2, "bin": {"id": target_bin}}),
    )


async def update_item_case(w: World, caller: Account | None) -> Case:
    item_id = await create_item(w.gql, w.manager, w.bin_id, 1)
    return Case(
        'mutation($id: ID!) { updateItem(id: $id, input: {name: "Renamed"}) { name } }',
        {"id": item_id},
        token_of(caller),
        probes=[("items", {"_id": ObjectId(item_id)})],
        check=lambda data: _equal(data["updateItem"]["name"], "Renamed"),
    )


async def delete_item_case(w: World, caller: Account | None) -> Case:
    item_id = await create_item(w.gql, w.manager, w.bin_id, 0)
    return Case(
        "mutation($id: ID!) { deleteItem(id: $id) }",
        {"id": item_id},
        token_of(caller),
        probes=[("items", {"_id": ObjectId(item_id)})],
        check=lambda data: _equal(data["deleteItem"], item_id),
    )


async def create_order_case(w: World, caller: Account | None) -> Case:
    name = unique("Buyer")

    def check(data: dict[str, Any]) -> None:
        assert data["createOrder"]["status"] == "PENDING"
        assert caller is not None
        assert data["createOrder"]["createdBy"]["id"] == caller.id

    return Case(
        "mutation($i: CreateOrderInput!) { createOrder(input: $i) { status createdBy { id } } }",
        {"i": {"customerName": name, "items": [{"sku": w.sku, "quantity": 1}]}},
        token_of(caller),
        probes=[("orders", {"customerName": name})],
        check=check,
    )


async def order_case(w: World, caller: Account | None) -> Case:
    # The customer fixture placed this order, so "own only" lets that customer see it too.
    return Case(
        "query($id: ID!) { order(id: $id) { id status } }",
        {"id": w.order_id},
        token_of(caller),
        check=lambda data: _equal(data["order"], {"id": w.order_id, "status": "SHIPPED"}),
    )


async def orders_case(w: World, caller: Account | None) -> Case:
    return Case(
        "{ orders(first: 100, status: SHIPPED) { totalCount } }",
        {},
        token_of(caller),
        check=lambda data: _at_least(data["orders"]["totalCount"], 1),
    )


async def cancel_order_case(w: World, caller: Account | None) -> Case:
    order_id = await place_order(w.gql, w.customer, w.sku)
    return Case(
        CANCEL_ORDER,
        {"id": order_id},
        token_of(caller),
        probes=[("orders", {"_id": ObjectId(order_id)})],
        check=lambda data: _equal(data["cancelOrder"]["status"], "CANCELLED"),
    )


async def fulfill_order_case(w: World, caller: Account | None) -> Case:
    order_id = await place_order(w.gql, w.customer, w.sku)
    return Case(
        FULFILL_ORDER,
        {"id": order_id},
        token_of(caller),
        probes=[
            ("orders", {"_id": ObjectId(order_id)}),
            ("items", {"sku": w.sku}),
            ("movements", {"orderId": ObjectId(order_id)}),
        ],
        check=lambda data: _equal(data["fulfillOrder"]["status"], "FULFILLED"),
    )


async def create_shipment_case(w: World, caller: Account | None) -> Case:
    order_id = await fulfilled_order(w)
    return Case(
        CREATE_SHIPMENT,
        {"i": {"orderId": order_id, "carrier": "UPS", "trackingNumber": unique("TRK")}},
        token_of(caller),
        probes=[
            ("orders", {"_id": ObjectId(order_id)}),
            ("shipments", {"orderId": ObjectId(order_id)}),
        ],
        check=lambda data: _equal(
            data["createShipment"],
            {"id": data["createShipment"]["id"], "status": "IN_TRANSIT", "order": {"id": order_id}},
        ),
    )


async def update_shipment_status_case(w: World, caller: Account | None) -> Case:
    shipment_id = await ship(w, await fulfilled_order(w))
    return Case(
        "mutation($id: ID!) { updateShipmentStatus(id: $id, status: DELIVERED) { status } }",
        {"id": shipment_id},
        token_of(caller),
        probes=[("shipments", {"_id": ObjectId(shipment_id)})],
        check=lambda data: _equal(data["updateShipmentStatus"]["status"], "DELIVERED"),
    )


async def shipment_case(w: World, caller: Account | None) -> Case:
    return Case(
        "query($id: ID!) { shipment(id: $id) { id order { id } } }",
        {"id": w.shipment_id},
        token_of(caller),
        check=lambda data: _equal(
            data["shipment"], {"id": w.shipment_id, "order": {"id": w.order_id}}
        ),
    )


async def shipments_case(w: World, caller: Account | None) -> Case:
    return Case(
        "query($o: ID!) { shipments(orderId: $o) { totalCount edges { node { id } } } }",
        {"o": w.order_id},
        token_of(caller),
        check=lambda data: _equal(
            data["shipments"], {"totalCount": 1, "edges": [{"node": {"id": w.shipment_id}}]}
        ),
    )


async def delete_order_case(w: World, caller: Account | None) -> Case:
    order_id = await place_order(w.gql, w.customer, w.sku)
    return Case(
        "mutation($id: ID!) { deleteOrder(id: $id) }",
        {"id": order_id},
        token_of(caller),
        probes=[("orders", {"_id": ObjectId(order_id)})],
        check=lambda data: _equal(data["deleteOrder"], order_id),
    )


async def delete_shipment_case(w: World, caller: Account | None) -> Case:
    shipment_id = await ship(w, await fulfilled_order(w))
    return Case(
        "mutation($id: ID!) { deleteShipment(id: $id) }",
        {"id": shipment_id},
        token_of(caller),
        probes=[("shipments", {"_id": ObjectId(shipment_id)})],
        check=lambda data: _equal(data["deleteShipment"], shipment_id),
    )


async def set_user_role_case(w: World, caller: Account | None) -> Case:
    target = await make_account(w.resources, Role.CUSTOMER)
    return Case(
        "mutation($id: ID!) { setUserRole(userId: $id, role: PICKER) { id role } }",
        {"id": target.id},
        token_of(caller),
        probes=[("users", {"_id": ObjectId(target.id)})],
        check=lambda data: _equal(data["setUserRole"], {"id": target.id, "role": "PICKER"}),
    )


async def users_case(w: World, caller: Account | None) -> Case:
    return Case(
        "{ users(first: 1) { totalCount } }",
        {},
        token_of(caller),
        check=lambda data: _at_least(data["users"]["totalCount"], 4),
    )


# Nothing listens on the discard port: these webhooks never reach anyone.
WEBHOOK_URL = "http://127.0.0.1:9/permissions"


async def _webhook(w: World) -> str:
    data = await w.gql.ok(
        "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }",
        {"i": {"url": f"{WEBHOOK_URL}/{unique()}", "events": ["ORDER_CREATED"]}},
        w.manager.token,
    )
    webhook_id: str = data["createWebhook"]["webhook"]["id"]
    return webhook_id


async def create_webhook_case(w: World, caller: Account | None) -> Case:
    url = f"{WEBHOOK_URL}/{unique()}"
    return Case(
        "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret webhook { url } } }",
        {"i": {"url": url, "events": ["ORDER_CREATED"]}},
        token_of(caller),
        probes=[("webhooks", {"url": url})],
        check=lambda data: _equal(data["createWebhook"]["webhook"]["url"], url),
    )


async def webhooks_case(w: World, caller: Account | None) -> Case:
    webhook_id = await _webhook(w)
    return Case(
        "{ webhooks { id } }",
        {},
        token_of(caller),
        check=lambda data: _equal({"id": webhook_id} in data["webhooks"], True),
    )


async def delete_webhook_case(w: World, caller: Account | None) -> Case:
    webhook_id = await _webhook(w)
    return Case(
        "mutation($id: ID!) { deleteWebhook(id: $id) }",
        {"id": webhook_id},
        token_of(caller),
        probes=[("webhooks", {"_id": ObjectId(webhook_id)})],
        check=lambda data: _equal(data["deleteWebhook"], webhook_id),
    )


async def webhook_deliveries_case(w: World, caller: Account | None) -> Case:
    webhook_id = await _webhook(w)
    return Case(
        "query($id: ID!) { webhookDeliveries(webhookId: $id) { totalCount } }",
        {"id": webhook_id},
        token_of(caller),
        check=lambda data: _equal(data["webhookDeliveries"]["totalCount"], 0),
    )


def _equal(actual: object, expected: object) -> None:
    assert actual == expected


def _at_least(actual: int, minimum: int) -> None:
    assert actual >= minimum


OK = "ok"
FORBIDDEN = "FORBIDDEN"
UNAUTHENTICATED = "UNAUTHENTICATED"

# The matrix, row by row: (operations, MANAGER, PICKER, CUSTOMER, anonymous).
MATRIX: list[tuple[dict[str, Build], str, str, str, str]] = [
    ({"signUp": sign_up_case, "logIn": log_in_case}, OK, OK, OK, OK),
    ({"me": me_case, "logOut": log_out_case}, OK, OK, OK, UNAUTHENTICATED),
    (
        {
            "bin": bin_case,
            "bins": bins_case,
            "item": item_case,
            "items": items_case,
            "movements": movements_case,
        },
        OK,
        OK,
        FORBIDDEN,
        UNAUTHENTICATED,
    ),
    ({"stockLevel": stock_level_case}, OK, OK, OK, UNAUTHENTICATED),
    (
        {"createBin": create_bin_case, "updateBin": update_bin_case, "deleteBin": delete_bin_case},
        OK,
        FORBIDDEN,
        FORBIDDEN,
        UNAUTHENTICATED,
    ),
    (
        {
            "createItem": create_item_case,
            "adjustItemQuantity": adjust_item_quantity_case,
            "moveItem": move_item_case,
            "updateItem": update_item_case,
        },
        OK,
        OK,
        FORBIDDEN,
        UNAUTHENTICATED,
    ),
    ({"deleteItem": delete_item_case}, OK, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED),
    ({"createOrder": create_order_case}, OK, FORBIDDEN, OK, UNAUTHENTICATED),
    ({"order": order_case, "orders": orders_case}, OK, OK, OK, UNAUTHENTICATED),
    ({"cancelOrder": cancel_order_case}, OK, FORBIDDEN, OK, UNAUTHENTICATED),
    ({"fulfillOrder": fulfill_order_case}, OK, OK, FORBIDDEN, UNAUTHENTICATED),
    (
        {
            "createShipment": create_shipment_case,
            "updateShipmentStatus": update_shipment_status_case,
        },
        OK,
        OK,
        FORBIDDEN,
        UNAUTHENTICATED,
    ),
    ({"shipment": shipment_case, "shipments": shipments_case}, OK, OK, OK, UNAUTHENTICATED),
    (
        {
            "deleteOrder": delete_order_case,
            "deleteShipment": delete_shipment_case,
            "setUserRole": set_user_role_case,
            "users": users_case,
        },
        OK,
        FORBIDDEN,
        FORBIDDEN,
        UNAUTHENTICATED,
    ),
    (
        {
            "createWebhook": create_webhook_case,
            "webhooks": webhooks_case,
            "deleteWebhook": delete_webhook_case,
            "webhookDeliveries": webhook_deliveries_case,
        },
        OK,
        FORBIDDEN,
        FORBIDDEN,
        UNAUTHENTICATED,
    ),
]

CALLERS = ("MANAGER", "PICKER", "CUSTOMER", "anonymous")

CELLS = [
    pytest.param(operation, build, caller, expected, id=f"{operation}-{caller}-{expected}")
    for builds, *row in MATRIX
    for operation, build in builds.items()
    for caller, expected in zip(CALLERS, row, strict=True)
]


async def snapshot(resources: Resources, probes: list[Probe]) -> list[list[dict[str, Any]]]:
    return [
        await resources.db.db[collection].find(query).sort("_id", 1).to_list()
        for collection, query in probes
    ]


@pytest.mark.parametrize(("operation", "build", "caller", "expected"), CELLS)
async def test_each_role_gets_exactly_what_the_permission_matrix_says(
    world: World,
    manager: Account,
    picker: Account,
    customer: Account,
    operation: str,
    build: Build,
    caller: str,
    expected: str,
) -> None:
    account = {"MANAGER": manager, "PICKER": picker, "CUSTOMER": customer}.get(caller)
    case = await build(world, account)
    before = await snapshot(world.resources, case.probes)

    body = await world.gql.post(case.query, case.variables, case.token)

    if expected == OK:
        assert not body.get("errors"), body["errors"]
        case.check(body["data"])
    else:
        assert [e["extensions"]["code"] for e in body["errors"]] == [expected], body
        # Non-null fields null the whole data; nullable ones (me) are null themselves.
        assert body["data"] in (None, {operation: None}), body
        # A refused mutation changes nothing.
        assert await snapshot(world.resources, case.probes) == before


def test_every_operation_of_the_matrix_exists_in_the_schema() -> None:
    from warehouse_gql.api.graphql.schema import build_schema

    schema = build_schema()._schema
    covered = {operation for builds, *_ in MATRIX for operation in builds}
    query_type = schema.query_type
    mutation_type = schema.mutation_type
    assert query_type is not None
    assert mutation_type is not None
    assert covered <= set(query_type.fields) | set(mutation_type.fields)


async def test_another_customers_order_and_its_shipment_are_invisible(
    world: World, gql: GraphQLClient, customer: Account, other_customer: Account
) -> None:
    data = await gql.ok(
        "query($o: ID!, $s: ID!) { order(id: $o) { id } shipment(id: $s) { id } }",
        {"o": world.order_id, "s": world.shipment_id},
        other_customer.token,
    )
    assert data == {"order": None, "shipment": None}

    own_order = await place_order(gql, other_customer, world.sku)
    seen_orders = await all_ids(gql, "orders", other_customer)
    assert own_order in seen_orders
    assert world.order_id not in seen_orders
    assert world.shipment_id not in await all_ids(gql, "shipments", other_customer)
    data = await gql.ok(
        "query($o: ID!) { shipments(orderId: $o) { totalCount edges { node { id } } } }",
        {"o": world.order_id},
        other_customer.token,
    )
    assert data["shipments"] == {"totalCount": 0, "edges": []}

    # The owner still sees both.
    data = await gql.ok(
        "query($o: ID!, $s: ID!) { order(id: $o) { id } shipment(id: $s) { id } }",
        {"o": world.order_id, "s": world.shipment_id},
        customer.token,
    )
    assert data == {"order": {"id": world.order_id}, "shipment": {"id": world.shipment_id}}


async def test_a_customers_order_list_holds_only_their_own_orders(
    world: World, gql: GraphQLClient, resources: Resources, other_customer: Account
) -> None:
    await place_order(gql, other_customer, world.sku)
    seen = await all_ids(gql, "orders", other_customer)
    owned = {
        str(doc["_id"])
        for doc in await resources.db.orders.find(
            {"createdBy": ObjectId(other_customer.id)}, {"_id": 1}
        ).to_list()
    }
    assert set(seen) == owned
    data = await gql.ok("{ orders { totalCount } }", token=other_customer.token)
    assert data["orders"]["totalCount"] == len(owned)


async def all_ids(gql: GraphQLClient, field_name: str, caller: Account) -> list[str]:
    """Every node id of a connection, over all pages."""
    ids: list[str] = []
    after = None
    while True:
        data = await gql.ok(
            f"query($a: String) {{ {field_name}(first: 100, after: $a) "
            "{ edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            {"a": after},
            caller.token,
        )
        page = data[field_name]
        ids += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


async def test_a_customer_cancelling_someone_elses_order_gets_not_found_and_changes_nothing(
    world: World, gql: GraphQLClient, resources: Resources, other_customer: Account
) -> None:
    order_id = await place_order(gql, world.customer, world.sku)
    error = await gql.error(CANCEL_ORDER, {"id": order_id}, other_customer.token)
    assert error["extensions"]["code"] == "NOT_FOUND"
    doc = await resources.db.orders.find_one({"_id": ObjectId(order_id)})
    assert doc is not None
    assert doc["status"] == "PENDING"


async def test_a_customer_cancels_their_own_pending_order(
    world: World, gql: GraphQLClient, customer: Account
) -> None:
    order_id = await place_order(gql, customer, world.sku)
    data = await gql.ok(CANCEL_ORDER, {"id": order_id}, customer.token)
    assert data["cancelOrder"] == {"id": order_id, "status": "CANCELLED"}
    data = await gql.ok(
        "query($id: ID!) { order(id: $id) { status } }", {"id": order_id}, customer.token
    )
    assert data["order"] == {"status": "CANCELLED"}


async def test_a_customer_cannot_cancel_their_own_order_once_fulfilled(
    world: World, gql: GraphQLClient, resources: Resources, customer: Account
) -> None:
    order_id = await fulfilled_order(world, customer)
    error = await gql.error(CANCEL_ORDER, {"id": order_id}, customer.token)
    assert error["extensions"]["code"] == "INVALID_TRANSITION"
    doc = await resources.db.orders.find_one({"_id": ObjectId(order_id)})
    assert doc is not None
    assert doc["status"] == "FULFILLED"


async def test_a_customers_order_is_placed_in_their_own_name(
    world: World, gql: GraphQLClient, customer: Account
) -> None:
    order_id = await place_order(gql, customer, world.sku)
    data = await gql.ok(
        "query($id: ID!) { order(id: $id) { createdBy { id username role } } }",
        {"id": order_id},
        customer.token,
    )
    assert data["order"]["createdBy"] == {
        "id": customer.id,
        "username": customer.username,
        "role": "CUSTOMER",
    }


async def test_staff_see_every_customers_orders(
    world: World, gql: GraphQLClient, manager: Account, picker: Account, other_customer: Account
) -> None:
    order_id = await place_order(gql, other_customer, world.sku)
    for staff in (manager, picker):
        data = await gql.ok(
            "query($id: ID!) { order(id: $id) { id } }", {"id": order_id}, staff.token
        )
        assert data["order"] == {"id": order_id}


async def test_a_customer_reads_their_fulfilled_order_with_every_pick_bin_null(
    world: World, gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    query = "query($id: ID!) { order(id: $id) { status picks { sku quantity bin { location items { sku } } } } }"
    body = await gql.post(query, {"id": world.order_id}, customer.token)
    assert "errors" not in body
    assert body["data"]["order"] == {
        "status": "SHIPPED",
        "picks": [{"sku": world.sku, "quantity": 1, "bin": None}],
    }
    data = await gql.ok(query, {"id": world.order_id}, manager.token)
    (pick,) = data["order"]["picks"]
    assert pick["bin"]["items"]
    assert {"sku": world.sku} in pick["bin"]["items"]


async def test_a_users_email_is_seen_by_managers_and_by_themselves_only(
    world: World, gql: GraphQLClient, manager: Account, picker: Account, customer: Account
) -> None:
    query = "query($id: ID!) { order(id: $id) { createdBy { id email } } }"
    own_email = f"{customer.username}@example.com"
    seen = {
        reader.role: (await gql.ok(query, {"id": world.order_id}, reader.token))["order"]
        for reader in (manager, picker, customer)
    }
    assert seen[Role.MANAGER]["createdBy"] == {"id": customer.id, "email": own_email}
    assert seen[Role.PICKER]["createdBy"] == {"id": customer.id, "email": None}
    assert seen[Role.CUSTOMER]["createdBy"] == {"id": customer.id, "email": own_email}
    me = await gql.ok("{ me { email } }", token=picker.token)
    assert me == {"me": {"email": f"{picker.username}@example.com"}}
