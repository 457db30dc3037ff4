"""Unit tests of the floor's pure rules: layout, walking distance, pick routing against an exact
optimum, putaway order, ABC classes, cycle-count differences."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from warehouse_gql.domain import counting, putaway, slotting
from warehouse_gql.domain.errors import BadUserInput, CapacityExceeded, Conflict
from warehouse_gql.domain.inventory import StockSource, allocate_batch, allocate_picks
from warehouse_gql.domain.layout import (
    DEPOT,
    Layout,
    Position,
    Slot,
    natural_key,
    parse_location,
    walking_distance,
)
from warehouse_gql.domain.routing import (
    HEURISTICS,
    Strategy,
    largest_gap,
    plan_walk,
    route_points,
    s_shape,
    tour_length,
)
from warehouse_gql.settings import Settings, SettingsError

# The layout of the benchmark: 10 aisles of 20 bays, aisles 3 bay lengths apart.
TEN_BY_TWENTY = Layout(tuple("ABCDEFGHIJ"), bays_per_aisle=20, spacing=3.0)


def held_karp(points: Sequence[Position], layout: Layout) -> float:
    """The exact shortest tour from the depot through every point and back (Held & Karp 1962)."""
    nodes = [DEPOT, *points]
    n = len(points)
    d = [[layout.distance(a, b) for b in nodes] for a in nodes]
    inf = float("inf")
    best = [[inf] * n for _ in range(1 << n)]
    for j in range(n):
        best[1 << j][j] = d[0][j + 1]
    for mask in range(1, 1 << n):
        row = best[mask]
        for j in range(n):
            cost = row[j]
            if cost == inf:
                continue
            dj = d[j + 1]
            for k in range(n):
                if not mask >> k & 1:
                    extended = best[mask | 1 << k]
                    if cost + dj[k + 1] < extended[k]:
                        extended[k] = cost + dj[k + 1]
    return min(best[-1][j] + d[j + 1][0] for j in range(n))


def random_points(rng: random.Random, count: int) -> list[Position]:
    """`count` distinct pick points on the 10 × 20 floor."""
    points: set[Position] = set()
    while len(points) < count:
        points.add(Position(rng.randrange(10), rng.randint(1, 20)))
    return sorted(points, key=lambda _: rng.random())


# Layout and distance


def test_a_location_parses_as_aisle_rack_and_shelf_whatever_its_case() -> None:
    assert parse_location("B-07-2") == Slot("B", 7, 2)
    assert parse_location(" b-07-2 ") == Slot("B", 7, 2)
    assert parse_location("AA-120-10") == Slot("AA", 120, 10)


@pytest.mark.parametrize("location", ["B-07", "DOCK", "B-x-1", "B-07-2-1", "", "B--1"])
def test_a_location_not_of_the_form_aisle_rack_shelf_does_not_parse(location: str) -> None:
    assert parse_location(location) is None


def test_aisles_sort_naturally() -> None:
    labels = ["AA", "B", "A10", "Z", "A2", "A", "10", "9"]
    assert sorted(labels, key=natural_key) == ["9", "10", "A", "A2", "A10", "B", "Z", "AA"]


def test_walking_within_an_aisle_is_the_difference_of_bays() -> None:
    assert TEN_BY_TWENTY.distance(Position(2, 5), Position(2, 12)) == 7
    assert TEN_BY_TWENTY.distance(Position(2, 12), Position(2, 5)) == 7


def test_walking_between_aisles_goes_round_the_nearer_cross_aisle() -> None:
    # Front: 3 · 3 aisles + 2 + 4 bays out and in.
    assert TEN_BY_TWENTY.distance(Position(0, 2), Position(3, 4)) == 15
    # Back: 3 · 1 aisle + (21 − 19) + (21 − 18).
    assert TEN_BY_TWENTY.distance(Position(1, 19), Position(2, 18)) == 8
    # Either way equally long from the middle: 3 · 2 + min(10 + 11, 42 − 21).
    assert TEN_BY_TWENTY.distance(Position(4, 10), Position(6, 11)) == 27


def test_the_depot_is_at_the_front_of_the_first_aisle() -> None:
    assert TEN_BY_TWENTY.distance(DEPOT, Position(0, 7)) == 7
    assert TEN_BY_TWENTY.distance(DEPOT, Position(4, 1)) == 13
    assert walking_distance(DEPOT, Position(1, 1), bays_per_aisle=5, spacing=2.5) == 3.5


def test_bays_per_aisle_default_to_the_largest_rack_and_aisles_are_indexed_in_natural_order() -> (
    None
):
    layout = Layout.of(["b", "A10", "A2"], largest_rack=14)
    assert layout.aisles == ("A2", "A10", "B")
    assert layout.bays_per_aisle == 14
    assert layout.position("a10-03-1") == Position(1, 3)
    assert Layout.of(["A"], largest_rack=14, bays_per_aisle=30).bays_per_aisle == 30


def test_a_bin_beyond_the_layout_or_in_an_unknown_aisle_has_no_position() -> None:
    assert TEN_BY_TWENTY.position("A-21-1") is None
    assert TEN_BY_TWENTY.position("K-01-1") is None
    assert TEN_BY_TWENTY.position("DOCK") is None


def test_a_tour_starts_and_ends_at_the_depot() -> None:
    assert tour_length([], TEN_BY_TWENTY) == 0
    assert tour_length([Position(1, 4)], TEN_BY_TWENTY) == 14
    assert tour_length([Position(0, 5), Position(0, 2)], TEN_BY_TWENTY) == 10


# The heuristics on a crafted case


def test_s_shape_serpentines_through_the_aisles_with_picks() -> None:
    points = [Position(2, 4), Position(0, 15), Position(5, 10), Position(0, 3), Position(2, 18)]
    assert s_shape(points, TEN_BY_TWENTY) == [
        Position(0, 3),
        Position(0, 15),
        Position(2, 18),
        Position(2, 4),
        Position(5, 10),
    ]


def test_largest_gap_enters_middle_aisles_from_both_ends_but_never_crosses_their_largest_gap() -> (
    None
):
    points = [Position(0, 3), Position(0, 15), Position(2, 2), Position(2, 19), Position(5, 10)]
    # Aisle 2's largest gap is between bays 2 and 19: 19 from the back, 2 on the way home.
    assert largest_gap(points, TEN_BY_TWENTY) == [
        Position(0, 3),
        Position(0, 15),
        Position(2, 19),
        Position(5, 10),
        Position(2, 2),
    ]


def test_best_is_never_longer_than_any_heuristic_and_names_the_winner() -> None:
    points = [Position(0, 3), Position(0, 15), Position(2, 2), Position(2, 19), Position(5, 10)]
    best = route_points(points, Strategy.BEST, TEN_BY_TWENTY)
    for strategy in HEURISTICS:
        assert best.distance <= route_points(points, strategy, TEN_BY_TWENTY).distance
    assert best.distance == held_karp(points, TEN_BY_TWENTY)


def test_best_is_within_five_percent_of_the_optimum_on_two_hundred_random_walks() -> None:
    rng = random.Random(20261127)
    excess: list[float] = []
    for _ in range(200):
        points = random_points(rng, rng.randint(5, 10))
        optimum = held_karp(points, TEN_BY_TWENTY)
        best = route_points(points, Strategy.BEST, TEN_BY_TWENTY)
        assert best.distance >= optimum - 1e-9
        for strategy in HEURISTICS:
            single = route_points(points, strategy, TEN_BY_TWENTY)
            assert best.distance <= single.distance + 1e-9, (points, strategy)
        excess.append(best.distance / optimum - 1)
    average = sum(excess) / len(excess)
    print(
        f"\nBEST over 200 random walks of 5–10 stops (10 aisles × 20 bays): "
        f"average excess over the Held-Karp optimum {average:.3%}, worst {max(excess):.3%}"
    )
    assert average <= 0.05


def test_best_walks_ten_line_orders_at_least_a_third_shorter_than_input_order() -> None:
    rng = random.Random(7)
    savings: list[float] = []
    for _ in range(200):
        locations = [
            f"{'ABCDEFGHIJ'[rng.randrange(10)]}-{rng.randint(1, 20):02d}-1" for _ in range(10)
        ]
        walk = plan_walk(locations, Strategy.BEST, TEN_BY_TWENTY)
        assert (
            walk.baseline_distance
            == plan_walk(locations, Strategy.INPUT_ORDER, TEN_BY_TWENTY).distance
        )
        savings.append(1 - walk.distance / walk.baseline_distance)
    average = sum(savings) / len(savings)
    print(f"\nBEST on 200 random 10-line orders: average saving over input order {average:.1%}")
    assert average >= 0.35


# Walks of stops


def test_stops_at_one_bay_are_picked_together_lowest_shelf_first() -> None:
    locations = ["C-05-3", "A-02-1", "C-05-1", "A-02-1"]
    walk = plan_walk(locations, Strategy.S_SHAPE, TEN_BY_TWENTY)
    assert walk.order == (1, 3, 2, 0)
    assert walk.distance == tour_length([Position(0, 2), Position(2, 5)], TEN_BY_TWENTY)


def test_bins_whose_location_does_not_parse_go_last_in_location_order() -> None:
    locations = ["dock-2", "B-03-1", "Dock-1", "A-09-1", "K-01-1"]
    for strategy in Strategy:
        walk = plan_walk(locations, strategy, TEN_BY_TWENTY)
        assert walk.order[-3:] == (2, 0, 4), strategy
    walk = plan_walk(locations, Strategy.INPUT_ORDER, TEN_BY_TWENTY)
    assert walk.order == (1, 3, 2, 0, 4)
    assert walk.distance == tour_length([Position(1, 3), Position(0, 9)], TEN_BY_TWENTY)


def test_a_walk_of_only_unplaceable_bins_has_no_distance() -> None:
    for strategy in Strategy:
        walk = plan_walk(["dock", "B-x-1"], strategy, TEN_BY_TWENTY)
        assert (walk.order, walk.distance, walk.baseline_distance) == ((1, 0), 0, 0)
    assert plan_walk([], Strategy.BEST, TEN_BY_TWENTY).order == ()


def test_a_batch_of_pending_orders_never_plans_the_same_unit_twice() -> None:
    stock = [
        StockSource(sku="S", item_id="i1", bin_id="b1", quantity=5),
        StockSource(sku="S", item_id="i2", bin_id="b2", quantity=3),
    ]
    first, second = allocate_batch([[("S", 4)], [("S", 4)]], stock)
    assert first == allocate_picks([("S", 4)], stock)
    assert [(p.bin_id, p.quantity) for p in second] == [("b2", 3), ("b1", 1)]


# Putaway, slotting, counts


def test_putaway_prefers_a_whole_fit_then_the_least_leftover_then_location() -> None:
    rooms = [
        putaway.Room("1", "B-01-1", 50),
        putaway.Room("2", "A-01-1", 12),
        putaway.Room("3", "C-01-1", 12),
        putaway.Room("4", "D-01-1", 8),
    ]
    ordered = sorted(rooms, key=lambda r: putaway.fit_key(r, 10))
    assert [r.bin_id for r in ordered] == ["2", "3", "1", "4"]
    placed, left = putaway.fill(70, [rooms[3], rooms[0]])
    assert [(p.bin_id, p.quantity) for p in placed] == [("4", 8), ("1", 50)]
    assert left == 12


def test_abc_classes_follow_the_cumulative_share_of_pick_lines() -> None:
    assert slotting.abc_classes([50, 30, 10, 5, 5]) == ["A", "A", "B", "B", "C"]
    assert slotting.abc_classes([81, 19]) == ["B", "C"]
    assert slotting.abc_classes([]) == []


def test_only_a_fast_mover_in_the_far_half_gets_a_nearer_bin_with_room() -> None:
    movers = [
        slotting.FastMover("FAR", Position(9, 18), 10),
        slotting.FastMover("NEAR", Position(0, 2), 10),
        slotting.FastMover("FAR2", Position(8, 20), 10),
    ]
    candidates = [
        slotting.Candidate("tight", "A-01-1", Position(0, 1), 5),
        slotting.Candidate("roomy", "A-03-1", Position(0, 3), 15),
        slotting.Candidate("next", "B-01-1", Position(1, 1), 10),
    ]
    assert slotting.suggest_bins(movers, candidates, TEN_BY_TWENTY) == {
        "FAR": "roomy",
        "FAR2": "next",
    }


def test_a_count_differs_where_it_found_other_quantities() -> None:
    recorded = {"A": 5, "B": 2, "C": 7}
    assert counting.count_differences(recorded, {"A": 5, "B": 4}, complete=False) == {"B": 2}
    assert counting.count_differences(recorded, {"A": 5, "D": 1}, complete=True) == {
        "B": -2,
        "C": -7,
        "D": 1,
    }


def test_a_count_refuses_repeated_skus_a_stale_version_and_an_overfull_bin() -> None:
    with pytest.raises(BadUserInput):
        counting.check_count_lines([("A", 1), ("A", 2)], complete=False)
    with pytest.raises(BadUserInput):
        counting.check_count_lines([], complete=False)
    assert counting.check_count_lines([], complete=True) == {}
    with pytest.raises(Conflict, match="recount"):
        counting.check_version("A-01-1", 4, 3)
    counting.check_version("A-01-1", 4, None)
    with pytest.raises(CapacityExceeded):
        counting.check_count_fits("A-01-1", 10, 8, 3)


def test_the_layout_settings_are_read_from_the_environment() -> None:
    default = Settings.from_env({})
    assert (default.layout_aisle_spacing, default.layout_bays_per_aisle) == (3.0, None)
    given = Settings.from_env({"LAYOUT_AISLE_SPACING": "2.5", "LAYOUT_BAYS_PER_AISLE": "30"})
    assert (given.layout_aisle_spacing, given.layout_bays_per_aisle) == (2.5, 30)
    for bad in ({"LAYOUT_AISLE_SPACING": "0"}, {"LAYOUT_AISLE_SPACING": "wide"}):
        with pytest.raises(SettingsError, match="LAYOUT_AISLE_SPACING"):
            Settings.from_env(bad)
    with pytest.raises(SettingsError, match="LAYOUT_BAYS_PER_AISLE"):
        Settings.from_env({"LAYOUT_BAYS_PER_AISLE": "0"})
