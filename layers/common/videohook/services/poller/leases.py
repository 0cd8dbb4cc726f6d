"""Which due jobs a sweep may work: the due shards it holds the lease of (issue 10).

With coordination, a run polls a due shard only while it holds that shard's lease, so overlapping runs split
the shards instead of polling the same jobs. A lease lasts LEASE_S past its claim and the run renews it every
RENEW_EVERY_S while it works, so a run that dies (killed, out of memory, its host gone) holds nothing for
longer than one lease; the next run after that polls and announces its jobs. `lease_end` is what the other
parts ask before they start a poll or lease a pending event: a poll starts only while its shard's lease
outlasts the poll's own time limit, so a run whose renewals fail stops polling that shard before another run
can take it; a pending event is leased (its `due_at`) only as long as its shard's lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from videohook.observability import logger
from videohook.ports import ShardsFailed
from videohook.services.poller.state import RunState, call, call_leases

if TYPE_CHECKING:
    from videohook.domain.models import Job
    from videohook.ports import JobStore, RunCoordination

# A due-shard lease lasts this long past its claim or its last renewal (longer when a provider's timeout
# needs it: the lease must outlast a poll started just before a renewal that failed).
LEASE_S = 20.0
RENEW_EVERY_S = 5.0


class ShardLeases:
    def __init__(
        self,
        store: JobStore,
        coordination: RunCoordination | None,
        *,
        clock: Callable[[], float],
        renew_every_s: float,
        poll_room_s: float = 0.0,
    ) -> None:
        """`poll_room_s`: how long a shard's lease must still run for a poll to start (the longest poll)."""
        self._store = store
        self._coordination = coordination
        self._clock = clock
        self._renew_every_s = renew_every_s
        self._poll_room_s = poll_room_s

    async def due_jobs(self, run: RunState) -> list[Job]:
        """The due jobs of the shards this run holds the lease of (all due jobs without coordination).

        The due index is read once per sweep, under the leases: which shards have due jobs is asked first, one
        item per shard (keys only), then those shards are leased, then the leased shards' jobs are read. Read
        under the lease, a job cannot be one a run that held the shard a moment ago has moved on since."""
        if self._coordination is None:
            return await self._read_due(run, run.shards)
        try:
            shards = set(await call(run, self._store.due_shards, run.now, run.shards))
        except ShardsFailed as partial:
            shards = set(_left_out(run, partial))
        if not shards:
            return []
        until = self._clock() + run.lease_s  # from the claim: finding the due shards may have taken a while
        try:
            run.leased_shards = await call(
                run, self._coordination.claim_shards, shards, holder=run.holder, until=until, now=run.now
            )
        except ShardsFailed as partial:
            run.leased_shards = _left_out(run, partial)
            run.unsure_leases = sorted(partial.failed)  # released too, in case the claim landed unanswered
            shards -= set(partial.failed)
        run.report.shards_busy = len(shards) - len(run.leased_shards)
        if run.report.shards_busy:
            logger.info("due shards leased by another run; left to it", extra={"shards": run.report.shards_busy})
        if not run.leased_shards:
            return []
        run.held = dict.fromkeys(run.leased_shards, until)
        # Renewed from now on, while the jobs are read too (a long read must not eat the leases' time).
        run.renewing = asyncio.create_task(self.keep(run))
        jobs = await self._read_due(run, run.leased_shards)
        await self._room_to_poll(run)
        return jobs

    async def _room_to_poll(self, run: RunState) -> None:
        """After a read that ate into the leases (a slow store), renew before the polls start: a poll starts
        only while its shard's lease outlasts it, and the renewal due during the read may still be on its way.
        Without that, every poll of the sweep would be skipped (seen on moto, 128 shards, a loaded machine).
        At most two rounds, each bounded by a lease; if the leases still fall short, the polls skip as before."""
        for _ in range(2):
            if not run.held or min(run.held.values()) >= self._clock() + self._poll_room_s:
                return
            run.renewed.clear()
            run.renew_now.set()
            try:
                await asyncio.wait_for(run.renewed.wait(), timeout=run.lease_s)
            except TimeoutError:
                return

    async def _read_due(self, run: RunState, shards: Sequence[int] | None) -> list[Job]:
        """The due jobs of `shards`; a shard that cannot be read is left for later, the others go on."""
        try:
            return await call(run, self._store.due_jobs, run.now, shards)
        except ShardsFailed as partial:
            return _left_out(run, partial)

    async def keep(self, run: RunState) -> None:
        """Renew the shard leases this sweep holds, every renew_every_s from their claim, until the sweep ends
        (cancelled); on the run's lease thread, so that its polls' queued writes cannot delay a renewal.
        A lease another run took is dropped from `held` (its unstarted polls are left); a renewal call that
        fails leaves the lease's known end where it was, so polls stop starting before it runs out."""
        coordination = self._coordination
        assert coordination is not None  # a sweep holds leases only with coordination
        # The first renewal is due renew_every_s after the claim, not after the sweep has read its jobs: the
        # leases run from the claim, and polls stop starting once a lease may run out before they end.
        renew_at = min(run.held.values(), default=self._clock()) - run.lease_s + self._renew_every_s
        while run.held:
            with contextlib.suppress(TimeoutError):  # until the next round is due, or asked for now
                await asyncio.wait_for(run.renew_now.wait(), timeout=max(0.0, renew_at - self._clock()))
            run.renew_now.clear()
            renew_at = self._clock() + self._renew_every_s  # from this round's start: a slow call eats no lease
            try:
                await self._renew(run, coordination)
            finally:
                run.renewed.set()

    async def _renew(self, run: RunState, coordination: RunCoordination) -> None:
        """One round: every lease this sweep holds, renewed; `held` updated with what came of it."""
        shards = sorted(run.held)
        until = self._clock() + run.lease_s
        failed: set[int] = set()
        try:
            kept = await call_leases(run, coordination.renew_shards, shards, holder=run.holder, until=until)
        except ShardsFailed as partial:
            kept, failed = partial.result, set(partial.failed)
        except Exception:
            run.report.errors += 1
            logger.exception("cannot renew due-shard leases; polls stop before they run out")
            return
        run.report.lease_renewals += 1
        for shard in shards:
            if shard in kept:
                run.held[shard] = until
            elif shard not in failed:  # another run holds it now
                del run.held[shard]
                run.report.leases_lost += 1
                logger.warning("due-shard lease lost to another run; its jobs are left to it", extra={"shard": shard})

    def lease_end(self, run: RunState, job: Job) -> float | None:
        """Until when this run may work `job` (None: not at all); without coordination, until past the run."""
        if self._coordination is None:
            return run.lease_until
        return run.held.get(self._store.shard_of(job.provider, job.video_id))

    async def release(self, run: RunState) -> None:
        held = [*run.leased_shards, *run.unsure_leases]
        if self._coordination is None or not held:
            return
        try:
            await call_leases(run, self._coordination.release_shards, held, holder=run.holder)
        except Exception:  # the leases expire by themselves, one lease after their last renewal
            run.report.errors += 1
            logger.exception("cannot release due-shard leases; they expire by themselves")


def _left_out(run: RunState, partial: ShardsFailed) -> Any:
    """Count and log the shards a failed call left out of this sweep (their jobs stay due); the rest goes on."""
    run.report.errors += len(partial.failed)
    run.report.unread_shards += len(partial.failed)
    logger.error(
        "due shards left out; their jobs stay due", extra={"shards": sorted(partial.failed), "reason": str(partial)}
    )
    return partial.result
