"""Contract tests against a live server: schemathesis fuzzes /api/v1 from its own document with
a manager's token, and a client generated from the document by openapi-python-client logs in
and lists bins; a REST change reaches a GraphQL subscription on the same server."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.accounts import PASSWORD, make_account
from tests.livekit import LiveServer, Subscriptions
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.settings import Settings

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is needed for the REST contract tests")
        pytest.skip(f"{name} is not installed")
    return found


@dataclasses.dataclass
class Live:
    server: LiveServer
    resources: Resources
    username: str
    token: str


@pytest.fixture(scope="module")
async def live(settings: Settings) -> AsyncIterator[Live]:
    """A server on loopback with a database of its own (fuzzing writes whatever it likes)."""
    own = dataclasses.replace(settings, mongodb_db=unique("wgql_contract").replace("-", "_"))
    server = LiveServer(create_app(own))
    await server.start()
    boss = await make_account(server.resources, Role.MANAGER, unique("boss"))
    yield Live(server, server.resources, boss.username, boss.token)
    await server.stop()


async def run(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    """A command run beside the server without blocking its event loop."""
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    live: Live, tmp_path: Path
) -> None:
    code, out = await run(
        tool("schemathesis"),
        "run",
        f"{live.server.http_url}/api/v1/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_headers_conformance,response_schema_conformance,"
        "unsupported_method,allow_header_conformance,negative_data_rejection,"
        "use_after_free,ensure_resource_availability",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "8",
        "--workers",
        "1",
        "--seed",
        "14",
        # Logging out would end the token the rest of the run uses, and a role change could
        # demote its manager (both are tested in test_rest.py).
        "--exclude-operation-id",
        "logOut",
        "--exclude-operation-id",
        "setUserRole",
        # An event stream never ends by itself: each call would wait out the request timeout
        # (test_feed_doors.py reads it, resumes it and ends it).
        "--exclude-operation-id",
        "changeStream",
        "--header",
        f"Authorization: Bearer {live.token}",
        "--no-color",
        cwd=tmp_path,  # its cache of found crashes stays out of the repository
    )
    assert code == 0, out[-6000:]


async def test_a_client_generated_from_the_document_logs_in_creates_and_lists_bins(
    live: Live, tmp_path: Path
) -> None:
    # Generated afresh from the served document each run, so the client can never lag it.
    document = tmp_path / "openapi.json"
    async with httpx.AsyncClient(base_url=live.server.http_url) as http:
        document.write_bytes((await http.get("/api/v1/openapi.json")).content)
    package = f"wgql_client_{unique('c').replace('-', '_')}"
    code, out = await run(
        tool("openapi-python-client"),
        "generate",
        "--path",
        str(document),
        "--meta",
        "none",
        "--output-path",
        str(tmp_path / package),
        cwd=tmp_path,
    )
    assert code == 0, out
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module(f"{package}.client")
        log_in = importlib.import_module(f"{package}.api.accounts.log_in")
        create_bin = importlib.import_module(f"{package}.api.inventory.create_bin")
        list_bins = importlib.import_module(f"{package}.api.inventory.bins")
        models = importlib.import_module(f"{package}.models")
    finally:
        sys.path.remove(str(tmp_path))

    anonymous = client_module.Client(base_url=f"{live.server.http_url}/api/v1")
    session = await log_in.asyncio(
        client=anonymous, body=models.LogIn(username=live.username, password=PASSWORD)
    )
    assert isinstance(session, models.AuthResult), session
    assert session.user.role == models.Role.MANAGER

    client = client_module.AuthenticatedClient(
        base_url=f"{live.server.http_url}/api/v1", token=session.token
    )
    prefix = unique("GEN")
    created = await create_bin.asyncio_detailed(
        client=client, body=models.CreateBin(location=f"{prefix}-1", capacity=40)
    )
    assert created.status_code == 201
    assert created.headers["location"] == f"/api/v1/bins/{created.parsed.id}"
    page = await list_bins.asyncio(client=client, location_prefix=prefix, limit=10)
    assert isinstance(page, models.BinPage), page
    assert [(b.location, b.capacity, b.current_load) for b in page.data] == [(f"{prefix}-1", 40, 0)]
    assert page.total_count == 1
    assert page.next_cursor is None

    refused = await list_bins.asyncio(client=anonymous)
    assert isinstance(refused, models.Problem)
    assert refused.code.value == "UNAUTHENTICATED"


async def test_a_stock_change_made_over_rest_reaches_a_graphql_subscription(live: Live) -> None:
    async with httpx.AsyncClient(
        base_url=f"{live.server.http_url}/api/v1",
        headers={"Authorization": f"Bearer {live.token}"},
    ) as http:
        bin = (await http.post("/bins", json={"location": unique("SUB"), "capacity": 50})).json()
        sku = unique("SKU")
        item = await http.post(
            "/items", json={"name": "Cog", "sku": sku, "binId": bin["id"], "quantity": 5}
        )
        subscriber = Subscriptions(live.server.ws_url)
        ack = await subscriber.connect({"authorization": f"Bearer {live.token}"})
        assert ack["type"] == "connection_ack"
        try:
            await subscriber.subscribe(
                "subscription($sku: String) { itemChanged(sku: $sku) { kind item { sku quantity } } }",
                {"sku": sku},
            )
            adjusted = await http.post(
                f"/items/{item.json()['id']}/adjust", json={"delta": 1, "reason": "rest"}
            )
            assert adjusted.status_code == 200
            event = await subscriber.next_data()
        finally:
            await subscriber.close()
    change = event["itemChanged"]
    assert change["kind"] == "UPDATED"
    assert change["item"]["sku"] == sku
    assert change["item"]["quantity"] == 6
