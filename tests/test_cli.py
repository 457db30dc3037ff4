"""The `warehouse-gql` command as a user runs it: real subprocesses, a real embedded database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.waiting import wait_until
from warehouse_gql.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90.0
UNREACHABLE = "mongodb://alice:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=500"
LINUX_PROC = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="process checks read /proc"
)


def script() -> str:
    found = shutil.which("warehouse-gql", path=str(Path(sys.executable).parent)) or shutil.which(
        "warehouse-gql"
    )
    assert found is not None, "the warehouse-gql console script is not installed"
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no configured database, Redis or password."""
    dropped = {
        "MONGODB_URL",
        "MONGODB_DB",
        "REDIS_URL",
        "HOST",
        "PORT",
        "WAREHOUSE_DATA_DIR",
        "WAREHOUSE_ENV",
        "WAREHOUSE_PASSWORD",
        "PYTHONUNBUFFERED",  # serve must flush its own messages
    }
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(extra)
    return env


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script(), *args],
        cwd=cwd,
        env=clean_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line(stderr: str) -> str:
    """The single line a failing command must print, without a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def processes() -> dict[int, tuple[int, str]]:
    """Every live process as pid -> (parent pid, command line), read from /proc."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if state != "Z":
            found[int(entry.name)] = (int(ppid), cmdline)
    return found


def secantus_children(pid: int) -> list[int]:
    return [p for p, (ppid, cmd) in processes().items() if ppid == pid and "secantus" in cmd]


def secantus_on(data_dir: Path) -> list[int]:
    """Every SecantusDB process storing data in the data dir, whoever started it."""
    storage = str((data_dir / "db").resolve())
    return [p for p, (_, cmd) in processes().items() if "secantus" in cmd and storage in cmd]


def alive(pid: int) -> bool:
    return pid in processes()


@dataclass
class Serving:
    process: subprocess.Popen[bytes]
    base: str
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def log_in(self, username: str, password: str) -> str:
        data = self.graphql(
            "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }",
            {"u": username, "p": password},
        )
        token: str = data["logIn"]["token"]
        return token

    def role_of(self, token: str) -> str:
        role: str = self.graphql("{ me { role } }", token=token)["me"]["role"]
        return role


def stop_process(process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(data_dir: Path, cwd: Path, name: str) -> Iterator[Serving]:
    """`warehouse-gql serve` on a free port, ready when /healthz answers; always stopped after."""
    port = free_port()
    stdout, stderr = cwd / f"{name}.out", cwd / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [script(), "serve", "--init", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=cwd,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    server = Serving(process, f"http://127.0.0.1:{port}", stdout, stderr)
    try:

        def answers() -> bool:
            assert process.poll() is None, f"serve exited early:\n{server.output()}"
            with suppress(httpx.HTTPError):
                return httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200
            return False

        try:
            wait_until(answers, timeout=STARTUP_SECONDS, what="serve answering")
        except AssertionError as failed:
            raise AssertionError(f"{failed}:\n{server.output()}") from None
        yield server
    finally:
        stop_process(process)
        if Path("/proc/self/stat").exists():
            for pid in secantus_on(data_dir):  # only if serve failed to stop its own
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def create_user_args(username: str, data_dir: Path, *extra: str) -> list[str]:
    return [
        "create-user",
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        "--data-dir",
        str(data_dir),
        *extra,
    ]


@LINUX_PROC
def test_serve_runs_the_embedded_database_shares_it_with_create_user_stops_it_on_sigterm_and_keeps_the_data(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, tmp_path, "first") as server:
        port = server.base.rsplit(":", 1)[1]
        assert f"GraphiQL at http://127.0.0.1:{port}/graphql" in server.stdout.read_text()
        assert httpx.get(f"{server.base}/healthz", timeout=5).json() == {"status": "ok"}
        ready = httpx.get(f"{server.base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["ready"] is True, ready.text

        [database] = secantus_children(server.process.pid)
        url = json.loads((data_dir / "server.json").read_text())["url"]

        # --password wins over WAREHOUSE_PASSWORD; without the flag the variable is used.
        manager = run(
            create_user_args("boss", data_dir, "--role", "MANAGER", "--password", "flag pass 1"),
            tmp_path,
            clean_env(WAREHOUSE_PASSWORD="env pass 22"),
        )
        assert manager.returncode == 0, manager.stderr
        assert "created MANAGER boss" in manager.stdout
        picker = run(
            create_user_args("pia", data_dir, "--role", "PICKER"),
            tmp_path,
            clean_env(WAREHOUSE_PASSWORD="env pass 22"),
        )
        assert picker.returncode == 0, picker.stderr

        # Both went to the running database: no second SecantusDB on the data dir.
        assert secantus_children(server.process.pid) == [database]
        assert secantus_on(data_dir) == [database]
        assert json.loads((data_dir / "server.json").read_text())["url"] == url

        assert server.role_of(server.log_in("boss", "flag pass 1")) == "MANAGER"
        assert server.role_of(server.log_in("pia", "env pass 22")) == "PICKER"

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0, server.output()
        wait_until(lambda: not alive(database), timeout=10, what="SecantusDB ending with serve")
        assert secantus_on(data_dir) == []
        assert not (data_dir / "server.json").exists()
        assert "Traceback" not in server.output()

    with serving(data_dir, tmp_path, "second") as again:
        assert again.role_of(again.log_in("boss", "flag pass 1")) == "MANAGER"
        [restarted] = secantus_children(again.process.pid)
        assert restarted != database


@LINUX_PROC
def test_create_user_without_a_server_runs_its_own_database_and_refuses_a_taken_username(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    args = create_user_args("solo", data_dir, "--role", "CUSTOMER", "--password", "pass word 1")
    try:
        first = run(args, tmp_path)
        assert first.returncode == 0, first.stderr
        assert "created CUSTOMER solo" in first.stdout
        assert (data_dir / "db").is_dir()
        assert secantus_on(data_dir) == [], "create-user left its database running"
        assert not (data_dir / "server.json").exists()

        second = run(args, tmp_path)
        assert second.returncode != 0
        line = one_line(second.stderr)
        assert "solo" in line, line
        assert "taken" in line, line
        assert secantus_on(data_dir) == []
    finally:
        for pid in secantus_on(data_dir):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_create_user_without_a_password_or_a_terminal_fails_at_once_with_one_line(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    result = run(create_user_args("nopass", data_dir, "--role", "PICKER"), tmp_path)
    assert result.returncode != 0
    line = one_line(result.stderr)
    assert "--password" in line, line
    assert "WAREHOUSE_PASSWORD" in line, line
    assert not data_dir.exists(), "it started a database before asking for the password"


def test_export_schema_prints_the_committed_schema_from_any_directory(tmp_path: Path) -> None:
    result = run(["export-schema"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (
            ["create-user", "--username", "bob", "--email", "b@example.com", "--role", "BOSS"],
            {},
            "BOSS",
        ),
        (["create-user", "--email", "b@example.com", "--role", "PICKER"], {}, "--username"),
        (["serve", "--port", "notanumber"], {}, "notanumber"),
        (["serve", "--port", "70000"], {}, "70000"),
        (["serve", "--workers", "0"], {}, "--workers"),
        (["serve"], {"PORT": "abc"}, "PORT"),
        (["serve"], {"SESSION_TTL_HOURS": "0"}, "SESSION_TTL_HOURS"),
        (["launch"], {}, "launch"),
        ([], {}, "command"),
    ],
    ids=[
        "unknown-role",
        "missing-username",
        "port-not-a-number",
        "port-out-of-range",
        "no-workers",
        "PORT-env",
        "ttl-env",
        "unknown-command",
        "no-command",
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line_naming_the_problem(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    result = run(args, tmp_path, clean_env(WAREHOUSE_PASSWORD="pass word 1", **env))
    assert result.returncode != 0
    line = one_line(result.stderr)
    assert named in line, line
    assert not (tmp_path / ".warehouse-data").exists(), "it started a database anyway"


@pytest.mark.parametrize("command", ["serve", "create-user"])
def test_an_unreachable_database_ends_a_command_with_one_line_naming_it_without_credentials(
    tmp_path: Path, command: str
) -> None:
    data_dir = tmp_path / "data"
    args = (
        ["serve", "--port", str(free_port()), "--data-dir", str(data_dir)]
        if command == "serve"
        else create_user_args("late", data_dir, "--role", "PICKER", "--password", "pass word 1")
    )
    started = time.monotonic()
    result = run(args, tmp_path, clean_env(MONGODB_URL=UNREACHABLE))
    assert result.returncode != 0
    line = one_line(result.stderr)
    assert "127.0.0.1:1" in line, line
    assert "does not answer" in line, line
    assert "s3cret" not in line, line
    assert "alice" not in line, line
    assert time.monotonic() - started < 30, "the short serverSelectionTimeoutMS was ignored"
    assert not data_dir.exists(), "it started the embedded database despite MONGODB_URL"


def test_version_prints_the_installed_version_and_exits_zero(tmp_path: Path) -> None:
    from warehouse_gql import __version__

    result = run(["--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"warehouse-gql {__version__}"
    from importlib.metadata import version

    assert version("warehouse-gql") == __version__


def readyz_status(base: str) -> int:
    try:
        return httpx.get(f"{base}/readyz", timeout=10).status_code
    except httpx.HTTPError:
        return 0


def until_readyz(base: str, status: int, seconds: float = 60.0) -> None:
    wait_until(lambda: readyz_status(base) == status, timeout=seconds, what=f"/readyz {status}")


@LINUX_PROC
def test_a_killed_embedded_database_is_restarted_and_readyz_is_503_until_it_is_back_with_the_data(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, tmp_path, "supervised") as server:
        made = run(
            create_user_args("keeper", data_dir, "--role", "MANAGER", "--password", "keep it 123"),
            tmp_path,
        )
        assert made.returncode == 0, made.stderr
        token = server.log_in("keeper", "keep it 123")
        until_readyz(server.base, 200)
        [database] = secantus_children(server.process.pid)

        os.kill(database, signal.SIGKILL)
        until_readyz(server.base, 503)
        until_readyz(server.base, 200)

        [restarted] = secantus_children(server.process.pid)
        assert restarted != database
        # The data survived the kill, and sessions made before it still work.
        assert server.role_of(token) == "MANAGER"
        assert server.role_of(server.log_in("keeper", "keep it 123")) == "MANAGER"
        assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200
        logged = server.stderr.read_text()
        assert "The embedded database exited" in logged, logged
        assert "is back" in logged, logged


@LINUX_PROC
def test_a_second_serve_on_the_same_data_dir_exits_with_one_line_and_the_first_keeps_serving(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, tmp_path, "first") as server:
        second = subprocess.run(
            [script(), "serve", "--port", str(free_port()), "--data-dir", str(data_dir)],
            cwd=tmp_path,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 2
        line = one_line(second.stderr)
        assert f"pid {server.process.pid}" in line, line
        assert "already uses the data dir" in line, line
        assert str(data_dir.resolve()) in line, line
        assert len(secantus_on(data_dir)) == 1
        assert readyz_status(server.base) == 200


def test_a_data_dir_that_does_not_exist_is_refused_unless_serve_init_creates_it(
    tmp_path: Path,
) -> None:
    mistyped = tmp_path / "wherehouse-data"
    for args in (
        ["serve", "--data-dir", str(mistyped)],
        create_user_args("nobody", mistyped, "--role", "PICKER", "--password", "pass word 1"),
        ["backup", "--out", str(tmp_path / "b.jsonl.gz"), "--data-dir", str(mistyped)],
        ["export-items", "--data-dir", str(mistyped)],
    ):
        result = run(args, tmp_path)
        assert result.returncode == 2, result
        line = one_line(result.stderr)
        assert f"--data-dir {mistyped} does not exist" in line, line
        assert "serve --init" in line, line
        assert not mistyped.exists()


@LINUX_PROC
def test_items_import_and_export_as_csv_and_a_backup_restores_into_another_data_dir(
    tmp_path: Path,
) -> None:
    source, copy = tmp_path / "source", tmp_path / "copy"
    with serving(source, tmp_path, "source") as server:
        made = run(
            create_user_args("stock", source, "--role", "MANAGER", "--password", "stock it 123"),
            tmp_path,
        )
        assert made.returncode == 0, made.stderr
        token = server.log_in("stock", "stock it 123")
        for location in ("A-01-1", "B-02-1"):
            server.graphql(
                "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }",
                {"i": {"location": location, "capacity": 100}},
                token,
            )
        good = tmp_path / "good.csv"
        good.write_text(
            'sku,name,bin,quantity\nWID-BLUE,Blue widget,A-01-1,40\n\nGIZ-RED,"Red, gizmo",b-02-1,5\n'
        )
        imported = run(["import-items", str(good), "--data-dir", str(source)], tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert "2 items created, 0 changed, 0 unchanged" in imported.stdout

        def level(sku: str) -> int:
            found: int = server.graphql(f'{{ stockLevel(sku: "{sku}") }}', token=token)[
                "stockLevel"
            ]
            return found

        assert (level("WID-BLUE"), level("GIZ-RED")) == (40, 5)

        bad_lines = {
            "sku,name,bin,quantity\nWID-BLUE,Blue widget,A-01-1,10\nGIZ-RED,Red,B-02-1,lots\n": (
                "Line 3: quantity must be a whole number, got 'lots'."
            ),
            "sku,name,bin,quantity\nWID-BLUE,Blue widget,A-01-1,10\nNEW-1,New,Z-99-9,1\n": (
                "Line 3: No bin at location 'Z-99-9'."
            ),
            "sku,name,bin,quantity\nWID-BLUE,Blue widget,A-01-1,500\n": "Line 2: Bin A-01-1",
            "sku;name;bin;quantity\n": "Line 1 of",
        }
        for text, expected in bad_lines.items():
            bad = tmp_path / "bad.csv"
            bad.write_text(text)
            refused = run(["import-items", str(bad), "--data-dir", str(source)], tmp_path)
            assert refused.returncode == 2
            line = one_line(refused.stderr)
            assert expected in line, line
            assert (level("WID-BLUE"), level("GIZ-RED")) == (40, 5), "a refused import wrote"

        exported = run(["export-items", "--data-dir", str(source)], tmp_path)
        assert exported.returncode == 0, exported.stderr
        assert exported.stdout == (
            'sku,name,bin,quantity\nWID-BLUE,Blue widget,A-01-1,40\nGIZ-RED,"Red, gizmo",B-02-1,5\n'
        )
        archive = tmp_path / "warehouse.jsonl.gz"
        backed_up = run(["backup", "--out", str(archive), "--data-dir", str(source)], tmp_path)
        assert backed_up.returncode == 0, backed_up.stderr
        assert "backed up" in backed_up.stdout
        assert archive.is_file()

    copy.mkdir()
    restored = run(["restore", str(archive), "--data-dir", str(copy)], tmp_path)
    assert restored.returncode == 0, restored.stderr
    again = run(["restore", str(archive), "--data-dir", str(copy)], tmp_path)
    assert again.returncode == 2
    assert "--force" in one_line(again.stderr)
    forced = run(["restore", str(archive), "--force", "--data-dir", str(copy)], tmp_path)
    assert forced.returncode == 0, forced.stderr
    out = tmp_path / "copy.csv"
    from_copy = run(["export-items", "--out", str(out), "--data-dir", str(copy)], tmp_path)
    assert from_copy.returncode == 0, from_copy.stderr
    assert out.read_text() == exported.stdout
    taken = run(
        create_user_args("stock", copy, "--role", "MANAGER", "--password", "stock it 123"),
        tmp_path,
    )
    assert taken.returncode == 2
    assert "taken" in one_line(taken.stderr)


def test_a_serving_process_collects_garbage_rarely_with_its_start_up_frozen() -> None:
    # In a process of its own: the collector's settings are the whole process's.
    probe = (
        "import gc\n"
        "from warehouse_gql.app import GC_THRESHOLDS, app_from_env\n"
        "before = gc.get_freeze_count()\n"
        "app_from_env()\n"
        "assert gc.get_threshold() == GC_THRESHOLDS == (50_000, 20, 100), gc.get_threshold()\n"
        "assert gc.get_freeze_count() > before + 10_000, gc.get_freeze_count()\n"
    )
    env = {**os.environ, "MONGODB_URL": "mongodb://127.0.0.1:9/", "WAREHOUSE_ENV": "development"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
