"""What every process runs at start-up, before it serves: the indexes, then the updates that
bring documents written by older versions up to date.

Everything here is idempotent, so any number of processes may run it at once or again.
"""

from __future__ import annotations

from warehouse_gql.store.bins import slot_fields
from warehouse_gql.store.database import INDEXES, Database


async def prepare(db: Database) -> None:
    """Create every index, then run each backfill; a no-op on an up-to-date database."""
    for name, models in INDEXES.items():
        await db.db[name].create_indexes(models)
    await backfill_slots(db)


async def backfill_slots(db: Database) -> None:
    """Bins written before the layout fields existed get them."""
    async for doc in db.bins.find({"rack": {"$exists": False}}, {"location": 1}):
        # Conditional: a concurrent start-up (or a rename) may have set them already.
        await db.bins.update_one(
            {"_id": doc["_id"], "rack": {"$exists": False}},
            {"$set": slot_fields(doc["location"]), "$inc": {"version": 1}},
        )
