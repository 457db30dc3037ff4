"""item: one item by id with its bin over GraphQL, from 10 connections."""

from __future__ import annotations

import random

from ..load import Bench, Operation, Result

NAME = "item"
DEFAULT = False
CONNECTIONS = 10

ITEM = """query($id: ID!) { item(id: $id) { id name sku quantity
  bin { id location currentLoad } } }"""


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        found = await api.call(ITEM, {"id": rng.choice(data.item_ids)})
        assert found["item"] is not None
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    return [await bench.drive(NAME, operation(bench), CONNECTIONS)]
