"""Polling one job: ask its provider, decide (domain.polling), record the decision, hand a finished job's
event to publishing. Anything raised while polling one job (the HTTP client refusing a header, a body that
trips the reader) is that job's fault (kind `internal`, issue 10): counted, logged by kind, backed off, and
the run goes on. A 429 pauses its provider (pauses.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from videohook.domain.polling import Decision, Fault, PollPolicy, PollResult, decide
from videohook.domain.progress import announce_progress
from videohook.observability import logger
from videohook.services.poller.state import RunState, call

if TYPE_CHECKING:
    from videohook.config import ProviderSettings
    from videohook.domain.models import Job
    from videohook.ports import FetchVideo, JobStore
    from videohook.services.poller.leases import ShardLeases
    from videohook.services.poller.pauses import ProviderPauses
    from videohook.services.poller.publishing import Publishing


class JobPoll:
    def __init__(
        self,
        store: JobStore,
        fetch: FetchVideo,
        policy: PollPolicy,
        leases: ShardLeases,
        pauses: ProviderPauses,
        publishing: Publishing,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._fetch_video = fetch
        self._policy = policy
        self._leases = leases
        self._pauses = pauses
        self._publishing = publishing
        self._clock = clock

    async def poll(
        self, run: RunState, http: Any, gate: asyncio.Semaphore, provider: ProviderSettings, token: str, job: Job
    ) -> None:
        async with gate:
            now = self._clock()
            budget = run.deadline - now
            if budget <= 0 or self._pauses.is_paused(run, provider.name, now):
                run.report.skipped += 1
                run.report.out_of_time |= budget <= 0
                return
            limit = min(provider.timeout_seconds, budget)
            lease_end = self._leases.lease_end(run, job)
            if lease_end is None or now + limit > lease_end:  # the shard is (or may soon be) another run's
                run.report.skipped += 1
                return
            result = await self._fetch(http, provider, token, job, limit)
            if result is None:  # cut by the run's deadline: not the provider's fault; the job stays due
                run.report.skipped += 1
                run.report.out_of_time = True
                return
            now = self._clock()
            decide_on = partial(
                decide,
                job,
                now=now,
                base_url=provider.base_url,
                policy=self._policy,
                dialect=provider.dialect,
                backstop_s=_backstop(provider),
            )
            try:
                decision = decide_on(result)
            except Exception as exc:  # a reading we failed to make sense of: this job's fault, not the run's
                decision = decide_on(Fault("internal", detail=f"reading the answer failed: {type(exc).__name__}"))
            run.report.polled += 1
            self._note(run, provider, decision)
        updated = decision.job
        if decision.event is not None:
            # Leased as long as the shard is ours; if it no longer is, due now: the holder publishes it.
            lease_end = self._leases.lease_end(run, job)
            updated = updated.with_changes(next_poll_at=lease_end if lease_end is not None else now)
        announced = announce_progress(job, updated, now)  # recorded in the same write as the poll
        updated = announced or updated
        try:
            saved = await call(run, self._store.save, updated, now=now)
        except Exception:
            run.report.errors += 1
            logger.exception(
                "cannot record poll; the job stays due", extra={"provider": job.provider, "video_id": job.video_id}
            )
            return
        if saved is None:
            run.report.conflicts += 1
            return
        self._tally(run, job, saved, announced is not None, decision)

    def _tally(self, run: RunState, job: Job, saved: Job, announced: bool, decision: Decision) -> None:
        """A recorded poll: its counts, its progress event, and its terminal event handed to publishing."""
        run.report.changed += decision.changed
        if saved.status is not job.status:
            run.report.seen_by_poll[job.provider] += 1
        if announced:
            run.progress.append(saved)
        if decision.event is not None:
            if self._leases.lease_end(run, job) is not None:
                self._publishing.add(run, saved)
            if saved.status.value == "completed":
                run.report.completed += 1
            else:
                run.report.failed += 1

    async def _fetch(
        self, http: Any, provider: ProviderSettings, token: str, job: Job, limit: float
    ) -> PollResult | None:
        """One poll's result, whatever happens: a timeout or any exception becomes a Fault of this job; None
        when the run's deadline (not the provider's timeout) cut it."""
        try:
            # A total limit too: per-read timeouts alone do not stop a body dripping in byte by byte.
            return await asyncio.wait_for(self._fetch_video(http, provider, token, job.video_id, job.duration), limit)
        except TimeoutError:
            if limit < provider.timeout_seconds:
                return None
            return Fault("timeout", detail=f"no complete answer within {provider.timeout_seconds:g} s")
        except Exception as exc:
            # The client refused the request (a header it cannot send...) or a bug: name the class only, the
            # message of an HTTP client's error may quote a header, and a header may be the token.
            return Fault("internal", detail=f"the request could not be made: {type(exc).__name__}")

    def _note(self, run: RunState, provider: ProviderSettings, decision: Decision) -> None:
        """Count the decision's fault or unknown status in the report; log each kind once per provider and run."""
        fault: Fault | None = decision.fault
        if decision.throttled:
            run.report.throttled[provider.name] += 1
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
            self._pauses.pause_after(run, provider.name, fault)
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


def _backstop(provider: ProviderSettings) -> float | None:
    """A provider that calls back is polled only as the backstop (services/inbound.py)."""
    return provider.inbound.backstop_s if provider.inbound is not None else None
