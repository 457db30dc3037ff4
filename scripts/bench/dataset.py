"""The fixed dataset, written straight into the store's document format, and its manager."""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import MongoClient

from .launcher import warehouse_gql_command

Document = dict[str, Any]


@dataclass(frozen=True)
class Size:
    bins: int
    items: int
    skus: int
    orders: int
    items_per_bin: int
    duration: float
    warmup: float
    fanout: tuple[int, ...]
    events: int


FULL = Size(1000, 10_000, 2000, 2000, 20, 20.0, 3.0, (100, 1000, 5000), 12)
QUICK = Size(50, 500, 100, 100, 20, 1.5, 0.3, (20, 100), 4)


@dataclass
class Dataset:
    bin_ids: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    full_bins: list[str] = field(default_factory=list)
    # The items of the first full bin (the contention scenario's hot bin).
    hot_items: list[str] = field(default_factory=list)


def load_dataset(mongodb_url: str, db_name: str, size: Size, manager_id: str) -> Dataset:
    """Bins hold `items_per_bin` items each (the rest stay empty); each sku sits in several bins."""
    now = datetime.now(UTC)
    quantity = 1000
    data = Dataset()
    with MongoClient[Document](mongodb_url, tz_aware=True) as client:
        db = client[db_name]
        full = size.items // size.items_per_bin
        bins = [
            {
                "_id": ObjectId(),
                "location": f"Z-{n // 100:02d}-{n % 100:02d}",
                "locationKey": f"z-{n // 100:02d}-{n % 100:02d}",
                "capacity": 1_000_000,
                "currentLoad": size.items_per_bin * quantity if n < full else 0,
                "freeCapacity": 1_000_000 - (size.items_per_bin * quantity if n < full else 0),
                "version": 0,
                "createdAt": now,
                "updatedAt": now,
            }
            for n in range(size.bins)
        ]
        db.bins.insert_many(bins)
        items, movements = [], []
        for n in range(size.items):
            sku = f"SKU-{n % size.skus:05d}"
            bin_doc = bins[n // size.items_per_bin]
            item = {
                "_id": ObjectId(),
                "name": f"Product {sku}",
                "sku": sku,
                "binId": bin_doc["_id"],
                "quantity": quantity,
                "revision": 1,
                "createdAt": now,
                "updatedAt": now,
            }
            items.append(item)
            movements.append(
                {
                    "itemId": item["_id"],
                    "sku": sku,
                    "binId": bin_doc["_id"],
                    "binLocation": bin_doc["location"],
                    "delta": quantity,
                    "quantityAfter": quantity,
                    "reason": "create",
                    "userId": ObjectId(manager_id),
                    "createdAt": now,
                }
            )
        db.items.insert_many(items)
        db.movements.insert_many(movements)
        rng = random.Random(5)
        orders = []
        for n in range(size.orders):
            lines = rng.sample(range(size.skus), 3)
            orders.append(
                {
                    "customerName": f"Customer {n}",
                    "lines": [{"sku": f"SKU-{s:05d}", "quantity": 1} for s in lines],
                    "status": "PENDING",
                    "createdBy": ObjectId(manager_id),
                    "picks": [],
                    "createdAt": now,
                    "updatedAt": now,
                }
            )
        db.orders.insert_many(orders)
    data.bin_ids = [str(b["_id"]) for b in bins]
    data.full_bins = data.bin_ids[:full]
    data.item_ids = [str(i["_id"]) for i in items]
    data.hot_items = [str(i["_id"]) for i in items if i["binId"] == bins[0]["_id"]]
    data.skus = sorted({str(i["sku"]) for i in items})
    return data


def create_manager(mongodb_url: str, db_name: str) -> tuple[str, str, str]:
    """A MANAGER through the CLI (as an operator would make one); returns id, name, password."""
    username, password = f"bench_{os.getpid()}", "bench-password-1"
    env = {**os.environ, "MONGODB_URL": mongodb_url, "MONGODB_DB": db_name}
    subprocess.run(
        [
            *(warehouse_gql_command(), "create-user", "--username", username),
            *("--email", f"{username}@bench.example", "--role", "MANAGER"),
            *("--password", password),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with MongoClient[Document](mongodb_url) as client:
        user = client[db_name].users.find_one({"usernameKey": username})
        assert user is not None
        return str(user["_id"]), username, password
