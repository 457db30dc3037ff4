"""Changes: every committed write of a Bin, Item, Order or Shipment, as the feed carries it.

A change is numbered (`seq`) in commit order after it commits; its `cursor` is that number as
text, opaque to clients. `revision` counts the committed writes of that one document, so a
consumer that sees a change twice (at-least-once across processes) drops the second copy.
`data` is the state after the change (the last state on DELETED) with the GraphQL field
names, JSON-ready: times are ISO 8601 strings, ids hex strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from warehouse_gql.domain.errors import BadUserInput


class ChangeKind(str, Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


class ChangeEntity(str, Enum):
    BIN = "BIN"
    ITEM = "ITEM"
    ORDER = "ORDER"
    SHIPMENT = "SHIPMENT"


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    entity: ChangeEntity
    id: str
    kind: ChangeKind
    revision: int
    at: datetime
    data: dict[str, Any]

    @property
    def cursor(self) -> str:
        return cursor_of(self.seq)


def cursor_of(seq: int) -> str:
    return str(seq)


def parse_cursor(cursor: str | None) -> int:
    """The sequence number a client's cursor stands for (0, the start, for None).

    Malformed cursors are BAD_USER_INPUT: they cannot have come from the feed."""
    if cursor is None:
        return 0
    text = cursor.strip()
    if not text.isdigit() or len(text) > 18:
        raise BadUserInput(f"Cursor {cursor!r} is not a change cursor; use one the feed returned.")
    return int(text)
