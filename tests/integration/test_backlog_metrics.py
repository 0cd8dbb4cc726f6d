"""PendingJobs / OldestPendingAgeSeconds: measured from the due index by every poller run (for the dashboard
and OldestPendingJobAlarm), through PollerFunction invoked from template.yaml against moto."""

from __future__ import annotations

import json
import time
import uuid

import boto3
from videohook.adapters.job_store import DynamoJobStore
from videohook.domain.models import Job

from devtools.sim_provider import standard_timeline


def emf(logs: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in logs.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    values[metric["Name"]] = (
                        blob[metric["Name"]][0] if isinstance(blob[metric["Name"]], list) else blob[metric["Name"]]
                    )
    return values


def test_backlog_counts_due_index_entries_and_finds_the_oldest(deployed):
    store = DynamoJobStore(
        boto3.client("dynamodb", endpoint_url=deployed.endpoint),
        deployed.stack.table_name,
        due_shards=16,
        retention_s=60,
    )
    assert store.backlog() == (0, None)
    now = int(time.time())
    for age in (30, 500, 5):
        store.create(
            Job(
                provider="hingnet",
                video_id=f"v_{age}_{uuid.uuid4().hex[:6]}",
                tracked_at=now - age,
                next_poll_at=now + 600,
            )
        )
    finished = Job(provider="hingnet", video_id="v_done", tracked_at=now - 9999, next_poll_at=now, active=False)
    store.create(finished)  # not in the due index: not pending
    assert store.backlog() == (3, now - 500)


def test_every_poller_run_reports_the_backlog(deployed, sim):
    slow, quick = f"video_{uuid.uuid4().hex[:8]}", f"video_{uuid.uuid4().hex[:8]}"
    sim.add_job("hingnet", slow, "hingnet", [{"status": "in_progress", "progress": 10}])
    sim.add_job("hingnet", quick, "hingnet", standard_timeline("hingnet", steps=0))
    tracked_at = {}
    for video in (slow, quick):
        status, job = deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video})
        assert status == 201
        tracked_at[video] = job["tracking"]["tracked_at"]

    deployed.poll()
    first = emf(deployed.last_logs)
    second_started = int(time.time())
    deployed.poll()
    second_ended = int(time.time())
    second = emf(deployed.last_logs)

    assert first["PendingJobs"] == 2  # measured after the run: the quick one completes on its second poll
    assert second["PendingJobs"] == 1
    # the age of the slow one (still pending), as of a moment during the second run
    age = second["OldestPendingAgeSeconds"]
    assert second_started - tracked_at[slow] <= age <= second_ended - tracked_at[slow]
