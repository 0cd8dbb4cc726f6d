"""Any JSON, through any dialect: a Reading, an Unreadable or a Refusal, never an exception; a Reading holds
only job fields of the right types."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from videohook.domain.dialects import builtin, names
from videohook.domain.dialects.reader import Refusal, read
from videohook.domain.models import VIDEO_FIELDS, Reading, Unreadable, VideoStatus

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def shaped(name: str) -> st.SearchStrategy[object]:
    """Bodies near the dialect's own shape: its status at its status path, from its table or anything."""
    dialect = builtin(name)
    raw = st.sampled_from(sorted(dialect.statuses)) | scalars
    from videohook.domain.dialects import paths

    def build(status: object, extra: dict[str, object]) -> dict[str, object]:
        body: dict[str, object] = dict(extra)
        paths.put(body, dialect.status_path, status)
        return body

    return st.builds(build, raw, st.dictionaries(st.text(max_size=8), json_values, max_size=4))


bodies = st.sampled_from(names()).flatmap(lambda name: st.tuples(st.just(name), shaped(name) | json_values))


@settings(max_examples=400, deadline=None)
@given(bodies, json_values)
def test_any_answer_reads_as_a_reading_or_a_clear_refusal(case, follow):
    name, body = case
    result = read(builtin(name), body, base_url="https://api.example", video_id="v1", now=1_780_000_000, follow=follow)
    assert isinstance(result, Reading | Unreadable | Refusal)
    if isinstance(result, Reading):
        assert result.status is None or isinstance(result.status, VideoStatus)
        assert set(result.fields) <= set(VIDEO_FIELDS)
        assert result.progress is None or 0 <= result.progress <= 100
        for key in ("video_url", "content_url", "model", "size", "prompt"):
            assert result.fields.get(key) is None or isinstance(result.fields[key], str)
        assert result.fields.get("seconds") is None or type(result.fields["seconds"]) is int
        if result.status is VideoStatus.FAILED:
            assert isinstance(result.fields["error"]["code"], str) and result.fields["error"]["code"]
    elif isinstance(result, Unreadable):
        assert result.reason
    else:
        assert result.kind in ("rate_limited", "unauthorized", "client_error")
