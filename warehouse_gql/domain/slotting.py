"""Velocity slotting: which skus are picked most, and where the fast movers should live.

ABC classes follow pick lines (how often a sku is picked, not how many units): sorted by pick
lines, a sku is A while the cumulative share of pick lines up to and including it is at most
80%, B up to 95%, C for the rest. Class-based storage keeps A skus near the depot (Petersen &
Aase 2004): an A sku whose main bin lies in the far half of the floor gets a suggested bin,
the nearest with room for its stock there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.domain.layout import DEPOT, Layout, Position

MAX_DAYS = 3650


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise BadUserInput(f"days must be between 1 and {MAX_DAYS}, got {days}.", field="days")
    return days


def abc_classes(pick_lines: Sequence[int]) -> list[str]:
    """The class of each sku, given their pick lines sorted from most to fewest."""
    total = sum(pick_lines)
    classes: list[str] = []
    running = 0
    for lines in pick_lines:
        running += lines
        # Integer arithmetic: shares exactly at 80% or 95% stay in the better class.
        if running * 100 <= 80 * total:
            classes.append("A")
        elif running * 100 <= 95 * total:
            classes.append("B")
        else:
            classes.append("C")
    return classes


def is_far(position: Position, layout: Layout) -> bool:
    """In the far half of the floor: more than half the longest walk from the depot."""
    farthest = layout.spacing * max(0, len(layout.aisles) - 1) + layout.bays_per_aisle
    return layout.distance(DEPOT, position) * 2 > farthest


@dataclass(frozen=True, slots=True)
class Candidate:
    """A bin that could take a fast mover: where it is and how much room it has."""

    bin_id: str
    location: str
    position: Position
    free: int


@dataclass(frozen=True, slots=True)
class FastMover:
    sku: str
    position: Position
    # Units in its main bin: what moving it nearer needs room for.
    quantity: int


def suggest_bins(
    movers: Sequence[FastMover], candidates: Sequence[Candidate], layout: Layout
) -> dict[str, str]:
    """sku -> suggested bin id. Movers in the order given (fastest first) each take the nearest
    bin with room that is nearer the depot than where they are; room is used up as it goes."""
    near_first = sorted(
        candidates, key=lambda c: (layout.distance(DEPOT, c.position), c.location.upper())
    )
    room = {c.bin_id: c.free for c in candidates}
    suggested: dict[str, str] = {}
    for mover in movers:
        if not is_far(mover.position, layout):
            continue
        here = layout.distance(DEPOT, mover.position)
        for candidate in near_first:
            if layout.distance(DEPOT, candidate.position) >= here:
                break
            if room[candidate.bin_id] >= mover.quantity:
                room[candidate.bin_id] -= mover.quantity
                suggested[mover.sku] = candidate.bin_id
                break
    return suggested
