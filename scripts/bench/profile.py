"""Where the server's CPU time goes: a sampling profiler on CPU time, and flame graphs as SVG.

    python -m scripts.bench page item --profile docs/profiles   # one SVG per scenario

`python -m scripts.bench.profile` runs `warehouse-gql serve` with a sampler installed: SIGUSR1
starts sampling, SIGUSR2 writes the samples as folded stacks ("frame;frame;frame count" per
line) to the file named by CPU_PROFILE_OUT and stops. The bench sends both around each
scenario's measured window. Samples come from ITIMER_PROF, which counts the process's own CPU
time (user and system), so a machine shared with other work does not skew them the way a
wall-clock sampler (py-spy) does: a process that waits for a core, or that a loopback `send`
has just handed the CPU to the database, is not running and is not sampled. C code is charged
to the Python frame that called it.

`render` turns folded stacks into a static SVG flame graph (no JavaScript: each frame has a
title with its share).
"""

from __future__ import annotations

import collections
import html
import os
import signal
import sys
import zlib
from pathlib import Path
from types import FrameType

INTERVAL_S = 0.002
_counts: collections.Counter[str] = collections.Counter()


def _where(path: str) -> str:
    for marker in ("site-packages/", "/warehouse_gql/"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail if marker == "site-packages/" else "warehouse_gql/" + tail
    return path.rsplit("/", 1)[-1]


def _sample(signum: int, frame: FrameType | None) -> None:
    names: list[str] = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_qualname} ({_where(code.co_filename)})")
        frame = frame.f_back
    _counts[";".join(reversed(names))] += 1


def _start(signum: int, frame: FrameType | None) -> None:
    _counts.clear()
    signal.signal(signal.SIGPROF, _sample)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL_S, INTERVAL_S)


def _dump(signum: int, frame: FrameType | None) -> None:
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    out = Path(os.environ["CPU_PROFILE_OUT"])
    partial = out.with_suffix(".partial")
    partial.write_text("".join(f"{stack} {n}\n" for stack, n in _counts.items()))
    partial.replace(out)


def read_folded(path: Path) -> dict[str, int]:
    folded: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            folded[stack] = folded.get(stack, 0) + int(count)
    return folded


def render(folded: dict[str, int], title: str, width: int = 1200) -> str:
    """A flame graph: the root at the bottom, each frame as wide as its share of the samples."""
    root: dict[str, object] = {"n": 0, "c": {}}
    for stack, count in folded.items():
        node = root
        node["n"] = int(node["n"]) + count  # type: ignore[call-overload]
        for frame in stack.split(";"):
            children: dict[str, dict[str, object]] = node["c"]  # type: ignore[assignment]
            node = children.setdefault(frame, {"n": 0, "c": {}})
            node["n"] = int(node["n"]) + count  # type: ignore[call-overload]
    total = int(root["n"]) or 1  # type: ignore[call-overload]
    row, pad, top = 16, 10, 44
    rects: list[tuple[float, int, float, str, int]] = []

    def walk(node: dict[str, object], x: float, depth: int) -> None:
        children: dict[str, dict[str, object]] = node["c"]  # type: ignore[assignment]
        for name, child in sorted(children.items()):
            n = int(child["n"])  # type: ignore[call-overload]
            w = n / total * (width - 2 * pad)
            if w >= 0.3:
                rects.append((x, depth, w, name, n))
                walk(child, x, depth + 1)
            x += w

    walk(root, pad, 0)
    depth = max((r[1] for r in rects), default=0)
    height = top + (depth + 1) * row + pad
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="monospace" font-size="11">',
        '<rect width="100%" height="100%" fill="#fdfdf6"/>',
        f'<text x="{pad}" y="18" font-size="14">{html.escape(title)}</text>',
        f'<text x="{pad}" y="34" fill="#555">{total} samples of the server\'s CPU time '
        "(ITIMER_PROF); width = share; hover a frame for its name and share</text>",
    ]
    for x, level, w, name, n in rects:
        y = height - pad - (level + 1) * row
        hue = zlib.crc32(name.rsplit(" (", 1)[-1].split("/")[0].encode())
        color = f"rgb({205 + hue % 50},{90 + (hue >> 8) % 110},{40 + (hue >> 16) % 60})"
        out.append(
            f"<g><title>{html.escape(name)} — {100 * n / total:.1f}%</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" fill="{color}"/>'
        )
        chars = int(w / 6.7)
        if chars >= 3:
            label = name if len(name) <= chars else name[: chars - 1] + "…"
            out.append(f'<text x="{x + 2:.1f}" y="{y + 11}">{html.escape(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def serve() -> None:
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _dump)
    from warehouse_gql.cli import main

    sys.argv = ["warehouse-gql", "serve"]
    main()


if __name__ == "__main__":
    serve()
