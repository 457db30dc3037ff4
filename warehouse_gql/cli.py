"""The `warehouse-gql` command: serve, create-user, export-schema, export-openapi,
backup/restore, export-items/import-items."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import getpass
import os
import re
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from warehouse_gql import __version__, logs
from warehouse_gql.settings import Settings, SettingsError

if TYPE_CHECKING:
    from warehouse_gql.services.inventory import StockRow
    from warehouse_gql.store.database import Database

T = TypeVar("T")


class CommandError(Exception):
    """Ends a command with one clear line and a non-zero exit."""


class _Terminated(Exception):
    """SIGTERM arrived: unwind so the embedded database is stopped in order."""


class _Parser(argparse.ArgumentParser):
    """Bad arguments end with one line naming the problem, not the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {value}")
    return value


def _workers(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


DEFAULT_DATA_DIR = Settings().data_dir
DATA_DIR_HELP = "embedded database directory (default ./.warehouse-data)"
CSV_HEADER = ("sku", "name", "bin", "quantity")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="warehouse-gql", description="A self-hostable GraphQL API for a warehouse floor."
    )
    parser.add_argument("--version", action="version", version=f"warehouse-gql {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the GraphQL server")
    serve.add_argument("--host", help="interface to listen on (env HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port to listen on (env PORT, default 8000)")
    serve.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    serve.add_argument(
        "--init", action="store_true", help="create a --data-dir that does not exist yet"
    )
    serve.add_argument(
        "--workers", type=_workers, default=1, help="server processes (more than 1 needs REDIS_URL)"
    )

    create = commands.add_parser("create-user", help="create a user with any role")
    create.add_argument("--username", required=True)
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=["MANAGER", "PICKER", "CUSTOMER"])
    create.add_argument("--password", help="else WAREHOUSE_PASSWORD, else a prompt")
    create.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")

    backup = commands.add_parser("backup", help="write every collection to one archive")
    backup.add_argument("--out", type=Path, required=True, help="the archive to write (.jsonl.gz)")
    backup.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    restore = commands.add_parser("restore", help="load an archive into an empty database")
    restore.add_argument("file", type=Path, help="an archive written by backup")
    restore.add_argument(
        "--force", action="store_true", help="replace everything in a database that holds data"
    )
    restore.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    export = commands.add_parser("export-items", help="write every item as CSV")
    export.add_argument("--out", type=Path, help="the CSV file to write (default: stdout)")
    export.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    imports = commands.add_parser(
        "import-items", help="set items from CSV (sku,name,bin,quantity), all rows or none"
    )
    imports.add_argument("file", type=Path, help="the CSV file (header sku,name,bin,quantity)")
    imports.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    commands.add_parser("export-openapi", help="print the REST API's OpenAPI 3.1 document")
    return parser


_SECRET_OPTION = re.compile(r"([?&](?:[^=&]*password[^=&]*|authMechanismProperties)=)[^&]*", re.I)


def redact(url: str) -> str:
    """The URL without credentials, fit for an error message."""
    url = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^@/?]*@", r"\1", url)
    return _SECRET_OPTION.sub(r"\1***", url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def require_answers(url: str) -> None:
    """Fail with one line unless the database at `url` answers a ping (within 5s by default)."""
    from warehouse_gql.store.errors import UnusableDatabase
    from warehouse_gql.store.errors import require_answers as ping

    where = redact(url)
    try:
        ping(url)
    except UnusableDatabase as exc:
        if exc.reason == "unreachable":
            raise CommandError(
                f"The database at {where} does not answer: check MONGODB_URL and that MongoDB runs."
            ) from None
        if exc.reason == "rejected":
            raise CommandError(
                f"The database at {where} rejected the connection: {_first_line(exc)}"
            ) from None
        raise CommandError(f"Cannot use the database at {where}: {_first_line(exc)}") from None


def check_data_dir(data_dir: Path, *, init: bool) -> None:
    """A data dir other than the default must exist, unless `serve --init` is to create it:
    a mistyped path would otherwise start an empty warehouse."""
    if data_dir == DEFAULT_DATA_DIR or data_dir.is_dir() or init:
        return
    if data_dir.exists():
        raise CommandError(f"--data-dir {data_dir} is not a directory.")
    raise CommandError(
        f"--data-dir {data_dir} does not exist: check the path, or run "
        f"`warehouse-gql serve --init --data-dir {data_dir}` to start a new database there."
    )


@contextlib.contextmanager
def database_url(settings: Settings, *, serve: bool = False, init: bool = False) -> Iterator[str]:
    """MONGODB_URL when set (and answering), else the embedded database of the data dir
    (supervised, and the data dir the server's alone, under `serve`)."""
    if settings.mongodb_url:
        require_answers(settings.mongodb_url)
        yield settings.mongodb_url
        return
    from warehouse_gql.embedded import EmbeddedError, embedded_database

    check_data_dir(settings.data_dir, init=init)
    try:
        with embedded_database(settings.data_dir, supervised=serve) as url:
            yield url
    except EmbeddedError as exc:
        raise CommandError(str(exc)) from None


def serve(settings: Settings, *, init: bool = False) -> None:
    import uvicorn

    from warehouse_gql.app import create_app, tune_collector
    from warehouse_gql.embedded import supervisor_of

    if settings.workers > 1 and not settings.redis_url:
        raise CommandError("--workers above 1 needs REDIS_URL, so every process sees every change.")
    with database_url(settings, serve=True, init=init) as url:
        embedded = not settings.mongodb_url
        settings = Settings(**{**settings.__dict__, "mongodb_url": url})
        where = f"http://{settings.host}:{settings.port}/graphql"
        print(
            f"warehouse-gql: GraphiQL at {where}"
            if settings.graphiql
            else f"warehouse-gql: listening at {where}",
            flush=True,
        )
        print(f"warehouse-gql: dashboard at http://{settings.host}:{settings.port}/", flush=True)
        if embedded:
            print(f"warehouse-gql: embedded database in {settings.data_dir.resolve()}", flush=True)
        if settings.workers > 1:
            os.environ["MONGODB_URL"] = url
            # The workers write their metrics to one directory, so any worker's /metrics sums
            # them all (live/metrics.py); a fresh one per run, gone when serve ends.
            metrics_dir = None
            if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                metrics_dir = tempfile.TemporaryDirectory(prefix="warehouse-gql-metrics-")
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name
            try:
                _run_workers(settings)
            finally:
                if metrics_dir is not None:
                    metrics_dir.cleanup()
        else:
            supervisor = supervisor_of(url)
            app = create_app(
                settings, database_up=None if supervisor is None else supervisor.up.is_set
            )
            tune_collector()
            uvicorn.run(app, **server_options(settings))


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for serving the app, one process or many."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": None,
        "access_log": False,
        # No permessage-deflate: events are small, and a compressor per connection would
        # cost more memory than the subscription itself (docs/BENCHMARKS.md).
        "ws_per_message_deflate": False,
        # WebSocket messages over the body limit are refused by the server itself; on SIGTERM
        # requests still running after the deadline are not waited for.
        "ws_max_size": settings.max_body_bytes,
        "timeout_graceful_shutdown": int(settings.request_timeout_s) + 1,
    }


def _run_workers(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "warehouse_gql.app:app_from_env",
        factory=True,
        workers=settings.workers,
        **server_options(settings),
    )


def _password(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("WAREHOUSE_PASSWORD"):
        return os.environ["WAREHOUSE_PASSWORD"]
    if not sys.stdin.isatty():
        raise CommandError("Give a password with --password or WAREHOUSE_PASSWORD.")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise CommandError("The two passwords differ.")
    return first


def create_user(settings: Settings, args: argparse.Namespace) -> None:
    from warehouse_gql.app import mongo_client
    from warehouse_gql.domain.access import Role
    from warehouse_gql.domain.errors import WarehouseError
    from warehouse_gql.services import accounts
    from warehouse_gql.services.passwords import Passwords
    from warehouse_gql.store import migrations
    from warehouse_gql.store.database import Database
    from warehouse_gql.store.errors import DatabaseError

    password = _password(args.password)

    async def run(url: str) -> str:
        client = mongo_client(url)
        try:
            db = Database(client, settings.mongodb_db)
            await migrations.prepare(db)
            user = await accounts.create_user(
                db,
                Passwords(),
                username=args.username,
                email=args.email,
                password=password,
                role=Role(args.role),
            )
            return f"created {user.role.value} {user.username} ({user.id})"
        finally:
            await client.close()

    with database_url(settings) as url:
        try:
            print(asyncio.run(run(url)))
        except WarehouseError as exc:
            raise CommandError(exc.message) from None
        except DatabaseError as exc:
            raise CommandError(
                f"The database at {redact(url)} failed: {_first_line(exc)}"
            ) from None


def _on_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the configured database (starting the embedded one if none runs)."""
    from warehouse_gql.store.backup import BackupError, with_database

    with database_url(settings) as url:
        try:
            return asyncio.run(with_database(url, settings.mongodb_db, work))
        except BackupError as exc:
            raise CommandError(str(exc)) from None


def backup(settings: Settings, out: Path) -> None:
    from warehouse_gql.store import backup as archive

    if out.is_dir():
        raise CommandError(f"--out {out} is a directory; name the archive file.")
    if not out.parent.is_dir():
        raise CommandError(f"--out {out}: the directory {out.parent} does not exist.")
    summary = _on_database(settings, lambda db: archive.dump(db, out))
    print(
        f"backed up {summary.documents} documents of {len(summary.counts)} collections "
        f"from {summary.database} to {out}"
    )


def restore(settings: Settings, file: Path, force: bool) -> None:
    from warehouse_gql.store import backup as archive

    summary = _on_database(settings, lambda db: archive.load(db, file, force=force))
    print(
        f"restored {summary.documents} documents of {len(summary.counts)} collections "
        f"(backed up from {summary.database} at {summary.created_at}) into {settings.mongodb_db}"
    )


def export_items(settings: Settings, out: Path | None) -> None:
    from warehouse_gql.store import items

    rows = _on_database(settings, items.stock_rows)
    with contextlib.ExitStack() as stack:
        target = (
            stack.enter_context(out.open("w", newline="", encoding="utf-8"))
            if out is not None
            else sys.stdout
        )
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)
    if out is not None:
        print(f"exported {len(rows)} items to {out}", file=sys.stderr)


def read_stock_csv(path: Path) -> list[StockRow]:
    """The rows of an items CSV; CommandError naming the line of the first malformed one."""
    from warehouse_gql.services.inventory import StockRow

    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    rows: list[StockRow] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or tuple(h.strip().lower() for h in header) != CSV_HEADER:
                raise CommandError(
                    f"Line 1 of {path} must be the header {','.join(CSV_HEADER)}, got "
                    f"{','.join(header or [])!r}."
                )
            for record in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                if len(record) != len(CSV_HEADER):
                    raise CommandError(
                        f"Line {line}: expected 4 fields (sku,name,bin,quantity), got {len(record)}."
                    )
                sku, name, location, raw = record
                try:
                    quantity = int(raw.strip())
                except ValueError:
                    raise CommandError(
                        f"Line {line}: quantity must be a whole number, got {raw!r}."
                    ) from None
                rows.append(StockRow(line, sku.strip(), name, location, quantity))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CommandError(f"Line {reader.line_num}: not readable CSV ({exc}).") from None
    return rows


def import_items(settings: Settings, file: Path) -> None:
    from broadcaster import Broadcast

    from warehouse_gql.domain.errors import WarehouseError
    from warehouse_gql.live.bus import EventBus
    from warehouse_gql.services import inventory

    rows = read_stock_csv(file)

    async def work(db: Database) -> tuple[int, int, int]:
        # Through Redis when configured, so running servers' subscribers see the changes.
        broadcast = Broadcast(settings.redis_url or "memory://")
        await broadcast.connect()
        events = EventBus(broadcast, namespace=settings.mongodb_db)
        try:
            return await inventory.import_stock(db, events, rows=rows)
        finally:
            await broadcast.disconnect()

    try:
        created, changed, unchanged = _on_database(settings, work)
    except WarehouseError as exc:
        raise CommandError(f"{file}: {exc.message} Nothing was imported.") from None
    print(
        f"imported {len(rows)} rows from {file}: {created} items created, {changed} changed, "
        f"{unchanged} unchanged"
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logs.configure(os.environ.get("LOG_FORMAT", "json").lower())
    try:
        if args.command == "export-schema":
            from warehouse_gql.api.graphql.schema import export_sdl

            sys.stdout.write(export_sdl())
            return
        if args.command == "export-openapi":
            from warehouse_gql.api.rest.openapi import export_document

            sys.stdout.write(export_document())
            return
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            data_dir=args.data_dir,
            workers=getattr(args, "workers", None),
        )
        if args.command == "backup":
            backup(settings, args.out)
        elif args.command == "restore":
            restore(settings, args.file, args.force)
        elif args.command == "export-items":
            export_items(settings, args.out)
        elif args.command == "import-items":
            import_items(settings, args.file)
        elif args.command == "serve":
            # uvicorn shuts down gracefully on SIGTERM, then raises it again with the handler it
            # found: this one, so we unwind and stop the embedded database instead of dying.
            signal.signal(signal.SIGTERM, _terminate)
            try:
                serve(settings, init=args.init)
            except _Terminated:
                return
        else:
            create_user(settings, args)
    except (CommandError, SettingsError) as exc:
        print(f"warehouse-gql: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
