"""Cycle counts: what a count of one bin changes.

A count lists skus and the units found. Each difference from the recorded quantity becomes one
COUNT movement (reason "count"). With `complete`, the count covers the whole bin: a sku the bin
holds but the count does not list was found to be 0. A count older than the bin's last write
(its version) is stale and must be redone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from warehouse_gql.domain.errors import BadUserInput, CapacityExceeded, Conflict
from warehouse_gql.domain.inventory import MovementReason, check_quantity, check_sku

COUNT_REASON = MovementReason.COUNT
MAX_COUNT_LINES = 1000


def check_count_lines(lines: Sequence[tuple[str, int]], *, complete: bool) -> dict[str, int]:
    """sku -> units counted; each sku once."""
    if not lines and not complete:
        raise BadUserInput(
            "Give at least one counted line, or complete: true for a bin found empty.",
            field="lines",
        )
    if len(lines) > MAX_COUNT_LINES:
        raise BadUserInput(f"A count has at most {MAX_COUNT_LINES} lines.", field="lines")
    counted: dict[str, int] = {}
    for sku, quantity in lines:
        check_sku(sku, field="lines.sku")
        if sku in counted:
            raise BadUserInput(f"sku {sku} is counted twice; list each sku once.", field="lines")
        counted[sku] = check_quantity(quantity, field="lines.quantity")
    return counted


def check_version(location: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(
            f"Bin {location} changed since it was counted (version {expected}, now {current}); "
            "recount it."
        )


def count_differences(
    recorded: Mapping[str, int], counted: Mapping[str, int], *, complete: bool
) -> dict[str, int]:
    """sku -> delta (counted − recorded) for every sku whose count differs."""
    found = dict(counted)
    if complete:
        for sku in recorded:
            found.setdefault(sku, 0)
    return {
        sku: quantity - recorded.get(sku, 0)
        for sku, quantity in found.items()
        if quantity != recorded.get(sku, 0)
    }


def check_count_fits(location: str, capacity: int, recorded_load: int, delta: int) -> None:
    counted = recorded_load + delta
    if counted > capacity:
        raise CapacityExceeded(
            location,
            f"The count puts {counted} units in bin {location}, more than its capacity "
            f"{capacity}; recount, or raise the capacity first.",
        )
