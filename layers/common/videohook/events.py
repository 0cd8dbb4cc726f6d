"""Events announcing a job's terminal transition, shaped like OpenAI's webhook events."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from videohook.models import Job, PendingEvent, VideoStatus

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
