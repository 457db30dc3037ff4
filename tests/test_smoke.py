from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.names import unique


async def test_a_manager_creates_a_bin_and_an_item_and_reads_them_back(
    gql: GraphQLClient, manager: Account
) -> None:
    loc = unique("A")
    data = await gql.ok(
        "mutation($i: CreateBinInput!) { createBin(input: $i) { id location capacity currentLoad freeCapacity } }",
        {"i": {"location": loc, "capacity": 100}},
        manager.token,
    )
    bin = data["createBin"]
    assert bin["location"] == loc
    assert bin["currentLoad"] == 0
    assert bin["freeCapacity"] == 100
    sku = unique("SKU")
    item = (
        await gql.ok(
            "mutation($i: CreateItemInput!) { createItem(input: $i) { id quantity bin { currentLoad } } }",
            {"i": {"name": "Widget", "sku": sku, "binId": bin["id"], "quantity": 30}},
            manager.token,
        )
    )["createItem"]
    assert item["quantity"] == 30
    assert item["bin"]["currentLoad"] == 30
    data = await gql.ok(
        "query($s: String!) { stockLevel(sku: $s) items(sku: $s) { totalCount edges { node { sku bin { location } } } } }",
        {"s": sku},
        manager.token,
    )
    assert data["stockLevel"] == 30
    assert data["items"]["totalCount"] == 1
