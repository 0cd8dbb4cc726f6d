"""Events announcing a job's terminal transition, shaped like OpenAI's webhook events.

An event's `data` is the job's event form (`Job.to_public(with_deliveries=False)`): no delivery log, no
owner, and `callback_url` without its query string or user info.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from videohook.domain.models import Job, PendingEvent, VideoStatus


@dataclass(frozen=True)
class OutgoingEvent:
    """One message for the topic: its id, its JSON body, and its filterable attributes."""

    event_id: str
    body: str
    attributes: dict[str, str]


EVENT_TYPES = {VideoStatus.COMPLETED: "video.completed", VideoStatus.FAILED: "video.failed"}


def event_id(provider: str, video_id: str, status: VideoStatus) -> str:
    """Stable per transition: the same (provider, video, final status) always gives the same id."""
    digest = hashlib.sha256(f"{provider}\x1f{video_id}\x1f{status.value}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def pending_event_for(job: Job, now: int) -> PendingEvent:
    if not job.status.is_terminal:
        raise ValueError(f"job {job.provider}/{job.video_id} is {job.status}, not terminal")
    return PendingEvent(
        id=event_id(job.provider, job.video_id, job.status), type=EVENT_TYPES[job.status], created_at=now
    )


def final_event(job: Job) -> PendingEvent:
    """A finished job's event as the poller announced it: the id is derived from the transition, and the
    poller stamps the event with the time of the poll that saw the end (the job's last poll). While SNS has
    not confirmed it, the job holds that very event (`pending_event`), which is then the answer."""
    if job.pending_event is not None and job.status.is_terminal:
        return job.pending_event
    created_at = job.last_polled_at if job.last_polled_at is not None else job.tracked_at
    return PendingEvent(
        id=event_id(job.provider, job.video_id, job.status), type=EVENT_TYPES[job.status], created_at=created_at
    )


def event_body(job: Job, pending: PendingEvent) -> dict[str, Any]:
    return {
        "id": pending.id,
        "object": "event",
        "type": pending.type,
        "created_at": pending.created_at,
        "data": job.to_public(with_deliveries=False),
    }


def event_message(job: Job, pending: PendingEvent) -> tuple[str, dict[str, str]]:
    """The SNS message body and its filterable attributes (`type`, `provider`, `status`)."""
    body = json.dumps(event_body(job, pending), separators=(",", ":"), ensure_ascii=False)
    return body, {"type": pending.type, "provider": job.provider, "status": job.status.value}
