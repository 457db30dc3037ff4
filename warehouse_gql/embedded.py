"""The embedded default: a SecantusDB child process storing data under the data dir.

SecantusDB is GPL-2.0, so it only ever runs as a separate process (`python -m secantus`),
never imported. One process owns a data dir at a time, held by an advisory lock; a second
command on the same data dir (e.g. `create-user` while `serve` runs) finds the running
database through `server.json` and connects to it instead of opening the files again. A
second `serve` is refused. Under `serve` the child is supervised and restarted if it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

START_TIMEOUT = 60.0

log = logging.getLogger(__name__)


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


class DataDirInUse(EmbeddedError):
    """Another server already owns the data dir."""


class Supervisor:
    """Keeps the SecantusDB child of a data dir running.

    A thread waits on the child; the moment it exits unasked, `up` is cleared (so /readyz says
    503 at once) and it is started again on the same port, with backoff from 0.5 s to 30 s
    between failed attempts. The server's MongoDB client reconnects to the same URL by itself.
    """

    def __init__(self, storage: Path, log_path: Path) -> None:
        self.storage = storage
        self.log_path = log_path
        self.port = free_port()
        self.url = url_for(self.port)
        self.up = threading.Event()
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = False
        self.child = self._start()
        self.up.set()
        self._thread = threading.Thread(target=self._watch, name="secantus-watch", daemon=True)
        self._thread.start()

    def _start(self) -> subprocess.Popen[bytes]:
        child = spawn_secantus(self.storage, self.log_path, self.port)
        _wait_until_up(child, self.url, self.log_path)
        return child

    def _watch(self) -> None:
        while True:
            code = self.child.wait()
            with self._lock:
                if self._stopping:
                    return
                self.up.clear()
            log.error("The embedded database exited (code %s); restarting it.", code)
            delay = 0.5
            while True:
                try:
                    child = self._start()
                except EmbeddedError as exc:
                    log.error("The embedded database did not restart: %s", exc)
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                with self._lock:
                    # stop() may have come while it was starting: then it must not live on.
                    self.child = child
                    if self._stopping:
                        stop(child)
                        return
                    self.restarts += 1
                    self.up.set()
                log.warning("The embedded database is back (restart %d).", self.restarts)
                break

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            child = self.child
        stop(child)
        self._thread.join(START_TIMEOUT)


def _taken_message(data_dir: Path, info_path: Path) -> str:
    try:
        pid = json.loads(info_path.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        pid = None
    who = f"another warehouse-gql (pid {pid})" if pid else "another warehouse-gql process"
    return (
        f"{who} already uses the data dir {data_dir.resolve()}; stop it, or give this server "
        "its own --data-dir."
    )


@contextlib.contextmanager
def embedded_database(data_dir: Path, *, supervised: bool = False) -> Iterator[str]:
    """Yield a MongoDB URL for the data dir: the running server's, or a child we start and stop.

    With `supervised` (serve), the data dir must be free: a second server would otherwise
    depend on the first one's database and fail when that one exits. The child is restarted
    if it dies (`supervisor_of(url)`).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    info_path = data_dir / "server.json"
    lock_file = (data_dir / "server.lock").open("a+")
    try:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if supervised:
                raise DataDirInUse(_taken_message(data_dir, info_path)) from None
            # Another process owns the data dir: use the database it runs.
            yield _running_url(info_path)
            return
        _check_installed()
        storage, log_path = (data_dir / "db").resolve(), data_dir / "secantus.log"
        if supervised:
            supervisor = Supervisor(storage, log_path)
            url = supervisor.url
            _SUPERVISORS[url] = supervisor
            stopper: Callable[[], None] = supervisor.stop
        else:
            child, url = start_secantus(storage, log_path)
            stopper = functools.partial(stop, child)
        try:
            info_path.write_text(
                json.dumps({"url": url, "pid": os.getpid(), "supervised": supervised})
            )
            yield url
        finally:
            with contextlib.suppress(FileNotFoundError):
                info_path.unlink()
            _SUPERVISORS.pop(url, None)
            stopper()
    finally:
        lock_file.close()


_SUPERVISORS: dict[str, Supervisor] = {}


def supervisor_of(url: str) -> Supervisor | None:
    """The supervisor of the embedded database at `url`, when this process runs it."""
    return _SUPERVISORS.get(url)


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
    child = spawn_secantus(storage, log_path, port, sync_on_commit=sync_on_commit)
    url = url_for(port)
    _wait_until_up(child, url, log_path)
    return child, url


def spawn_secantus(
    storage: Path, log_path: Path, port: int, *, sync_on_commit: bool = True
) -> subprocess.Popen[bytes]:
    """The SecantusDB child process on `port`, not yet answering."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
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
