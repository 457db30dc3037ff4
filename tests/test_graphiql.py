"""GraphiQL at /graphql works offline: the page and every script, style and font come from this
server (real headless Chromium with every other request blocked), and it runs a query."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.accounts import Account
from tests.livekit import LiveServer
from tests.test_dashboard import CHROMIUM_ARGS, browser_missing, chromium_path
from warehouse_gql.app import create_app
from warehouse_gql.settings import Settings

try:
    from playwright.async_api import Route, async_playwright, expect
except ImportError:  # only without the `test` extra; the test says so
    async_playwright = None  # type: ignore[assignment]

WEB = Path(__file__).resolve().parent.parent / "warehouse_gql" / "web"


@pytest.fixture(scope="module")
async def live(settings: Settings) -> AsyncIterator[LiveServer]:
    server = LiveServer(create_app(settings))
    await server.start()
    yield server
    await server.stop()


def test_the_vendored_graphiql_files_match_the_integrity_hashes_the_page_pins() -> None:
    page = (WEB / "graphiql.html").read_text()
    pinned = re.findall(r'(?:href|src)="assets/([^"]+)"\s+integrity="sha384-([^"]+)"', page)
    assert {path for path, _ in pinned} == {
        "vendor/graphiql/graphiql.min.css",
        "vendor/graphiql/react.production.min.js",
        "vendor/graphiql/react-dom.production.min.js",
        "vendor/graphiql/graphiql.min.js",
    }
    for path, digest in pinned:
        actual = base64.b64encode(hashlib.sha384((WEB / path).read_bytes()).digest()).decode()
        assert actual == digest, path
    assert "https://" not in page
    assert "http://" not in page
    for licence in ("LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"):
        assert "MIT License" in (WEB / "vendor" / "graphiql" / licence).read_text()


async def test_graphiql_is_served_from_local_assets_with_a_strict_content_security_policy(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg.com" not in page.text
    assert "cdn" not in page.text.lower()
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "default-src 'self'" in policy
    script = await http.get("/assets/vendor/graphiql/graphiql.min.js")
    assert script.status_code == 200
    assert len(script.content) > 1_000_000


async def test_graphiql_renders_and_runs_a_query_with_every_outside_request_blocked(
    live: LiveServer, manager: Account, tmp_path: Path
) -> None:
    if async_playwright is None:
        browser_missing("Playwright for Python is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        browser_missing("Chromium is not installed (apt-get install -y chromium)")
    outside: list[str] = []
    problems: list[str] = []

    async def only_this_server(route: Route) -> None:
        if route.request.url.startswith(live.http_url) or route.request.url.startswith("data:"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            context.set_default_timeout(15_000)
            await context.route("**/*", only_this_server)
            page = await context.new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            query = "{ me { username role } }"
            headers = f'{{"Authorization": "Bearer {manager.token}"}}'
            await page.goto(f"{live.http_url}/graphql")
            await expect(page.locator(".graphiql-container")).to_be_visible()
            # Put the token in the Headers tab, as a user does, then run the query.
            await page.get_by_text("Headers", exact=True).click()
            await expect(page.locator(".graphiql-editor-tool .CodeMirror").last).to_be_visible()
            await page.evaluate(
                "([q, h]) => {"
                " document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q);"
                " const tools = document.querySelectorAll('.graphiql-editor-tool .CodeMirror');"
                " for (const e of tools) { if (e.offsetParent !== null) e.CodeMirror.setValue(h); } }",
                [query, headers],
            )
            await page.locator(".graphiql-execute-button").click()
            result = page.locator(".graphiql-response")
            await expect(result).to_contain_text(manager.username)
            await expect(result).to_contain_text("MANAGER")
            try:
                assert outside == [], outside
                assert problems == [], problems
            except AssertionError:
                await page.screenshot(path=tmp_path / "failure.png", full_page=True)
                raise
        finally:
            await browser.close()
