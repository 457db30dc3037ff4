"""Per-request DataLoaders: a page of N items and their bins costs one query per kind, not N."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bson import ObjectId
from strawberry.dataloader import DataLoader

from warehouse_gql.domain.models import Bin, Item, Order, Shipment, User
from warehouse_gql.store import bins, items, orders, users
from warehouse_gql.store.database import Database


def _oids(keys: Sequence[str]) -> list[ObjectId]:
    return [ObjectId(k) for k in keys]


@dataclass
class Loaders:
    db: Database
    bins_by_id: DataLoader[str, Bin | None] = field(init=False)
    items_by_bin: DataLoader[str, list[Item]] = field(init=False)
    users_by_id: DataLoader[str, User | None] = field(init=False)
    orders_by_id: DataLoader[str, Order | None] = field(init=False)
    shipments_by_order: DataLoader[str, list[Shipment]] = field(init=False)

    def __post_init__(self) -> None:
        db = self.db

        async def load_bins(keys: list[str]) -> list[Bin | None]:
            found = await bins.bins_by_ids(db, _oids(keys))
            return [found.get(k) for k in keys]

        async def load_bin_items(keys: list[str]) -> list[list[Item]]:
            grouped: dict[str, list[Item]] = {k: [] for k in keys}
            for item in await items.items_in_bins(db, _oids(keys)):
                grouped[item.bin_id].append(item)
            return [grouped[k] for k in keys]

        async def load_users(keys: list[str]) -> list[User | None]:
            found = await users.users_by_ids(db, _oids(keys))
            return [found.get(k) for k in keys]

        async def load_orders(keys: list[str]) -> list[Order | None]:
            found = await orders.orders_by_ids(db, _oids(keys))
            return [found.get(k) for k in keys]

        async def load_order_shipments(keys: list[str]) -> list[list[Shipment]]:
            grouped = await orders.shipments_of_orders(db, _oids(keys))
            return [grouped.get(k, []) for k in keys]

        self.bins_by_id = DataLoader(load_fn=load_bins)
        self.items_by_bin = DataLoader(load_fn=load_bin_items)
        self.users_by_id = DataLoader(load_fn=load_users)
        self.orders_by_id = DataLoader(load_fn=load_orders)
        self.shipments_by_order = DataLoader(load_fn=load_order_shipments)
