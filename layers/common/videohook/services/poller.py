"""The poller's run: find due jobs, poll them concurrently, record what changed, announce what finished.

Order of effects per finished job (the no-lost / no-double guarantee):
1. a conditional write records the terminal state *and* the pending event, with `due_at` set past the end
   of this run (a lease: no other run picks it up while this one may still publish it);
2. SNS PublishBatch;
3. a conditional write clears the pending event (the job leaves the due index), or, if SNS refused the
   entry, makes the job due at once. If the run dies between 1 and 3, the lease expires and the next run
   publishes the same event (same id) before clearing it.

Faults (issue 3): each poll is bounded by its provider's `timeout_seconds` and by the run's deadline, and the
poll phase as a whole is cut at the deadline (unfinished jobs stay due, unchanged). A 429 pauses the provider
for this run and, through `RunCoordination`, for later runs until the time it asked for. With coordination,
a run polls a due shard only while it holds that shard's lease, so overlapping runs split the shards instead
of polling the same jobs.

Leases are short (issue 10): a shard's lease lasts LEASE_S past its claim and the run renews it every
RENEW_EVERY_S while it works, so a run that dies (killed, out of memory, its host gone) holds nothing for
longer than one lease; the next run after that polls and announces its jobs. A poll starts only while its
shard's lease outlasts the poll's own time limit, so a run whose renewals fail stops polling that shard before
another run can take it; a pending event is leased (its `due_at`) only as long as its shard's lease.

Isolation (issue 10): anything raised while polling one job (the HTTP client refusing a header, a body that
trips the reader) is that job's fault (kind `internal`): counted, logged by kind, backed off, and the run goes
on. A provider token that cannot be read or cannot be sent (control characters, say) keeps that provider's
jobs due; every other provider is polled and announced in the same run.

A run sweeps (issue 5): it polls what is due, publishes, then asks the index when the next job falls due;
while that is within the run's sweep window (SWEEP_SECONDS) it sleeps until then and sweeps again, and it
ends as soon as nothing is due within the window. Each sweep polls each due job at most once. A run may be
given `shards`: it then works only those shards of the due index (the fan-out to workers, see fan_out.py).
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from videohook.adapters.provider_client import fetch_video, make_http_client, usable_token
from videohook.config import ProviderSettings, Settings
from videohook.domain.events import event_message
from videohook.domain.models import Job
from videohook.domain.polling import Decision, Fault, PollPolicy, PollResult, decide
from videohook.domain.progress import announce_progress, progress_event
from videohook.observability import logger
from videohook.ports import (
    EventPublisher,
    JobStore,
    OutgoingEvent,
    RunCoordination,
    ShardsFailed,
    TokenSource,
)

if TYPE_CHECKING:
    from videohook.adapters.provider_client import PollHttp

# Stop starting polls this long before the function's timeout; writes and publishes need the rest.
SAFETY_MARGIN_S = 8.0
# Without run coordination (tests, benchmarks), a pending event's lease outlives the run by this much.
LEASE_MARGIN_S = 5.0
# A due-shard lease lasts this long past its claim or its last renewal (longer when a provider's timeout
# needs it: the lease must outlast a poll started just before a renewal that failed).
LEASE_S = 20.0
RENEW_EVERY_S = 5.0
STORE_THREADS = 32
# Polls still unfinished this long after the deadline are cancelled (their jobs stay due).
SAVE_GRACE_S = 3.0
# A 429 without Retry-After pauses its provider this long.
DEFAULT_RATE_LIMIT_PAUSE_S = 30.0

# Events go to SNS in batches of this many (PublishBatch's limit) as soon as that many are recorded: the
# publishing overlaps the polls instead of following the last of them (+25 % polls/s in bench/sweep.py).
PUBLISH_BATCH = 10
# Two sweeps of one run start at least this far apart (jobs that stay due, e.g. after a write conflict).
MIN_SWEEP_GAP_S = 1.0
# A run waiting for the next job to fall due looks again at least this often (jobs tracked meanwhile).
MAX_SWEEP_WAIT_S = 10.0

T = TypeVar("T")


class RunFailed(RuntimeError):
    """The run did what it could but needs attention (e.g. a provider token could not be read)."""


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
    shards_busy: int = 0  # due shards another run held the lease of
    sweeps: int = 0
    # why the run ended: nothing_due (within the sweep window), window_closed, out_of_time, all_skipped, error
    ended: str = ""
    lease_renewals: int = 0  # renewal rounds of the due-shard leases (each extends every lease still held)
    leases_lost: int = 0  # due shards whose lease this run could not keep (their unstarted polls were left)
    unavailable_secrets: list[str] = field(default_factory=list)
    misconfigured_providers: list[str] = field(default_factory=list)  # PROVIDERS entries that are not usable
    unread_shards: int = 0  # due shards whose query failed: their jobs stay due for the next sweep or run

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["faults"] = dict(self.faults)
        data["unknown_statuses"] = dict(self.unknown_statuses)
        data["unavailable_secrets"] = list(self.unavailable_secrets)
        data["misconfigured_providers"] = list(self.misconfigured_providers)
        return data

    def raise_for_failure(self) -> None:
        """Make the invocation fail (Errors metric, alarms) when a token or a due shard could not be read (the
        rest of the run went on); names, not values."""
        if self.unavailable_secrets:
            names = ", ".join(repr(name) for name in self.unavailable_secrets)
            raise RunFailed(
                f"cannot read provider token secret(s) {names} (or the token in it is unusable); their jobs stay "
                "due for the next run"
            )
        if self.misconfigured_providers:
            names = ", ".join(repr(name) for name in sorted(set(self.misconfigured_providers)))
            raise RunFailed(f"provider(s) {names} misconfigured in PROVIDERS; their jobs stay due (see the log)")
        if self.unread_shards:
            raise RunFailed(
                f"{self.unread_shards} due shard(s) could not be read or leased; their jobs stay due for the next run"
            )


@dataclass
class _Run:
    now: float
    deadline: float
    lease_until: float  # what a pending event's lease is without coordination (past the run's end)
    pool: ThreadPoolExecutor
    sweep_until: float
    shards: Sequence[int] | None = None
    report: RunReport = field(default_factory=RunReport)
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    to_publish: list[Job] = field(default_factory=list)
    publishing: list[asyncio.Task[None]] = field(default_factory=list)  # batches already on their way to SNS
    progress: list[Job] = field(default_factory=list)  # opt-in video.progress events (best effort)
    paused_until: dict[str, float] = field(default_factory=dict)
    pauses_to_record: dict[str, float] = field(default_factory=dict)
    fault_logged: set[tuple[str, str]] = field(default_factory=set)
    leased_shards: list[int] = field(default_factory=list)
    unsure_leases: list[int] = field(default_factory=list)  # claims that failed: released anyway, in case
    lease_s: float = LEASE_S
    held: dict[int, float] = field(default_factory=dict)  # shard -> until when its lease is known to be ours


class Poller:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        publisher: EventPublisher,
        tokens: TokenSource,
        *,
        coordination: RunCoordination | None = None,
        clock: Callable[[], float] = time.time,
        http_factory: Callable[[int], PollHttp] = make_http_client,
        policy: PollPolicy | None = None,
        lease_s: float = LEASE_S,
        renew_every_s: float = RENEW_EVERY_S,
    ) -> None:
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._tokens = tokens
        self._coordination = coordination
        self._clock = clock
        self._http_factory = http_factory
        self._policy = policy or PollPolicy(base_s=settings.poll_interval_s, max_age_s=settings.max_job_age_s)
        longest_poll = max((p.timeout_seconds for p in settings.providers.values()), default=0.0)
        self._renew_every_s = renew_every_s
        self._lease_s = max(lease_s, longest_poll + 2 * renew_every_s)

    def run(self, remaining_ms: Callable[[], int], *, shards: Sequence[int] | None = None) -> RunReport:
        """Sweep the due jobs (of `shards` only, when given) until nothing falls due within the window."""
        now = self._clock()
        remaining_s = remaining_ms() / 1000
        # Not asyncio's default executor: asyncio.run() waits for that one, and a store call stuck past the
        # deadline must not hold the run (its write is conditional and atomic; it lands or it does not).
        pool = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="store")
        deadline = now + remaining_s - SAFETY_MARGIN_S
        # With POLL_INTERVAL_SECONDS 0 every job is due at every run: one sweep, or it would never rest.
        window = self._settings.sweep_s if self._policy.base_s > 0 else 0.0
        run = _Run(
            now=now,
            deadline=deadline,
            lease_until=now + remaining_s + LEASE_MARGIN_S,
            pool=pool,
            sweep_until=min(deadline, now + window),
            shards=shards,
            lease_s=self._lease_s,
        )
        try:
            asyncio.run(self._run(run))
        finally:
            pool.shutdown(wait=not run.report.out_of_time, cancel_futures=True)
        return run.report

    @staticmethod
    async def _call(run: _Run, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(run.pool, functools.partial(fn, *args, **kwargs))

    async def _run(self, run: _Run) -> None:
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

    async def _next_sweep_at(self, run: _Run) -> float | None:
        """When to sweep again: when the next job falls due, if that is within the sweep window."""
        now = self._clock()
        if now + MIN_SWEEP_GAP_S > run.sweep_until:
            run.report.ended = "window_closed"
            return None
        try:
            next_due = await self._call(run, self._store.next_due_at, run.sweep_until, run.shards)
        except Exception:
            run.report.errors += 1
            run.report.ended = "error"
            logger.exception("cannot read when the next job is due; the run ends")
            return None
        if next_due is None:
            run.report.ended = "nothing_due"
            return None
        return min(max(next_due, now + MIN_SWEEP_GAP_S), now + MAX_SWEEP_WAIT_S)

    async def _sweep(self, run: _Run) -> int:
        """Poll every due job once, publish what finished; return how many jobs were due to poll."""
        run.now = self._clock()
        run.report.sweeps += 1
        run.leased_shards = []
        run.unsure_leases = []
        run.held = {}
        run.to_publish = []
        run.publishing = []
        run.progress = []
        renewing: asyncio.Task[None] | None = None
        jobs = await self._due_jobs(run)
        if run.held:
            renewing = asyncio.create_task(self._keep_leases(run))
        try:
            run.report.due += len(jobs)
            pending = [job for job in jobs if job.pending_event is not None]
            pollable = [job for job in jobs if job.pending_event is None and job.active]
            await asyncio.gather(*(self._reclaim(run, job) for job in pending))
            await self._load_pauses(run, {job.provider for job in pollable})
            await self._poll_all(run, pollable)
            await self._record_pauses(run)
            await self._publish(run)
            return len(pollable)
        finally:
            if renewing is not None:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
            await self._release_shards(run)

    async def _due_jobs(self, run: _Run) -> list[Job]:
        """The due jobs of the shards this run holds the lease of (all due jobs without coordination)."""
        jobs = await self._read_due(run, run.shards)
        if self._coordination is None or not jobs:
            return jobs
        shards = {self._store.shard_of(job.provider, job.video_id) for job in jobs}
        until = run.now + run.lease_s
        try:
            run.leased_shards = await self._call(
                run, self._coordination.claim_shards, shards, holder=run.holder, until=until, now=run.now
            )
        except ShardsFailed as partial:
            run.leased_shards = self._left_out(run, partial)
            run.unsure_leases = sorted(partial.failed)  # released too, in case the claim landed unanswered
            shards -= set(partial.failed)
        run.report.shards_busy = len(shards) - len(run.leased_shards)
        if run.report.shards_busy:
            logger.info("due shards leased by another run; left to it", extra={"shards": run.report.shards_busy})
        if not run.leased_shards:
            return []
        run.held = dict.fromkeys(run.leased_shards, until)
        # Read again under the lease: a run that held it a moment ago may have moved these jobs on.
        return await self._read_due(run, run.leased_shards)

    async def _read_due(self, run: _Run, shards: Sequence[int] | None) -> list[Job]:
        """The due jobs of `shards`; a shard that cannot be read is left for later, the others go on."""
        try:
            return await self._call(run, self._store.due_jobs, run.now, shards)
        except ShardsFailed as partial:
            return self._left_out(run, partial)

    @staticmethod
    def _left_out(run: _Run, partial: ShardsFailed) -> Any:
        """Count and log the shards a failed call left out of this sweep (their jobs stay due); the rest goes on."""
        run.report.errors += len(partial.failed)
        run.report.unread_shards += len(partial.failed)
        logger.error(
            "due shards left out; their jobs stay due", extra={"shards": sorted(partial.failed), "reason": str(partial)}
        )
        return partial.result

    async def _keep_leases(self, run: _Run) -> None:
        """Renew the shard leases this sweep holds, every renew_every_s, until the sweep ends (cancelled).
        A lease another run took is dropped from `held` (its unstarted polls are left); a renewal call that
        fails leaves the lease's known end where it was, so polls stop starting before it runs out."""
        while run.held:
            await asyncio.sleep(self._renew_every_s)
            shards = sorted(run.held)
            until = self._clock() + run.lease_s
            failed: set[int] = set()
            try:
                kept = await self._call(run, self._coordination.renew_shards, shards, holder=run.holder, until=until)  # type: ignore[union-attr]
            except ShardsFailed as partial:
                kept, failed = partial.result, set(partial.failed)
            except Exception:
                run.report.errors += 1
                logger.exception("cannot renew due-shard leases; polls stop before they run out")
                continue
            run.report.lease_renewals += 1
            for shard in shards:
                if shard in kept:
                    run.held[shard] = until
                elif shard not in failed:  # another run holds it now
                    del run.held[shard]
                    run.report.leases_lost += 1
                    logger.warning(
                        "due-shard lease lost to another run; its jobs are left to it", extra={"shard": shard}
                    )

    def _lease_end(self, run: _Run, job: Job) -> float | None:
        """Until when this run may work `job` (None: not at all); without coordination, until past the run."""
        if self._coordination is None:
            return run.lease_until
        return run.held.get(self._store.shard_of(job.provider, job.video_id))

    async def _release_shards(self, run: _Run) -> None:
        held = [*run.leased_shards, *run.unsure_leases]
        if self._coordination is None or not held:
            return
        try:
            await self._call(run, self._coordination.release_shards, held, holder=run.holder)
        except Exception:  # the leases expire by themselves, one lease after their last renewal
            run.report.errors += 1
            logger.exception("cannot release due-shard leases; they expire by themselves")

    async def _load_pauses(self, run: _Run, providers: set[str]) -> None:
        if self._coordination is None or not providers:
            return
        try:
            stored = await self._call(run, self._coordination.paused_until, providers)
        except Exception:
            run.report.errors += 1
            logger.exception("cannot read provider pauses; per-job backoff still applies")
            return
        for name, until in stored.items():
            if until > run.now:
                run.paused_until[name] = max(run.paused_until.get(name, 0), until)
                logger.info("provider paused after a 429; not polled", extra={"provider": name, "until": until})

    async def _record_pauses(self, run: _Run) -> None:
        if self._coordination is None:
            return
        for name, until in run.pauses_to_record.items():
            try:
                await self._call(run, self._coordination.pause, name, until)
            except Exception:
                run.report.errors += 1
                logger.exception("cannot record provider pause", extra={"provider": name})
        run.pauses_to_record.clear()

    async def _reclaim(self, run: _Run, job: Job) -> None:
        """An event left pending by an earlier run: take a lease on it, then publish it with this run's."""
        lease_end = self._lease_end(run, job)
        if lease_end is None:  # the shard's lease was lost meanwhile: left to the run that holds it
            run.report.skipped += 1
            return
        try:
            claimed = await self._call(run, self._store.save, job.with_changes(next_poll_at=lease_end), now=run.now)
        except Exception:
            run.report.errors += 1
            logger.exception("cannot take a lease on a pending event; it stays pending", extra=_event_log(job))
            return
        if claimed is None:
            run.report.conflicts += 1
        else:
            run.to_publish.append(claimed)
            self._publish_full_batches(run)

    async def _poll_all(self, run: _Run, jobs: list[Job]) -> None:
        by_provider: dict[str, list[Job]] = {}
        for job in jobs:
            by_provider.setdefault(job.provider, []).append(job)
        for name in [name for name in by_provider if name not in self._settings.providers]:
            skipped = by_provider.pop(name)
            run.report.skipped += len(skipped)
            problem = self._settings.provider_errors.get(name)
            if problem is None:
                logger.warning(
                    "provider not configured; its jobs are skipped", extra={"provider": name, "jobs": len(skipped)}
                )
                continue
            run.report.errors += 1
            run.report.misconfigured_providers.append(name)
            logger.error(
                "provider misconfigured in PROVIDERS; its jobs stay due",
                extra={"provider": name, "jobs": len(skipped), "reason": problem},
            )
        providers = [self._settings.providers[name] for name in by_provider]
        tokens = await asyncio.gather(*(self._token(run, provider) for provider in providers))
        connections = sum(p.max_concurrency for p in self._settings.providers.values())
        async with self._http_factory(connections) as http:
            tasks = []
            for provider, token in zip(providers, tokens, strict=True):
                if token is None:
                    run.report.skipped += len(by_provider[provider.name])
                    continue
                gate = asyncio.Semaphore(provider.max_concurrency)
                tasks += [
                    asyncio.create_task(self._poll_one(run, http, gate, provider, token, job))
                    for job in by_provider[provider.name]
                ]
            if not tasks:
                return
            done, late = await asyncio.wait(tasks, timeout=max(0.0, run.deadline + SAVE_GRACE_S - self._clock()))
            if late:
                # Out of time: whatever is still running is abandoned; those jobs stay due, unchanged.
                run.report.out_of_time = True
                run.report.skipped += len(late)
                logger.warning(
                    "out of time; unfinished polls abandoned, their jobs stay due", extra={"jobs": len(late)}
                )
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            for task in done:
                task.result()  # _poll_one handles every Exception; anything else (a bug, an exit) must surface

    async def _token(self, run: _Run, provider: ProviderSettings) -> str | None:
        try:
            return usable_token(await self._call(run, self._tokens.token, provider.api_key_secret))
        except Exception as exc:  # this provider's jobs stay due; the run fails at its end (raise_for_failure)
            run.report.errors += 1
            run.report.unavailable_secrets.append(provider.api_key_secret)
            logger.error(
                "cannot read provider token (or it is unusable); its jobs stay due",
                extra={"provider": provider.name, "secret": provider.api_key_secret, "reason": str(exc)[:300]},
            )
            return None

    async def _poll_one(
        self,
        run: _Run,
        http: PollHttp,
        gate: asyncio.Semaphore,
        provider: ProviderSettings,
        token: str,
        job: Job,
    ) -> None:
        async with gate:
            now = self._clock()
            budget = run.deadline - now
            if budget <= 0 or now < run.paused_until.get(provider.name, 0):
                run.report.skipped += 1
                run.report.out_of_time |= budget <= 0
                return
            limit = min(provider.timeout_seconds, budget)
            lease_end = self._lease_end(run, job)
            if lease_end is None or now + limit > lease_end:  # the shard is (or may soon be) another run's
                run.report.skipped += 1
                return
            result = await self._fetch(run, http, provider, token, job, limit)
            if result is None:  # cut by the run's deadline: not the provider's fault; the job stays due
                run.report.skipped += 1
                run.report.out_of_time = True
                return
            now = self._clock()
            try:
                decision = decide(job, result, now=now, base_url=provider.base_url, policy=self._policy)
            except Exception as exc:  # a reading we failed to make sense of: this job's fault, not the run's
                fault = Fault("internal", detail=f"reading the answer failed: {type(exc).__name__}")
                decision = decide(job, fault, now=now, base_url=provider.base_url, policy=self._policy)
            run.report.polled += 1
            self._note(run, provider, decision)
        updated = decision.job
        if decision.event is not None:
            # Leased as long as the shard is ours; if it no longer is, due now: the holder publishes it.
            lease_end = self._lease_end(run, job)
            updated = updated.with_changes(next_poll_at=lease_end if lease_end is not None else now)
        announced = announce_progress(job, updated, now)  # recorded in the same write as the poll
        updated = announced or updated
        try:
            saved = await self._call(run, self._store.save, updated, now=now)
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
            if self._lease_end(run, job) is not None:
                run.to_publish.append(saved)
                self._publish_full_batches(run)
            if saved.status.value == "completed":
                run.report.completed += 1
            else:
                run.report.failed += 1

    async def _fetch(
        self, run: _Run, http: PollHttp, provider: ProviderSettings, token: str, job: Job, limit: float
    ) -> PollResult | None:
        """One poll's result, whatever happens: a timeout or any exception becomes a Fault of this job; None
        when the run's deadline (not the provider's timeout) cut it."""
        try:
            # A total limit too: per-read timeouts alone do not stop a body dripping in byte by byte.
            return await asyncio.wait_for(fetch_video(http, provider, token, job.video_id, job.duration), limit)
        except TimeoutError:
            if limit < provider.timeout_seconds:
                return None
            return Fault("timeout", detail=f"no complete answer within {provider.timeout_seconds:g} s")
        except Exception as exc:
            # The client refused the request (a header it cannot send...) or a bug: name the class only, the
            # message of an HTTP client's error may quote a header, and a header may be the token.
            return Fault("internal", detail=f"the request could not be made: {type(exc).__name__}")

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
            pause = fault.retry_after_s if fault.retry_after_s is not None else DEFAULT_RATE_LIMIT_PAUSE_S
            until = self._clock() + pause
            if until > run.paused_until.get(provider.name, 0):
                run.paused_until[provider.name] = run.pauses_to_record[provider.name] = until
        if (provider.name, fault.kind) in run.fault_logged:
            return  # one line per provider and kind per run; the counts are in the run's report and metrics
        run.fault_logged.add((provider.name, fault.kind))
        where = {"provider": provider.name, "kind": fault.kind, "status_code": fault.status_code}
        if fault.kind == "unauthorized":
            logger.error("provider rejected the token: check its api_key_secret", extra=where)
        elif fault.kind == "rate_limited":
            logger.warning(
                "provider rate-limited us; it is paused", extra={**where, "until": run.paused_until[provider.name]}
            )
        else:
            extra = {**where, "video_id": decision.job.video_id, "detail": fault.detail[:300]}
            logger.warning("upstream fault; the job backs off", extra=extra)

    def _publish_full_batches(self, run: _Run) -> None:
        """Send each full batch of recorded events to SNS at once, while the sweep's other polls go on."""
        while len(run.to_publish) >= PUBLISH_BATCH:
            batch, run.to_publish = run.to_publish[:PUBLISH_BATCH], run.to_publish[PUBLISH_BATCH:]
            run.publishing.append(asyncio.create_task(self._publish_events(run, batch)))

    async def _publish(self, run: _Run) -> None:
        """At the end of the sweep: the progress events, the last partial batch, and every batch still on its way."""
        await self._call(run, self._publish_progress, run)
        rest, run.to_publish = run.to_publish, []
        await asyncio.gather(*run.publishing, *([self._publish_events(run, rest)] if rest else []))

    async def _publish_events(self, run: _Run, jobs: list[Job]) -> None:
        outgoing = []
        for job in jobs:
            assert job.pending_event is not None
            body, attributes = event_message(job, job.pending_event)
            outgoing.append(OutgoingEvent(job.pending_event.id, body, attributes))
        try:
            failed = await self._call(run, self._publisher.publish, outgoing)
        except Exception as exc:
            failed = {event.event_id: type(exc).__name__ for event in outgoing}
        now = self._clock()
        # Settled concurrently: an event SNS has but whose clearing write is late gets published again.
        await asyncio.gather(*(self._settle(run, job, failed, now) for job in jobs))

    async def _settle(self, run: _Run, job: Job, failed: dict[str, str], now: float) -> None:
        assert job.pending_event is not None
        reason = failed.get(job.pending_event.id)
        try:
            if reason is None:
                run.report.published += 1
                await self._call(run, self._store.clear_pending, job, now=now)
                logger.info("event published", extra=_event_log(job))
            else:
                run.report.publish_failed += 1
                logger.error("event not published; it stays pending", extra={**_event_log(job), "reason": reason})
                await self._call(run, self._store.release_pending, job, now=now)
        except Exception:
            # The event stays pending under its lease; the next run after the lease settles it.
            run.report.errors += 1
            logger.exception("cannot settle pending event", extra=_event_log(job))

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
