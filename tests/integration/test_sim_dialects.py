"""The simulated provider's dialects over real HTTP on loopback: each dialect's answers, asked for where the
engine asks (videohook.domain.dialects.requests) with the header the engine sends (adapters.provider_auth),
read back through videohook.domain.dialects.reader.read, give the scripted status, progress, URL and error;
the credential check refuses a wrong key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from videohook.adapters.provider_auth import auth_headers
from videohook.domain.dialects import builtin
from videohook.domain.dialects.reader import Refusal, read, status_of
from videohook.domain.dialects.requests import follow_up_request, status_request
from videohook.domain.models import Reading, Unreadable, VideoStatus
from videohook.domain.tokens import usable_credential

from devtools import sim_dialects
from devtools.sim_provider import SimProvider
from tests.integration.conftest import DIALECT_TOKENS, new_dialect_id

DIALECTS = sim_dialects.DIALECTS
# Where each API's answer carries an error code the sim can script (the others give only a message, or none).
CODE_PATHS = {name for name in DIALECTS if builtin(name).error_code}
MESSAGE_PATHS = {name for name in DIALECTS if builtin(name).error_message}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False) as http:
        yield http


def engine_headers(name: str, token: str | None = None) -> dict[str, str]:
    dialect = builtin(name)
    credential = usable_credential(dialect.auth.mint, token or DIALECT_TOKENS[name])
    return {**dialect.headers, **auth_headers(dialect.auth, credential), "Accept": "application/json"}


class Asked:
    """One poll as the engine makes it: the status read, then the dialect's follow-up when it calls for one."""

    def __init__(self, client: httpx.Client, sim: SimProvider, name: str, video_id: str, **kw: Any) -> None:
        dialect = builtin(name)
        self.base_url = sim.base_url(name)
        headers = kw.get("headers") or engine_headers(name)
        request = status_request(dialect, self.base_url, video_id, None)
        self.response = client.get(request.url, params=request.params, headers=headers)
        self.follow: httpx.Response | None = None
        body = decoded(self.response)
        found = status_of(dialect, body)
        second = follow_up_request(dialect, self.base_url, video_id, found[0] if found else None, body)
        if second is not None and self.response.is_success:
            self.follow = client.get(second.url, params=second.params, headers=headers)
        self.reading = read(
            dialect,
            body,
            base_url=self.base_url,
            video_id=video_id,
            now=time.time(),
            follow=decoded(self.follow) if self.follow is not None else None,
        )


def decoded(response: httpx.Response) -> Any:
    """The JSON body as the engine takes it; None for a body that is not JSON (HTML, truncated)."""
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def reading(asked: Asked) -> Reading:
    assert isinstance(asked.reading, Reading), (asked.response.status_code, asked.response.text, asked.reading)
    return asked.reading


def file_url(sim: SimProvider, name: str, video_id: str) -> str:
    return f"{sim.base_url(name)}/files/{quote(video_id, safe='')}.mp4"


@pytest.mark.parametrize("name", DIALECTS)
def test_each_dialect_reads_back_as_scripted_from_queued_to_completed(dialect_sim, client, name):
    video_id = new_dialect_id(name)
    dialect_sim.add_job(name, video_id, name, sim_dialects.timeline("completed", steps=2))
    has_progress = bool(builtin(name).progress_path)

    readings = [reading(Asked(client, dialect_sim, name, video_id)) for _ in range(5)]

    statuses = [r.status for r in readings]
    first = VideoStatus.IN_PROGRESS if name == "gemini" else VideoStatus.QUEUED  # an operation is never queued
    assert statuses == [first, VideoStatus.IN_PROGRESS, VideoStatus.IN_PROGRESS, *[VideoStatus.COMPLETED] * 2]
    assert [r.progress for r in readings[:3]] == ([0, 33, 66] if has_progress else [None, None, None])
    done = readings[-1]
    link = done.fields.get("video_url") or done.fields.get("content_url")
    if name == "openai":  # OpenAI's video object has no URL: the content endpoint is the link
        assert link == f"{dialect_sim.base_url(name)}/v1/videos/{video_id}/content"
    else:
        assert link == file_url(dialect_sim, name, video_id)
    # the link serves the video (a file link is pre-signed; a content endpoint takes the key)
    download = client.get(link, headers=engine_headers(name))
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"
    assert dialect_sim.poll_count(name, video_id) == 5
    follow_ups = [r for r in dialect_sim.requests(name, video_id) if r.route == "follow_up"]
    assert len(follow_ups) == (2 if builtin(name).follow_up else 0)


@pytest.mark.parametrize("name", DIALECTS)
def test_each_dialect_reads_back_a_scripted_failure_and_a_scripted_url(dialect_sim, client, name):
    failed, linked = new_dialect_id(name), new_dialect_id(name)
    error = {"code": "generation_failed", "message": "Simulated failure " + uuid.uuid4().hex[:6]}
    dialect_sim.add_job(name, failed, name, [{"status": "in_progress"}, {"status": "failed", "error": error}])
    url = f"https://cdn.example.test/{uuid.uuid4().hex}.mp4"
    dialect_sim.add_job(name, linked, name, [{"status": "completed", "video_url": url}])

    Asked(client, dialect_sim, name, failed)
    failure = reading(Asked(client, dialect_sim, name, failed))
    completed = reading(Asked(client, dialect_sim, name, linked))

    assert failure.status is VideoStatus.FAILED
    assert failure.fields["error"]["message"] == (error["message"] if name in MESSAGE_PATHS else None)
    if name in CODE_PATHS:
        assert failure.fields["error"]["code"] == "generation_failed"
    assert completed.status is VideoStatus.COMPLETED
    assert completed.fields["video_url"] == url  # a link off the provider's host needs no key


@pytest.mark.parametrize("name", DIALECTS)
def test_the_credential_check_refuses_a_wrong_key(dialect_sim, client, name):
    video_id = new_dialect_id(name)
    dialect_sim.add_job(name, video_id, name, [{"status": "completed"}])
    wrong = "AKwrong:SK" + uuid.uuid4().hex if name == "kling" else "tok-wrong-" + uuid.uuid4().hex

    refused = Asked(client, dialect_sim, name, video_id, headers=engine_headers(name, wrong))
    missing = Asked(client, dialect_sim, name, video_id, headers={"Accept": "application/json"})
    right = Asked(client, dialect_sim, name, video_id)

    if name == "minimax":  # MiniMax refuses in a 200 body: base_resp.status_code 1004 (its documented answer)
        assert refused.response.status_code == 200
        assert refused.reading == Refusal("unauthorized", "API error 1004: not authorized")
    else:
        assert refused.response.status_code == 401
        assert missing.response.status_code == 401
    assert wrong not in refused.response.text and DIALECT_TOKENS[name] not in refused.response.text
    assert reading(right).status is VideoStatus.COMPLETED
    assert dialect_sim.poll_count(name, video_id) == 3  # refused requests are recorded too


def test_kling_checks_the_jwt_signature_issuer_and_lifetime(dialect_sim, client):
    video_id = new_dialect_id("kling")
    dialect_sim.add_job("kling", video_id, "kling", [{"status": "completed"}])
    access, _, secret = DIALECT_TOKENS["kling"].partition(":")
    now = int(time.time())

    def bearer(claims: dict[str, Any], key: str = secret) -> dict[str, str]:
        return {"Authorization": "Bearer " + jwt.encode(claims, key, algorithm="HS256")}

    good = {"iss": access, "exp": now + 1800, "nbf": now - 5}
    cases = {
        "other secret": bearer(good, "SK" + uuid.uuid4().hex),
        "other issuer": bearer({**good, "iss": "AKsomeoneelse"}),
        "expired": bearer({**good, "exp": now - 60}),
        "not yet valid": bearer({**good, "nbf": now + 600}),
        "no exp": bearer({"iss": access, "nbf": now - 5}),
        "the raw secret as bearer": {"Authorization": f"Bearer {DIALECT_TOKENS['kling']}"},
    }
    answers = {case: Asked(client, dialect_sim, "kling", video_id, headers=h).response for case, h in cases.items()}
    assert {case: answer.status_code for case, answer in answers.items()} == dict.fromkeys(cases, 401)
    assert answers["expired"].json()["code"] == 1004  # Kling's documented refusal
    ok = Asked(client, dialect_sim, "kling", video_id, headers=bearer(good))
    assert reading(ok).status is VideoStatus.COMPLETED


def test_unknown_ids_are_404_after_the_credential_check(dialect_sim, client):
    for name in DIALECTS:
        video_id = new_dialect_id(name)
        assert Asked(client, dialect_sim, name, video_id).response.status_code == 404, name
        wrong = engine_headers(name, "AKx:SKy" + "z" * 32 if name == "kling" else "nope")
        status = Asked(client, dialect_sim, name, video_id, headers=wrong).response.status_code
        assert status == (200 if name == "minimax" else 401), name


def test_runway_raw_throttled_status_and_required_version_header(dialect_sim, client):
    video_id = new_dialect_id("runway")
    dialect_sim.add_job("runway", video_id, "runway", [{"_raw_status": "THROTTLED"}, {"status": "completed"}])
    no_version = {k: v for k, v in engine_headers("runway").items() if k != "X-Runway-Version"}

    refused = Asked(client, dialect_sim, "runway", video_id, headers=no_version)
    held = Asked(client, dialect_sim, "runway", video_id)

    assert refused.response.status_code == 400
    assert held.response.json()["status"] == "THROTTLED"
    assert reading(held).status is VideoStatus.QUEUED and reading(held).throttled is True
    assert reading(Asked(client, dialect_sim, "runway", video_id)).status is VideoStatus.COMPLETED


def test_fal_answers_202_while_waiting_and_the_video_in_its_result(dialect_sim, client):
    video_id = new_dialect_id("fal")
    dialect_sim.add_job("fal", video_id, "fal", sim_dialects.timeline("completed", steps=1))
    answers = [Asked(client, dialect_sim, "fal", video_id) for _ in range(3)]
    assert [a.response.status_code for a in answers] == [202, 202, 200]
    first = answers[0].response.json()
    assert first["request_id"] == video_id.rsplit("/", 1)[-1]
    assert first["response_url"] == f"{dialect_sim.base_url('fal')}/{video_id}"
    assert answers[-1].follow is not None and answers[-1].follow.json()["video"]["url"].endswith(".mp4")
    assert "video" not in answers[-1].response.json()  # the status never holds the video


def test_minimax_serves_the_url_from_its_file_lookup(dialect_sim, client):
    video_id = new_dialect_id("minimax")
    dialect_sim.add_job("minimax", video_id, "minimax", [{"status": "completed"}])
    asked = Asked(client, dialect_sim, "minimax", video_id)
    status = asked.response.json()
    assert status["status"] == "Success" and status["task_id"] == video_id and status["file_id"].isdigit()
    assert asked.follow is not None
    assert asked.follow.request.url.params["file_id"] == status["file_id"]
    assert asked.follow.json()["file"]["file_id"] == int(status["file_id"])
    assert reading(asked).fields["video_url"] == file_url(dialect_sim, "minimax", video_id)
    # its documented in-body rate limit, scripted
    dialect_sim.add_job("minimax", video_id, "minimax", [{"_example": "rate_limited_1002"}])
    assert Asked(client, dialect_sim, "minimax", video_id).reading == Refusal(
        "rate_limited", "API error 1002: rate limit"
    )


@pytest.mark.parametrize("name", DIALECTS)
def test_faults_are_served_in_every_dialect(dialect_sim, client, name):
    video_id = new_dialect_id(name)
    timeline = [
        {"_fault": 429, "_retry_after": "120"},
        {"_fault": 503},
        {"_fault": "html"},
        {"_fault": "truncated"},
        {"_fault": "no_status", "status": "in_progress"},
        {"status": "completed"},
    ]
    dialect_sim.add_job(name, video_id, name, timeline)
    limited, unavailable, html, truncated, no_status, done = (
        Asked(client, dialect_sim, name, video_id) for _ in timeline
    )
    assert limited.response.status_code == 429 and limited.response.headers["retry-after"] == "120"
    assert unavailable.response.status_code == 503
    assert html.response.headers["content-type"].startswith("text/html")
    assert decoded(truncated.response) is None and isinstance(truncated.reading, Unreadable)
    # without a status an answer is unreadable, except Gemini's: an operation leaves out `done` while it runs
    if name == "gemini":
        assert reading(no_status).status is VideoStatus.IN_PROGRESS
    else:
        assert isinstance(no_status.reading, Unreadable | Refusal), no_status.reading
    assert reading(done).status is VideoStatus.COMPLETED


def test_gemini_429_is_its_documented_resource_exhausted_body(dialect_sim, client):
    video_id = new_dialect_id("gemini")
    dialect_sim.add_job("gemini", video_id, "gemini", [{"_fault": 429}])
    answer = Asked(client, dialect_sim, "gemini", video_id).response
    assert answer.status_code == 429 and answer.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_admin_api_scripts_a_dialect_job(dialect_sim, client):
    video_id = new_dialect_id("kling")
    spec = {"provider": "kling", "video_id": video_id, "style": "kling", "timeline": [{"status": "completed"}]}
    assert client.post(f"{dialect_sim.url}/_sim/jobs", json=spec).status_code == 201
    bad = {**spec, "timeline": [{"status": "succeed"}]}  # the common vocabulary, not the API's own words
    assert client.post(f"{dialect_sim.url}/_sim/jobs", json=bad).status_code == 400
    assert reading(Asked(client, dialect_sim, "kling", video_id)).status is VideoStatus.COMPLETED
    recorded = client.get(f"{dialect_sim.url}/_sim/requests", params={"provider": "kling", "video_id": video_id})
    assert [r["route"] for r in recorded.json()] == ["video"]
