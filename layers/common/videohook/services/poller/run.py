"""The run and its sweeps (issue 5): a run polls what is due, publishes, then asks the index when the next job
falls due; while that is within the run's sweep window (SWEEP_SECONDS) it sleeps until then and sweeps again,
and it ends as soon as nothing is due within the window. Each sweep polls each due job at most once. A run may
be given `shards`: it then works only those shards of the due index (the fan-out to workers, see fan_out.py).

A sweep, in order: find the due shards, lease them and read their jobs once, under the leases (leases.py),
reclaim the events earlier runs left pending (publishing.py), load the provider pauses (pauses.py), poll
(polls.py, job.py), record the new pauses, publish and settle the rest of the events, release the leases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from videohook.domain.polling import PollPolicy
from videohook.observability import logger
from videohook.services.poller.job import JobPoll
from videohook.services.poller.leases import LEASE_S, RENEW_EVERY_S, ShardLeases
from videohook.services.poller.pauses import ProviderPauses
from videohook.services.poller.polls import Polls
from videohook.services.poller.publishing import Publishing
from videohook.services.poller.report import RunReport
from videohook.services.poller.state import RunState, call

if TYPE_CHECKING:
    from videohook.config import Settings
    from videohook.ports import EventPublisher, FetchVideo, JobStore, PollHttpFactory, RunCoordination, TokenSource

# Stop starting polls this long before the function's timeout; writes and publishes need the rest.
SAFETY_MARGIN_S = 8.0
# Without run coordination (tests, benchmarks), a pending event's lease outlives the run by this much.
LEASE_MARGIN_S = 5.0
STORE_THREADS = 32
# Two sweeps of one run start at least this far apart (jobs that stay due, e.g. after a write conflict).
MIN_SWEEP_GAP_S = 1.0
# A run waiting for the next job to fall due looks again at least this often (jobs tracked meanwhile).
MAX_SWEEP_WAIT_S = 10.0


class Poller:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        publisher: EventPublisher,
        tokens: TokenSource,
        *,
        http_factory: PollHttpFactory,
        fetch: FetchVideo,
        coordination: RunCoordination | None = None,
        clock: Callable[[], float] = time.time,
        policy: PollPolicy | None = None,
        lease_s: float = LEASE_S,
        renew_every_s: float = RENEW_EVERY_S,
    ) -> None:
        """`http_factory` opens the run's HTTP session and `fetch` makes one poll over it (runtime.poller()
        gives aiohttp's, adapters/provider_client.py)."""
        self._settings = settings
        self._store = store
        self._clock = clock
        self._policy = policy or PollPolicy(base_s=settings.poll_interval_s, max_age_s=settings.max_job_age_s)
        longest_poll = max((p.timeout_seconds for p in settings.providers.values()), default=0.0)
        self._lease_s = max(lease_s, longest_poll + 2 * renew_every_s)
        self._leases = ShardLeases(
            store, coordination, clock=clock, renew_every_s=renew_every_s, poll_room_s=longest_poll
        )
        self._pauses = ProviderPauses(coordination, clock=clock)
        self._publishing = Publishing(store, publisher, self._leases, clock=clock)
        one = JobPoll(store, fetch, self._policy, self._leases, self._pauses, self._publishing, clock=clock)
        self._polls = Polls(settings, tokens, http_factory, one, clock=clock)

    def run(self, remaining_ms: Callable[[], int], *, shards: Sequence[int] | None = None) -> RunReport:
        """Sweep the due jobs (of `shards` only, when given) until nothing falls due within the window."""
        now = self._clock()
        remaining_s = remaining_ms() / 1000
        # Not asyncio's default executor: asyncio.run() waits for that one, and a store call stuck past the
        # deadline must not hold the run (its write is conditional and atomic; it lands or it does not).
        pool = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="store")
        lease_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leases")
        deadline = now + remaining_s - SAFETY_MARGIN_S
        # With POLL_INTERVAL_SECONDS 0 every job is due at every run: one sweep, or it would never rest.
        window = self._settings.sweep_s if self._policy.base_s > 0 else 0.0
        run = RunState(
            now=now,
            deadline=deadline,
            lease_until=now + remaining_s + LEASE_MARGIN_S,
            pool=pool,
            lease_pool=lease_pool,
            sweep_until=min(deadline, now + window),
            shards=shards,
            lease_s=self._lease_s,
        )
        try:
            asyncio.run(self._run(run))
        finally:
            pool.shutdown(wait=not run.report.out_of_time, cancel_futures=True)
            lease_pool.shutdown(wait=not run.report.out_of_time, cancel_futures=True)
        return run.report

    async def _run(self, run: RunState) -> None:
        while True:
            polled_before = run.report.polled
            found = await self._sweep(run)
            if run.report.out_of_time:
                run.report.ended = "out_of_time"
                return
            if found and run.report.polled == polled_before:
                run.report.ended = "all_skipped"  # everything due was skipped (provider paused): nothing to wait for
                return
            wake_at = await self._next_sweep_at(run)
            if wake_at is None:
                return
            await asyncio.sleep(max(0.0, wake_at - self._clock()))

    async def _next_sweep_at(self, run: RunState) -> float | None:
        """When to sweep again: when the next job falls due, if that is within the sweep window."""
        now = self._clock()
        if now + MIN_SWEEP_GAP_S > run.sweep_until:
            run.report.ended = "window_closed"
            return None
        try:
            next_due = await call(run, self._store.next_due_at, run.sweep_until, run.shards)
        except Exception:
            run.report.errors += 1
            run.report.ended = "error"
            logger.exception("cannot read when the next job is due; the run ends")
            return None
        if next_due is None:
            run.report.ended = "nothing_due"
            return None
        return min(max(next_due, now + MIN_SWEEP_GAP_S), now + MAX_SWEEP_WAIT_S)

    async def _sweep(self, run: RunState) -> int:
        """Poll every due job once, publish what finished; return how many jobs were due to poll."""
        run.start_sweep(self._clock())
        try:
            jobs = await self._leases.due_jobs(run)  # leases the due shards, renewed from then on (run.renewing)
            run.report.due += len(jobs)
            pending = [job for job in jobs if job.pending_event is not None]
            pollable = [job for job in jobs if job.pending_event is None and job.active]
            await asyncio.gather(*(self._publishing.reclaim(run, job) for job in pending))
            await self._pauses.load(run, {job.provider for job in pollable})
            await self._polls.poll_all(run, pollable)
            await self._pauses.record(run)
            await self._publishing.finish(run)
            return len(pollable)
        finally:
            if run.renewing is not None:
                run.renewing.cancel()
                await asyncio.gather(run.renewing, return_exceptions=True)
            await self._leases.release(run)
