"""`python -m scripts.bench [SCENARIO ...]`: start the processes, load, run, report, check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from warehouse_gql.store import invariants
from warehouse_gql.store.database import Database

from . import __doc__ as usage
from . import launcher, profile, report, scenarios
from .dataset import FULL, QUICK, Document, Size, create_manager, load_dataset
from .load import Api, Bench, RawHttp, Result

LOG_IN = "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }"


async def broken_invariants(mongodb_url: str, db_name: str) -> list[str]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        return (await invariants.broken_anywhere(Database(client, db_name)))[:20]
    finally:
        await client.close()


async def run(
    args: argparse.Namespace,
    size: Size,
    names: list[str],
    database: launcher.DatabaseServer,
    redis_url: str,
) -> int:
    mongodb_url = database.url
    db_name = f"bench_{os.getpid()}_{int(time.time())}"
    duration = args.duration or size.duration
    started = time.monotonic()
    print(f"bench: database {db_name}; loading the dataset", flush=True)
    manager_id, username, password = create_manager(mongodb_url, db_name)
    sources: list[tuple[str, str | None]] = [
        (label, path) for label, _, path in (s.partition("=") for s in args.source or [])
    ] or [("", None)]
    data = None
    results: list[Result] = []
    for round_ in range(args.rounds):
        # Alternate the order, so neither source always runs first on a warmer machine.
        for label, path in sources if round_ % 2 == 0 else sources[::-1]:
            profile_out = None
            if args.profile is not None:
                profile_out = Path(tempfile.gettempdir()) / f"bench-cpu-{os.getpid()}.folded"
            with launcher.server(
                mongodb_url,
                redis_url,
                db_name,
                Path(args.server_log),
                path,
                settings=dict(e.partition("=")[::2] for e in args.env or []),
                profile_out=profile_out,
            ) as srv:
                if data is None:
                    t = time.monotonic()
                    # The server made the indexes on start: load after, as a live warehouse
                    # would have.
                    data = load_dataset(mongodb_url, db_name, size, manager_id)
                    print(
                        f"bench: {size.bins} bins, {size.items} items, {size.skus} skus,"
                        f" {size.orders} orders loaded in {time.monotonic() - t:.1f} s",
                        flush=True,
                    )
                print(f"bench: server pid {srv.pid} {label}".rstrip(), flush=True)
                limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
                async with httpx.AsyncClient(base_url=srv.url, timeout=60, limits=limits) as client:
                    raw = RawHttp(srv.url) if args.http_client == "raw" else None
                    api = Api(client, raw)
                    token = (await api.call(LOG_IN, {"u": username, "p": password}))["logIn"][
                        "token"
                    ]
                    client.headers["Authorization"] = f"Bearer {token}"
                    if raw is not None:
                        raw.authorization = f"Authorization: Bearer {token}\r\n"
                    bench = Bench(
                        api=api,
                        server=srv,
                        data=data,
                        size=size,
                        duration=duration,
                        token=token,
                        mongodb_url=mongodb_url,
                        db_name=db_name,
                        db_pid=database.pid,
                        subscribers=tuple(args.subscribers or size.fanout),
                        events=args.events or size.events,
                        per_socket=args.per_socket,
                        interval=args.interval,
                        redis_url=redis_url,
                        server_log=args.server_log,
                        source=path,
                    )
                    for name in names:
                        for result in await scenarios.ALL[name].run(bench):
                            result.source = label
                            results.append(result)
                            if result.profile and args.profile is not None:
                                write_profile(Path(args.profile), result, round_)
                    if raw is not None:
                        raw.close()
    problems = await broken_invariants(mongodb_url, db_name)
    mongo = AsyncMongoClient[Document](mongodb_url)
    try:
        await mongo.drop_database(db_name)
    finally:
        await mongo.close()
    rows = [r.row() for r in results]
    baseline = next((r["rps"] for r in rows if r["scenario"] == "baseline"), None)
    read = next((r for r in rows if r["scenario"] == "read"), None)
    if read is not None and baseline:
        read["baseline_ratio"] = round(read["rps"] / baseline, 3)
    print()
    print(report.table(rows, baseline))
    if args.rounds > 1 or len(sources) > 1:
        print()
        print(report.medians(rows))
    print()
    print("invariants:", "hold" if not problems else f"BROKEN: {problems}")
    written = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "dataset": size.__dict__ | {"fanout": list(size.fanout)},
        "duration_s": duration,
        "http_client": args.http_client,
        "database": "MONGODB_URL" if os.environ.get("MONGODB_URL") else "SecantusDB",
        "scenarios": rows,
        "invariants": problems,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    await asyncio.to_thread(Path(args.out).write_text, json.dumps(written, indent=2) + "\n")
    print(f"bench: wrote {args.out} after {written['wall_seconds']} s")
    errors = sum(r["errors"] for r in rows)
    return 1 if problems or errors else 0


def write_profile(directory: Path, result: Result, round_: int) -> None:
    """The scenario's CPU samples as folded stacks and as a flame graph SVG."""
    stem = "-".join(filter(None, [result.name, result.source, f"r{round_ + 1}"]))
    assert result.profile is not None
    (directory / f"{stem}.folded").write_text(
        "".join(f"{stack} {n}\n" for stack, n in sorted(result.profile.items()))
    )
    title = f"warehouse-gql server CPU: {result.name}"
    if result.source:
        title += f" [{result.source}]"
    (directory / f"{stem}.svg").write_text(profile.render(result.profile, title))
    print(f"bench: wrote {directory / stem}.svg", flush=True)


def parse_args() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench", description=(usage or "").splitlines()[0]
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"any of {', '.join(scenarios.ALL)}; none: {' '.join(scenarios.DEFAULTS)}",
    )
    parser.add_argument("--only", help="the same, comma-separated")
    parser.add_argument("--quick", action="store_true", help="tiny dataset and short runs")
    parser.add_argument("--duration", type=float, help="measured seconds per scenario")
    parser.add_argument(
        "--out", default="bench-results.json", help="where to write the JSON report"
    )
    parser.add_argument(
        "--subscribers", type=int, action="append", help="fan-out sizes (repeatable)"
    )
    parser.add_argument("--events", type=int, help="fan-out mutations per size")
    parser.add_argument(
        "--per-socket",
        type=int,
        default=1,
        help="fan-out subscriptions per WebSocket (each size must be a multiple of it)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.5,
        help="seconds between fan-out mutations (default 0.5; longer than one event's delivery"
        " to measure events one at a time)",
    )
    parser.add_argument(
        "--source",
        action="append",
        metavar="LABEL=DIR",
        help="serve from this source tree (repeatable: each round runs every source, in"
        " alternating order, on the same database)",
    )
    parser.add_argument(
        "--env",
        action="append",
        metavar="NAME=VALUE",
        help="a setting for every server, over the bench's own (repeatable), e.g."
        " RATE_LIMIT_POINTS=1000000 to count the default rate limit, which the bench turns off",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the scenarios this many times (medians)"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample the server's CPU in each measured window; write DIR/<scenario>.svg",
    )
    parser.add_argument(
        "--http-client",
        choices=("raw", "httpx"),
        default="raw",
        help="the load's HTTP client: a minimal keep-alive one (default), or httpx",
    )
    parser.add_argument(
        "--server-log", default=os.path.join(tempfile.gettempdir(), "bench-server.log")
    )
    args = parser.parse_args()
    named = [*args.scenarios, *(args.only.split(",") if args.only else [])]
    unknown = [name for name in named if name not in scenarios.ALL]
    if unknown:
        parser.error(
            f"unknown scenario {', '.join(unknown)}; choose from {', '.join(scenarios.ALL)}"
        )
    # Named ones run in the registry's order, each once.
    names = [name for name in scenarios.ALL if name in named] if named else scenarios.DEFAULTS
    return args, names


def main() -> None:
    args, names = parse_args()
    if args.profile is not None:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    size = QUICK if args.quick else FULL
    # Subscribers need a file descriptor each, on both ends.
    with contextlib.suppress(ValueError, OSError):
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with contextlib.ExitStack() as stack:
        url = os.environ.get("MONGODB_URL")
        database = launcher.DatabaseServer(url) if url else stack.enter_context(launcher.secantus())
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(launcher.valkey())
        code = asyncio.run(run(args, size, names, database, redis_url))
    sys.exit(code)


if __name__ == "__main__":
    main()
