"""The job's delivery log in DynamoDB (moto): bounded, kept by the poller's writes, gone with the job."""

from __future__ import annotations

import boto3
from videohook.adapters.job_store import DynamoJobStore
from videohook.domain.models import Job, VideoStatus


def store(deployed) -> DynamoJobStore:
    dynamodb = boto3.client("dynamodb", endpoint_url=deployed.endpoint)
    return DynamoJobStore(dynamodb, deployed.stack.table_name, due_shards=16, retention_s=86400)


def attempt(n: int) -> dict:
    return {
        "at": 1000 + n,
        "event_id": "evt_1",
        "attempt": n,
        "outcome": "retrying",
        "status_code": 500,
        "error": "HTTP 500",
        "next_attempt_at": 1005 + n,
    }


def test_the_log_keeps_the_last_attempts_in_order(deployed):
    jobs = store(deployed)
    jobs.create(Job("hingnet", "video_log", tracked_at=1, next_poll_at=1))
    for n in range(1, 13):
        assert jobs.record_delivery("hingnet", "video_log", attempt(n), keep=10)
    job = jobs.get("hingnet", "video_log")
    assert [a["attempt"] for a in job.deliveries] == list(range(3, 13))
    assert job.deliveries[-1] == attempt(12)
    assert job.to_public()["tracking"]["deliveries"][-1]["error"] == "HTTP 500"
    assert "deliveries" not in job.to_public(with_deliveries=False)["tracking"]
    assert not jobs.record_delivery("hingnet", "video_never_tracked", attempt(1), keep=10)


def test_a_poller_write_from_an_older_read_cannot_drop_an_attempt(deployed):
    jobs = store(deployed)
    jobs.create(Job("hingnet", "video_race", tracked_at=1, next_poll_at=1))
    read_by_poller = jobs.get("hingnet", "video_race")
    jobs.record_delivery("hingnet", "video_race", attempt(1), keep=10)
    # the poller's conditional write of what it read earlier fails instead of overwriting the log
    assert jobs.save(read_by_poller.with_changes(status=VideoStatus.COMPLETED), now=2) is None
    fresh = jobs.get("hingnet", "video_race")
    saved = jobs.save(fresh.with_changes(status=VideoStatus.COMPLETED, active=False), now=2)
    assert saved is not None
    assert [a["attempt"] for a in jobs.get("hingnet", "video_race").deliveries] == [1]
