"""fulfill: createOrder with 3 lines, then fulfillOrder (2 requests per loop)."""

from __future__ import annotations

import random

from ..load import Bench, Operation, Result

NAME = "fulfill"
DEFAULT = True

CREATE_ORDER = """mutation($i: CreateOrderInput!) { createOrder(input: $i) { id status } }"""
FULFILL = """mutation($id: ID!) { fulfillOrder(id: $id) { id status picks { sku quantity } } }"""


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        skus = rng.sample(data.skus, 3)
        order = await api.call(
            CREATE_ORDER,
            {
                "i": {
                    "customerName": "Bench customer",
                    "items": [{"sku": s, "quantity": 1} for s in skus],
                }
            },
        )
        fulfilled = await api.call(FULFILL, {"id": order["createOrder"]["id"]})
        assert fulfilled["fulfillOrder"]["status"] == "FULFILLED"
        return 2

    return op


async def run(bench: Bench) -> list[Result]:
    return [await bench.drive(NAME, operation(bench), 8)]
