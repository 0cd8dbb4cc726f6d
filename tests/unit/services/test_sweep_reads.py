"""Issue 15: a sweep reads the due index once, under its shard leases, and its lease renewals are not queued
behind its writes. In-process fakes for the store and the run coordination; the order of the calls is what is
asserted, never how long anything took."""

from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager
from typing import Any

from videohook.config import ProviderSettings, Settings
from videohook.domain.models import Job
from videohook.domain.polling import Answered
from videohook.services.poller import STORE_THREADS, Poller

NOW = 1_800_000_000.0
SHARDS = 4


class Store:
    """Due jobs by shard; records every call in `calls` (shared with the coordination, to see the order)."""

    def __init__(self, calls: list[tuple[Any, ...]], jobs: list[Job]) -> None:
        self.calls = calls
        self.jobs = {job.key: job for job in jobs}
        self.save_gate: threading.Event | None = None  # when set: saves wait for it

    def shard_of(self, provider: str, video_id: str) -> int:
        return int(video_id.rsplit("_", 1)[1]) % SHARDS

    def _due(self, now: float, shards: Any) -> list[Job]:
        wanted = set(range(SHARDS) if shards is None else shards)
        return [
            job
            for job in self.jobs.values()
            if job.active and job.next_poll_at is not None and job.next_poll_at <= now
            if self.shard_of(job.provider, job.video_id) in wanted
        ]

    def due_shards(self, now: float, shards: Any = None) -> list[int]:
        self.calls.append(("due_shards",))
        return sorted({self.shard_of(job.provider, job.video_id) for job in self._due(now, shards)})

    def due_jobs(self, now: float, shards: Any = None) -> list[Job]:
        self.calls.append(("due_jobs", None if shards is None else sorted(shards)))
        return self._due(now, shards)

    def next_due_at(self, until: float, shards: Any = None) -> float | None:
        return None

    def save(self, job: Job, *, now: float) -> Job | None:
        if self.save_gate is not None:
            self.calls.append(("save waiting",))
            self.save_gate.wait(timeout=30)  # bounded: a broken test must not hang
        stored = self.jobs[job.key]
        if stored.version != job.version:
            return None
        saved = job.with_changes(version=job.version + 1)
        self.jobs[job.key] = saved
        self.calls.append(("save", job.video_id))
        return saved

    def clear_pending(self, job: Job, *, now: float) -> bool:
        return True

    def release_pending(self, job: Job, *, now: float) -> bool:
        return True


class Coordination:
    def __init__(self, calls: list[tuple[Any, ...]], on_claim: Any = None) -> None:
        self.calls = calls
        self.on_claim = on_claim
        self.renewed = threading.Event()

    def paused_until(self, providers: Any) -> dict[str, float]:
        return {}

    def pause(self, provider: str, until: float) -> None:
        pass

    def claim_shards(self, shards: Any, *, holder: str, until: float, now: float) -> list[int]:
        self.calls.append(("claim", sorted(shards)))
        if self.on_claim is not None:
            self.on_claim()
        return sorted(shards)

    def renew_shards(self, shards: Any, *, holder: str, until: float) -> list[int]:
        self.calls.append(("renew",))
        self.renewed.set()
        return sorted(shards)

    def release_shards(self, shards: Any, *, holder: str) -> None:
        self.calls.append(("release", sorted(shards)))


class Publisher:
    def publish(self, events: Any) -> dict[str, str]:
        return {}


class Tokens:
    def token(self, secret_id: str) -> str:
        return "tok-unit-test"


@asynccontextmanager
async def http_session(max_connections: int) -> Any:
    yield None


async def still_running(http: Any, provider: Any, token: str, video_id: str, duration: Any) -> Answered:
    return Answered({"id": video_id, "object": "video", "status": "in_progress", "progress": 50})


def jobs(count: int) -> list[Job]:
    return [
        Job("hingnet", f"video_{i}", tracked_at=int(NOW) - 60, next_poll_at=NOW - 1, version=1) for i in range(count)
    ]


def poller(store: Store, coordination: Coordination, **options: Any) -> Poller:
    provider = ProviderSettings("hingnet", "http://127.0.0.1:9/hingnet", "videohook/hingnet", max_concurrency=64)
    settings = Settings(jobs_table="t", events_topic_arn="arn", providers={"hingnet": provider}, sweep_s=0)
    return Poller(
        settings,
        store,  # type: ignore[arg-type]
        Publisher(),
        Tokens(),
        http_factory=http_session,
        fetch=still_running,
        coordination=coordination,
        **{"clock": lambda: NOW, **options},
    )


def test_a_sweep_reads_the_due_jobs_once_and_only_under_the_leases():
    # Given due jobs on three of the four shards
    calls: list[tuple[Any, ...]] = []
    store = Store(calls, [job for job in jobs(12) if int(job.video_id.split("_")[1]) % SHARDS != 2])
    # When one run sweeps
    report = poller(store, Coordination(calls)).run(lambda: 60_000)
    # Then it found the non-empty shards, leased them, read their jobs once, polled each job once, released them
    reads = [call for call in calls if call[0] in ("due_shards", "due_jobs")]
    assert reads == [("due_shards",), ("due_jobs", [0, 1, 3])]
    order = [call[0] for call in calls if call[0] != "save"]
    assert order[:3] == ["due_shards", "claim", "due_jobs"] and order[-1] == "release"
    assert calls[1] == ("claim", [0, 1, 3])
    assert sorted(call[1] for call in calls if call[0] == "save") == sorted(job.video_id for job in store.jobs.values())
    assert report.polled == 9 and report.conflicts == 0


def test_jobs_another_run_moved_on_before_the_lease_was_taken_are_not_polled():
    # Given due jobs, and another run that polls and records all of them after this run found the due shards
    # but before its lease claim lands (it held the leases a moment ago and released them)
    calls: list[tuple[Any, ...]] = []
    store = Store(calls, jobs(8))

    def other_run_moves_them_on() -> None:
        for key, job in list(store.jobs.items()):
            store.jobs[key] = job.with_changes(next_poll_at=NOW + 60, version=job.version + 1)

    # When this run sweeps
    report = poller(store, Coordination(calls, on_claim=other_run_moves_them_on)).run(lambda: 60_000)
    # Then it polls none of them: what it polls is read under its own lease
    assert report.polled == 0 and report.conflicts == 0
    assert not [call for call in calls if call[0] == "save"]


def test_lease_renewals_are_not_queued_behind_the_sweeps_writes():
    # Given more due jobs than the store has threads, and every write held up until the leases are renewed
    calls: list[tuple[Any, ...]] = []
    store = Store(calls, jobs(STORE_THREADS * 2))
    coordination = Coordination(calls)
    store.save_gate = coordination.renewed
    # When one run sweeps, renewing every 10 ms
    report = poller(store, coordination, renew_every_s=0.01).run(lambda: 60_000)
    # Then a renewal went out while the store's every thread was waiting on a write, and then every job was saved
    waiting_before_renewal = calls[: calls.index(("renew",))].count(("save waiting",))
    assert waiting_before_renewal == STORE_THREADS
    assert report.polled == STORE_THREADS * 2 and len([c for c in calls if c[0] == "save"]) == STORE_THREADS * 2


class SlowReadStore(Store):
    """A store whose due read takes `read_s` of the (injected) clock: a slow store, or a loaded one."""

    def __init__(self, calls: list[tuple[Any, ...]], jobs: list[Job], clock: list[float], read_s: float) -> None:
        super().__init__(calls, jobs)
        self.clock = clock
        self.read_s = read_s

    def due_jobs(self, now: float, shards: Any = None) -> list[Job]:
        found = super().due_jobs(now, shards)
        # A moment of real time first: the run's renewals, started with the read, settle into their wait (its
        # length taken from the clock before the read's 15 s), as they do when a read is slow for real.
        time.sleep(0.2)
        self.clock[0] += self.read_s
        return found


def test_a_read_that_ate_into_the_leases_is_followed_by_a_renewal_before_any_poll():
    # Given a read under the leases that takes 15 s of a 20 s lease, while a poll may take 10 s: the first
    # renewal (due 5 s after the claim on the injected clock, 5 s of real time away) has not come yet
    calls: list[tuple[Any, ...]] = []
    clock = [NOW]
    store = SlowReadStore(calls, jobs(8), clock, read_s=15.0)
    sweeper = poller(store, Coordination(calls), renew_every_s=5.0, lease_s=20.0, clock=lambda: clock[0])
    # When one run sweeps
    report = sweeper.run(lambda: 60_000)
    # Then the leases were renewed right after the read, and only then were the jobs polled: all of them
    order = [call[0] for call in calls]
    assert order.index("renew") == order.index("due_jobs") + 1
    assert order.index("renew") < order.index("save")
    assert report.polled == 8 and report.skipped == 0
