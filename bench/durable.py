"""Benchmark 6: videohook against a Lambda durable function per job (and the rest), in one run, one table.

The alternative a SAM user picks today instead of videohook is a durable function per video job, written with
`aws-durable-execution-sdk-python`: `context.wait_for_condition` polls the gateway, the function is suspended
(no compute billed) between polls, and a final `context.step` publishes the event. This module runs exactly
that handler, **through the SDK's own local test runner** (`aws_durable_execution_sdk_python_testing`'s
`DurableFunctionTestRunner`, `skip_time=True`: its virtual clock jumps over every scheduled wait), one
execution per simulated job, on the same job timelines as bench/notify_sim.py (same duration models, same
seed). The wait strategy is the SDK's own `create_wait_strategy(WaitStrategyConfig(...))`:

- **default**: `WaitStrategyConfig`'s own defaults (aws_durable_execution_sdk_python/waits.py): first delay 5 s,
  x1.5 per attempt, capped at 300 s, FULL jitter (uniform 0..delay, rounded up, at least 1 s), 60 attempts;
- **tuned**: the same function with the settings that give the lowest p95 delay at no more upstream requests
  per job than videohook spends on the same jobs (a grid searched with the same strategy function, outside
  the runner, then run through the runner like the default).

Rows, all on the same jobs: the caller's 10 s loop, a Step Functions poller (Wait 10 s), the durable function
(default, tuned), videohook (the real decide(), the poller's run timing: bench/notify_sim.py). Columns: delay
from the upstream finishing to the caller knowing, upstream GETs per job, Lambda invocations and billed
operations per job, and dollars a month at 100k and 1M jobs from those counts and AWS's prices (PRICE here and
in bench/cost.py; sources and dates in docs/performance.md). Every number of the durable rows is counted from
what the runner did: its executions' attempts, invocations and checkpointed operations.

    python -m bench.durable            # 1,000 jobs over an hour, seed 7 (as bench/notify_sim.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from bench import cost
from bench.notify_sim import (
    PUBLISH_S,
    REQUEST_S,
    TRACK_LAG_S,
    SimJob,
    caller_loop,
    default_sweeps,
    make_jobs,
    percentile,
    videohook,
)
from bench.report import RESULTS_DIR, load_average, publish, table

# The durable function's own prices (us-east-1), on top of Lambda's requests and GB-s (bench/cost.py PRICE).
DURABLE_PRICE = {
    "operation": 8.00 / 1e6,  # durable operations: steps (each attempt), waits, callbacks
    "data_written_gb": 0.25,  # checkpointed payloads
    "data_retained_gb_month": 0.15,  # execution history, while running and for RetentionPeriodInDays after
}
RETENTION_DAYS = 14  # DurableConfig RetentionPeriodInDays, SAM's default
DURABLE_MEMORY_GB = 256 / 1024  # as videohook's poller
# An invocation of the durable handler: replay + one gateway GET (REQUEST_S) + a checkpoint; the SDK's own work is
# an estimate, not measured on Lambda.
DURABLE_INVOKE_S = REQUEST_S + 0.05
LOOP_MEMORY_GB = 128 / 1024  # the caller's loop, in a Lambda that sleeps between GETs
LOG_BYTES_PER_INVOKE = 300
SFN_WAIT_S = 10
DOCUMENTED_CPU_MS_PER_POLL = 3.19  # benchmark 1 (docs/performance.md), when bench/results/sweep.json has none
POLLER_MEMORY_MB = 256
LAMBDA_MB_PER_VCPU = 1769
POLLER_IN_FLIGHT = 64  # one provider's max_concurrency per worker
GATEWAY_ANSWER_S = 0.2  # benchmark 1's answer time: in flight / answer time bounds a worker's polls/s
PENDING = (100_000, 1_000_000)
VOLUMES = (100_000, 1_000_000)

# The tuned variant's grid: the SDK strategy's own knobs.
TUNE_INITIAL_S = (5, 10, 15, 20, 25, 30, 40)
TUNE_BACKOFF = (1.0, 1.1, 1.25, 1.5)
TUNE_MAX_S = (15, 20, 25, 30, 40, 60, 300)
TUNE_JITTER = ("NONE", "HALF", "FULL")


def _terminal(state: dict[str, Any]) -> bool:
    return state.get("status") in ("completed", "failed")


def strategy_config(**settings: Any) -> Any:
    """The SDK's WaitStrategyConfig polling until the video is terminal; `settings` override its defaults."""
    from aws_durable_execution_sdk_python.config import Duration, JitterStrategy
    from aws_durable_execution_sdk_python.waits import WaitStrategyConfig

    kwargs: dict[str, Any] = {}
    if "initial_delay_s" in settings:
        kwargs["initial_delay"] = Duration.from_seconds(settings["initial_delay_s"])
    if "max_delay_s" in settings:
        kwargs["max_delay"] = Duration.from_seconds(settings["max_delay_s"])
    if "backoff_rate" in settings:
        kwargs["backoff_rate"] = settings["backoff_rate"]
    if "jitter" in settings:
        kwargs["jitter_strategy"] = JitterStrategy(settings["jitter"])
    if "max_attempts" in settings:
        kwargs["max_attempts"] = settings["max_attempts"]
    return WaitStrategyConfig(should_continue_polling=lambda state: not _terminal(state), **kwargs)


def describe(config: Any) -> dict[str, Any]:
    """A WaitStrategyConfig's settings as plain values (what the SDK's defaults are, read from the object)."""
    return {
        "initial_delay_s": config.initial_delay_seconds,
        "backoff_rate": config.backoff_rate,
        "max_delay_s": config.max_delay_seconds,
        "jitter": str(config.jitter_strategy.value),
        "max_attempts": config.max_attempts,
    }


# -- the durable function, as a user writes it, run by the SDK's local runner ----------------------------------


@dataclass
class Execution:
    """One job's durable execution, as the runner ran it."""

    key: str
    started: float  # simulated time the execution starts (the job is registered)
    checks: list[float] = field(default_factory=list)  # simulated time of each check (an upstream GET)
    delays: list[int] = field(default_factory=list)  # each delay the SDK's strategy chose
    invocations: int = 0
    state_bytes: int = 0  # checkpointed state, summed over attempts
    published: float | None = None
    status: str = ""
    attempts: int = 0  # the wait_for_condition step's attempt count, from the runner's operations
    operations: int = 0  # checkpointed operations, from the runner
    runner_elapsed_s: float = 0.0  # the runner's own (virtual) clock: the polling step's start to end


class _Current:
    """What the handler needs of the job it runs (executions run one at a time, in order)."""

    job: SimJob
    execution: Execution


_CURRENT = _Current()


def _check(state: dict[str, Any], _context: Any) -> dict[str, Any]:
    """The user's check: GET the video. Simulated time = the start + the delays the SDK chose so far."""
    execution = _CURRENT.execution
    now = execution.started + sum(execution.delays)
    execution.checks.append(now)
    answer = _CURRENT.job.answer(now)
    new_state = {"id": answer["id"], "status": answer["status"], "progress": answer.get("progress", 0)}
    execution.state_bytes += len(json.dumps(new_state))
    return new_state


def make_handler(strategy: Callable[[Any, int], Any]) -> Callable[..., Any]:
    """The durable function: poll with wait_for_condition, then publish the event in a step."""
    from aws_durable_execution_sdk_python import DurableContext, durable_execution
    from aws_durable_execution_sdk_python.waits import WaitForConditionConfig

    def recording_strategy(state: Any, attempt: int) -> Any:
        decision = strategy(state, attempt)  # the SDK's own function decides; this only records the delay
        if decision.should_continue:
            _CURRENT.execution.delays.append(max(1, decision.delay_seconds))  # the executor's 1 s floor
        return decision

    def publish_event(_context: Any) -> str:
        execution = _CURRENT.execution
        execution.published = execution.checks[-1] + REQUEST_S + PUBLISH_S  # the GET's answer, then SNS
        return "published"

    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        _CURRENT.execution.invocations += 1
        video = context.wait_for_condition(
            _check,
            WaitForConditionConfig(wait_strategy=recording_strategy, initial_state={"id": event["video_id"]}),
            name="wait_for_video",
        )
        context.step(publish_event, name="publish_event")
        return video

    return handler


def run_durable(jobs: list[SimJob], config: Any, seed: int) -> list[Execution]:
    """Every job through the SDK's local runner, one execution after another (the jitter draws from `random`,
    seeded: the same run every time)."""
    from aws_durable_execution_sdk_python import state as sdk_state
    from aws_durable_execution_sdk_python.waits import create_wait_strategy
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

    # The SDK's checkpoint thread looks for its stop signal every 0.1 s of wall time, so each invocation ends up
    # to 0.1 s late in wall time (not in the runner's virtual time). 1 ms keeps 1,000 executions within a minute.
    sdk_state._STOP_SIGNAL_POLL_SECONDS = 0.001
    logging.getLogger("aws_durable_execution_sdk_python").setLevel(logging.CRITICAL)
    logging.getLogger("aws_durable_execution_sdk_python_testing").setLevel(logging.CRITICAL)
    random.seed(seed)
    handler = make_handler(create_wait_strategy(config))
    executions = []
    with DurableFunctionTestRunner(handler=handler, skip_time=True) as runner:
        for index, job in enumerate(sorted(jobs, key=lambda j: j.created)):
            execution = Execution(job.key, started=job.created + TRACK_LAG_S)
            _CURRENT.job, _CURRENT.execution = job, execution
            result = runner.run(
                input=json.dumps({"video_id": job.key}),
                execution_name=f"e{index}",
                execution_timeout=366 * 86400,
            )
            execution.status = result.status.name
            for operation in result.operations:
                attempts = max(1, int(getattr(operation, "attempt", 0) or 0))
                execution.operations += attempts
                if operation.name == "wait_for_video":
                    execution.attempts = attempts
                    if operation.start_timestamp and operation.end_timestamp:
                        span = operation.end_timestamp - operation.start_timestamp
                        execution.runner_elapsed_s = span.total_seconds()
            executions.append(execution)
    return executions


# -- the same strategy outside the runner: only to search the tuned variant's grid ---------------------------


def replay_strategy(job: SimJob, strategy: Callable[[Any, int], Any]) -> tuple[float | None, int]:
    """What wait_for_condition does with `strategy` (check at once, then after each delay it returns): (time the
    event is published or None, checks)."""
    now = job.created + TRACK_LAG_S
    attempt = 1
    while True:
        answer = job.answer(now)
        state = {"status": answer["status"]}
        try:
            decision = strategy(state, attempt)
        except Exception:  # WaitForConditionError: attempts exhausted
            return None, attempt
        if not decision.should_continue:
            return now + REQUEST_S + PUBLISH_S, attempt
        now += max(1, decision.delay_seconds)
        attempt += 1


def tune(jobs: list[SimJob], budget: float, seed: int) -> dict[str, Any]:
    """The grid point with the lowest p95 delay at no more than `budget` requests per job."""
    from aws_durable_execution_sdk_python.waits import create_wait_strategy

    best: dict[str, Any] | None = None
    for initial, backoff, cap, jitter in product(TUNE_INITIAL_S, TUNE_BACKOFF, TUNE_MAX_S, TUNE_JITTER):
        if cap < initial or (backoff == 1.0 and cap != TUNE_MAX_S[-1]):
            continue  # the cap never binds: the same strategy as another point
        settings = {"initial_delay_s": initial, "backoff_rate": backoff, "max_delay_s": cap, "jitter": jitter}
        random.seed(seed)
        strategy = create_wait_strategy(strategy_config(**settings))
        outcomes = [replay_strategy(job, strategy) for job in jobs]
        requests = statistics.fmean(checks for _, checks in outcomes)
        delays = [heard - job.finish for (heard, _), job in zip(outcomes, jobs, strict=True) if heard is not None]
        if requests > budget or len(delays) < len(jobs):
            continue
        p95 = percentile(delays, 95)
        if best is None or (p95, requests) < (best["p95_delay_s"], best["requests_per_job"]):
            best = {**settings, "p95_delay_s": p95, "requests_per_job": requests}
    if best is None:
        raise SystemExit(f"no strategy in the grid stays within {budget:.2f} requests per job")
    return best


# -- money ---------------------------------------------------------------------------------------------------


def durable_month(volume: int, per_job: dict[str, float]) -> dict[str, float]:
    price = cost.PRICE
    invocations = per_job["invocations"]
    gb_written = per_job["bytes_written"] / 1e9
    lines = {
        "durable operations": volume * per_job["operations"] * DURABLE_PRICE["operation"],
        "durable data written": volume * gb_written * DURABLE_PRICE["data_written_gb"],
        "durable data retained": volume * gb_written * DURABLE_PRICE["data_retained_gb_month"] * RETENTION_DAYS / 30,
        "Lambda requests": volume * invocations * price["lambda_request"],
        "Lambda GB-s": volume * invocations * DURABLE_INVOKE_S * DURABLE_MEMORY_GB * price["lambda_gb_s"],
        "SNS publishes": volume * price["sns_publish"],
        "Secrets Manager (2 secrets) *": cost.SECRETS * price["secret_month"],
        "CloudWatch Logs *": volume * invocations * LOG_BYTES_PER_INVOKE / 1e9 * price["logs_ingest_gb"],
    }
    return {**lines, "total": sum(lines.values())}


def loop_month(volume: int, per_job: dict[str, float]) -> dict[str, float]:
    """The 10 s loop in a Lambda (128 MB) that sleeps between GETs for the job's whole life."""
    price = cost.PRICE
    lines = {
        "Lambda requests": volume * price["lambda_request"],
        "Lambda GB-s (awake the whole job)": volume * per_job["life_s"] * LOOP_MEMORY_GB * price["lambda_gb_s"],
        "SNS publishes": volume * price["sns_publish"],
    }
    return {**lines, "total": sum(lines.values())}


def measured_inputs(results: Path) -> dict[str, Any]:
    """CPU per poll from bench/results/sweep.json (`cpu_ms_per_poll`) if there, else the documented 3.19 ms;
    write units and item size from item_size.json if there, else its documented figures."""
    measured: dict[str, Any] = {
        "cpu_ms_per_poll": DOCUMENTED_CPU_MS_PER_POLL,
        "cpu_ms_per_poll_source": "docs/performance.md, benchmark 1 (3.19 ms)",
        "wru_per_write": 1,
        "item_kb": statistics.fmean([310, 582, 301, 524]) / 1024,
        "due_shards": 16,
    }
    sweep_path = results / "sweep.json"
    if sweep_path.exists():
        sweep = json.loads(sweep_path.read_text())
        if isinstance(sweep.get("cpu_ms_per_poll"), int | float):
            measured["cpu_ms_per_poll"] = float(sweep["cpu_ms_per_poll"])
            measured["cpu_ms_per_poll_source"] = f"{sweep_path.name} cpu_ms_per_poll"
    items_path = results / "item_size.json"
    if items_path.exists():
        typical = [i for i in json.loads(items_path.read_text())["items"] if "prompt" not in i["job"]]
        measured["wru_per_write"] = max(i["table_wru"] for i in typical)
        measured["item_kb"] = statistics.fmean(i["bytes"] for i in typical) / 1024
    return measured


def capacity(cpu_ms_per_poll: float, poll_interval_s: float) -> dict[str, Any]:
    """One poller worker at 256 MB: polls per minute (CPU-bound, or bound by in-flight / answer time), and the
    workers N pending jobs need when each is polled every `poll_interval_s`."""
    vcpu = POLLER_MEMORY_MB / LAMBDA_MB_PER_VCPU
    cpu_bound = vcpu * 1000 / cpu_ms_per_poll
    per_s = min(cpu_bound, POLLER_IN_FLIGHT / GATEWAY_ANSWER_S)
    return {
        "memory_mb": POLLER_MEMORY_MB,
        "vcpu": round(vcpu, 3),
        "cpu_ms_per_poll": cpu_ms_per_poll,
        "polls_per_minute_per_worker": round(60 * per_s),
        "poll_interval_s": round(poll_interval_s, 1),
        "workers": {str(n): math.ceil(n / poll_interval_s / per_s) for n in PENDING},
    }


# -- the run ---------------------------------------------------------------------------------------------------


def _delays(pairs: list[tuple[float | None, SimJob]]) -> list[float]:
    return [heard - job.finish for heard, job in pairs if heard is not None]


def _row(label: str, delays: list[float], requests: list[float], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "policy": label,
        "jobs_heard": len(delays),
        "p50_delay_s": round(percentile(delays, 50), 2),
        "p95_delay_s": round(percentile(delays, 95), 2),
        "requests_per_job": round(statistics.fmean(requests), 2),
        **extra,
    }


def _durable_row(label: str, jobs: list[SimJob], executions: list[Execution], settings: dict[str, Any]) -> dict:
    by_key = {job.key: job for job in jobs}
    delays = _delays([(e.published, by_key[e.key]) for e in executions])
    per_job = {
        "invocations": statistics.fmean(e.invocations for e in executions),
        "operations": statistics.fmean(e.operations for e in executions),
        "bytes_written": statistics.fmean(e.state_bytes for e in executions),
    }
    return _row(
        label,
        delays,
        [e.attempts for e in executions],
        {
            "settings": settings,
            "invocations_per_job": round(per_job["invocations"], 2),
            "billed_ops_per_job": round(per_job["operations"], 2),
            "billed_ops": "durable operations (one per polling attempt, one for the publish step)",
            "checkpoint_bytes_per_job": round(per_job["bytes_written"]),
            "succeeded": sum(e.status == "SUCCEEDED" for e in executions),
            "attempts_equal_checks": all(e.attempts == len(e.checks) for e in executions),
            "invocations_equal_checks": all(e.invocations == len(e.checks) for e in executions),
            "max_clock_disagreement_s": round(max(abs(e.runner_elapsed_s - sum(e.delays)) for e in executions), 3),
            # never negative: the runner's clock moved at least by every delay the strategy chose (the rest is
            # the real time of the checks, which a loaded machine stretches: a figure, not a pass/fail bound)
            "min_clock_surplus_s": round(min(e.runner_elapsed_s - sum(e.delays) for e in executions), 3),
            "max_delay_chosen_s": max((max(e.delays) for e in executions if e.delays), default=0),
            "monthly_usd": {str(v): durable_month(v, per_job) for v in VOLUMES},
            "_per_job": per_job,
        },
    )


def run(
    jobs_count: int = 1000,
    seed: int = 7,
    out_dir: Path | None = None,
    results: Path = RESULTS_DIR,
) -> dict[str, Any]:
    started_load = load_average()
    wall = time.monotonic()
    jobs = make_jobs(jobs_count, ["veo", "sora"], seed, window_s=3600)
    by_key = {job.key: job for job in jobs}
    sweep_s = default_sweeps()[-1]
    rows: list[dict[str, Any]] = []

    # the caller's 10 s loop
    loop = [caller_loop(job) for job in jobs]
    life = statistics.fmean(job.finish - job.created for job in jobs)
    loop_per_job = {"life_s": life + statistics.fmean(d for d, _ in loop)}
    rows.append(
        _row(
            "caller: GET every 10 s (in a Lambda)",
            [d for d, _ in loop],
            [r for _, r in loop],
            {
                "invocations_per_job": 1.0,
                "billed_ops_per_job": 0.0,
                "billed_ops": "none (Lambda GB-s for the job's life)",
                "monthly_usd": {str(v): loop_month(v, loop_per_job) for v in VOLUMES},
            },
        )
    )

    # Step Functions poller (AWS's sample: Submit, Wait, Get Status, Choice): started when the job is registered
    sfn: list[tuple[float, int]] = []
    for job in jobs:
        start = job.created + TRACK_LAG_S
        polls = max(1, math.ceil((job.finish - start) / SFN_WAIT_S))
        sfn.append((start + polls * SFN_WAIT_S + REQUEST_S + PUBLISH_S - job.finish, polls))
    sfn_polls = statistics.fmean(p for _, p in sfn)
    rows.append(
        _row(
            f"Step Functions poller, Wait {SFN_WAIT_S} s",
            [d for d, _ in sfn],
            [p for _, p in sfn],
            {
                "invocations_per_job": round(sfn_polls, 2),
                "billed_ops_per_job": round(3 * sfn_polls + 3, 2),
                "billed_ops": "state transitions (3 per poll + 3)",
                "monthly_usd": {str(v): cost.step_functions_month(v, sfn_polls) for v in VOLUMES},
            },
        )
    )

    # videohook on the same jobs: its budget of upstream requests is the tuned durable function's
    ours = videohook(jobs, sweep_s=sweep_s, base_s=10, seed=seed)
    budget = statistics.fmean(ours.requests.values())
    measured = measured_inputs(results)
    monthly = {}
    per_volume = {}
    for v in VOLUMES:
        lines = cost.videohook_month(v, cost.simulate(v, sweep_s, seed), measured)
        monthly[str(v)] = lines
        per_volume[str(v)] = {
            "invocations_per_job": (cost.RUNS_PER_MONTH + v) / v,
            "wru_per_job": lines["_wru_per_job"],
            "rru_per_job": lines["_rru_per_job"],
        }

    # the durable function: the SDK's defaults, then the tuned settings, both through the runner
    default_config = strategy_config()
    default_settings = describe(default_config)
    default_runs = run_durable(jobs, default_config, seed)
    best = tune(jobs, budget, seed)
    tuned_settings = {k: best[k] for k in ("initial_delay_s", "backoff_rate", "max_delay_s", "jitter")}
    tuned_config = strategy_config(**tuned_settings)
    tuned_runs = run_durable(jobs, tuned_config, seed)
    rows.append(_durable_row("durable function, SDK defaults", jobs, default_runs, default_settings))
    rows.append(
        _durable_row("durable function, tuned to videohook's requests", jobs, tuned_runs, describe(tuned_config))
    )

    big = str(VOLUMES[-1])
    rows.append(
        _row(
            f"videohook (sweeps {sweep_s:g} s, the default)",
            _delays([(ours.delays[k] + by_key[k].finish, by_key[k]) for k in ours.delays]),
            list(ours.requests.values()),
            {
                "invocations_per_job": round(per_volume[big]["invocations_per_job"], 3),
                "billed_ops_per_job": round(per_volume[big]["wru_per_job"] + per_volume[big]["rru_per_job"] + 1, 1),
                "billed_ops": "DynamoDB request units (write + read) + 1 SNS publish, at 1M jobs",
                "per_volume": per_volume,
                "monthly_usd": monthly,
            },
        )
    )
    interval = life / budget  # a pending job is polled about this often
    result = {
        "simulation": True,
        "jobs": jobs_count,
        "seed": seed,
        "runner": "aws_durable_execution_sdk_python_testing.DurableFunctionTestRunner(skip_time=True)",
        "sdk_default_strategy": default_settings,
        "tuned_grid_best": best,
        "request_budget": round(budget, 2),
        "measured": measured,
        "capacity": capacity(measured["cpu_ms_per_poll"], interval),
        "prices": {**cost.PRICE, **{f"durable_{k}": p for k, p in DURABLE_PRICE.items()}},
        "rows": [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows],
        "wall_s": round(time.monotonic() - wall, 1),
    }
    publish(
        "durable",
        result,
        render(result),
        reproduce="python -m bench.durable",
        out_dir=out_dir,
        started_load=started_load,
    )
    return result


def render(result: dict[str, Any]) -> str:
    headers = [
        "policy",
        "p50 delay s",
        "p95 delay s",
        "upstream req/job",
        "invocations/job",
        "billed ops/job",
        *(f"$/month {v // 1000}k" if v < 1_000_000 else f"$/month {v // 1_000_000}M" for v in VOLUMES),
    ]
    body = [
        [
            row["policy"],
            row["p50_delay_s"],
            row["p95_delay_s"],
            row["requests_per_job"],
            row["invocations_per_job"],
            row["billed_ops_per_job"],
            *(f"${row['monthly_usd'][str(v)]['total']:,.2f}" for v in VOLUMES),
        ]
        for row in result["rows"]
    ]
    text = table(headers, body)
    text += "\n\nbilled ops: " + "; ".join(f"{row['policy']}: {row['billed_ops']}" for row in result["rows"])
    d = result["sdk_default_strategy"]
    text += (
        f"\nSDK default wait strategy (WaitStrategyConfig): first delay {d['initial_delay_s']} s, x{d['backoff_rate']},"
        f" cap {d['max_delay_s']} s, jitter {d['jitter']}, {d['max_attempts']} attempts"
    )
    t = result["tuned_grid_best"]
    text += (
        f"\ntuned: first delay {t['initial_delay_s']} s, x{t['backoff_rate']}, cap {t['max_delay_s']} s, jitter"
        f" {t['jitter']} (lowest p95 at <= {result['request_budget']} requests/job, videohook's)"
    )
    c = result["capacity"]
    workers = ", ".join(f"{int(n):,} pending: {w}" for n, w in c["workers"].items())
    text += (
        f"\nvideohook capacity at {c['memory_mb']} MB ({c['vcpu']} vCPU), {c['cpu_ms_per_poll']} ms CPU/poll"
        f" ({result['measured']['cpu_ms_per_poll_source']}): {c['polls_per_minute_per_worker']:,} polls/min per"
        f" worker; a pending job polled every ~{c['poll_interval_s']} s -> workers for {workers}"
    )
    text += (
        "\nSIMULATION: the durable rows ran through the SDK's local test runner (virtual time); the other rows are"
        " bench/notify_sim.py's models on the same jobs. Prices: bench/cost.py and DURABLE_PRICE (docs/performance.md)."
    )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where sweep.json / item_size.json are")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    run(args.jobs, args.seed, args.out, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
