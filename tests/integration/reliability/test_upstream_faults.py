"""Upstream faults over real HTTP (the simulated provider's `_fault` steps, a closed port), in-process runs
with the real adapters on moto: the run neither crashes nor stalls, other jobs are unaffected, the faulty job
keeps its state and backs off, and the fault shows in logs and metrics by provider and kind."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from reliability_harness import LEDGER
from videohook.adapters.coordination import DynamoRunCoordination
from videohook.observability import record_run
from videohook.services.poller import DEFAULT_RATE_LIMIT_PAUSE_S

from devtools.sim_provider import standard_timeline

# fault step -> the kind it must be counted as
TRANSIENT = {
    "500": "server_error",
    "502": "server_error",
    "503": "server_error",
    "504": "server_error",
    "reset": "network",
    "hang": "timeout",
    "drip": "timeout",
    "junk": "bad_body",
    "html": "bad_body",
    "truncated": "bad_body",
    "array": "bad_body",
    "no_status": "bad_body",
}
THEN_DONE = [{"status": "in_progress", "progress": 50}, {"status": "completed"}]


def vid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def test_every_transient_fault_backs_off_the_job_alone_and_shows_by_provider_and_kind(
    harness, logs, capsys, closed_port, monkeypatch
):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "videohook")
    # Given one hingnet job per fault (each then recovers), healthy jobs of both providers, and a job of a
    # provider whose base_url is a closed port (connection refused)
    providers = harness.provider("hingnet", timeout_seconds=1.0)  # hang and drip cost one second, not ten
    providers["deadco"] = type(providers["hingnet"])(
        name="deadco",
        base_url=harness.unreachable(closed_port, upstream=True),
        api_key_secret=providers["hingnet"].api_key_secret,
    )
    settings = harness.settings(providers=providers)
    faulty = {fault: vid(f"f{fault}") for fault in TRANSIENT}
    for fault, video_id in faulty.items():
        harness.track("hingnet", video_id, [{"_fault": fault}, *THEN_DONE], settings=settings)
    healthy = [("hingnet", vid("ok")), ("skyengine", vid("ok"))]
    for provider, video_id in healthy:
        harness.track(provider, video_id, standard_timeline(provider, steps=1), settings=settings)
    refused = vid("refused")
    harness.track("deadco", refused, [], settings=settings)
    # A connection closed before any answer: the transport (aiohttp's pool) retries an idempotent GET once on
    # a new connection, so the poll gets the provider's next answer instead of a fault.
    closed = vid("fclose")
    harness.track("hingnet", closed, [{"_fault": "close"}, *THEN_DONE], settings=settings)

    # When one run polls them all
    started = time.monotonic()
    report = harness.run(harness.poller(settings=settings))
    LEDGER.timings["every_transient_fault_run_with_1s_timeouts"] = time.monotonic() - started  # recorded only
    record_run(report)

    # Then every fault was counted by provider and kind (hang and drip as timeouts: cut at 1 s, not left hanging)
    expected = {f"hingnet:{kind}": list(TRANSIENT.values()).count(kind) for kind in set(TRANSIENT.values())}
    assert report.faults == {**expected, "deadco:network": 1}
    assert report.polled == len(TRANSIENT) + 4 and report.errors == 0 and report.conflicts == 0
    assert harness.sim.poll_count("hingnet", closed) == 2
    assert harness.item("hingnet", closed)["status"] == "in_progress"
    assert "error_streak" not in harness.item("hingnet", closed)
    for fault, video_id in faulty.items():
        item = harness.item("hingnet", video_id)
        assert item["status"] == "queued" and item["active"] is True, fault  # kept its state, not failed
        assert item["error_streak"] == 1 and item["polls"] == 1, fault
        polled_at = item["last_polled_at"]
        assert polled_at + 2 <= item["due_at"] <= polled_at + 6, fault  # backoff 2.5-5 s (base 5 s, equal jitter)
    assert harness.item("deadco", refused)["status"] == "queued"
    for provider, video_id in healthy:  # the same run served the others normally
        assert harness.item(provider, video_id)["polls"] == 1 and "error_streak" not in harness.item(provider, video_id)

    # and one log line per provider and kind names it, the metrics carry both dimensions
    lines = logs.messages("upstream fault")
    assert sorted((line["provider"], line["kind"]) for line in lines) == sorted(
        [("hingnet", kind) for kind in set(TRANSIENT.values())] + [("deadco", "network")]
    )
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"UpstreamFaults"' in line]
    seen = {(blob["provider"], blob["kind"]): sum(blob["UpstreamFaults"]) for blob in emf}  # EMF: [value]
    assert seen == {("hingnet", kind): count for kind, count in _counts(TRANSIENT.values()).items()} | {
        ("deadco", "network"): 1
    }

    # When the faults are over: every recovered job completes and is announced once
    harness.store().stop("deadco", refused, now=harness.clock())
    harness.offset += 6
    harness.settle(step_s=6, settings=settings)
    ids = harness.expect_events(
        *[("hingnet", v, "completed") for v in [*faulty.values(), closed]],
        *[(p, v, "completed") for p, v in healthy],
    )
    events = harness.events()
    assert sorted(event["id"] for event in events) == sorted(ids)


def _counts(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


@pytest.mark.parametrize("variant", ["seconds", "http-date", "absent"])
def test_429_pauses_the_whole_provider_across_runs_until_the_time_it_asked_for(harness, variant):
    # Given a hingnet job that answers 429 (asking for a pause far longer than any stall of this machine), other
    # hingnet jobs, and a skyengine job. The pause is then crossed on the poller's clock, not waited for.
    wait_s = 120
    date = int(time.time()) + wait_s
    retry_after = {
        "seconds": str(wait_s),
        "http-date": format_datetime(datetime.fromtimestamp(date, UTC), usegmt=True),
        "absent": None,
    }[variant]
    step = {"_fault": 429} | ({"_retry_after": retry_after} if retry_after else {})
    limited, others, sora = vid("limited"), [vid("other") for _ in range(3)], vid("sora")
    # One request at a time to hingnet, so the pause is seen before the next request would leave
    settings = harness.settings(providers=harness.provider("hingnet", max_concurrency=1))
    harness.track("hingnet", limited, [step, {"status": "completed"}], settings=settings)
    for video_id in others:
        harness.track("hingnet", video_id, [{"status": "completed"}], settings=settings)
    harness.track("skyengine", sora, [{"status": "pending"}, {"status": "completed"}], settings=settings)

    # When runs follow one another
    first = harness.run(harness.poller(settings=settings))
    first_ended = harness.clock()
    first_429_at = max(r.at for r in harness.sim.requests("hingnet") if r.video_id == limited)
    pause = DynamoRunCoordination(harness.client("dynamodb"), settings.jobs_table).paused_until(["hingnet"])
    hingnet_requests = len(harness.sim.requests("hingnet"))
    second = harness.run(harness.poller(settings=settings))

    # Then the 429 paused the provider until the time it asked for (stored for later runs), whenever it came:
    # a date is that date; seconds count from the answer (after the request came in, before the run ended)
    assert first.faults["hingnet:rate_limited"] == 1
    asked = wait_s if variant != "absent" else DEFAULT_RATE_LIMIT_PAUSE_S
    if variant == "http-date":
        assert date <= pause["hingnet"] <= date + 1  # stored in whole seconds, rounded up
    else:
        assert first_429_at + asked <= pause["hingnet"] <= first_ended + asked + 1
    # and the next run sent hingnet nothing while skyengine went on
    assert second.polled == 1 and harness.sim.poll_count("skyengine", sora) == 2
    assert len(harness.sim.requests("hingnet")) == hingnet_requests
    # and runs on a clock still short of the pause send it nothing either; past it, they poll hingnet again
    harness.offset = pause["hingnet"] - time.time() - 5
    assert harness.run(harness.poller(settings=settings)).polled == 0
    assert len(harness.sim.requests("hingnet")) == hingnet_requests
    harness.offset = pause["hingnet"] - time.time() + 1
    harness.settle(settings=settings, step_s=6)  # step past the job's own backoff (2.5-5 s)
    assert len(harness.sim.requests("hingnet")) > hingnet_requests, "hingnet was never polled again"
    assert harness.sim.poll_count("hingnet", limited) == 2
    assert all(harness.sim.poll_count("hingnet", video_id) == 1 for video_id in others)
    ids = harness.expect_events(
        ("hingnet", limited, "completed"),
        ("skyengine", sora, "completed"),
        *[("hingnet", v, "completed") for v in others],
    )
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)
    # and the operator's listing (`videohook ls`, a Scan) shows the jobs, not the pause item beside them
    assert sorted(job.video_id for job in harness.store().list_jobs()) == sorted([limited, sora, *others])


def test_401_and_403_are_logged_once_per_run_naming_the_provider_and_jobs_are_kept(harness, logs):
    # Given skyengine's secret holds a token the gateway refuses, and hingnet answers 403 to two jobs
    wrong_token = "tok-wrong-" + uuid.uuid4().hex
    right_token = harness.token("skyengine")
    harness.set_token("skyengine", wrong_token)
    refused = [vid("sora") for _ in range(3)]
    for video_id in refused:
        harness.track("skyengine", video_id, [{"status": "completed"}])
    forbidden = [vid("veo") for _ in range(2)]
    for video_id in forbidden:
        harness.track("hingnet", video_id, [{"_fault": 403}, {"status": "completed"}])

    # When two runs go by
    harness.run()
    harness.offset += 6
    second = harness.run()

    # Then each run logged one configuration error per provider, naming it and never the token
    errors = logs.messages("provider rejected the token")
    assert sorted(line["provider"] for line in errors) == ["hingnet", "skyengine", "skyengine"]
    assert all(line["level"] == "ERROR" for line in errors)
    assert wrong_token not in logs.everything()
    assert second.faults["skyengine:unauthorized"] == 3
    # and every job is kept, still active and due
    for video_id in refused:
        item = harness.item("skyengine", video_id)
        assert item["status"] == "queued" and item["active"] is True and "due_shard" in item
    # and once the right token is back (after the 5-minute token cache: a fresh poller here), they finish
    harness.set_token("skyengine", right_token)
    harness.offset += 20
    harness.settle(step_s=20)
    ids = harness.expect_events(
        *[("skyengine", v, "completed") for v in refused], *[("hingnet", v, "completed") for v in forbidden]
    )
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)


def test_three_404s_in_a_row_fail_the_job_once_and_a_200_between_resets_the_count(harness):
    gone, flaky = vid("gone"), vid("flaky")
    harness.track("hingnet", gone, [{"_fault": 404}])
    harness.track(
        "hingnet",
        flaky,
        [
            {"_fault": 404},
            {"_fault": 404},
            {"status": "in_progress", "progress": 30},
            {"_fault": 404},
            {"_fault": 404},
            {"status": "completed"},
        ],
    )
    harness.settle(step_s=30)
    item = harness.item("hingnet", gone)
    assert item["status"] == "failed" and item["error"]["code"] == "not_found" and item["polls"] == 3
    assert harness.item("hingnet", flaky)["status"] == "completed"
    assert harness.sim.poll_count("hingnet", flaky) == 6
    ids = harness.expect_events(("hingnet", gone, "failed"), ("hingnet", flaky, "completed"))
    events = harness.events()
    assert sorted(event["id"] for event in events) == sorted(ids)
    assert next(e for e in events if e["data"]["id"] == gone)["data"]["error"]["code"] == "not_found"


def test_a_hanging_upstream_cannot_hold_the_run_past_its_deadline(harness):
    # Given a provider that accepts connections and never answers, with a per-request timeout (30 s) far
    # beyond what the run has left, and healthy jobs of another provider
    settings = harness.settings(providers=harness.provider("skyengine", timeout_seconds=30.0))
    hung = [vid("hung") for _ in range(4)]
    for video_id in hung:
        harness.track("skyengine", video_id, [{"_fault": "hang"}], settings=settings)
    fine = [vid("fine") for _ in range(3)]
    for video_id in fine:
        harness.track("hingnet", video_id, [{"status": "completed"}], settings=settings)
    before = {video_id: harness.item("skyengine", video_id) for video_id in hung}

    # When a run with 10.5 s left starts (it stops starting polls 8 s before the end: a 2.5 s deadline)
    started = time.monotonic()
    report = harness.run(harness.poller(settings=settings), remaining_s=10.5)
    LEDGER.timings["hanging_upstream_run_with_10.5s_left"] = time.monotonic() - started  # recorded, not asserted

    # Then the run's deadline, not the provider's 30 s timeout, ended the hung polls (they would count as
    # `timeout` faults otherwise): abandoned, the jobs untouched and still due, the others done and announced
    assert report.out_of_time is True and report.skipped == len(hung) and report.faults == {}
    for video_id in hung:
        assert harness.item("skyengine", video_id) == before[video_id]
    assert report.completed == len(fine) and report.published == len(fine)
    ids = harness.expect_events(*[("hingnet", v, "completed") for v in fine])
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)


def test_a_provider_removed_from_the_configuration_is_skipped_with_a_clear_line(harness, logs):
    orphan, kept = vid("orphan"), vid("kept")
    harness.track("skyengine", orphan, [{"status": "completed"}])
    harness.track("hingnet", kept, [{"status": "completed"}])
    without = harness.settings(providers={"hingnet": harness.base_settings.providers["hingnet"]})

    report = harness.run(harness.poller(settings=without))

    assert report.skipped == 1 and report.completed == 1 and report.errors == 0
    (line,) = logs.messages("provider not configured")
    assert line["provider"] == "skyengine" and line["jobs"] == 1
    item = harness.item("skyengine", orphan)
    assert item["status"] == "queued" and "due_shard" in item and harness.sim.poll_count("skyengine", orphan) == 0
    # and when it is configured again, its job goes on
    harness.settle()
    ids = harness.expect_events(("skyengine", orphan, "completed"), ("hingnet", kept, "completed"))
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)


def test_a_job_older_than_max_age_fails_with_timeout_announced_once(harness):
    old = vid("old")
    harness.track("hingnet", old, [{"status": "in_progress", "progress": 10}])
    settings = harness.settings(max_job_age_s=60)
    harness.run(harness.poller(settings=settings))
    harness.offset += 61
    report = harness.run(harness.poller(settings=settings))
    assert report.failed == 1 and report.published == 1
    for _ in range(2):
        harness.offset += 61
        assert harness.run(harness.poller(settings=settings)).published == 0
    item = harness.item("hingnet", old)
    assert item["status"] == "failed" and item["error"]["code"] == "timeout" and "due_shard" not in item
    ids = harness.expect_events(("hingnet", old, "failed"))
    assert [event["id"] for event in harness.events()] == sorted(ids)


def test_an_undocumented_status_keeps_the_job_polled_and_expired_fails_it(harness):
    odd, expired = vid("odd"), vid("expired")
    harness.track("hingnet", odd, [{"status": "warming_up"}, {"status": "completed"}])
    harness.track("skyengine", expired, [{"status": "expired"}])
    first = harness.run()
    assert first.unknown_statuses == {"warming_up": 1}
    assert harness.item("hingnet", odd)["status"] == "queued" and "due_shard" in harness.item("hingnet", odd)
    harness.settle()
    assert harness.item("skyengine", expired)["error"]["code"] == "expired"
    ids = harness.expect_events(("hingnet", odd, "completed"), ("skyengine", expired, "failed"))
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)
