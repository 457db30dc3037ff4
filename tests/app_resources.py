"""What an app's lifespan opened (database, event bus, password hasher, settings), found on
the route it was attached to."""

from __future__ import annotations

from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from warehouse_gql.api.http import Resources


def resources_of(app: Starlette) -> Resources:
    for route in app.routes:
        view = getattr(route, "app", None) or getattr(route, "endpoint", None)
        found = getattr(view, "resources", None)
        if isinstance(found, Resources):
            return found
    raise AssertionError("the app has not started: it has no resources")


# asgi-lifespan gives a start-up and a shutdown 5 s each; late in the suite, on two shared
# cores and a test
# database thousands of records deep, start-up (indexes, backfills,
# the feed's relay) and shutdown (handing over the feed's and the webhooks' leases) can take
# longer without anything being wrong. What they must achieve is asserted elsewhere.
LIFESPAN_TIMEOUT_S = 60


def lifespan(app: Starlette) -> LifespanManager:
    """The app started and, on leaving, stopped, as a server would run it."""
    return LifespanManager(
        app, startup_timeout=LIFESPAN_TIMEOUT_S, shutdown_timeout=LIFESPAN_TIMEOUT_S
    )
