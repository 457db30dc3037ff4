"""The embedded default: a SecantusDB child process storing data under the data dir.

SecantusDB is GPL-2.0, so it only ever runs as a separate process (`python -m secantus`),
never imported. One process owns a data dir at a time, held by an advisory lock; a second
command on the same data dir (e.g. `create-user` while `serve` runs) finds the running
database through `server.json` and connects to it instead of opening the files again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

START_TIMEOUT = 60.0


class EmbeddedError(RuntimeError):
    """The embedded database could not be started or reached; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def url_for(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


def answers(url: str, timeout_ms: int = 500) -> bool:
    try:
        with MongoClient[dict[str, Any]](
            url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
        ) as client:
            client.admin.command("ping")
        return True
    except PyMongoError:
        return False


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if we die, even by SIGKILL, so it is never orphaned.
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    # Its own process group, so a Ctrl-C reaches only us and we stop it in order.
    os.setpgrp()


def _check_installed() -> None:
    import importlib.util

    if importlib.util.find_spec("secantus") is None:
        raise EmbeddedError(
            "The embedded database is not installed: pip install 'warehouse-gql[embedded]', "
            "or set MONGODB_URL to a MongoDB replica set."
        )


@contextlib.contextmanager
def embedded_database(data_dir: Path) -> Iterator[str]:
    """Yield a MongoDB URL for the data dir: the running server's, or a child we start and stop."""
    data_dir.mkdir(parents=True, exist_ok=True)
    info_path = data_dir / "server.json"
    lock_file = (data_dir / "server.lock").open("a+")
    try:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Another process owns the data dir: use the database it runs.
            yield _running_url(info_path)
            return
        _check_installed()
        child, url = start_secantus((data_dir / "db").resolve(), data_dir / "secantus.log")
        try:
            info_path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
            yield url
        finally:
            with contextlib.suppress(FileNotFoundError):
                info_path.unlink()
            stop(child)
    finally:
        lock_file.close()


def start_secantus(
    storage: Path, log_path: Path, *, sync_on_commit: bool = True, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start SecantusDB on a free loopback port and wait until it answers.

    The child dies with this process; EmbeddedError says why when it cannot start. The server,
    the test suite and the benchmark all start their databases through this one function.
    `--sync-on-commit` makes every acknowledged write survive a kill of the database (SPEC);
    only the test suite's throw-away databases may do without it.
    """
    port = port or free_port()
    with log_path.open("ab") as log_file:
        child = subprocess.Popen(
            [
                *(sys.executable, "-m", "secantus", "--host", "127.0.0.1"),
                *("--port", str(port), "--storage-path", str(storage)),
                *(("--sync-on-commit",) if sync_on_commit else ()),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    url = url_for(port)
    _wait_until_up(child, url, log_path)
    return child, url


def _wait_until_up(child: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace")[-400:].strip()
            raise EmbeddedError(f"The embedded database exited at start-up: {tail}")
        if answers(url, 300):
            return
        time.sleep(0.1)
    stop(child)
    raise EmbeddedError(f"The embedded database did not answer within {START_TIMEOUT:.0f}s.")


def _running_url(info_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            url = str(json.loads(info_path.read_text())["url"])
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.1)  # the owner is still starting it
            continue
        if answers(url):
            return url
        time.sleep(0.1)
    raise EmbeddedError(
        f"Another process holds {info_path.parent} but its database does not answer."
    )


def stop(child: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
