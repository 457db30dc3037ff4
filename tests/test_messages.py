"""What people read in error messages: public operation names, grammar, and names that are
refused when they hold control characters (through the GraphQL door, nothing changed)."""

from __future__ import annotations

from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.names import unique

CREATE_BIN = "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }"
CREATE_ITEM = "mutation($i: CreateItemInput!) { createItem(input: $i) { id name } }"


async def test_a_forbidden_read_names_the_field_asked_for_not_an_internal_permission(
    gql: GraphQLClient, customer: Account
) -> None:
    error = await gql.error("{ bins(first: 1) { totalCount } }", token=customer.token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "Your role CUSTOMER may not use bins."


async def test_an_item_named_with_a_nul_is_refused_and_nothing_is_created(
    gql: GraphQLClient, manager: Account
) -> None:
    bin_id = (
        await gql.ok(CREATE_BIN, {"i": {"location": unique("M"), "capacity": 10}}, manager.token)
    )["createBin"]["id"]
    sku = unique("NUL").upper()
    error = await gql.error(
        CREATE_ITEM,
        {"i": {"name": "Bad\x00name", "sku": sku, "binId": bin_id, "quantity": 1}},
        manager.token,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "name"
    assert (await gql.ok(f'{{ stockLevel(sku: "{sku}") }}', token=manager.token)) == {
        "stockLevel": 0
    }
    emoji = await gql.ok(
        CREATE_ITEM,
        {"i": {"name": "Crate 📦", "sku": sku, "binId": bin_id, "quantity": 1}},
        manager.token,
    )
    assert emoji["createItem"]["name"] == "Crate 📦"


async def test_cancelling_a_fulfilled_order_says_an_order(
    gql: GraphQLClient, manager: Account
) -> None:
    bin_id = (
        await gql.ok(CREATE_BIN, {"i": {"location": unique("M"), "capacity": 10}}, manager.token)
    )["createBin"]["id"]
    sku = unique("ANO").upper()
    await gql.ok(
        CREATE_ITEM,
        {"i": {"name": "Thing", "sku": sku, "binId": bin_id, "quantity": 5}},
        manager.token,
    )
    order = (
        await gql.ok(
            "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id } }",
            {"i": {"customerName": "ACME", "items": [{"sku": sku, "quantity": 1}]}},
            manager.token,
        )
    )["createOrder"]["id"]
    await gql.ok(
        "mutation($id: ID!) { fulfillOrder(id: $id) { id } }", {"id": order}, manager.token
    )
    error = await gql.error(
        "mutation($id: ID!) { cancelOrder(id: $id) { id } }", {"id": order}, manager.token
    )
    assert error["extensions"]["code"] == "INVALID_TRANSITION"
    assert error["message"] == "An order that is FULFILLED cannot become CANCELLED."
