"""Recording one pushed reading on a job: the step the inbound callback (inbound.py) and tracking (a callback
that came before its job was tracked, tracking.py) share. The decision is the domain's (domain.push); the
write is the same conditional write a poll makes. On a concurrent write (a poll's, another callback's) it
reads the job again and decides again on that state, a few times at most.

A terminal reading leaves its event pending and due `event_lease_s` later: the caller that publishes it
(inbound) takes that long before a poller run may; one that does not (tracking, 0) leaves it to the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from videohook.domain.push import apply_push

if TYPE_CHECKING:
    from videohook.domain.models import Job, Reading
    from videohook.domain.polling import PollPolicy
    from videohook.ports import JobStore

SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class Pushed:
    """What recording a reading did: `job` as now stored (or as last read); `recorded` whether this reading
    was written; `gave_up` whether concurrent writes kept winning (the backstop poll will see it)."""

    job: Job
    recorded: bool = False
    gave_up: bool = False

    @property
    def event_to_publish(self) -> bool:
        return self.recorded and self.job.pending_event is not None


def record_pushed(
    store: JobStore,
    job: Job,
    reading: Reading,
    *,
    clock: Callable[[], float],
    policy: PollPolicy,
    backstop_s: float,
    event_lease_s: float,
) -> Pushed:
    for _ in range(SAVE_ATTEMPTS):
        now = clock()
        decision = apply_push(job, reading, now=now, policy=policy, backstop_s=backstop_s)
        if not decision.changed and decision.event is None:
            return Pushed(job)  # a duplicate, late or out-of-order reading: nothing to write
        updated = decision.job
        if decision.event is not None:
            updated = updated.with_changes(next_poll_at=now + event_lease_s)
        saved = store.save(updated, now=now)
        if saved is not None:
            return Pushed(saved, recorded=True)
        fresh = store.get(job.provider, job.video_id)  # someone wrote first: decide again on their state
        if fresh is None:
            return Pushed(job)
        job = fresh
    return Pushed(job, gave_up=True)
