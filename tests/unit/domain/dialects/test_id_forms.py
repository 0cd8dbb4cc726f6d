"""Tracking checks each dialect's id form: the documented form passes; anything else is a clear 400 naming
the form; ids without a stated form keep the old rule (no '/')."""

from __future__ import annotations

import pytest
from videohook.domain.dialects import builtin
from videohook.domain.validation import InvalidRequest, parse_track_request

DIALECTS = {name: builtin(name) for name in ("openai", "gemini", "kling", "fal", "minimax", "runway")}


def track(provider, video_id):
    body = {"provider": provider, "video_id": video_id}
    return parse_track_request(body, providers=DIALECTS, allow_loopback=False, dialects=DIALECTS)


@pytest.mark.parametrize(
    ("provider", "video_id"),
    [
        ("gemini", "models/veo-3.1-generate-preview/operations/vz341u0pmdlc"),
        ("kling", "text2video/867283741759111202"),
        ("kling", "image2video/867283741759111202"),
        ("fal", "fal-ai/veo3/requests/80e732af-660e-45cd-bd63-580e4f2a94cc"),
        ("minimax", "106916112212032"),
        ("runway", "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"),
        ("openai", "video_68d7512d07848190"),
    ],
)
def test_documented_forms_are_tracked(provider, video_id):
    assert track(provider, video_id).video_id == video_id


@pytest.mark.parametrize(
    ("provider", "video_id", "message"),
    [
        ("gemini", "vz341u0pmdlc", "the operation name"),
        ("gemini", "models/veo/operations/../../x", "'.' or '..'"),
        ("kling", "867283741759111202", "text2video/<task_id>"),
        ("fal", "fal-ai/veo3/80e732af", "<owner>/<app>/requests/<request_id>"),
        ("minimax", "abc", "the task_id (digits)"),
        ("runway", "not-a-uuid", "a UUID"),
        ("openai", "a/b", "without '/'"),
    ],
)
def test_other_forms_are_a_clear_400(provider, video_id, message):
    with pytest.raises(InvalidRequest) as caught:
        track(provider, video_id)
    assert message in str(caught.value)
    assert caught.value.param == "video_id"
