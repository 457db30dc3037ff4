"""Settings, read once from the environment and command-line flags (flags win)."""

from __future__ import annotations

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
    # GraphQL document limits against abusive queries.
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
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
    # "json" (one object per line, the default) or "text" for people at a terminal.
    log_format: str = "json"
    # Cheap argon2 parameters: only the test suite sets this, never the environment.
    fast_password_hashing: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        production = env.get("WAREHOUSE_ENV", "").lower() == "production"
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
            layout_aisle_spacing=_number(env, "LAYOUT_AISLE_SPACING", 3.0, 1000.0),
            layout_bays_per_aisle=_int(env, "LAYOUT_BAYS_PER_AISLE", 0, 1, 1_000_000) or None,
            parse_enabled=_flag(env, "PARSE_ENABLED", True),
            parse_app_id=env.get("PARSE_APP_ID") or "warehouse",
            cors_origins=_origins(env.get("CORS_ORIGINS", "")),
            metrics_token=env.get("METRICS_TOKEN") or None,
            log_format=_choice(env, "LOG_FORMAT", "json", ("json", "text")),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given) if given else settings
