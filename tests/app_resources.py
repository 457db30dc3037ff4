"""What an app's lifespan opened (database, event bus, password hasher, settings), found on
the route it was attached to."""

from __future__ import annotations

from starlette.applications import Starlette

from warehouse_gql.api.http import Resources


def resources_of(app: Starlette) -> Resources:
    for route in app.routes:
        view = getattr(route, "app", None) or getattr(route, "endpoint", None)
        found = getattr(view, "resources", None)
        if isinstance(found, Resources):
            return found
    raise AssertionError("the app has not started: it has no resources")
