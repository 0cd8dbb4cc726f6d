"""What every benchmark prints and writes: the machine, a table, the JSON result, how to reproduce."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def load_average() -> float:
    """The 1-minute load average: other work on the machine skews every figure, so each result records it."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {
        "load_average_1m": load_average(),
        "nproc": os.cpu_count(),
        "cpu_model": model or platform.machine(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable in a terminal)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def publish(
    name: str,
    result: dict[str, Any],
    text: str,
    *,
    reproduce: str,
    out_dir: Path | None = None,
    started_load: float | None = None,
) -> Path:
    """Print the table with the machine and the command, and write the JSON result; return its path."""
    info = machine()
    if started_load is not None:
        info["load_average_1m_at_start"] = started_load
    result = {"benchmark": name, "machine": info, "reproduce": reproduce, "at": int(time.time()), **result}
    directory = out_dir or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"\n## {name}\n")
    load = f"load average {started_load} at start, {info['load_average_1m']} at end" if started_load is not None else ""
    print(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, Python {info['python']}; {load}".rstrip("; "))
    print(f"reproduce: {reproduce}\n")
    print(text)
    print(f"\n(result: {path})", flush=True)
    sys.stdout.flush()
    return path
