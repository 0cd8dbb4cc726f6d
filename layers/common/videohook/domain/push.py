"""What a provider's callback means for a job (PRODUCT.md, "Push from providers"): the pure decision, given
the verified callback's reading. The same decision a poll makes (polling.conclude: one event per
transition, recorded with the same conditional write), with what a push adds: it never polls, it may come
late, twice or out of order, so it never moves a job backwards, and a finished job ignores it."""

from __future__ import annotations

from videohook.domain.models import Job, Reading, VideoStatus
from videohook.domain.polling import Decision, PollPolicy, conclude

RANK = {VideoStatus.QUEUED: 0, VideoStatus.IN_PROGRESS: 1, VideoStatus.COMPLETED: 2, VideoStatus.FAILED: 2}


def apply_push(job: Job, reading: Reading, *, now: float, policy: PollPolicy, backstop_s: float) -> Decision:
    """The job after a callback; `changed` False (and nothing to write) for a duplicate, a late or an
    out-of-order callback, or one for a job that has ended or been stopped."""
    unchanged = Decision(job=job, changed=False, event=None)
    if not job.active or job.status.is_terminal or reading.status is None:
        return unchanged
    if RANK[reading.status] < RANK[job.status]:
        return unchanged  # e.g. a "queued" callback arriving after a poll saw it running
    progress = reading.progress if reading.progress is not None else job.progress
    if reading.status is job.status:
        progress = max(progress, job.progress)
    updated = job.with_changes(status=reading.status, progress=progress, **reading.fields)
    if not updated.status.is_terminal:
        # The provider tells us what changes: the next poll is only the backstop.
        updated = updated.with_changes(next_poll_at=max(job.next_poll_at or now, now + backstop_s))
    decision = conclude(job, updated, now, policy, reading, via="push")
    return decision if decision.changed else unchanged
