"""Live-query evaluation: whether a change makes an item enter, stay in or leave a result set."""

from __future__ import annotations

from enum import Enum

from warehouse_gql.live.events import ChangeKind, ItemChanged


class LiveKind(str, Enum):
    ENTER = "ENTER"
    UPDATE = "UPDATE"
    LEAVE = "LEAVE"


def low_stock_transition(event: ItemChanged, threshold: int) -> LiveKind | None:
    """ENTER/UPDATE/LEAVE for the set "items with quantity ≤ threshold", or None if unaffected."""
    was_in = (
        event.kind is not ChangeKind.CREATED
        and event.previous_quantity is not None
        and event.previous_quantity <= threshold
    )
    is_in = event.kind is not ChangeKind.DELETED and event.item.quantity <= threshold
    if is_in:
        return LiveKind.UPDATE if was_in else LiveKind.ENTER
    return LiveKind.LEAVE if was_in else None
