"""Pick routing: in which order to visit the stops of a pick walk, and how far that walk is.

The heuristics are the classic ones for a single-block warehouse (Roodbergen & de Koster
2001): S-shape traverses every aisle with a pick, largest gap enters each middle aisle from
the front and from the back up to its largest gap between picks, nearest neighbour always
walks to the closest unvisited stop. BEST runs them all, improves each with 2-opt and
or-opt moves, and keeps the shortest walk — so it is never longer than any single heuristic.
A walk is measured with the layout's metric: from the depot through every stop and back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from warehouse_gql.domain.layout import DEPOT, Layout, Position, parse_location


class Strategy(str, Enum):
    BEST = "BEST"
    S_SHAPE = "S_SHAPE"
    LARGEST_GAP = "LARGEST_GAP"
    NEAREST_NEIGHBOUR = "NEAREST_NEIGHBOUR"
    INPUT_ORDER = "INPUT_ORDER"


HEURISTICS = (
    Strategy.S_SHAPE,
    Strategy.LARGEST_GAP,
    Strategy.NEAREST_NEIGHBOUR,
    Strategy.INPUT_ORDER,
)
# Improvement passes are quadratic in the stops: beyond IMPROVE_ALL_UP_TO points only the best
# heuristic's route is improved, beyond IMPROVE_UP_TO none, so a huge batch still answers quickly.
IMPROVE_ALL_UP_TO = 60
IMPROVE_UP_TO = 400
_EPS = 1e-9


def tour_length(route: Sequence[Position], layout: Layout) -> float:
    """From the depot through every point in order and back to the depot."""
    total = 0.0
    here = DEPOT
    for point in route:
        total += layout.distance(here, point)
        here = point
    return total + layout.distance(here, DEPOT)


def _by_aisle(points: Sequence[Position]) -> dict[int, list[int]]:
    """Bays with picks, per aisle, ascending."""
    aisles: dict[int, list[int]] = {}
    for p in points:
        aisles.setdefault(p.aisle, []).append(p.bay)
    return {a: sorted(set(bays)) for a, bays in sorted(aisles.items())}


def s_shape(points: Sequence[Position], layout: Layout) -> list[Position]:
    """Every aisle with a pick, left to right, up one and down the next (a serpentine)."""
    route: list[Position] = []
    for k, (aisle, bays) in enumerate(_by_aisle(points).items()):
        # With an odd count the last aisle is entered from the front and left the same way:
        # its picks are still visited front to back, which is what k even gives.
        ordered = bays if k % 2 == 0 else list(reversed(bays))
        route += [Position(aisle, b) for b in ordered]
    return route


def _largest_gap_split(bays: list[int], bays_per_aisle: int) -> int:
    """How many of the (ascending) bays are picked from the front; the rest from the back."""
    edges = [0, *bays, bays_per_aisle + 1]
    gaps = [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]
    # gap i lies between edges[i] and edges[i + 1]: the i bays below it come from the front.
    return max(range(len(gaps)), key=lambda i: (gaps[i], -i))


def largest_gap(points: Sequence[Position], layout: Layout) -> list[Position]:
    """Traverse the first and last aisle with picks; enter every aisle between them from the
    back (on the way out) and from the front (on the way home), never crossing its largest gap."""
    aisles = list(_by_aisle(points).items())
    if not aisles:
        return []
    if len(aisles) == 1:
        aisle, bays = aisles[0]
        return [Position(aisle, b) for b in bays]
    (first, first_bays), *middle, (last, last_bays) = aisles
    splits = {a: _largest_gap_split(bays, layout.bays_per_aisle) for a, bays in middle}
    route = [Position(first, b) for b in first_bays]
    for aisle, bays in middle:
        route += [Position(aisle, b) for b in reversed(bays[splits[aisle] :])]
    route += [Position(last, b) for b in reversed(last_bays)]
    for aisle, bays in reversed(middle):
        route += [Position(aisle, b) for b in bays[: splits[aisle]]]
    return route


def nearest_neighbour(points: Sequence[Position], layout: Layout) -> list[Position]:
    """From the depot, always to the closest stop not yet visited (ties: nearer the front-left)."""
    left = sorted(set(points))
    route: list[Position] = []
    here = DEPOT
    while left:
        nearest = min(left, key=lambda p: (layout.distance(here, p), p))
        left.remove(nearest)
        route.append(nearest)
        here = nearest
    return route


def improve(route: Sequence[Position], layout: Layout) -> list[Position]:
    """Local search to a 2-opt and or-opt optimum: reverse a stretch of the walk, or move one
    to three consecutive stops elsewhere (either way round), while that shortens the walk."""
    nodes = [DEPOT, *route, DEPOT]
    n = len(nodes)
    if n <= 4:
        return list(route)
    index = {p: i for i, p in enumerate(sorted(set(nodes)))}
    table = [[layout.distance(a, b) for b in index] for a in index]
    order = [index[p] for p in nodes]
    back = {i: p for p, i in index.items()}

    def d(a: int, b: int) -> float:
        return table[order[a]][order[b]]

    improved = True
    while improved:
        improved = False
        # 2-opt: reverse order[i..j].
        for i in range(1, n - 2):
            for j in range(i + 1, n - 1):
                gain = d(i - 1, i) + d(j, j + 1) - d(i - 1, j) - d(i, j + 1)
                if gain > _EPS:
                    order[i : j + 1] = order[i : j + 1][::-1]
                    improved = True
        # or-opt: move order[i..i+k-1] between two other neighbours.
        for k in (1, 2, 3):
            i = 1
            while i + k <= n - 1:
                seg = order[i : i + k]
                before, after = order[i - 1], order[i + k]
                removed = table[before][seg[0]] + table[seg[-1]][after] - table[before][after]
                rest = order[:i] + order[i + k :]
                best_gain, best_at, best_seg = _EPS, -1, seg
                for at in range(len(rest) - 1):
                    a, b = rest[at], rest[at + 1]
                    for candidate in (seg, seg[::-1]):
                        added = table[a][candidate[0]] + table[candidate[-1]][b] - table[a][b]
                        if removed - added > best_gain:
                            best_gain, best_at, best_seg = removed - added, at, candidate
                if best_at >= 0:
                    order[:] = rest[: best_at + 1] + best_seg + rest[best_at + 1 :]
                    improved = True
                i += 1
    return [back[i] for i in order[1:-1]]


_HEURISTIC: dict[Strategy, Callable[[Sequence[Position], Layout], list[Position]]] = {
    Strategy.S_SHAPE: s_shape,
    Strategy.LARGEST_GAP: largest_gap,
    Strategy.NEAREST_NEIGHBOUR: nearest_neighbour,
    Strategy.INPUT_ORDER: lambda points, layout: list(dict.fromkeys(points)),
}


@dataclass(frozen=True, slots=True)
class Route:
    """An order of distinct points, the strategy that produced it, and its walking distance."""

    points: tuple[Position, ...]
    strategy: Strategy
    distance: float


def route_points(points: Sequence[Position], strategy: Strategy, layout: Layout) -> Route:
    """Order distinct points by one strategy. BEST keeps the shortest of the heuristics and
    their improvements; it reports the heuristic's name when improving did not shorten it."""
    if strategy is not Strategy.BEST:
        found = _HEURISTIC[strategy](points, layout)
        return Route(tuple(found), strategy, tour_length(found, layout))
    candidates = [route_points(points, s, layout) for s in HEURISTICS]
    # min() keeps the first of equals: S-shape, the easiest walk to follow, wins ties.
    best = min(candidates, key=lambda r: r.distance)
    count = len(set(points))
    to_improve = (
        candidates if count <= IMPROVE_ALL_UP_TO else [best] if count <= IMPROVE_UP_TO else []
    )
    for candidate in to_improve:
        better = improve(candidate.points, layout)
        length = tour_length(better, layout)
        if length < best.distance - _EPS:
            best = Route(tuple(better), Strategy.BEST, length)
    return best


@dataclass(frozen=True, slots=True)
class Walk:
    """The visiting order of stops (indices into the input), its distance and the baseline."""

    order: tuple[int, ...]
    strategy: Strategy
    distance: float
    baseline_distance: float


def plan_walk(locations: Sequence[str], strategy: Strategy, layout: Layout) -> Walk:
    """Sequence the stops at these bin locations (one entry per stop, in input order).

    Stops at the same point are picked together, lower shelf first. Stops whose location does
    not parse (or lies outside the layout) go last, in location order; they add nothing to
    the distance, which is unknown for them.
    """
    positions = [layout.position(loc) for loc in locations]
    placed = [i for i, p in enumerate(positions) if p is not None]
    unplaced = sorted(
        (i for i, p in enumerate(positions) if p is None),
        key=lambda i: (locations[i].strip().upper(), i),
    )
    in_input_order = [p for p in positions if p is not None]
    baseline = tour_length(in_input_order, layout)
    if strategy is Strategy.INPUT_ORDER:
        return Walk((*placed, *unplaced), strategy, baseline, baseline)

    at: dict[Position, list[int]] = {}
    for i in placed:
        position = positions[i]
        assert position is not None
        at.setdefault(position, []).append(i)
    route = route_points(list(at), strategy, layout)

    def shelf(i: int) -> int:
        slot = parse_location(locations[i])
        return 0 if slot is None else slot.shelf

    order: list[int] = []
    for point in route.points:
        order += sorted(at[point], key=lambda i: (shelf(i), locations[i].strip().upper(), i))
    return Walk((*order, *unplaced), route.strategy, route.distance, baseline)
