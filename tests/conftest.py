"""Session fixtures: real SecantusDB and valkey-server (or MONGODB_URL / REDIS_URL), the app,
and users of every role. Tests isolate themselves by unique names, never by wiping data."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from tests.livekit import LiveServer
from tests.servers import ValkeyServer, secantus_server
from warehouse_gql.api.http import Resources
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.services import accounts
from warehouse_gql.settings import Settings


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    if os.environ.get("MONGODB_URL"):
        yield os.environ["MONGODB_URL"]
        return
    with secantus_server() as url:
        yield url


@pytest.fixture(scope="session")
def valkey() -> Iterator[ValkeyServer | None]:
    if os.environ.get("REDIS_URL"):
        yield None
        return
    server = ValkeyServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(valkey: ValkeyServer | None) -> str:
    return os.environ["REDIS_URL"] if valkey is None else valkey.url


@pytest.fixture(scope="session")
def settings(mongodb_url: str) -> Settings:
    return Settings(
        mongodb_url=mongodb_url,
        mongodb_db=f"wgql_test_{uuid.uuid4().hex[:8]}",
        fast_password_hashing=True,
        # Every test request comes from one address: the limits have tests of their own.
        rate_limit_points=0,
        auth_rate_limit=0,
        # A shared machine can be slow: the deadline has its own tests (test_limits.py).
        request_timeout_s=120.0,
    )


@pytest.fixture(scope="session")
async def servers(
    settings: Settings, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two server processes' worth of app (uvicorn on loopback) sharing the database and Redis."""
    live_settings = dataclasses.replace(settings, redis_url=redis_url)
    a = LiveServer(create_app(live_settings))
    b = LiveServer(create_app(live_settings))
    await a.start()
    await b.start()
    yield a, b
    await a.stop()
    await b.stop()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
def resources(app: Starlette) -> Resources:
    for route in app.routes:
        view = getattr(route, "app", None) or getattr(route, "endpoint", None)
        found = getattr(view, "resources", None)
        if isinstance(found, Resources):
            return found
    raise AssertionError("the app has no resources")


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a request that must succeed."""
        body = await self.post(query, variables, token)
        assert not body.get("errors"), body.get("errors")
        data: dict[str, Any] = body["data"]
        return data

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The single error of a request that must fail."""
        body = await self.post(query, variables, token)
        assert body.get("errors"), body
        assert len(body["errors"]) == 1, body["errors"]
        error: dict[str, Any] = body["errors"][0]
        return error

    async def code(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> str:
        code: str = (await self.error(query, variables, token))["extensions"]["code"]
        return code


@pytest.fixture(scope="session")
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture(scope="session")
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    token: str
    role: Role


async def make_account(resources: Resources, role: Role) -> Account:
    from datetime import timedelta

    username = unique(role.value.lower())
    password = "correct horse battery"
    user = await accounts.create_user(
        resources.db,
        resources.passwords,
        username=username,
        email=f"{username}@example.com",
        password=password,
        role=role,
    )
    session = await accounts.log_in(
        resources.db,
        resources.events,
        resources.passwords,
        username=username,
        password=password,
        ttl=timedelta(hours=1),
        limits=None,
    )
    return Account(id=user.id, username=username, token=session.token, role=role)


@pytest.fixture(scope="session")
async def manager(resources: Resources) -> Account:
    return await make_account(resources, Role.MANAGER)


@pytest.fixture(scope="session")
async def picker(resources: Resources) -> Account:
    return await make_account(resources, Role.PICKER)


@pytest.fixture(scope="session")
async def customer(resources: Resources) -> Account:
    return await make_account(resources, Role.CUSTOMER)


@pytest.fixture(scope="session")
async def other_customer(resources: Resources) -> Account:
    return await make_account(resources, Role.CUSTOMER)
