"""item-parse: the item scenario's read through the /parse door, GET
/parse/classes/Item/{id}?include=bin with a session token, from 10 connections."""

from __future__ import annotations

import random

from ..load import Bench, GraphQLFailed, Operation, RawHttp, Result

NAME = "item-parse"
DEFAULT = False
CONNECTIONS = 10


def operation(bench: Bench, raw: RawHttp) -> Operation:
    data = bench.data

    async def op(rng: random.Random) -> int:
        status, payload = await raw.get(
            f"/parse/classes/Item/{rng.choice(data.item_ids)}?include=bin"
        )
        if status != 200:
            raise GraphQLFailed(payload.decode(errors="replace")[:300])
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    raw = RawHttp(bench.server.url)
    raw.authorization = (
        f"X-Parse-Application-Id: warehouse\r\nX-Parse-Session-Token: r:{bench.token}\r\n"
    )
    try:
        return [await bench.drive(NAME, operation(bench, raw), CONNECTIONS)]
    finally:
        raw.close()
