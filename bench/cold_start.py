"""Benchmark 2: cold start per function, from process start to a handler ready to run, minus a bare interpreter.

Each sample is a fresh interpreter that sees what a Lambda sandbox would: the function's code directory,
the CommonLayer directory, and of the installed packages only those the Lambda runtime (boto3 and its
dependencies) and the layers (Powertools; layers/common/requirements.txt) bring, with their dependencies.
Anything else installed in this virtualenv (rich, click, awscrt... pulled in by dev tools) is hidden by an
import hook, because it changes what gets imported (httpx imports its CLI when `rich` is importable;
s3transfer imports `awscrt` when present) and would not be there in Lambda.

Reported per function (median of `--samples` runs, warm .pyc files and OS page cache, as Lambda's
snapshot of an unzipped layer is not; Python here is the machine's, Lambda's is 3.13):
- init: `import app` (Lambda's INIT phase: module-level code, the handler ready to run);
- wiring: what the first invoke adds before doing work (settings, boto3 clients, the use case);
- first-run imports: modules imported lazily on the first run (aiohttp, the poller's HTTP client).

    python -m bench.cold_start --samples 15
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import Marker

from bench.report import load_average, publish, table

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "common"
# What a function's sandbox has besides the stdlib: the runtime's boto3 and the layers' packages.
RUNTIME_DISTRIBUTIONS = ["boto3"]
POWERTOOLS_LAYER = ["aws-lambda-powertools"]
TARGET_MS = 250.0

FUNCTIONS: dict[str, dict[str, Any]] = {
    "PollerFunction": {"code": "functions/poller", "wiring": "runtime.poller()", "lazy": ["aiohttp"]},
    "PollerWorkerFunction": {
        "code": "functions/poller_worker",
        "wiring": "runtime.poller()",
        "lazy": ["aiohttp"],
    },
    "ApiFunction": {"code": "functions/api", "wiring": "runtime.tracking()", "lazy": []},
}

_CHILD = r"""
import sys, time
started = time.monotonic()
def cpu():
    return time.process_time()
cpu_marks = {{"bare": cpu()}}
for hidden in {hidden!r}:
    sys.modules[hidden] = None  # not in the Lambda sandbox: importing it fails, find_spec() says absent
sys.path[:0] = [{code!r}, {layer!r}]
marks = {{"bare": started}}
if {stage} >= 1:
    import app
    marks["init"] = time.monotonic()
    cpu_marks["init"] = cpu()
if {stage} >= 2:
    from videohook import runtime
    {wiring}
    marks["wiring"] = time.monotonic()
    cpu_marks["wiring"] = cpu()
if {stage} >= 3:
    for name in {lazy!r}:
        __import__(name)
    marks["lazy"] = time.monotonic()
    cpu_marks["lazy"] = cpu()
print(__import__("json").dumps({{"wall": marks, "cpu": cpu_marks}}))
"""


def hidden_modules() -> list[str]:
    """Top-level modules installed here that a Lambda sandbox would not have."""
    allowed = allowed_modules()
    installed = set(metadata.packages_distributions())
    # the layer's own package may also be installed (an editable install of this project): never hide it
    local = {path.name.removesuffix(".py") for path in LAYER.iterdir()} | {"app"}
    return sorted(name for name in installed - allowed - local if name not in sys.stdlib_module_names)


def allowed_modules() -> set[str]:
    """Top-level import names of the runtime's and layers' distributions and their dependencies."""
    requirements = [
        line.split("==")[0].strip()
        for line in (LAYER / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    seen: set[str] = set()
    for name in [*RUNTIME_DISTRIBUTIONS, *POWERTOOLS_LAYER, *requirements]:
        _collect(name, seen)
    by_distribution: dict[str, set[str]] = {}
    for module, distributions in metadata.packages_distributions().items():
        for distribution in distributions:
            by_distribution.setdefault(_key(distribution), set()).add(module)
    return {module for distribution in seen for module in by_distribution.get(distribution, set())}


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _collect(name: str, seen: set[str]) -> None:
    key = _key(name)
    if key in seen:
        return
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return
    seen.add(key)
    for requirement in distribution.requires or []:
        spec, _, marker = requirement.partition(";")
        if marker and not Marker(marker).evaluate({"python_version": "3.13", "extra": ""}):
            continue
        match = re.match(r"[A-Za-z0-9_.\-]+", spec.strip())
        if match:
            _collect(match.group(0), seen)


def environment() -> dict[str, str]:
    """Enough configuration to build the use cases; boto3 clients are made but never called."""
    providers = {"hingnet": {"base_url": "https://gw.example", "api_key_secret": "videohook/hingnet"}}
    return {
        "PATH": os.environ.get("PATH", ""),
        "POWERTOOLS_SERVICE_NAME": "videohook",
        "POWERTOOLS_METRICS_NAMESPACE": "videohook",
        "JOBS_TABLE": "JobsTable",
        "EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:EventsTopic",
        "PROVIDERS": json.dumps(providers),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "",
    }


def sample(function: str, hidden: list[str], stage: int) -> dict[str, float]:
    spec = FUNCTIONS[function]
    code = _CHILD.format(
        hidden=hidden,
        code=str(ROOT / spec["code"]),
        layer=str(LAYER),
        stage=stage,
        wiring=spec["wiring"],
        lazy=spec["lazy"],
    )
    begun = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment(), capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"{function}: {done.stderr.strip().splitlines()[-1:]}")
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    wall = {name: (value - begun) * 1000 for name, value in marks["wall"].items()}
    return {**wall, **{f"cpu_{name}": value * 1000 for name, value in marks["cpu"].items()}}


def measure(function: str, hidden: list[str], samples: int) -> dict[str, Any]:
    sample(function, hidden, 3)  # warm the .pyc files and the page cache
    runs = [sample(function, hidden, 3) for _ in range(samples)]
    bare = statistics.median(run["bare"] for run in runs)
    init = statistics.median(run["init"] - run["bare"] for run in runs)
    wiring = statistics.median(run["wiring"] - run["init"] for run in runs)
    lazy = statistics.median(run["lazy"] - run["wiring"] for run in runs)
    cpu = {
        stage: statistics.median(run[f"cpu_{stage}"] - run[f"cpu_{before}"] for run in runs)
        for stage, before in (("init", "bare"), ("wiring", "init"), ("lazy", "wiring"))
    }
    return {
        "function": function,
        "samples": samples,
        "cpu_init_ms": round(cpu["init"], 1),
        "cpu_wiring_ms": round(cpu["wiring"], 1),
        "cpu_first_run_imports_ms": round(cpu["lazy"], 1),
        "bare_interpreter_ms": round(bare, 1),
        "init_ms": round(init, 1),
        "wiring_ms": round(wiring, 1),
        "first_run_imports_ms": round(lazy, 1),
        "ready_ms": round(init + wiring + lazy, 1),
        "init_p90_ms": round(_p90([run["init"] - run["bare"] for run in runs]), 1),
    }


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def run(samples: int, out_dir: Path | None = None) -> dict[str, Any]:
    started_load = load_average()
    hidden = hidden_modules()
    results = [measure(function, hidden, samples) for function in FUNCTIONS]
    rows = [
        [
            r["function"],
            r["init_ms"],
            r["init_p90_ms"],
            r["wiring_ms"],
            r["first_run_imports_ms"],
            r["ready_ms"],
            "met" if r["init_ms"] <= TARGET_MS else "not met",
            "met" if r["ready_ms"] <= TARGET_MS else "not met",
        ]
        for r in results
    ]
    headers = ["function", "INIT ms", "INIT p90", "+ clients, settings", "+ 1st-run imports", "to first work"]
    text = table([*headers, f"INIT <= {TARGET_MS:g}", f"first work <= {TARGET_MS:g}"], rows)
    text += (
        "\n\nms after a bare interpreter is up (median of the samples). INIT = `import app` (Lambda's Init"
        " Duration), seeing only the packages of the Lambda runtime and the layers; then what the first"
        " invoke adds before its work: settings, boto3 (imported with the first client), the clients,"
        " and modules imported on the first run (aiohttp, the poller's HTTP client)."
    )
    result = {"target_ms": TARGET_MS, "python": sys.version.split()[0], "functions": results}
    reproduce = f"python -m bench.cold_start --samples {samples}"
    publish("cold_start", result, text, reproduce=reproduce, out_dir=out_dir, started_load=started_load)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cold start per function.")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    run(args.samples, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
