"""adjust: adjustItemQuantity by +1 or -1 on a random item, from 10 connections (each a
transaction with its ledger entry and change record, then the event)."""

from __future__ import annotations

import random

from ..load import Bench, Operation, Result
from .write import ADJUST

NAME = "adjust"
DEFAULT = False
CONNECTIONS = 10


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        await api.call(ADJUST, {"id": rng.choice(data.item_ids), "d": rng.choice((-1, 1))})
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    return [await bench.drive(NAME, operation(bench), CONNECTIONS)]
