"""What every process runs at start-up, before it serves: the indexes, then the updates that
bring documents written by older versions up to date.

Everything here is idempotent, so any number of processes may run it at once or again.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.errors import OperationFailure

from warehouse_gql.store.bins import slot_fields
from warehouse_gql.store.database import INDEXES, Database

CHANGE_RETENTION_INDEX = "changes_retention"
DEFAULT_CHANGE_RETENTION_DAYS = 7


async def prepare(
    db: Database, *, change_retention_days: int = DEFAULT_CHANGE_RETENTION_DAYS
) -> None:
    """Create every index, then run each backfill; a no-op on an up-to-date database."""
    for name, models in INDEXES.items():
        await db.db[name].create_indexes(models)
    await keep_changes_for(db, change_retention_days)
    await backfill_slots(db)


async def keep_changes_for(db: Database, days: int) -> None:
    """The TTL index that removes change records `days` after they were written; a changed
    setting replaces the index's expiry."""
    seconds = days * 24 * 3600
    model = IndexModel([("at", ASCENDING)], expireAfterSeconds=seconds, name=CHANGE_RETENTION_INDEX)
    try:
        await db.changes.create_indexes([model])
    except OperationFailure:
        # The index exists with another expiry: set the new one.
        await db.db.command(
            "collMod",
            "changes",
            index={"name": CHANGE_RETENTION_INDEX, "expireAfterSeconds": seconds},
        )


async def backfill_slots(db: Database) -> None:
    """Bins written before the layout fields existed get them."""
    async for doc in db.bins.find({"rack": {"$exists": False}}, {"location": 1}):
        # Conditional: a concurrent start-up (or a rename) may have set them already.
        await db.bins.update_one(
            {"_id": doc["_id"], "rack": {"$exists": False}},
            {"$set": slot_fields(doc["location"]), "$inc": {"version": 1}},
        )
