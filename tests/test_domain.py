"""Fast unit tests of the pure warehouse rules: no database, no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from warehouse_gql.domain import inventory as stock
from warehouse_gql.domain import orders
from warehouse_gql.domain.errors import BadUserInput, InsufficientStock, InvalidTransition
from warehouse_gql.domain.inventory import Pick, StockSource, allocate_picks
from warehouse_gql.domain.models import Item
from warehouse_gql.domain.orders import OrderStatus, ShipmentStatus
from warehouse_gql.live.events import ChangeKind, ItemChanged
from warehouse_gql.live.livequery import LiveKind, low_stock_transition

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def source(sku: str, bin_id: str, quantity: int) -> StockSource:
    return StockSource(sku=sku, item_id=f"{sku}@{bin_id}", bin_id=bin_id, quantity=quantity)


# Pick allocation


def test_allocation_takes_the_fullest_bin_first() -> None:
    stock_ = [source("A", "b1", 3), source("A", "b2", 10), source("A", "b3", 5)]
    assert allocate_picks([("A", 4)], stock_) == [
        Pick(sku="A", item_id="A@b2", bin_id="b2", quantity=4)
    ]


def test_allocation_spills_over_to_the_next_fullest_bins_when_one_is_not_enough() -> None:
    stock_ = [source("A", "b1", 3), source("A", "b2", 10), source("A", "b3", 5)]
    picks = allocate_picks([("A", 17)], stock_)
    assert [(p.bin_id, p.quantity) for p in picks] == [("b2", 10), ("b3", 5), ("b1", 2)]


def test_allocation_breaks_ties_by_bin_id_whatever_the_input_order() -> None:
    forward = [source("A", "b1", 5), source("A", "b2", 5), source("A", "b3", 5)]
    for stock_ in (forward, list(reversed(forward))):
        picks = allocate_picks([("A", 7)], stock_)
        assert [(p.bin_id, p.quantity) for p in picks] == [("b1", 5), ("b2", 2)]


def test_allocation_skips_empty_bins() -> None:
    picks = allocate_picks([("A", 2)], [source("A", "b0", 0), source("A", "b1", 2)])
    assert [(p.bin_id, p.quantity) for p in picks] == [("b1", 2)]


def test_allocation_plans_each_line_from_its_own_skus_stock() -> None:
    stock_ = [source("A", "b1", 4), source("B", "b1", 9), source("B", "b2", 1)]
    picks = allocate_picks([("A", 4), ("B", 10)], stock_)
    assert [(p.sku, p.bin_id, p.quantity) for p in picks] == [
        ("A", "b1", 4),
        ("B", "b1", 9),
        ("B", "b2", 1),
    ]


def test_allocation_of_exactly_all_stock_succeeds() -> None:
    picks = allocate_picks([("A", 8)], [source("A", "b1", 3), source("A", "b2", 5)])
    assert sum(p.quantity for p in picks) == 8


def test_insufficient_stock_names_every_short_sku_with_its_shortfall() -> None:
    stock_ = [source("A", "b1", 3), source("A", "b2", 2), source("B", "b1", 10)]
    with pytest.raises(InsufficientStock) as caught:
        allocate_picks([("A", 7), ("B", 10), ("C", 4)], stock_)
    assert caught.value.shorts == {"A": 2, "C": 4}
    assert caught.value.code == "INSUFFICIENT_STOCK"
    assert "A (short by 2)" in caught.value.message
    assert "C (short by 4)" in caught.value.message
    assert "B " not in caught.value.message


# Validation


def test_locations_are_trimmed() -> None:
    assert stock.clean_location("  A-01-03 \t") == "A-01-03"


@pytest.mark.parametrize("location", ["", "   ", "x" * 65])
def test_a_location_must_be_1_to_64_characters_after_trimming(location: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        stock.clean_location(location)
    assert caught.value.field == "location"


def test_a_64_character_location_is_accepted() -> None:
    assert stock.clean_location("x" * 64) == "x" * 64


def test_location_keys_ignore_case_and_surrounding_space() -> None:
    assert stock.location_key(" a-01-03 ") == stock.location_key("A-01-03")


@pytest.mark.parametrize("sku", ["A", "sku-1.2_3", "Z" * 64])
def test_valid_skus_pass(sku: str) -> None:
    assert stock.check_sku(sku) == sku


@pytest.mark.parametrize("sku", ["", "has space", "slash/es", "ü", "Z" * 65, "a\n"])
def test_invalid_skus_are_bad_user_input_naming_the_field(sku: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        stock.check_sku(sku)
    assert caught.value.field == "sku"
    assert caught.value.code == "BAD_USER_INPUT"


@pytest.mark.parametrize("capacity", [0, 1, 1_000_000_000])
def test_capacities_within_bounds_pass(capacity: int) -> None:
    assert stock.check_capacity(capacity) == capacity


@pytest.mark.parametrize("capacity", [-1, 1_000_000_001])
def test_capacities_out_of_bounds_are_bad_user_input(capacity: int) -> None:
    with pytest.raises(BadUserInput) as caught:
        stock.check_capacity(capacity)
    assert caught.value.field == "capacity"


def test_a_delta_of_zero_is_bad_user_input() -> None:
    with pytest.raises(BadUserInput) as caught:
        stock.check_delta(0)
    assert caught.value.field == "delta"


@pytest.mark.parametrize("delta", [1, -1, 1_000_000_000, -1_000_000_000])
def test_nonzero_deltas_pass(delta: int) -> None:
    assert stock.check_delta(delta) == delta


def test_a_delta_beyond_the_largest_capacity_is_bad_user_input() -> None:
    with pytest.raises(BadUserInput):
        stock.check_delta(1_000_000_001)


@pytest.mark.parametrize("quantity", [0, -3])
def test_moving_less_than_one_unit_is_bad_user_input(quantity: int) -> None:
    with pytest.raises(BadUserInput) as caught:
        stock.check_move_quantity(quantity)
    assert caught.value.field == "quantity"


def test_a_negative_initial_quantity_is_bad_user_input() -> None:
    with pytest.raises(BadUserInput):
        stock.check_quantity(-1)
    assert stock.check_quantity(0) == 0


@pytest.mark.parametrize("name", ["", "  ", "n" * 201])
def test_names_must_be_1_to_200_characters(name: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        stock.clean_name(name)
    assert caught.value.field == "name"


# Order and shipment state machines


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (OrderStatus.PENDING, OrderStatus.FULFILLED),
        (OrderStatus.PENDING, OrderStatus.CANCELLED),
        (OrderStatus.FULFILLED, OrderStatus.SHIPPED),
    ],
)
def test_the_order_state_machine_allows_its_arrows(
    current: OrderStatus, target: OrderStatus
) -> None:
    orders.check_order_transition(current, target)


ALLOWED = {
    (OrderStatus.PENDING, OrderStatus.FULFILLED),
    (OrderStatus.PENDING, OrderStatus.CANCELLED),
    (OrderStatus.FULFILLED, OrderStatus.SHIPPED),
}


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c in OrderStatus for t in OrderStatus if (c, t) not in ALLOWED],
)
def test_every_other_order_transition_is_invalid(current: OrderStatus, target: OrderStatus) -> None:
    with pytest.raises(InvalidTransition) as caught:
        orders.check_order_transition(current, target)
    assert caught.value.code == "INVALID_TRANSITION"
    assert (caught.value.current, caught.value.target) == (current.value, target.value)


def test_cancelled_and_shipped_orders_are_final() -> None:
    assert orders.ORDER_TRANSITIONS[OrderStatus.CANCELLED] == frozenset()
    assert orders.ORDER_TRANSITIONS[OrderStatus.SHIPPED] == frozenset()


def test_only_fulfilled_and_shipped_orders_are_shippable() -> None:
    assert frozenset({OrderStatus.FULFILLED, OrderStatus.SHIPPED}) == orders.SHIPPABLE


def test_delivering_a_shipment_in_transit_is_a_real_change() -> None:
    assert not orders.shipment_transition_is_noop(
        ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED
    )


@pytest.mark.parametrize("status", list(ShipmentStatus))
def test_setting_a_shipments_current_status_again_is_a_noop(status: ShipmentStatus) -> None:
    assert orders.shipment_transition_is_noop(status, status)


def test_a_delivered_shipment_cannot_go_back_in_transit() -> None:
    with pytest.raises(InvalidTransition):
        orders.shipment_transition_is_noop(ShipmentStatus.DELIVERED, ShipmentStatus.IN_TRANSIT)


# Order lines


def test_one_line_and_a_hundred_lines_are_accepted() -> None:
    assert orders.check_lines([("A", 1)]) == [("A", 1)]
    hundred = [(f"S{i}", 1) for i in range(100)]
    assert orders.check_lines(hundred) == hundred


@pytest.mark.parametrize("count", [0, 101])
def test_an_order_needs_1_to_100_lines(count: int) -> None:
    with pytest.raises(BadUserInput) as caught:
        orders.check_lines([(f"S{i}", 1) for i in range(count)])
    assert caught.value.field == "items"
    assert str(count) in caught.value.message


def test_a_sku_on_two_lines_is_bad_user_input_naming_it() -> None:
    with pytest.raises(BadUserInput) as caught:
        orders.check_lines([("A", 1), ("DUP-1", 2), ("DUP-1", 3)])
    assert caught.value.field == "items.sku"
    assert "DUP-1" in caught.value.message


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_line_quantity_below_one_is_bad_user_input_naming_the_sku(quantity: int) -> None:
    with pytest.raises(BadUserInput) as caught:
        orders.check_lines([("A", 1), ("LOW-1", quantity)])
    assert caught.value.field == "items.quantity"
    assert "LOW-1" in caught.value.message


def test_a_malformed_sku_on_a_line_is_bad_user_input() -> None:
    with pytest.raises(BadUserInput) as caught:
        orders.check_lines([("bad sku", 1)])
    assert caught.value.field == "items.sku"


def test_customer_names_are_trimmed_and_must_not_be_empty() -> None:
    assert orders.clean_customer_name("  Ada ") == "Ada"
    with pytest.raises(BadUserInput) as caught:
        orders.clean_customer_name("   ")
    assert caught.value.field == "customerName"


# Live query: lowStock


def changed(kind: ChangeKind, quantity: int, previous: int | None) -> ItemChanged:
    item = Item(
        id="i1",
        name="Widget",
        sku="W",
        bin_id="b1",
        quantity=quantity,
        revision=2,
        created_at=NOW,
        updated_at=NOW,
    )
    return ItemChanged(kind, item, previous)


@pytest.mark.parametrize(
    ("kind", "quantity", "previous", "expected"),
    [
        # created at or below the threshold enters; above it is unaffected
        (ChangeKind.CREATED, 5, None, LiveKind.ENTER),
        (ChangeKind.CREATED, 6, None, None),
        # falling to the threshold enters; changing inside it updates
        (ChangeKind.UPDATED, 5, 6, LiveKind.ENTER),
        (ChangeKind.UPDATED, 3, 5, LiveKind.UPDATE),
        (ChangeKind.UPDATED, 5, 5, LiveKind.UPDATE),
        # rising above it leaves; changing above it is unaffected
        (ChangeKind.UPDATED, 6, 5, LiveKind.LEAVE),
        (ChangeKind.UPDATED, 9, 7, None),
        # deleting a matching item leaves; deleting one that never matched is unaffected
        (ChangeKind.DELETED, 0, 0, LiveKind.LEAVE),
        (ChangeKind.DELETED, 8, 8, None),
    ],
)
def test_low_stock_transitions(
    kind: ChangeKind, quantity: int, previous: int | None, expected: LiveKind | None
) -> None:
    assert low_stock_transition(changed(kind, quantity, previous), threshold=5) is expected


def test_a_created_event_never_counts_as_previously_matching() -> None:
    # Even if a previous quantity slipped in, a new item can only ENTER.
    assert low_stock_transition(changed(ChangeKind.CREATED, 1, 1), threshold=5) is LiveKind.ENTER


# Names people read


@pytest.mark.parametrize(
    "name", ["Blue\x00widget", "Blue\nwidget", "tab\there", "bell\x07", "del\x7f", "rtl\u202egod"]
)
def test_a_name_with_nul_or_control_characters_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        stock.clean_name(name)
    assert caught.value.field == "name"
    assert "control characters" in caught.value.message


def test_a_name_with_emoji_and_their_joiners_is_kept() -> None:
    assert (
        stock.clean_name("  Box 📦 of 👩\u200d🔧 tools ✔\ufe0f ")
        == "Box 📦 of 👩\u200d🔧 tools ✔\ufe0f"
    )


def test_a_customer_name_with_a_nul_is_refused() -> None:
    with pytest.raises(BadUserInput) as caught:
        orders.clean_customer_name("ACME\x00Ltd")
    assert caught.value.field == "customerName"


def test_an_order_transition_message_says_an_order_and_a_shipment_says_a_shipment() -> None:
    assert InvalidTransition("order", "SHIPPED", "CANCELLED").message == (
        "An order that is SHIPPED cannot become CANCELLED."
    )
    assert InvalidTransition("shipment", "DELIVERED", "IN_TRANSIT").message == (
        "A shipment that is DELIVERED cannot become IN_TRANSIT."
    )


def test_a_version_tag_changes_with_every_committed_change_of_a_record() -> None:
    from datetime import UTC, datetime

    from warehouse_gql.domain.errors import PreconditionFailed
    from warehouse_gql.domain.models import Bin, Order
    from warehouse_gql.domain.orders import OrderStatus
    from warehouse_gql.domain.preconditions import Precondition, version_tag

    at = datetime(2026, 5, 24, 10, 15, 30, 123000, tzinfo=UTC)
    bin = Bin("b", "A-1-1", 10, 0, at, at, version=3)
    assert version_tag(bin) == "v3"
    order = Order("o", "Ada", (), OrderStatus.PENDING, "u", (), at, at, revision=2)
    assert version_tag(order) == "r2"
    Precondition(frozenset({"v3"})).check(bin)
    Precondition(frozenset({"*"})).check(order)
    with pytest.raises(PreconditionFailed):
        Precondition(frozenset({"v2", "t1"})).check(bin)


def test_movement_reasons_keep_the_spellings_stored_in_the_ledger() -> None:
    from warehouse_gql.domain.inventory import MovementReason

    assert {r.name: str(r) for r in MovementReason} == {
        "CREATE": "create",
        "MOVE": "move",
        "FULFILL": "fulfil",
        "COUNT": "count",
    }
