"""Invariants under real concurrent requests against the real database, and under failure.

Every test fires its requests at once with asyncio.gather and then recomputes the SPEC
invariants from the raw collections. The numbers seen are printed (visible with pytest -s).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Sequence
from typing import Any

import httpx
from bson import ObjectId

from tests import given
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.invariants import assert_invariants
from tests.livekit import LiveServer
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.app import create_app
from warehouse_gql.settings import Settings

DELETE_BIN = "mutation($id: ID!) { deleteBin(id: $id) }"


def outcome(body: dict[str, Any]) -> str:
    if body.get("errors"):
        code: str = body["errors"][0]["extensions"]["code"]
        return code
    return "ok"


def report(label: str, outcomes: list[str], retries: int) -> Counter[str]:
    counted = Counter(outcomes)
    seen = ", ".join(f"{n} {code}" for code, n in sorted(counted.items()))
    print(f"\n{label}: {seen}; {retries} transaction retries")
    return counted


async def gather_counting_retries(
    resources: Resources, requests: Sequence[Awaitable[dict[str, Any]]]
) -> tuple[list[dict[str, Any]], int]:
    before = resources.db.stats.retried
    bodies = list(await asyncio.gather(*requests))
    return bodies, resources.db.stats.retried - before


async def stock(
    gql: GraphQLClient, token: str, sku: str, quantities: list[int], capacity: int = 100
) -> list[dict[str, Any]]:
    made = []
    for quantity in quantities:
        b = await given.bin(gql, token, capacity=capacity)
        made.append(await given.item(gql, token, bin_id=b["id"], quantity=quantity, sku=sku))
    return made


async def units(resources: Resources, sku: str) -> int:
    return sum(i["quantity"] for i in await resources.db.items.find({"sku": sku}).to_list())


async def test_forty_concurrent_fulfilments_over_twenty_five_units_fulfil_exactly_twenty_five(
    gql: GraphQLClient, manager: Account, picker: Account, customer: Account, resources: Resources
) -> None:
    sku = unique("SKU")
    await stock(gql, manager.token, sku, [10, 8, 7])
    orders = [await given.order(gql, customer.token, [(sku, 1)]) for _ in range(40)]
    bodies, retries = await gather_counting_retries(
        resources, [gql.post(given.FULFILL, {"id": o["id"]}, picker.token) for o in orders]
    )
    counted = report(
        "40 concurrent fulfilments over 25 units", [outcome(b) for b in bodies], retries
    )
    assert counted == {"ok": 25, "INSUFFICIENT_STOCK": 15}
    for body in bodies:
        if body.get("errors"):
            assert sku in body["errors"][0]["message"]
        else:
            assert body["data"]["fulfillOrder"]["status"] == "FULFILLED"
    statuses = Counter(
        o["status"]
        for o in await resources.db.orders.find(
            {"_id": {"$in": [ObjectId(o["id"]) for o in orders]}}
        ).to_list()
    )
    assert statuses == {"FULFILLED": 25, "PENDING": 15}
    assert await units(resources, sku) == 0
    await assert_invariants(resources.db, skus=[sku], order_ids=[o["id"] for o in orders])


async def test_concurrent_two_line_fulfilments_are_all_or_nothing(
    gql: GraphQLClient, manager: Account, picker: Account, customer: Account, resources: Resources
) -> None:
    # Each order takes one unit of x and one of y; y runs out first. Lines in both orders,
    # so transactions touch the same documents in opposite orders.
    x, y = unique("X"), unique("Y")
    await stock(gql, manager.token, x, [12, 8])
    await stock(gql, manager.token, y, [9, 6])
    orders = [
        await given.order(gql, customer.token, [(x, 1), (y, 1)] if i % 2 else [(y, 1), (x, 1)])
        for i in range(20)
    ]
    bodies, retries = await gather_counting_retries(
        resources, [gql.post(given.FULFILL, {"id": o["id"]}, picker.token) for o in orders]
    )
    counted = report(
        "20 concurrent two-line fulfilments over 20 x and 15 y",
        [outcome(b) for b in bodies],
        retries,
    )
    assert counted == {"ok": 15, "INSUFFICIENT_STOCK": 5}
    assert (await units(resources, x), await units(resources, y)) == (5, 0)
    await assert_invariants(resources.db, skus=[x, y], order_ids=[o["id"] for o in orders])


async def test_concurrent_moves_and_fulfilments_never_lose_or_duplicate_a_unit(
    gql: GraphQLClient, manager: Account, picker: Account, customer: Account, resources: Resources
) -> None:
    sku = unique("SKU")
    a, b, c = await stock(gql, manager.token, sku, [20, 10, 0], capacity=40)
    initial = 30
    orders = [await given.order(gql, customer.token, [(sku, 1)]) for _ in range(24)]
    moves = [
        (a, c, 3),
        (b, a, 2),
        (c, b, 1),
        (a, b, 4),
    ] * 5
    # Interleaved so moves and fulfilments of the same items are in flight together.
    kinds: list[str] = []
    requests: list[Awaitable[dict[str, Any]]] = []
    for i in range(max(len(orders), len(moves))):
        if i < len(orders):
            kinds.append("fulfill")
            requests.append(gql.post(given.FULFILL, {"id": orders[i]["id"]}, picker.token))
        if i < len(moves):
            source, target, quantity = moves[i]
            kinds.append("move")
            requests.append(
                gql.post(
                    given.MOVE,
                    {"id": source["id"], "to": target["bin"]["id"], "q": quantity},
                    picker.token,
                )
            )
    bodies, retries = await gather_counting_retries(resources, requests)
    fulfill_outcomes = [outcome(b) for k, b in zip(kinds, bodies, strict=True) if k == "fulfill"]
    move_outcomes = [outcome(b) for k, b in zip(kinds, bodies, strict=True) if k == "move"]
    assert len(fulfill_outcomes) == len(orders)
    assert len(move_outcomes) == len(moves)
    report(
        "24 one-unit fulfilments (of 30 units) and 20 moves at once",
        [f"{k}:{outcome(b)}" for k, b in zip(kinds, bodies, strict=True)],
        retries,
    )
    assert set(move_outcomes) <= {"ok", "INSUFFICIENT_STOCK"}
    assert set(fulfill_outcomes) <= {"ok", "INSUFFICIENT_STOCK"}

    docs = await resources.db.orders.find(
        {"_id": {"$in": [ObjectId(o["id"]) for o in orders]}}
    ).to_list()
    picked = sum(p["quantity"] for o in docs if o["status"] == "FULFILLED" for p in o["picks"])
    assert picked == fulfill_outcomes.count("ok")
    # Moves only shift units: what is left plus what was picked is what there was.
    assert await units(resources, sku) + picked == initial
    # 30 units and 24 one-unit orders: a fulfilment may only fail once stock ran out.
    assert fulfill_outcomes.count("ok") == 24
    await assert_invariants(resources.db, skus=[sku], order_ids=[o["id"] for o in orders])


async def test_concurrent_cancel_and_fulfil_of_one_order_let_exactly_one_win(
    gql: GraphQLClient, manager: Account, picker: Account, customer: Account, resources: Resources
) -> None:
    sku = unique("SKU")
    await stock(gql, manager.token, sku, [50])
    orders = [await given.order(gql, customer.token, [(sku, 2)]) for _ in range(10)]
    requests: list[Awaitable[dict[str, Any]]] = []
    for o in orders:
        requests.append(gql.post(given.FULFILL, {"id": o["id"]}, picker.token))
        requests.append(gql.post(given.CANCEL, {"id": o["id"]}, customer.token))
    bodies, retries = await gather_counting_retries(resources, requests)
    counted = report(
        "10 orders each fulfilled and cancelled at once", [outcome(b) for b in bodies], retries
    )
    assert counted == {"ok": 10, "INVALID_TRANSITION": 10}
    for fulfill, cancel in zip(bodies[::2], bodies[1::2], strict=True):
        assert [outcome(fulfill), outcome(cancel)].count("ok") == 1
    docs = await resources.db.orders.find(
        {"_id": {"$in": [ObjectId(o["id"]) for o in orders]}}
    ).to_list()
    fulfilled = sum(1 for d in docs if d["status"] == "FULFILLED")
    assert fulfilled + sum(1 for d in docs if d["status"] == "CANCELLED") == 10
    assert await units(resources, sku) == 50 - 2 * fulfilled
    await assert_invariants(resources.db, skus=[sku], order_ids=[o["id"] for o in orders])


async def test_a_bin_deleted_while_an_item_is_created_in_it_never_leaves_an_orphan(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    outcomes: list[str] = []
    retried = resources.db.stats.retried
    for _ in range(8):
        b = await given.bin(gql, manager.token)
        sku = unique("SKU")
        fields = {"name": "Widget", "sku": sku, "binId": b["id"], "quantity": 3}
        created, deleted = await asyncio.gather(
            gql.post(given.CREATE_ITEM, {"i": fields}, manager.token),
            gql.post(DELETE_BIN, {"id": b["id"]}, manager.token),
        )
        outcomes += [f"create:{outcome(created)}", f"delete:{outcome(deleted)}"]
        bin_left = await resources.db.bins.find_one({"_id": ObjectId(b["id"])})
        items_left = await resources.db.items.count_documents({"binId": ObjectId(b["id"])})
        if bin_left is None:
            assert (outcome(created), outcome(deleted)) == ("NOT_FOUND", "ok")
            assert items_left == 0
        else:
            assert (outcome(created), outcome(deleted)) == ("ok", "CONFLICT")
            assert items_left == 1
            await assert_invariants(resources.db, skus=[sku])
    report(
        "8 rounds of createItem racing deleteBin", outcomes, resources.db.stats.retried - retried
    )


async def test_concurrent_creates_of_one_sku_in_one_bin_make_exactly_one_item(
    gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=100)
    sku = unique("SKU")
    fields = {"name": "Widget", "sku": sku, "binId": b["id"], "quantity": 2}
    bodies, retries = await gather_counting_retries(
        resources, [gql.post(given.CREATE_ITEM, {"i": fields}, manager.token) for _ in range(10)]
    )
    counted = report(
        "10 concurrent createItem of one sku in one bin", [outcome(x) for x in bodies], retries
    )
    assert counted == {"ok": 1, "CONFLICT": 9}
    assert await resources.db.items.count_documents({"sku": sku}) == 1
    await assert_invariants(resources.db, skus=[sku], bin_ids=[b["id"]])


async def test_concurrent_moves_into_a_bin_without_the_sku_make_one_target_item(
    gql: GraphQLClient, manager: Account, picker: Account, resources: Resources
) -> None:
    sku = unique("SKU")
    target = await given.bin(gql, manager.token, capacity=100)
    sources = await stock(gql, manager.token, sku, [5] * 8)
    bodies, retries = await gather_counting_retries(
        resources,
        [
            gql.post(given.MOVE, {"id": s["id"], "to": target["id"], "q": 3}, picker.token)
            for s in sources
        ],
    )
    counted = report(
        "8 concurrent moves into a bin without the sku", [outcome(x) for x in bodies], retries
    )
    assert counted == {"ok": 8}
    # Every move landed in the one item the first of them created.
    assert len({x["data"]["moveItem"]["id"] for x in bodies}) == 1
    landed = await resources.db.items.find({"sku": sku, "binId": ObjectId(target["id"])}).to_list()
    assert [i["quantity"] for i in landed] == [24]
    assert await units(resources, sku) == 40
    await assert_invariants(resources.db, skus=[sku])


async def test_shrinking_a_bin_while_stock_arrives_never_leaves_it_over_capacity(
    gql: GraphQLClient, manager: Account, picker: Account, resources: Resources
) -> None:
    b = await given.bin(gql, manager.token, capacity=100)
    item = await given.item(gql, picker.token, bin_id=b["id"], quantity=50)
    update_bin = (
        "mutation($id: ID!, $c: Int!) { updateBin(id: $id, input: {capacity: $c}) "
        "{ capacity currentLoad } }"
    )
    requests = [
        gql.post(given.ADJUST, {"id": item["id"], "d": 5, "r": "receive"}, picker.token)
        for _ in range(8)
    ]
    requests.insert(4, gql.post(update_bin, {"id": b["id"], "c": 60}, manager.token))
    bodies, retries = await gather_counting_retries(resources, requests)
    shrink = bodies.pop(4)
    receipts = [outcome(x) for x in bodies]
    report(
        "8 concurrent receipts of 5 and one shrink to 60",
        [*receipts, f"shrink:{outcome(shrink)}"],
        retries,
    )
    raw = await resources.db.bins.find_one({"_id": ObjectId(b["id"])})
    assert raw is not None
    if outcome(shrink) == "ok":
        assert raw["capacity"] == 60
        assert receipts.count("ok") <= 2
    else:
        assert outcome(shrink) == "CAPACITY_EXCEEDED"
        assert raw["capacity"] == 100
    assert set(receipts) <= {"ok", "CAPACITY_EXCEEDED"}
    assert raw["currentLoad"] == 50 + 5 * receipts.count("ok") <= raw["capacity"]
    await assert_invariants(resources.db, bin_ids=[b["id"]])


async def test_a_fulfilment_that_fails_midway_leaves_no_trace(
    gql: GraphQLClient, manager: Account, picker: Account, customer: Account, resources: Resources
) -> None:
    first, second = unique("F"), unique("S")
    made = await stock(gql, manager.token, first, [5]) + await stock(
        gql, manager.token, second, [5]
    )
    placed = await given.order(gql, customer.token, [(first, 2), (second, 3)])
    skus, bins = [first, second], [i["bin"]["id"] for i in made]
    before = await given.raw_state(resources.db, skus=skus, bin_ids=bins, order_ids=[placed["id"]])
    steps: list[str] = []

    async def fail_after_the_items(step: str) -> None:
        # The items are written, the bins, ledger and order not yet.
        steps.append(step)
        if step == "fulfill.items":
            raise RuntimeError("the database connection dropped between two writes")

    resources.db.fault_injector = fail_after_the_items
    try:
        error = await gql.error(given.FULFILL, {"id": placed["id"]}, picker.token)
    finally:
        resources.db.fault_injector = None
    assert steps == ["fulfill.items"], steps
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] in error["message"]
    assert "dropped" not in error["message"]
    assert "Traceback" not in error["message"]
    assert (
        await given.raw_state(resources.db, skus=skus, bin_ids=bins, order_ids=[placed["id"]])
        == before
    )
    await assert_invariants(resources.db, skus=skus, order_ids=[placed["id"]])

    # Nothing was left half-done: the same order fulfils cleanly afterwards.
    fulfilled = (await gql.ok(given.FULFILL, {"id": placed["id"]}, picker.token))["fulfillOrder"]
    assert fulfilled["status"] == "FULFILLED"
    await assert_invariants(resources.db, skus=skus, order_ids=[placed["id"]])


async def test_twelve_concurrent_orders_with_one_idempotency_key_make_one_order(
    gql: GraphQLClient,
    manager: Account,
    customer: Account,
    other_customer: Account,
    resources: Resources,
) -> None:
    sku = unique("SKU")
    await stock(gql, manager.token, sku, [5])
    key = unique("key")
    fields = {
        "customerName": "Ada",
        "items": [{"sku": sku, "quantity": 1}],
        "idempotencyKey": key,
    }

    def place(account: Account) -> Awaitable[dict[str, Any]]:
        return gql.post(given.CREATE_ORDER, {"i": fields}, account.token)

    bodies, retries = await gather_counting_retries(resources, [place(customer) for _ in range(12)])
    report(
        "12 concurrent createOrder with one idempotency key", [outcome(b) for b in bodies], retries
    )
    assert [outcome(b) for b in bodies] == ["ok"] * 12
    ids = {b["data"]["createOrder"]["id"] for b in bodies}
    assert len(ids) == 1
    mine = await resources.db.orders.find({"idempotencyId": f"{customer.id}:{key}"}).to_list()
    assert [str(o["_id"]) for o in mine] == list(ids)
    assert await resources.db.orders.count_documents({"lines.sku": sku}) == 1

    # The same key is another user's own key: it makes a different order, once.
    theirs, _ = await gather_counting_retries(resources, [place(other_customer) for _ in range(4)])
    their_ids = {b["data"]["createOrder"]["id"] for b in theirs}
    assert len(their_ids) == 1
    assert their_ids != ids
    assert await resources.db.orders.count_documents({"lines.sku": sku}) == 2
    created_by = {b["data"]["createOrder"]["createdBy"]["id"] for b in theirs}
    assert created_by == {other_customer.id}


async def test_under_short_deadlines_an_adjustment_answered_retry_was_never_written(
    gql: GraphQLClient, manager: Account, picker: Account, resources: Resources, settings: Settings
) -> None:
    # 40 concurrent adjustments of one bin's items, deadlines so short that many run past
    # them: each answer is either the write (one ledger line with its reason) or
    # SERVICE_UNAVAILABLE with nothing written, never "retry" for a write that went in.
    b = await given.bin(gql, manager.token, capacity=100_000)
    stock = [await given.item(gql, manager.token, bin_id=b["id"], quantity=1000) for _ in range(10)]
    seen: Counter[str] = Counter()
    for timeout in (0.1, 0.2):
        server = LiveServer(create_app(dataclasses.replace(settings, request_timeout_s=timeout)))
        await server.start()
        reasons = [unique(f"t{timeout}") for _ in range(40)]
        try:
            limits = httpx.Limits(max_connections=40)
            async with httpx.AsyncClient(base_url=server.http_url, limits=limits) as http:
                responses = await asyncio.gather(
                    *(
                        http.post(
                            "/graphql",
                            json={
                                "query": given.ADJUST,
                                "variables": {"id": stock[n % 10]["id"], "d": 1, "r": reason},
                            },
                            headers={"Authorization": f"Bearer {picker.token}"},
                            timeout=30,
                        )
                        for n, reason in enumerate(reasons)
                    )
                )
        finally:
            await server.stop()
        for reason, response in zip(reasons, responses, strict=True):
            errors = response.json().get("errors")
            code = errors[0]["extensions"]["code"] if errors else "ok"
            written = await resources.db.movements.count_documents({"reason": reason})
            assert (code, written) in {("ok", 1), ("SERVICE_UNAVAILABLE", 0)}, (reason, code)
            seen[code] += 1
    assert seen["SERVICE_UNAVAILABLE"] > 0, seen  # the deadlines did cut some short
    await assert_invariants(resources.db, bin_ids=[b["id"]])
