"""The list filters the dashboard pages through: sku prefixes, newest first, a bin's and an
item's ledger. Real server, real database; every test works on skus and bins of its own."""

from __future__ import annotations

from typing import Any

from tests import given
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.names import unique

ITEMS = (
    "query($p: String, $n: Boolean, $a: String, $f: Int) "
    "{ items(skuPrefix: $p, newestFirst: $n, after: $a, first: $f) { totalCount "
    "edges { node { sku } } pageInfo { hasNextPage endCursor } } }"
)
HISTORY = (
    "query($item: ID, $bin: ID, $n: Boolean) { movements(itemId: $item, binId: $bin, "
    "newestFirst: $n, first: 100) { totalCount edges { node { sku delta reason bin { id } } } } }"
)
ORDERS = (
    "query($s: OrderStatus, $n: Boolean, $a: String) { orders(status: $s, newestFirst: $n, "
    "first: 2, after: $a) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"
)


def skus(data: dict[str, Any]) -> list[str]:
    return [edge["node"]["sku"] for edge in data["items"]["edges"]]


async def test_items_by_sku_prefix_match_the_start_only_and_count_them_all(
    gql: GraphQLClient, manager: Account
) -> None:
    family = unique("FAM").upper()
    shelf = await given.bin(gql, manager.token, capacity=100)
    for suffix in ("A", "B", "C"):
        await given.item(
            gql, manager.token, bin_id=shelf["id"], quantity=1, sku=f"{family}-{suffix}"
        )
    await given.item(gql, manager.token, bin_id=shelf["id"], quantity=1, sku=f"X-{family}")

    first = (await gql.ok(ITEMS, {"p": family, "f": 2}, manager.token))["items"]
    assert first["totalCount"] == 3
    assert [e["node"]["sku"] for e in first["edges"]] == [f"{family}-A", f"{family}-B"]
    rest = await gql.ok(
        ITEMS, {"p": family, "f": 2, "a": first["pageInfo"]["endCursor"]}, manager.token
    )
    assert skus(rest) == [f"{family}-C"]
    assert rest["items"]["pageInfo"]["hasNextPage"] is False
    # Regular-expression characters are literal, and skus are case-sensitive.
    assert (await gql.ok(ITEMS, {"p": ".*"}, manager.token))["items"]["totalCount"] == 0
    assert (await gql.ok(ITEMS, {"p": family.lower()}, manager.token))["items"]["totalCount"] == 0


async def test_newest_first_pages_backwards_through_the_same_list_without_gaps(
    gql: GraphQLClient, manager: Account
) -> None:
    family = unique("NEW").upper()
    shelf = await given.bin(gql, manager.token, capacity=100)
    made = [f"{family}-{n}" for n in range(5)]
    for sku in made:
        await given.item(gql, manager.token, bin_id=shelf["id"], quantity=1, sku=sku)

    seen: list[str] = []
    cursor = None
    while True:
        page = await gql.ok(ITEMS, {"p": family, "n": True, "f": 2, "a": cursor}, manager.token)
        seen += skus(page)
        assert page["items"]["totalCount"] == 5
        if not page["items"]["pageInfo"]["hasNextPage"]:
            break
        cursor = page["items"]["pageInfo"]["endCursor"]
    assert seen == list(reversed(made))
    oldest = await gql.ok(ITEMS, {"p": family, "n": None, "f": 5}, manager.token)
    assert skus(oldest) == made  # null means the default order


async def test_a_bins_history_lists_every_sku_moved_in_and_out_and_an_items_only_its_own(
    gql: GraphQLClient, manager: Account
) -> None:
    here = await given.bin(gql, manager.token, capacity=100)
    there = await given.bin(gql, manager.token, capacity=100)
    bolts = await given.item(gql, manager.token, bin_id=here["id"], quantity=10)
    nuts = await given.item(gql, manager.token, bin_id=here["id"], quantity=5)
    await gql.ok(given.ADJUST, {"id": nuts["id"], "d": -2, "r": "damaged"}, manager.token)
    await gql.ok(given.MOVE, {"id": bolts["id"], "to": there["id"], "q": 4}, manager.token)

    history = (await gql.ok(HISTORY, {"bin": here["id"], "n": True}, manager.token))["movements"]
    lines = [(e["node"]["sku"], e["node"]["delta"], e["node"]["reason"]) for e in history["edges"]]
    assert lines == [
        (bolts["sku"], -4, "move"),
        (nuts["sku"], -2, "damaged"),
        (nuts["sku"], 5, "create"),
        (bolts["sku"], 10, "create"),
    ]
    assert history["totalCount"] == 4
    other = (await gql.ok(HISTORY, {"bin": there["id"]}, manager.token))["movements"]
    assert [(e["node"]["sku"], e["node"]["delta"]) for e in other["edges"]] == [(bolts["sku"], 4)]

    own = (await gql.ok(HISTORY, {"item": nuts["id"]}, manager.token))["movements"]
    assert [e["node"]["delta"] for e in own["edges"]] == [5, -2]
    nothing = await gql.ok(HISTORY, {"item": "not-an-id"}, manager.token)
    assert nothing["movements"] == {"totalCount": 0, "edges": []}


async def test_a_customer_pages_their_own_orders_newest_first_and_sees_no_others(
    gql: GraphQLClient, manager: Account, customer: Account, other_customer: Account
) -> None:
    shelf = await given.bin(gql, manager.token, capacity=100)
    stock = await given.item(gql, manager.token, bin_id=shelf["id"], quantity=50)
    mine = [(await given.order(gql, customer.token, [(stock["sku"], 1)]))["id"] for _ in range(3)]
    await given.order(gql, other_customer.token, [(stock["sku"], 1)])

    first = (await gql.ok(ORDERS, {"s": "PENDING", "n": True}, customer.token))["orders"]
    second = (
        await gql.ok(
            ORDERS, {"s": "PENDING", "n": True, "a": first["pageInfo"]["endCursor"]}, customer.token
        )
    )["orders"]
    newest = [e["node"]["id"] for e in first["edges"]]
    assert newest == [mine[2], mine[1]]
    # Earlier tests may have left this customer orders; the three made here come first.
    assert second["edges"][0]["node"]["id"] == mine[0]
    assert first["totalCount"] == second["totalCount"] >= 3
