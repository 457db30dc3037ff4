"""Settings, read once from the environment and command-line flags (flags win)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}.")
    return value


def _number(env: Mapping[str, str], name: str, default: float, maximum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}.") from None
    if not 0 < value <= maximum:
        raise SettingsError(f"{name} must be above 0 and at most {maximum:g}, got {raw}.")
    return value


ENVIRONMENTS = ("production", "development")


def _environment(env: Mapping[str, str]) -> str:
    """WAREHOUSE_ENV is exactly `production` or `development` (unset: development)."""
    raw = env.get("WAREHOUSE_ENV")
    if raw is None or raw == "":
        return "development"
    if raw not in ENVIRONMENTS:
        raise SettingsError(f"WAREHOUSE_ENV must be production or development, got {raw!r}.")
    return raw


def _proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("TRUSTED_PROXIES") or ""
    proxies = tuple(p.strip() for p in raw.split(",") if p.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(
                f"TRUSTED_PROXIES must list IP addresses or networks, got {proxy!r}."
            ) from None
    return proxies


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}.")


def _origins(raw: str) -> tuple[str, ...]:
    """CORS_ORIGINS: comma-separated origins (scheme://host[:port]), or * for any."""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
            raise SettingsError(
                f"CORS_ORIGINS entries must look like https://host[:port] or *, got {origin!r}."
            )
    return origins


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (env.get(name) or default).lower()
    if raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}.")
    return raw


@dataclass(frozen=True)
class Settings:
    mongodb_url: str | None = None
    mongodb_db: str = "warehouse"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".warehouse-data")
    workers: int = 1
    session_ttl_hours: int = 168
    production: bool = False
    # Introspection and GraphiQL are on outside production; WAREHOUSE_GRAPHIQL=1 turns them on there.
    graphiql: bool = True
    # GraphQL document limits against abusive queries (SPEC "Limits and abuse protection").
    max_query_cost: int = 50_000
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    # Sockets and subscriptions (SPEC "Sizes"): sockets per session token on one process,
    # subscriptions per socket and per process, events one subscriber may fall behind.
    max_sockets_per_session: int = 20
    max_subscriptions_per_socket: int = 100
    max_subscriptions: int = 10_000
    max_queued_events: int = 1000
    # Days the change feed keeps its records (older cursors get CURSOR_EXPIRED).
    change_retention_days: int = 7
    # Cost points per caller per minute, and log-in/sign-up attempts per address and per
    # username per minute; 0 turns either off.
    rate_limit_points: int = 1_000_000
    auth_rate_limit: int = 10
    # Peers whose X-Forwarded-For names the client (addresses or networks).
    trusted_proxies: tuple[str, ...] = ()
    request_timeout_s: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # The floor's walking geometry (see domain/layout.py): the distance between two aisles in
    # bay lengths, and bays per aisle (None: the largest rack number among the bins).
    layout_aisle_spacing: float = 3.0
    layout_bays_per_aisle: int | None = None
    # The Parse-compatible endpoint at /parse and the application id its clients must send.
    parse_enabled: bool = True
    parse_app_id: str = "warehouse"
    # Browser origins allowed to call the API from other sites (CORS), e.g. https://ops.example.com.
    cors_origins: tuple[str, ...] = ()
    # When set, GET /metrics needs `Authorization: Bearer <token>`.
    metrics_token: str | None = field(default=None, repr=False)
    # Webhook delivery (SPEC "Webhooks"): how often each process looks for work, the wait
    # before the first retry (doubling up to the longest), how long an endpoint may fail
    # before it is disabled, and the time one attempt may take.
    webhook_poll_s: float = 1.0
    webhook_retry_first_s: float = 5.0
    webhook_retry_longest_s: float = 3600.0
    webhook_give_up_s: float = 24 * 3600.0
    webhook_timeout_s: float = 10.0
    # "json" (one object per line, the default) or "text" for people at a terminal.
    log_format: str = "json"
    # Cheap argon2 parameters: only the test suite sets this, never the environment.
    fast_password_hashing: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        production = _environment(env) == "production"
        graphiql_flag = env.get("WAREHOUSE_GRAPHIQL", "").lower() in {"1", "true", "yes"}
        settings = cls(
            mongodb_url=env.get("MONGODB_URL") or None,
            mongodb_db=env.get("MONGODB_DB") or "warehouse",
            redis_url=env.get("REDIS_URL") or None,
            host=env.get("HOST") or "127.0.0.1",
            port=_int(env, "PORT", 8000, 1, 65535),
            data_dir=Path(env.get("WAREHOUSE_DATA_DIR") or ".warehouse-data"),
            session_ttl_hours=_int(env, "SESSION_TTL_HOURS", 168, 1, 24 * 365 * 10),
            production=production,
            graphiql=graphiql_flag or not production,
            max_sockets_per_session=_int(env, "MAX_SOCKETS_PER_SESSION", 20, 1, 10_000),
            max_subscriptions_per_socket=_int(env, "MAX_SUBSCRIPTIONS_PER_SOCKET", 100, 1, 10_000),
            max_subscriptions=_int(env, "MAX_SUBSCRIPTIONS", 10_000, 1, 10_000_000),
            max_queued_events=_int(env, "MAX_QUEUED_EVENTS", 1000, 1, 1_000_000),
            change_retention_days=_int(env, "CHANGE_RETENTION_DAYS", 7, 1, 3650),
            layout_aisle_spacing=_number(env, "LAYOUT_AISLE_SPACING", 3.0, 1000.0),
            layout_bays_per_aisle=_int(env, "LAYOUT_BAYS_PER_AISLE", 0, 1, 1_000_000) or None,
            max_query_cost=_int(env, "MAX_QUERY_COST", 50_000, 1, 10**12),
            max_query_depth=_int(env, "MAX_QUERY_DEPTH", 12, 1, 1000),
            rate_limit_points=_int(env, "RATE_LIMIT_POINTS", 1_000_000, 0, 10**12),
            auth_rate_limit=_int(env, "AUTH_RATE_LIMIT", 10, 0, 1_000_000),
            trusted_proxies=_proxies(env),
            request_timeout_s=_number(env, "REQUEST_TIMEOUT_S", 10.0, 3600.0),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024, 1024, 1024**3),
            parse_enabled=_flag(env, "PARSE_ENABLED", True),
            parse_app_id=env.get("PARSE_APP_ID") or "warehouse",
            cors_origins=_origins(env.get("CORS_ORIGINS", "")),
            metrics_token=env.get("METRICS_TOKEN") or None,
            log_format=_choice(env, "LOG_FORMAT", "json", ("json", "text")),
            webhook_poll_s=_number(env, "WEBHOOK_POLL_S", 1.0, 3600.0),
            webhook_retry_first_s=_number(env, "WEBHOOK_RETRY_FIRST_S", 5.0, 10.0),
            webhook_retry_longest_s=_number(env, "WEBHOOK_RETRY_LONGEST_S", 3600.0, 24 * 3600.0),
            webhook_give_up_s=_number(env, "WEBHOOK_GIVE_UP_S", 24 * 3600.0, 30 * 24 * 3600.0),
            webhook_timeout_s=_number(env, "WEBHOOK_TIMEOUT_S", 10.0, 10.0),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given) if given else settings
