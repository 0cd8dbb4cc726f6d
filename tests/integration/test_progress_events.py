"""video.progress end to end: only for jobs that asked, only to subscribers whose filter takes them."""

from __future__ import annotations

import uuid


def test_progress_events_reach_only_subscribers_that_ask_and_only_for_jobs_that_opted_in(deployed, sim):
    opted, plain = f"video_opt_{uuid.uuid4().hex[:8]}", f"video_plain_{uuid.uuid4().hex[:8]}"
    # Started, then a rise smaller than PROGRESS_STEP: only the start deserves an event, however long the
    # polls take (the throttle interval, a matter of time, is tested with given clock values in test_progress)
    timeline = [{"status": "queued", "progress": 0}, *({"status": "in_progress", "progress": p} for p in (40, 45))]
    for video in (opted, plain):
        sim.add_job("hingnet", video, "hingnet", [*timeline, {"status": "completed"}])
    progress_only = deployed.queue("progress-" + uuid.uuid4().hex[:6], {"type": ["video.progress"]})
    terminal_only = deployed.queue("terminal-" + uuid.uuid4().hex[:6], {"type": ["video.completed", "video.failed"]})
    everything = deployed.queue("all-" + uuid.uuid4().hex[:6])

    status, job = deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": opted, "events": ["progress"]})
    assert status == 201 and job["tracking"]["events"] == ["progress"]
    assert deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": plain})[1]["tracking"]["events"] == []
    for _ in range(6):
        deployed.poll()

    progress = [m["body"] for m in deployed.drain(progress_only)]
    terminal = [m["body"] for m in deployed.drain(terminal_only)]
    every = [m["body"] for m in deployed.drain(everything)]
    # The opted-in job started: one progress event (the later step is not a meaningful change)
    assert [(e["type"], e["data"]["id"], e["data"]["status"]) for e in progress] == [
        ("video.progress", opted, "in_progress")
    ]
    assert sorted((e["type"], e["data"]["id"]) for e in terminal) == sorted(
        [("video.completed", opted), ("video.completed", plain)]
    )
    # A subscriber without a filter sees the progress event only of the job that asked for it
    assert [e["data"]["id"] for e in every if e["type"] == "video.progress"] == [opted]
    assert {e["data"]["id"] for e in every if e["type"] == "video.completed"} == {opted, plain}


def test_a_bad_events_option_is_refused_and_nothing_is_written(deployed):
    status, answer = deployed.api(
        "POST", "/v1/jobs", {"provider": "hingnet", "video_id": "v_bad", "events": ["everything"]}
    )
    assert status == 400 and answer["error"]["param"] == "events"
    assert deployed.items() == []
