"""Sign-up, log-in, sessions and roles: what the SPEC's "Sessions" and "User" rules promise."""

from __future__ import annotations

import hashlib
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from tests.accounts import Account, make_account
from tests.graphql_client import GraphQLClient
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import Unauthenticated
from warehouse_gql.services import accounts
from warehouse_gql.services.passwords import Passwords

PASSWORD = "correct horse battery"
SIGN_UP = (
    "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id username email role } } }"
)
LOG_IN = (
    "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token user { id } } }"
)
ME = "{ me { id username role } }"
SET_ROLE = "mutation($id: ID!, $r: Role!) { setUserRole(userId: $id, role: $r) { id role } }"


def sign_up_input(
    username: str | None = None, email: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    username = username or unique("user")
    return {
        "i": {
            "username": username,
            "email": email or f"{username}@example.com",
            "password": password,
        }
    }


async def sign_up(gql: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.ok(SIGN_UP, sign_up_input(**fields)))["signUp"]
    return payload


async def test_sign_up_makes_a_customer_and_returns_a_working_token(gql: GraphQLClient) -> None:
    username = unique("New.User")
    payload = await sign_up(gql, username=username)
    assert payload["user"]["role"] == "CUSTOMER"
    assert payload["user"]["username"] == username
    assert payload["user"]["email"] == f"{username}@example.com"
    # 256 random bits, URL-safe base64 without padding: at least 43 characters.
    assert len(payload["token"]) >= 43

    data = await gql.ok(ME, token=payload["token"])
    assert data["me"] == {"id": payload["user"]["id"], "username": username, "role": "CUSTOMER"}


async def test_usernames_are_unique_whatever_their_case(gql: GraphQLClient) -> None:
    username = unique("Alice")
    await sign_up(gql, username=username)
    error = await gql.error(
        SIGN_UP, sign_up_input(username=username.upper(), email=f"{unique()}@example.com")
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert "username" in error["message"]


async def test_emails_are_unique_whatever_their_case(gql: GraphQLClient) -> None:
    email = f"{unique('Bob')}@Example.com"
    await sign_up(gql, email=email)
    error = await gql.error(SIGN_UP, sign_up_input(email=email.upper()))
    assert error["extensions"]["code"] == "CONFLICT"
    assert "email" in error["message"]


async def test_a_conflicting_sign_up_creates_no_user(
    gql: GraphQLClient, resources: Resources
) -> None:
    username = unique("carol")
    await sign_up(gql, username=username)
    other = unique("other")
    await gql.error(SIGN_UP, sign_up_input(username=other, email=f"{username}@example.com"))
    assert await resources.db.users.count_documents({"usernameKey": other.lower()}) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "ab"),
        ("username", "x" * 65),
        ("username", "has space"),
        ("username", "semi;colon"),
        ("username", "ünïcode"),
        ("username", ""),
        ("email", "no-at-sign"),
        ("email", "two@@example.com"),
        ("email", "nodot@example"),
        ("email", "spa ce@example.com"),
        ("email", ""),
        ("password", "7chars!"),
        ("password", "x" * 257),
        ("password", ""),
    ],
)
async def test_an_invalid_sign_up_field_is_bad_user_input_naming_the_field(
    gql: GraphQLClient, resources: Resources, field: str, value: str
) -> None:
    variables = sign_up_input()
    variables["i"][field] = value
    error = await gql.error(SIGN_UP, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert field in error["message"]
    username = variables["i"]["username"]
    assert await resources.db.users.count_documents({"usernameKey": username.lower()}) == 0


@pytest.mark.parametrize(("username_length", "password_length"), [(3, 8), (64, 256)])
async def test_sign_up_accepts_the_boundary_lengths(
    gql: GraphQLClient, username_length: int, password_length: int
) -> None:
    # Each test session has a database of its own, so even three characters are unique here.
    username = (uuid.uuid4().hex * 2)[:username_length]
    password = "p" * password_length
    payload = await sign_up(gql, username=username, password=password)
    data = await gql.ok(LOG_IN, {"u": username, "p": password})
    assert data["logIn"]["user"]["id"] == payload["user"]["id"]


async def test_log_in_returns_a_new_working_token(gql: GraphQLClient) -> None:
    username = unique("dave")
    payload = await sign_up(gql, username=username)
    data = await gql.ok(LOG_IN, {"u": username, "p": PASSWORD})
    token = data["logIn"]["token"]
    assert token != payload["token"]
    assert (await gql.ok(ME, token=token))["me"]["id"] == payload["user"]["id"]
    # The sign-up session stays valid alongside.
    assert (await gql.ok(ME, token=payload["token"]))["me"]["id"] == payload["user"]["id"]


async def test_a_wrong_password_and_an_unknown_user_give_the_same_error(
    gql: GraphQLClient,
) -> None:
    username = unique("erin")
    await sign_up(gql, username=username)
    wrong_password = await gql.error(LOG_IN, {"u": username, "p": "not the password"})
    unknown_user = await gql.error(LOG_IN, {"u": unique("nobody"), "p": PASSWORD})
    assert wrong_password["extensions"]["code"] == "UNAUTHENTICATED"
    assert unknown_user["extensions"] == wrong_password["extensions"]
    assert unknown_user["message"] == wrong_password["message"]


async def test_only_the_sha256_of_a_token_is_stored(
    gql: GraphQLClient, resources: Resources
) -> None:
    username = unique("frank")
    signed_up = await sign_up(gql, username=username)
    logged_in = (await gql.ok(LOG_IN, {"u": username, "p": PASSWORD}))["logIn"]
    user_id = ObjectId(signed_up["user"]["id"])

    sessions = await resources.db.sessions.find({"userId": user_id}).to_list()
    assert len(sessions) == 2
    for token in (signed_up["token"], logged_in["token"]):
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert await resources.db.sessions.count_documents({"_id": digest}) == 1
    stored = {s["_id"] for s in sessions}
    assert stored == {
        hashlib.sha256(t.encode()).hexdigest() for t in (signed_up["token"], logged_in["token"])
    }
    # No session document anywhere holds a token in the clear.
    everything = repr(await resources.db.sessions.find({}).to_list())
    assert signed_up["token"] not in everything
    assert logged_in["token"] not in everything


async def test_a_password_is_stored_only_as_an_argon2id_hash(
    gql: GraphQLClient, resources: Resources
) -> None:
    username = unique("grace")
    password = "a secret " + unique()
    await sign_up(gql, username=username, password=password)
    doc = await resources.db.users.find_one({"usernameKey": username.lower()})
    assert doc is not None
    assert doc["passwordHash"].startswith("$argon2id$")
    assert password not in repr(doc)
    assert not any(isinstance(v, str) and password in v for v in doc.values())


async def test_no_api_field_can_read_a_password(gql: GraphQLClient) -> None:
    data = await gql.ok(
        '{ user: __type(name: "User") { fields { name } } payload: __type(name: "AuthPayload") { fields { name } } }'
    )
    names = {f["name"].lower() for t in data.values() for f in t["fields"]}
    assert not any("password" in name or "hash" in name for name in names)
    assert {f["name"] for f in data["user"]["fields"]} == {
        "id",
        "username",
        "email",
        "role",
        "createdAt",
        "updatedAt",
        "sessions",
    }


async def test_log_out_revokes_the_token_at_once(gql: GraphQLClient, resources: Resources) -> None:
    token = (await sign_up(gql))["token"]
    assert (await gql.ok(ME, token=token))["me"] is not None

    assert (await gql.ok("mutation { logOut }", token=token)) == {"logOut": True}

    assert await gql.code(ME, token=token) == "UNAUTHENTICATED"
    assert await gql.code("mutation { logOut }", token=token) == "UNAUTHENTICATED"
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert await resources.db.sessions.count_documents({"_id": digest}) == 0


async def test_log_out_leaves_the_users_other_sessions_alone(gql: GraphQLClient) -> None:
    username = unique("heidi")
    first = (await sign_up(gql, username=username))["token"]
    second = (await gql.ok(LOG_IN, {"u": username, "p": PASSWORD}))["logIn"]["token"]
    await gql.ok("mutation { logOut }", token=first)
    assert (await gql.ok(ME, token=second))["me"]["username"] == username


async def test_an_expired_session_is_unauthenticated(
    gql: GraphQLClient, resources: Resources
) -> None:
    token = (await sign_up(gql))["token"]
    digest = hashlib.sha256(token.encode()).hexdigest()
    result = await resources.db.sessions.update_one(
        {"_id": digest}, {"$set": {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert result.modified_count == 1
    assert await gql.code(ME, token=token) == "UNAUTHENTICATED"


async def test_a_session_expires_after_the_configured_ttl(
    gql: GraphQLClient, resources: Resources
) -> None:
    before = datetime.now(UTC)
    token = (await sign_up(gql))["token"]
    digest = hashlib.sha256(token.encode()).hexdigest()
    doc = await resources.db.sessions.find_one({"_id": digest})
    assert doc is not None
    ttl = timedelta(hours=resources.settings.session_ttl_hours)
    # MongoDB keeps milliseconds: allow for the truncation.
    assert before + ttl - timedelta(milliseconds=1) <= doc["expiresAt"] <= datetime.now(UTC) + ttl


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token-we-gave-out", "Bearer ", "Basic dXNlcjpwYXNz", "not-even-a-scheme"],
)
async def test_a_bad_authorization_header_is_unauthenticated(
    gql: GraphQLClient, authorization: str
) -> None:
    response = await gql.http.post(
        "/graphql", json={"query": ME}, headers={"Authorization": authorization}
    )
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_a_role_change_takes_effect_on_the_users_next_request(
    gql: GraphQLClient, resources: Resources, manager: Account
) -> None:
    user = await make_account(resources, Role.CUSTOMER)
    bins = "{ bins(first: 1) { totalCount } }"
    assert await gql.code(bins, token=user.token) == "FORBIDDEN"

    data = await gql.ok(SET_ROLE, {"id": user.id, "r": "PICKER"}, manager.token)
    assert data["setUserRole"] == {"id": user.id, "role": "PICKER"}

    # The same session token, no new log-in.
    assert (await gql.ok(bins, token=user.token))["bins"]["totalCount"] >= 0
    assert (await gql.ok(ME, token=user.token))["me"]["role"] == "PICKER"

    await gql.ok(SET_ROLE, {"id": user.id, "r": "CUSTOMER"}, manager.token)
    assert await gql.code(bins, token=user.token) == "FORBIDDEN"


async def test_a_demoted_manager_loses_manager_rights_at_once(
    gql: GraphQLClient, resources: Resources, manager: Account
) -> None:
    other = await make_account(resources, Role.MANAGER)
    users = "{ users(first: 1) { totalCount } }"
    await gql.ok(users, token=other.token)
    await gql.ok(SET_ROLE, {"id": other.id, "r": "PICKER"}, manager.token)
    assert await gql.code(users, token=other.token) == "FORBIDDEN"


@pytest.mark.parametrize("user_id", ["0123456789abcdef01234567", "not-an-id"])
async def test_setting_the_role_of_an_unknown_user_is_not_found(
    gql: GraphQLClient, manager: Account, user_id: str
) -> None:
    error = await gql.error(SET_ROLE, {"id": user_id, "r": "PICKER"}, manager.token)
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_users_pages_through_every_user_in_creation_order(
    gql: GraphQLClient, resources: Resources, manager: Account
) -> None:
    newest = [(await sign_up(gql))["user"]["id"] for _ in range(3)]
    query = (
        "query($a: String) { users(first: 2, after: $a) "
        "{ totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    ids: list[str] = []
    after = None
    while True:
        page = (await gql.ok(query, {"a": after}, manager.token))["users"]
        assert page["edges"], "an empty page before hasNextPage turned false"
        assert len(page["edges"]) <= 2
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == 2
        after = page["pageInfo"]["endCursor"]

    total = await resources.db.users.count_documents({})
    assert page["totalCount"] == total == len(ids) == len(set(ids))
    assert ids == sorted(ids, key=ObjectId)
    assert ids[-3:] == newest


async def test_log_in_for_an_unknown_user_takes_as_long_as_a_wrong_password(
    resources: Resources,
) -> None:
    # The default (slow) argon2 profile: with the cheap test profile there is nothing to see.
    passwords = Passwords()
    username = unique("timing")
    await accounts.create_user(
        resources.db,
        passwords,
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        role=Role.CUSTOMER,
    )

    async def failed_log_in(name: str, password: str) -> tuple[float, str]:
        started = time.perf_counter()
        with pytest.raises(Unauthenticated) as raised:
            await accounts.log_in(
                resources.db,
                resources.events,
                passwords,
                username=name,
                password=password,
                ttl=timedelta(hours=1),
                limits=None,
            )
        return time.perf_counter() - started, raised.value.message

    unknown: list[float] = []
    wrong: list[float] = []
    messages: set[str] = set()
    for _ in range(5):
        elapsed, message = await failed_log_in(unique("ghost"), PASSWORD)
        unknown.append(elapsed)
        messages.add(message)
        elapsed, message = await failed_log_in(username, "not the password")
        wrong.append(elapsed)
        messages.add(message)

    assert len(messages) == 1
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 <= ratio <= 2.0, (unknown, wrong)
