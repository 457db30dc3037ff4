"""item-rest: the item-graphql read over REST, GET /api/v1/items/{id} (the same fields and
more: binId, revision; plus an ETag). Off unless named."""

from __future__ import annotations

import random

from ..load import Bench, GraphQLFailed, Operation, Result

NAME = "item-rest"
DEFAULT = False


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        path = f"/api/v1/items/{rng.choice(data.item_ids)}"
        if api.raw is not None:
            status, payload = await api.raw.get(path)
        else:
            response = await api.client.get(path)
            status, payload = response.status_code, response.content
        if status != 200:
            raise GraphQLFailed(payload.decode(errors="replace")[:300])
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    return [await bench.drive(NAME, operation(bench), 16)]
