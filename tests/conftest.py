"""Session fixtures: real SecantusDB and valkey-server (or MONGODB_URL / REDIS_URL), the app,
and users of every role. Fixtures only: what tests call lives in a module named for it
(accounts.py, graphql_client.py, names.py, waiting.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.accounts import Account, make_account
from tests.app_resources import lifespan, resources_of
from tests.graphql_client import GraphQLClient
from tests.livekit import LiveServer
from tests.servers import ValkeyServer, secantus_server
from warehouse_gql.api.http import Resources
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.settings import Settings


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
def settings(mongodb_url: str, redis_url: str) -> Settings:
    """Every app the tests make on the shared test database is a process of one deployment,
    so all of them are on Redis, as the README requires of more than one process: whichever
    holds the change feed's sequencer lease hears the others' commits at once."""
    return Settings(
        mongodb_url=mongodb_url,
        redis_url=redis_url,
        mongodb_db=f"wgql_test_{uuid.uuid4().hex[:8]}",
        fast_password_hashing=True,
        # Every test request comes from one address: the limits have tests of their own.
        rate_limit_points=0,
        auth_rate_limit=0,
        # A shared machine can be slow: the deadline has its own tests (test_limits.py).
        request_timeout_s=120.0,
    )


@pytest.fixture(scope="session")
async def servers(settings: Settings) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two server processes' worth of app (uvicorn on loopback) sharing the database and Redis."""
    a = LiveServer(create_app(settings))
    b = LiveServer(create_app(settings))
    await a.start()
    await b.start()
    yield a, b
    await a.stop()
    await b.stop()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with lifespan(application):
        yield application


@pytest.fixture(scope="session")
def resources(app: Starlette) -> Resources:
    return resources_of(app)


@pytest.fixture(scope="session")
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture(scope="session")
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


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
