"""Announcing what finished: publishing the recorded events to SNS and settling each one.

Order of effects per finished job (the no-lost / no-double guarantee):
1. a conditional write records the terminal state *and* the pending event, with `due_at` set past the end
   of this run (a lease: no other run picks it up while this one may still publish it; see polls.py);
2. SNS PublishBatch (`add` sends each full batch at once, `finish` the rest at the sweep's end);
3. a conditional write clears the pending event (the job leaves the due index), or, if SNS refused the
   entry, makes the job due at once. If the run dies between 1 and 3, the lease expires and the next run
   publishes the same event (same id) before clearing it (`reclaim`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from videohook.domain.events import event_message
from videohook.domain.progress import progress_event
from videohook.observability import logger
from videohook.ports import OutgoingEvent
from videohook.services.poller.state import RunState, call

if TYPE_CHECKING:
    from videohook.domain.models import Job
    from videohook.ports import EventPublisher, JobStore
    from videohook.services.poller.leases import ShardLeases

# Events go to SNS in batches of this many (PublishBatch's limit) as soon as that many are recorded: the
# publishing overlaps the polls instead of following the last of them (+25 % polls/s in bench/sweep.py).
PUBLISH_BATCH = 10


class Publishing:
    def __init__(
        self, store: JobStore, publisher: EventPublisher, leases: ShardLeases, *, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._leases = leases
        self._clock = clock

    async def reclaim(self, run: RunState, job: Job) -> None:
        """An event left pending by an earlier run: take a lease on it, then publish it with this run's."""
        lease_end = self._leases.lease_end(run, job)
        if lease_end is None:  # the shard's lease was lost meanwhile: left to the run that holds it
            run.report.skipped += 1
            return
        try:
            claimed = await call(run, self._store.save, job.with_changes(next_poll_at=lease_end), now=run.now)
        except Exception:
            run.report.errors += 1
            logger.exception("cannot take a lease on a pending event; it stays pending", extra=_event_log(job))
            return
        if claimed is None:
            run.report.conflicts += 1
        else:
            self.add(run, claimed)

    def add(self, run: RunState, job: Job) -> None:
        """A job whose pending event is recorded (and leased): send each full batch to SNS at once, while the
        sweep's other polls go on."""
        run.to_publish.append(job)
        while len(run.to_publish) >= PUBLISH_BATCH:
            batch, run.to_publish = run.to_publish[:PUBLISH_BATCH], run.to_publish[PUBLISH_BATCH:]
            run.publishing.append(asyncio.create_task(self._publish_events(run, batch)))

    async def finish(self, run: RunState) -> None:
        """At the end of the sweep: the progress events, the last partial batch, and every batch still on its way."""
        await call(run, self._publish_progress, run)
        rest, run.to_publish = run.to_publish, []
        await asyncio.gather(*run.publishing, *([self._publish_events(run, rest)] if rest else []))

    async def _publish_events(self, run: RunState, jobs: list[Job]) -> None:
        outgoing = []
        for job in jobs:
            assert job.pending_event is not None
            body, attributes = event_message(job, job.pending_event)
            outgoing.append(OutgoingEvent(job.pending_event.id, body, attributes))
        try:
            failed = await call(run, self._publisher.publish, outgoing)
        except Exception as exc:
            failed = {event.event_id: type(exc).__name__ for event in outgoing}
        now = self._clock()
        # Settled concurrently: an event SNS has but whose clearing write is late gets published again.
        await asyncio.gather(*(self._settle(run, job, failed, now) for job in jobs))

    async def _settle(self, run: RunState, job: Job, failed: dict[str, str], now: float) -> None:
        assert job.pending_event is not None
        reason = failed.get(job.pending_event.id)
        try:
            if reason is None:
                run.report.published += 1
                await call(run, self._store.clear_pending, job, now=now)
                logger.info("event published", extra=_event_log(job))
            else:
                run.report.publish_failed += 1
                logger.error("event not published; it stays pending", extra={**_event_log(job), "reason": reason})
                await call(run, self._store.release_pending, job, now=now)
        except Exception:
            # The event stays pending under its lease; the next run after the lease settles it.
            run.report.errors += 1
            logger.exception("cannot settle pending event", extra=_event_log(job))

    def _publish_progress(self, run: RunState) -> None:
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
