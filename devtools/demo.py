"""`make demo`: videohook end to end on this machine, no AWS and no Docker.

Starts moto in server mode and the simulated provider on 127.0.0.1, creates the stack's table, topic and
secrets from template.yaml, tracks jobs of both seed styles through ApiFunction, runs PollerFunction on
its schedule event until every job has ended, and prints progress and each event as it arrives on an SQS
queue subscribed to the topic. Jobs with a callback URL also get a signed webhook: WebhookFunction takes the
events from its own queue and POSTs them to a receiver on 127.0.0.1, which verifies them with
`standardwebhooks` (loopback callbacks are allowed by the development flag).

It ends with what to try next; Ctrl-C stops it at any point (exit 130, no traceback).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The libraries (boto3, moto, the functions' code) load inside the functions below, so that a Ctrl-C while they
# load ends like any other: one line and 130 (`run`), never a traceback.
if TYPE_CHECKING:
    from devtools.local_webhooks import LocalWebhooks
    from devtools.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = str(ROOT / "template.yaml")
SCHEDULE_EVENT = json.loads((ROOT / "events" / "poller-schedule.json").read_text())
TOKENS = {"hingnet": "demo-hingnet-token", "skyengine": "demo-skyengine-token", "replicate": "demo-replicate-token"}
# A provider that calls back (docs/providers.md, "Callbacks"): the simulated Replicate POSTs its signed webhooks to
# POST /v1/inbound/replicate (InboundFunction's handler, served on 127.0.0.1); its jobs are polled only as the backstop.
PUSHING = {
    "replicate": {
        "scheme": "standard-webhooks",
        "secret_value": "whsec_dmlkZW9ob29rLWRlbW8tcmVwbGljYXRlLWtleQ==",  # demo only
        "backstop_seconds": 300,
    }
}
RUN_EVERY_S = 2.0
MAX_DEMO_S = 90.0
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
NEXT_STEPS = """next:
  make local                                   # the same stack, left running for the CLI (Ctrl-C stops it)
  # then, in a second terminal:
  .venv/bin/videohook track hingnet video_1
  .venv/bin/videohook watch hingnet video_1    # a progress bar until the video ends
  .venv/bin/videohook --help                   # every command; `source .venv/bin/activate` for plain `videohook`"""
WEBHOOK_JOBS = ("video_veo_sunset", "video_sora_blocked")  # tracked with a callback_url on the local receiver

# (provider, video id, style, timeline by seconds since tracking, extra track fields)
JOBS: list[tuple[str, str, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "hingnet",
        "video_veo_sunset",
        [
            {"at": 0, "status": "queued"},
            {"at": 2, "status": "in_progress", "progress": 12.5},
            {"at": 5, "status": "in_progress", "progress": 47.5},
            {"at": 8, "status": "in_progress", "progress": 81.25},
            {"at": 11, "status": "completed"},
        ],
        {"duration": 6, "metadata": {"order": "42"}},
    ),
    (
        "hingnet",
        "video_veo_city",
        [
            {"at": 0, "status": "queued"},
            {"at": 3, "status": "in_progress", "progress": 33.3},
            {"at": 7, "status": "completed", "_url": "nested"},
        ],
        {},
    ),
    (
        "skyengine",
        "video_sora_waves",
        [
            {"at": 0, "status": "pending"},
            {"at": 2, "status": "in_progress", "progress": 20},
            {"at": 6, "status": "in_progress", "progress": 60},
            {"at": 13, "status": "completed"},
        ],
        {},
    ),
    (
        "skyengine",
        "video_sora_blocked",
        [
            {"at": 0, "status": "pending"},
            {"at": 4, "status": "failed", "error": {"code": "moderation_blocked", "message": "Prompt was blocked"}},
        ],
        {},
    ),
    (
        "replicate",
        "pushdemo01sunrise",
        [
            {"at": 0, "status": "queued"},
            {"at": 3, "status": "in_progress", "progress": 30},
            {"at": 9, "status": "completed"},
        ],
        {},
    ),
]


def main() -> int:
    print(
        "videohook demo: local AWS (moto) + simulated HingNet/SkyEngine gateways and a Replicate that calls back, "
        "all on 127.0.0.1\n",
        flush=True,
    )
    from devtools.api_server import ApiServer
    from devtools.local_aws import aws_env, deploy_local, start_moto, subscribe_queue
    from devtools.local_webhooks import deploy_webhooks
    from devtools.sim_provider import SimProvider
    from devtools.webhook_receiver import WebhookReceiver

    moto = start_moto()
    sim = SimProvider(TOKENS).start()
    receiver = WebhookReceiver().start()
    inbound: ApiServer | None = None
    try:
        os.environ.update(aws_env(moto.endpoint_url))
        stack = deploy_local(
            moto.endpoint_url,
            providers={
                name: (sim.base_url(name), token, name) if name in PUSHING else (sim.base_url(name), token)
                for name, token in TOKENS.items()
            },
            template_path=TEMPLATE,
            inbound=PUSHING,
        )
        webhooks = deploy_webhooks(moto.endpoint_url, stack.topic_arn, template_path=TEMPLATE)
        overrides = stack.env_overrides()
        overrides["Parameters"].update(
            webhooks.variables(),
            AWS_ENDPOINT_URL=moto.endpoint_url,  # boto3's own variable, declared by the template (empty there)
            POLL_INTERVAL_SECONDS="0",
            ALLOW_LOOPBACK_CALLBACKS="true",
        )
        # The providers' callbacks: InboundFunction's handler behind POST /v1/inbound/... on 127.0.0.1 (in this
        # process, with the variables the template declares for it, pointed at this stack)
        os.environ.update(overrides["Parameters"])
        os.environ.update(POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_METRICS_DISABLED="true")
        inbound = ApiServer().start()
        queue = subscribe_queue(moto.endpoint_url, stack.topic_arn, name="demo-events")
        print(f"table {stack.table_name}, topic {stack.topic_arn}, SQS subscriber {queue.rsplit('/', 1)[-1]}")
        print(f"webhook receiver {receiver.url('/hooks')}, signing secret in {webhooks.secret_arn}")
        print(f"provider callbacks {inbound.url}/v1/inbound/replicate (Standard Webhooks, InboundFunction)\n")

        for provider, video_id, timeline, extra in JOBS:
            push = None
            if provider in PUSHING:
                push = {
                    "url": f"{inbound.url}/v1/inbound/{provider}",
                    "scheme": PUSHING[provider]["scheme"],
                    "secret": PUSHING[provider]["secret_value"],
                }
            sim.add_job(provider, video_id, provider, timeline, clock="seconds", push=push)
            callback = {"callback_url": receiver.url(f"/hooks/{video_id}")} if video_id in WEBHOOK_JOBS else {}
            body = {"provider": provider, "video_id": video_id, **extra, **callback}
            status, job = _api(overrides, "POST", "/v1/jobs", body)
            print(f"POST /v1/jobs {provider}/{video_id} -> {status} status={job['status']}")
        print()
        return _watch(moto.endpoint_url, stack.table_name, queue, overrides, webhooks, receiver)
    finally:
        if inbound is not None:
            inbound.stop()
        receiver.stop()
        sim.stop()
        moto.stop()


def _watch(
    endpoint: str,
    table_name: str,
    queue: str,
    overrides: dict[str, Any],
    webhooks: LocalWebhooks,
    receiver: WebhookReceiver,
) -> int:
    import boto3

    from devtools.local_aws import receive_all
    from devtools.local_invoke import invoke

    table = boto3.resource("dynamodb", endpoint_url=endpoint).Table(table_name)
    events: list[dict[str, Any]] = []
    started = time.monotonic()
    run = 0
    while (len(events) < len(JOBS) or len(receiver.received()) < len(WEBHOOK_JOBS)) and (
        time.monotonic() - started < MAX_DEMO_S
    ):
        run += 1
        began = time.monotonic()
        result = invoke("PollerFunction", SCHEDULE_EVENT, template_path=TEMPLATE, env_overrides=overrides)
        if result.error is not None:
            print(f"poller run {run} failed: {result.error.get('errorMessage')}\n{result.logs}", file=sys.stderr)
            return 1
        report = result.payload
        print(
            f"[{time.monotonic() - started:5.1f}s] poller run {run}: polled {report['polled']}, "
            f"changed {report['changed']}, published {report['published']}"
        )
        for item in sorted(table.scan(ConsistentRead=True)["Items"], key=lambda i: (i["provider"], i["video_id"])):
            print("   " + _progress_line(item))
        for message in receive_all(endpoint, queue):
            event = message["body"]
            events.append(event)
            data = event["data"]
            link = data.get("video_url") or data.get("content_url") or (data.get("error") or {}).get("code")
            name = f"{data['provider']}/{data['id']}"
            print(f"   >> EVENT {event['type']:<16} {event['id']}  {name}  {link}  (seen by {_seen_by(data)})")
        if not _deliver_webhooks(webhooks, receiver, overrides):
            return 1
        time.sleep(max(0.0, RUN_EVERY_S - (time.monotonic() - began)))
    print()
    if len(events) != len(JOBS) or len(receiver.received()) != len(WEBHOOK_JOBS):
        print(f"demo ended with {len(events)} of {len(JOBS)} events", file=sys.stderr)
        return 1
    provider, video_id = JOBS[0][0], JOBS[0][1]
    status, job = _api(overrides, "GET", f"/v1/jobs/{provider}/{video_id}")
    print(f"GET /v1/jobs/{provider}/{video_id} -> {status}\n{json.dumps(job, indent=2)}\n")
    status, queued = _api(overrides, "POST", f"/v1/jobs/{provider}/{video_id}/redeliver")
    print(f"POST /v1/jobs/{provider}/{video_id}/redeliver -> {status} {queued.get('event_id')} {queued.get('status')}")
    if not _deliver_webhooks(webhooks, receiver, overrides) or len(receiver.received()) != len(WEBHOOK_JOBS) + 1:
        print("the replay did not arrive", file=sys.stderr)
        return 1
    print()
    pushed = [
        e["data"]
        for e in events
        if (e["data"].get("tracking") or {}).get("seen", {}).get(e["data"]["status"]) == "push"
    ]
    print(
        f"All {len(JOBS)} jobs ended with exactly one event each ({len(pushed)} seen by the provider's callback: "
        f"tracking.seen push, the others by polling); {len(WEBHOOK_JOBS)} signed webhooks verified."
    )
    print()
    print(NEXT_STEPS)
    return 0


def _deliver_webhooks(webhooks: LocalWebhooks, receiver: WebhookReceiver, overrides: dict[str, Any]) -> bool:
    """What the SQS event source mapping does: hand WebhookFunction what its queue holds; show what arrived."""
    from devtools.local_webhooks import pump

    seen = len(receiver.received())
    result = pump(webhooks, env_overrides=overrides, wait_s=0)
    if result.result is not None and result.result.error is not None:
        print(f"webhook function failed: {result.result.error.get('errorMessage')}\n{result.logs}", file=sys.stderr)
        return False
    for hook in receiver.received()[seen:]:
        event = hook.verify("whsec_" + webhooks.secret)  # raises unless the signature is right
        print(
            f"   >> WEBHOOK POST {hook.path}  webhook-id {hook.headers['webhook-id']}  {event['type']}  "
            "signature verified with standardwebhooks"
        )
    return True


def _api(overrides: dict[str, Any], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    from devtools.api_events import http_api_event
    from devtools.local_invoke import invoke

    result = invoke("ApiFunction", http_api_event(method, path, body), template_path=TEMPLATE, env_overrides=overrides)
    if result.error is not None:
        raise SystemExit(f"ApiFunction failed: {result.error.get('errorMessage')}\n{result.logs}")
    return result.payload["statusCode"], json.loads(result.payload["body"])


def _seen_by(data: dict[str, Any]) -> str:
    """How the job's final status was first seen: "push" (the provider's callback) or "poll" (tracking.seen)."""
    return str(((data.get("tracking") or {}).get("seen") or {}).get(data.get("status"), "?"))


def _progress_line(item: dict[str, Any]) -> str:
    progress = float(item.get("progress", 0))
    bar = "#" * int(progress // 10) + "." * (10 - int(progress // 10))
    state = "polling" if item.get("active") else "done"
    return f"{item['provider']:<10} {item['video_id']:<20} {item['status']:<12} [{bar}] {progress:6.2f}%  {state}"


def run() -> int:
    """`main`, with Ctrl-C as one line and exit 130 (the stack is torn down by main's `finally` first)."""
    try:
        return main()
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(run())
