"""Issue 10: a run that dies holds nothing for long (short due-shard leases, renewed while the run works), and
one provider's unusable token or one job's broken poll costs only that provider's or that job's work. In-process
runs with the real adapters on moto and the simulated provider over HTTP; time is the harness's clock."""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict

import pytest
from reliability_harness import Killed, KillSwitch, hooked_http
from videohook.adapters.coordination import DynamoRunCoordination
from videohook.config import Settings
from videohook.services.poller import LEASE_S, RunFailed


def vid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def leases(harness) -> dict[str, dict]:
    return {item["pk"]: item for item in harness.deployed.items() if item["pk"].startswith("_lease#")}


def test_a_run_killed_mid_poll_holds_its_shards_for_one_lease_only(harness):
    # Given jobs over several shards that finish at their next poll
    finishing = [("hingnet" if i % 2 else "skyengine", vid("kill")) for i in range(8)]
    for provider, video_id in finishing:
        harness.track(provider, video_id, [{"status": "completed"}])
    shards = {harness.store().shard_of(p, v) for p, v in finishing}

    # When a run dies in the middle of polling (two requests out, the third never leaves)
    with pytest.raises(Killed):
        harness.run(harness.poller(switch=KillSwitch("before_request", after=3)))
    dead = leases(harness)
    died_at = harness.clock()

    # Then its leases are in the table as it left them, ending one lease (not its timeout) after it took them
    assert len(dead) == len(shards)
    assert {item["holder"] for item in dead.values()} == {next(iter(dead.values()))["holder"]}
    assert all(item["held_until"] <= died_at + LEASE_S + 1 for item in dead.values())

    # and a run just inside that lease leaves every one of those shards to the dead run, polling nothing
    harness.offset += LEASE_S - 2
    inside = harness.run()
    assert inside.shards_busy == len(shards) and inside.polled == 0 and harness.events(wait_s=0.2) == []

    # and the first run after the lease (+2 s: lease ends are stored in whole seconds) polls them all and
    # announces each finished job once
    harness.offset += 4
    after = harness.run()
    assert after.shards_busy == 0 and after.completed == len(finishing) and after.published == len(finishing)
    ids = harness.expect_events(*[(p, v, "completed") for p, v in finishing])
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)
    assert leases(harness) == {}


def test_a_lease_is_renewed_only_by_its_holder_and_lost_once_another_run_took_it(harness):
    coordination = DynamoRunCoordination(harness.client("dynamodb"), harness.base_settings.jobs_table)
    now = harness.clock()
    # Given run A holds shard 3 for 20 s
    assert coordination.claim_shards([3], holder="A", until=now + 20, now=now) == [3]
    # When A renews, its lease is extended; B can neither renew nor claim it meanwhile
    assert coordination.renew_shards([3], holder="A", until=now + 40) == [3]
    assert coordination.renew_shards([3], holder="B", until=now + 60) == []
    assert coordination.claim_shards([3], holder="B", until=now + 60, now=now + 30) == []
    assert leases(harness)["_lease#s003"]["holder"] == "A"
    # and once A's renewed lease is over (A died), B takes it, and A's late renewal finds it lost
    assert coordination.claim_shards([3], holder="B", until=now + 80, now=now + 42) == [3]
    assert coordination.renew_shards([3], holder="A", until=now + 100) == []
    assert leases(harness)["_lease#s003"]["holder"] == "B"
    coordination.release_shards([3], holder="B")
    assert leases(harness) == {}


def test_a_run_longer_than_its_lease_renews_it_and_a_second_run_never_polls_a_job_it_is_polling(harness):
    # Given 16 slow jobs polled one at a time (0.3 s each, about 5 s in all: longer than a 3 s lease)
    delay_s = 0.3
    settings = harness.settings(
        poll_interval_s=60, providers=harness.provider("hingnet", max_concurrency=1, timeout_seconds=2.0)
    )
    jobs = [vid("slow") for _ in range(16)]
    for video_id in jobs:
        harness.track("hingnet", video_id, [{"status": "completed", "_delay": delay_s}])  # due at once
    options = {"settings": settings, "lease_s": 3.0, "renew_every_s": 0.25}

    # When run A works them and run B starts once A holds its leases
    reports = {}
    a = threading.Thread(target=lambda: reports.setdefault("a", harness.run(harness.poller(**options))))
    a.start()
    for _ in range(2000):  # bounded: at most ~20 s of 10 ms waits
        if leases(harness) or not a.is_alive():
            break
        threading.Event().wait(0.01)
    reports["b"] = harness.run(harness.poller(**options))
    a.join(timeout=120)
    assert not a.is_alive()

    # Then A renewed its leases while it worked, and no job was polled by two runs at the same time: a job
    # polled twice (only if A's renewals were late enough for its lease to run out) was polled after the first
    # answer came back
    assert reports["a"].lease_renewals >= 1
    requests = defaultdict(list)
    for request in harness.sim.requests("hingnet"):
        requests[request.video_id].append(request.at)
    for video_id in jobs:
        times = sorted(requests[video_id])
        assert 1 <= len(times) <= 2, (video_id, times)
        if len(times) == 2:
            assert times[1] >= times[0] + delay_s, (video_id, times)
    assert reports["a"].completed + reports["b"].completed == len(jobs)
    ids = harness.expect_events(*[("hingnet", v, "completed") for v in jobs])
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)
    assert leases(harness) == {}


@pytest.mark.parametrize(
    "bad_token",
    ["tok-line-one\ntok-line-two", '{\n  "token": "tok-pretty-json"\n}', "tok-with\x00nul", "tok with space"],
    ids=["newline", "pretty-json", "nul", "space"],
)
def test_an_unusable_token_costs_only_its_provider_and_never_reaches_a_log(harness, logs, bad_token):
    # Given skyengine's secret holds a token no HTTP client can send, and jobs of both providers finish now
    good_token = harness.token("skyengine")
    harness.set_token("skyengine", bad_token)
    try:
        healthy, stuck = vid("healthy"), vid("stuck")
        harness.track("hingnet", healthy, [{"status": "completed"}])
        harness.track("skyengine", stuck, [{"status": "completed"}])

        # When one run polls
        report = harness.run()

        # Then hingnet's job is announced in that same run, skyengine's stays due and untouched
        assert report.completed == 1 and report.published == 1
        ids = harness.expect_events(("hingnet", healthy, "completed"))
        assert [event["id"] for event in harness.events()] == sorted(ids)
        item = harness.item("skyengine", stuck)
        assert item["status"] == "queued" and item["polls"] == 0 and "due_shard" in item
        assert harness.sim.poll_count("skyengine", stuck) == 0
        # and the run fails at its end naming the secret, never the token
        secret = harness.base_settings.providers["skyengine"].api_key_secret
        assert report.unavailable_secrets == [secret]
        with pytest.raises(RunFailed) as failed:
            report.raise_for_failure()
        assert secret in str(failed.value) and "tok-" not in str(failed.value)
        (line,) = logs.messages("cannot read provider token")
        assert line["provider"] == "skyengine" and "position" in line["reason"]
        for fragment in ("tok-line", "tok-pretty-json", "tok-with", "tok with"):
            assert fragment not in logs.everything()
    finally:
        harness.set_token("skyengine", good_token)

    # and once the secret is fixed, skyengine's job goes on
    harness.settle()
    ids = harness.expect_events(("skyengine", stuck, "completed"))
    assert [event["id"] for event in harness.events()] == sorted(ids)


def test_an_exception_inside_one_poll_is_that_jobs_fault_and_the_run_goes_on(harness, logs):
    # Given three hingnet jobs, one of which the HTTP client refuses to request (raises as the request starts)
    broken, fine = vid("broken"), [vid("fine") for _ in range(2)]
    for video_id in [broken, *fine]:
        harness.track("hingnet", video_id, [{"status": "completed"}])

    async def refuse(_session, _context, params) -> None:
        if broken in str(params.url):
            raise ValueError("the client refused this request (secret-looking detail tok-zzz)")

    # When a run polls them
    report = harness.run(harness.poller(http_factory=hooked_http(refuse)))

    # Then the broken job counts one `internal` fault and backs off with its state kept; the others complete
    assert report.faults == {"hingnet:internal": 1} and report.errors == 0
    assert report.completed == len(fine) and report.published == len(fine)
    item = harness.item("hingnet", broken)
    assert item["status"] == "queued" and item["error_streak"] == 1 and item["polls"] == 1 and "due_shard" in item
    (line,) = logs.messages("upstream fault")
    assert (line["provider"], line["kind"]) == ("hingnet", "internal") and "ValueError" in line["detail"]
    assert "tok-zzz" not in logs.everything()
    ids = harness.expect_events(*[("hingnet", v, "completed") for v in fine])
    assert sorted(event["id"] for event in harness.events()) == sorted(ids)
    assert json.loads(json.dumps(report.as_dict()))["faults"] == {"hingnet:internal": 1}


def test_one_misconfigured_provider_entry_costs_only_its_jobs(harness, logs):
    # Given PROVIDERS where skyengine's entry is unusable (no scheme in base_url) and hingnet's is fine
    variables = {**harness.deployed.env_overrides()["Parameters"], "POLL_INTERVAL_SECONDS": "0"}
    providers = json.loads(variables["PROVIDERS"])
    providers["skyengine"]["base_url"] = "model-api.skyengine.example"
    settings = Settings.from_env({**variables, "PROVIDERS": json.dumps(providers)})
    assert list(settings.providers) == ["hingnet"] and "base_url" in settings.provider_errors["skyengine"]
    healthy, stuck = vid("healthy"), vid("stuck")
    harness.track("hingnet", healthy, [{"status": "completed"}])
    harness.track("skyengine", stuck, [{"status": "completed"}])

    # When a run polls with that configuration
    report = harness.run(harness.poller(settings=settings))

    # Then hingnet's job is announced in that run; skyengine's stays due, and the run fails naming the entry
    assert report.completed == 1 and report.published == 1 and report.misconfigured_providers == ["skyengine"]
    ids = harness.expect_events(("hingnet", healthy, "completed"))
    assert [event["id"] for event in harness.events()] == sorted(ids)
    assert harness.item("skyengine", stuck)["polls"] == 0 and "due_shard" in harness.item("skyengine", stuck)
    with pytest.raises(RunFailed, match="'skyengine' misconfigured in PROVIDERS"):
        report.raise_for_failure()
    (line,) = logs.messages("provider misconfigured")
    assert line["provider"] == "skyengine" and "base_url" in line["reason"]
    # and with the entry fixed, its job goes on
    harness.settle()
    ids = harness.expect_events(("skyengine", stuck, "completed"))
    assert [event["id"] for event in harness.events()] == sorted(ids)
