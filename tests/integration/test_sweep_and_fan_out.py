"""A run that keeps sweeping while jobs fall due, and the scheduled run's fan-out to shard workers, through
the real functions (local_invoke from template.yaml), moto, the simulated provider and a local Lambda API."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from videohook.adapters.job_store import DynamoJobStore
from videohook.domain.models import Job

from devtools.local_invoke import invoke
from devtools.local_lambda import LocalLambda
from devtools.sim_provider import standard_timeline

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE_EVENT = json.loads((ROOT / "events" / "poller-schedule.json").read_text())
DUE_SHARDS = 16


def vid(prefix: str = "video") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def store_of(deployed) -> DynamoJobStore:
    return DynamoJobStore(deployed.stack.client("dynamodb"), deployed.stack.table_name, due_shards=16, retention_s=60)


def track_directly(deployed, sim, count: int) -> list[Job]:
    """Many due jobs at once, written as the API writes them (the API itself is tested elsewhere)."""
    store, now, jobs = store_of(deployed), int(time.time()), []
    for i in range(count):
        provider = ("hingnet", "skyengine")[i % 2]
        job = Job(provider, vid("fan"), tracked_at=now - 30, next_poll_at=now - 1)
        sim.add_job(provider, job.video_id, provider, standard_timeline(provider, steps=3))
        jobs.append(store.create(job)[0])
    return jobs


def test_a_run_sweeps_again_for_jobs_falling_due_and_ends_once_none_is(deployed, sim):
    # Given a job that needs three polls, a poll interval of 1 s and a sweep window as long as the run's
    # deadline allows (PollerFunction's 62 s Timeout less the poller's safety margin)
    video_id = vid("sweep")
    sim.add_job("hingnet", video_id, "hingnet", [{"status": "queued"}, {"status": "queued"}, {"status": "completed"}])
    queue = deployed.queue("sweep-" + uuid.uuid4().hex[:6])
    assert deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video_id})[0] == 201
    window_s = 50

    # When one scheduled run starts
    report = deployed.poll(POLL_INTERVAL_SECONDS="1", SWEEP_SECONDS=str(window_s))

    # Then that one run polled the job as it fell due, until it completed, and announced it
    assert sim.poll_count("hingnet", video_id) == 3
    assert report["polled"] == 3 and report["completed"] == 1 and report["published"] == 1
    assert report["sweeps"] >= 3
    assert [message["body"]["data"]["id"] for message in deployed.drain(queue)] == [video_id]
    # and it ended because nothing was due within its window any more, not at its deadline nor when the
    # window closed (the run says why it ended)
    assert not report["out_of_time"]
    assert report["ended"] == "nothing_due"


def test_one_sweep_per_run_when_every_job_is_due_at_every_run(deployed, sim):
    video_id = vid("once")
    sim.add_job("hingnet", video_id, "hingnet", standard_timeline("hingnet", steps=5))
    assert deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video_id})[0] == 201
    report = deployed.poll(POLL_INTERVAL_SECONDS="0", SWEEP_SECONDS="20")
    assert report["sweeps"] == 1 and report["polled"] == 1
    assert sim.poll_count("hingnet", video_id) == 1


def test_a_worker_polls_only_the_shards_it_is_given(deployed, sim):
    jobs = track_directly(deployed, sim, 24)
    store = store_of(deployed)
    mine = [0, 3, 5, 8, 13]

    result = invoke(
        "PollerWorkerFunction",
        {"shards": mine},
        template_path=str(ROOT / "template.yaml"),
        env_overrides=deployed.env_overrides(),
    )

    assert result.error is None, result.logs
    assert result.payload["shards"] == mine
    for job in jobs:
        expected = 1 if store.shard_of(job.provider, job.video_id) in mine else 0
        assert sim.poll_count(job.provider, job.video_id) == expected, job.video_id
    assert result.payload["polled"] == sum(store.shard_of(j.provider, j.video_id) in mine for j in jobs)


def test_the_sample_worker_event_runs_the_worker_on_its_shards(deployed, sim):
    jobs = track_directly(deployed, sim, 8)
    event = json.loads((ROOT / "events" / "poller-worker-shards.json").read_text())
    result = invoke(
        "PollerWorkerFunction", event, template_path=str(ROOT / "template.yaml"), env_overrides=deployed.env_overrides()
    )
    assert result.error is None, result.logs
    assert result.payload["shards"] == event["shards"]
    store = store_of(deployed)
    assert result.payload["polled"] == sum(store.shard_of(j.provider, j.video_id) in event["shards"] for j in jobs)


def test_a_worker_refuses_an_event_without_valid_shards(deployed):
    for event in ({}, {"shards": []}, {"shards": [DUE_SHARDS]}, {"shards": ["0"]}):
        result = invoke(
            "PollerWorkerFunction",
            event,
            template_path=str(ROOT / "template.yaml"),
            env_overrides=deployed.env_overrides(),
        )
        assert result.error is not None and result.error["errorType"] == "ValueError", event


def test_the_scheduled_run_fans_out_to_workers_that_together_poll_every_job_once(deployed, sim):
    # Given due jobs across every shard, and Lambda's invoke API on loopback running the template's functions
    jobs = track_directly(deployed, sim, 40)
    with LocalLambda(
        ROOT / "template.yaml", env_overrides=deployed.env_overrides(), extra_env=deployed.stack.aws_env()
    ) as lam:
        # When the scheduled run starts with four workers
        result = invoke(
            "PollerFunction",
            SCHEDULE_EVENT,
            template_path=str(ROOT / "template.yaml"),
            env_overrides=deployed.env_overrides(POLLER_WORKERS="4"),
            extra_env={"AWS_ENDPOINT_URL_LAMBDA": lam.endpoint_url},
        )
        assert result.error is None, result.logs
        assert lam.wait_idle(timeout=120)

    # Then it started four workers on disjoint shard groups covering the whole index, and polled nothing itself
    assert result.payload["launched"] == 4 and result.payload["failed"] == 0
    workers = [i for i in lam.invocations if i.function == "PollerWorkerFunction"]
    assert len(workers) == 4 and all(i.invocation_type == "Event" for i in workers)
    groups = [i.event["shards"] for i in workers]
    assert sorted(shard for group in groups for shard in group) == list(range(DUE_SHARDS))
    # and the workers together polled each job exactly once
    assert all(i.result is not None and i.result.error is None for i in workers), [i.result for i in workers]
    assert sum(i.result.payload["polled"] for i in workers if i.result) == len(jobs)
    assert all(sim.poll_count(job.provider, job.video_id) == 1 for job in jobs)


def test_an_unknown_worker_function_is_reported_not_raised(deployed, sim):
    track_directly(deployed, sim, 2)
    with LocalLambda(ROOT / "template.yaml", env_overrides=deployed.env_overrides()) as lam:
        result = invoke(
            "PollerFunction",
            SCHEDULE_EVENT,
            template_path=str(ROOT / "template.yaml"),
            env_overrides=deployed.env_overrides(POLLER_WORKERS="2", POLLER_WORKER_FUNCTION="NoSuchFunction"),
            extra_env={"AWS_ENDPOINT_URL_LAMBDA": lam.endpoint_url},
        )
    assert result.error is None, result.logs
    assert result.payload["launched"] == 0 and result.payload["failed"] == 2
    assert "cannot start a poller worker" in result.logs
