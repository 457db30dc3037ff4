"""Unique names: tests share one database and isolate themselves by what they name, never by
wiping it."""

from __future__ import annotations

import uuid


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
