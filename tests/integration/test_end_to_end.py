"""The main path end to end over real HTTP on loopback: API -> DynamoDB -> poller -> provider -> SNS -> SQS."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from videohook.domain.events import event_id
from videohook.domain.models import VideoStatus

from devtools.sim_provider import standard_timeline

MAX_RUNS = 10


def vid(prefix: str = "video") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def run_until_settled(deployed, max_runs: int = MAX_RUNS, **kwargs) -> list[dict]:
    """Poller runs until nothing is due any more (bounded)."""
    reports = []
    for _ in range(max_runs):
        reports.append(deployed.poll(**kwargs))
        if not any("due_shard" in item for item in deployed.items()):
            return reports
    raise AssertionError(f"jobs still due after {max_runs} runs: {reports[-1]}")


def bodies(messages):
    return [message["body"] for message in messages]


def test_jobs_of_both_seed_styles_end_as_exactly_one_event_each(deployed, sim):
    # Given jobs of both seed styles, one of them failing, and subscribers with filter policies
    veo, veo_nested, sora, sora_failed = vid("veo"), vid("veo"), vid("sora"), vid("sora")
    sim.add_job("hingnet", veo, "hingnet", standard_timeline("hingnet", "completed", steps=2))
    sim.add_job(
        "hingnet",
        veo_nested,
        "hingnet",
        [*standard_timeline("hingnet", steps=1)[:-1], {"status": "completed", "_url": "nested"}],
    )
    sim.add_job("skyengine", sora, "skyengine", standard_timeline("skyengine", "completed", steps=2))
    sim.add_job(
        "skyengine",
        sora_failed,
        "skyengine",
        standard_timeline(
            "skyengine", "failed", error={"code": "moderation_blocked", "message": "Blocked by moderation"}
        ),
    )
    everything = deployed.queue("all-" + uuid.uuid4().hex[:6], {"type": ["video.completed", "video.failed"]})
    hingnet_only = deployed.queue("hingnet-" + uuid.uuid4().hex[:6], {"provider": ["hingnet"]})
    failures_only = deployed.queue("failed-" + uuid.uuid4().hex[:6], {"status": ["failed"]})

    # When they are tracked through the API (one with ?duration=) and the poller runs until nothing is due
    for provider, video_id, extra in [
        ("hingnet", veo, {"duration": 6, "metadata": {"order": "42"}}),
        ("hingnet", veo_nested, {}),
        ("skyengine", sora, {}),
        ("skyengine", sora_failed, {}),
    ]:
        status, job = deployed.api("POST", "/v1/jobs", {"provider": provider, "video_id": video_id, **extra})
        assert status == 201, job
        assert job["status"] == "queued" and job["tracking"]["active"] is True
    reports = run_until_settled(deployed)

    # Then each job produced exactly one event, with its stable id, on the unfiltered queue
    events = bodies(deployed.drain(everything))
    by_video = {event["data"]["id"]: event for event in events}
    assert sorted(by_video) == sorted([veo, veo_nested, sora, sora_failed])
    assert len(events) == 4
    for video_id, event in by_video.items():
        status = VideoStatus(event["data"]["status"])
        assert event["id"] == event_id(event["data"]["provider"], video_id, status)
        assert event["type"] == f"video.{status.value}"
        assert event["object"] == "event"
    assert by_video[veo]["data"]["video_url"].endswith(f"/files/{veo}.mp4")
    assert by_video[veo]["data"]["seconds"] == 6
    assert by_video[veo]["data"]["metadata"] == {"order": "42"}
    assert by_video[veo_nested]["data"]["video_url"].endswith(f"/files/{veo_nested}.mp4")
    assert by_video[sora]["data"]["video_url"] is None
    assert by_video[sora]["data"]["content_url"] == f"{sim.base_url('skyengine')}/v1/videos/{sora}/content"
    assert by_video[sora]["data"]["seconds"] == 8
    assert by_video[sora_failed]["type"] == "video.failed"
    assert by_video[sora_failed]["data"]["error"]["code"] == "moderation_blocked"
    # the provider was asked with the registered duration and the right token
    assert all(r.query.get("duration") == "6" for r in sim.requests("hingnet", veo))
    assert all(r.headers["authorization"] == "Bearer tok-hingnet-3f9a1c77e2" for r in sim.requests("hingnet", veo))

    # and the filter policies took only what they asked for
    assert sorted(event["data"]["id"] for event in bodies(deployed.drain(hingnet_only))) == sorted([veo, veo_nested])
    assert [event["data"]["id"] for event in bodies(deployed.drain(failures_only))] == [sora_failed]

    # and GET shows the final state
    status, job = deployed.api("GET", f"/v1/jobs/hingnet/{veo}")
    assert status == 200
    assert job["status"] == "completed" and job["progress"] == 100
    assert job["tracking"]["active"] is False
    assert job["tracking"]["polls"] == sim.poll_count("hingnet", veo)
    assert sum(report["published"] for report in reports) == 4

    # and further runs announce nothing again
    deployed.poll()
    assert deployed.drain(everything) == []


def test_tracking_twice_gives_200_and_one_job(deployed, sim):
    video_id = vid()
    sim.add_job("hingnet", video_id, "hingnet", standard_timeline("hingnet"))
    body = {"provider": "hingnet", "video_id": video_id, "metadata": {"a": "1"}}
    first_status, first = deployed.api("POST", "/v1/jobs", body)
    second_status, second = deployed.api("POST", "/v1/jobs", {**body, "metadata": {"a": "2"}})
    assert (first_status, second_status) == (201, 200)
    assert second == first
    assert [item["video_id"] for item in deployed.items()] == [video_id]


def test_delete_stops_polling_and_no_event_follows(deployed, sim):
    video_id = vid()
    sim.add_job("skyengine", video_id, "skyengine", standard_timeline("skyengine", steps=2))
    queue = deployed.queue("q-" + uuid.uuid4().hex[:6])
    assert deployed.api("POST", "/v1/jobs", {"provider": "skyengine", "video_id": video_id})[0] == 201
    deployed.poll()
    assert sim.poll_count("skyengine", video_id) == 1

    status, job = deployed.api("DELETE", f"/v1/jobs/skyengine/{video_id}")
    assert status == 200
    assert job["tracking"]["active"] is False
    for _ in range(4):
        deployed.poll()
    assert sim.poll_count("skyengine", video_id) == 1
    assert deployed.drain(queue) == []
    assert deployed.api("GET", f"/v1/jobs/skyengine/{video_id}")[1]["tracking"]["active"] is False
    assert deployed.api("DELETE", "/v1/jobs/skyengine/video_never_tracked")[0] == 404


def test_two_poller_runs_at_the_same_moment_produce_one_event_per_job(deployed, sim):
    videos = [vid("race") for _ in range(6)]
    for video_id in videos:
        sim.add_job("hingnet", video_id, "hingnet", [{"status": "completed", "progress": 100}])
        assert deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video_id})[0] == 201
    queue = deployed.queue("race-" + uuid.uuid4().hex[:6])

    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda _: deployed.poll(), range(2)))
    run_until_settled(deployed)

    events = bodies(deployed.drain(queue))
    assert sorted(event["data"]["id"] for event in events) == sorted(videos)
    assert len({event["id"] for event in events}) == 6
    assert sum(report["completed"] for report in reports) == 6


def test_failed_publish_leaves_the_event_pending_and_the_next_run_delivers_it(deployed, sim, closed_port):
    video_id = vid("pending")
    sim.add_job("hingnet", video_id, "hingnet", [{"status": "completed", "progress": 100}])
    queue = deployed.queue("pending-" + uuid.uuid4().hex[:6])
    assert deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video_id})[0] == 201

    # When SNS cannot be reached during the run (its endpoint refuses connections)
    report = deployed.poll(extra_env={"AWS_ENDPOINT_URL_SNS": f"http://127.0.0.1:{closed_port}"})

    # Then the job is recorded as completed, its event pending and still due; nothing was delivered
    assert report["completed"] == 1 and report["publish_failed"] == 1 and report["published"] == 0
    (item,) = deployed.items()
    assert item["status"] == "completed"
    pending_id = item["pending_event"]["id"]
    assert "due_shard" in item
    assert deployed.drain(queue) == []

    # When the next run has SNS back, it delivers that same event, once, and the job leaves the due index
    report = deployed.poll()
    assert report["published"] == 1
    (event,) = bodies(deployed.drain(queue))
    assert event["id"] == pending_id == event_id("hingnet", video_id, VideoStatus.COMPLETED)
    (item,) = deployed.items()
    assert "pending_event" not in item and "due_shard" not in item
    assert sim.poll_count("hingnet", video_id) == 1  # the retry re-published; it did not poll again
    deployed.poll()
    assert deployed.drain(queue) == []


def test_bad_input_gets_a_clear_400_and_writes_nothing(deployed):
    cases = [
        ({"provider": "nope", "video_id": "v"}, "provider"),
        ({"provider": "hingnet"}, "video_id"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "http://8.8.8.8/hook"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "metadata": {"k": 5}}, "metadata"),
        ({"provider": "hingnet", "video_id": "v", "duration": -1}, "duration"),
    ]
    for body, param in cases:
        status, answer = deployed.api("POST", "/v1/jobs", body)
        assert status == 400, answer
        assert answer["error"]["type"] == "invalid_request_error"
        assert answer["error"]["param"] == param
        assert answer["error"]["message"]
    status, answer = deployed.api("POST", "/v1/jobs", raw_body="{not json")
    assert status == 400 and answer["error"]["code"] == "invalid_json"
    assert deployed.items() == []


def test_get_unknown_job_is_404_in_openai_shape(deployed):
    status, answer = deployed.api("GET", "/v1/jobs/hingnet/video_unknown")
    assert status == 404
    assert answer["error"]["code"] == "job_not_found"
    assert answer["error"]["type"] == "invalid_request_error"
