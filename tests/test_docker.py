"""The container files: the image is production by default with a /readyz health check, and the
compose stack runs MongoDB as a replica set, Redis, two servers behind a WebSocket-capable proxy,
a data volume and a backup job. Without a Docker daemon only the files are checked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def test_the_image_is_production_by_default_and_healthy_only_when_ready() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WAREHOUSE_ENV=production" in dockerfile
    [healthcheck] = [line for line in dockerfile.splitlines() if "urlopen(" in line]
    assert "/readyz" in healthcheck
    assert "/healthz" not in healthcheck
    assert "USER warehouse" in dockerfile


def test_compose_runs_a_replica_set_redis_two_servers_behind_a_proxy_a_volume_and_backups() -> None:
    stack = compose()
    services = stack["services"]
    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert "mongo-data:/data/db" in services["mongo"]["volumes"]
    assert "mongo-data" in stack["volumes"]
    servers = [name for name in services if name.startswith("warehouse-gql-")]
    assert len(servers) == 2
    for name in servers:
        env = services[name]["environment"]
        assert env["MONGODB_URL"].endswith("replicaSet=rs0")
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["WAREHOUSE_ENV"] == "production"
        assert "ports" not in services[name], "servers are reached through the proxy only"
    proxy = services["proxy"]
    assert proxy["ports"] == ["8000:80"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    for name in servers:
        assert f"{name}:8000" in caddyfile
        assert proxy["depends_on"][name]["condition"] == "service_healthy"
    assert "health_uri /readyz" in caddyfile
    backup = services["backup"]
    assert backup["profiles"] == ["tools"]
    assert "warehouse-gql backup --out" in " ".join(backup["entrypoint"])
    assert any(volume.endswith(":/backups") for volume in backup["volumes"])


@pytest.mark.skipif(not docker_daemon(), reason="no Docker daemon on this machine")
def test_the_image_builds_and_its_command_runs() -> None:
    built = subprocess.run(
        ["docker", "build", "-t", "warehouse-gql:test", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    version = subprocess.run(
        ["docker", "run", "--rm", "warehouse-gql:test", "warehouse-gql", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert version.returncode == 0, version
    assert version.stdout.startswith("warehouse-gql "), version
    checked = subprocess.run(
        ["docker", "compose", "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_composed_database_reaps_a_killed_servers_transactions_after_10_s() -> None:
    command = compose()["services"]["mongo"]["command"]
    assert command[:3] == ["mongod", "--replSet", "rs0"]
    flag = command.index("--setParameter")
    assert command[flag + 1] == "transactionLifetimeLimitSeconds=10"
