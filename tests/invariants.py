"""The SPEC invariants (warehouse_gql/store/invariants.py) as an assertion over the records a
test names, so tests sharing one database never judge each other's records."""

from __future__ import annotations

from collections.abc import Iterable

from warehouse_gql.store import invariants
from warehouse_gql.store.database import Database


async def assert_invariants(
    db: Database,
    skus: Iterable[str] = (),
    bin_ids: Iterable[str] = (),
    order_ids: Iterable[str] = (),
) -> None:
    problems = await invariants.broken_in(db, skus=skus, bin_ids=bin_ids, order_ids=order_ids)
    assert not problems, "\n".join(problems)
