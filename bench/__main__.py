"""`make bench`: every benchmark in turn, each printing its table and writing bench/results/<name>.json.

python -m bench              # the full run (about ten minutes on a 2-core machine)
python -m bench --smoke      # tiny sizes, seconds: checks every benchmark still runs (part of make test)
python -m bench sweep cost   # some of them
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cold_start, cost, durable, item_size, lease_recovery, notify_sim, push_delay, scale_out, sweep
from bench.report import RESULTS_DIR


def benchmarks(out: Path, smoke: bool) -> dict[str, Callable[[], Any]]:
    """Name -> the call that runs it, full size or smoke size. Order matters: cost and durable read sweep and
    item_size."""
    return {
        "item_size": lambda: item_size.run(out),
        "cold_start": lambda: cold_start.run(1 if smoke else 15, out),
        "notify_sim": lambda: notify_sim.run(60 if smoke else 1000, notify_sim.default_sweeps(), 7, out),
        "sweep": lambda: sweep.run(
            40 if smoke else 5000,
            baseline_jobs=3 if smoke else 50,
            probe_requests=16 if smoke else 1000,
            variants=sweep.SMOKE_VARIANTS if smoke else None,
            http_clients=sweep.HTTP_CLIENTS[:2] if smoke else None,
            out_dir=out,
        ),
        "scale_out": lambda: scale_out.run(
            40 if smoke else 20000,
            [1, 2] if smoke else [1, 2, 4],
            ["standin"] if smoke else ["standin", "moto"],
            out,
            moto_jobs=None if smoke else scale_out.MOTO_JOBS,
        ),
        "lease_recovery": lambda: (
            lease_recovery.run(3, out, lease_s=3.0, renew_every_s=0.5, timeout_s=2.0, answer_delay_s=1.0)
            if smoke
            else lease_recovery.run(20, out)
        ),
        "cost": lambda: cost.run(out, out_dir=out),
        "durable": lambda: durable.run(30 if smoke else 1000, 7, out_dir=out, results=out),
        "push_delay": lambda: push_delay.run(12 if smoke else 400, 4.0 if smoke else 120.0, 7, out),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run videohook's benchmarks.")
    parser.add_argument("names", nargs="*", help="which (default: all)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: seconds, not minutes")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    runs = benchmarks(args.out, args.smoke)
    unknown = set(args.names) - set(runs)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(runs)}")
    for name, call in runs.items():
        if args.names and name not in args.names:
            continue
        started = time.monotonic()
        call()
        print(f"({name}: {time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
