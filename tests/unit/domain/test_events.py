"""Event ids are stable per transition; event bodies carry the job object and filterable attributes."""

import json
import re

from videohook.domain.events import event_id, event_message, pending_event_for
from videohook.domain.models import Job, VideoStatus


def test_event_id_is_stable_and_shaped_like_openai():
    first = event_id("hingnet", "video_1", VideoStatus.COMPLETED)
    assert first == event_id("hingnet", "video_1", VideoStatus.COMPLETED)
    assert re.fullmatch(r"evt_[0-9a-f]{32}", first)


def test_event_id_differs_per_provider_video_and_status():
    ids = {
        event_id("hingnet", "video_1", VideoStatus.COMPLETED),
        event_id("hingnet", "video_1", VideoStatus.FAILED),
        event_id("skyengine", "video_1", VideoStatus.COMPLETED),
        event_id("hingnet", "video_2", VideoStatus.COMPLETED),
    }
    assert len(ids) == 4


def test_event_id_does_not_depend_on_time_or_content():
    job = Job("hingnet", "video_1", status=VideoStatus.COMPLETED, progress=100)
    later = job.with_changes(polls=9, video_url="https://x/y.mp4")
    assert pending_event_for(job, 100).id == pending_event_for(later, 999).id


def test_event_message_body_and_attributes():
    job = Job(
        "skyengine", "video_9", status=VideoStatus.FAILED, error={"code": "expired", "message": None}, active=False
    )
    pending = pending_event_for(job, 1761234690)
    body, attributes = event_message(job, pending)
    event = json.loads(body)
    assert event["id"] == pending.id
    assert event["object"] == "event"
    assert event["type"] == "video.failed"
    assert event["created_at"] == 1761234690
    assert event["data"]["id"] == "video_9"
    assert event["data"]["status"] == "failed"
    assert event["data"]["tracking"]["active"] is False
    assert attributes == {"type": "video.failed", "provider": "skyengine", "status": "failed"}
