"""GraphQL over HTTP: methods, media types, request errors, pages, ids, limits, masking, probes."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

import warehouse_gql.store.items
from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.names import unique

GRAPHQL_RESPONSE = "application/graphql-response+json"
CREATE_BIN = "mutation($i: CreateBinInput!) { createBin(input: $i) { id location } }"
CREATE_ITEM = "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }"
UNKNOWN_ID = "0123456789abcdef01234567"
MALFORMED_ID = "not-an-id"


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def create_bin(gql: GraphQLClient, manager: Account, location: str) -> str:
    data = await gql.ok(CREATE_BIN, {"i": {"location": location, "capacity": 1000}}, manager.token)
    bin_id: str = data["createBin"]["id"]
    return bin_id


# Methods and media types


async def test_a_query_works_over_get(http: httpx.AsyncClient, manager: Account) -> None:
    response = await http.get(
        "/graphql", params={"query": "{ me { id role } }"}, headers=auth(manager)
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] == {"me": {"id": manager.id, "role": "MANAGER"}}


async def test_a_query_over_get_takes_variables(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    location = unique("GET")
    bin_id = await create_bin(gql, manager, location)
    response = await http.get(
        "/graphql",
        params={
            "query": "query($id: ID!) { bin(id: $id) { location } }",
            "variables": f'{{"id": "{bin_id}"}}',
        },
        headers=auth(manager),
    )
    assert response.json()["data"] == {"bin": {"location": location}}


async def test_a_mutation_over_get_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account
) -> None:
    location = unique("VIAGET")
    response = await http.get(
        "/graphql",
        params={
            "query": f'mutation {{ createBin(input: {{location: "{location}", capacity: 1}}) {{ id }} }}'
        },
        headers={**auth(manager), "Accept": GRAPHQL_RESPONSE},
    )
    # GraphQL-over-HTTP: a mutation over GET is 405 Method Not Allowed, and POST is the way.
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "POST" in body["errors"][0]["message"]
    data = await gql.ok(
        "query($p: String!) { bins(locationPrefix: $p) { totalCount } }",
        {"p": location},
        manager.token,
    )
    assert data["bins"]["totalCount"] == 0


async def test_the_graphql_response_media_type_is_answered_in_kind(
    http: httpx.AsyncClient, manager: Account
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={**auth(manager), "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["data"] == {"me": {"id": manager.id}}


async def test_plain_json_is_answered_as_application_json(
    http: httpx.AsyncClient, manager: Account
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={**auth(manager), "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


async def test_a_syntax_error_in_the_graphql_response_media_type_is_a_400_without_data(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql", json={"query": "{ me { id "}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"].startswith("Syntax Error")


async def test_a_validation_error_in_the_graphql_response_media_type_is_a_400_without_data(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql", json={"query": "{ me { password } }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "password" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ me { id ", {}),  # syntax
        ("{ nosuchfield }", {}),  # validation: unknown field
        ("{ bins(first: 1, nope: 2) { totalCount } }", {}),  # validation: unknown argument
        ('{ bins(first: "ten") { totalCount } }', {}),  # validation: literal of the wrong type
        ("query($f: Int!) { bins(first: $f) { totalCount } }", {}),  # missing variable
        ("query($f: Int!) { bins(first: $f) { totalCount } }", {"f": "ten"}),  # bad variable
        ('mutation { signUp(input: {username: "x"}) { token } }', {}),  # missing input fields
    ],
)
async def test_a_document_or_variable_error_is_bad_user_input(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> None:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "data" not in body
    assert codes(body)
    assert set(codes(body)) == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    "payload",
    [
        {},  # no query at all
        {"query": "query A { me { id } }", "operationName": "Nope"},
    ],
)
async def test_a_request_without_one_runnable_operation_is_a_coded_error(
    http: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    response = await http.post("/graphql", json=payload, headers={"Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_a_body_that_is_not_json_is_a_coded_error(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql",
        content=b"{not json",
        headers={"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_USER_INPUT"]


# Pages

CONNECTIONS = ["bins", "items", "movements", "orders", "shipments", "users"]


@pytest.mark.parametrize("connection", CONNECTIONS)
@pytest.mark.parametrize("first", [0, -1, 101, 1_000_000])
async def test_first_outside_1_to_100_is_bad_user_input(
    gql: GraphQLClient, manager: Account, connection: str, first: int
) -> None:
    error = await gql.error(
        f"query($f: Int!) {{ {connection}(first: $f) {{ totalCount }} }}",
        {"f": first},
        manager.token,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in error["message"]


@pytest.mark.parametrize("connection", CONNECTIONS)
@pytest.mark.parametrize("first", [1, 100])
async def test_first_of_1_and_100_is_accepted(
    gql: GraphQLClient, manager: Account, connection: str, first: int
) -> None:
    data = await gql.ok(
        f"query($f: Int!) {{ {connection}(first: $f) {{ edges {{ cursor }} }} }}",
        {"f": first},
        manager.token,
    )
    assert len(data[connection]["edges"]) <= first


@pytest.mark.parametrize("connection", CONNECTIONS)
@pytest.mark.parametrize(
    "after",
    [
        "not a cursor",
        "!!!",
        base64.urlsafe_b64encode(b"c1:not-an-object-id").decode(),
        base64.urlsafe_b64encode(b"x9:0123456789abcdef01234567").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "",
    ],
)
async def test_a_malformed_after_cursor_is_bad_user_input(
    gql: GraphQLClient, manager: Account, connection: str, after: str
) -> None:
    error = await gql.error(
        f"query($a: String) {{ {connection}(after: $a) {{ totalCount }} }}",
        {"a": after},
        manager.token,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "after" in error["message"]


async def make_bins(gql: GraphQLClient, manager: Account, prefix: str, n: int) -> list[str]:
    return [await create_bin(gql, manager, f"{prefix}-{i}") for i in range(n)]


BINS_PAGE = (
    "query($f: Int!, $a: String, $p: String) { bins(first: $f, after: $a, locationPrefix: $p) "
    "{ totalCount edges { cursor node { id location } } pageInfo { hasNextPage endCursor } } }"
)


async def test_pages_walk_a_filtered_list_in_creation_order(
    gql: GraphQLClient, manager: Account
) -> None:
    prefix = unique("PAGE")
    ids = await make_bins(gql, manager, prefix, 5)

    async def page(after: str | None) -> dict[str, Any]:
        data = await gql.ok(BINS_PAGE, {"f": 2, "a": after, "p": prefix}, manager.token)
        result: dict[str, Any] = data["bins"]
        return result

    first = await page(None)
    assert [e["node"]["id"] for e in first["edges"]] == ids[:2]
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": first["edges"][-1]["cursor"]}
    assert first["totalCount"] == 5

    second = await page(first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in second["edges"]] == ids[2:4]
    assert second["pageInfo"]["hasNextPage"] is True
    # totalCount counts the whole filtered set, not the page or what is left.
    assert second["totalCount"] == 5

    last = await page(second["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in last["edges"]] == ids[4:]
    assert last["pageInfo"] == {"hasNextPage": False, "endCursor": last["edges"][-1]["cursor"]}
    assert last["totalCount"] == 5

    # Past the end: an empty page, no cursor.
    beyond = await page(last["pageInfo"]["endCursor"])
    assert beyond == {
        "totalCount": 5,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


async def test_a_page_that_ends_the_list_exactly_says_there_is_no_next_page(
    gql: GraphQLClient, manager: Account
) -> None:
    prefix = unique("EXACT")
    ids = await make_bins(gql, manager, prefix, 4)
    data = await gql.ok(BINS_PAGE, {"f": 4, "a": None, "p": prefix}, manager.token)
    assert [e["node"]["id"] for e in data["bins"]["edges"]] == ids
    assert data["bins"]["pageInfo"]["hasNextPage"] is False

    first = await gql.ok(BINS_PAGE, {"f": 2, "a": None, "p": prefix}, manager.token)
    second = await gql.ok(
        BINS_PAGE,
        {"f": 2, "a": first["bins"]["pageInfo"]["endCursor"], "p": prefix},
        manager.token,
    )
    assert [e["node"]["id"] for e in second["bins"]["edges"]] == ids[2:]
    assert second["bins"]["pageInfo"]["hasNextPage"] is False


async def test_first_defaults_to_50(gql: GraphQLClient, manager: Account) -> None:
    # Enough bins that the default page is full whatever else the session created.
    for i in range(51):
        await create_bin(gql, manager, unique(f"DEF{i}"))
    data = await gql.ok(
        "{ bins { edges { cursor } pageInfo { hasNextPage } } }", token=manager.token
    )
    assert len(data["bins"]["edges"]) == 50
    assert data["bins"]["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize("connection", CONNECTIONS)
async def test_an_explicit_null_first_means_the_default_page(
    gql: GraphQLClient, manager: Account, connection: str
) -> None:
    # The contract types `first` as a nullable Int with default 50.
    data = await gql.ok(
        f"query($f: Int) {{ {connection}(first: $f) {{ edges {{ cursor }} }} }}",
        {"f": None},
        manager.token,
    )
    assert len(data[connection]["edges"]) <= 50


@pytest.mark.parametrize("transform", [str.lower, str.upper, lambda p: p])
async def test_bins_filter_by_location_prefix_whatever_its_case(
    gql: GraphQLClient, manager: Account, transform: Any
) -> None:
    prefix = unique("Mixed")
    ids = await make_bins(gql, manager, prefix, 3)
    data = await gql.ok(BINS_PAGE, {"f": 10, "a": None, "p": transform(prefix)}, manager.token)
    assert [e["node"]["id"] for e in data["bins"]["edges"]] == ids
    assert data["bins"]["totalCount"] == 3


async def test_a_location_prefix_matches_literally_not_as_a_pattern(
    gql: GraphQLClient, manager: Account
) -> None:
    prefix = unique("LIT")
    dotted = await create_bin(gql, manager, f"{prefix}.1")
    await create_bin(gql, manager, f"{prefix}X1")
    data = await gql.ok(BINS_PAGE, {"f": 10, "a": None, "p": f"{prefix}."}, manager.token)
    assert [e["node"]["id"] for e in data["bins"]["edges"]] == [dotted]
    data = await gql.ok(BINS_PAGE, {"f": 10, "a": None, "p": ".*"}, manager.token)
    assert data["bins"]["totalCount"] == 0


async def test_a_cursor_of_one_list_continues_only_that_lists_order(
    gql: GraphQLClient, manager: Account
) -> None:
    prefix = unique("CONT")
    ids = await make_bins(gql, manager, prefix, 3)
    # A cursor is a position: bins created after it follow, whatever page size comes next.
    first = await gql.ok(BINS_PAGE, {"f": 1, "a": None, "p": prefix}, manager.token)
    later = await create_bin(gql, manager, f"{prefix}-later")
    rest = await gql.ok(
        BINS_PAGE,
        {"f": 100, "a": first["bins"]["pageInfo"]["endCursor"], "p": prefix},
        manager.token,
    )
    assert [e["node"]["id"] for e in rest["bins"]["edges"]] == [*ids[1:], later]


# Ids


@pytest.mark.parametrize("field", ["bin", "item", "order", "shipment"])
@pytest.mark.parametrize("ident", [UNKNOWN_ID, MALFORMED_ID, ""])
async def test_a_query_by_an_unknown_or_malformed_id_returns_null(
    gql: GraphQLClient, manager: Account, field: str, ident: str
) -> None:
    data = await gql.ok(
        f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}", {"id": ident}, manager.token
    )
    assert data == {field: None}


async def test_items_of_an_unknown_or_malformed_bin_are_an_empty_page(
    gql: GraphQLClient, manager: Account
) -> None:
    for ident in (UNKNOWN_ID, MALFORMED_ID):
        data = await gql.ok(
            "query($b: ID!) { items(binId: $b) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }",
            {"b": ident},
            manager.token,
        )
        assert data["items"] == {
            "totalCount": 0,
            "edges": [],
            "pageInfo": {"hasNextPage": False, "endCursor": None},
        }


MUTATIONS_ON_IDS = [
    "updateBin(id: $id, input: {capacity: 5}) { id }",
    "deleteBin(id: $id)",
    'updateItem(id: $id, input: {name: "x"}) { id }',
    'adjustItemQuantity(id: $id, delta: 1, reason: "r") { id }',
    "moveItem(id: $id, toBinId: $id, quantity: 1) { id }",
    "deleteItem(id: $id)",
    "fulfillOrder(id: $id) { id }",
    "cancelOrder(id: $id) { id }",
    "deleteOrder(id: $id)",
    'createShipment(input: {orderId: $id, carrier: "DHL", trackingNumber: "T1"}) { id }',
    "updateShipmentStatus(id: $id, status: DELIVERED) { id }",
    "deleteShipment(id: $id)",
    "setUserRole(userId: $id, role: PICKER) { id }",
    'createItem(input: {name: "x", sku: "S-1", binId: $id, quantity: 1}) { id }',
]


@pytest.mark.parametrize("mutation", MUTATIONS_ON_IDS, ids=lambda m: m.split("(")[0])
@pytest.mark.parametrize("ident", [UNKNOWN_ID, MALFORMED_ID])
async def test_a_mutation_on_an_unknown_or_malformed_id_is_not_found(
    gql: GraphQLClient, manager: Account, mutation: str, ident: str
) -> None:
    error = await gql.error(f"mutation($id: ID!) {{ {mutation} }}", {"id": ident}, manager.token)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert ident in error["message"]


async def test_moving_to_an_unknown_bin_is_not_found(gql: GraphQLClient, manager: Account) -> None:
    bin_id = await create_bin(gql, manager, unique("FROM"))
    data = await gql.ok(
        CREATE_ITEM,
        {"i": {"name": "W", "sku": unique("MV"), "binId": bin_id, "quantity": 3}},
        manager.token,
    )
    for ident in (UNKNOWN_ID, MALFORMED_ID):
        error = await gql.error(
            "mutation($id: ID!, $to: ID!) { moveItem(id: $id, toBinId: $to, quantity: 1) { id } }",
            {"id": data["createItem"]["id"], "to": ident},
            manager.token,
        )
        assert error["extensions"]["code"] == "NOT_FOUND"
    item = await gql.ok(
        "query($id: ID!) { item(id: $id) { quantity } }",
        {"id": data["createItem"]["id"]},
        manager.token,
    )
    assert item == {"item": {"quantity": 3}}


# Limits


def nested_bins(depth: int) -> str:
    """`bins { edges { node { items { bin { items { bin ... } } } } } }` of a given depth."""
    inner = "id"
    levels = 3  # bins, edges, node
    while levels + 2 <= depth:
        inner = f"items {{ bin {{ {inner} }} }}"
        levels += 2
    return (
        "query($p: String!) { bins(first: 1, locationPrefix: $p) "
        f"{{ edges {{ node {{ {inner} }} }} }} }}"
    )


async def test_a_query_deeper_than_the_limit_is_too_complex_with_its_depth(
    gql: GraphQLClient, manager: Account, settings: Any
) -> None:
    # bins, edges, node, then items/bin pairs, then id: 14 fields deep.
    error = await gql.error(
        nested_bins(settings.max_query_depth + 2), {"p": unique("DEEP")}, manager.token
    )
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["depth"] == settings.max_query_depth + 2
    assert error["extensions"]["maxDepth"] == settings.max_query_depth == 12
    assert error["extensions"]["limit"] == settings.max_query_cost
    assert "deep" in error["message"]


async def test_more_aliases_than_the_limit_are_bad_user_input(
    gql: GraphQLClient, manager: Account, settings: Any
) -> None:
    def aliases(n: int) -> str:
        return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(n)) + " }"

    allowed = await gql.ok(aliases(settings.max_aliases), token=manager.token)
    assert len(allowed) == settings.max_aliases
    error = await gql.error(aliases(settings.max_aliases + 1), token=manager.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "aliases" in error["message"]


async def test_a_document_of_too_many_tokens_is_bad_user_input(
    gql: GraphQLClient, manager: Account, settings: Any
) -> None:
    query = "{ me { " + "id " * settings.max_tokens + "} }"
    error = await gql.error(query, token=manager.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# Masking of unexpected errors


async def test_an_unexpected_exception_is_masked_with_the_request_id(
    http: httpx.AsyncClient, manager: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("secret internals at /srv/warehouse_gql/store/items.py line 42")

    monkeypatch.setattr(warehouse_gql.store.items, "stock_level", broken)
    response = await http.post(
        "/graphql",
        json={"query": '{ stockLevel(sku: "ANY-1") }'},
        headers=auth(manager),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    request_id = response.headers["x-request-id"]
    assert request_id
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert request_id in error["message"]
    assert error["path"] == ["stockLevel"]
    for leak in ("secret", "RuntimeError", "Traceback", "items.py", "line 42"):
        assert leak not in response.text


async def test_a_given_request_id_is_echoed_and_quoted_when_masking(
    http: httpx.AsyncClient, manager: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(warehouse_gql.store.items, "stock_level", broken)
    request_id = unique("req")
    response = await http.post(
        "/graphql",
        json={"query": '{ stockLevel(sku: "ANY-1") }'},
        headers={**auth(manager), "X-Request-Id": request_id},
    )
    assert response.headers["x-request-id"] == request_id
    assert response.json()["errors"][0]["extensions"]["requestId"] == request_id


async def test_every_response_carries_a_request_id(http: httpx.AsyncClient) -> None:
    first = await http.post("/graphql", json={"query": "{ __typename }"})
    second = await http.post("/graphql", json={"query": "{ __typename }"})
    assert first.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


# Probes and the IDE


async def test_healthz_answers_200(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_200_with_mongodb_ok(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["mongodb"] == "ok"


async def test_a_browser_gets_graphiql(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
