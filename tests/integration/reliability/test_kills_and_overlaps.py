"""The function killed at every point of a run, and runs overlapping: afterwards every finished job is
announced (once per event id, except for the at-least-once window: SNS took the batch, the run died before
recording it), no job is lost from the due index, and no job is polled by two runs at the same moment."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from reliability_harness import Killed, KillSwitch
from videohook.services.poller import LEASE_S


def vid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# kill point, how many times it is reached first, whether SNS had the events when the run died
KILL_POINTS = [
    ("after_due_jobs", 1, False),  # read the due jobs, then died
    ("before_request", 3, False),  # mid-poll: two requests out, the third never leaves
    ("before_save", 4, False),  # three results recorded, then died
    ("after_save_terminal", 1, False),  # a terminal state and its pending event written, nothing published
    ("before_publish", 1, False),  # every result recorded, died before SNS
    ("after_publish", 1, True),  # SNS took all six, died before recording that: the next run republishes them
    # clears run concurrently: those already sent complete, the rest never leave and are republished later
    ("after_clear_pending", 1, True),
]


@pytest.mark.parametrize(("point", "after", "sns_had_them"), KILL_POINTS, ids=[p[0] for p in KILL_POINTS])
def test_a_run_killed_at_any_point_loses_nothing(harness, point, after, sns_had_them):
    # Given six jobs that finish at their next poll and two that keep running
    finishing = [("hingnet" if i % 2 else "skyengine", vid("fin")) for i in range(6)]
    for provider, video_id in finishing:
        harness.track(provider, video_id, [{"status": "completed"}])
    running = [("hingnet", vid("run")), ("skyengine", vid("run"))]
    for provider, video_id in running:
        harness.track(provider, video_id, [{"status": "in_progress", "progress": 20}])

    # When a run dies at the point
    switch = KillSwitch(point, after=after)
    with pytest.raises(Killed):
        harness.run(harness.poller(switch=switch), remaining_s=30)
    assert switch.tripped
    delivered_before = harness.events(wait_s=0.5 if sns_had_them else 0.2)
    still_pending = {item["pending_event"]["id"] for item in harness.items() if "pending_event" in item}
    # the at-least-once window: events SNS already had whose clearing write never happened
    redeliveries = len(still_pending & {event["id"] for event in delivered_before})
    if not sns_had_them:
        assert redeliveries == 0 and delivered_before == []
    elif point == "after_publish":
        assert redeliveries == 6
    else:
        assert redeliveries <= 5  # at least the clear that tripped the switch went through

    # and later runs (past the dead run's leases: LEASE_S, +2 s as lease ends are whole seconds) go on until
    # only the running jobs are due
    harness.offset += LEASE_S + 2
    for _ in range(3):
        harness.run()
    harness.offset += LEASE_S + 2
    harness.run()

    # Then every finished job was announced, each under its one id; only the window's redeliveries repeat
    ids = harness.expect_events(*[(p, v, "completed") for p, v in finishing])
    events = delivered_before + harness.events(at_least_once=redeliveries)
    assert {event["id"] for event in events} == ids
    assert len(events) - len(ids) == redeliveries
    # and nothing is lost from the due index: finished jobs left it with nothing pending, running ones are in it
    for provider, video_id in finishing:
        item = harness.item(provider, video_id)
        assert item["status"] == "completed" and "pending_event" not in item and "due_shard" not in item
    for provider, video_id in running:
        item = harness.item(provider, video_id)
        assert item["active"] is True and "due_shard" in item


@pytest.mark.parametrize("runs", [2, 4])
def test_overlapping_runs_announce_each_transition_once_and_never_poll_a_job_twice_at_once(harness, runs):
    # Given jobs spread over many shards, answering slowly enough for the runs to overlap
    settings = harness.settings(poll_interval_s=60)  # a polled job is not due again within this test
    finishing = [("hingnet" if i % 2 else "skyengine", vid("race")) for i in range(16)]
    running = [("hingnet", vid("slow")) for _ in range(8)]
    for provider, video_id in finishing:
        harness.track(provider, video_id, [{"status": "completed", "_delay": 0.1}])
    for provider, video_id in running:
        harness.track(provider, video_id, [{"status": "in_progress", "_delay": 0.1}])

    # When `runs` runs start at the same moment
    start = threading.Barrier(runs)

    def one_run(_: int):
        poller = harness.poller(settings=settings)
        start.wait()
        return harness.run(poller)

    with ThreadPoolExecutor(max_workers=runs) as pool:
        reports = list(pool.map(one_run, range(runs)))

    # Then every job was polled exactly once, by one run, and each finished job announced once (without the
    # shard leases, the same test sees jobs polled 2 and 4 times: every run reads the same due jobs)
    for provider, video_id in finishing + running:
        assert harness.sim.poll_count(provider, video_id) == 1, (provider, video_id)
    assert sum(report.completed for report in reports) == len(finishing)
    assert sum(report.polled for report in reports) == len(finishing) + len(running)
    assert sum(report.conflicts for report in reports) == 0
    ids = harness.expect_events(*[(p, v, "completed") for p, v in finishing])
    events = harness.events()
    assert sorted(event["id"] for event in events) == sorted(ids)
    # and the leases were released: nothing of them is left in the table
    assert [item["pk"] for item in harness.deployed.items() if item["pk"].startswith("_lease#")] == []
