"""Backups and item imports against the real database: a snapshot taken while stock moves
restores to a database whose invariants hold; ids and times come back exactly; restore refuses
a database with data unless forced; an import is all rows or none, with its movements."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from tests.invariants import assert_invariants
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.domain.models import User
from warehouse_gql.services import inventory
from warehouse_gql.services.inventory import ImportRowError, StockRow
from warehouse_gql.store import backup, migrations
from warehouse_gql.store.database import Database


def database(resources: Resources) -> Database:
    """A database of its own on the suite's server, so whole collections can be compared."""
    return Database(resources.db.client, f"wgql_backup_{unique('db').split('-')[1]}")


async def everything(db: Database) -> dict[str, list[dict[str, Any]]]:
    names = sorted(n for n in await db.db.list_collection_names() if not n.startswith("system."))
    return {n: await db.db[n].find({}).sort("_id", 1).to_list() for n in names}


async def location_of(db: Database, bin_id: str) -> str:
    found = await db.bins.find_one({"_id": ObjectId(bin_id)})
    assert found is not None, f"bin {bin_id} is gone"
    return str(found["location"])


async def stocked(db: Database, resources: Resources) -> tuple[str, str, str, str, User]:
    """Two bins and 100 units of a new sku in the first: (sku, item id, bin a, bin b, user)."""
    await migrations.prepare(db)
    user = User(
        id="6b0000000000000000000001",
        username="backup",
        email="b@example.com",
        role=Role.MANAGER,
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )
    a = await inventory.create_bin(db, location=unique("BA"), capacity=1000)
    b = await inventory.create_bin(db, location=unique("BB"), capacity=1000)
    sku = unique("BK").upper()
    item = await inventory.create_item(
        db, resources.events, name="Backed up", sku=sku, bin_id=a.id, quantity=100, user=user
    )
    return sku, item.id, a.id, b.id, user


async def test_a_backup_taken_while_stock_moves_restores_with_every_invariant_holding(
    resources: Resources, tmp_path: Path
) -> None:
    source, target = database(resources), database(resources)
    sku, item_id, a, b, user = await stocked(source, resources)
    target_item = (
        await inventory.move_item(
            source, resources.events, item_id=item_id, to_bin_id=b, quantity=1, user=user
        )
    ).id
    stop, moving = asyncio.Event(), asyncio.Event()

    async def keep_moving() -> int:
        moves = 0
        while not stop.is_set():
            there, back = (item_id, b) if moves % 2 == 0 else (target_item, a)
            await inventory.move_item(
                source, resources.events, item_id=there, to_bin_id=back, quantity=1, user=user
            )
            moves += 1
            moving.set()
        return moves

    mover = asyncio.create_task(keep_moving())
    try:
        await moving.wait()  # the snapshot starts with stock on the move, and it goes on moving
        archive = tmp_path / "during.jsonl.gz"
        summary = await backup.dump(source, archive)
    finally:
        stop.set()
        moves = await mover
    assert moves >= 1
    assert summary.counts["movements"] >= 2

    restored = await backup.load(target, archive, force=False)
    assert restored.counts == {k: v for k, v in summary.counts.items() if v}
    await assert_invariants(target, skus=[sku], bin_ids=[a, b])


async def test_a_restore_brings_back_every_document_with_its_ids_and_times_exactly(
    resources: Resources, tmp_path: Path
) -> None:
    source, target = database(resources), database(resources)
    await stocked(source, resources)
    archive = tmp_path / "quiet.jsonl.gz"
    await backup.dump(source, archive)
    await backup.load(target, archive, force=False)
    before, after = await everything(source), await everything(target)
    assert {n: docs for n, docs in after.items() if docs} == {
        n: docs for n, docs in before.items() if docs
    }
    assert after["items"][0]["createdAt"].tzinfo is not None
    indexes = await target.items.index_information()
    assert "sku_bin_unique" in indexes


async def test_restore_refuses_a_database_that_holds_data_unless_forced(
    resources: Resources, tmp_path: Path
) -> None:
    source, target = database(resources), database(resources)
    await stocked(source, resources)
    archive = tmp_path / "b.jsonl.gz"
    await backup.dump(source, archive)
    await stocked(target, resources)
    held = await everything(target)
    with pytest.raises(backup.BackupError, match=r"not empty .*--force"):
        await backup.load(target, archive, force=False)
    assert await everything(target) == held
    await backup.load(target, archive, force=True)
    assert await everything(target) == await everything(source)


async def test_a_damaged_or_foreign_archive_is_refused_and_changes_nothing(
    resources: Resources, tmp_path: Path
) -> None:
    source, target = database(resources), database(resources)
    await stocked(source, resources)
    archive = tmp_path / "whole.jsonl.gz"
    await backup.dump(source, archive)
    lines = gzip.decompress(archive.read_bytes()).splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b"".join(lines[:-1])))
    await stocked(target, resources)
    held = await everything(target)
    with pytest.raises(backup.BackupError, match="incomplete"):
        await backup.load(target, cut, force=True)
    foreign = tmp_path / "foreign.gz"
    foreign.write_bytes(gzip.compress(b'{"hello": 1}\n'))
    with pytest.raises(backup.BackupError, match="not a warehouse-gql backup"):
        await backup.load(target, foreign, force=True)
    assert await everything(target) == held


async def test_an_import_sets_quantities_with_import_movements_and_keeps_invariants(
    resources: Resources,
) -> None:
    db = resources.db
    sku, _, a, b, _ = await stocked(db, resources)
    where_a = await location_of(db, a)
    where_b = await location_of(db, b)
    new_sku = unique("IM").upper()
    created, changed, unchanged = await inventory.import_stock(
        db,
        resources.events,
        rows=[
            StockRow(2, sku, "Backed up", where_a, 60),
            StockRow(3, new_sku, "Imported 📦", where_b.lower(), 7),
            StockRow(4, sku, "Backed up", where_b, 0),
        ],
    )
    assert (created, changed, unchanged) == (2, 1, 0)
    item = await db.items.find_one({"sku": sku, "binId": ObjectId(a)})
    assert item is not None
    assert item["quantity"] == 60
    reasons = [m["reason"] async for m in db.movements.find({"sku": sku}).sort("_id", 1)]
    assert reasons == ["create", "import"]
    await assert_invariants(db, skus=[sku, new_sku], bin_ids=[a, b])


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (
            StockRow(4, "OK-SKU", "Fine", "NOWHERE-99", 1),
            "Line 4: No bin at location 'NOWHERE-99'.",
        ),
        (StockRow(4, "bad sku!", "Fine", "{a}", 1), "Line 4: sku"),
        (StockRow(4, "OK-SKU", "Bad\x00name", "{a}", 1), "Line 4: name must not contain"),
        (StockRow(4, "OK-SKU", "Fine", "{a}", -1), "Line 4: quantity"),
        (StockRow(4, "OK-SKU", "Fine", "{a}", 5000), "Line 4: Bin"),
        (StockRow(4, "{sku}", "Again", "{a}", 1), "Line 4: {sku} in bin {a} is already on line 2."),
    ],
)
async def test_an_import_with_one_bad_row_changes_nothing_and_names_its_line(
    resources: Resources, bad_row: StockRow, message: str
) -> None:
    db = resources.db
    sku, _, a, b, _ = await stocked(db, resources)
    location = await location_of(db, a)
    fill = {"a": location, "sku": sku}
    bad = StockRow(
        bad_row.line,
        bad_row.sku.format(**fill),
        bad_row.name,
        bad_row.location.format(**fill),
        bad_row.quantity,
    )
    before = [
        await db.items.find({"binId": {"$in": [ObjectId(x) for x in (a, b)]}}).to_list(),
        await db.movements.count_documents({"sku": sku}),
        await db.bins.find({"_id": {"$in": [ObjectId(x) for x in (a, b)]}}).to_list(),
    ]
    with pytest.raises(BadUserInput) as caught:
        await inventory.import_stock(
            db,
            resources.events,
            rows=[
                StockRow(2, sku, "Backed up", location, 10),
                StockRow(3, unique("NEW").upper(), "New", location, 3),
                bad,
            ],
        )
    assert isinstance(caught.value, ImportRowError)
    assert caught.value.line == 4
    assert caught.value.message.startswith(message.format(**fill)), caught.value.message
    after = [
        await db.items.find({"binId": {"$in": [ObjectId(x) for x in (a, b)]}}).to_list(),
        await db.movements.count_documents({"sku": sku}),
        await db.bins.find({"_id": {"$in": [ObjectId(x) for x in (a, b)]}}).to_list(),
    ]
    assert after == before
