"""The one clock records are stamped with."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current UTC time at the precision the database stores (milliseconds), so what a
    create or update returns equals what a later read returns, on every door."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
