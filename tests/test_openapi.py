"""The OpenAPI document: `openapi.json` is what the code builds, it is valid OpenAPI 3.1, and it
describes every route, error and header the REST door has; /api/docs works offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from openapi_spec_validator import validate

from warehouse_gql.api.http import HTTP_STATUS
from warehouse_gql.api.rest.app import RestApi
from warehouse_gql.api.rest.openapi import export_document

ROOT = Path(__file__).resolve().parent.parent
SPEC_ROUTES = {
    ("POST", "/auth/signup"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("GET", "/me"),
    ("GET", "/users"),
    ("PATCH", "/users/{id}"),
    ("GET", "/bins"),
    ("POST", "/bins"),
    ("GET", "/bins/{id}"),
    ("PATCH", "/bins/{id}"),
    ("DELETE", "/bins/{id}"),
    ("POST", "/bins/{id}/count"),
    ("GET", "/items"),
    ("POST", "/items"),
    ("GET", "/items/{id}"),
    ("PATCH", "/items/{id}"),
    ("DELETE", "/items/{id}"),
    ("POST", "/items/{id}/adjust"),
    ("POST", "/items/{id}/move"),
    ("GET", "/stock/{sku}"),
    ("GET", "/movements"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/{id}"),
    ("DELETE", "/orders/{id}"),
    ("POST", "/orders/{id}/fulfill"),
    ("POST", "/orders/{id}/cancel"),
    ("GET", "/pick-list"),
    ("GET", "/putaway"),
    ("GET", "/shipments"),
    ("POST", "/shipments"),
    ("GET", "/shipments/{id}"),
    ("PATCH", "/shipments/{id}"),
    ("DELETE", "/shipments/{id}"),
}
METHODS = {"get", "post", "patch", "delete", "put"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_committed_openapi_file_is_what_the_code_builds() -> None:
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert export_document() == committed, (
        "openapi.json is stale: run `warehouse-gql export-openapi > openapi.json`"
    )


def test_the_export_openapi_command_prints_the_committed_document() -> None:
    script = shutil.which("warehouse-gql", path=str(Path(sys.executable).parent))
    assert script is not None, "the warehouse-gql console script is not installed"
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URL", "REDIS_URL"}}
    result = subprocess.run(
        [script, "export-openapi"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "openapi.json").read_text(encoding="utf-8")


def test_the_document_is_valid_openapi_3_1() -> None:
    document = RestApi().document
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_the_document_has_every_route_of_the_spec_table_except_the_change_feed() -> None:
    document = RestApi().document
    routes = {(m, p) for m, p, _ in operations(document)}
    assert routes >= SPEC_ROUTES
    assert routes - SPEC_ROUTES <= {
        ("GET", "/openapi.json"),
        ("GET", "/changes"),
        ("GET", "/changes/stream"),
        # Webhooks (the change feed's section of the SPEC).
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("GET", "/webhooks/{id}"),
        ("DELETE", "/webhooks/{id}"),
        ("GET", "/webhooks/{id}/deliveries"),
    }


def test_every_operation_documents_its_errors_as_problem_details_and_bearer_auth() -> None:
    document = RestApi().document
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A session token from /auth/login or /auth/signup.",
    }
    assert document["security"] == [{"bearer": []}]
    problem_statuses = set(HTTP_STATUS.values())
    for method, path, operation in operations(document):
        if path == "/openapi.json":
            continue
        responses = operation["responses"]
        for status in ("401", "422", "429", "500", "503"):
            assert status in responses, (method, path, status)
        if "requestBody" in operation:
            assert {"400", "413"} <= responses.keys(), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert int(status) in problem_statuses | {400}
                ref = response["$ref"].rsplit("/", 1)[-1]
                content = document["components"]["responses"][ref]["content"]
                assert list(content) == ["application/problem+json"]
        public = operation.get("security") == []
        assert public == (path in {"/auth/signup", "/auth/login"}), (method, path)


def test_if_match_etag_location_and_link_are_documented_where_they_are_sent() -> None:
    document = RestApi().document
    for method, path, operation in operations(document):
        parameters = [p.get("$ref", "") for p in operation.get("parameters", ())]
        writes_one = method in {"PATCH", "DELETE"} or (
            method == "POST" and re.search(r"/\{id\}/\w+$", path)
        )
        if writes_one and path != "/openapi.json":
            assert "#/components/parameters/IfMatch" in parameters, (method, path)
            assert "412" in operation["responses"]
        success = operation["responses"][next(iter(operation["responses"]))]
        if method == "GET" and path.endswith("{id}"):
            assert "ETag" in success["headers"], path
        if method == "POST" and next(iter(operation["responses"])) == "201":
            assert "Location" in success["headers"], path
            assert path == "/auth/signup" or "ETag" in success["headers"], path
        if method == "GET" and success.get("content", {}).get("application/json", {}).get(
            "schema", {}
        ).get("$ref", "").endswith("Page"):
            assert "Link" in success["headers"], path
    create_order = document["paths"]["/orders"]["post"]
    assert {"201", "200"} <= create_order["responses"].keys()
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in create_order["parameters"]


def test_request_and_response_schemas_carry_examples() -> None:
    schemas = RestApi().document["components"]["schemas"]
    for name in ("CreateBin", "CreateItem", "CreateOrder", "Bin", "Item", "Order", "Shipment"):
        assert schemas[name]["examples"], name


async def test_the_document_is_served_at_api_v1_openapi_json(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == RestApi().document


async def test_api_docs_serves_swagger_ui_from_the_package_with_no_other_origin(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/api/docs")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(s.startswith("/api/docs/assets/") for s in sources), sources
    assert 'data-url="/api/v1/openapi.json"' in page.text
    for source in sources:
        asset = await http.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100
    bundle = (await http.get("/api/docs/assets/swagger-ui/swagger-ui-bundle.js")).text
    assert "SwaggerUIBundle" in bundle
