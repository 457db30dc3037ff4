"""fulfill-order: fulfillOrder of 3-line orders from 10 connections; the orders are made first,
with createOrder, outside the measured window (only fulfilments are counted)."""

from __future__ import annotations

import asyncio
import random

from ..load import Bench, Operation, Result
from .fulfill import CREATE_ORDER, FULFILL

NAME = "fulfill-order"
DEFAULT = False
CONNECTIONS = 10


async def make_orders(bench: Bench, count: int) -> list[str]:
    rng = random.Random(7)
    made: list[str] = []

    async def make(n: int) -> None:
        for _ in range(n):
            skus = rng.sample(bench.data.skus, 3)
            order = await bench.api.call(
                CREATE_ORDER,
                {
                    "i": {
                        "customerName": "Bench",
                        "items": [{"sku": s, "quantity": 1} for s in skus],
                    }
                },
            )
            made.append(order["createOrder"]["id"])

    await asyncio.gather(*(make(count // CONNECTIONS) for _ in range(CONNECTIONS)))
    return made


def operation(bench: Bench, orders: list[str]) -> Operation:
    async def op(rng: random.Random) -> int:
        if not orders:
            await asyncio.sleep(0.05)  # every prepared order is fulfilled: idle to the end
            return 0
        fulfilled = await bench.api.call(FULFILL, {"id": orders.pop()})
        assert fulfilled["fulfillOrder"]["status"] == "FULFILLED"
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    # Enough for the run at well over the rate this machine fulfils.
    orders = await make_orders(bench, int(60 * (bench.duration + bench.size.warmup)))
    return [await bench.drive(NAME, operation(bench, orders), CONNECTIONS)]
