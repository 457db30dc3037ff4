"""/api/docs: the browsable reference of /api/v1, Swagger UI shipped inside the package
(web/vendor/swagger-ui, Apache-2.0), so it works on a machine without internet."""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parent.parent.parent / "web"
# Swagger UI styles itself inline and draws with data: images; everything else is ours.
DOCS_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>warehouse-gql REST API reference</title>
<link rel="stylesheet" href="{prefix}/api/docs/assets/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="{prefix}/api/v1/openapi.json"></div>
<script src="{prefix}/api/docs/assets/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{prefix}/api/docs/assets/init.js"></script>
</body>
</html>
"""


async def page(request: Request) -> HTMLResponse:
    prefix = escape(request.scope.get("root_path", ""), quote=True)
    return HTMLResponse(
        PAGE.format(prefix=prefix),
        headers={"content-security-policy": DOCS_CSP, "cache-control": "no-cache"},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/api/docs", page),
        Mount(
            "/api/docs/assets/swagger-ui",
            StaticFiles(directory=WEB / "vendor" / "swagger-ui"),
        ),
        Mount("/api/docs/assets", StaticFiles(directory=WEB / "api-docs")),
    ]
