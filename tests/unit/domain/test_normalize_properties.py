"""Property-based: whatever JSON a provider sends, the normaliser returns a Reading or an Unreadable and never
raises; a Reading's fields have the types the job object promises."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from videohook.domain.models import Job, Reading, Unreadable, VideoStatus
from videohook.domain.normalize import STATUS_MAP, read_answer
from videohook.domain.polling import Answered, PollPolicy, decide

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=10,
)
FIELDS = (
    "progress",
    "seconds",
    "size",
    "model",
    "prompt",
    "video_url",
    "result",
    "error",
    "created_at",
    "completed_at",
    "expires_at",
    "remixed_from_video_id",
)
statuses = st.sampled_from(sorted(STATUS_MAP)) | st.text(max_size=20) | scalars
field_values = scalars | st.dictionaries(st.sampled_from(["video_url", "code", "message", "type"]), scalars, max_size=3)
video_like = st.fixed_dictionaries({"status": statuses}, optional={name: field_values for name in FIELDS})
PROPERTIES = settings(max_examples=200, deadline=None, derandomize=True)


def check_reading(result: Reading | Unreadable) -> None:
    assert isinstance(result, Reading | Unreadable)
    if isinstance(result, Unreadable):
        assert isinstance(result.reason, str) and result.reason
        return
    assert result.status is None or isinstance(result.status, VideoStatus)
    assert isinstance(result.raw_status, str) and len(result.raw_status) <= 64
    assert result.progress is None or (type(result.progress) in (int, float) and 0 <= result.progress <= 100)
    fields = result.fields
    for name in ("seconds", "created_at", "completed_at", "expires_at"):
        assert fields.get(name) is None or type(fields[name]) is int
    for name in ("model", "prompt", "size", "video_url", "content_url", "remixed_from_video_id"):
        assert fields.get(name) is None or isinstance(fields[name], str)
    if result.status is VideoStatus.FAILED:
        assert (
            isinstance(fields["error"], dict) and isinstance(fields["error"]["code"], str) and fields["error"]["code"]
        )
    if result.status is VideoStatus.COMPLETED:
        assert (fields["video_url"] is None) != (fields["content_url"] is None)
    json.dumps(fields)  # storable and publishable as JSON


@PROPERTIES
@given(body=json_values)
def test_any_json_value_is_read_or_called_unreadable(body):
    check_reading(read_answer(body, base_url="https://gw.example", video_id="v1"))


@PROPERTIES
@given(body=video_like)
def test_any_video_like_object_is_read_or_called_unreadable(body):
    check_reading(read_answer(body, base_url="https://gw.example", video_id="v1"))


@PROPERTIES
@given(body=video_like | json_values)
def test_a_poll_decision_never_raises_and_keeps_the_job_consistent(body):
    job = Job(provider="p", video_id="v1", tracked_at=1_000, next_poll_at=1_000)
    decision = decide(job, Answered(body), now=1_100, base_url="https://gw.example", policy=PollPolicy(10, 21600))
    assert decision.job.polls == 1
    assert (decision.event is not None) == decision.job.status.is_terminal
    assert decision.job.active is not decision.job.status.is_terminal
    assert decision.job.next_poll_at is None or decision.job.next_poll_at >= 1_100
