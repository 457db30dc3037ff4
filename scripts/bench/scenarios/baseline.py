"""baseline: the documents of the read scenario with PyMongo alone, the same queries the
server runs: what the reads would cost with no API in front of the database."""

from __future__ import annotations

import random
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient

from ..dataset import Dataset, Document
from ..load import Bench, Operation, Result

NAME = "baseline"
DEFAULT = True


def operation(db: Any, data: Dataset) -> Operation:
    async def op(rng: random.Random) -> int:
        shape = rng.randrange(3)
        if shape == 2:
            bin_doc = await db.bins.find_one({"_id": ObjectId(rng.choice(data.full_bins))})
            items = await db.items.find({"binId": {"$in": [bin_doc["_id"]]}}).to_list()
            assert items
            return 1
        query = (
            {"sku": rng.choice(data.skus)}
            if shape == 0
            else {"binId": ObjectId(rng.choice(data.full_bins))}
        )
        items = await db.items.find(query).sort("_id", ASCENDING).limit(21).to_list()
        bin_ids = list({i["binId"] for i in items})
        bins = await db.bins.find({"_id": {"$in": bin_ids}}).to_list()
        assert items
        assert bins
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(bench.mongodb_url, tz_aware=True)
    try:
        db = mongo[bench.db_name]
        return [await bench.drive(NAME, operation(db, bench.data), 32, on_server=False)]
    finally:
        await mongo.close()
