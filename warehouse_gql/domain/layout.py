"""The floor's geometry: where a bin location sits and how far a picker walks between two.

The model is the single-block layout of the order-picking literature (Ratliff & Rosenthal
1983): parallel aisles, numbered bays (racks) along each, a cross-aisle at the front (bay 0)
and one at the back (bay L + 1), and the depot at the front of the first aisle. Distances are
in bay lengths; moving one aisle over along a cross-aisle costs the aisle spacing W.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

LOCATION_PATTERN = re.compile(r"([A-Z0-9]+)-(\d{1,6})-(\d{1,6})")
_RUNS = re.compile(r"(\d+)")

DEFAULT_AISLE_SPACING = 3.0


@dataclass(frozen=True, slots=True)
class Slot:
    """A parsed location `AISLE-RACK-SHELF`, e.g. `B-07-2`: aisle B, rack (bay) 7, shelf 2."""

    aisle: str
    rack: int
    shelf: int


@functools.lru_cache(maxsize=4096)
def parse_location(location: str) -> Slot | None:
    """The slot a location names, or None when it is not of the form AISLE-RACK-SHELF
    (remembered: every bin of every answer asks, and slots are immutable)."""
    found = LOCATION_PATTERN.fullmatch(location.strip().upper())
    if found is None:
        return None
    return Slot(aisle=found[1], rack=int(found[2]), shelf=int(found[3]))


def natural_key(label: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of aisle labels: A < B < Z < AA, and 2 < 10 (digit runs compare as numbers)."""
    parts: list[tuple[int, int | str]] = []
    for run in _RUNS.split(label.upper()):
        if not run:
            continue
        # Letters-only labels sort by length first, so Z comes before AA like spreadsheet columns.
        parts.append((0, int(run)) if run.isdigit() else (1, f"{len(run):03d}{run}"))
    return tuple(parts)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A point on the floor: aisle index (0 = first aisle) and bay (0 = front cross-aisle)."""

    aisle: int
    bay: int


DEPOT = Position(0, 0)


def walking_distance(a: Position, b: Position, *, bays_per_aisle: int, spacing: float) -> float:
    """Shortest walk between two points: along the aisle when they share one, else out through
    whichever cross-aisle (front or back) is shorter and across."""
    if a.aisle == b.aisle:
        return float(abs(a.bay - b.bay))
    around = min(a.bay + b.bay, 2 * (bays_per_aisle + 1) - a.bay - b.bay)
    return spacing * abs(a.aisle - b.aisle) + around


@dataclass(frozen=True, slots=True)
class Layout:
    """The aisles in natural order, L bays per aisle and the aisle spacing W."""

    aisles: tuple[str, ...]
    bays_per_aisle: int
    spacing: float = DEFAULT_AISLE_SPACING

    @classmethod
    def of(
        cls,
        aisles: Iterable[str],
        *,
        largest_rack: int,
        bays_per_aisle: int | None = None,
        spacing: float = DEFAULT_AISLE_SPACING,
    ) -> Layout:
        """The layout of a floor whose bins use these aisles; L defaults to the largest rack."""
        ordered = tuple(sorted({a.upper() for a in aisles}, key=natural_key))
        return cls(
            aisles=ordered,
            bays_per_aisle=max(1, largest_rack) if bays_per_aisle is None else bays_per_aisle,
            spacing=spacing,
        )

    def position(self, location: str) -> Position | None:
        """Where a location sits, or None when it does not parse or lies outside the layout."""
        slot = parse_location(location)
        if slot is None or slot.rack > self.bays_per_aisle:
            return None
        try:
            aisle = self.aisles.index(slot.aisle)
        except ValueError:
            return None
        return Position(aisle, slot.rack)

    def distance(self, a: Position, b: Position) -> float:
        return walking_distance(a, b, bays_per_aisle=self.bays_per_aisle, spacing=self.spacing)
