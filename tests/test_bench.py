"""Smoke test of the benchmark: `python -m scripts.bench --quick` runs every default scenario
without errors.

It measures nothing; the numbers live in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_benchmark_runs_every_scenario_without_an_error(
    mongodb_url: str, redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "MONGODB_URL": mongodb_url, "REDIS_URL": redis_url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.bench",
            "--quick",
            "--duration",
            "1",
            "--out",
            str(out),
            "--server-log",
            str(tmp_path / "server.log"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    names = {row["scenario"] for row in report["scenarios"]}
    assert {"read", "baseline", "write", "fulfill"} <= names
    assert any(name.startswith("fan-out") for name in names)
    for row in report["scenarios"]:
        assert row["errors"] == 0, row
        assert row["requests"] > 0, row
        if row["scenario"].startswith("fan-out"):
            assert row["missed_deliveries"] == 0, row
    assert report["invariants"] == []


def test_the_issue_scenarios_run_alternated_on_two_source_trees_without_an_error(
    mongodb_url: str, redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "MONGODB_URL": mongodb_url, "REDIS_URL": redis_url}
    scenarios = ["page", "item", "item-parse", "adjust", "fulfill-order"]
    done = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.bench", "--quick", "--duration", "1"),
            *scenarios,
            *("--source", f"a={ROOT}", "--source", f"b={ROOT}"),
            *("--out", str(out), "--server-log", str(tmp_path / "server.log")),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    names = [row["scenario"] for row in report["scenarios"]]
    expected = [*scenarios[:1], "page-baseline", *scenarios[1:]]
    assert names == [f"{n} [a]" for n in expected] + [f"{n} [b]" for n in expected]
    for row in report["scenarios"]:
        assert row["errors"] == 0, row
        assert row["requests"] > 0, row
    assert "medians over rounds" in done.stdout
    assert report["invariants"] == []


def test_the_livequery_fanout_delivers_every_event_to_every_subscriber(
    mongodb_url: str, redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "MONGODB_URL": mongodb_url, "REDIS_URL": redis_url}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.bench", "--quick", "fanout-parse"),
            *("--out", str(out), "--server-log", str(tmp_path / "server.log")),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["scenarios"]
    assert [row["scenario"] for row in rows] == ["fan-out-parse S=20", "fan-out-parse S=100"]
    for row in rows:
        assert row["errors"] == 0, row
        assert row["missed_deliveries"] == 0, row
        assert row["from_request_median_ms"] > 0, row
    assert report["invariants"] == []
