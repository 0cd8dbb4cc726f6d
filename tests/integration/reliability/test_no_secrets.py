"""No secret anywhere: a full run with faults (wrong and right tokens, 401, 429, 5xx, resets, timeouts, junk,
throttled table, Secrets Manager down), with every log captured at DEBUG (videohook's own lines and the
libraries': httpx, httpcore, botocore, urllib3, Powertools), stdout/stderr (EMF metrics), exception messages,
the run reports and every event delivered. No provider token and no webhook secret may appear in any of it."""

from __future__ import annotations

import json
import secrets
import uuid

import pytest
from videohook.adapters.secrets import SecretsManagerTokens
from videohook.observability import record_run
from videohook.services.poller import RunFailed

from devtools.local_webhooks import pump
from devtools.sim_provider import standard_timeline
from devtools.webhook_receiver import WebhookReceiver


def vid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def test_no_token_or_webhook_secret_in_any_log_event_or_error(
    harness, webhooks, proxy, logs, capfd, closed_port, monkeypatch
):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "videohook")
    harness_tokens = {name: harness.token(name) for name in ("hingnet", "skyengine")}
    wrong = "tok-wrong-" + secrets.token_hex(8)
    forbidden = [*harness_tokens.values(), wrong, webhooks.secret]

    # Given jobs meeting every kind of fault, one with a callback URL, on both providers
    settings = harness.settings(
        providers=harness.provider("hingnet", timeout_seconds=1.0), allow_loopback_callbacks=True
    )
    faults = ["500", "503", "reset", "close", "hang", "html", "truncated", "array", "no_status", "junk", "404"]
    for fault in faults:
        harness.track("hingnet", vid(fault), [{"_fault": fault}, {"status": "completed"}], settings=settings)
    harness.track(
        "hingnet", vid("limited"), [{"_fault": 429, "_retry_after": "1"}, {"status": "completed"}], settings=settings
    )
    receiver = WebhookReceiver().start()
    hooked = vid("hook")
    harness.track(
        "hingnet",
        hooked,
        standard_timeline("hingnet", steps=1),
        callback_url=receiver.url("/hook"),
        metadata={"order": "42"},
        settings=settings,
    )
    for _ in range(3):
        harness.track("skyengine", vid("sora"), standard_timeline("skyengine", "failed", steps=1), settings=settings)
    proxy.add("dynamodb:PutItem", "throttle", every=3, times=3, max_attempt=1)
    proxy.add("dynamodb:Query", "internal", every=5, times=2, max_attempt=1)

    # When runs go by: one with skyengine's token wrong (401s), one with Secrets Manager down, then normal ones
    errors: list[str] = []
    harness.set_token("skyengine", wrong)
    reports = [harness.run(harness.poller(settings=settings, dynamodb=proxy.url))]
    harness.set_token("skyengine", harness_tokens["skyengine"])
    down = SecretsManagerTokens(harness.client("secretsmanager", harness.unreachable(closed_port)))
    harness.offset += 10
    reports.append(harness.run(harness.poller(settings=settings, tokens=down)))
    with pytest.raises(RunFailed) as failure:
        reports[-1].raise_for_failure()
    errors.append(str(failure.value))
    for _ in range(8):
        harness.offset += 30
        reports.append(harness.run(harness.poller(settings=settings, dynamodb=proxy.url)))
        if not harness.due():
            break
    for report in reports:
        record_run(report)
    events = harness.events()
    # and WebhookFunction (from template.yaml, via local_invoke) signs and sends the webhook
    function_logs = []
    for _ in range(4):
        pumped = pump(webhooks, env_overrides=harness.deployed.env_overrides(ALLOW_LOOPBACK_CALLBACKS="true"))
        function_logs.append(pumped.logs)
        if not pumped.received:
            break
    receiver.stop()
    (hook,) = receiver.received("/hook")
    assert hook.verify("whsec_" + webhooks.secret)["data"]["id"] == hooked  # signed with the secret...

    # Then the runs did meet the faults and finished the jobs...
    kinds = {key.split(":")[1] for report in reports for key in report.faults}
    assert kinds >= {"server_error", "network", "timeout", "bad_body", "not_found", "rate_limited", "unauthorized"}
    assert sum(report.published for report in reports) == len(events) >= 10
    # ...and no secret is anywhere: logs (app and libraries, DEBUG), stdout/stderr, errors, reports, events
    captured = capfd.readouterr()
    haystacks = {
        "app logs": "\n".join(logs.app),
        "library logs": "\n".join(logs.library),
        "stdout": captured.out,
        "stderr": captured.err,
        "errors": "\n".join(errors),
        "reports": json.dumps([report.as_dict() for report in reports]),
        "events": json.dumps(events),
        "webhook function output": "\n".join(function_logs),
        "webhook as received": json.dumps({"headers": dict(hook.headers), "body": hook.body.decode()}),
    }
    # Libraries did log at DEBUG (botocore, with request bodies; the poller's aiohttp client logs no requests).
    assert len(logs.library) > 100 and any("Making request for OperationModel" in line for line in logs.library)
    assert any("Authorization" in line or "authorization" in line for line in logs.library)  # headers were seen
    for where, text in haystacks.items():  # ...and never shown
        for secret in forbidden:
            assert secret not in text, f"a secret leaked into {where}"
    harness.expect_events(*[(e["data"]["provider"], e["data"]["id"], e["data"]["status"]) for e in events])


def test_no_secret_in_the_function_output_at_debug_level(harness, closed_port):
    """Through the real function (local_invoke) with LogLevel DEBUG: its whole output, error included."""
    tokens = [harness.token(name) for name in ("hingnet", "skyengine")]
    harness.track("hingnet", vid("dbg"), [{"_fault": "503"}, {"status": "completed"}])
    harness.track("skyengine", vid("dbg"), [{"status": "completed"}])
    failed = harness.invoke(
        POWERTOOLS_LOG_LEVEL="DEBUG", extra_env={"AWS_ENDPOINT_URL_SECRETS_MANAGER": harness.unreachable(closed_port)}
    )
    ok = harness.invoke(POWERTOOLS_LOG_LEVEL="DEBUG")
    assert failed.error is not None and ok.error is None
    output = failed.logs + json.dumps(failed.error) + ok.logs + json.dumps(ok.payload)
    assert "poller run finished" in output and "cannot read provider token" in output
    assert not any(token in output for token in tokens)
    events = harness.events()
    assert len(events) == 1 and not any(token in json.dumps(events) for token in tokens)
    harness.expect_events(*[(e["data"]["provider"], e["data"]["id"], e["data"]["status"]) for e in events])
