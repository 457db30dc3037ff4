"""Every expected failure of the warehouse, each with the GraphQL error code it maps to.

    WarehouseError                 (code)
    ├── Unauthenticated            UNAUTHENTICATED
    ├── Forbidden                  FORBIDDEN
    ├── BadUserInput               BAD_USER_INPUT
    ├── NotFound                   NOT_FOUND
    ├── Conflict                   CONFLICT
    │   └── Duplicate              CONFLICT   (a value that must be unique is taken)
    ├── InsufficientStock          INSUFFICIENT_STOCK
    ├── CapacityExceeded           CAPACITY_EXCEEDED
    ├── InvalidTransition          INVALID_TRANSITION
    ├── RateLimited                RATE_LIMITED
    ├── ServiceUnavailable         SERVICE_UNAVAILABLE
    ├── QueryTooComplex            QUERY_TOO_COMPLEX
    ├── PayloadTooLarge            PAYLOAD_TOO_LARGE
    ├── PreconditionFailed         PRECONDITION_FAILED
    └── CursorExpired              CURSOR_EXPIRED

Anything else that escapes a resolver is unexpected: it is logged with a request id and
reaches the client as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

from collections.abc import Mapping


def article(noun: str) -> str:
    """ "An" before a vowel sound ("An order"), "A" otherwise ("A shipment")."""
    return "An" if noun[:1].lower() in "aeiou" else "A"


class WarehouseError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, object]:
        """What a client acts on besides the code (GraphQL `extensions`, REST problem fields)."""
        return {}


class Unauthenticated(WarehouseError):
    code = "UNAUTHENTICATED"

    def __init__(
        self, message: str = "Log in first: this operation needs a valid session token."
    ) -> None:
        super().__init__(message)


class Forbidden(WarehouseError):
    code = "FORBIDDEN"

    def __init__(self, operation: str, role: str) -> None:
        super().__init__(f"Your role {role} may not use {operation}.")
        self.operation = operation
        self.role = role


class BadUserInput(WarehouseError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(WarehouseError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"No {kind} with id {ident!r} exists.")
        self.kind = kind
        self.ident = ident


class Conflict(WarehouseError):
    code = "CONFLICT"


class Duplicate(Conflict):
    """A value that must be unique (a username, a bin location, a sku in a bin, a tracking
    number) is already taken: a conflict that retrying the same request can never resolve."""


class InsufficientStock(WarehouseError):
    code = "INSUFFICIENT_STOCK"

    def __init__(self, shorts: Mapping[str, int]) -> None:
        # shorts: sku -> how many units are missing
        self.shorts = dict(shorts)
        listed = ", ".join(f"{sku} (short by {n})" for sku, n in sorted(self.shorts.items()))
        super().__init__(f"Not enough stock of {listed}.")


class CapacityExceeded(WarehouseError):
    code = "CAPACITY_EXCEEDED"

    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location

    @classmethod
    def no_room(cls, location: str, requested: int, free: int) -> CapacityExceeded:
        return cls(location, f"Bin {location} has room for {free} more units, not {requested}.")

    @classmethod
    def below_load(cls, location: str, capacity: int, load: int) -> CapacityExceeded:
        return cls(
            location, f"Bin {location} holds {load} units, more than the new capacity {capacity}."
        )


class InvalidTransition(WarehouseError):
    code = "INVALID_TRANSITION"

    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"{article(kind)} {kind} that is {current} cannot become {target}.")
        self.kind = kind
        self.current = current
        self.target = target


class RateLimited(WarehouseError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        # Whole seconds until a retry can succeed (`extensions.retryAfter`, `Retry-After`).
        self.retry_after = max(1, retry_after)

    def details(self) -> dict[str, object]:
        return {"retryAfter": self.retry_after}


class ServiceUnavailable(WarehouseError):
    code = "SERVICE_UNAVAILABLE"

    def __init__(
        self, message: str = "The database is unreachable right now; try again shortly."
    ) -> None:
        super().__init__(message)


class QueryTooComplex(WarehouseError):
    code = "QUERY_TOO_COMPLEX"

    def __init__(
        self,
        message: str,
        *,
        cost: int,
        limit: int,
        depth: int | None = None,
        max_depth: int | None = None,
    ) -> None:
        super().__init__(message)
        self.cost = cost
        self.limit = limit
        # Set when the depth, not the cost, was over its limit.
        self.depth = depth
        self.max_depth = max_depth

    def details(self) -> dict[str, object]:
        found: dict[str, object] = {"cost": self.cost, "limit": self.limit}
        if self.depth is not None:
            found.update(depth=self.depth, maxDepth=self.max_depth)
        return found


class PayloadTooLarge(WarehouseError):
    code = "PAYLOAD_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request is larger than the limit of {limit} bytes.")
        self.limit = limit

    def details(self) -> dict[str, object]:
        return {"limit": self.limit}


class PreconditionFailed(WarehouseError):
    code = "PRECONDITION_FAILED"

    def __init__(
        self,
        message: str = "The resource changed since you read it (stale If-Match); read it again.",
    ) -> None:
        super().__init__(message)


class CursorExpired(WarehouseError):
    code = "CURSOR_EXPIRED"

    def __init__(
        self,
        message: str = "That cursor is older than the change feed keeps; read the current state again.",
    ) -> None:
        super().__init__(message)


CODES = (
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "CONFLICT",
    "INSUFFICIENT_STOCK",
    "CAPACITY_EXCEEDED",
    "INVALID_TRANSITION",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
    "QUERY_TOO_COMPLEX",
    "PAYLOAD_TOO_LARGE",
    "PRECONDITION_FAILED",
    "CURSOR_EXPIRED",
)
