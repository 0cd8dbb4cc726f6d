"""`video.progress` events: opt-in per job (`"events": ["progress"]` when tracking it), on meaningful changes
only, throttled per job. Plain Python; the poller calls it after each poll's decision.

Meaningful: the job started (first `in_progress`), or its progress rose by PROGRESS_STEP points since the
last announcement. Throttled: at most one per job every PROGRESS_INTERVAL_S. Progress events are best effort
(published once, not retried: the next step or the terminal event supersedes them); the terminal events keep
their no-lost / no-double guarantee. Each carries the SNS attribute `type` = `video.progress`, so a filter
policy on `type` takes or leaves them; jobs that did not opt in never produce one.
"""

from __future__ import annotations

import hashlib
import json

from videohook.domain.events import OutgoingEvent
from videohook.domain.models import Job, VideoStatus

PROGRESS_EVENT = "video.progress"
PROGRESS_OPTION = "progress"  # the value of `events` at POST /v1/jobs that opts in
PROGRESS_STEP = 10.0
PROGRESS_INTERVAL_S = 30


def announce_progress(before: Job, after: Job, now: float) -> Job | None:
    """`after` with this announcement recorded, when the poll from `before` to `after` deserves an event."""
    if not after.progress_events or after.status is not VideoStatus.IN_PROGRESS:
        return None
    started = before.status is not VideoStatus.IN_PROGRESS and after.progress_announced is None
    stepped = float(after.progress) - float(after.progress_announced or 0) >= PROGRESS_STEP
    if not (started or stepped):
        return None
    if after.progress_announced_at is not None and now - after.progress_announced_at < PROGRESS_INTERVAL_S:
        return None
    return after.with_changes(progress_announced=after.progress, progress_announced_at=int(now))


def progress_event(job: Job) -> OutgoingEvent:
    """The event for the progress `job` has recorded as announced (same job and progress, same id)."""
    digest = hashlib.sha256(f"{job.provider}\x1f{job.video_id}\x1fprogress\x1f{job.progress}".encode()).hexdigest()
    event_id = f"evt_{digest[:32]}"
    body = {
        "id": event_id,
        "object": "event",
        "type": PROGRESS_EVENT,
        "created_at": job.progress_announced_at,
        "data": job.to_public(with_deliveries=False),
    }
    attributes = {"type": PROGRESS_EVENT, "provider": job.provider, "status": job.status.value}
    return OutgoingEvent(event_id, json.dumps(body, separators=(",", ":"), ensure_ascii=False), attributes)
