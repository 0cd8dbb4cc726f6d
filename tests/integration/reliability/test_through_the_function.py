"""A few of the faults through the real PollerFunction, invoked from template.yaml by local_invoke (a fresh
process with the function's own configuration, reading the Lambda context's remaining time)."""

from __future__ import annotations

import uuid

from reliability_harness import LEDGER

from devtools.fault_proxy import FaultProxy


def vid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def test_a_hanging_upstream_cannot_make_the_function_time_out(harness):
    # Given a provider that never answers, with a 30 s request timeout, and a function Timeout of 12 s
    hung, fine = vid("hung"), vid("fine")
    harness.track("skyengine", hung, [{"_fault": "hang"}])
    harness.track("hingnet", fine, [{"status": "completed"}])
    before = harness.item("skyengine", hung)
    providers = {name: dict(spec) for name, spec in harness.deployed.stack.providers.items()}
    providers["skyengine"]["timeout_seconds"] = 30

    result = harness.invoke(function_timeout_s=12, providers=providers)

    # Then the function returned its report before its timeout (local_invoke kills it at the timeout, as Lambda
    # does, and reports a Sandbox.Timedout error): the run's deadline, not the 30 s request timeout, ended it
    assert result.error is None, result.logs
    LEDGER.timings["hanging_upstream_function_invoke_with_12s_timeout"] = result.duration_s  # recorded only
    report = result.payload
    assert report["out_of_time"] is True and report["skipped"] == 1 and report["completed"] == 1
    assert report["faults"] == {}
    assert harness.item("skyengine", hung) == before  # untouched and still due
    ids = harness.expect_events(("hingnet", fine, "completed"))
    assert [event["id"] for event in harness.events()] == list(ids)


def test_secrets_manager_down_fails_the_invocation_naming_the_secret_and_the_next_one_recovers(harness, closed_port):
    video_id = vid("s")
    harness.track("hingnet", video_id, [{"status": "completed"}])
    before = harness.item("hingnet", video_id)
    tokens = [harness.token(name) for name in ("hingnet", "skyengine")]

    failed = harness.invoke(extra_env={"AWS_ENDPOINT_URL_SECRETS_MANAGER": harness.unreachable(closed_port)})

    assert failed.error is not None and failed.error["errorType"] == "RunFailed"
    assert harness.deployed.stack.secret_ids["hingnet"] in failed.error["errorMessage"]
    assert not any(token in failed.error["errorMessage"] or token in failed.logs for token in tokens)
    assert '"Errors"' in failed.logs  # the run's metrics were still flushed
    assert harness.item("hingnet", video_id) == before

    recovered = harness.invoke()
    assert recovered.error is None and recovered.payload["published"] == 1
    ids = harness.expect_events(("hingnet", video_id, "completed"))
    assert [event["id"] for event in harness.events()] == list(ids)


def test_throttled_table_and_partly_failed_publish_through_the_function(harness, moto_endpoint):
    jobs = [("hingnet", vid("t")), ("skyengine", vid("t")), ("hingnet", vid("t"))]
    for provider, video_id in jobs:
        harness.track(provider, video_id, [{"status": "completed"}])
    with FaultProxy(moto_endpoint) as proxy:
        proxy.add("dynamodb:PutItem", "throttle", every=2, max_attempt=1)
        proxy.add("dynamodb:Query", "throttle", every=4, max_attempt=1)
        proxy.add("sns:PublishBatch", "partial", times=1, fail_entries=lambda position, _body: position == 0)
        env = {"AWS_ENDPOINT_URL_DYNAMODB": proxy.url, "AWS_ENDPOINT_URL_SNS": proxy.url}

        first = harness.invoke(extra_env=env)
        second = harness.invoke(extra_env=env)

        LEDGER.aws_faults += proxy.total_injected()
        assert proxy.injected["dynamodb:PutItem throttle"] > 0
    assert first.error is None and second.error is None, first.logs + second.logs
    assert first.payload["completed"] == 3 and first.payload["errors"] == 0
    assert first.payload["published"] == 2 and first.payload["publish_failed"] == 1
    assert second.payload["published"] == 1 and second.payload["polled"] == 0
    ids = harness.expect_events(*[(p, v, "completed") for p, v in jobs])
    events = harness.events()
    assert sorted(event["id"] for event in events) == sorted(ids)
