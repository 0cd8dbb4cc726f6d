"""The poller's run: find due jobs, poll them concurrently, record what changed, announce what finished.

Order of effects per finished job (the no-lost / no-double guarantee):
1. a conditional write records the terminal state *and* the pending event, with `due_at` set past the end
   of this run (a lease: no other run picks it up while this one may still publish it);
2. SNS PublishBatch;
3. a conditional write clears the pending event (the job leaves the due index), or, if SNS refused the
   entry, makes the job due at once. If the run dies between 1 and 3, the lease expires and the next run
   publishes the same event (same id) before clearing it.

A run sweeps: it polls what is due, publishes, then asks the index when the next job falls due; while that
is within the run's sweep window (SWEEP_SECONDS) it sleeps until then and sweeps again, and it ends as soon
as nothing is due within the window. Each sweep polls each due job at most once; a job is polled again in
the same run only when its own next poll falls due. A run may be given `shards`: it then works only those
shards of the due index (the fan-out to parallel workers, see fan_out.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from videohook.config import ProviderSettings, Settings
from videohook.events import event_message
from videohook.models import Job
from videohook.observability import logger
from videohook.polling import Decision, Fault, PollPolicy, decide
from videohook.ports import EventPublisher, JobStore, OutgoingEvent, TokenSource
from videohook.progress import announce_progress, progress_event
from videohook.provider_client import fetch_video, make_http_client

# Stop starting polls this long before the function's timeout; writes and publishes need the rest.
SAFETY_MARGIN_S = 8.0
# A lease outlives the run that took it by this much.
LEASE_MARGIN_S = 5.0
STORE_THREADS = 32
# Events go to SNS in batches of this many (PublishBatch's limit) as soon as that many are recorded.
PUBLISH_BATCH = 10
# Two sweeps of one run start at least this far apart (jobs that stay due, e.g. after a write conflict).
MIN_SWEEP_GAP_S = 1.0
# A run waiting for the next job to fall due looks again at least this often (jobs tracked meanwhile).
MAX_SWEEP_WAIT_S = 10.0


@dataclass
class RunReport:
    due: int = 0
    polled: int = 0
    changed: int = 0
    completed: int = 0
    failed: int = 0
    published: int = 0
    publish_failed: int = 0
    conflicts: int = 0
    skipped: int = 0
    errors: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    unknown_statuses: Counter[str] = field(default_factory=Counter)
    out_of_time: bool = False
    sweeps: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["faults"] = dict(self.faults)
        data["unknown_statuses"] = dict(self.unknown_statuses)
        return data


@dataclass
class _Run:
    now: float
    deadline: float
    lease_until: float
    sweep_until: float
    shards: Sequence[int] | None = None
    report: RunReport = field(default_factory=RunReport)
    to_publish: list[Job] = field(default_factory=list)
    publishing: list[asyncio.Task[None]] = field(default_factory=list)
    progress: list[Job] = field(default_factory=list)  # opt-in video.progress events (best effort)
    paused_until: dict[str, float] = field(default_factory=dict)
    unauthorized_logged: set[str] = field(default_factory=set)


class Poller:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        publisher: EventPublisher,
        tokens: TokenSource,
        *,
        clock: Callable[[], float] = time.time,
        http_factory: Callable[[int], httpx.AsyncClient] = make_http_client,
        policy: PollPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._tokens = tokens
        self._clock = clock
        self._http_factory = http_factory
        self._policy = policy or PollPolicy(base_s=settings.poll_interval_s, max_age_s=settings.max_job_age_s)

    def run(self, remaining_ms: Callable[[], int], *, shards: Sequence[int] | None = None) -> RunReport:
        """Sweep the due jobs (of `shards` only, when given) until nothing falls due within the window."""
        now = self._clock()
        remaining_s = remaining_ms() / 1000
        deadline = now + remaining_s - SAFETY_MARGIN_S
        # With POLL_INTERVAL_SECONDS 0 every job is due at every run: one sweep, or it would never rest.
        window = self._settings.sweep_s if self._policy.base_s > 0 else 0.0
        run = _Run(
            now=now,
            deadline=deadline,
            lease_until=now + remaining_s + LEASE_MARGIN_S,
            sweep_until=min(deadline, now + window),
            shards=shards,
        )
        with ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="store") as pool:
            asyncio.run(self._run(run, pool))
        return run.report

    async def _run(self, run: _Run, pool: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(pool)
        connections = sum(p.max_concurrency for p in self._settings.providers.values())
        async with self._http_factory(connections) as http:
            while True:
                polled_before = run.report.polled
                found = await self._sweep(run, http)
                if found and run.report.polled == polled_before:
                    return  # everything due was skipped (provider paused, out of time): nothing to wait for
                wake_at = await self._next_sweep_at(run)
                if wake_at is None:
                    return
                await asyncio.sleep(max(0.0, wake_at - self._clock()))

    async def _sweep(self, run: _Run, http: httpx.AsyncClient) -> int:
        """Poll every due job once and publish what finished; return how many jobs were due to poll."""
        run.now = self._clock()
        run.report.sweeps += 1
        jobs = await asyncio.to_thread(self._store.due_jobs, run.now, run.shards)
        run.report.due += len(jobs)
        pending = [job for job in jobs if job.pending_event is not None]
        pollable = [job for job in jobs if job.pending_event is None and job.active]
        await asyncio.gather(*(self._reclaim(run, job) for job in pending))
        await self._poll_all(run, http, pollable)
        self._announce(run, flush=True)
        await asyncio.gather(*run.publishing)
        run.publishing.clear()
        if run.progress:
            await asyncio.to_thread(self._publish_progress, run)
            run.progress.clear()
        return len(pollable)

    async def _next_sweep_at(self, run: _Run) -> float | None:
        """When to sweep again: when the next job falls due, if that is within the sweep window."""
        now = self._clock()
        if now + MIN_SWEEP_GAP_S > run.sweep_until:
            return None
        try:
            next_due = await asyncio.to_thread(self._store.next_due_at, run.sweep_until, run.shards)
        except Exception:
            run.report.errors += 1
            logger.exception("cannot read when the next job is due; the run ends")
            return None
        if next_due is None:
            return None
        return min(max(next_due, now + MIN_SWEEP_GAP_S), now + MAX_SWEEP_WAIT_S)

    async def _reclaim(self, run: _Run, job: Job) -> None:
        """An event left pending by an earlier run: take a lease on it, then publish it with this run's."""
        claimed = await asyncio.to_thread(self._store.save, job.with_changes(next_poll_at=run.lease_until), now=run.now)
        if claimed is None:
            run.report.conflicts += 1
        else:
            run.to_publish.append(claimed)
            self._announce(run)

    async def _poll_all(self, run: _Run, http: httpx.AsyncClient, jobs: list[Job]) -> None:
        by_provider: dict[str, list[Job]] = {}
        for job in jobs:
            by_provider.setdefault(job.provider, []).append(job)
        tasks = []
        for name, provider_jobs in by_provider.items():
            provider = self._settings.providers.get(name)
            if provider is None:
                logger.warning(
                    "provider not configured; its jobs are skipped",
                    extra={"provider": name, "jobs": len(provider_jobs)},
                )
                run.report.skipped += len(provider_jobs)
                continue
            token = await self._token(run, provider)
            if token is None:
                run.report.skipped += len(provider_jobs)
                continue
            gate = asyncio.Semaphore(provider.max_concurrency)
            tasks += [self._poll_one(run, http, gate, provider, token, job) for job in provider_jobs]
        await asyncio.gather(*tasks)

    async def _token(self, run: _Run, provider: ProviderSettings) -> str | None:
        try:
            return await asyncio.to_thread(self._tokens.token, provider.api_key_secret)
        except Exception as exc:  # any failure here only costs this provider this run
            run.report.errors += 1
            logger.error("cannot read provider token", extra={"provider": provider.name, "reason": str(exc)})
            return None

    async def _poll_one(
        self,
        run: _Run,
        http: httpx.AsyncClient,
        gate: asyncio.Semaphore,
        provider: ProviderSettings,
        token: str,
        job: Job,
    ) -> None:
        async with gate:
            now = self._clock()
            if now >= run.deadline or now < run.paused_until.get(provider.name, 0):
                run.report.skipped += 1
                run.report.out_of_time |= now >= run.deadline
                return
            result = await fetch_video(http, provider, token, job.video_id, job.duration)
            now = self._clock()
            decision = decide(job, result, now=now, base_url=provider.base_url, policy=self._policy)
            run.report.polled += 1
            self._note(run, provider, decision)
        updated = decision.job
        if decision.event is not None:
            updated = updated.with_changes(next_poll_at=run.lease_until)
        announced = announce_progress(job, updated, now)  # recorded in the same write as the poll
        updated = announced or updated
        try:
            saved = await asyncio.to_thread(self._store.save, updated, now=now)
        except Exception:
            run.report.errors += 1
            logger.exception(
                "cannot record poll; the job stays due", extra={"provider": job.provider, "video_id": job.video_id}
            )
            return
        if saved is None:
            run.report.conflicts += 1
            return
        run.report.changed += decision.changed
        if announced is not None:
            run.progress.append(saved)
        if decision.event is not None:
            run.to_publish.append(saved)
            self._announce(run)
            if saved.status.value == "completed":
                run.report.completed += 1
            else:
                run.report.failed += 1

    def _note(self, run: _Run, provider: ProviderSettings, decision: Decision) -> None:
        fault: Fault | None = decision.fault
        if decision.unknown_status is not None:
            run.report.unknown_statuses[decision.unknown_status] += 1
            logger.warning(
                "unknown status; the job keeps being polled",
                extra={
                    "provider": provider.name,
                    "video_id": decision.job.video_id,
                    "raw_status": decision.unknown_status,
                },
            )
        if fault is None:
            return
        run.report.faults[f"{provider.name}:{fault.kind}"] += 1
        if fault.kind == "rate_limited":
            pause = fault.retry_after_s if fault.retry_after_s is not None else 30.0
            run.paused_until[provider.name] = max(run.paused_until.get(provider.name, 0), self._clock() + pause)
        if fault.kind == "unauthorized" and provider.name not in run.unauthorized_logged:
            run.unauthorized_logged.add(provider.name)
            logger.error(
                "provider rejected the token: check its api_key_secret",
                extra={"provider": provider.name, "status_code": fault.status_code},
            )

    def _announce(self, run: _Run, *, flush: bool = False) -> None:
        """Send recorded events to SNS while the sweep goes on: each full batch at once, the rest at its end.
        Publishing and settling run in the store threads, so they neither wait for the last poll nor
        hold up the next one."""
        while len(run.to_publish) >= PUBLISH_BATCH or (flush and run.to_publish):
            batch, run.to_publish = run.to_publish[:PUBLISH_BATCH], run.to_publish[PUBLISH_BATCH:]
            run.publishing.append(asyncio.create_task(self._publish(run, batch)))

    async def _publish(self, run: _Run, jobs: list[Job]) -> None:
        failed = await asyncio.to_thread(self._send, jobs)
        now = self._clock()
        outcomes = await asyncio.gather(*(asyncio.to_thread(self._settle, job, failed, now) for job in jobs))
        counts = Counter(name for outcome in outcomes for name in outcome)
        run.report.published += counts["published"]
        run.report.publish_failed += counts["publish_failed"]
        run.report.errors += counts["errors"]

    def _send(self, jobs: list[Job]) -> dict[str, str]:
        outgoing = []
        for job in jobs:
            assert job.pending_event is not None
            body, attributes = event_message(job, job.pending_event)
            outgoing.append(OutgoingEvent(job.pending_event.id, body, attributes))
        try:
            return self._publisher.publish(outgoing)
        except Exception as exc:
            return {event.event_id: type(exc).__name__ for event in outgoing}

    def _settle(self, job: Job, failed: dict[str, str], now: float) -> tuple[str, ...]:
        """Clear the pending event SNS took, or make the job due again; return the report counters to add to
        (counted in the event loop: this runs in a store thread)."""
        assert job.pending_event is not None
        reason = failed.get(job.pending_event.id)
        outcome = "published" if reason is None else "publish_failed"
        try:
            if reason is None:
                self._store.clear_pending(job, now=now)
                logger.info("event published", extra=_event_log(job))
            else:
                logger.error("event not published; it stays pending", extra={**_event_log(job), "reason": reason})
                self._store.release_pending(job, now=now)
        except Exception:
            # The event stays pending under its lease; the next run after the lease settles it.
            logger.exception("cannot settle pending event", extra=_event_log(job))
            return (outcome, "errors")
        return (outcome,)

    def _publish_progress(self, run: _Run) -> None:
        """Best effort: a progress event SNS refuses is logged, not retried (the next one supersedes it)."""
        if not run.progress:
            return
        events = [progress_event(job) for job in run.progress]
        try:
            failed = self._publisher.publish(events)
        except Exception as exc:
            failed = {event.event_id: type(exc).__name__ for event in events}
        if failed:
            logger.warning("progress events not published", extra={"count": len(failed)})


def _event_log(job: Job) -> dict[str, Any]:
    assert job.pending_event is not None
    return {
        "event_id": job.pending_event.id,
        "type": job.pending_event.type,
        "provider": job.provider,
        "video_id": job.video_id,
    }
