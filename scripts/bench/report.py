"""What a run prints and writes: one table, and the JSON report with the machine it ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from pathlib import Path
from typing import Any


def table(rows: list[dict[str, Any]], baseline_rps: float | None) -> str:
    header = (
        f"{'scenario':<24}{'conc':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'cpu ms/req':>12}{'db ms/req':>11}{'load ms/req':>13}{'rss MB':>9}{'errors':>8}  notes"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        note = ""
        if r["scenario"] == "read" and baseline_rps:
            note = f"{r['rps'] / baseline_rps:.0%} of baseline"
        if r.get("of_baseline") is not None:
            note = f"{r['of_baseline']:.0%} of page-baseline"
        if r["scenario"].startswith("fan-out"):
            note = (
                f"all delivered: median {r['all_delivered_median_ms']} ms,"
                f" max {r['all_delivered_max_ms']} ms"
                f" (from the request {r['from_request_median_ms']} ms);"
                f" missed {r['missed_deliveries']};"
                f" {r['rss_kb_per_subscription']} KB/subscription"
            )

        def cell(v: Any, width: int) -> str:
            return f"{'-' if v is None else v:>{width}}"

        lines.append(
            f"{r['scenario']:<24}{r['concurrency']:>6}{cell(r['rps'], 9)}{cell(r['p50_ms'], 9)}"
            f"{cell(r['p95_ms'], 9)}{cell(r['p99_ms'], 9)}{cell(r['cpu_ms_per_request'], 12)}"
            f"{cell(r.get('db_cpu_ms_per_request'), 11)}"
            f"{cell(r.get('client_cpu_ms_per_request'), 13)}"
            f"{cell(r['rss_mb'], 9)}{r['errors']:>8}  {note}"
        )
    return "\n".join(lines)


def medians(rows: list[dict[str, Any]]) -> str:
    """Per scenario (and source), the median over the rounds of req/s and server CPU."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(r["scenario"], []).append(r)
    lines = [
        f"{'medians over rounds':<28}{'runs':>6}{'req/s':>9}{'cpu ms/req':>12}  each cpu ms/req"
    ]
    for name, group in grouped.items():
        cpus = [r["cpu_ms_per_request"] for r in group if r["cpu_ms_per_request"] is not None]
        rps = statistics.median(r["rps"] for r in group)
        cpu = f"{statistics.median(cpus):.3f}" if cpus else "-"
        ratios = [r["of_baseline"] for r in group if r.get("of_baseline") is not None]
        note = f"; {statistics.median(ratios):.0%} of page-baseline" if ratios else ""
        for key, what in (
            ("all_delivered_median_ms", "all delivered"),
            ("from_request_median_ms", "from the request"),
        ):
            each = [r[key] for r in group if r.get(key) is not None]
            if each:
                note += f"; {what} median {statistics.median(each):.1f} ms, each {each}"
        lines.append(f"{name:<28}{len(group):>6}{rps:>9.1f}{cpu:>12}  {cpus}{note}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
    }


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()
