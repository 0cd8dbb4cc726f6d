"""video.progress: opt-in, meaningful changes only, throttled per job."""

import json

import pytest
from videohook.domain.models import Job, VideoStatus
from videohook.domain.progress import PROGRESS_INTERVAL_S, announce_progress, progress_event
from videohook.domain.validation import InvalidRequest, parse_track_request

QUEUED = Job("hingnet", "v1", progress_events=True, tracked_at=1000)
T0 = 2000.0


def running(job: Job, progress: float) -> Job:
    return job.with_changes(status=VideoStatus.IN_PROGRESS, progress=progress)


def test_start_and_each_ten_points_are_announced_at_most_every_interval():
    first = announce_progress(QUEUED, running(QUEUED, 3), T0)
    assert first is not None and first.progress_announced == 3 and first.progress_announced_at == int(T0)
    # a small step is not worth an event, a big one too soon is held back, and goes out once the interval passed
    assert announce_progress(first, running(first, 9), T0 + 60) is None
    assert announce_progress(first, running(first, 40), T0 + PROGRESS_INTERVAL_S - 1) is None
    later = announce_progress(first, running(first, 40), T0 + PROGRESS_INTERVAL_S)
    assert later is not None and later.progress_announced == 40


def test_nothing_for_jobs_that_did_not_ask_or_that_ended():
    plain = QUEUED.with_changes(progress_events=False)
    assert announce_progress(plain, running(plain, 50), T0) is None
    done = QUEUED.with_changes(status=VideoStatus.COMPLETED, progress=100)
    assert announce_progress(QUEUED, done, T0) is None
    assert announce_progress(QUEUED, QUEUED.with_changes(progress=30), T0) is None  # still queued


def test_the_event_is_filterable_by_type_and_stable_per_progress():
    job = announce_progress(QUEUED, running(QUEUED, 25.5), T0)
    assert job is not None
    event = progress_event(job)
    body = json.loads(event.body)
    assert event.attributes == {"type": "video.progress", "provider": "hingnet", "status": "in_progress"}
    assert body["type"] == "video.progress" and body["data"]["progress"] == 25.5
    assert body["data"]["tracking"]["events"] == ["progress"]
    assert progress_event(job).event_id == event.event_id != progress_event(job.with_changes(progress=30)).event_id


@pytest.mark.parametrize(
    ("events", "wanted"), [(None, False), ([], False), (["progress"], True), (["progress", "progress"], True)]
)
def test_events_option_opts_in(events, wanted):
    body = {"provider": "hingnet", "video_id": "v"} | ({} if events is None else {"events": events})
    assert parse_track_request(body, providers={"hingnet"}, allow_loopback=False).progress_events is wanted


@pytest.mark.parametrize("events", ["progress", ["archive"], [1], {"progress": True}])
def test_events_option_refuses_anything_else(events):
    with pytest.raises(InvalidRequest) as refused:
        parse_track_request(
            {"provider": "hingnet", "video_id": "v", "events": events}, providers={"hingnet"}, allow_loopback=False
        )
    assert refused.value.param == "events"
