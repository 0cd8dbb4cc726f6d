"""Normalisation of every answer shape in the seeds and in OpenAI's video object."""

import pytest
from videohook.domain.models import Reading, Unreadable, VideoStatus
from videohook.domain.normalize import read_answer

BASE = "https://gw.example"


def read(body):
    return read_answer(body, base_url=BASE, video_id="video_abc123")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", VideoStatus.QUEUED),
        ("pending", VideoStatus.QUEUED),
        ("in_progress", VideoStatus.IN_PROGRESS),
        ("processing", VideoStatus.IN_PROGRESS),
        ("running", VideoStatus.IN_PROGRESS),
        ("completed", VideoStatus.COMPLETED),
        ("succeeded", VideoStatus.COMPLETED),
        ("failed", VideoStatus.FAILED),
        ("error", VideoStatus.FAILED),
        ("cancelled", VideoStatus.FAILED),
        ("canceled", VideoStatus.FAILED),
        ("expired", VideoStatus.FAILED),
        ("COMPLETED", VideoStatus.COMPLETED),
    ],
)
def test_both_status_vocabularies_map_to_one(raw, expected):
    reading = read({"id": "video_abc123", "status": raw})
    assert isinstance(reading, Reading)
    assert reading.status is expected
    assert reading.raw_status == raw


def test_hingnet_completed_seed_example():
    # Given the HingNet seed's "completed" example
    body = {
        "id": "video_abc123",
        "object": "video",
        "status": "completed",
        "model": "veo-3.1-fast-generate-preview",
        "progress": 100,
        "video_url": "https://cdn.example/v.mp4",
        "seconds": 6,
        "size": "1280x720",
    }
    reading = read(body)
    assert reading.status is VideoStatus.COMPLETED
    assert reading.progress == 100
    assert reading.fields["video_url"] == "https://cdn.example/v.mp4"
    assert reading.fields["content_url"] is None
    assert reading.fields["seconds"] == 6
    assert reading.fields["size"] == "1280x720"
    assert reading.fields["model"] == "veo-3.1-fast-generate-preview"


def test_hingnet_nested_result_video_url():
    reading = read({"status": "completed", "result": {"video_url": "https://cdn.example/nested.mp4"}})
    assert reading.fields["video_url"] == "https://cdn.example/nested.mp4"
    assert reading.fields["content_url"] is None


def test_top_level_url_wins_over_nested():
    reading = read({"status": "completed", "video_url": "https://a/1", "result": {"video_url": "https://b/2"}})
    assert reading.fields["video_url"] == "https://a/1"


def test_hingnet_float_progress_kept_as_float():
    reading = read({"status": "in_progress", "progress": 45.5})
    assert reading.status is VideoStatus.IN_PROGRESS
    assert reading.progress == 45.5


def test_skyengine_completed_has_string_seconds_and_no_url():
    body = {
        "id": "video_123456789",
        "object": "video",
        "created_at": 1741570283,
        "completed_at": 1741570400,
        "model": "sora-2",
        "status": "completed",
        "progress": 100,
        "expires_at": 1741574000,
        "seconds": "8",
        "size": "720x1280",
        "remixed_from_video_id": "video_0",
    }
    reading = read(body)
    assert reading.fields["seconds"] == 8
    assert reading.fields["video_url"] is None
    assert reading.fields["content_url"] == f"{BASE}/v1/videos/video_abc123/content"
    assert reading.fields["expires_at"] == 1741574000
    assert reading.fields["completed_at"] == 1741570400
    assert reading.fields["remixed_from_video_id"] == "video_0"


def test_skyengine_pending_is_queued():
    reading = read({"status": "pending", "progress": 0, "seconds": "4"})
    assert reading.status is VideoStatus.QUEUED
    assert reading.progress == 0
    assert reading.fields["seconds"] == 4


def test_openai_failed_object_keeps_error_as_given():
    body = {
        "status": "failed",
        "error": {"code": "moderation_blocked", "message": "Blocked", "type": "invalid_request"},
    }
    reading = read(body)
    assert reading.status is VideoStatus.FAILED
    assert reading.fields["error"] == {"code": "moderation_blocked", "message": "Blocked", "type": "invalid_request"}


@pytest.mark.parametrize("raw", ["failed", "expired", "cancelled"])
def test_failed_without_error_uses_raw_status_as_code(raw):
    reading = read({"status": raw})
    assert reading.fields["error"]["code"] == raw


def test_missing_fields_are_absent_not_invented():
    reading = read({"status": "in_progress"})
    assert reading.progress is None
    assert "seconds" not in reading.fields
    assert "video_url" not in reading.fields
    assert "error" not in reading.fields


@pytest.mark.parametrize(
    ("raw", "expected"), [(-5, 0), (150, 100), ("42", 42), ("12.5%", 12.5), (True, None), ("x", None)]
)
def test_progress_is_clamped_and_tolerant(raw, expected):
    assert read({"status": "in_progress", "progress": raw}).progress == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(6, 6), ("6", 6), (6.0, 6), ("6.0", 6), ("six", None), (6.5, None), (None, None)]
)
def test_seconds_becomes_an_int(raw, expected):
    assert read({"status": "queued", "seconds": raw}).fields.get("seconds") == expected


def test_unknown_status_is_a_reading_without_status():
    reading = read({"status": "moderating", "progress": 10})
    assert isinstance(reading, Reading)
    assert reading.status is None
    assert reading.raw_status == "moderating"
    assert reading.progress == 10


@pytest.mark.parametrize("body", [[], "completed", 42, None, {"progress": 5}, {"status": ""}, {"status": 3}])
def test_unreadable_answers_say_why(body):
    result = read(body)
    assert isinstance(result, Unreadable)
    assert result.reason


@pytest.mark.parametrize(
    ("video_id", "segment"),
    [
        ("video_abc123", "video_abc123"),
        ("a b", "a%20b"),
        ("x%2F..", "x%252F.."),
        ("v:1;2", "v%3A1%3B2"),
        ("é", "%C3%A9"),
    ],
)
def test_the_content_url_holds_the_video_id_percent_encoded_as_one_path_segment(video_id, segment):
    reading = read_answer({"status": "completed"}, base_url=BASE, video_id=video_id)
    assert reading.fields["content_url"] == f"{BASE}/v1/videos/{segment}/content"
