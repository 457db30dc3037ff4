"""/api/v1: resources over the same services as GraphQL - status codes, problem details,
ETag/If-Match, Idempotency-Key, pages with Link headers, permissions and visibility."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from bson import ObjectId

import warehouse_gql.store.items
from tests import given
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.api.rest.problems import refusal
from warehouse_gql.domain.errors import PayloadTooLarge, RateLimited

API = "/api/v1"
PROBLEM = "application/problem+json"
UNKNOWN_ID = "0123456789abcdef01234567"


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem details of a response that must have failed with this status and code."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:warehouse-gql:problem:{code}"
    assert body["requestId"] == response.headers["x-request-id"]
    assert body["detail"]
    return body


async def new_bin(http: httpx.AsyncClient, manager: Account, capacity: int = 100) -> httpx.Response:
    response = await http.post(
        f"{API}/bins", json={"location": unique("R"), "capacity": capacity}, headers=auth(manager)
    )
    assert response.status_code == 201, response.text
    return response


async def new_item(
    http: httpx.AsyncClient, manager: Account, bin_id: str, quantity: int, sku: str | None = None
) -> httpx.Response:
    response = await http.post(
        f"{API}/items",
        json={"name": "Widget", "sku": sku or unique("SKU"), "binId": bin_id, "quantity": quantity},
        headers=auth(manager),
    )
    assert response.status_code == 201, response.text
    return response


# Resources and their lifecycle


async def test_a_bin_is_created_read_updated_and_deleted_with_locations_and_etags(
    http: httpx.AsyncClient, manager: Account
) -> None:
    created = await new_bin(http, manager, capacity=50)
    bin = created.json()
    assert created.headers["location"] == f"{API}/bins/{bin['id']}"
    assert bin["capacity"] == 50
    assert bin["currentLoad"] == 0
    assert bin["freeCapacity"] == 50

    read = await http.get(created.headers["location"], headers=auth(manager))
    assert read.status_code == 200
    assert read.json() == bin
    assert read.headers["etag"] == created.headers["etag"]

    patched = await http.patch(
        f"{API}/bins/{bin['id']}", json={"capacity": 80}, headers=auth(manager)
    )
    assert patched.status_code == 200
    assert patched.json()["capacity"] == 80
    assert patched.json()["freeCapacity"] == 80
    assert patched.headers["etag"] != read.headers["etag"]

    deleted = await http.delete(f"{API}/bins/{bin['id']}", headers=auth(manager))
    assert deleted.status_code == 204
    assert deleted.content == b""
    problem(await http.get(f"{API}/bins/{bin['id']}", headers=auth(manager)), 404, "NOT_FOUND")


async def test_what_a_create_returns_equals_a_later_read_on_both_doors_to_the_millisecond(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    rest = (await new_bin(http, manager)).json()
    assert rest == (await http.get(f"{API}/bins/{rest['id']}", headers=auth(manager))).json()
    assert rest["createdAt"].endswith("000+00:00")

    fields = "id location createdAt updatedAt"
    created = await gql.ok(
        f"mutation($i: CreateBinInput!) {{ createBin(input: $i) {{ {fields} }} }}",
        {"i": {"location": unique("G"), "capacity": 5}},
        manager.token,
    )
    read = await gql.ok(
        f"query($id: ID!) {{ bin(id: $id) {{ {fields} }} }}",
        {"id": created["createBin"]["id"]},
        manager.token,
    )
    assert created["createBin"] == read["bin"]


async def test_stock_moves_over_rest_keep_the_ledger_and_loads_exact(
    http: httpx.AsyncClient, manager: Account, picker: Account, resources: Resources
) -> None:
    source = (await new_bin(http, manager)).json()
    target = (await new_bin(http, manager)).json()
    item = (await new_item(http, picker, source["id"], 10)).json()

    adjusted = await http.post(
        f"{API}/items/{item['id']}/adjust",
        json={"delta": 5, "reason": "PO-1"},
        headers=auth(picker),
    )
    assert adjusted.status_code == 200
    assert adjusted.json()["quantity"] == 15
    moved = await http.post(
        f"{API}/items/{item['id']}/move",
        json={"toBinId": target["id"], "quantity": 6},
        headers=auth(picker),
    )
    assert moved.status_code == 200
    assert moved.json()["binId"] == target["id"]
    assert moved.json()["quantity"] == 6

    stock = await http.get(f"{API}/stock/{item['sku']}", headers=auth(picker))
    assert stock.json() == {"sku": item["sku"], "quantity": 15}
    ledger = await http.get(f"{API}/movements", params={"sku": item["sku"]}, headers=auth(picker))
    assert [(m["delta"], m["reason"]) for m in ledger.json()["data"]] == [
        (10, "create"),
        (5, "PO-1"),
        (-6, "move"),
        (6, "move"),
    ]
    loads = {
        b["_id"]: b["currentLoad"]
        async for b in resources.db.bins.find(
            {"_id": {"$in": [ObjectId(source["id"]), ObjectId(target["id"])]}}
        )
    }
    assert loads == {ObjectId(source["id"]): 9, ObjectId(target["id"]): 6}


async def test_an_order_is_placed_fulfilled_shipped_and_delivered_over_rest(
    http: httpx.AsyncClient, manager: Account, picker: Account, customer: Account
) -> None:
    bin = (await new_bin(http, manager)).json()
    item = (await new_item(http, manager, bin["id"], 10)).json()
    placed = await http.post(
        f"{API}/orders",
        json={"customerName": "Ada", "items": [{"sku": item["sku"], "quantity": 4}]},
        headers=auth(customer),
    )
    assert placed.status_code == 201
    order = placed.json()
    assert order["status"] == "PENDING"
    assert order["createdById"] == customer.id

    fulfilled = await http.post(f"{API}/orders/{order['id']}/fulfill", headers=auth(picker))
    assert fulfilled.status_code == 200
    assert fulfilled.json()["picks"] == [
        {"sku": item["sku"], "quantity": 4, "binId": bin["id"], "binLocation": bin["location"]}
    ]
    # Customers never see bins, not even in their own order's picks.
    own = await http.get(f"{API}/orders/{order['id']}", headers=auth(customer))
    assert own.json()["picks"] == [
        {"sku": item["sku"], "quantity": 4, "binId": None, "binLocation": None}
    ]

    shipped = await http.post(
        f"{API}/shipments",
        json={"orderId": order["id"], "carrier": "DHL", "trackingNumber": unique("JD")},
        headers=auth(picker),
    )
    assert shipped.status_code == 201
    assert shipped.json()["status"] == "IN_TRANSIT"
    shipment = shipped.json()
    delivered = await http.patch(
        f"{API}/shipments/{shipment['id']}", json={"status": "DELIVERED"}, headers=auth(picker)
    )
    assert delivered.json()["status"] == "DELIVERED"
    again = await http.patch(
        f"{API}/shipments/{shipment['id']}", json={"status": "IN_TRANSIT"}, headers=auth(picker)
    )
    problem(again, 409, "INVALID_TRANSITION")
    order_now = await http.get(f"{API}/orders/{order['id']}", headers=auth(manager))
    assert order_now.json()["status"] == "SHIPPED"


# Permissions and visibility: the same matrix and rule as GraphQL


async def test_roles_get_the_matrixs_answers_as_http_statuses(
    http: httpx.AsyncClient, picker: Account, customer: Account
) -> None:
    anonymous = await http.get(f"{API}/bins")
    problem(anonymous, 401, "UNAUTHENTICATED")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    forbidden = problem(
        await http.post(f"{API}/bins", json={"location": "X", "capacity": 1}, headers=auth(picker)),
        403,
        "FORBIDDEN",
    )
    assert forbidden["detail"] == "Your role PICKER may not use createBin."
    problem(await http.get(f"{API}/items", headers=auth(customer)), 403, "FORBIDDEN")
    problem(await http.get(f"{API}/users", headers=auth(picker)), 403, "FORBIDDEN")
    assert (await http.get(f"{API}/stock/ANY-SKU", headers=auth(customer))).json() == {
        "sku": "ANY-SKU",
        "quantity": 0,
    }


async def test_a_customer_reading_another_customers_order_or_shipment_gets_404(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    manager: Account,
    customer: Account,
    other_customer: Account,
) -> None:
    bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=bin["id"], quantity=5)
    order = await given.order(gql, customer.token, [(item["sku"], 1)])
    await gql.ok(given.FULFILL, {"id": order["id"]}, manager.token)
    shipment = (
        await gql.ok(
            given.CREATE_SHIPMENT,
            {"i": {"orderId": order["id"], "carrier": "UPS", "trackingNumber": unique("1Z")}},
            manager.token,
        )
    )["createShipment"]

    for path in (f"/orders/{order['id']}", f"/shipments/{shipment['id']}"):
        assert (await http.get(API + path, headers=auth(customer))).status_code == 200
        hidden = problem(await http.get(API + path, headers=auth(other_customer)), 404, "NOT_FOUND")
        unknown = problem(
            await http.get(
                API + path.rsplit("/", 1)[0] + f"/{UNKNOWN_ID}", headers=auth(other_customer)
            ),
            404,
            "NOT_FOUND",
        )
        assert hidden.keys() == unknown.keys()
    problem(
        await http.post(f"{API}/orders/{order['id']}/cancel", headers=auth(other_customer)),
        404,
        "NOT_FOUND",
    )
    listed = await http.get(f"{API}/orders", headers=auth(other_customer))
    assert order["id"] not in [o["id"] for o in listed.json()["data"]]
    shipments = await http.get(f"{API}/shipments", headers=auth(other_customer))
    assert shipment["id"] not in [s["id"] for s in shipments.json()["data"]]


# ETag and If-Match


async def test_a_stale_if_match_is_412_and_changes_nothing(
    http: httpx.AsyncClient, manager: Account, resources: Resources
) -> None:
    bin = await new_bin(http, manager)
    stale = bin.headers["etag"]
    item = await new_item(http, manager, bin.json()["id"], 7)  # the bin's load, so its tag, moves
    item_id = item.json()["id"]
    before = await given.raw_state(resources.db, bin_ids=[bin.json()["id"]])

    for response in (
        await http.patch(
            f"{API}/bins/{bin.json()['id']}",
            json={"capacity": 90},
            headers={**auth(manager), "If-Match": stale},
        ),
        await http.delete(
            f"{API}/bins/{bin.json()['id']}", headers={**auth(manager), "If-Match": stale}
        ),
        await http.post(
            f"{API}/bins/{bin.json()['id']}/count",
            json={"lines": [{"sku": item.json()["sku"], "quantity": 3}]},
            headers={**auth(manager), "If-Match": stale},
        ),
        await http.post(
            f"{API}/items/{item_id}/adjust",
            json={"delta": -2, "reason": "breakage"},
            headers={**auth(manager), "If-Match": '"r0"'},
        ),
    ):
        body = problem(response, 412, "PRECONDITION_FAILED")
        assert "read it again" in body["detail"]
    assert await given.raw_state(resources.db, bin_ids=[bin.json()["id"]]) == before

    fresh = await http.get(f"{API}/items/{item_id}", headers=auth(manager))
    applied = await http.post(
        f"{API}/items/{item_id}/adjust",
        json={"delta": -2, "reason": "breakage"},
        headers={**auth(manager), "If-Match": fresh.headers["etag"]},
    )
    assert applied.status_code == 200
    assert applied.json()["quantity"] == 5
    assert applied.headers["etag"] != fresh.headers["etag"]


async def test_two_concurrent_writes_with_one_if_match_let_exactly_one_through(
    http: httpx.AsyncClient, manager: Account, resources: Resources
) -> None:
    bin = (await new_bin(http, manager)).json()
    item = await new_item(http, manager, bin["id"], 50)
    tag = item.headers["etag"]

    async def take(n: int) -> httpx.Response:
        return await http.post(
            f"{API}/items/{item.json()['id']}/adjust",
            json={"delta": -n, "reason": f"handheld {n}"},
            headers={**auth(manager), "If-Match": tag},
        )

    responses = await asyncio.gather(*(take(n) for n in range(1, 7)))
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412, 412, 412]
    winner = next(r for r in responses if r.status_code == 200).json()
    doc = await resources.db.items.find_one({"_id": ObjectId(item.json()["id"])})
    assert doc is not None
    assert doc["quantity"] == winner["quantity"]
    moved = await resources.db.movements.count_documents({"itemId": ObjectId(item.json()["id"])})
    assert moved == 2  # the create and the one write that applied


async def test_if_match_star_and_weak_tags_are_accepted_and_a_list_matches_any(
    http: httpx.AsyncClient, manager: Account
) -> None:
    bin = await new_bin(http, manager)
    path = f"{API}/bins/{bin.json()['id']}"
    star = await http.patch(path, json={"capacity": 60}, headers={**auth(manager), "If-Match": "*"})
    assert star.status_code == 200
    weak = await http.patch(
        path,
        json={"capacity": 70},
        headers={**auth(manager), "If-Match": f'"v999", W/{star.headers["etag"]}'},
    )
    assert weak.status_code == 200
    assert weak.json()["capacity"] == 70


# Idempotency-Key


async def test_an_idempotency_key_creates_once_and_replays_answer_200_with_the_same_order(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=bin["id"], quantity=5)
    key = unique("checkout")
    body = {"customerName": "ACME", "items": [{"sku": item["sku"], "quantity": 1}]}
    headers = {**auth(manager), "Idempotency-Key": key}

    first = await http.post(f"{API}/orders", json=body, headers=headers)
    assert first.status_code == 201
    replays = await asyncio.gather(
        *(http.post(f"{API}/orders", json=body, headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in replays} == {200}
    assert {r.json()["id"] for r in replays} == {first.json()["id"]}
    count = await resources.db.orders.count_documents({"idempotencyId": f"{manager.id}:{key}"})
    assert count == 1


async def test_concurrent_first_requests_with_one_idempotency_key_create_one_order(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account, resources: Resources
) -> None:
    bin = await given.bin(gql, manager.token)
    item = await given.item(gql, manager.token, bin_id=bin["id"], quantity=5)
    key = unique("race")
    body = {"customerName": "ACME", "items": [{"sku": item["sku"], "quantity": 1}]}
    responses = await asyncio.gather(
        *(
            http.post(f"{API}/orders", json=body, headers={**auth(manager), "Idempotency-Key": key})
            for _ in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    count = await resources.db.orders.count_documents({"idempotencyId": f"{manager.id}:{key}"})
    assert count == 1


# Lists


async def test_lists_page_oldest_first_with_next_cursor_total_count_and_link(
    http: httpx.AsyncClient, manager: Account
) -> None:
    prefix = unique("PG")
    made = []
    for n in range(5):
        response = await http.post(
            f"{API}/bins", json={"location": f"{prefix}-{n}", "capacity": 1}, headers=auth(manager)
        )
        made.append(response.json()["id"])
    seen: list[str] = []
    url: str | None = f"{API}/bins?limit=2&locationPrefix={prefix}"
    pages = 0
    while url is not None:
        response = await http.get(url, headers=auth(manager))
        page = response.json()
        assert page["totalCount"] == 5
        seen += [b["id"] for b in page["data"]]
        pages += 1
        link = response.headers.get("link")
        if page["nextCursor"] is None:
            assert link is None
            url = None
        else:
            assert link is not None
            assert link.endswith('>; rel="next"')
            url = link[1 : link.index(">")]
            assert f"after={page['nextCursor']}" in url
    assert seen == made
    assert pages == 3


async def test_a_page_size_or_cursor_out_of_range_is_422_naming_the_parameter(
    http: httpx.AsyncClient, manager: Account
) -> None:
    too_big = problem(
        await http.get(f"{API}/bins?limit=101", headers=auth(manager)), 422, "BAD_USER_INPUT"
    )
    assert too_big["field"] == "limit"
    not_a_number = problem(
        await http.get(f"{API}/bins?limit=many", headers=auth(manager)), 422, "BAD_USER_INPUT"
    )
    assert not_a_number["field"] == "limit"
    cursor = problem(
        await http.get(f"{API}/items?after=nonsense", headers=auth(manager)), 422, "BAD_USER_INPUT"
    )
    assert cursor["field"] == "after"
    status = problem(
        await http.get(f"{API}/orders?status=LOST", headers=auth(manager)), 422, "BAD_USER_INPUT"
    )
    assert status["field"] == "status"


# Bad requests: always problem details, never HTML or a trace


async def test_a_body_that_is_not_json_is_400_and_a_wrong_shape_is_422_naming_the_field(
    http: httpx.AsyncClient, manager: Account
) -> None:
    for raw in (b"{not json", b"", b'{"location": "\\ud800", "capacity": 1}', b"\xff\xfe"):
        response = await http.post(
            f"{API}/bins",
            content=raw,
            headers={**auth(manager), "content-type": "application/json"},
        )
        problem(response, 400, "BAD_USER_INPUT")
    wrong = problem(
        await http.post(
            f"{API}/bins", json={"location": "A-1", "capacity": "5"}, headers=auth(manager)
        ),
        422,
        "BAD_USER_INPUT",
    )
    assert wrong["field"] == "capacity"
    missing = problem(
        await http.post(f"{API}/bins", json={"capacity": 5}, headers=auth(manager)),
        422,
        "BAD_USER_INPUT",
    )
    assert missing["field"] == "location"
    assert missing["detail"] == "The request body needs location."
    unknown = problem(
        await http.post(
            f"{API}/bins",
            json={"location": "A-1", "capacity": 5, "colour": "red"},
            headers=auth(manager),
        ),
        422,
        "BAD_USER_INPUT",
    )
    assert unknown["field"] == "colour"
    rule = problem(
        await http.post(
            f"{API}/bins", json={"location": "  ", "capacity": 5}, headers=auth(manager)
        ),
        422,
        "BAD_USER_INPUT",
    )
    assert rule["field"] == "location"  # the service's own rule, as in GraphQL
    huge = problem(
        await http.post(
            f"{API}/bins", json={"location": "A-1", "capacity": 2**40}, headers=auth(manager)
        ),
        422,
        "BAD_USER_INPUT",
    )
    assert huge["field"] == "capacity"


async def test_unknown_routes_are_404_and_wrong_methods_405_with_allow(
    http: httpx.AsyncClient, manager: Account
) -> None:
    problem(await http.get(f"{API}/warehouses", headers=auth(manager)), 404, "NOT_FOUND")
    problem(await http.get(f"{API}/bins/a/b/c"), 404, "NOT_FOUND")
    problem(await http.post(f"{API}/orders/a%0Ab/fulfill", headers=auth(manager)), 404, "NOT_FOUND")
    problem(await http.get(API), 404, "NOT_FOUND")
    wrong = await http.put(f"{API}/bins", json={}, headers=auth(manager))
    problem(wrong, 405, "BAD_USER_INPUT")
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    delete_me = await http.delete(f"{API}/me", headers=auth(manager))
    problem(delete_me, 405, "BAD_USER_INPUT")


async def test_a_body_over_the_limit_is_413_and_read_no_further(
    http: httpx.AsyncClient, manager: Account
) -> None:
    big = json.dumps({"location": "x" * (2 << 20), "capacity": 1})
    response = await http.post(
        f"{API}/bins", content=big, headers={**auth(manager), "content-type": "application/json"}
    )
    problem(response, 413, "PAYLOAD_TOO_LARGE")


async def test_an_unexpected_error_is_a_masked_500_with_the_request_id(
    http: httpx.AsyncClient, manager: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(warehouse_gql.store.items, "stock_level", broken)
    response = await http.get(
        f"{API}/stock/SKU-1", headers={**auth(manager), "x-request-id": "req-rest-500"}
    )
    body = problem(response, 500, "INTERNAL_SERVER_ERROR")
    assert body["requestId"] == "req-rest-500"
    assert "secret" not in response.text
    assert "Traceback" not in response.text


# Sessions


async def test_sign_up_log_in_me_and_log_out_over_rest(http: httpx.AsyncClient) -> None:
    username = unique("rest")
    signed = await http.post(
        f"{API}/auth/signup",
        json={
            "username": username,
            "email": f"{username}@example.com",
            "password": "long enough pw",
        },
    )
    assert signed.status_code == 201
    assert signed.json()["user"]["role"] == "CUSTOMER"
    logged = await http.post(
        f"{API}/auth/login", json={"username": username, "password": "long enough pw"}
    )
    assert logged.status_code == 200
    token = logged.json()["token"]
    me = await http.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == username
    assert me.json()["email"] == f"{username}@example.com"
    out = await http.post(f"{API}/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    problem(
        await http.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}),
        401,
        "UNAUTHENTICATED",
    )
    wrong = await http.post(
        f"{API}/auth/login", json={"username": username, "password": "nope nope"}
    )
    problem(wrong, 401, "UNAUTHENTICATED")


async def test_a_manager_changes_a_role_with_if_match(
    http: httpx.AsyncClient, manager: Account, resources: Resources
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    someone = await make_account(resources, Role.CUSTOMER)
    users = await http.get(f"{API}/users?limit=100", headers=auth(manager))
    assert users.status_code == 200
    stale = '"t1"'
    refused = await http.patch(
        f"{API}/users/{someone.id}",
        json={"role": "PICKER"},
        headers={**auth(manager), "If-Match": stale},
    )
    problem(refused, 412, "PRECONDITION_FAILED")
    changed = await http.patch(
        f"{API}/users/{someone.id}", json={"role": "PICKER"}, headers=auth(manager)
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "PICKER"
    assert (await http.get(f"{API}/bins?limit=1", headers=auth(someone))).status_code == 200


def test_a_refusal_before_the_door_is_a_problem_with_the_request_id() -> None:
    scope = {"type": "http", "path": "/api/v1/bins", "headers": [(b"x-request-id", b"req-413")]}
    status, headers, body = refusal(PayloadTooLarge(1024), scope)
    assert status == 413
    assert dict(headers)[b"content-type"] == b"application/problem+json"
    assert json.loads(body) == {
        "type": "urn:warehouse-gql:problem:PAYLOAD_TOO_LARGE",
        "title": "Request Entity Too Large",
        "status": 413,
        "detail": "The request is larger than the limit of 1024 bytes.",
        "code": "PAYLOAD_TOO_LARGE",
        "requestId": "req-413",
    }
    limited, limited_headers, _ = refusal(RateLimited("Slow down.", retry_after=7), scope)
    assert limited == 429
    assert dict(limited_headers)[b"retry-after"] == b"7"


async def test_every_graphql_create_and_update_returns_the_times_a_later_read_returns(
    gql: GraphQLClient, manager: Account
) -> None:
    times = "id createdAt updatedAt"
    bin = await given.bin(gql, manager.token)
    made = await gql.ok(
        f"mutation($i: CreateItemInput!) {{ createItem(input: $i) {{ {times} sku }} }}",
        {"i": {"name": "W", "sku": unique("SKU"), "binId": bin["id"], "quantity": 9}},
        manager.token,
    )
    item = made["createItem"]
    adjusted = await gql.ok(
        f'mutation($id: ID!) {{ adjustItemQuantity(id: $id, delta: 1, reason: "r") {{ {times} }} }}',
        {"id": item["id"]},
        manager.token,
    )
    read = await gql.ok(
        f"query($id: ID!) {{ item(id: $id) {{ {times} }} }}", {"id": item["id"]}, manager.token
    )
    assert adjusted["adjustItemQuantity"] == read["item"]

    placed = await gql.ok(
        f"mutation($i: CreateOrderInput!) {{ createOrder(input: $i) {{ {times} }} }}",
        {"i": {"customerName": "Ada", "items": [{"sku": item["sku"], "quantity": 2}]}},
        manager.token,
    )
    order_id = placed["createOrder"]["id"]
    fulfilled = await gql.ok(
        f"mutation($id: ID!) {{ fulfillOrder(id: $id) {{ {times} }} }}",
        {"id": order_id},
        manager.token,
    )
    shipped = await gql.ok(
        f"mutation($i: CreateShipmentInput!) {{ createShipment(input: $i) {{ {times} }} }}",
        {"i": {"orderId": order_id, "carrier": "DHL", "trackingNumber": unique("JD")}},
        manager.token,
    )
    order_read = await gql.ok(
        f"query($id: ID!) {{ order(id: $id) {{ {times} }} }}", {"id": order_id}, manager.token
    )
    shipment_read = await gql.ok(
        f"query($id: ID!) {{ shipment(id: $id) {{ {times} }} }}",
        {"id": shipped["createShipment"]["id"]},
        manager.token,
    )
    assert placed["createOrder"]["createdAt"] == order_read["order"]["createdAt"]
    assert fulfilled["fulfillOrder"]["createdAt"] == order_read["order"]["createdAt"]
    assert shipped["createShipment"] == shipment_read["shipment"]


async def test_an_area_can_answer_with_a_stream_of_its_own_and_the_document_says_so(
    resources: Resources, manager: Account
) -> None:
    from starlette.responses import StreamingResponse

    from warehouse_gql.api.rest.app import RestApi
    from warehouse_gql.api.rest.endpoints import Call, Endpoints, Reply

    area = Endpoints("feed", "A stream.")

    @area.route(
        "GET", "/ticks", operation_id="ticks", summary="Ticks", media_type="text/event-stream"
    )
    async def ticks(call: Call) -> Reply:
        await call.authorize("readOrders")

        async def events() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"id: {n}\ndata: tick\n\n".encode()

        return Reply(raw=StreamingResponse(events(), media_type="text/event-stream"))

    api = RestApi((area,))
    api.resources = resources
    operation = api.document["paths"]["/ticks"]["get"]
    assert operation["responses"]["200"]["content"] == {
        "text/event-stream": {"schema": {"type": "string"}}
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://t") as c:
        refused = await c.get("/ticks")
        problem(refused, 401, "UNAUTHENTICATED")
        streamed = await c.get("/ticks", headers=auth(manager))
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.count("data: tick") == 3


async def test_two_concurrent_role_changes_with_one_if_match_let_exactly_one_through(
    http: httpx.AsyncClient, manager: Account, resources: Resources
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    someone = await make_account(resources, Role.CUSTOMER)
    users = await http.get(f"{API}/users?limit=100", headers=auth(manager))
    assert users.status_code == 200
    fresh = await http.patch(
        f"{API}/users/{someone.id}", json={"role": "CUSTOMER"}, headers=auth(manager)
    )
    tag = fresh.headers["etag"]
    responses = await asyncio.gather(
        *(
            http.patch(
                f"{API}/users/{someone.id}",
                json={"role": role},
                headers={**auth(manager), "If-Match": tag},
            )
            for role in ("PICKER", "MANAGER")
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status_code == 200).json()["role"]
    doc = await resources.db.users.find_one({"_id": ObjectId(someone.id)})
    assert doc is not None
    assert doc["role"] == winner


async def test_head_answers_with_the_status_and_etag_of_get(
    http: httpx.AsyncClient, manager: Account
) -> None:
    created = await new_bin(http, manager)
    head = await http.head(created.headers["location"], headers=auth(manager))
    assert head.status_code == 200
    assert head.headers["etag"] == created.headers["etag"]


async def test_if_none_match_with_the_current_etag_is_304_and_a_change_makes_it_200(
    http: httpx.AsyncClient, manager: Account
) -> None:
    created = await new_bin(http, manager)
    path, tag = created.headers["location"], created.headers["etag"]
    cached = await http.get(path, headers={**auth(manager), "If-None-Match": tag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == tag
    await http.patch(path, json={"capacity": 7}, headers=auth(manager))
    changed = await http.get(path, headers={**auth(manager), "If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.json()["capacity"] == 7
