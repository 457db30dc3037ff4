"""The change feed: records written with every write, numbered in commit order, read back."""

from __future__ import annotations

import pytest
from bson import ObjectId
from starlette.applications import Starlette

from warehouse_gql.api.http import Resources
from warehouse_gql.domain.changes import ChangeEntity, ChangeKind, parse_cursor
from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.store import changes
from warehouse_gql.store.database import Session


def test_a_cursor_is_a_decimal_sequence_number_and_anything_else_is_bad_input() -> None:
    assert parse_cursor(None) == 0
    assert parse_cursor("42") == 42
    for bad in ("", "-1", "abc", "1.5", "9" * 30):
        with pytest.raises(BadUserInput):
            parse_cursor(bad)


async def test_read_after_returns_numbered_changes_in_order_and_filters_by_entity(
    app: Starlette, resources: Resources
) -> None:
    db = resources.db
    ids = [str(ObjectId()) for _ in range(3)]

    async def write(session: Session) -> None:
        for n, doc_id in enumerate(ids):
            changes.note(
                db,
                session,
                entity=ChangeEntity.ORDER if n != 1 else ChangeEntity.BIN,
                doc_id=doc_id,
                kind=ChangeKind.CREATED,
                revision=1,
                data={"id": doc_id},
            )

    await db.transaction(write)
    start = await changes.high_water(db)
    for n, record in enumerate(await changes.pending(db, limit=1000), start=1):
        assert await changes.number(db, record["_id"], start + n)

    mine = [c for c in await changes.read_after(db, start, limit=1000) if c.id in ids]
    assert [c.id for c in mine] == ids
    assert all(c.seq > start for c in mine)
    assert [c.seq for c in mine] == sorted(c.seq for c in mine)
    assert mine[0].cursor == str(mine[0].seq)
    orders = await changes.read_after(db, start, limit=1000, entities=[ChangeEntity.ORDER])
    assert [c.id for c in orders if c.id in ids] == [ids[0], ids[2]]
