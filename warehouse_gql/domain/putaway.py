"""Putaway: where to store units of a sku that just arrived.

Bins already holding the sku come first (consolidation: one sku in few places), then a bin
where everything still to place fits at once, tightest such bin first (best fit: the least
room left over), then the roomiest bins (fewest splits); ties go in location order. The plan
fills greedily and says how much found no room.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.domain.inventory import MAX_CAPACITY, location_key


@dataclass(frozen=True, slots=True)
class Room:
    """A bin's free capacity."""

    bin_id: str
    location: str
    free: int


@dataclass(frozen=True, slots=True)
class Placement:
    bin_id: str
    quantity: int


def check_putaway_quantity(quantity: int) -> int:
    if not 1 <= quantity <= MAX_CAPACITY:
        raise BadUserInput(
            f"quantity to put away must be between 1 and {MAX_CAPACITY:,}, got {quantity}.",
            field="quantity",
        )
    return quantity


def fit_key(room: Room, quantity: int) -> tuple[int, int, str]:
    """Whole fit first, then the least leftover (|free − quantity|), then location."""
    fits = room.free >= quantity
    return (0 if fits else 1, abs(room.free - quantity), location_key(room.location))


def fill(quantity: int, rooms: Iterable[Room]) -> tuple[list[Placement], int]:
    """Put `quantity` units into the rooms in the order given; returns what is left over."""
    placed: list[Placement] = []
    left = quantity
    for room in rooms:
        if left == 0:
            break
        take = min(left, room.free)
        if take > 0:
            placed.append(Placement(room.bin_id, take))
            left -= take
    return placed, left
