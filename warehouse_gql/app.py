"""The composition root: opens MongoDB and the broadcaster in the lifespan, mounts /graphql and
/api/v1 (with its reference at /api/docs) and serves the dashboard's static files at /."""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

from broadcaster import Broadcast
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from warehouse_gql import logs
from warehouse_gql.api.graphql.view import GraphQLView, graphql_refusal
from warehouse_gql.api.http import RequestGuard, Resources, bearer_token
from warehouse_gql.api.parse.door import ParseDoor
from warehouse_gql.api.rest import docs, problems
from warehouse_gql.api.rest.app import RestApi, RestMount
from warehouse_gql.domain.webhooks import RetryPolicy
from warehouse_gql.live import metrics
from warehouse_gql.live.bus import EventBus
from warehouse_gql.live.redis_backend import ResilientRedisBackend
from warehouse_gql.services import feed
from warehouse_gql.services.passwords import Passwords
from warehouse_gql.services.webhook_delivery import WebhookWorker
from warehouse_gql.settings import Settings
from warehouse_gql.store import migrations
from warehouse_gql.store.database import Database, Document

log = logging.getLogger(__name__)

# The browser dashboard: plain HTML, CSS and JavaScript modules shipped inside the package.
DASHBOARD = Path(__file__).parent / "web"
# The page loads only its own files and talks only to this server (HTTP and WebSocket).
DASHBOARD_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def mongo_client(
    url: str, *, event_listeners: Sequence[CommandListener] = ()
) -> AsyncMongoClient[Document]:
    """The client every part of the server uses; listeners see its commands (tests count them)."""
    return AsyncMongoClient(
        url,
        tz_aware=True,
        appname="warehouse-gql",
        # SPEC: with the database down, reads and writes fail within 2 s.
        serverSelectionTimeoutMS=1500,
        connectTimeoutMS=1000,
        event_listeners=list(event_listeners),
    )


# Each component gets this long to stop; a shutdown never waits longer on one (SIGTERM is
# always honoured: what did not stop in time is logged and left to the process's exit).
SHUTDOWN_STEP_S = 5.0


def bounded(name: str, stop: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            async with asyncio.timeout(SHUTDOWN_STEP_S):
                await stop()
        except TimeoutError:
            log.warning("shutdown: %s did not stop within %.0f s; going on", name, SHUTDOWN_STEP_S)

    return run


def create_app(settings: Settings, *, database_up: Callable[[], bool] | None = None) -> Starlette:
    """The ASGI app. `settings.mongodb_url` must be set (the CLI starts the embedded database).

    `database_up` is the embedded database's supervisor saying whether its child runs: while it
    says no, /readyz answers 503 at once instead of waiting for a ping to time out.
    """
    if not settings.mongodb_url:
        raise ValueError("create_app needs settings.mongodb_url")
    mongodb_url = settings.mongodb_url
    view = GraphQLView(settings)
    rest = RestApi()
    parse = ParseDoor(settings)
    # Opened by each run of the lifespan; /readyz asks it whether Redis answers.
    redis_backend: ResilientRedisBackend | None = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal redis_backend
        async with AsyncExitStack() as stack:
            client = mongo_client(mongodb_url)
            stack.push_async_callback(bounded("the database client", client.close))
            db = Database(client, settings.mongodb_db)
            await migrations.prepare(db, change_retention_days=settings.change_retention_days)
            if settings.redis_url:
                redis_backend = ResilientRedisBackend(settings.redis_url)
                broadcast = Broadcast(backend=redis_backend)
            else:
                broadcast = Broadcast("memory://")
            await broadcast.connect()
            stack.push_async_callback(bounded("the broadcaster", broadcast.disconnect))
            events = EventBus(
                broadcast, queue_size=settings.max_queued_events, namespace=settings.mongodb_db
            )
            await events.start()
            stack.push_async_callback(bounded("the event bus", events.stop))
            # After the bus: the relay hands numbered changes to it; stopped before it.
            changefeed = feed.Feed(db, events)
            await changefeed.start()
            stack.push_async_callback(bounded("the change feed", changefeed.stop))
            # Every process runs a webhook worker; leases decide who delivers to which endpoint.
            webhook_worker = WebhookWorker(
                db,
                production=settings.production,
                policy=RetryPolicy(
                    first=timedelta(seconds=settings.webhook_retry_first_s),
                    longest=timedelta(seconds=settings.webhook_retry_longest_s),
                    give_up=timedelta(seconds=settings.webhook_give_up_s),
                ),
                poll_interval=settings.webhook_poll_s,
                timeout=settings.webhook_timeout_s,
            )
            await webhook_worker.start()
            stack.push_async_callback(bounded("the webhook worker", webhook_worker.stop))
            view.resources = rest.resources = parse.resources = Resources(
                db=db,
                events=events,
                passwords=Passwords(fast=settings.fast_password_hashing),
                settings=settings,
            )
            log.info("warehouse-gql ready (database %s)", settings.mongodb_db)
            yield
            view.resources = rest.resources = parse.resources = None

    async def dashboard(request: Request) -> FileResponse:
        return FileResponse(
            DASHBOARD / "index.html",
            headers={"content-security-policy": DASHBOARD_CSP, "cache-control": "no-cache"},
        )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            if view.resources is None:
                raise RuntimeError("starting")
            if database_up is not None and not database_up():
                raise ConnectionError("restarting")
            await view.resources.db.ping()
            checks["mongodb"] = "ok"
        except Exception as exc:
            checks["mongodb"] = f"unavailable: {type(exc).__name__}"
        if redis_backend is not None:
            checks["redis"] = "ok" if redis_backend.connected else "unavailable"
        for dependency, state in checks.items():
            metrics.DEPENDENCY_UP.labels(dependency).set(1 if state == "ok" else 0)
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    async def metrics_page(request: Request) -> Response:
        if settings.metrics_token is not None:
            given = bearer_token(request.headers.get("authorization")) or ""
            if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
                return JSONResponse(
                    {"error": "Send the metrics token as Authorization: Bearer <token>."},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="metrics"'},
                )
        # A scrape also refreshes warehouse_dependency_up, so it is current without /readyz.
        await readyz(request)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    middleware = []
    if settings.cors_origins:
        # Browser clients on other origins: credentials are bearer tokens, never cookies.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["authorization", "content-type", "x-request-id", "if-match"],
                expose_headers=["x-request-id", "etag", "retry-after"],
                max_age=600,
            )
        )

    # Every door shares the size limit, the deadline and cancellation when the client leaves;
    # each answers a refusal in its own shape. Outermost but for CORS, so refusals carry CORS.
    middleware.append(
        Middleware(
            RequestGuard,
            max_body_bytes=settings.max_body_bytes,
            timeout=settings.request_timeout_s,
            refusals={"/graphql": graphql_refusal, "/api/v1": problems.refusal},
        )
    )

    return Starlette(
        middleware=middleware,
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_page),
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            RestMount("/api/v1", rest),
            *docs.routes(),
            # PARSE_ENABLED=false: no /parse route at all, so every /parse path is a 404.
            *(parse.routes() if settings.parse_enabled else []),
            Route("/", dashboard),
            Mount("/assets", StaticFiles(directory=DASHBOARD), name="assets"),
        ],
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """The app factory for `uvicorn --factory` and multi-worker serving (each worker is a fresh
    process: it sets up its own log lines)."""
    settings = Settings.from_env()
    logs.configure(settings.log_format)
    app = create_app(settings)
    tune_collector()
    return app


# The cyclic garbage collector of a serving process (see tune_collector).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_collector() -> None:
    """Make the garbage collector of a serving process run its full collections rarely.

    With CPython's defaults a server holding thousands of sockets ran a full collection every
    few seconds under events (each one walks every object of every open socket: 0.5-0.75 s at
    5,000 subscriptions, which stalled that event's delivery; docs/BENCHMARKS.md). The objects
    made at start-up (modules, the schema) are frozen out of the collector's view, and the young
    generation collects after 50,000 allocations instead of 700, so short-lived objects
    (an event's futures and frames) are gone before a collection could promote them. Reference
    counting still frees almost everything at once; only cycles wait longer."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
