"""read: the dashboard's reads — a page of items by sku or by bin, a bin with its items."""

from __future__ import annotations

import random

from ..load import Bench, Operation, Result

NAME = "read"
DEFAULT = True

ITEM_PAGE_BY_SKU = """query($sku: String!) { items(first: 20, sku: $sku) { edges { node {
  id name sku quantity bin { id location currentLoad } } } } }"""
ITEM_PAGE_BY_BIN = """query($bin: ID!) { items(first: 20, binId: $bin) { edges { node {
  id name sku quantity bin { id location currentLoad } } } } }"""
BIN_WITH_ITEMS = """query($id: ID!) { bin(id: $id) { id location currentLoad
  items { id name sku quantity } } }"""


def operation(bench: Bench) -> Operation:
    api, data = bench.api, bench.data

    async def op(rng: random.Random) -> int:
        shape = rng.randrange(3)
        if shape == 0:
            found = await api.call(ITEM_PAGE_BY_SKU, {"sku": rng.choice(data.skus)})
            assert found["items"]["edges"]
        elif shape == 1:
            found = await api.call(ITEM_PAGE_BY_BIN, {"bin": rng.choice(data.full_bins)})
            assert found["items"]["edges"]
        else:
            found = await api.call(BIN_WITH_ITEMS, {"id": rng.choice(data.full_bins)})
            assert found["bin"]["items"]
        return 1

    return op


async def run(bench: Bench) -> list[Result]:
    return [await bench.drive(NAME, operation(bench), 32)]
