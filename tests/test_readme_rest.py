"""The README's REST examples are run as written (blocks of its "REST API" section, in order)
against a live server with a database of its own, so they cannot rot."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.livekit import LiveServer
from tests.names import unique
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.services import accounts
from warehouse_gql.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README_URL = "http://127.0.0.1:8000"


def rest_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## REST API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_the_readme_has_rest_examples_for_login_create_if_match_idempotency_and_pages() -> None:
    text = "\n".join(rest_examples())
    for needle in ("/auth/login", "/bins", "If-Match", "Idempotency-Key", "/fulfill", "limit="):
        assert needle in text, needle


async def test_the_readme_rest_examples_run_as_written(settings: Settings) -> None:
    if shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is needed to run the README's REST examples")
        pytest.skip("curl is not installed")
    own = dataclasses.replace(settings, mongodb_db=unique("wgql_readme").replace("-", "_"))
    server = LiveServer(create_app(own))
    await server.start()
    try:
        resources = server.resources
        # The README's first manager, made with the CLI there.
        await accounts.create_user(
            resources.db,
            resources.passwords,
            username="boss",
            email="boss@example.com",
            password="correct horse battery",
            role=Role.MANAGER,
        )
        script = "\n".join(rest_examples()).replace(README_URL, server.http_url)
        # The server runs in this event loop: the shell must not block it.
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        await server.stop()
    out = stdout.decode()
    assert process.returncode == 0, out + stderr.decode()
    assert "HTTP/1.1 201 Created" in out
    assert 'etag: "r1"' in out.lower()
    assert '"quantity":150' in out  # the adjustment with a fresh tag applied once
    assert '"code":"PRECONDITION_FAILED"' in out
    assert '"status":412' in out
    assert '"status":"FULFILLED"' in out
    assert '"totalCount":3' in out
