"""The processes a run needs: SecantusDB, valkey-server and one `warehouse-gql serve`."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import ValkeyServer
from warehouse_gql.embedded import EmbeddedError, free_port, start_secantus, stop

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")".
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass(frozen=True)
class DatabaseServer:
    url: str
    # The SecantusDB process when the bench started it: its CPU is reported next to the server's.
    pid: int | None = None


@contextlib.contextmanager
def secantus() -> Iterator[DatabaseServer]:
    storage = Path(tempfile.mkdtemp(prefix="wgql-bench-db-"))
    try:
        child, url = start_secantus(storage, storage.parent / f"{storage.name}.log")
    except EmbeddedError as exc:
        raise SystemExit(f"bench: {exc}") from None
    try:
        yield DatabaseServer(url, child.pid)
    finally:
        stop(child)
        shutil.rmtree(storage, ignore_errors=True)


@contextlib.contextmanager
def valkey() -> Iterator[str]:
    """valkey-server on a free port, started as the test suite starts its own."""
    server = ValkeyServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class Server:
    pid: int
    url: str
    # Where the server writes its CPU samples when it runs under scripts/bench/profile.py.
    profile_out: Path | None = None

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        pages = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1])
        return pages * PAGE / 1e6


def warehouse_gql_command() -> str:
    """The console script of this interpreter's environment, even when it is not on PATH."""
    beside = Path(sys.executable).with_name("warehouse-gql")
    return str(beside) if beside.exists() else shutil.which("warehouse-gql") or "warehouse-gql"


@contextlib.contextmanager
def server(
    mongodb_url: str,
    redis_url: str,
    db_name: str,
    log_path: Path,
    source: str | None = None,
    settings: dict[str, str] | None = None,
    profile_out: Path | None = None,
) -> Iterator[Server]:
    """`warehouse-gql serve` on a free port; with `source`, the package is imported from that
    source tree (a checkout of another commit) instead of the installed one; `settings` are
    environment variables over the bench's own; with `profile_out`, under the CPU sampler of
    profile.py, writing its samples there."""
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DB": db_name,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        # Every fan-out subscriber logs in as the one bench manager: lift the per-session
        # socket cap (20 in production) and the per-user point budget for the load.
        "MAX_SOCKETS_PER_SESSION": "10000",
        "MAX_SUBSCRIPTIONS": "100000",
        "RATE_LIMIT_POINTS": "0",
        **(settings or {}),
    }
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(source).resolve()), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    command = [warehouse_gql_command(), "serve"]
    cwd = None
    if profile_out is not None:
        env["CPU_PROFILE_OUT"] = str(profile_out)
        # By path, from a neutral directory: `python -m` would put the working directory (this
        # repository) first on sys.path, before `source`.
        sampler = Path(__file__).resolve().with_name("profile.py")
        command = [
            sys.executable,
            "-c",
            f"import runpy; runpy.run_path({str(sampler)!r}, run_name='__main__')",
        ]
        cwd = tempfile.gettempdir()
    with log_path.open("ab") as log:
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bench: the server did not start; see {log_path}")
                time.sleep(0.1)
            yield Server(child.pid, url, profile_out)
        finally:
            stop(child)
