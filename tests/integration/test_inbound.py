"""Providers' callbacks over real HTTP on loopback (issue 14): InboundFunction's handler served by
devtools.api_server (with ApiFunction's, for tracking), on a real table, topic and secrets in moto, fal's keys
from a JWKS server on 127.0.0.1. Every scheme's signed callback is accepted; forged, re-signed, replayed,
truncated and oversized ones are refused with nothing written (no item changed, nothing on the topic)."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from videohook.domain.events import event_id
from videohook.domain.models import VideoStatus

from devtools.api_server import ApiServer, forget_configuration
from devtools.local_invoke import apply_env_overrides, function_spec, load_template
from devtools.sim_provider import SimProvider
from tests.integration.conftest import (
    INBOUND_SCHEMES,
    INBOUND_SECRETS,
    ROOT,
    TOKEN_PROVIDERS,
    FalKeys,
    InboundDeployed,
    callback_body,
    callback_example,
    deploy_inbound,
    key_of,
    near_miss,
    new_dialect_id,
    published,
    reset_table,
    signed_callback,
    table_snapshot,
)

SIGNED = ("replicate", "gemini", "openrouter", "fal")
PUSHING = (*SIGNED, *TOKEN_PROVIDERS)
TOLERANCE_S = 300  # the default tolerance_seconds
MIB = 1024 * 1024
# the documented example of each provider's completed and failed callbacks (Gemini's webhooks only complete)
COMPLETED = {name: "completed" for name in PUSHING}
FAILED = {name: "failed" for name in PUSHING if name != "gemini"}


@pytest.fixture(scope="module")
def served(
    module_aws: dict[str, str], moto_endpoint: str, dialect_sim: SimProvider, fal_keys: FalKeys
) -> Iterator[tuple[InboundDeployed, httpx.Client]]:
    """One stack for the module, and ApiFunction's and InboundFunction's handlers in this process configured for
    it (their variables from template.yaml, the stack's applied), over HTTP. The tests share them: each tracks
    its own job ids and subscribes its own queue, and compares the table only before and after its own
    requests; the one whose poller run must see only its own job empties the table first."""
    stack = deploy_inbound(moto_endpoint, dialect_sim, fal_keys)
    template = load_template(ROOT / "template.yaml")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for function in ("ApiFunction", "InboundFunction"):
            for name, value in apply_env_overrides(function_spec(template, function), stack.env_overrides()).items():
                if not name.startswith("AWS_"):  # module_aws's: moto, never AWS
                    monkeypatch.setenv(name, value)
        try:
            with ApiServer() as server, httpx.Client(base_url=server.url, timeout=30) as client:
                yield stack, client
        finally:
            forget_configuration()


@pytest.fixture
def stack(served: tuple[InboundDeployed, httpx.Client]) -> InboundDeployed:
    return served[0]


@pytest.fixture
def http(served: tuple[InboundDeployed, httpx.Client]) -> httpx.Client:
    return served[1]


def track(http: httpx.Client, name: str) -> str:
    video_id = new_dialect_id(name)
    answer = http.post("/v1/jobs", json={"provider": name, "video_id": video_id})
    assert answer.status_code == 201, answer.text
    return video_id


def get_job(http: httpx.Client, name: str, video_id: str) -> dict[str, Any]:
    answer = http.get(f"/v1/jobs/{name}/{quote(video_id, safe='')}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(http: httpx.Client, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post(path, content=body, headers=headers)


def nothing_published(stack: InboundDeployed, queue: str) -> bool:
    """The queue subscribed to the topic holds nothing (the handler publishes before it answers, and moto
    delivers SNS to SQS within the publish call: what an answered request published is there already)."""
    return published(stack, queue) == []


# -- accepted --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "example"),
    [*((n, e) for n, e in COMPLETED.items() if n != "minimax"), *((n, e) for n, e in FAILED.items() if n != "minimax")],
)
def test_a_signed_callback_of_each_scheme_is_recorded_and_announced_once(stack, http, fal_keys, name, example):
    # Given a tracked job of a provider that calls back (not polled yet: its backstop is 300 s away)
    video_id = track(http, name)
    queue = stack.queue(f"in-{name}-" + uuid.uuid4().hex[:6])

    # When the provider's documented callback for that job comes, signed as the provider signs
    body = callback_body(name, example, video_id)
    path, headers = signed_callback(name, body, fal=fal_keys)
    answer = post(http, path, body, headers)

    # Then it is accepted, recorded as a poll would record it, seen by push, and published once, before the answer
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"object": "inbound.accepted", "provider": name}
    status = VideoStatus.COMPLETED if example == "completed" else VideoStatus.FAILED
    job = get_job(http, name, video_id)
    assert job["status"] == status.value
    assert job["tracking"]["active"] is False and job["tracking"]["seen"] == {status.value: "push"}
    assert job["tracking"]["polls"] == 0
    if status is VideoStatus.COMPLETED:
        assert job["video_url"] or job["content_url"], job
    else:
        assert job["error"]["message"], job
    (message,) = stack.drain(queue)
    assert message["body"]["id"] == event_id(name, video_id, status)
    assert message["body"]["type"] == f"video.{status.value}"
    assert message["attributes"] == {"type": f"video.{status.value}", "provider": name, "status": status.value}
    (item,) = [i for i in stack.items() if i.get("video_id") == video_id and not i["pk"].startswith("_")]
    assert "pending_event" not in item  # published, then the pending mark cleared


def test_a_progress_callback_is_recorded_without_an_event(stack, http, fal_keys):
    video_id = track(http, "luma")
    queue = stack.queue("in-progress-" + uuid.uuid4().hex[:6])
    body = callback_body("luma", "in_progress", video_id)
    path, headers = signed_callback("luma", body, fal=fal_keys)
    assert post(http, path, body, headers).status_code == 202
    job = get_job(http, "luma", video_id)
    assert job["status"] == "in_progress" and job["tracking"]["active"] is True
    assert job["tracking"]["seen"] == {"in_progress": "push"}
    assert job["tracking"]["next_poll_at"] >= time.time() + 200  # the next poll is only the backstop (300 s)
    assert nothing_published(stack, queue)


def test_minimax_challenge_is_echoed_and_a_wrong_token_refused(stack, http, fal_keys):
    video_id = track(http, "minimax")
    path, headers = signed_callback("minimax", b"", fal=fal_keys)
    before = table_snapshot(stack)
    challenge = {"challenge": "c-" + uuid.uuid4().hex}
    answer = post(http, path, json.dumps(challenge).encode(), headers)
    assert (answer.status_code, answer.json()) == (200, challenge)
    wrong_path = path.rsplit("/", 1)[0] + "/" + near_miss(INBOUND_SECRETS["minimax"])
    wrong = post(http, wrong_path, json.dumps(challenge).encode(), headers)
    assert wrong.status_code == 401 and "challenge" not in wrong.json()
    assert table_snapshot(stack) == before
    assert get_job(http, "minimax", video_id)["status"] == "queued"


def test_minimax_challenge_is_echoed_then_its_success_makes_the_file_lookup_due(stack, http, dialect_sim, fal_keys):
    # Given a tracked MiniMax job whose task the simulated provider reports done, alone in the table (the poller
    # run below polls every due job; the other tests' jobs are not this one's to poll)
    reset_table(stack)
    video_id = track(http, "minimax")
    dialect_sim.add_job("minimax", video_id, "minimax", [{"status": "completed"}])
    queue = stack.queue("in-minimax-" + uuid.uuid4().hex[:6])
    path, headers = signed_callback("minimax", b"", fal=fal_keys)
    before = table_snapshot(stack)

    # When MiniMax sends its handshake: the challenge is echoed, 200, and nothing is written
    challenge = {"challenge": "c-" + uuid.uuid4().hex}
    answer = post(http, path, json.dumps(challenge).encode(), headers)
    assert (answer.status_code, answer.json()) == (200, challenge)
    assert table_snapshot(stack) == before
    # and a handshake on a wrong token is refused, not echoed
    wrong_path = path.rsplit("/", 1)[0] + "/" + near_miss(INBOUND_SECRETS["minimax"])
    wrong = post(http, wrong_path, json.dumps(challenge).encode(), headers)
    assert wrong.status_code == 401 and "challenge" not in wrong.json()

    # When its processing callback comes, then its success (which carries no link, only a file_id)
    for example in ("in_progress", "completed"):
        assert post(http, path, callback_body("minimax", example, video_id), headers).status_code == 202

    # Then the job runs, seen by push, and is due at once for the file lookup; no event yet
    job = get_job(http, "minimax", video_id)
    assert job["status"] == "in_progress" and job["tracking"]["seen"] == {"in_progress": "push"}
    assert job["tracking"]["next_poll_at"] <= time.time() + 1
    assert nothing_published(stack, queue)

    # When the poller runs: it makes the lookup, and the job completes with the file's link, one event
    report = stack.poll()
    assert report["completed"] == 1, report
    job = get_job(http, "minimax", video_id)
    assert job["status"] == "completed" and job["video_url"]
    assert job["tracking"]["seen"] == {"in_progress": "push", "completed": "poll"}
    (message,) = stack.drain(queue)
    assert message["body"]["id"] == event_id("minimax", video_id, VideoStatus.COMPLETED)


def test_fal_keys_are_fetched_through_the_guard_once_and_cached(stack, http, fal_keys):
    forget_configuration()  # a cold start of the served functions: no key set cached (earlier tests here fetched it)
    fetched = fal_keys.fetches
    for _ in range(2):
        video_id = track(http, "fal")
        body = callback_body("fal", "completed", video_id)
        path, headers = signed_callback("fal", body, fal=fal_keys)
        assert post(http, path, body, headers).status_code == 202
    assert fal_keys.fetches == fetched + 1


def test_a_callback_for_a_job_not_tracked_is_kept_not_announced(stack, http, fal_keys):
    video_id = new_dialect_id("replicate")
    queue = stack.queue("in-early-" + uuid.uuid4().hex[:6])
    body = callback_body("replicate", "completed", video_id)
    path, headers = signed_callback("replicate", body, fal=fal_keys)
    assert post(http, path, body, headers).status_code == 202
    kept = [item for item in stack.items() if item["pk"] == f"_early#replicate#{video_id}"]
    assert len(kept) == 1 and len(kept[0]["readings"]) == 1
    assert not [item for item in stack.items() if item.get("video_id") == video_id and "_early" not in item["pk"]]
    assert nothing_published(stack, queue)


# -- refused, nothing written ----------------------------------------------------------------------------------
def _forged(name: str, body: bytes, fal: FalKeys) -> tuple[str, bytes, dict[str, str]]:
    """Signed for one body, another one sent (a token provider has nothing to forge but the token)."""
    path, headers = signed_callback(name, body, fal=fal)
    if name in TOKEN_PROVIDERS:
        return path.rsplit("/", 1)[0] + "/" + near_miss(INBOUND_SECRETS[name]), body, headers
    return path, body.replace(b'"succeeded"', b'"failed"').replace(b'"OK"', b'"ERROR"') + b" ", headers


def _wrong_key(name: str, body: bytes, fal: FalKeys) -> tuple[str, bytes, dict[str, str]]:
    if INBOUND_SCHEMES[name] == "fal":
        path, headers = signed_callback(name, body, fal=fal, fal_key=fal.stranger)
    elif INBOUND_SCHEMES[name] == "standard-webhooks":  # another provider's whsec_ key
        other = INBOUND_SECRETS["gemini" if name != "gemini" else "replicate"]
        path, headers = signed_callback(name, body, fal=fal, secret=other)
    else:
        path, headers = signed_callback(name, body, fal=fal, secret="not-" + INBOUND_SECRETS[name])
    return path, body, headers


def _replayed(name: str, body: bytes, fal: FalKeys) -> tuple[str, bytes, dict[str, str]]:
    path, headers = signed_callback(name, body, fal=fal, timestamp=int(time.time()) - TOLERANCE_S - 120)
    return path, body, headers


def _from_the_future(name: str, body: bytes, fal: FalKeys) -> tuple[str, bytes, dict[str, str]]:
    path, headers = signed_callback(name, body, fal=fal, timestamp=int(time.time()) + TOLERANCE_S + 120)
    return path, body, headers


def _truncated(name: str, body: bytes, fal: FalKeys) -> tuple[str, bytes, dict[str, str]]:
    path, headers = signed_callback(name, body, fal=fal)
    return path, body[: len(body) // 2], headers


def _unsigned(name: str, body: bytes, fal: FalKeys) -> tuple[str, bytes, dict[str, str]]:
    """No signature headers (a token provider: no token in the path)."""
    return f"/v1/inbound/{name}", body, {"content-type": "application/json"}


def _signed_with_a_path_token(name: str, body: bytes, fal: FalKeys) -> tuple[str, bytes, dict[str, str]]:
    path, headers = signed_callback(name, body, fal=fal)
    return f"{path}/{INBOUND_SECRETS.get(name, 'token')}", body, headers


REFUSALS = {
    "forged": _forged,
    "wrong_key": _wrong_key,
    "replayed": _replayed,
    "from_the_future": _from_the_future,
    "truncated": _truncated,
    "unsigned": _unsigned,
    "path_token_on_a_signed_scheme": _signed_with_a_path_token,
}
CASES = [
    (name, case)
    for name in ("replicate", "openrouter", "fal", "luma", "minimax")
    for case in REFUSALS
    if not (name in TOKEN_PROVIDERS and case in ("replayed", "from_the_future", "path_token_on_a_signed_scheme"))
]


@pytest.mark.parametrize(("name", "case"), CASES)
def test_a_callback_that_does_not_verify_is_refused_and_nothing_is_written(stack, http, fal_keys, name, case):
    # Given a tracked job, a subscriber, and everything in the table as it is
    video_id = track(http, name)
    queue = stack.queue(f"in-refused-{name}-" + uuid.uuid4().hex[:6])
    body = callback_body(name, "completed", video_id)
    path, sent, headers = REFUSALS[case](name, body, fal_keys)
    before = table_snapshot(stack)

    # When the bad callback comes
    answer = post(http, path, sent, headers)

    # Then 401 (a token provider's truncated body is its own, but no JSON: 400), and nothing changed anywhere
    expected = 400 if (case == "truncated" and name in TOKEN_PROVIDERS) else 401
    assert answer.status_code == expected, answer.text
    assert answer.json()["error"]["code"] == ("invalid_json" if expected == 400 else "bad_signature")
    assert table_snapshot(stack) == before
    assert nothing_published(stack, queue)
    assert get_job(http, name, video_id)["status"] == "queued"

    # and the genuine callback still goes through afterwards
    path, headers = signed_callback(name, body, fal=fal_keys)
    assert post(http, path, body, headers).status_code == 202


@pytest.mark.parametrize("name", ["replicate", "fal", "luma"])
@pytest.mark.parametrize("signed", [True, False])
def test_a_body_over_one_mib_is_refused_413_signed_or_not(stack, http, fal_keys, name, signed):
    video_id = track(http, name)
    queue = stack.queue(f"in-large-{name}-" + uuid.uuid4().hex[:6])
    document = callback_example(name, "completed", key_of(video_id))
    document["padding"] = "x" * MIB
    body = json.dumps(document).encode()
    path, headers = signed_callback(name, body, fal=fal_keys)
    if not signed:
        path, headers = f"/v1/inbound/{name}", {"content-type": "application/json"}
    before = table_snapshot(stack)
    answer = post(http, path, body, headers)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "body_too_large"
    assert table_snapshot(stack) == before
    assert nothing_published(stack, queue)


def test_exactly_one_mib_is_still_read(stack, http, fal_keys):
    video_id = track(http, "luma")
    document = callback_example("luma", "completed", key_of(video_id))
    document["padding"] = ""
    size = len(json.dumps(document).encode())
    document["padding"] = "x" * (MIB - size)
    body = json.dumps(document).encode()
    assert len(body) == MIB
    path, headers = signed_callback("luma", body, fal=fal_keys)
    assert post(http, path, body, headers).status_code == 202
    assert get_job(http, "luma", video_id)["status"] == "completed"


@pytest.mark.parametrize("name", ["runway", "dashscope", "nowhere"])
def test_a_provider_without_callbacks_answers_404_and_writes_nothing(stack, http, name):
    before = table_snapshot(stack)
    for path in (f"/v1/inbound/{name}", f"/v1/inbound/{name}/some-token"):
        answer = http.post(path, content=b'{"id": "x", "status": "SUCCEEDED"}')
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "unknown_inbound"
    assert table_snapshot(stack) == before


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"no": "job"}, "unreadable_callback"),
        ({"id": "{key}", "state": "teleported"}, "unreadable_callback"),
        ([1, 2, 3], "unreadable_callback"),
    ],
)
def test_a_verified_body_the_dialect_cannot_read_is_400_and_writes_nothing(stack, http, fal_keys, document, code):
    video_id = track(http, "luma")
    text = json.dumps(document).replace("{key}", video_id).encode()
    path, headers = signed_callback("luma", text, fal=fal_keys)
    before = table_snapshot(stack)
    answer = post(http, path, text, headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
    assert table_snapshot(stack) == before


def test_no_secret_or_token_in_the_served_functions_output(stack, http, fal_keys, capfd):
    """Every refusal and acceptance of every scheme, in this process: nothing the handlers print or log holds a
    secret or a path token (the right one, or a wrong one a caller sent)."""
    from videohook.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    logged = io.StringIO()
    previous = handler.setStream(logged)  # the functions' log lines, as Lambda would capture them
    sent_tokens = []
    try:
        for name in PUSHING:
            video_id = track(http, name)
            example = "in_progress" if name in ("replicate", *TOKEN_PROVIDERS) else "completed"
            body = callback_body(name, example, video_id)
            for case in ("forged", "wrong_key", "replayed", "truncated", "unsigned"):
                if case == "replayed" and name in TOKEN_PROVIDERS:
                    continue  # nothing signed, no timestamp to replay
                path, sent, headers = REFUSALS[case](name, body, fal_keys)
                if name in TOKEN_PROVIDERS and case == "forged":
                    sent_tokens.append(path.rsplit("/", 1)[-1])
                assert post(http, path, sent, headers).status_code in (400, 401)
            path, headers = signed_callback(name, body, fal=fal_keys)
            assert post(http, path, body, headers).status_code == 202
    finally:
        handler.setStream(previous)
    out, err = capfd.readouterr()
    output = logged.getvalue() + out + err
    assert "callback refused" in output  # the refusals were logged (without what was refused)
    for secret in [*INBOUND_SECRETS.values(), *sent_tokens]:
        assert secret not in output
        assert quote(secret, safe="") not in output
    for secret in INBOUND_SECRETS.values():
        if secret.startswith("whsec_"):
            assert secret.removeprefix("whsec_") not in output
