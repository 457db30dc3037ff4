"""contention: adjustItemQuantity on the items of one hot bin, by one writer and then by 60
concurrent writers (every write also updates the bin's load, so they all meet on one
document); requests/s, p50/p99 and the error codes of each."""

from __future__ import annotations

import collections
import random

from ..load import Bench, GraphQLFailed, Operation, Result
from .write import ADJUST

NAME = "contention"
DEFAULT = False
WRITERS = (1, 60)


def operation(bench: Bench, codes: collections.Counter[str]) -> Operation:
    api = bench.api
    hot = bench.data.hot_items

    async def op(rng: random.Random) -> int:
        try:
            await api.call(ADJUST, {"id": rng.choice(hot), "d": rng.choice((-1, 1))})
        except GraphQLFailed as exc:
            codes[code_of(str(exc))] += 1
            raise
        codes["OK"] += 1
        return 1

    return op


def code_of(errors: str) -> str:
    marker = '"code": "'
    at = errors.find(marker)
    return errors[at + len(marker) :].split('"', 1)[0] if at >= 0 else "?"


async def run(bench: Bench) -> list[Result]:
    results = []
    for writers in WRITERS:
        codes: collections.Counter[str] = collections.Counter()
        result = await bench.drive(f"{NAME} x{writers}", operation(bench, codes), writers)
        # Counted over warm-up and measured window alike: what the writers were answered.
        result.extra["codes"] = dict(codes)
        results.append(result)
    return results
