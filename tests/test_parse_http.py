"""/parse over plain HTTP with the `X-Parse-*` header convention (the REST API, the iOS, Android
and Flutter SDKs), and the JavaScript SDK's text/plain body convention sent by hand."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests import given
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.app import create_app
from warehouse_gql.settings import Settings

APP = {"X-Parse-Application-Id": "warehouse"}


def parse_headers(account: Account | None = None, **extra: str) -> dict[str, str]:
    headers = dict(APP)
    if account is not None:
        headers["X-Parse-Session-Token"] = f"r:{account.token}"
    return headers | extra


async def parse(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    account: Account | None = None,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
    return await http.request(
        method,
        f"/parse/{path}",
        headers=parse_headers(account, **(headers or {})),
        json=body,
        params=query,
    )


async def stocked_item(
    gql: GraphQLClient, manager: Account, quantity: int, capacity: int = 100
) -> tuple[dict[str, Any], dict[str, Any]]:
    b = await given.bin(gql, manager.token, capacity=capacity)
    item = await given.item(gql, manager.token, bin_id=b["id"], quantity=quantity)
    return b, item


async def test_health_answers_without_an_application_id(http: httpx.AsyncClient) -> None:
    response = await http.get("/parse/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_a_missing_or_wrong_application_id_is_unauthorized(
    http: httpx.AsyncClient, manager: Account
) -> None:
    for headers in ({}, {"X-Parse-Application-Id": "another-app"}):
        response = await http.get("/parse/classes/Bin", headers=headers)
        assert (response.status_code, response.json()) == (403, {"error": "unauthorized"})


async def test_the_master_key_is_refused_with_code_119(
    http: httpx.AsyncClient, manager: Account
) -> None:
    response = await parse(http, "GET", "classes/Bin", manager, headers={"X-Parse-Master-Key": "x"})
    assert response.status_code == 403
    assert response.json()["code"] == 119


async def test_sign_up_returns_an_r_token_that_works_on_graphql_with_and_without_the_prefix(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    username = unique("parse")
    response = await parse(
        http,
        "POST",
        "users",
        body={
            "username": username,
            "password": "correct horse battery",
            "email": f"{username}@example.com",
        },
    )
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"objectId", "createdAt", "sessionToken"}
    assert created["sessionToken"].startswith("r:")
    assert response.headers["location"].endswith(f"/parse/users/{created['objectId']}")
    for token in (created["sessionToken"], created["sessionToken"][2:]):
        me = await gql.ok("{ me { id username role } }", token=token)
        assert me["me"] == {"id": created["objectId"], "username": username, "role": "CUSTOMER"}


async def test_sign_up_with_a_role_is_refused_and_makes_no_user(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    username = unique("boss")
    response = await parse(
        http,
        "POST",
        "users",
        body={
            "username": username,
            "password": "pw-long-enough",
            "email": f"{username}@e.com",
            "role": "Manager",
        },
    )
    assert (response.status_code, response.json()["code"]) == (403, 119)
    assert await resources.db.users.find_one({"username": username}) is None


async def test_log_in_with_a_wrong_password_is_404_code_101_and_with_the_right_one_returns_a_session(
    http: httpx.AsyncClient, customer: Account
) -> None:
    wrong = await parse(
        http, "GET", "login", params={"username": customer.username, "password": "nope"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (404, 101)
    right = await parse(
        http,
        "POST",
        "login",
        body={"username": customer.username, "password": "correct horse battery"},
    )
    assert right.status_code == 200
    body = right.json()
    assert body["objectId"] == customer.id
    assert body["role"] == "Customer"
    assert body["sessionToken"].startswith("r:")


async def test_a_bad_session_token_is_400_code_209(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/parse/classes/Order", headers=APP | {"X-Parse-Session-Token": "r:nonsense"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": 209,
        "error": "Invalid session token",
        "reason": "UNAUTHENTICATED",
    }


async def test_no_session_is_403_code_119(http: httpx.AsyncClient) -> None:
    response = await parse(http, "GET", "classes/Order")
    assert (response.status_code, response.json()["code"]) == (403, 119)
    assert response.json()["reason"] == "UNAUTHENTICATED"


async def test_log_out_ends_the_session_on_every_api(
    http: httpx.AsyncClient, gql: GraphQLClient, resources: Resources
) -> None:
    from tests.accounts import make_account
    from warehouse_gql.domain.access import Role

    account = await make_account(resources, Role.PICKER)
    assert (await parse(http, "POST", "logout", account)).json() == {}
    again = await parse(http, "GET", "users/me", account)
    assert (again.status_code, again.json()["code"]) == (400, 209)
    assert await gql.code("{ me { id } }", token=account.token) == "UNAUTHENTICATED"


async def test_a_customer_may_not_read_items_or_bins_at_all(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    b, item = await stocked_item(gql, manager, 3)
    for path in (
        "classes/Item",
        f"classes/Item/{item['id']}",
        "classes/Bin",
        f"classes/Bin/{b['id']}",
    ):
        response = await parse(http, "GET", path, customer)
        assert (response.status_code, response.json()["code"]) == (403, 119), path


async def test_another_customers_order_is_404_code_101_like_an_unknown_id(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    manager: Account,
    customer: Account,
    other_customer: Account,
) -> None:
    _, item = await stocked_item(gql, manager, 3)
    order = await given.order(gql, customer.token, [(item["sku"], 1)])
    mine = await parse(http, "GET", f"classes/Order/{order['id']}", customer)
    assert mine.status_code == 200
    assert mine.json()["status"] == "pending"
    assert mine.json()["createdBy"] == {
        "__type": "Pointer",
        "className": "_User",
        "objectId": customer.id,
    }
    for object_id in (order["id"], "0" * 24, "not-an-id"):
        theirs = await parse(http, "GET", f"classes/Order/{object_id}", other_customer)
        assert (theirs.status_code, theirs.json()["code"]) == (404, 101)
    listed = await parse(
        http, "GET", "classes/Order", other_customer, params={"where": {"objectId": order["id"]}}
    )
    assert listed.json() == {"results": []}


async def test_a_query_with_include_keys_order_and_count(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account, picker: Account
) -> None:
    b = await given.bin(gql, manager.token, capacity=100)
    sku = unique("SKU")
    for quantity in (5, 1, 3):
        other = await given.bin(gql, manager.token, capacity=100)
        await given.item(gql, manager.token, bin_id=other["id"], quantity=quantity, sku=sku)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=9)
    response = await parse(
        http,
        "GET",
        "classes/Item",
        picker,
        params={
            "where": {"sku": sku, "quantity": {"$gte": 2}},
            "order": "-quantity",
            "keys": "quantity,bin",
            "include": "bin",
            "count": "1",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2
    assert [r["quantity"] for r in body["results"]] == [5, 3]
    first = body["results"][0]
    assert set(first) == {"objectId", "createdAt", "updatedAt", "quantity", "bin"}
    assert first["bin"]["__type"] == "Object"
    assert first["bin"]["className"] == "Bin"
    assert first["bin"]["currentLoad"] == 5


async def test_starts_with_is_served_as_a_prefix_and_other_regexes_are_102(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    prefix = unique("PFX")
    b = await given.bin(gql, manager.token)
    await given.item(gql, manager.token, bin_id=b["id"], quantity=1, sku=f"{prefix}-A.1")
    await given.item(gql, manager.token, bin_id=b["id"], quantity=1, sku=f"{prefix}X")
    found = await parse(
        http,
        "GET",
        "classes/Item",
        manager,
        params={"where": {"sku": {"$regex": f"^\\Q{prefix}-A.\\E"}}},
    )
    assert [r["sku"] for r in found.json()["results"]] == [f"{prefix}-A.1"]
    refused = await parse(
        http, "GET", "classes/Item", manager, params={"where": {"sku": {"$regex": f"{prefix}.*"}}}
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == 102
    assert "$regex" in refused.json()["error"]


@pytest.mark.parametrize(
    ("where", "named"),
    [
        ({"quantity": {"$mod": [2, 0]}}, "$mod"),
        ({"$or": [{"sku": "A"}, {"sku": "B"}]}, "$or"),
        ({"colour": "red"}, "colour"),
        ({"bin": {"$inQuery": {"className": "Bin", "where": {}}}}, "$inQuery"),
    ],
)
async def test_an_unsupported_where_is_102_naming_it(
    http: httpx.AsyncClient, manager: Account, where: dict[str, Any], named: str
) -> None:
    response = await parse(http, "GET", "classes/Item", manager, params={"where": where})
    assert response.status_code == 400
    assert response.json()["code"] == 102
    assert named in response.json()["error"]


async def test_an_unknown_class_is_103(http: httpx.AsyncClient, manager: Account) -> None:
    response = await parse(http, "GET", "classes/Widget", manager)
    assert (response.status_code, response.json()["code"]) == (400, 103)


async def test_an_increment_that_takes_more_than_there_is_is_142_and_changes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account, picker: Account
) -> None:
    _, item = await stocked_item(gql, manager, 4)
    path = f"classes/Item/{item['id']}"
    refused = await parse(
        http, "PUT", path, picker, body={"quantity": {"__op": "Increment", "amount": -5}}
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == 142
    assert refused.json()["reason"] == "INSUFFICIENT_STOCK"
    after = (await parse(http, "GET", path, picker, params={"include": "bin"})).json()
    assert after["quantity"] == 4
    assert after["bin"]["currentLoad"] == 4
    taken = await parse(
        http, "PUT", path, picker, body={"quantity": {"__op": "Increment", "amount": -3}}
    )
    assert taken.status_code == 200
    assert taken.json()["quantity"] == 1


async def test_writing_sku_bin_or_an_acl_is_119(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    other, item = await stocked_item(gql, manager, 2)
    path = f"classes/Item/{item['id']}"
    for body in (
        {"sku": "NEW"},
        {"bin": {"__type": "Pointer", "className": "Bin", "objectId": other["id"]}},
        {"ACL": {"*": {"read": True}}},
    ):
        response = await parse(http, "PUT", path, manager, body=body)
        assert (response.status_code, response.json()["code"]) == (403, 119), body


async def test_a_repeated_request_id_creates_one_order(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    _, item = await stocked_item(gql, manager, 3)
    name = unique("Ada")
    body = {"customerName": name, "items": [{"sku": item["sku"], "quantity": 1}]}
    key = unique("req")
    first = await parse(
        http, "POST", "classes/Order", customer, body=body, headers={"X-Parse-Request-Id": key}
    )
    again = await parse(
        http, "POST", "classes/Order", customer, body=body, headers={"X-Parse-Request-Id": key}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["objectId"] == again.json()["objectId"]
    listed = await parse(
        http,
        "GET",
        "classes/Order",
        customer,
        params={"where": {"customerName": name}, "count": 1, "limit": 0},
    )
    assert listed.json() == {"results": [], "count": 1}


async def test_an_order_status_other_than_fulfilled_or_cancelled_is_142(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    _, item = await stocked_item(gql, manager, 3)
    order = await given.order(gql, manager.token, [(item["sku"], 1)])
    response = await parse(
        http, "PUT", f"classes/Order/{order['id']}", manager, body={"status": "shipped"}
    )
    assert (response.status_code, response.json()["code"]) == (400, 142)
    assert response.json()["reason"] == "INVALID_TRANSITION"
    fulfilled = await parse(
        http, "PUT", f"classes/Order/{order['id']}", manager, body={"status": "FULFILLED"}
    )
    assert fulfilled.status_code == 200
    assert fulfilled.json()["status"] == "fulfilled"


async def test_the_js_sdk_body_convention_carries_method_and_credentials(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    _, item = await stocked_item(gql, manager, 2)
    body = {
        "where": {"objectId": item["id"]},
        "limit": 1,
        "_method": "GET",
        "_ApplicationId": "warehouse",
        "_SessionToken": f"r:{manager.token}",
        "_ClientVersion": "js8.6.0",
        "_InstallationId": "abc",
    }
    response = await http.post(
        "/parse/classes/Item", content=json.dumps(body), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200, response.text
    assert [r["objectId"] for r in response.json()["results"]] == [item["id"]]
    master = await http.post(
        "/parse/classes/Item",
        content=json.dumps(body | {"_MasterKey": "guess"}),
        headers={"content-type": "text/plain"},
    )
    assert (master.status_code, master.json()["code"]) == (403, 119)


async def test_a_batch_runs_each_request_and_reports_each_result(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    b = await given.bin(gql, manager.token)
    sku = unique("SKU")
    pointer = {"__type": "Pointer", "className": "Bin", "objectId": b["id"]}
    requests = [
        {
            "method": "POST",
            "path": "/parse/classes/Item",
            "body": {"name": "A", "sku": sku, "bin": pointer, "quantity": 1},
        },
        {
            "method": "POST",
            "path": "/parse/classes/Item",
            "body": {"name": "B", "sku": sku, "bin": pointer, "quantity": 1},
        },
    ]
    response = await parse(http, "POST", "batch", manager, body={"requests": requests})
    assert response.status_code == 200
    first, second = response.json()
    assert set(first["success"]) == {"objectId", "createdAt"}
    assert second["error"]["code"] == 137  # the sku is already in that bin
    atomic = await parse(
        http, "POST", "batch", manager, body={"requests": requests, "transaction": True}
    )
    assert (atomic.status_code, atomic.json()["code"]) == (400, 142)


async def test_an_unknown_cloud_function_is_141(http: httpx.AsyncClient, manager: Account) -> None:
    response = await parse(http, "POST", "functions/launchRocket", manager, body={})
    assert (response.status_code, response.json()["code"]) == (400, 141)


async def test_parse_disabled_answers_404_on_every_path(settings: Settings) -> None:
    from dataclasses import replace

    app: Starlette = create_app(replace(settings, parse_enabled=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/parse/health", "/parse/classes/Item", "/parse/users/me"):
            assert (await client.get(path, headers=APP)).status_code == 404


async def test_a_taken_location_is_a_duplicate_value_and_a_bin_still_holding_stock_is_not(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    b, _ = await stocked_item(gql, manager, quantity=3)
    taken = await parse(
        http, "POST", "classes/Bin", manager, body={"location": b["location"], "capacity": 5}
    )
    assert (taken.status_code, taken.json()["code"]) == (400, 137)
    # A conflict that is not about a unique value keeps Parse's generic validation code.
    held = await parse(http, "DELETE", f"classes/Bin/{b['id']}", manager)
    assert (held.status_code, held.json()["code"]) == (400, 142)
    assert "still holds items" in held.json()["error"]
