"""Driver failures as the rest of the server sees them, so that nothing outside store/ names
PyMongo's exception classes."""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.errors import (
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

# Any failure of the database or of talking to it.
DatabaseError = PyMongoError


def is_unreachable(exc: BaseException) -> bool:
    """Whether the database could not be reached at all (the caller answers
    SERVICE_UNAVAILABLE), as opposed to a failure of one command."""
    return isinstance(exc, (ConnectionFailure, ServerSelectionTimeoutError))


class UnusableDatabase(Exception):
    """Why a database URL cannot be used: `reason` is "unreachable", "rejected" (the server
    refused us, e.g. bad credentials) or "invalid" (a malformed URL or option)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def require_answers(url: str, *, timeout_ms: int = 5000) -> None:
    """Ping the database at `url` with a short-lived client, or raise UnusableDatabase.

    A serverSelectionTimeoutMS in the URL wins over `timeout_ms`.
    """
    options: dict[str, Any] = (
        {}
        if "serverselectiontimeoutms=" in url.lower()
        else {"serverSelectionTimeoutMS": timeout_ms}
    )
    try:
        with MongoClient[dict[str, object]](url, **options) as client:
            client.admin.command("ping")
    except ServerSelectionTimeoutError as exc:
        raise UnusableDatabase("unreachable", str(exc)) from None
    except OperationFailure as exc:
        raise UnusableDatabase("rejected", str(exc)) from None
    except (PyMongoError, ValueError, TypeError) as exc:
        raise UnusableDatabase("invalid", str(exc)) from None
