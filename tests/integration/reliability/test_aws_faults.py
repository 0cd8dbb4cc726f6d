"""AWS faults over real HTTP: the fault proxy in front of moto answers chosen DynamoDB, SNS and Secrets
Manager requests with throttling, 5xx, lost answers and partial PublishBatch failures."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError
from videohook.adapters.secrets import SecretsManagerTokens
from videohook.services.poller import RunFailed

from devtools.sim_provider import standard_timeline


def vid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def is_job_write(body: bytes) -> bool:
    return b'"version"' in body and b"_lease#" not in body and b"_pause#" not in body


def test_dynamodb_throttling_and_5xx_are_retried_and_every_job_is_announced_once(harness, proxy):
    # Given every kind of table call meets throttling or a 5xx (botocore's standard mode, as configured, makes
    # 1 try + 3 retries with exponential backoff: one request here fails twice, the others once)
    proxy.add("dynamodb:BatchGetItem", "throttle", times=2)
    proxy.add("dynamodb:PutItem", "throttle", every=2, times=20, max_attempt=1)
    proxy.add("dynamodb:Query", "provisioned", every=3, times=20, max_attempt=1)
    proxy.add("dynamodb:UpdateItem", "internal", every=2, times=10, max_attempt=1)
    proxy.add("dynamodb:DeleteItem", "unavailable", every=2, times=10, max_attempt=1)
    jobs = [("hingnet", vid("veo")) for _ in range(5)] + [("skyengine", vid("sora")) for _ in range(5)]
    for provider, video_id in jobs:
        harness.track(provider, video_id, standard_timeline(provider, steps=0))  # two polls each

    # When runs go until nothing is due, through the proxy
    reports = harness.settle(dynamodb=proxy.url)

    # Then botocore's retries absorbed every fault: no run error, each job announced once
    assert proxy.total_injected() >= 20, proxy.injected
    assert {key.split()[0] for key in proxy.injected} >= {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
    assert sum(report.errors for report in reports) == 0
    ids = harness.expect_events(*[(p, v, "completed") for p, v in jobs])
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)


def test_a_run_that_cannot_write_leaves_every_job_due_and_unchanged(harness, proxy):
    done, running = vid("done"), vid("running")
    harness.track("hingnet", done, [{"status": "completed"}])
    harness.track("hingnet", running, [{"status": "in_progress", "progress": 40}])
    before = {item["pk"]: item for item in harness.items()}

    # When every job write fails, retries included
    proxy.add("dynamodb:PutItem", "internal", match=is_job_write)
    report = harness.run(dynamodb=proxy.url)

    # Then the run finished, counted the errors, and the items are exactly as they were: due, no half state
    assert report.polled == 2 and report.errors == 2 and report.published == 0
    assert {item["pk"]: item for item in harness.items()} == before
    assert all("due_shard" in item and "pending_event" not in item for item in harness.items())
    assert proxy.injected["dynamodb:PutItem internal"] == 2 * 4  # 1 try + 3 retries each

    # When the table is back, the next run records and announces them
    proxy.clear()
    harness.run(dynamodb=proxy.url)
    assert harness.item("hingnet", done)["status"] == "completed"
    ids = harness.expect_events(("hingnet", done, "completed"))
    assert [event["id"] for event in harness.events()] == list(ids)


def test_dynamodb_down_at_start_fails_the_run_clearly_and_touches_nothing(harness, proxy):
    video_id = vid("early")
    harness.track("skyengine", video_id, [{"status": "completed"}])
    proxy.add("*", "unavailable")
    with pytest.raises(ClientError, match="ServiceUnavailable"):
        harness.run(dynamodb=proxy.url)
    assert harness.sim.poll_count("skyengine", video_id) == 0
    proxy.clear()
    harness.run(dynamodb=proxy.url)
    ids = harness.expect_events(("skyengine", video_id, "completed"))
    assert [event["id"] for event in harness.events()] == list(ids)


def test_a_lost_answer_to_the_terminal_write_is_announced_after_the_lease_once(harness, proxy):
    # Given the write recording the terminal state lands but its answer is lost (botocore's retry then
    # meets its own write: a conflict, so this run drops its result)
    video_id = vid("lost")
    harness.track("hingnet", video_id, [{"status": "completed"}])
    proxy.add("dynamodb:PutItem", "lost_answer", times=1, match=lambda body: b"pending_event" in body)
    first = harness.run(dynamodb=proxy.url, remaining_s=30)
    assert first.conflicts == 1 and first.published == 0
    item = harness.item("hingnet", video_id)
    assert item["status"] == "completed" and "pending_event" in item and "due_shard" in item

    # When runs follow within the lease, nothing happens; after it, the event goes out once
    assert harness.run(dynamodb=proxy.url).published == 0
    harness.offset += 30 + 5 + 1
    assert harness.run(dynamodb=proxy.url).published == 1
    harness.offset += 60
    assert harness.run(dynamodb=proxy.url).published == 0
    ids = harness.expect_events(("hingnet", video_id, "completed"))
    assert [event["id"] for event in harness.events()] == list(ids)
    assert harness.sim.poll_count("hingnet", video_id) == 1


def test_publish_batch_with_some_entries_failed_keeps_only_those_pending(harness, proxy):
    # Given twelve jobs finishing at once (two PublishBatch calls) and SNS refusing every other entry
    jobs = [("hingnet" if i % 2 else "skyengine", vid("pb")) for i in range(12)]
    for provider, video_id in jobs:
        harness.track(provider, video_id, [{"status": "completed"}])
    proxy.add("sns:PublishBatch", "partial", times=2, fail_entries=lambda position, _body: position % 2 == 0)

    first = harness.run(sns=proxy.url)

    # Then only the refused ones stay pending (and due at once); the others left the due index
    assert first.completed == 12 and first.published == 6 and first.publish_failed == 6
    pending = [item for item in harness.items() if "pending_event" in item]
    assert len(pending) == 6 and all(item["due_at"] <= time.time() for item in pending)
    assert len(harness.due()) == 6
    delivered_first = {event["id"] for event in harness.events()}
    assert len(delivered_first) == 6

    # When the next run has SNS whole again, it publishes exactly those, without polling again
    second = harness.run(sns=proxy.url)
    assert second.published == 6 and second.polled == 0 and harness.due() == []
    ids = harness.expect_events(*[(p, v, "completed") for p, v in jobs])
    delivered_second = {event["id"] for event in harness.events()}
    assert delivered_first | delivered_second == ids and not delivered_first & delivered_second
    assert all(harness.sim.poll_count(p, v) == 1 for p, v in jobs)


def test_secrets_manager_unavailable_fails_the_run_by_name_and_the_next_run_recovers(harness, closed_port):
    video_id = vid("nosecret")
    harness.track("hingnet", video_id, [{"status": "completed"}])
    before = harness.item("hingnet", video_id)
    token = harness.token("hingnet")
    unreachable = SecretsManagerTokens(harness.client("secretsmanager", harness.unreachable(closed_port)))

    report = harness.run(tokens=unreachable)

    secret = harness.deployed.stack.secret_ids["hingnet"]
    assert report.unavailable_secrets == [secret] and report.polled == 0 and report.errors == 1
    with pytest.raises(RunFailed) as failure:
        report.raise_for_failure()
    assert secret in str(failure.value) and token not in str(failure.value)
    assert harness.item("hingnet", video_id) == before  # untouched, still due
    assert harness.sim.poll_count("hingnet", video_id) == 0

    harness.run()
    ids = harness.expect_events(("hingnet", video_id, "completed"))
    assert [event["id"] for event in harness.events()] == list(ids)


def test_tokens_are_cached_across_runs_and_outlive_a_secrets_manager_outage(harness, proxy):
    jobs = [("hingnet", vid("c")), ("skyengine", vid("c"))]
    for provider, video_id in jobs:
        harness.track(provider, video_id, [{"status": "in_progress", "progress": 5}, {"status": "completed"}])
    tokens = SecretsManagerTokens(harness.client("secretsmanager", proxy.url))  # one per cold start

    harness.run(tokens=tokens)
    assert proxy.forwarded["secretsmanager:GetSecretValue"] == 2  # one read per provider...
    proxy.add("secretsmanager:GetSecretValue", "unavailable")  # ...then Secrets Manager goes down
    second = harness.run(tokens=tokens)

    assert second.unavailable_secrets == [] and second.completed == 2
    assert proxy.forwarded["secretsmanager:GetSecretValue"] == 2 and proxy.total_injected() == 0
    ids = harness.expect_events(*[(p, v, "completed") for p, v in jobs])
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)


def test_a_due_shard_that_cannot_be_read_costs_only_its_own_jobs(harness, proxy):
    # Given every query of one due shard failing (retries included)
    def sick_query(sick: str) -> None:
        proxy.add("dynamodb:Query", "internal", match=lambda body: f'"{sick}"'.encode() in body)

    report = one_sick_shard_costs_only_its_jobs(harness, proxy, "hingnet", sick_query, pick=0)
    assert report.unread_shards >= 1


def test_a_due_shard_whose_lease_cannot_be_claimed_costs_only_its_own_jobs(harness, proxy):
    # Given every claim of one due shard's lease failing (retries included)
    def sick_lease(sick: str) -> None:
        proxy.add("dynamodb:PutItem", "internal", match=lambda body: f'"_lease#{sick}"'.encode() in body)

    report = one_sick_shard_costs_only_its_jobs(harness, proxy, "skyengine", sick_lease, pick=-1)
    assert report.unread_shards == 1


def one_sick_shard_costs_only_its_jobs(harness, proxy, provider: str, make_sick, *, pick: int):
    """12 jobs over several due shards, `make_sick(shard)` breaks one of them; returns the first run's report."""
    jobs = [(provider, vid("spread")) for _ in range(12)]
    for _, video_id in jobs:
        harness.track(provider, video_id, [{"status": "completed"}])
    shard_of = {job: harness.item(*job)["due_shard"] for job in jobs}
    sick = sorted(set(shard_of.values()))[pick]
    on_sick = [job for job in jobs if shard_of[job] == sick]
    healthy = [job for job in jobs if shard_of[job] != sick]
    assert on_sick and healthy
    make_sick(sick)

    # When a run goes through the proxy
    report = harness.run(dynamodb=proxy.url)

    # Then the other shards' jobs were polled and announced; the sick shard's were not asked about, stay due
    # and unchanged, and the run says so (its invocation fails at the end, so the alarms see it)
    assert report.polled == len(healthy)
    with pytest.raises(RunFailed, match="could not be read or leased"):
        report.raise_for_failure()
    for job in on_sick:
        assert harness.sim.poll_count(*job) == 0
        item = harness.item(*job)
        assert item["status"] == "queued" and "due_shard" in item and item["polls"] == 0
    announced = harness.expect_events(*[(p, v, "completed") for p, v in healthy])
    assert {event["id"] for event in harness.events()} == announced

    # When the shard works again, the next run announces the rest
    proxy.clear()
    harness.run(dynamodb=proxy.url)
    rest = harness.expect_events(*[(p, v, "completed") for p, v in on_sick])
    assert {event["id"] for event in harness.events()} == rest
    return report
