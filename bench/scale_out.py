"""Benchmark 4: scale-out. One scheduled run over 20,000 due jobs with 1, 2 and 4 workers.

The scheduled PollerFunction is invoked from template.yaml (devtools.local_invoke, a fresh interpreter,
its 62 s Timeout enforced); with POLLER_WORKERS = N > 1 it starts N PollerWorkerFunction invocations
through Lambda's Invoke API, served on loopback by devtools.local_lambda, which runs each worker from the
template in its own process: N worker processes, each sweeping only its shards, at the same time. A
worker's run ends by its timeout like a Lambda's, so "polled in one run" is what one minute gets done.

The gateway is `bench.upstream` (200 ms answers) with the providers' default concurrency (16 per provider
per worker, two providers). DynamoDB is moto, or the stand-in (`bench.dynamo_standin`, 5 ms latency, next to
no CPU): moto needs ~1.5 ms of CPU per item a due query returns and ~3 ms per write, in one process, so
20,000 polls need ~90 s of moto's CPU whatever the number of workers, and the due queries alone, asked by
every worker at once, answer after boto3's 10 s read timeout: the moto cycles run 4,000 jobs (what moto
serves within it here), the stand-in cycles 20,000 and show the workers' own scaling. DUE_SHARDS is 128
(the setting docs/performance.md gives from ~100k pending jobs): small answers per shard query.

All of it shares this machine's cores: N worker processes do not get N CPUs here as they would in Lambda.

    python -m bench.scale_out --jobs 20000 --moto-jobs 4000 --workers 1,2,4 --stores standin,moto
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path
from typing import Any

from bench.report import load_average, publish, table
from bench.services import Service, start, start_gateway, start_moto
from bench.sweep import _gateway_stats, seed

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SCHEDULE_EVENT = json.loads((ROOT / "events" / "poller-schedule.json").read_text())
TOKENS = {"hingnet": "tok-bench-hingnet", "skyengine": "tok-bench-skyengine"}
DUE_SHARDS = 128
LIMIT_PER_WORKER = 2 * 16 / 0.2  # two providers x default max_concurrency 16 / 200 ms
# moto answers a due query at ~1.5 ms of CPU per item, in one process: the due queries of 20,000 jobs take it
# ~30 s, and asked all at once (every worker queries its shards in parallel) each answer comes after boto3's
# 10 s read timeout. The moto cycles use what moto can serve within it; the stand-in cycles use 20,000.
MOTO_JOBS = 4000


def deploy(moto: Service, gateway: Service) -> Any:
    from devtools.local_aws import deploy_local

    return deploy_local(
        moto.url,
        providers={name: (f"{gateway.url}/{name}", token) for name, token in TOKENS.items()},
        template_path=TEMPLATE,
        suffix="-" + uuid.uuid4().hex[:8],
    )


def seed_both_providers(stack: Any, jobs: int, dynamodb_url: str) -> None:
    for index, provider in enumerate(TOKENS):
        count = jobs // 2 + (jobs % 2 if index == 0 else 0)
        seed(stack, count, due_shards=DUE_SHARDS, dynamodb_url=dynamodb_url, provider=provider)


def one_cycle(
    moto: Service, gateway: Service, standin: Service | None, store: str, jobs: int, workers: int
) -> dict[str, Any]:
    from devtools.local_invoke import invoke
    from devtools.local_lambda import LocalLambda

    stack = deploy(moto, gateway)
    dynamodb_url = standin.url if store == "standin" and standin is not None else moto.url
    seed_both_providers(stack, jobs, dynamodb_url)
    overrides = stack.env_overrides()
    # Polled once per run: the next poll is 10 min away, so the count is what one minute gets done.
    overrides["Parameters"].update({"POLL_INTERVAL_SECONDS": "600", "DUE_SHARDS": str(DUE_SHARDS)})
    aws = stack.aws_env()
    if store == "standin":
        aws["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_url
    _gateway_stats(gateway, reset=True)
    with LocalLambda(TEMPLATE, env_overrides=overrides, extra_env=aws) as lam:
        overrides["Parameters"]["POLLER_WORKERS"] = str(workers)
        started = time.monotonic()
        scheduled = invoke(
            "PollerFunction",
            SCHEDULE_EVENT,
            template_path=TEMPLATE,
            env_overrides=overrides,
            extra_env={**aws, "AWS_ENDPOINT_URL_LAMBDA": lam.endpoint_url},
        )
        finished = lam.wait_idle(timeout=180)
        wall = time.monotonic() - started
    invocations: list[tuple[Any, dict[str, Any] | None]] = [(scheduled, None)] if workers == 1 else []
    invocations += [
        (i.result, i.event) for i in lam.invocations if i.function == "PollerWorkerFunction" and i.result is not None
    ]
    runs, timed_out, failed = [], 0, 0
    failures: list[str] = []
    for result, _event in invocations:
        if result.error is None:
            runs.append(result.payload)
        elif result.error.get("errorType") == "Sandbox.Timedout":
            timed_out += 1  # killed at its Timeout like a Lambda: its report is lost, its polls are not
        else:
            # RunFailed: it polled what it could, then failed on purpose (a due shard or a token was unreadable);
            # anything else (e.g. every shard's query timed out): counted and shown, its jobs stay due.
            failed += 1
            failures.append(str(result.error.get("errorType")))
    if workers > 1 and scheduled.error is not None:
        raise RuntimeError(f"PollerFunction failed: {scheduled.error}\n{scheduled.logs[-3000:]}")
    stats = _gateway_stats(gateway)
    longest = max(result.duration_s for result, _ in invocations)
    polled = stats["jobs"]  # distinct jobs the gateway was asked about: reports die with a timed-out run
    return {
        "store": store,
        "workers": workers,
        "jobs": jobs,
        "worker_runs": len(invocations),
        "runs_timed_out": timed_out,
        "runs_failed": failed,
        "run_failures": failures,
        "all_finished": finished,
        "polled_in_one_run": polled,
        "all_polled": polled == jobs,
        "out_of_time": timed_out > 0 or any(run["out_of_time"] for run in runs),
        "wall_s": round(wall, 1),
        "longest_worker_s": round(longest, 1),
        "polls_per_s": round(polled / longest, 1),
        "latency_limit_polls_per_s": LIMIT_PER_WORKER * workers,
        "max_requests_per_job": stats["max_per_job"],
        "upstream_requests": stats["requests"],
        "errors": sum(run["errors"] for run in runs),
        "shards_per_worker": sorted(len(event["shards"]) for _, event in invocations if event is not None)
        or [DUE_SHARDS],
    }


def run(
    jobs: int,
    workers: list[int],
    stores: list[str],
    out_dir: Path | None = None,
    smoke: bool = False,
    moto_jobs: int | None = None,
) -> dict[str, Any]:
    started_load = load_average()
    moto = start_moto()
    gateway = start_gateway(TOKENS, delay=0.2, jitter=0.02)
    standin = start("bench.dynamo_standin", "--latency=0.005") if "standin" in stores else None
    try:
        sizes = {store: (moto_jobs or jobs) if store == "moto" else jobs for store in stores}
        cycles = [one_cycle(moto, gateway, standin, store, sizes[store], n) for store in stores for n in workers]
    finally:
        for service in (standin, gateway, moto):
            if service is not None:
                service.stop()
    rows = [
        [
            "DynamoDB stand-in" if c["store"] == "standin" else "moto",
            c["workers"],
            c["jobs"],
            c["polled_in_one_run"],
            c["all_polled"],
            c["longest_worker_s"],
            c["polls_per_s"],
            c["latency_limit_polls_per_s"],
            c["max_requests_per_job"],
            c["runs_timed_out"],
            f"{c['runs_failed']} ({', '.join(sorted(set(c['run_failures'])))})" if c["runs_failed"] else 0,
            c["errors"],
        ]
        for c in cycles
    ]
    headers = ["DynamoDB", "workers", "due jobs", "polled in one run", "all?", "longest worker s", "polls/s"]
    more = ["latency limit/s", "max polls of a job", "runs timed out", "runs failed (error)", "errors"]
    text = table([*headers, *more], rows)
    text += (
        f"\n\nOne scheduled run (Timeout 62 s, polls start until 54 s), DUE_SHARDS {DUE_SHARDS}, 2 providers x 16 in"
        " flight per worker, 200 ms answers. Every worker is a separate process here, on the same cores."
    )
    result = {"due_shards": DUE_SHARDS, "cycles": cycles, "smoke": smoke}
    counts = ",".join(map(str, workers))
    reproduce = f"python -m bench.scale_out --jobs {jobs} --moto-jobs {moto_jobs or jobs} --workers {counts}"
    publish("scale_out", result, text, reproduce=reproduce, out_dir=out_dir, started_load=started_load)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scale-out: one scheduled run with 1, 2 and 4 workers.")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--stores", default="standin,moto")
    parser.add_argument("--moto-jobs", type=int, default=MOTO_JOBS, help="jobs for the moto cycles (see above)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    run(
        args.jobs, [int(n) for n in args.workers.split(",")], args.stores.split(","), args.out, moto_jobs=args.moto_jobs
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
