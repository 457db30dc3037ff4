"""item-graphql: one item by id over GraphQL, what item-rest is measured against.

Off unless named: with item-rest it gives the REST/GraphQL cost ratio."""

from __future__ import annotations

import random

from ..load import Bench, Operation, Result

NAME = "item-graphql"
DEFAULT = False

ITEM_BY_ID = "query($id: ID!) { item(id: $id) { id name sku quantity createdAt updatedAt } }"


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        found = await api.call(ITEM_BY_ID, {"id": rng.choice(data.item_ids)})
        assert found["item"] is not None
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    return [await bench.drive(NAME, operation(bench), 16)]
