"""Every dialect end to end over real HTTP on loopback (issue 13): API -> DynamoDB -> poller -> the simulated
provider speaking that dialect -> SNS -> SQS, the functions invoked as Lambda would invoke them."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from videohook.domain.dialects import builtin
from videohook.domain.events import event_id
from videohook.domain.models import VideoStatus

from devtools import sim_dialects
from tests.integration.conftest import new_dialect_id

DIALECTS = sim_dialects.DIALECTS
MAX_RUNS = 6
ERROR = {"code": "generation_failed", "message": "Simulated failure"}


def run_until_settled(deployed, max_runs: int = MAX_RUNS) -> list[dict]:
    """Poller runs until no job is due any more (bounded)."""
    reports = []
    for _ in range(max_runs):
        reports.append(deployed.poll())
        if not any("due_shard" in item for item in deployed.items() if not item["pk"].startswith("_")):
            return reports
    raise AssertionError(f"jobs still due after {max_runs} runs: {reports[-1]}")


def track(deployed, name: str, video_id: str) -> None:
    status, job = deployed.api("POST", "/v1/jobs", {"provider": name, "video_id": video_id})
    assert status == 201, job
    assert job["status"] == "queued" and job["tracking"]["active"] is True


def assert_common_event(message: dict, name: str, video_id: str, status: VideoStatus) -> None:
    event = message["body"]
    assert event["object"] == "event"
    assert event["type"] == f"video.{status.value}"
    assert event["id"] == event_id(name, video_id, status)
    assert event["data"]["provider"] == name and event["data"]["id"] == video_id
    assert event["data"]["status"] == status.value
    assert message["attributes"] == {"type": f"video.{status.value}", "provider": name, "status": status.value}


def assert_link(data: dict, sim, name: str, video_id: str) -> None:
    """The completed video's link: the sim's file, as video_url, or content_url where the link needs the key."""
    base_url = sim.base_url(name)
    if name == "openai":  # no URL in OpenAI's video object: its content endpoint
        assert (data["video_url"], data["content_url"]) == (None, f"{base_url}/v1/videos/{video_id}/content")
        return
    link = f"{base_url}/files/{quote(video_id, safe='')}.mp4"
    keyed = builtin(name).video_url_needs_key  # Gemini's and OpenRouter's links on the API's own host
    assert (data["video_url"], data["content_url"]) == ((None, link) if keyed else (link, None)), name


def test_a_mixed_run_of_every_dialect_at_once(dialect_deployed, dialect_sim):
    """One job per dialect, tracked through the API by its id form, polled through the simulated provider,
    ends as exactly one event of the common shape with the right attributes and link; all in the same runs."""
    # Given one completing and one failing job per dialect, all tracked before any run
    jobs: dict[tuple[str, str], VideoStatus] = {}
    for name in DIALECTS:
        done, failed = new_dialect_id(name), new_dialect_id(name)
        dialect_sim.add_job(name, done, name, [{"status": "in_progress", "progress": 50}, {"status": "completed"}])
        dialect_sim.add_job(name, failed, name, [{"status": "in_progress"}, {"status": "failed", "error": ERROR}])
        jobs[(name, done)], jobs[(name, failed)] = VideoStatus.COMPLETED, VideoStatus.FAILED
    queue = dialect_deployed.queue("mixed-" + uuid.uuid4().hex[:6])
    for name, video_id in jobs:
        track(dialect_deployed, name, video_id)

    # When a poller run goes, then another (POLL_INTERVAL_SECONDS 0: one sweep per run, every job due at each)
    first, second = dialect_deployed.poll(), dialect_deployed.poll()

    # Then each run handled every dialect's jobs at once: the first saw them all running, the second ended them
    # all, one event each, and nothing is left due
    assert (first["polled"], first["completed"], first["failed"], first["errors"]) == (len(jobs), 0, 0, 0), first
    assert dict(first["unknown_statuses"]) == {} and first["faults"] == {}
    assert second["completed"] == len(DIALECTS) and second["failed"] == len(DIALECTS), second
    assert second["published"] == len(jobs) and second["errors"] == 0
    messages = dialect_deployed.drain(queue)
    assert len(messages) == len(jobs)
    by_job = {(m["body"]["data"]["provider"], m["body"]["data"]["id"]): m for m in messages}
    assert set(by_job) == set(jobs)
    for (name, video_id), status in jobs.items():
        assert_common_event(by_job[(name, video_id)], name, video_id, status)
        if status is VideoStatus.COMPLETED:
            assert_link(by_job[(name, video_id)]["body"]["data"], dialect_sim, name, video_id)
            assert dialect_sim.poll_count(name, video_id) == 2
        if status is VideoStatus.FAILED:
            error = by_job[(name, video_id)]["body"]["data"]["error"]
            assert error["code"] == ("generation_failed" if builtin(name).error_code else "failed"), (name, error)
    assert not any("due_shard" in item for item in dialect_deployed.items())
    # and a third run announces nothing again
    assert dialect_deployed.poll()["published"] == 0
    assert dialect_deployed.drain(queue) == []


@pytest.mark.parametrize("limited", ["kling"])
def test_a_dialects_429_pauses_only_that_provider(dialect_deployed, dialect_sim, limited):
    # Given one job per dialect; the limited dialect's job answers 429 with Retry-After (far longer than the test)
    jobs = {name: new_dialect_id(name) for name in DIALECTS}
    for name, video_id in jobs.items():
        timeline = [{"status": "completed"}]
        if name == limited:
            timeline = [{"_fault": 429, "_retry_after": "600"}, *timeline]
        dialect_sim.add_job(name, video_id, name, timeline)
    queue = dialect_deployed.queue("limited-" + uuid.uuid4().hex[:6])
    for name, video_id in jobs.items():
        track(dialect_deployed, name, video_id)

    # When a run goes, then another
    first = dialect_deployed.poll()
    second = dialect_deployed.poll()

    # Then the others' jobs completed in the first run, each announced once; the limited one was asked once
    assert first["faults"] == {f"{limited}:rate_limited": 1}, first
    assert first["completed"] == len(DIALECTS) - 1
    messages = dialect_deployed.drain(queue)
    assert sorted(m["body"]["data"]["provider"] for m in messages) == sorted(n for n in DIALECTS if n != limited)
    for message in messages:
        name = message["body"]["data"]["provider"]
        assert_common_event(message, name, jobs[name], VideoStatus.COMPLETED)
    # and the pause held in the next run: the limited provider was sent nothing more, its job waits, still due
    assert second["polled"] == 0
    assert dialect_sim.poll_count(limited, jobs[limited]) == 1
    (waiting,) = [item for item in dialect_deployed.items() if item.get("provider") == limited and "video_id" in item]
    assert waiting["status"] == "queued" and "due_shard" in waiting
    assert any(item["pk"] == f"_pause#{limited}" for item in dialect_deployed.items())
