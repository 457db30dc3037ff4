"""The scenarios, in the order a run takes them. Each module has a NAME, DEFAULT (whether a run
that names no scenario takes it) and `async def run(bench: Bench) -> list[Result]`."""

from __future__ import annotations

from types import ModuleType

from . import baseline, fanout, fulfill, item_graphql, item_rest, read, write

ALL: dict[str, ModuleType] = {
    module.NAME: module
    for module in (read, item_graphql, item_rest, baseline, write, fulfill, fanout)
}
DEFAULTS = [name for name, module in ALL.items() if module.DEFAULT]
