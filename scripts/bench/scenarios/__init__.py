"""The scenarios, in the order a run takes them. Each module has a NAME, DEFAULT (whether a run
that names no scenario takes it) and `async def run(bench: Bench) -> list[Result]`."""

from __future__ import annotations

from types import ModuleType

from . import (
    abuse,
    adjust,
    baseline,
    contention,
    fanout,
    fanout_parse,
    fulfill,
    fulfill_order,
    item,
    item_graphql,
    item_parse,
    item_rest,
    page,
    read,
    write,
)

ALL: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        read,
        page,
        item,
        item_graphql,
        item_rest,
        item_parse,
        baseline,
        write,
        adjust,
        fulfill,
        fulfill_order,
        contention,
        abuse,
        fanout,
        fanout_parse,
    )
}
DEFAULTS = [name for name, module in ALL.items() if module.DEFAULT]
