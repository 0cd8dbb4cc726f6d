"""Who may see a job (PRODUCT.md), end to end: ApiFunction invoked from template.yaml (as `sam local invoke`
would) with HTTP API events signed by different IAM principals, on a real table in moto; the redeliver route
through the real webhook queue and WebhookFunction to a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from videohook.adapters.job_store import DynamoJobStore
from videohook.domain.models import Job

from devtools.api_events import http_api_event
from devtools.local_invoke import invoke
from devtools.local_webhooks import deploy_webhooks, pump
from devtools.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-alice/task-1"
ALICE_LATER = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-alice/task-2"  # new credentials, same role
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
OPERATOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/videohook-operator/cli-session"
OPERATOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ops/videohook-operator"  # as OPERATOR_PRINCIPALS names it


@pytest.fixture
def api(deployed):
    webhooks = deploy_webhooks(
        deployed.endpoint,
        deployed.stack.topic_arn,
        template_path=str(ROOT / "template.yaml"),
        suffix=deployed.stack.suffix,
        retry_schedule="0,1",
    )
    deployed.variables.update(webhooks.variables())

    def call(principal: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        event = http_api_event(method, path, body)
        event["requestContext"]["authorizer"]["iam"]["userArn"] = principal
        overrides = deployed.env_overrides()
        overrides["ApiFunction"] = {"OPERATOR_PRINCIPALS": OPERATOR_ROLE}  # the template's OperatorPrincipals
        result = invoke("ApiFunction", event, template_path=str(ROOT / "template.yaml"), env_overrides=overrides)
        assert result.error is None, f"{result.error}\n{result.logs}"
        return result.payload["statusCode"], json.loads(result.payload["body"])

    call.webhooks = webhooks  # type: ignore[attr-defined]
    return call


def vid() -> str:
    return f"video_{uuid.uuid4().hex[:10]}"


def items(deployed) -> dict[str, dict]:
    return {item["pk"]: item for item in deployed.items()}


def not_found(video_id: str) -> dict:
    """The answer for a job that does not exist."""
    message = f"No job {video_id!r} of provider 'hingnet' is tracked"
    return {"error": {"message": message, "type": "invalid_request_error", "code": "job_not_found", "param": None}}


def test_another_principals_job_is_not_found_and_its_id_cannot_be_taken(deployed, sim, api):
    # Given a job Alice tracked, with a token in its callback URL and metadata
    video = vid()
    sim.add_job("hingnet", video, "hingnet", [{"status": "in_progress", "progress": 10}])
    body = {
        "provider": "hingnet",
        "video_id": video,
        "callback_url": "https://hooks.example.com/a?token=t0k",
        "metadata": {"order": "7"},
    }
    status, job = api(ALICE, "POST", "/v1/jobs", body)
    assert status == 201 and job["callback_url"] == body["callback_url"]  # the owner sees it whole
    stored = items(deployed)

    # When Bob reads, stops, redelivers it, or tracks the same video id
    answers = {
        "get": api(BOB, "GET", f"/v1/jobs/hingnet/{video}"),
        "stop": api(BOB, "DELETE", f"/v1/jobs/hingnet/{video}"),
        "redeliver": api(BOB, "POST", f"/v1/jobs/hingnet/{video}/redeliver"),
        "unknown": api(BOB, "GET", "/v1/jobs/hingnet/video_never_tracked"),
    }
    track_status, conflict = api(BOB, "POST", "/v1/jobs", {**body, "callback_url": "https://bob.example.com/x"})

    # Then each of Alice's job's answers is the answer for a job that does not exist
    for route in ("get", "stop", "redeliver"):
        assert answers[route] == (404, not_found(video)), route
    assert answers["unknown"] == (404, not_found("video_never_tracked"))
    # and tracking it is a 409 that names no one and writes nothing
    assert track_status == 409 and conflict["error"]["code"] == "job_owned_elsewhere"
    assert conflict["error"]["type"] == "invalid_request_error" and "alice" not in json.dumps(conflict)
    assert items(deployed) == stored
    # and Alice, with new credentials of the same role, still has it as it was, and can stop it
    status, again = api(ALICE_LATER, "GET", f"/v1/jobs/hingnet/{video}")
    assert status == 200 and again == job
    assert api(ALICE_LATER, "POST", "/v1/jobs", body) == (200, job)
    status, stopped = api(ALICE_LATER, "DELETE", f"/v1/jobs/hingnet/{video}")
    assert status == 200 and stopped["tracking"]["active"] is False


def test_two_principals_tracking_one_id_at_once_get_one_job(deployed, api):
    video = vid()
    body = {"provider": "hingnet", "video_id": video}
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda who: (who, *api(who, "POST", "/v1/jobs", body)), [ALICE, BOB]))
    statuses = sorted(status for _, status, _ in answers)
    assert statuses == [201, 409]
    (winner,) = [who for who, status, _ in answers if status == 201]
    loser = BOB if winner == ALICE else ALICE
    assert api(winner, "GET", f"/v1/jobs/hingnet/{video}")[0] == 200
    assert api(loser, "GET", f"/v1/jobs/hingnet/{video}")[0] == 404
    assert len(items(deployed)) == 1


def test_an_operator_sees_and_acts_on_every_job(deployed, sim, api):
    # Given Alice's finished job with a callback to a local receiver, and a job stored before jobs had owners
    with WebhookReceiver() as receiver:
        video, legacy = vid(), vid()
        sim.add_job("hingnet", video, "hingnet", [{"status": "completed", "progress": 100}])
        url = receiver.url("/hooks/alice?token=t0k")
        assert api(ALICE, "POST", "/v1/jobs", {"provider": "hingnet", "video_id": video, "callback_url": url})[0] == 201
        deployed.poll()
        jobs = DynamoJobStore(
            boto3.client("dynamodb", endpoint_url=deployed.endpoint),
            deployed.stack.table_name,
            due_shards=16,
            retention_s=86400,
        )
        jobs.create(Job("hingnet", legacy, tracked_at=1, next_poll_at=2**40))  # no owner

        # When the operator reads it, tracks its id, and asks for a redelivery
        status, seen = api(OPERATOR, "GET", f"/v1/jobs/hingnet/{video}")
        assert status == 200 and seen["status"] == "completed" and seen["callback_url"] == url
        assert api(OPERATOR, "POST", "/v1/jobs", {"provider": "hingnet", "video_id": video})[0] == 200
        status, queued = api(OPERATOR, "POST", f"/v1/jobs/hingnet/{video}/redeliver")
        assert status == 202 and queued["callback_url"] == url
        for _ in range(3):
            if not pump(api.webhooks, env_overrides=deployed.env_overrides()).received:
                break

        # Then the webhook went to Alice's receiver, and the job is still Alice's
        assert len(receiver.received("/hooks/alice")) == 2  # the poller's event, and the redelivery
        assert api(ALICE, "GET", f"/v1/jobs/hingnet/{video}")[0] == 200
        assert api(BOB, "GET", f"/v1/jobs/hingnet/{video}")[0] == 404

    # And the job without an owner is the operator's to see and stop, and no one else's
    assert api(ALICE, "GET", f"/v1/jobs/hingnet/{legacy}") == (404, not_found(legacy))
    assert api(ALICE, "POST", "/v1/jobs", {"provider": "hingnet", "video_id": legacy})[1]["error"]["code"] == (
        "job_owned_elsewhere"
    )
    assert api(OPERATOR, "GET", f"/v1/jobs/hingnet/{legacy}")[0] == 200
    status, stopped = api(OPERATOR, "DELETE", f"/v1/jobs/hingnet/{legacy}")
    assert status == 200 and stopped["tracking"]["active"] is False


def test_the_owner_is_stored_and_never_shown(deployed, sim, api):
    video = vid()
    sim.add_job("hingnet", video, "hingnet", [{"status": "completed", "progress": 100}])
    subscriber = deployed.queue("sub-" + uuid.uuid4().hex[:6])
    url = "https://hooks.example.com/in?token=t0k"  # (the API refuses user info in a callback URL)
    status, job = api(ALICE, "POST", "/v1/jobs", {"provider": "hingnet", "video_id": video, "callback_url": url})
    assert status == 201
    deployed.poll()
    (event,) = [m["body"] for m in deployed.drain(subscriber)]
    (item,) = deployed.items()
    assert item["owner"] == f"arn:aws:iam::{ACCOUNT}:role/app-alice"
    assert event["data"]["callback_url"] == "https://hooks.example.com/in"
    for shown in (json.dumps(job), json.dumps(event), json.dumps(api(ALICE, "GET", f"/v1/jobs/hingnet/{video}")[1])):
        assert "app-alice" not in shown
