"""Backups: every collection of the database in one consistent archive, and back.

The archive is gzip-compressed JSON lines: a header naming the format and the database, one line
per document in MongoDB's canonical Extended JSON (ObjectIds, datetimes to the millisecond and
every other BSON type come back exactly), and a last line with the count of each collection.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from pymongo.errors import PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.read_preferences import ReadPreference
from pymongo.write_concern import WriteConcern

from warehouse_gql.store import migrations
from warehouse_gql.store.database import Database

T = TypeVar("T")

FORMAT = "warehouse-gql-backup"
VERSION = 1
BATCH = 500


class BackupError(Exception):
    """The archive or the target database cannot be used; the message says why."""


@dataclass(frozen=True)
class Summary:
    database: str
    created_at: str
    counts: dict[str, int]

    @property
    def documents(self) -> int:
        return sum(self.counts.values())


async def _collections(db: Database) -> list[str]:
    names = await db.db.list_collection_names()
    return sorted(n for n in names if not n.startswith("system."))


async def dump(db: Database, path: Path) -> Summary:
    """Write every collection to `path` as of one moment.

    All reads run in one read-only transaction with snapshot read concern: the archive is the
    database at a single point in time even while the server keeps writing (on MongoDB the
    transaction must finish within transactionLifetimeLimitSeconds, 60 s by default).
    """
    names = await _collections(db)
    created_at = datetime.now(UTC).isoformat()
    # Written beside the target and renamed at the end: a failed backup leaves no half file.
    partial = path.with_name(path.name + ".partial")
    counts: dict[str, int] = {}
    header = {"format": FORMAT, "version": VERSION, "database": db.db.name, "createdAt": created_at}
    try:
        with gzip.open(partial, "wt", encoding="utf-8") as out:
            out.write(json.dumps(header) + "\n")
            async with db.client.start_session() as session:
                await session.start_transaction(
                    read_concern=ReadConcern("snapshot"),
                    write_concern=WriteConcern("majority"),
                    read_preference=ReadPreference.PRIMARY,
                )
                for name in names:
                    counts[name] = 0
                    async for doc in db.db[name].find({}, session=session).sort("_id", 1):
                        out.write(_line(name, doc))
                        counts[name] += 1
                await session.commit_transaction()
            # The last line: what a complete archive holds (restore checks it).
            out.write(json.dumps({"end": True, "collections": counts}) + "\n")
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Summary(db.db.name, created_at, counts)


def _line(collection: str, doc: dict[str, Any]) -> str:
    body = json_util.dumps(doc, json_options=CANONICAL_JSON_OPTIONS)
    return f'{{"c":{json.dumps(collection)},"d":{body}}}\n'


def read_header(path: Path) -> Summary:
    """The archive's header, checked; BackupError when it is not one of ours."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as archive:
            header = json.loads(archive.readline())
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist.") from None
    except (OSError, EOFError, ValueError):
        raise BackupError(f"{path} is not a warehouse-gql backup (not gzip JSON lines).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{path} is not a warehouse-gql backup.")
    if header.get("version") != VERSION:
        raise BackupError(
            f"{path} is backup format version {header.get('version')}; this server reads {VERSION}."
        )
    return Summary(str(header["database"]), str(header["createdAt"]), {})


def _documents(
    archive: IO[str], path: Path, trailer: dict[str, int]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each (collection, document); fills `trailer` with the counts the last line promises."""
    archive.readline()  # the header
    for number, line in enumerate(archive, start=2):
        try:
            entry = json.loads(line)
            if entry.get("end") is True:
                trailer.update(entry["collections"])
                return
            yield (
                str(entry["c"]),
                json_util.loads(json.dumps(entry["d"]), json_options=CANONICAL_JSON_OPTIONS),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupError(f"{path} line {number} is damaged.") from None


def verify(path: Path) -> dict[str, int]:
    """The count of each collection in a complete, readable archive; else BackupError."""
    counts: dict[str, int] = {}
    trailer: dict[str, int] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as archive:
            for name, _ in _documents(archive, path, trailer):
                counts[name] = counts.get(name, 0) + 1
    except (OSError, EOFError):
        raise BackupError(f"{path} is incomplete (cut short while written or copied).") from None
    if not trailer or counts != {k: v for k, v in trailer.items() if v}:
        raise BackupError(f"{path} is incomplete (cut short while written or copied).")
    return trailer


async def non_empty_collections(db: Database) -> list[str]:
    """The collections holding at least one document (indexes alone do not count)."""
    found = []
    for name in await _collections(db):
        if await db.db[name].find_one({}, projection={"_id": 1}) is not None:
            found.append(name)
    return found


async def load(db: Database, path: Path, *, force: bool) -> Summary:
    """Restore the archive into `db`: refused when it holds data, unless `force` (which drops
    every collection first). Indexes are made before the documents go in."""
    summary = read_header(path)
    # Read it through once before anything is dropped: a damaged archive changes nothing.
    verify(path)
    holding = await non_empty_collections(db)
    if holding and not force:
        raise BackupError(
            f"The database {db.db.name} is not empty ({', '.join(holding)} hold data): "
            "restore into an empty one, or pass --force to replace everything in it."
        )
    for name in await _collections(db):
        await db.db.drop_collection(name)
    await migrations.prepare(db)
    counts: dict[str, int] = {}
    trailer: dict[str, int] = {}
    batch: dict[str, list[dict[str, Any]]] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as archive:
            for name, doc in _documents(archive, path, trailer):
                batch.setdefault(name, []).append(doc)
                counts[name] = counts.get(name, 0) + 1
                if len(batch[name]) >= BATCH:
                    await db.db[name].insert_many(batch.pop(name), ordered=True)
            for name, docs in batch.items():
                await db.db[name].insert_many(docs, ordered=True)
    except (OSError, EOFError) as exc:
        raise BackupError(f"{path} cannot be read to the end: {exc}") from None
    except PyMongoError as exc:
        raise BackupError(f"The database refused the restore: {exc}") from None
    if not trailer or counts != {k: v for k, v in trailer.items() if v}:
        raise BackupError(f"{path} is incomplete (cut short while written or copied).")
    return Summary(summary.database, summary.created_at, counts)


async def with_database(url: str, name: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the database `name` at `url` (for commands); a database failure becomes
    BackupError naming it, and the client is always closed."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url, tz_aware=True, appname="warehouse-gql-cli", serverSelectionTimeoutMS=5000
    )
    try:
        db = Database(client, name)
        return await work(db)
    except PyMongoError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise BackupError(f"The database failed: {first}") from None
    finally:
        await client.close()
