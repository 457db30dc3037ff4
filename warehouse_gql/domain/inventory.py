"""Stock rules: what a valid bin, item and quantity look like, and how picks are allocated."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from warehouse_gql.domain.errors import BadUserInput, InsufficientStock

MAX_CAPACITY = 1_000_000_000
MAX_LOCATION = 64
MAX_NAME = 200
MAX_SKU = 64
MAX_REASON = 200
SKU_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class MovementReason(StrEnum):
    """Why the server itself wrote a ledger line; an adjustment records its caller's reason.
    The values are stored (and indexed for the slotting report), so they never change."""

    CREATE = "create"
    MOVE = "move"
    FULFILL = "fulfil"
    COUNT = "count"


# Bidirectional overrides and isolates: they make a name display as something it is not.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(value: str, field: str) -> str:
    """Text a person can read: no NUL, control, separator or bidi-override characters.

    Emoji stay, including their joiners (U+200D) and variation selectors.
    """
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category in {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"} or char in _BIDI_CONTROLS:
            raise BadUserInput(
                f"{field} must not contain control characters (U+{ord(char):04X} at position {position}).",
                field=field,
            )
    return value


def trimmed(value: str, field: str, limit: int) -> str:
    """A required text field: surrounding white space dropped, then 1 to `limit` printable
    characters."""
    cleaned = printable(value.strip(), field)
    if not 1 <= len(cleaned) <= limit:
        raise BadUserInput(
            f"{field} must be 1 to {limit} characters after trimming, got {len(cleaned)}.",
            field=field,
        )
    return cleaned


def clean_location(location: str) -> str:
    return trimmed(location, "location", MAX_LOCATION)


def location_key(location: str) -> str:
    """Locations are unique case-insensitively: `a-01-03` and `A-01-03` are one place."""
    return location.strip().upper()


def check_capacity(capacity: int) -> int:
    if not 0 <= capacity <= MAX_CAPACITY:
        raise BadUserInput(
            f"capacity must be between 0 and {MAX_CAPACITY:,}, got {capacity}.", field="capacity"
        )
    return capacity


def clean_name(name: str) -> str:
    return trimmed(name, "name", MAX_NAME)


def check_sku(sku: str, *, field: str = "sku") -> str:
    if not SKU_PATTERN.fullmatch(sku):
        raise BadUserInput(
            f"{field} {sku!r} must be 1 to {MAX_SKU} characters of letters, digits, '.', '_' or '-'.",
            field=field,
        )
    return sku


def check_quantity(quantity: int, *, field: str = "quantity") -> int:
    if not 0 <= quantity <= MAX_CAPACITY:
        raise BadUserInput(
            f"{field} must be between 0 and {MAX_CAPACITY:,}, got {quantity}.", field=field
        )
    return quantity


def check_delta(delta: int) -> int:
    if delta == 0:
        raise BadUserInput(
            "delta must not be 0: a change of nothing is not a change.", field="delta"
        )
    if abs(delta) > MAX_CAPACITY:
        raise BadUserInput(f"delta must be at most {MAX_CAPACITY:,} either way.", field="delta")
    return delta


def check_move_quantity(quantity: int) -> int:
    if not 1 <= quantity <= MAX_CAPACITY:
        raise BadUserInput(
            f"quantity to move must be at least 1, got {quantity}.", field="quantity"
        )
    return quantity


def clean_reason(reason: str) -> str:
    return trimmed(reason, "reason", MAX_REASON)


@dataclass(frozen=True)
class StockSource:
    """One bin's stock of a sku, a candidate for picking."""

    sku: str
    item_id: str
    bin_id: str
    quantity: int


@dataclass(frozen=True)
class Pick:
    sku: str
    item_id: str
    bin_id: str
    quantity: int


def allocate_picks(lines: Sequence[tuple[str, int]], stock: Iterable[StockSource]) -> list[Pick]:
    """Plan the picks for order lines, fullest bin first so an order needs the fewest picks.

    `stock` lists the items holding the ordered skus. Raises InsufficientStock naming every
    short sku when any line cannot be filled.
    """
    by_sku: dict[str, list[StockSource]] = {}
    for source in stock:
        by_sku.setdefault(source.sku, []).append(source)
    picks: list[Pick] = []
    shorts: dict[str, int] = {}
    for sku, wanted in lines:
        # Ties broken by bin id so the plan is deterministic.
        sources = sorted(by_sku.get(sku, []), key=lambda s: (-s.quantity, s.bin_id))
        remaining = wanted
        for source in sources:
            if remaining == 0:
                break
            take = min(source.quantity, remaining)
            if take > 0:
                picks.append(
                    Pick(sku=sku, item_id=source.item_id, bin_id=source.bin_id, quantity=take)
                )
                remaining -= take
        if remaining:
            shorts[sku] = remaining
    if shorts:
        raise InsufficientStock(shorts)
    return picks


def allocate_batch(
    orders: Sequence[Sequence[tuple[str, int]]], stock: Iterable[StockSource]
) -> list[list[Pick]]:
    """The picks of several orders fulfilled one after the other: each by allocate_picks, against
    the stock the orders before it left, so a batch never plans the same unit twice."""
    left = {source.item_id: source for source in stock}
    planned: list[list[Pick]] = []
    for lines in orders:
        picks = allocate_picks(lines, left.values())
        for pick in picks:
            source = left[pick.item_id]
            left[pick.item_id] = StockSource(
                sku=source.sku,
                item_id=source.item_id,
                bin_id=source.bin_id,
                quantity=source.quantity - pick.quantity,
            )
        planned.append(picks)
    return planned
