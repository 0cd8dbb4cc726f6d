"""`videohook inbound-url` and the local stack's pushing providers, driven as a user would: the console script in a
process per command, against `videohook local up` in its own process (found through its state file).

The local stack's `replicate` signs its callbacks (Standard Webhooks) and `kling` signs nothing (a token in the
path); `hingnet` takes no callbacks. A job of a pushing provider ends through the simulated provider's callbacks
to InboundFunction, before its first (backstop) poll: its `tracking.seen` says push."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.cli.conftest import LocalStack


@pytest.fixture
def stack(local_stack: LocalStack) -> LocalStack:
    """The module's `videohook local up` (tests/cli/conftest.py)."""
    return local_stack


def test_a_signing_provider_gets_the_plain_inbound_url(stack):
    result = stack.run("inbound-url", "replicate")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{stack.state['api_url']}/v1/inbound/replicate\n"
    assert "standard-webhooks" in result.stderr and "videohook/replicate-inbound" in result.stderr
    answer = stack.json("inbound-url", "replicate")
    assert answer == {
        "provider": "replicate",
        "url": f"{stack.state['api_url']}/v1/inbound/replicate",
        "scheme": "standard-webhooks",
        "secret": "videohook/replicate-inbound",
        "token_shown": False,
    }
    assert "whsec_" not in result.stdout + result.stderr + json.dumps(answer)  # the signing secret stays put


def test_a_token_provider_shows_its_token_only_when_asked(stack):
    hidden = stack.run("inbound-url", "kling")
    assert hidden.returncode == 0, hidden.stderr
    assert hidden.stdout == f"{stack.state['api_url']}/v1/inbound/kling/<token>\n"
    assert "videohook/kling-inbound" in hidden.stderr and "--show-token" in hidden.stderr
    assert "local-kling-callback-token" not in hidden.stdout + hidden.stderr
    shown = stack.run("inbound-url", "kling", "--show-token")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == f"{stack.state['api_url']}/v1/inbound/kling/local-kling-callback-token\n"
    answer = stack.json("inbound-url", "kling", "--show-token")
    assert answer["token_shown"] is True and answer["url"].endswith("/kling/local-kling-callback-token")


def test_the_shown_url_is_the_one_the_inbound_function_takes(stack):
    """The printed token URL reaches InboundFunction and verifies (a 400 for an empty body, not a 401); the
    placeholder URL does not (401)."""
    import httpx

    url = stack.run("inbound-url", "kling", "--show-token").stdout.strip()
    placeholder = stack.run("inbound-url", "kling").stdout.strip()
    with httpx.Client(trust_env=False, timeout=30) as http:
        assert http.post(url, content=b"{}", headers={"content-type": "application/json"}).status_code == 400
        assert http.post(placeholder, content=b"{}").status_code == 401


def test_a_provider_without_callbacks_is_one_line_naming_the_key_to_add(stack):
    result = stack.run("inbound-url", "hingnet")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("videohook: error: provider 'hingnet' takes no callbacks")
    assert '"inbound"' in result.stderr and 'PROVIDERS["hingnet"]' in result.stderr
    unknown = stack.run("inbound-url", "nobody", "--json")
    assert unknown.returncode == 1
    error = json.loads(unknown.stderr)["error"]
    assert "'nobody' is not configured" in error["message"] and "replicate" in error["message"]


@pytest.mark.parametrize("provider, video_id", [("replicate", "pushcli{}"), ("kling", "text2video/{}")])
def test_a_pushing_providers_job_ends_by_its_callbacks(stack, provider, video_id):
    video_id = video_id.format(str(uuid.uuid4().int)[:12])
    assert stack.run("track", provider, video_id).returncode == 0
    watched = stack.run("watch", provider, video_id, "--timeout", "50", "--interval", "0.5")
    assert watched.returncode == 0, watched.stdout + watched.stderr + stack.log.read_text()[-2000:]
    job = stack.json("get", provider, video_id)
    assert job["status"] == "completed"
    assert job["tracking"]["seen"]["completed"] == "push"
    assert job["tracking"]["polls"] == 0  # the backstop poll was not due yet: the callback told it all


def test_a_lost_final_callback_leaves_the_job_running_for_the_backstop(stack):
    """No timing: the running callback came, the final one was dropped, so the job waits for its poll."""
    video_id = f"pushlost{str(uuid.uuid4().int)[:10]}"
    assert stack.run("track", "replicate", video_id).returncode == 0
    deadline = time.monotonic() + 40
    job = stack.json("get", "replicate", video_id)
    while job["tracking"]["seen"].get("in_progress") != "push" and time.monotonic() < deadline:
        time.sleep(0.5)
        job = stack.json("get", "replicate", video_id)
    assert job["tracking"]["seen"].get("in_progress") == "push"
    import httpx

    deadline = time.monotonic() + 40
    dropped: list[dict[str, Any]] = []
    with httpx.Client(trust_env=False, timeout=30) as http:
        while not dropped and time.monotonic() < deadline:
            query = {"provider": "replicate", "video_id": video_id}
            pushes = http.get(f"{stack.state['sim_url']}/_sim/pushes", params=query).json()
            dropped = [p for p in pushes if p["dropped"]]
            time.sleep(0.3)
    assert [p["status"] for p in dropped] == ["completed"]
    job = stack.json("get", "replicate", video_id)
    if job["status"] == "completed":  # the backstop poll came already (a slow machine): it, not a push, saw it
        assert job["tracking"]["seen"]["completed"] == "poll"
    else:
        assert job["status"] == "in_progress" and job["tracking"]["active"] is True
        assert job["tracking"]["next_poll_at"] is not None
