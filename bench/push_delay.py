"""Benchmark: notification delay when the provider calls back (push) next to when videohook polls, on the same jobs.

The jobs are notify_sim's (bench/notify_sim.py: its duration models, its seed, veo and sora in turn, arriving
over an hour). Each is given to a provider that calls back, in turn one of each signing scheme: Replicate
(Standard Webhooks), OpenRouter (HMAC), fal (Ed25519 against a JWKS) and Kling (a token in the path).

- push, MEASURED: the jobs are tracked through the API (devtools.api_server on 127.0.0.1, ApiFunction's own
  handler, moto), then the simulated provider plays each job's timeline, compressed in time, and POSTs the
  provider's own callbacks (devtools/sim_provider.py, signed per scheme) to `POST /v1/inbound/{provider}`,
  where InboundFunction's real handler verifies, records and publishes to SNS (moto). Delay = from the
  moment the sim sends the terminal callback to the SNS publish (the SentTimestamp moto gives the message on
  an SQS queue subscribed to the topic, delivered within the Publish call), and to the callback's 202. The
  time a provider takes to send its callback after the video is ready is not in it (it is the provider's).
- poll, SIMULATED: notify_sim's discrete-event model of the poller (runs every minute, sweeps, the real
  decide()) on the same jobs: the delay from the video being ready to the publish when nobody calls back.
- lost callback, SIMULATED: the same model with what a pushing provider changes (tracking's first poll and
  decide()'s `backstop_s`, as the engine sets them): the delay when the terminal callback never comes and
  the backstop poll finds the job.

    python -m bench.push_delay                 # 400 jobs, their hour compressed to 120 s
    python -m bench.push_delay --jobs 12 --seconds 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench import notify_sim
from bench.report import load_average, publish, table

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SEED = 7
MIX = ["veo", "sora"]
WINDOW_S = 3600.0
BACKSTOP_S = 300.0  # PROVIDERS' backstop_seconds default (docs/providers.md)
# provider (= its dialect) -> its signing scheme; the jobs go to them in turn
PROVIDERS = {"replicate": "standard-webhooks", "openrouter": "openrouter", "fal": "fal", "kling": "token"}
TOKENS = {
    "replicate": "r8-bench-token",
    "openrouter": "or-bench-token",
    "fal": "fal-bench-token",
    "kling": "AKbench5e21c9a07f:SKbench0b9d6e3f58a24c71b6e0f93d2a7c5b18",
}
SECRETS = {
    "replicate": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # the replicate-python test vector's (not a real one)
    "openrouter": "or-bench-signing-secret",
    "fal": "",
    "kling": "kling-bench-path-token-5d1e",
}


@dataclass(frozen=True)
class Pushed:
    provider: str
    video_id: str
    sim: notify_sim.SimJob


def video_id(provider: str, index: int, rng: random.Random) -> str:
    """An id in the dialect's own form (its id_pattern)."""
    if provider == "replicate":
        return f"vh{index:06d}{rng.getrandbits(40):010x}"
    if provider == "openrouter":
        return f"vh_{index:06d}"
    if provider == "fal":
        return f"fal-ai/veo3/requests/{uuid.UUID(int=rng.getrandbits(128))}"
    return f"text2video/{10**14 + index}"


def assign(jobs: list[notify_sim.SimJob], seed: int) -> list[Pushed]:
    rng = random.Random(seed)
    names = list(PROVIDERS)
    return [Pushed(names[i % len(names)], video_id(names[i % len(names)], i, rng), job) for i, job in enumerate(jobs)]


def timeline(job: notify_sim.SimJob, scale: float, origin: float) -> list[dict[str, Any]]:
    """The job's life on the sim's seconds clock (from `origin`, compressed by `scale`): queued, running
    (twice, with progress), completed."""
    start = (job.created - origin) * scale
    running = start + job.queue_s * scale
    done = start + (job.queue_s + job.gen_s) * scale
    return [
        {"at": 0, "status": "queued"},
        {"at": round(running, 4), "status": "in_progress", "progress": 10},
        {"at": round((running + done) / 2, 4), "status": "in_progress", "progress": 55},
        {"at": round(done, 4), "status": "completed"},
    ]


# -- the poll side (notify_sim's model) ----------------------------------------------------------------------


@contextlib.contextmanager
def backstop(seconds: float) -> Iterator[None]:
    """notify_sim's model with a pushing provider's two differences, as the engine makes them: tracking polls
    first after the backstop (Tracking._first_poll_delay), and each poll's next one is at least that far
    (decide(backstop_s=...)), i.e. every terminal callback lost."""
    original_decide, original_first = notify_sim.decide, notify_sim.first_poll_delay

    def decide(*args: Any, **kwargs: Any) -> Any:
        return original_decide(*args, **kwargs, backstop_s=seconds)

    notify_sim.decide = decide
    notify_sim.first_poll_delay = lambda base_s: max(original_first(base_s), seconds)
    try:
        yield
    finally:
        notify_sim.decide, notify_sim.first_poll_delay = original_decide, original_first


def polled(jobs: list[notify_sim.SimJob], seed: int, backstop_s: float | None) -> dict[str, float]:
    sweep_s = notify_sim.default_sweeps()[-1]
    if backstop_s is None:
        return notify_sim.videohook(jobs, sweep_s=sweep_s, base_s=10, seed=seed).delays
    with backstop(backstop_s):
        return notify_sim.videohook(jobs, sweep_s=sweep_s, base_s=10, seed=seed).delays


# -- the push side (measured) --------------------------------------------------------------------------------


@dataclass
class Measured:
    delays: dict[str, float]  # video id -> callback sent .. SNS publish, seconds
    answers: dict[str, float]  # video id -> callback sent .. its answer read
    callbacks: dict[str, int]  # by HTTP status of the answer ("dropped"/"error" otherwise)
    events: int
    seen: dict[str, str]  # video id -> tracking.seen["completed"]
    order_ok: int  # terminal callbacks whose publish was not before their send
    sent: int  # terminal callbacks sent


def measure(pushed: list[Pushed], seconds: float, *, quiet: bool = True) -> Measured:
    """Track every job through the API, let the sim call back over `seconds`, read the events."""
    import boto3

    from devtools.api_server import ApiServer
    from devtools.local_aws import aws_env, start_moto, subscribe_queue
    from devtools.sim_provider import SimProvider

    moto = start_moto()
    sim = SimProvider(TOKENS).start()
    api: ApiServer | None = None
    saved = dict(os.environ)
    try:
        os.environ.update(aws_env(moto.endpoint_url))
        topic_arn = _deploy(moto.endpoint_url, sim.base_url, sim.jwks_url, quiet=quiet)
        queue = subscribe_queue(moto.endpoint_url, topic_arn, name=f"push-delay-{uuid.uuid4().hex[:8]}")
        api = ApiServer().start()
        from videohook.observability import logger  # loaded by the handlers, before this level was set

        logger.setLevel("ERROR" if quiet else "INFO")
        with httpx.Client(timeout=30.0, trust_env=False) as http:
            for item in pushed:
                answer = http.post(f"{api.url}/v1/jobs", json={"provider": item.provider, "video_id": item.video_id})
                if answer.status_code != 201:
                    raise RuntimeError(f"tracking {item.provider}/{item.video_id}: HTTP {answer.status_code}")
        origin = min(item.sim.created for item in pushed)
        scale = seconds / (max(item.sim.finish for item in pushed) - origin)
        for item in pushed:
            target = {"url": f"{api.url}/v1/inbound/{item.provider}", "scheme": PROVIDERS[item.provider]}
            if SECRETS[item.provider]:
                target["secret"] = SECRETS[item.provider]
            steps = timeline(item.sim, scale, origin)
            sim.add_job(item.provider, item.video_id, item.provider, steps, clock="seconds", push=target)
        published = _collect(boto3.client("sqs", endpoint_url=moto.endpoint_url), queue, len(pushed), seconds + 120)
        _wait(lambda: sum(1 for p in sim.pushes() if p.status == "completed") >= len(pushed), 30)
        return _measured(sim.pushes(), published, _seen(api.url, pushed))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if api is not None:
            api.stop()
        sim.stop()
        moto.stop()


def _deploy(endpoint: str, base_url: Callable[[str], str], jwks_url: str, *, quiet: bool) -> str:
    """The stack's table, topic and secrets in moto, PROVIDERS with each provider's inbound; the functions'
    variables in this process (the handlers run here); the topic's ARN."""
    from devtools.local_aws import deploy_local

    inbound: dict[str, dict[str, Any]] = {
        name: {"scheme": scheme, "backstop_seconds": BACKSTOP_S, "secret_value": SECRETS[name]}
        for name, scheme in PROVIDERS.items()
    }
    inbound["fal"] = {"scheme": "fal", "backstop_seconds": BACKSTOP_S, "keys_url": jwks_url}
    stack = deploy_local(
        endpoint,
        providers={name: (base_url(name), TOKENS[name], name) for name in PROVIDERS},
        template_path=TEMPLATE,
        inbound=inbound,
    )
    os.environ.update(stack.variables())
    os.environ.update(
        {
            "POLL_INTERVAL_SECONDS": "10",
            "ALLOW_LOOPBACK_CALLBACKS": "true",  # fal's key set is on the sim (http://127.0.0.1)
            "POWERTOOLS_LOG_LEVEL": "ERROR" if quiet else "INFO",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    return stack.topic_arn


def _seen(api_url: str, pushed: list[Pushed]) -> dict[str, str]:
    """video id -> how its completion was first seen (the job object's tracking.seen), through the API."""
    seen = {}
    with httpx.Client(timeout=30.0, trust_env=False) as http:
        for item in pushed:
            job = http.get(f"{api_url}/v1/jobs/{item.provider}/{quote(item.video_id, safe='')}").json()
            seen[item.video_id] = str(((job.get("tracking") or {}).get("seen") or {}).get("completed", ""))
    return seen


def _measured(pushes: list[Any], published: dict[str, float], seen: dict[str, str]) -> Measured:
    terminal = {p.video_id: p for p in pushes if p.status == "completed"}
    callbacks: dict[str, int] = {}
    for record in pushes:
        label = "dropped" if record.dropped else str(record.http_status or "error")
        callbacks[label] = callbacks.get(label, 0) + 1
    delays, answers, order_ok = {}, {}, 0
    for vid, record in terminal.items():
        if record.answered_at is not None:
            answers[vid] = record.answered_at - record.sent_at
        if vid in published:
            delays[vid] = max(0.0, published[vid] - record.sent_at)
            order_ok += published[vid] * 1000 >= int(record.sent_at * 1000)
    return Measured(delays, answers, callbacks, len(published), seen, order_ok, len(terminal))


def _wait(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def _collect(sqs: Any, queue: str, expected: int, timeout_s: float) -> dict[str, float]:
    """video id -> when its event was published (moto's SentTimestamp, delivered within the SNS Publish)."""
    published: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(published) < expected and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
        )
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            if isinstance(body, dict) and body.get("Type") == "Notification":
                body = json.loads(body["Message"])
            published[str(body["data"]["id"])] = int(message["Attributes"]["SentTimestamp"]) / 1000
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return published


# -- the benchmark -------------------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float]:
    return {
        "jobs": len(values),
        "p50_delay_s": round(notify_sim.percentile(values, 50), 3),
        "p95_delay_s": round(notify_sim.percentile(values, 95), 3),
        "max_delay_s": round(max(values), 3) if values else float("nan"),
    }


def run(jobs_count: int, seconds: float, seed: int = SEED, out_dir: Path | None = None) -> dict[str, Any]:
    started_load = load_average()
    jobs = notify_sim.make_jobs(jobs_count, MIX, seed, window_s=WINDOW_S)
    pushed = assign(jobs, seed)
    by_key = {item.sim.key: item.video_id for item in pushed}
    measured = measure(pushed, seconds)
    poll_model = {by_key[key]: value for key, value in polled(jobs, seed, None).items()}
    lost_model = {by_key[key]: value for key, value in polled(jobs, seed, BACKSTOP_S).items()}
    rows: list[dict[str, Any]] = []
    for name, scheme in [("all", "every scheme"), *PROVIDERS.items()]:
        ids = [item.video_id for item in pushed if name in ("all", item.provider)]
        label = "all providers" if name == "all" else name
        push = summary([measured.delays[i] for i in ids if i in measured.delays])
        answer = summary([measured.answers[i] for i in ids if i in measured.answers])
        poll = summary([poll_model[i] for i in ids if i in poll_model])
        lost = summary([lost_model[i] for i in ids if i in lost_model])
        rows.append(
            {
                "providers": label,
                "scheme": scheme,
                "jobs": len(ids),
                "push_measured": push,
                "push_answer_measured": answer,
                "poll_simulated": poll,
                "lost_callback_simulated": lost,
            }
        )
    headers = [
        "providers",
        "scheme",
        "jobs",
        "push p50 s",
        "push p95 s",
        "202 p95 s",
        "poll p50 s",
        "poll p95 s",
        f"lost cb p50 s (backstop {BACKSTOP_S:g})",
        "lost cb p95 s",
    ]
    cells = [
        [
            r["providers"],
            r["scheme"],
            r["jobs"],
            r["push_measured"]["p50_delay_s"],
            r["push_measured"]["p95_delay_s"],
            r["push_answer_measured"]["p95_delay_s"],
            r["poll_simulated"]["p50_delay_s"],
            r["poll_simulated"]["p95_delay_s"],
            r["lost_callback_simulated"]["p50_delay_s"],
            r["lost_callback_simulated"]["p95_delay_s"],
        ]
        for r in rows
    ]
    text = table(headers, cells)
    text += (
        f"\n\npush: MEASURED, terminal callback sent by the simulated provider -> SNS publish (moto), through "
        f"InboundFunction's handler; {jobs_count} jobs, their {WINDOW_S / 3600:g} h compressed to {seconds:g} s"
        f"\n202: the same callback's answer read by the sender (it comes after the publish)"
        f"\npoll, lost callback: SIMULATED (bench/notify_sim.py's model, same jobs and seed {seed}): video ready "
        f"-> SNS publish; the provider's own delay before its callback is in neither"
        f"\ncallbacks answered: {measured.callbacks}; events {measured.events}; completed seen by push "
        f"{sum(v == 'push' for v in measured.seen.values())} of {len(measured.seen)}"
    )
    result = {
        "simulation": False,
        "jobs": jobs_count,
        "seed": seed,
        "compressed_to_s": seconds,
        "backstop_s": BACKSTOP_S,
        "rows": rows,
        "callbacks": measured.callbacks,
        "events": measured.events,
        "terminal_callbacks_sent": measured.sent,
        "published_after_sent": measured.order_ok,
        "seen_completed": dict(sorted(_count(measured.seen.values()).items())),
        "push_p50_s": rows[0]["push_measured"]["p50_delay_s"],
        "push_p95_s": rows[0]["push_measured"]["p95_delay_s"],
        "poll_p50_s": rows[0]["poll_simulated"]["p50_delay_s"],
        "poll_p95_s": rows[0]["poll_simulated"]["p95_delay_s"],
        "mean_push_delay_s": round(statistics.fmean(measured.delays.values()), 4) if measured.delays else None,
    }
    publish(
        "push_delay",
        result,
        text,
        reproduce=f"python -m bench.push_delay --jobs {jobs_count} --seconds {seconds:g}",
        out_dir=out_dir,
        started_load=started_load,
    )
    return result


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value or "none"] = counts.get(value or "none", 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=120.0, help="the jobs' hour compressed to this long")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    run(args.jobs, args.seconds, args.seed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
