"""Where a poll asks: each dialect's request for one job, ids encoded so they never leave the base_url, and
the second read of the dialects that have one."""

from __future__ import annotations

import pytest
from videohook.domain.dialects import builtin
from videohook.domain.dialects.requests import UnsafeId, follow_up_request, status_request
from videohook.domain.models import VideoStatus

BASE = "https://api.example"


@pytest.mark.parametrize(
    ("name", "video_id", "duration", "url", "params"),
    [
        ("openai", "video_1", None, f"{BASE}/v1/videos/video_1", None),
        ("openai", "video_1", 8, f"{BASE}/v1/videos/video_1", {"duration": "8"}),
        ("openai", "a b#c", None, f"{BASE}/v1/videos/a%20b%23c", None),
        ("gemini", "models/veo-3.1/operations/op1", None, f"{BASE}/v1beta/models/veo-3.1/operations/op1", None),
        ("kling", "text2video/8672837", 5, f"{BASE}/v1/videos/text2video/8672837", None),
        ("minimax", "106916112212032", None, f"{BASE}/v1/query/video_generation", {"task_id": "106916112212032"}),
        ("fal", "fal-ai/veo3/requests/80e7", None, f"{BASE}/fal-ai/veo3/requests/80e7/status", None),
        ("runway", "182bd5e5", None, f"{BASE}/v1/tasks/182bd5e5", None),
        ("ark", "cgt-2025", None, f"{BASE}/api/v3/contents/generations/tasks/cgt-2025", None),
    ],
)
def test_status_requests(name, video_id, duration, url, params):
    request = status_request(builtin(name), BASE, video_id, duration)
    assert (request.url, request.params) == (url, params)


@pytest.mark.parametrize("video_id", ["..", ".", "models/../../admin", "a//b", "models/x/"])
def test_ids_that_would_climb_out_of_the_base_url_are_refused(video_id):
    dialect = builtin("gemini")
    with pytest.raises(UnsafeId):
        status_request(dialect, BASE, video_id, None)


def test_a_one_segment_id_keeps_its_slashes_encoded():
    assert status_request(builtin("runway"), BASE, "a/../b", None).url == f"{BASE}/v1/tasks/a%2F..%2Fb"


def test_minimax_reads_the_file_once_the_task_succeeded():
    dialect = builtin("minimax")
    body = {"status": "Success", "file_id": "176844028768320"}
    request = follow_up_request(dialect, BASE, "1069", VideoStatus.COMPLETED, body)
    assert request is not None
    assert (request.url, request.params) == (f"{BASE}/v1/files/retrieve", {"file_id": "176844028768320"})
    assert follow_up_request(dialect, BASE, "1069", VideoStatus.IN_PROGRESS, body) is None
    assert follow_up_request(dialect, BASE, "1069", VideoStatus.COMPLETED, {"status": "Success"}) is None


def test_fal_reads_the_result_under_the_same_app():
    request = follow_up_request(builtin("fal"), BASE, "fal-ai/veo3/requests/80e7", VideoStatus.COMPLETED, {})
    assert request is not None and request.url == f"{BASE}/fal-ai/veo3/requests/80e7"


def test_dialects_without_a_second_read_have_none():
    assert follow_up_request(builtin("runway"), BASE, "x", VideoStatus.COMPLETED, {"status": "SUCCEEDED"}) is None
