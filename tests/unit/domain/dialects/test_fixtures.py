"""Every built-in dialect on its API's documented examples (devtools/dialect_fixtures/<name>.json): each 2xx
example read through the dialect gives the normalised status, progress, link and error the fixture expects;
each error answer is the poll fault its HTTP status means; a follow-up's examples complete the first read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from videohook.adapters.provider_client import classify
from videohook.domain.dialects import builtin, names
from videohook.domain.dialects.reader import Refusal, read
from videohook.domain.models import Reading
from videohook.domain.polling import Fault

FIXTURES = Path(__file__).resolve().parents[4] / "devtools" / "dialect_fixtures"
NOW = 1_780_000_000


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def cases(kind: str) -> list[Any]:
    found = []
    for name in names():
        data = fixture(name)
        for example in data["examples"]:
            ok = 200 <= example.get("http_status", 200) < 300
            if (kind == "answer") == ok:
                found.append(pytest.param(name, data, example, id=f"{name}-{example['name']}"))
    return found


def base_url(data: dict[str, Any]) -> str:
    return data["request"]["default_base_url"]


def video_id(data: dict[str, Any]) -> str:
    return data["id_form"]["example"]


def error_of(expect: dict[str, Any]) -> dict[str, Any] | None:
    error = expect.get("error")
    if error is None:
        return None
    return {"code": str(error["code"]), "message": error.get("message")}


def test_every_builtin_dialect_has_a_fixture_and_every_fixture_a_dialect():
    assert sorted(path.stem for path in FIXTURES.glob("*.json")) == names()


@pytest.mark.parametrize("name", names())
def test_the_fixture_covers_every_meaning_the_dialect_has(name):
    data = fixture(name)
    dialect = builtin(name)
    seen = {example["expect"]["status"] for example in data["examples"] if example["expect"].get("status")}
    assert {"in_progress", "completed", "failed"} <= seen
    if name != "openai":  # openai ids are any id without '/'; every other dialect states its form
        assert dialect.id_pattern is not None
        assert dialect.id_pattern.fullmatch(video_id(data)), "the documented id form is accepted"


@pytest.mark.parametrize(("name", "data", "example"), cases("answer"))
def test_documented_answers_read_as_expected(name, data, example):
    dialect = builtin(name)
    expect = example["expect"]
    follow = None
    step = data.get("follow_up") or {}
    if dialect.follow_up is not None and expect["status"] == "completed" and step.get("examples"):
        follow = step["examples"][0]["body"]  # the first follow-up example is the successful one
    vid = example.get("video_id", video_id(data))
    reading = read(dialect, example["body"], base_url=base_url(data), video_id=vid, now=NOW, follow=follow)
    if expect["status"] is None and expect.get("error"):  # an API error in a 200 body: a fault, not the job
        assert isinstance(reading, Refusal), reading
        assert reading.kind in ("rate_limited", "unauthorized", "client_error")
        assert str(expect["error"]["code"]) in reading.detail
        return
    assert isinstance(reading, Reading), reading
    if expect["status"] is None:  # a status the dialect does not know: kept polling, counted
        assert reading.status is None and reading.raw_status
        return
    assert reading.status is not None and reading.status.value == expect["status"]
    assert reading.progress == expect.get("progress")
    fields = reading.fields
    if expect["status"] == "completed":
        assert fields.get("video_url") == (
            expect.get("video_url") or step.get("examples", [{}])[0].get("expect", {}).get("video_url")
        )
        assert fields.get("content_url") == expect.get("content_url")
    want = error_of(expect)
    got = fields.get("error")
    assert (None if got is None else {"code": got["code"], "message": got["message"]}) == want


@pytest.mark.parametrize(("name", "data", "example"), cases("error"))
def test_documented_error_answers_are_the_fault_their_status_means(name, data, example):
    status = example["http_status"]
    result = classify(status, {}, json.dumps(example["body"]).encode())
    assert isinstance(result, Fault)
    expected = {401: "unauthorized", 403: "unauthorized", 404: "not_found", 429: "rate_limited"}
    assert result.kind == expected.get(status, "server_error" if status >= 500 else "client_error")
