"""write: adjustItemQuantity on random items, each a transaction with its ledger entry."""

from __future__ import annotations

import random

from ..load import Bench, Operation, Result

NAME = "write"
DEFAULT = True

ADJUST = """mutation($id: ID!, $d: Int!) { adjustItemQuantity(id: $id, delta: $d, reason: "bench")
  { id quantity } }"""


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        delta = rng.choice((-3, -2, -1, 1, 2, 3))
        await api.call(ADJUST, {"id": rng.choice(data.item_ids), "d": delta})
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    return [await bench.drive(NAME, operation(bench), 16)]
