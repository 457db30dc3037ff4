"""The README's worked session and order flow, run as written (on a database of their own):
every GraphQL operation in those sections succeeds, in order, with the ids the earlier ones
returned as variables."""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from graphql import OperationDefinitionNode, parse, print_ast

from tests.app_resources import lifespan, resources_of
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.services import accounts
from warehouse_gql.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def operations_between(start: str, end: str) -> list[str]:
    text = README.read_text()
    section = text[text.index(start) : text.index(end)]
    blocks = re.findall(r"```graphql\n(.*?)```", section, flags=re.S)
    found = []
    for block in blocks:
        for definition in parse(block).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            found.append(print_ast(definition))
    return found


async def test_the_readme_worked_session_and_order_flow_run_as_written(settings: Settings) -> None:
    app = create_app(
        dataclasses.replace(settings, mongodb_db=f"wgql_readme_{uuid.uuid4().hex[:8]}")
    )
    async with lifespan(app):
        resources = resources_of(app)
        await accounts.create_user(
            resources.db,
            resources.passwords,
            username="boss",
            email="boss@example.com",
            password="correct horse battery",
            role=Role.MANAGER,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            known: dict[str, Any] = {}
            headers: dict[str, str] = {}
            operations = operations_between("## A worked session", "## Live queries")
            assert len(operations) >= 10
            for operation in operations:
                wanted = re.findall(r"\$(\w+):", operation)
                variables = {name: known[name] for name in wanted}
                response = await client.post(
                    "/graphql",
                    json={"query": operation, "variables": variables},
                    headers=headers,
                )
                body = response.json()
                assert not body.get("errors"), (operation, body["errors"])
                data = body["data"]
                if "logIn" in data:
                    headers["authorization"] = f"Bearer {data['logIn']['token']}"
                if "a" in data:
                    known["bin"], known["to"] = data["a"]["id"], data["b"]["id"]
                if data.get("createItem") and "item" not in known:
                    known["item"] = data["createItem"]["id"]
                if "createOrder" in data:
                    known["order"] = data["createOrder"]["id"]
                if "fulfillOrder" in data:
                    assert data["fulfillOrder"]["status"] == "FULFILLED"
                if "createShipment" in data:
                    known["shipment"] = data["createShipment"]["id"]
            assert set(known) == {"bin", "to", "item", "order", "shipment"}
