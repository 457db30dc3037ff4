"""Per-request DataLoaders: a page of N items and their bins costs one query per kind, not N."""

from __future__ import annotations

from functools import cached_property

from strawberry.dataloader import DataLoader

from warehouse_gql.domain.models import Bin, Item, Order, Shipment, User
from warehouse_gql.store import bins, items, orders, users
from warehouse_gql.store.database import Database
from warehouse_gql.store.ids import known_ids


class Loaders:
    """Made per request (and per subscription event); each loader only when first used, since
    most operations need one or two of them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @cached_property
    def bins_by_id(self) -> DataLoader[str, Bin | None]:
        db = self.db

        async def load_bins(keys: list[str]) -> list[Bin | None]:
            found = await bins.bins_by_ids(db, known_ids(keys))
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load_bins)

    @cached_property
    def items_by_bin(self) -> DataLoader[str, list[Item]]:
        db = self.db

        async def load_bin_items(keys: list[str]) -> list[list[Item]]:
            grouped: dict[str, list[Item]] = {k: [] for k in keys}
            for item in await items.items_in_bins(db, known_ids(keys)):
                grouped[item.bin_id].append(item)
            return [grouped[k] for k in keys]

        return DataLoader(load_fn=load_bin_items)

    @cached_property
    def users_by_id(self) -> DataLoader[str, User | None]:
        db = self.db

        async def load_users(keys: list[str]) -> list[User | None]:
            found = await users.users_by_ids(db, known_ids(keys))
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load_users)

    @cached_property
    def orders_by_id(self) -> DataLoader[str, Order | None]:
        db = self.db

        async def load_orders(keys: list[str]) -> list[Order | None]:
            found = await orders.orders_by_ids(db, known_ids(keys))
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load_orders)

    @cached_property
    def shipments_by_order(self) -> DataLoader[str, list[Shipment]]:
        db = self.db

        async def load_order_shipments(keys: list[str]) -> list[list[Shipment]]:
            grouped = await orders.shipments_of_orders(db, known_ids(keys))
            return [grouped.get(k, []) for k in keys]

        return DataLoader(load_fn=load_order_shipments)
