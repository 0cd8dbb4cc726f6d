"""Benchmark 6: a poller run killed in the middle of polling, and how long its jobs wait for the next runs.

A poller process (the functions' own wiring: videohook.runtime's store, publisher, tokens and coordination,
on moto over HTTP) starts a run over N due jobs whose gateway answers after 3 s; once the gateway has seen its
first request, the process is killed (SIGKILL: no `finally`, its leases stay in the table as it left them).
Then a run starts every second (a scheduled run comes every minute in the cloud; one a second shows the
lease's end to the second) until every job is announced. Printed: how long after the kill runs found the
shards still leased (`shards_busy`), when the first run polled the dead run's jobs, and when the last job's
event was out. Before issue 10 a lease lasted the dead run's whole remaining time plus 5 s (~67 s for a
62 s function); now it lasts LEASE_S past the last renewal.

    python -m bench.lease_recovery --jobs 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.report import load_average, publish, table

ROOT = Path(__file__).resolve().parents[1]
TOKENS = {"hingnet": "tok-bench-lease-hingnet"}
ANSWER_DELAY_S = 3.0
MAX_WAIT_S = 120.0  # bound on the whole measurement after the kill


def _poller(lease_s: float, renew_every_s: float) -> Any:
    """The poller as runtime.poller() builds it, with the lease settings of this benchmark."""
    from videohook.adapters.aws import client
    from videohook.adapters.coordination import DynamoRunCoordination
    from videohook.adapters.provider_client import fetch_video, make_http_client
    from videohook.adapters.secrets import SecretsManagerTokens
    from videohook.config import load_settings
    from videohook.runtime import event_publisher, job_store
    from videohook.services.poller import Poller

    settings = load_settings()
    coordination = DynamoRunCoordination(client("dynamodb"), settings.jobs_table)
    return Poller(
        settings,
        job_store(),
        event_publisher(),
        SecretsManagerTokens(),
        http_factory=make_http_client,
        fetch=fetch_video,
        coordination=coordination,
        lease_s=lease_s,
        renew_every_s=renew_every_s,
    )


def _child(lease_s: float, renew_every_s: float) -> int:
    """The run that gets killed: 60 s left, like a scheduled run at its start."""
    _poller(lease_s, renew_every_s).run(lambda: 60_000)
    return 0


def _kill_mid_poll(sim: Any, lease_s: float, renew_every_s: float) -> float:
    """Start the poller process, SIGKILL it once the gateway saw its first request; return when."""
    command = [
        sys.executable,
        "-m",
        "bench.lease_recovery",
        "--child",
        f"--lease={lease_s}",
        f"--renew={renew_every_s}",
    ]
    path = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])
    child = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": path})
    for _ in range(600):  # at most 60 s for the child's first request
        if sim.requests("hingnet") or child.poll() is not None:
            break
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    if not sim.requests("hingnet"):
        raise RuntimeError("the poller process never polled")
    return time.time()


def _track(jobs: int, sim: Any, answer_delay_s: float) -> None:
    from videohook.config import load_settings
    from videohook.runtime import job_store
    from videohook.services.tracking import LOCAL_PRINCIPAL, Caller, Tracking

    load_settings.cache_clear()
    job_store.cache_clear()
    tracking = Tracking(load_settings(), job_store())
    for i in range(jobs):
        video_id = f"video_lease_{i:04d}"
        sim.add_job("hingnet", video_id, "hingnet", [{"status": "completed", "_delay": answer_delay_s}])
        tracking.track({"provider": "hingnet", "video_id": video_id}, Caller(LOCAL_PRINCIPAL))


def run(
    jobs: int,
    out_dir: Path | None = None,
    *,
    lease_s: float | None = None,
    renew_every_s: float | None = None,
    timeout_s: float = 10.0,
    answer_delay_s: float = ANSWER_DELAY_S,
) -> dict[str, Any]:
    """`lease_s`/`renew_every_s` default to the poller's own; the poller makes the lease at least the
    provider's timeout plus two renewals (the smoke run shortens all three)."""
    from videohook.services.poller import LEASE_S, RENEW_EVERY_S

    from devtools.local_aws import aws_env, deploy_local, receive_all, start_moto, subscribe_queue
    from devtools.sim_provider import SimProvider

    lease = LEASE_S if lease_s is None else lease_s
    renew = RENEW_EVERY_S if renew_every_s is None else renew_every_s
    started_load = load_average()
    moto = start_moto()
    sim = SimProvider(TOKENS).start()
    saved_env = dict(os.environ)
    try:
        stack = deploy_local(
            moto.endpoint_url,
            providers={name: (sim.base_url(name), token) for name, token in TOKENS.items()},
            template_path=ROOT / "template.yaml",
            suffix=uuid.uuid4().hex[:8],
        )
        providers = {name: {**spec, "timeout_seconds": timeout_s} for name, spec in stack.providers.items()}
        variables = {**aws_env(moto.endpoint_url), **stack.variables(), "POLL_INTERVAL_SECONDS": "0"}
        variables["PROVIDERS"] = json.dumps(providers)
        variables |= {"SWEEP_SECONDS": "0", "POWERTOOLS_LOG_LEVEL": "WARNING"}
        os.environ.update(variables)
        queue = subscribe_queue(moto.endpoint_url, stack.topic_arn, name=f"lease-{stack.suffix}")
        _track(jobs, sim, answer_delay_s)
        killed_at = _kill_mid_poll(sim, lease, renew)

        runs: list[dict[str, Any]] = []
        announced: set[str] = set()
        first_poll_s: float | None = None
        while time.time() - killed_at < MAX_WAIT_S and len(announced) < jobs:
            started = time.time() - killed_at
            report = _poller(lease, renew).run(lambda: 60_000)
            runs.append({"at_s": round(started, 1), "shards_busy": report.shards_busy, "polled": report.polled})
            if report.polled and first_poll_s is None:
                first_poll_s = started
            announced |= {message["body"]["data"]["id"] for message in receive_all(moto.endpoint_url, queue)}
            time.sleep(max(0.0, 1.0 - (time.time() - killed_at - started)))
        all_announced_s = time.time() - killed_at if len(announced) == jobs else None
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sim.stop()
        moto.stop()

    busy = [r for r in runs if r["shards_busy"]]
    lease = max(lease, timeout_s + 2 * renew)  # as the poller makes it
    result = {
        "jobs": jobs,
        "lease_s": lease,
        "renew_every_s": renew,
        "provider_timeout_s": timeout_s,
        "answer_delay_s": answer_delay_s,
        "runs_after_kill": len(runs),
        "runs_finding_shards_leased": len(busy),
        "last_run_finding_shards_leased_s": busy[-1]["at_s"] if busy else None,
        "first_poll_after_kill_s": None if first_poll_s is None else round(first_poll_s, 1),
        "all_announced_after_kill_s": None if all_announced_s is None else round(all_announced_s, 1),
        "announced": len(announced),
        "runs": runs,
    }
    text = table(
        [
            "lease (s)",
            "jobs",
            "runs finding the dead run's leases",
            "first poll after the kill (s)",
            "all announced (s)",
        ],
        [[lease, jobs, len(busy), result["first_poll_after_kill_s"], result["all_announced_after_kill_s"]]],
    )
    publish(
        "lease_recovery",
        result,
        text,
        reproduce=f"python -m bench.lease_recovery --jobs {jobs}",
        out_dir=out_dir,
        started_load=started_load,
    )
    if len(announced) != jobs:
        raise RuntimeError(f"only {len(announced)} of {jobs} jobs announced within {MAX_WAIT_S:g} s of the kill")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--lease", type=float, default=None, help="lease seconds (default: the poller's LEASE_S)")
    parser.add_argument("--renew", type=float, default=None, help="renewal interval (default: RENEW_EVERY_S)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.lease, args.renew)
    result = run(args.jobs, lease_s=args.lease, renew_every_s=args.renew)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
