"""page: one page of 20 items by sku, each with its bin, over GraphQL from 10 connections; then
the same two queries with PyMongo alone (page-baseline) from 10 connections, in the same run,
for the ratio of their throughputs."""

from __future__ import annotations

import random
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from ..dataset import Dataset, Document
from ..load import Bench, Operation, Result

NAME = "page"
DEFAULT = False
CONNECTIONS = 10

PAGE = """query($sku: String!) { items(first: 20, sku: $sku) { edges { node {
  id name sku quantity bin { id location currentLoad } } } } }"""


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        found = await api.call(PAGE, {"sku": rng.choice(data.skus)})
        assert found["items"]["edges"]
        return 1

    return op


def baseline(db: Any, data: Dataset) -> Operation:
    """The server's two queries for the page: the page by sku in `_id` order, its bins by $in."""

    async def op(rng: random.Random) -> int:
        query = {"sku": rng.choice(data.skus)}
        items = await db.items.find(query).sort("_id", ASCENDING).limit(21).to_list()
        bins = await db.bins.find({"_id": {"$in": list({i["binId"] for i in items})}}).to_list()
        assert items
        assert bins
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    page = await bench.drive(NAME, operation(bench), CONNECTIONS)
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(bench.mongodb_url, tz_aware=True)
    try:
        raw = await bench.drive(
            "page-baseline",
            baseline(mongo[bench.db_name], bench.data),
            CONNECTIONS,
            on_server=False,
        )
    finally:
        await mongo.close()
    if raw.requests and raw.seconds:
        page.extra["of_baseline"] = round(
            (page.requests / page.seconds) / (raw.requests / raw.seconds), 3
        )
    return [page, raw]
