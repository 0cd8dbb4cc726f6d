"""Push first, poll as the backstop, end to end (issue 14): callbacks through InboundFunction and polls through
PollerFunction, both invoked as Lambda would invoke them (devtools.local_invoke), against moto and the
simulated provider on loopback. Whichever sees a transition first, or both, or a callback twice, late or out of
order: one event per transition, with the same id; `tracking.seen` says who saw each status first. Every line
the functions wrote is checked for the callback secrets and path tokens."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from videohook.domain.events import event_id
from videohook.domain.models import VideoStatus

from devtools.local_invoke import invoke
from devtools.sim_provider import SimProvider
from tests.integration.conftest import (
    INBOUND_SECRETS,
    ROOT,
    TOKEN_PROVIDERS,
    FalKeys,
    InboundDeployed,
    callback_body,
    callback_example,
    deploy_inbound,
    new_dialect_id,
    published,
    reset_table,
    signed_callback,
    table_snapshot,
)

END = {"completed": VideoStatus.COMPLETED, "failed": VideoStatus.FAILED}


@pytest.fixture(scope="module")
def shared_stack(
    module_aws: dict[str, str], moto_endpoint: str, dialect_sim: SimProvider, fal_keys: FalKeys
) -> InboundDeployed:
    """The module's stack of the default settings (backstop_seconds=0), deployed once."""
    return deploy_inbound(moto_endpoint, dialect_sim, fal_keys, backstop_seconds=0)


@pytest.fixture
def stacks(
    shared_stack: InboundDeployed, moto_endpoint: str, dialect_sim: SimProvider, fal_keys: FalKeys
) -> Iterator[Callable[..., InboundDeployed]]:
    """`stacks(**inbound settings)` (default backstop_seconds=0: every job due at every run, as the other
    end-to-end tests have it); afterwards, no line any function wrote holds a secret or a path token.

    The default settings' stack is the module's, its table emptied for the test (a poller run polls every due
    job: it sees only the test's own), with the test's own log; other settings get a stack of their own."""
    made: list[InboundDeployed] = []

    def make(**overrides: Any) -> InboundDeployed:
        if overrides and overrides != {"backstop_seconds": 0}:
            made.append(deploy_inbound(moto_endpoint, dialect_sim, fal_keys, **{"backstop_seconds": 0, **overrides}))
        else:
            reset_table(shared_stack)
            made.append(InboundDeployed(shared_stack.stack, shared_stack.endpoint, dict(shared_stack.variables)))
        return made[-1]

    yield make
    for stack in made:
        assert_no_secret(stack.logs)


@pytest.fixture
def stack(stacks) -> InboundDeployed:
    return stacks()


def assert_no_secret(logs: list[str], extra: tuple[str, ...] = ()) -> None:
    output = "\n".join(logs)
    assert output, "no function output was captured"
    for secret in (*INBOUND_SECRETS.values(), *extra):
        assert secret not in output and quote(secret, safe="") not in output
        assert secret.removeprefix("whsec_") not in output


def track(stack: InboundDeployed, name: str, video_id: str | None = None) -> tuple[str, dict[str, Any]]:
    video_id = video_id or new_dialect_id(name)
    status, job = stack.api("POST", "/v1/jobs", {"provider": name, "video_id": video_id})
    assert status == 201, job
    return video_id, job


def get(stack: InboundDeployed, name: str, video_id: str) -> dict[str, Any]:
    return stack.job(name, video_id)


def push(stack: InboundDeployed, fal: FalKeys, name: str, example: str, video_id: str) -> tuple[int, dict[str, Any]]:
    """The provider's documented `example` callback for the job, signed now, through InboundFunction."""
    body = callback_body(name, example, video_id)
    path, headers = signed_callback(name, body, fal=fal)
    return stack.callback(path, body, headers)


def new_queue(stack: InboundDeployed, name: str) -> str:
    return stack.queue(f"e2e-{name}-" + uuid.uuid4().hex[:6], {"provider": [name]})


def assert_one_event(messages: list[dict[str, Any]], name: str, video_id: str, status: VideoStatus) -> None:
    (message,) = messages
    assert message["body"]["id"] == event_id(name, video_id, status)
    assert message["body"]["type"] == f"video.{status.value}"
    assert message["body"]["data"]["id"] == video_id and message["body"]["data"]["status"] == status.value


# -- push then poll, poll then push ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["replicate", "fal", "kling"])
def test_push_then_poll_one_event_and_the_poll_asks_nothing(stack, dialect_sim, fal_keys, name):
    # Given a tracked job that the provider also reports completed when polled
    video_id, _ = track(stack, name)
    dialect_sim.add_job(name, video_id, name, [{"status": "completed"}])
    queue = new_queue(stack, name)

    # When its completed callback comes, then the poller runs
    assert push(stack, fal_keys, name, "completed", video_id)[0] == 202
    announced = published(stack, queue, expect=1)
    report = stack.poll()

    # Then the callback's event is the only one; the finished job is not polled
    assert_one_event(announced, name, video_id, VideoStatus.COMPLETED)
    assert report["published"] == 0 and report["polled"] == 0, report
    assert dialect_sim.poll_count(name, video_id) == 0
    assert published(stack, queue) == []
    job = get(stack, name, video_id)
    assert job["status"] == "completed" and job["tracking"]["seen"] == {"completed": "push"}


@pytest.mark.parametrize(("name", "outcome"), [("replicate", "completed"), ("luma", "failed"), ("fal", "failed")])
def test_poll_then_push_one_event_and_the_late_callback_writes_nothing(stack, dialect_sim, fal_keys, name, outcome):
    # Given a job the poller sees end (completed, or failed)
    video_id, _ = track(stack, name)
    error = {"code": "generation_failed", "message": "Simulated failure"}
    dialect_sim.add_job(
        name, video_id, name, [{"status": outcome, **({"error": error} if outcome == "failed" else {})}]
    )
    queue = new_queue(stack, name)
    report = stack.poll()
    assert report[outcome] == 1, report
    announced = published(stack, queue, expect=1)
    before = table_snapshot(stack)

    # When the provider's callbacks come after that: the same end, and a completed one after a failed poll
    for example in ("completed", "failed") if name != "replicate" else ("completed",):
        status, answer = push(stack, fal_keys, name, example, video_id)
        assert status == 202, answer

    # Then the poll's event is the only one, and nothing was written
    assert_one_event(announced, name, video_id, END[outcome])
    assert published(stack, queue) == []
    assert table_snapshot(stack) == before
    job = get(stack, name, video_id)
    assert job["status"] == outcome and job["tracking"]["seen"] == {outcome: "poll"}


def test_progress_pushed_then_the_end_polled(stack, dialect_sim, fal_keys):
    # Given a running Luma job whose callbacks announce its progress but whose completed callback is lost
    video_id, _ = track(stack, "luma")
    dialect_sim.add_job("luma", video_id, "luma", [{"status": "completed"}])
    queue = new_queue(stack, "luma")
    assert push(stack, fal_keys, "luma", "in_progress", video_id)[0] == 202
    assert get(stack, "luma", video_id)["tracking"]["seen"] == {"in_progress": "push"}

    # When the poller runs (backstop_seconds 0: the job is still due at each run)
    report = stack.poll()

    # Then the poll saw the end: one event; the job says which status was seen how
    assert report["completed"] == 1 and report["published"] == 1, report
    assert_one_event(published(stack, queue, expect=1), "luma", video_id, VideoStatus.COMPLETED)
    job = get(stack, "luma", video_id)
    assert job["tracking"]["seen"] == {"in_progress": "push", "completed": "poll"}
    # and the completed callback arriving late changes nothing
    assert push(stack, fal_keys, "luma", "completed", video_id)[0] == 202
    assert published(stack, queue) == []


# -- duplicates and out of order -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["openrouter", "ark"])
def test_duplicate_pushes_one_event(stack, fal_keys, name):
    video_id, _ = track(stack, name)
    queue = new_queue(stack, name)
    body = callback_body(name, "completed", video_id)
    path, headers = signed_callback(name, body, fal=fal_keys)

    # When the same callback comes three times: twice the very same request (a retry), once signed anew
    first = stack.callback(path, body, headers)
    after_first = table_snapshot(stack)
    again = stack.callback(path, body, headers)
    path, headers = signed_callback(name, body, fal=fal_keys)
    third = stack.callback(path, body, headers)

    # Then each is accepted, but only the first wrote anything, and there is one event
    assert [first[0], again[0], third[0]] == [202, 202, 202]
    assert table_snapshot(stack) == after_first
    assert_one_event(published(stack, queue, expect=1), name, video_id, VideoStatus.COMPLETED)
    assert published(stack, queue) == []
    assert get(stack, name, video_id)["tracking"]["seen"] == {"completed": "push"}


@pytest.mark.parametrize(
    ("name", "order", "end"),
    [
        ("ark", ["failed", "completed", "in_progress"], "failed"),  # a completed after failed; progress after the end
        ("kling", ["completed", "in_progress", "failed"], "completed"),
        ("replicate", ["in_progress", "completed", "in_progress"], "completed"),  # starting after the end
    ],
)
def test_out_of_order_pushes_never_move_a_job_back(stack, fal_keys, name, order, end):
    video_id, _ = track(stack, name)
    queue = new_queue(stack, name)
    snapshots = []
    for example in order:
        status, answer = push(stack, fal_keys, name, example, video_id)
        assert status == 202, answer
        snapshots.append(table_snapshot(stack))
    ended_at = order.index(end)
    assert all(later == snapshots[ended_at] for later in snapshots[ended_at + 1 :])  # nothing written after the end
    assert_one_event(published(stack, queue, expect=1), name, video_id, END[end])
    assert published(stack, queue) == []
    job = get(stack, name, video_id)
    assert job["status"] == end and job["tracking"]["active"] is False
    assert job["tracking"]["seen"][end] == "push"


# -- the backstop ----------------------------------------------------------------------------------------------
def test_a_lost_callback_is_caught_by_the_backstop_poll(stack, dialect_sim, fal_keys):
    # Given a fal job (signed callbacks) whose callback never comes
    video_id, _ = track(stack, "fal")
    dialect_sim.add_job("fal", video_id, "fal", [{"status": "in_progress"}, {"status": "completed"}])
    queue = new_queue(stack, "fal")

    # When the poller runs as the backstop (backstop_seconds 0 here)
    first, second = stack.poll(), stack.poll()

    # Then the polls caught the end: one event, seen by poll
    assert (first["completed"], second["completed"]) == (0, 1), (first, second)
    assert second["seen_by_poll"] == {"fal": 1}, second
    assert_one_event(published(stack, queue, expect=1), "fal", video_id, VideoStatus.COMPLETED)
    job = get(stack, "fal", video_id)
    assert job["tracking"]["seen"] == {"in_progress": "poll", "completed": "poll"}


def test_a_provider_that_calls_back_is_polled_only_on_its_backstop(stacks, dialect_sim, fal_keys):
    # Given a stack whose pushing providers are polled at most hourly, and a job of one of them
    stack = stacks(backstop_seconds=3600)
    video_id, tracked = track(stack, "luma")
    dialect_sim.add_job("luma", video_id, "luma", [{"status": "completed"}])
    assert tracked["tracking"]["next_poll_at"] >= tracked["tracking"]["tracked_at"] + 3600

    # When the poller runs right away, and a progress callback comes
    report = stack.poll()
    assert push(stack, fal_keys, "luma", "in_progress", video_id)[0] == 202

    # Then nothing was polled, and the callback left the next poll on the backstop
    assert report["polled"] == 0 and dialect_sim.poll_count("luma", video_id) == 0, report
    job = get(stack, "luma", video_id)
    assert job["status"] == "in_progress" and job["tracking"]["next_poll_at"] >= time.time() + 3000


# -- before tracking -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "example"), [("luma", "completed"), ("fal", "completed"), ("kling", "failed")])
def test_a_callback_before_tracking_is_applied_at_tracking_and_published_by_the_next_run(
    stack, dialect_sim, fal_keys, name, example
):
    # Given a callback for a job nobody tracked yet (fal and Kling name it by a part of its id)
    video_id = new_dialect_id(name)
    dialect_sim.add_job(name, video_id, name, [{"status": "in_progress"}])  # were it polled: still running
    queue = new_queue(stack, name)
    status, answer = push(stack, fal_keys, name, example, video_id)
    assert status == 202, answer
    assert published(stack, queue) == []
    assert [item for item in stack.items() if item["pk"].startswith(f"_early#{name}#")]

    # When the job is tracked
    _, tracked = track(stack, name, video_id)

    # Then it carries the callback's end, seen by push, and the kept callback is gone
    assert tracked["status"] == example and tracked["tracking"]["active"] is False, tracked
    assert tracked["tracking"]["seen"] == {example: "push"}
    assert not [item for item in stack.items() if item["pk"].startswith(f"_early#{name}#")]
    assert published(stack, queue) == []  # the API publishes nothing itself

    # When the poller runs: it publishes the pending event, once, without polling the provider
    first, second = stack.poll(), stack.poll()
    assert first["published"] == 1 and second["published"] == 0, (first, second)
    assert_one_event(published(stack, queue, expect=1), name, video_id, END[example])
    assert published(stack, queue) == []
    assert dialect_sim.poll_count(name, video_id) == 0


def test_a_progress_callback_before_tracking_is_applied_without_an_event(stack, fal_keys):
    video_id = new_dialect_id("kling")
    queue = new_queue(stack, "kling")
    assert push(stack, fal_keys, "kling", "in_progress", video_id)[0] == 202
    _, tracked = track(stack, "kling", video_id)
    assert tracked["status"] == "in_progress" and tracked["tracking"]["active"] is True
    assert tracked["tracking"]["seen"] == {"in_progress": "push"}
    assert published(stack, queue) == []


# -- logs ------------------------------------------------------------------------------------------------------
def test_refused_and_accepted_callbacks_log_no_secret_nor_token(stack, fal_keys):
    """Through InboundFunction as Lambda runs it (its whole output captured): right and wrong tokens, right and
    wrong keys; the refusals are logged, without what was refused."""
    wrong_tokens = []
    for name in ("replicate", "openrouter", "fal", "luma", "minimax"):
        video_id, _ = track(stack, name)
        body = json.dumps(callback_example(name, "failed", video_id.rsplit("/", 1)[-1])).encode()
        if name in TOKEN_PROVIDERS:
            wrong = INBOUND_SECRETS[name][:-4] + "0000"
            wrong_tokens.append(wrong)
            bad = stack.callback(f"/v1/inbound/{name}/{wrong}", body, {"content-type": "application/json"})
        elif name == "fal":
            path, headers = signed_callback(name, body, fal=fal_keys, fal_key=fal_keys.stranger)
            bad = stack.callback(path, body, headers)
        else:  # another provider's key
            other = INBOUND_SECRETS["gemini" if name == "replicate" else "luma"]
            path, headers = signed_callback(name, body, fal=fal_keys, secret=other)
            bad = stack.callback(path, body, headers)
        assert bad[0] == 401, bad
        path, headers = signed_callback(name, body, fal=fal_keys)
        assert stack.callback(path, body, headers)[0] == 202
    assert "callback refused" in "\n".join(stack.logs)
    assert_no_secret(stack.logs, tuple(wrong_tokens))


@pytest.mark.parametrize("event", ["inbound-callback.json", "inbound-token-callback.json"])
def test_the_sample_events_reach_inbound_function_and_are_refused_here(stack, event):
    """events/inbound-*.json (for `sam local invoke InboundFunction -e`): routed, read and verified; their sample
    key, old timestamp and sample token are not this stack's, so 401 and nothing written."""
    sample = json.loads((ROOT / "events" / event).read_text())
    before = table_snapshot(stack)
    result = invoke(
        "InboundFunction", sample, template_path=str(ROOT / "template.yaml"), env_overrides=stack.env_overrides()
    )
    stack.logs.append(result.logs)
    assert result.error is None, result.logs
    assert result.payload["statusCode"] == 401, result.payload
    assert json.loads(result.payload["body"])["error"]["code"] == "bad_signature"
    assert table_snapshot(stack) == before
