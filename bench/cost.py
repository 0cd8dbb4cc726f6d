"""Benchmark 5: cost per month at 100,000 and 1,000,000 jobs, from measured and simulated counts.

Counts, and where each comes from:
- upstream polls per job, poller run seconds, sweeps per run: bench/notify_sim.py's simulation (the real
  decide()/next_poll_delay() and the poller's sweep timing) of one hour at each monthly rate, Veo + sora-2;
- CPU per poll (to check one run keeps up): bench/sweep.py, measured (`sweep.json`);
- item sizes (write units per write): bench/item_size.py, measured (`item_size.json`);
- DynamoDB writes per job follow from the code: the API's PutItem when tracked (table + index insert), one
  conditional PutItem per poll (table + the index twice: `due_at` moves, delete + put), one UpdateItem when
  SNS has the event (table + index delete); per sweep, a lease claimed and released on each shard with due
  jobs. Reads: the due query returns each polled item once (eventually consistent, 4 KB per half unit), every
  sweep asks each shard twice (the keys-only probe and the next-due peek: at least half a unit each), reads
  its leased shards once and the providers' pause items, and every run reads the whole index for the backlog metric;
- SNS: one publish per job (an event is ~1-2 KB, under the 64 KB billing chunk).

Prices: AWS's published on-demand prices, us-east-1, as gathered in /work/shared/research/aws-limits-and-costs.md
(Lambda arm64 GB-s and requests, DynamoDB WRU/RRU, SNS publishes, Step Functions transitions). Storage,
PITR, HTTP API, Secrets Manager and CloudWatch Logs prices are AWS list prices not in that note (marked *).

Step Functions job poller (AWS's sample pattern, Standard workflow): Submit -> Wait -> Get Status -> Choice
-> back to Wait, then Get Final Status: 3 transitions per poll plus 3; its Get Status is a Lambda call
(128 MB, ~100 ms). Waiting 10 s gives the caller's delay (p50 ~5 s); 30 s gives p50 ~15 s.

    python -m bench.cost --results bench/results
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

from bench.notify_sim import caller_loop, make_jobs, percentile, videohook
from bench.report import RESULTS_DIR, publish, table

MONTH_S = 30 * 86400
RUNS_PER_MONTH = MONTH_S / 60  # rate(1 minute)
POLLER_MEMORY_GB = 256 / 1024
VCPU_PER_GB = 1 / (1769 / 1024)  # Lambda: 1,769 MB = 1 vCPU

PRICE = {
    "lambda_gb_s": 0.0000133334,  # arm64
    "lambda_request": 0.20 / 1e6,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "sns_publish": 0.50 / 1e6,
    "sfn_transition": 0.025 / 1000,
    "dynamodb_storage_gb_month": 0.25,  # *
    "dynamodb_pitr_gb_month": 0.20,  # *
    "http_api_request": 1.00 / 1e6,  # *
    "secret_month": 0.40,  # *
    "secrets_api_call": 0.05 / 10000,  # *
    "logs_ingest_gb": 0.50,  # *
}
API_LAMBDA_GB_S = 0.25 * 0.05  # ApiFunction, 256 MB, ~50 ms billed per POST (estimate, not measured)
SFN_LAMBDA_GB_S = 0.125 * 0.1  # Step Functions' Get Status task: 128 MB, ~100 ms (estimate)
ITEM_KB_RETAINED = 0.7  # an item plus overhead, kept JOB_RETENTION_DAYS (30) after it ends
LOG_BYTES_PER_RUN = 1500
LOG_BYTES_PER_JOB = 600
SECRETS = 2
PROVIDERS = 2
SECRET_CALLS_PER_MONTH = SECRETS * MONTH_S / 300  # Powertools caches each token 5 minutes


def load(results: Path, name: str) -> dict[str, Any]:
    path = results / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `python -m bench.{name}` (or `make bench`) first")
    return json.loads(path.read_text())


def simulate(volume: int, sweep_s: float, seed: int) -> dict[str, float]:
    """One simulated hour at `volume` jobs a month: polls per job, poller seconds and sweeps per run."""
    jobs = make_jobs(max(1, round(volume / 720)), ["veo", "sora"], seed, window_s=3600)
    outcome = videohook(jobs, sweep_s=sweep_s, base_s=10, seed=seed)
    steady = [i for i, start in enumerate(outcome.run_starts) if 600 <= start < 3600]
    caller = [caller_loop(job) for job in jobs]
    delays = list(outcome.delays.values())
    return {
        "jobs": len(jobs),
        "polls_per_job": statistics.fmean(outcome.requests.values()),
        "run_s": statistics.fmean(outcome.run_seconds[i] for i in steady) + 0.3,  # + queries, start
        "sweeps_per_run": statistics.fmean(outcome.run_sweeps[i] for i in steady),
        "p50_delay_s": percentile(delays, 50),
        "p95_delay_s": percentile(delays, 95),
        "caller_polls_per_job": statistics.fmean(r for _, r in caller),
        # from tracking to the event: how long a job stays pending
        "life_s": statistics.fmean(job.finish - job.created for job in jobs) + statistics.fmean(delays),
    }


def videohook_month(volume: int, sim: dict[str, float], measured: dict[str, Any]) -> dict[str, float]:
    polls = sim["polls_per_job"] * volume
    wru_per_write = measured["wru_per_write"]
    shards = measured["due_shards"]
    # write units: track (table + index insert), polls (table + index delete & put), clear (table + index delete)
    wru = volume * (2 * wru_per_write) + polls * 3 * wru_per_write + volume * 2 * wru_per_write
    # every sweep: the keys-only probe and the next-due peek ask each shard (at least half a unit each); the
    # shards with due jobs are leased (claim + release: a write each) and read once under the lease; the
    # providers' pause items are read (strongly consistent)
    sweeps = RUNS_PER_MONTH * sim["sweeps_per_run"]
    due_per_sweep = polls / sweeps
    shards_hit = shards * (1 - (1 - 1 / shards) ** due_per_sweep)
    wru += sweeps * 2 * shards_hit
    sweep_rru = sweeps * (shards * 0.5 * 2 + shards_hit * 0.5 + PROVIDERS)
    # the backlog metric reads every pending item once a run (at least half a unit per shard)
    pending = volume / MONTH_S * sim["life_s"]
    backlog = RUNS_PER_MONTH * max(shards * 0.5, pending * 0.5 * measured["item_kb"] / 4)
    rru = polls * 0.5 * measured["item_kb"] / 4 + sweep_rru + backlog
    cpu_s = polls * measured["cpu_ms_per_poll"] / 1000
    # a run lasts as long as its sweeps, or as its CPU needs at its memory's share of a vCPU, if longer
    cpu_bound_run_s = cpu_s / RUNS_PER_MONTH / (POLLER_MEMORY_GB * VCPU_PER_GB)
    poller_gb_s = RUNS_PER_MONTH * max(sim["run_s"], cpu_bound_run_s) * POLLER_MEMORY_GB
    logs_gb = (RUNS_PER_MONTH * LOG_BYTES_PER_RUN + volume * LOG_BYTES_PER_JOB) / 1e9
    stored_gb = volume * ITEM_KB_RETAINED / 1e6
    lines = {
        "Lambda: poller GB-s": poller_gb_s * PRICE["lambda_gb_s"],
        "Lambda: requests (poller + API)": (RUNS_PER_MONTH + volume) * PRICE["lambda_request"],
        "Lambda: API GB-s (estimate)": volume * API_LAMBDA_GB_S * PRICE["lambda_gb_s"],
        "HTTP API: one POST per job *": volume * PRICE["http_api_request"],
        "DynamoDB: write units": wru * PRICE["dynamodb_wru"],
        "DynamoDB: read units": rru * PRICE["dynamodb_rru"],
        "DynamoDB: storage + PITR *": stored_gb
        * (PRICE["dynamodb_storage_gb_month"] + PRICE["dynamodb_pitr_gb_month"]),
        "SNS: one publish per job": volume * PRICE["sns_publish"],
        "Secrets Manager: 2 secrets *": SECRETS * PRICE["secret_month"]
        + SECRET_CALLS_PER_MONTH * PRICE["secrets_api_call"],
        "CloudWatch Logs *": logs_gb * PRICE["logs_ingest_gb"],
    }
    return {
        **lines,
        "total": sum(lines.values()),
        "_wru_per_job": wru / volume,
        "_rru_per_job": rru / volume,
        "_poller_gb_s": poller_gb_s,
        "_cpu_share_of_run": cpu_s / (poller_gb_s * VCPU_PER_GB),
    }


def step_functions_month(volume: int, polls_per_job: float) -> dict[str, float]:
    transitions = volume * (3 * polls_per_job + 3)
    lines = {
        "Step Functions: transitions": transitions * PRICE["sfn_transition"],
        "Lambda: Get Status calls": volume
        * polls_per_job
        * (PRICE["lambda_request"] + SFN_LAMBDA_GB_S * PRICE["lambda_gb_s"]),
        "SNS: one publish per job": volume * PRICE["sns_publish"],
    }
    return {**lines, "total": sum(lines.values()), "_transitions_per_job": 3 * polls_per_job + 3}


def run(
    results: Path, volumes: tuple[int, ...] = (100_000, 1_000_000), seed: int = 7, out_dir: Path | None = None
) -> dict[str, Any]:
    sweep = load(results, "sweep")
    items = load(results, "item_size")
    own = [s for s in sweep["sweeps"] if s["transport"] == "aiohttp"]
    standin = [s for s in own if s["store"] != "moto"] or own
    typical = [i for i in items["items"] if "prompt" not in i["job"]]
    measured = {
        "cpu_ms_per_poll": standin[0]["poller_cpu_ms_per_poll"],
        "wru_per_write": max(i["table_wru"] for i in typical),
        "item_kb": statistics.fmean(i["bytes"] for i in typical) / 1024,
        "due_shards": 16,
    }
    from videohook.config import Settings

    default_sweep = Settings(jobs_table="", events_topic_arn="", providers={}).sweep_s
    scenarios: dict[str, dict[int, dict[str, Any]]] = {}
    sims: dict[str, dict[int, dict[str, float]]] = {}
    for label, sweep_s in (
        (f"videohook (sweeps {default_sweep:g} s)", default_sweep),
        ("videohook (one sweep per run)", 0.0),
    ):
        sims[label] = {v: simulate(v, sweep_s, seed) for v in volumes}
        scenarios[label] = {v: videohook_month(v, sims[label][v], measured) for v in volumes}
    reference = next(iter(sims.values()))
    for wait in (10, 30):
        label = f"Step Functions poller (wait {wait} s)"
        sims[label] = {}
        scenarios[label] = {}
        for v in volumes:
            jobs = make_jobs(max(1, round(v / 720)), ["veo", "sora"], seed, window_s=3600)
            polls = statistics.fmean(math.ceil((job.finish - job.created) / wait) for job in jobs)
            delays = [wait * math.ceil((job.finish - job.created) / wait) - (job.finish - job.created) for job in jobs]
            sims[label][v] = {
                "polls_per_job": polls,
                "p50_delay_s": percentile(delays, 50),
                "p95_delay_s": percentile(delays, 95),
            }
            scenarios[label][v] = step_functions_month(v, polls)
    text = render(scenarios, sims, volumes)
    result = {
        "measured": measured,
        "prices": PRICE,
        "simulated": {label: {str(v): s for v, s in by.items()} for label, by in sims.items()},
        "monthly_usd": {label: {str(v): lines for v, lines in by.items()} for label, by in scenarios.items()},
        "reference_polls_per_job": {str(v): reference[v]["polls_per_job"] for v in volumes},
    }
    publish("cost", result, text, reproduce="python -m bench.cost", out_dir=out_dir)
    return result


def render(
    scenarios: dict[str, dict[int, dict[str, Any]]],
    sims: dict[str, dict[int, dict[str, float]]],
    volumes: tuple[int, ...],
) -> str:
    summary = []
    for label, by in scenarios.items():
        row: list[Any] = [label]
        for v in volumes:
            row += [
                f"${by[v]['total']:,.2f}",
                f"{sims[label][v]['polls_per_job']:.1f}",
                f"{sims[label][v]['p50_delay_s']:.1f} / {sims[label][v]['p95_delay_s']:.1f}",
            ]
        summary.append(row)
    headers = ["per month"]
    for v in volumes:
        name = f"{v // 1000}k" if v < 1_000_000 else f"{v // 1_000_000}M"
        headers += [f"{name} jobs", f"polls/job ({name})", f"delay p50/p95 s ({name})"]
    text = table(headers, summary)
    first = next(iter(scenarios))
    lines = [key for key in scenarios[first][volumes[0]] if not key.startswith("_") and key != "total"]
    detail = [[line, *(f"${scenarios[first][v][line]:,.3f}" for v in volumes)] for line in lines]
    detail.append(["total", *(f"${scenarios[first][v]['total']:,.2f}" for v in volumes)])
    text += f"\n\n{first}, by line:\n\n" + table(["line", *(f"{v:,} jobs" for v in volumes)], detail)
    per_job = [
        [
            f"{v:,}",
            f"{scenarios[first][v]['_wru_per_job']:.1f}",
            f"{scenarios[first][v]['_rru_per_job']:.2f}",
            f"{scenarios[first][v]['_poller_gb_s']:,.0f}",
            f"{100 * scenarios[first][v]['_cpu_share_of_run']:.1f} %",
        ]
        for v in volumes
    ]
    text += "\n\n" + table(
        ["jobs/month", "WRU/job", "RRU/job", "poller GB-s/month", "CPU busy share of the run"], per_job
    )
    text += "\n\n* AWS list prices not in the research note. Simulated counts: bench/notify_sim.py."
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Monthly cost from measured counts and AWS prices.")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    run(args.results, out_dir=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
