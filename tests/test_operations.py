"""Running it: /metrics in Prometheus text format (and its token), the JSON request log line,
and CORS for browser clients on other origins."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.accounts import Account
from tests.app_resources import lifespan
from tests.graphql_client import GraphQLClient
from tests.livekit import LiveServer, Subscriptions
from tests.names import unique
from tests.waiting import wait_for
from warehouse_gql.app import create_app
from warehouse_gql.logs import JsonFormatter
from warehouse_gql.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
OTHER_SITE = "https://ops.example.com"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


@asynccontextmanager
async def client_of(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_metrics_count_graphql_requests_by_root_field_and_error_code(
    http: httpx.AsyncClient, gql: GraphQLClient, manager: Account, customer: Account
) -> None:
    before = (await http.get("/metrics")).text
    await gql.ok("{ me { id } }", token=manager.token)
    await gql.ok("query Named { me { id } }", token=manager.token)
    await gql.error("{ bins(first: 1) { totalCount } }", token=customer.token)
    await http.post("/graphql", json={"query": "{ nope"})
    page = await http.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=")
    after = page.text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("warehouse_requests_total", door="graphql", operation="me", code="OK") == 2
    assert grew("warehouse_requests_total", door="graphql", operation="bins", code="FORBIDDEN") == 1
    assert (
        grew("warehouse_requests_total", door="graphql", operation="invalid", code="BAD_USER_INPUT")
        == 1
    )
    assert grew("warehouse_request_duration_seconds_count", door="graphql", operation="me") == 2
    assert sample(after, "warehouse_dependency_up", dependency="mongodb") == 1
    for family in ("warehouse_feed_lag_seconds", "warehouse_webhook_backlog"):
        assert f"# TYPE {family} gauge" in after


async def metrics_until(
    http: httpx.AsyncClient, name: str, value: float, within: float = 10.0
) -> None:
    """Scrape until the gauge reads `value` (the server applies socket changes on its own time)."""

    async def reads_value() -> bool:
        return sample((await http.get("/metrics")).text, name) == value

    await wait_for(reads_value, timeout=within, what=f"{name} == {value}")


async def test_metrics_count_open_sockets_and_running_subscriptions(
    settings: Settings, manager: Account
) -> None:
    server = LiveServer(create_app(settings))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            before = (await http.get("/metrics")).text
            sockets = sample(before, "warehouse_open_sockets")
            running = sample(before, "warehouse_subscriptions")
            socket = Subscriptions(server.ws_url)
            await socket.connect({"authorization": f"Bearer {manager.token}"})
            try:
                await socket.subscribe(
                    f'subscription {{ itemChanged(sku: "{unique("M")}") {{ kind }} }}'
                )
                await metrics_until(http, "warehouse_open_sockets", sockets + 1)
                await metrics_until(http, "warehouse_subscriptions", running + 1)
            finally:
                await socket.close()
            await metrics_until(http, "warehouse_subscriptions", running)
            await metrics_until(http, "warehouse_open_sockets", sockets)
    finally:
        await server.stop()


async def test_metrics_need_the_bearer_token_when_one_is_set(settings: Settings) -> None:
    async with client_of(dataclasses.replace(settings, metrics_token="scrape-secret")) as client:
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = await client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        allowed = await client.get("/metrics", headers={"authorization": "Bearer scrape-secret"})
        assert allowed.status_code == 200
        assert "# TYPE warehouse_requests_total counter" in allowed.text


async def test_each_graphql_request_logs_one_json_line_with_id_user_operation_duration_and_code(
    gql: GraphQLClient, manager: Account, caplog: pytest.LogCaptureFixture
) -> None:
    request_id = unique("req")
    with caplog.at_level(logging.INFO, logger="warehouse_gql.requests"):
        response = await gql.http.post(
            "/graphql",
            json={"query": "query WhoAmI { me { id } }"},
            headers={"authorization": f"Bearer {manager.token}", "x-request-id": request_id},
        )
    assert response.status_code == 200
    [record] = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO"
    assert line["logger"] == "warehouse_gql.requests"
    assert line["user_id"] == manager.id
    assert line["operation"] == "me"
    assert line["code"] == "OK"
    assert line["status"] == 200
    assert line["door"] == "graphql"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0


def test_a_log_line_with_an_exception_is_still_one_json_object() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("once",), None)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed once"
    assert "ValueError: boom" in line["exc"]


async def test_cors_answers_a_preflight_and_a_real_request_from_an_allowed_origin_only(
    settings: Settings, manager: Account
) -> None:
    allowed = dataclasses.replace(settings, cors_origins=(OTHER_SITE,))
    async with client_of(allowed) as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "origin": OTHER_SITE,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == OTHER_SITE
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

        real = await client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"origin": OTHER_SITE, "authorization": f"Bearer {manager.token}"},
        )
        assert real.status_code == 200
        assert real.json()["data"]["me"]["id"] == manager.id
        assert real.headers["access-control-allow-origin"] == OTHER_SITE
        assert "x-request-id" in real.headers["access-control-expose-headers"].lower()

        stranger = await client.options(
            "/graphql",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers


async def test_without_cors_origins_no_cross_origin_headers_are_sent(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": OTHER_SITE}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_are_read_comma_separated_and_a_malformed_one_is_refused() -> None:
    read = Settings.from_env({"CORS_ORIGINS": "https://a.example, http://b.example:8080/ ,"})
    assert read.cors_origins == ("https://a.example", "http://b.example:8080")
    with pytest.raises(SettingsError, match="CORS_ORIGINS"):
        Settings.from_env({"CORS_ORIGINS": "a.example"})


async def test_the_grafana_dashboard_queries_only_metrics_the_server_exports(
    http: httpx.AsyncClient,
) -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exported = (await http.get("/metrics")).text
    named = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"warehouse_[a-z_]+", target["expr"])
    }
    assert named, "the dashboard has no queries"
    for name in sorted(named):
        assert f"# TYPE {name.removesuffix('_bucket')} " in exported or (f"\n{name}" in exported), (
            name
        )
